//! How the window looks, checked on the real app under Xvfb over WebDriver: every state
//! (signed out, first run, idle, three transfers running, quota used up, Settings with an
//! offsite destination, the lost-key warning over a folder's encryption switch, a failure's
//! notice with its Details open) at the default size (1100×720) and the minimum (720×480),
//! light and dark, English, Portuguese and Spanish. In each: a screenshot, no header,
//! toolbar, row or open dialog text that overflows its box, and no serious or critical
//! axe-core finding. With three transfers running, at least 8 rows stay in view.
//! Then the drag overlay, and a keyboard-only walk with the focus always visible.
//! `make test` runs it; alone it needs `npm ci --prefix tests/axe` and
//! `xvfb-run -a dbus-run-session -- scripts/with-keyring.sh cargo test --test screens -- --ignored`.

mod support;

use serde_json::{Value, json};
use snapshots::secret::{KeyringStore, SecretStore, service_name};
use squarecloud_sim::{AccountSpec, FaultKind, FaultSpec, SimConfig, Simulator, Target};
use std::time::{Duration, Instant};
use support::{Driver, Home, launch, menu_action};

const KEY: &str = "313397145698959364-screens-secret-key";
const SIZES: [(u32, u32); 2] = [(1100, 720), (720, 480)];
const THEMES: [&str; 2] = ["light", "dark"];
const LOCALES: [&str; 3] = ["en", "pt-BR", "es"];

/// Theme and language through the window's own settings controls.
async fn set_look(d: &Driver, theme: &str, locale: &str) {
    d.js(&format!(
        "for (const [id, v] of [['theme', {theme:?}], ['locale', {locale:?}]]) {{\
           const s = document.getElementById(id);\
           if (s.value !== v) {{ s.value = v; s.dispatchEvent(new Event('change')); }} }}"
    ))
    .await;
    let t = Instant::now();
    while d
        .js("return [document.documentElement.dataset.theme, document.documentElement.lang]")
        .await
        != json!([theme, locale])
    {
        assert!(t.elapsed() < Duration::from_secs(10), "look not applied");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every visible element of the header, the toolbars, the rows and the transfer lines whose
/// content is wider than its box (clipped or spilling), and any page-level horizontal scroll.
const OVERFLOW: &str = r#"
const visible = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
const roots = [document.getElementById('headerbar'), ...document.querySelectorAll(
  '.toolbar, li.row, #transfers li, .drawer-head, .banner, .notice, #first-run, .sign-in .card, #offsite-list li, #offsite-status, dialog[open]')].filter(visible);
const bad = [];
for (const root of roots) {
  for (const e of [root, ...root.querySelectorAll('*')]) {
    if (!visible(e) || e.closest('svg') || e.clientWidth === 0) continue;
    if (e.scrollWidth > e.clientWidth + 1) bad.push(`${e.tagName.toLowerCase()}#${e.id}.${e.className}: ${e.scrollWidth} > ${e.clientWidth} "${e.textContent.trim().slice(0, 40)}"`);
  }
}
for (const e of [document.documentElement, document.body, ...document.querySelectorAll('.pane, #resources, #transfers')]) {
  if (visible(e) && e.scrollWidth > e.clientWidth + 1) bad.push(`scrolls sideways: ${e.tagName.toLowerCase()}#${e.id}.${e.className}`);
}
return bad;
"#;

/// axe-core's serious and critical findings on the page as it is.
async fn axe(d: &Driver, source: &str) -> Vec<Value> {
    if d.js("return typeof window.axe").await != json!("object") {
        // The npm package's own file, run in the page over WebDriver (never shipped).
        d.js(&format!("{source}\n;window.axe = axe; return true;"))
            .await;
        assert_eq!(d.js("return typeof window.axe").await, json!("object"));
    }
    let v = d
        .js_async(
            "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations\
               .filter(v => v.impact === 'serious' || v.impact === 'critical')\
               .map(v => ({id: v.id, impact: v.impact, help: v.help,\
                 nodes: v.nodes.slice(0, 4).map(n => n.target.join(' ') + ' — ' + n.failureSummary)}))),\
               e => done([{id: 'axe-error', help: String(e)}]));",
        )
        .await;
    v.as_array().cloned().unwrap_or_else(|| vec![v])
}

/// One state in every size, theme and language: screenshot, overflow, axe.
async fn capture(d: &Driver, state: &str, axe_src: &str, min_rows: Option<usize>) {
    capture_with(d, state, axe_src, min_rows, "").await;
}

/// [`capture`], running `again` (JavaScript) after each change of size and look: what a
/// resize closes (a menu) is opened again.
async fn capture_with(
    d: &Driver,
    state: &str,
    axe_src: &str,
    min_rows: Option<usize>,
    again: &str,
) {
    for (w, h) in SIZES {
        d.resize(w, h).await;
        for theme in THEMES {
            for locale in LOCALES {
                set_look(d, theme, locale).await;
                if !again.is_empty() {
                    d.js(again).await;
                }
                // Let WebKit lay out and paint before measuring and capturing.
                tokio::time::sleep(Duration::from_millis(250)).await;
                let name = format!("{state}-{w}x{h}-{theme}-{locale}");
                d.screenshot(&name).await;
                let bad = d.js(OVERFLOW).await;
                assert_eq!(bad, json!([]), "{name}: text overflows its box");
                let lower = d.js(LOWERCASE).await;
                assert_eq!(lower, json!([]), "{name}: a sentence starts in lowercase");
                let found = axe(d, axe_src).await;
                assert!(found.is_empty(), "{name}: axe found {found:#?}");
                if let (Some(min), (1100, 720)) = (min_rows, (w, h)) {
                    let rows = rows_in_view(d).await;
                    assert!(rows >= min, "{name}: {rows} rows in view, want {min}");
                }
            }
        }
    }
}

/// The notice, the status banner and the transfer lines are sentences: shown ones that start
/// with a lowercase letter (words the UI did not write as a sentence) are returned.
const LOWERCASE: &str = r#"
return [...document.querySelectorAll('#notice-text, #status-text, #transfers .state, #offsite-status p')]
  .filter((e) => e.offsetParent !== null && e.textContent.trim())
  .map((e) => e.textContent.trim())
  .filter((t) => /^\p{Ll}/u.test(t));
"#;

/// Resource rows wholly inside the list's visible box.
async fn rows_in_view(d: &Driver) -> usize {
    d.js("const box = document.getElementById('resources').getBoundingClientRect();\
          return [...document.querySelectorAll('#resources li.row')].filter(r => {\
            const b = r.getBoundingClientRect(); return b.top >= box.top - 1 && b.bottom <= box.bottom + 1; }).length;")
        .await
        .as_u64()
        .unwrap() as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, a D-Bus session with gnome-keyring, tauri-driver and tests/axe: `make test` runs it"]
async fn every_state_reads_well_in_every_theme_language_and_size() {
    let axe_src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/axe/node_modules/axe-core/axe.min.js"
    ))
    .expect("axe-core from npm: npm ci --prefix tests/axe");
    // 512 MB: 4 snapshots a day. Creates answer fast; the 5 s account window stays.
    let mut account = AccountSpec::demo();
    account.memory_mb = 512;
    // A name made to fool: a right-to-left override, a terminal escape, a bell.
    let hostile = account
        .applications
        .iter_mut()
        .find(|a| a.name == "Ticket-Tool")
        .unwrap();
    hostile.name = "Ticket-Tool\u{202E}gpj.exe\u{1b}[2J\u{7}".into();
    // A member of two workspaces of another account: admin in one, view only in the other,
    // so the list has a shared row of each kind (its label, and the view-only one's reason).
    let mut config = SimConfig::new(KEY, account).instant_creates().with_account(
        squarecloud_sim::demo::DEMO_CLIENT_KEY,
        squarecloud_sim::demo::client_account(),
    );
    config.workspaces = squarecloud_sim::demo::workspaces(&config.account);
    config.generation_time = Duration::from_millis(300);
    let sim = Simulator::start(config).await.unwrap();
    let (_bus, _seen) = support::serve_notifications().await;
    let home = Home::new();
    let out = home.dir.path().join("Backups");
    std::fs::create_dir_all(&out).unwrap();
    let keychain = KeyringStore::new(service_name());
    keychain.delete().unwrap();
    let (_driver, d) = launch(&sim.api_url(), &home, &[], "screens").await;
    d.script_timeout(120_000).await;

    // Signed out: nothing account-related in the header.
    d.wait("#sign-in-view:not([hidden]) #api-key").await;
    assert_eq!(
        d.js("return document.getElementById('account-area').hidden")
            .await,
        json!(true)
    );
    capture(&d, "signed-out", &axe_src, None).await;

    // First run: signed in, no folder yet.
    set_look(&d, "light", "en").await;
    d.resize(1100, 720).await;
    d.type_into("#api-key", &format!("{KEY}\u{E007}")).await;
    d.wait("#first-run:not([hidden]) #first-run-choose").await;
    d.until_text("#quota-text", |t| t.contains("4 of 4 left"))
        .await;
    capture(&d, "first-run", &axe_src, None).await;

    // Idle: a folder, and every resource's latest snapshot on this computer (no quota).
    set_look(&d, "light", "en").await;
    d.resize(1100, 720).await;
    d.js(&format!(
        "window.__TAURI__.event.emit('folder-dropped', {{ok: true, path: {:?}, x: 5, y: 5}})",
        out.to_str().unwrap()
    ))
    .await;
    d.wait("#resources-pane:not([hidden]) li.row").await;
    let names: Vec<String> = serde_json::from_value(
        d.js("return [...document.querySelectorAll('#resources li.row .name')].map(e => e.firstChild.textContent)")
            .await,
    )
    .unwrap();
    assert_eq!(names.len(), 12);
    // Server names are shown with no control or bidirectional character left in them.
    for name in &names {
        assert!(
            !name.chars().any(|c| c.is_control()
                || ('\u{202A}'..='\u{202E}').contains(&c)
                || ('\u{2066}'..='\u{2069}').contains(&c)),
            "{name:?}"
        );
    }
    assert!(
        names.contains(&"Ticket-Tool\u{FFFD}gpj.exe\u{FFFD}[2J\u{FFFD}".to_string()),
        "{names:?}"
    );
    // ../../etc/passwd has no snapshot yet: one is taken (1 of the 4 a day).
    for name in names.iter().filter(|n| *n != "../../etc/passwd") {
        menu_action(&d, name, "#menu-download").await;
    }
    // In view first, as a person scrolls to it: WebKit's WebDriver clicks where the button
    // would be without scrolling the list itself, and the download menus above may have
    // scrolled it out of view (another row's button is then clicked).
    d.js("document.querySelector(\"button[aria-label='Back up now: ../../etc/passwd']\").scrollIntoView({block: 'center'})")
        .await;
    d.click("button[aria-label='Back up now: ../../etc/passwd']")
        .await;
    d.until_text("#status-text", |t| {
        t == "Everything has a copy from the last 36 hours"
    })
    .await;
    d.until_text("#done-show", |t| t == "12 done — show").await;
    // Finished transfers are cleared from the drawer (they stay in History).
    d.click("#done-clear").await;
    d.until_js(
        "return document.getElementById('transfers-drawer').hidden",
        "the drawer stayed after Clear",
        10,
    )
    .await;
    d.js("document.getElementById('notice-close').click()")
        .await;
    capture(&d, "idle", &axe_src, Some(10)).await;

    // Three transfers running: new snapshots of three resources on a slow file host.
    set_look(&d, "light", "en").await;
    d.resize(1100, 720).await;
    sim.inject(
        FaultSpec::new(
            Target::Files,
            FaultKind::Bandwidth {
                bytes_per_sec: 60_000,
            },
        )
        .times(None),
    );
    for (i, name) in ["analytics worker", "Loja São João", "Atlas Bot"]
        .into_iter()
        .enumerate()
    {
        d.click(&format!("button[aria-label='Back up now: {name}']"))
            .await;
        // Each click starts its own transfer line (waiting for the account's window, then
        // running) before the next: a lost click says which.
        d.until_js(
            &format!(
                "return [...document.querySelectorAll('#transfers li strong')].filter(s => \
                 ['analytics worker', 'Loja São João', 'Atlas Bot'].includes(s.textContent)).length > {i}"
            ),
            &format!("no transfer line after Back up now: {name}"),
            30,
        )
        .await;
    }
    d.until_js(
        "return document.querySelectorAll('#transfers progress').length === 3",
        "three downloads did not start",
        60,
    )
    .await;
    d.js("document.getElementById('notice-close').click()")
        .await;
    // New snapshots of three leave the others' state alone.
    d.until_text("#status-text", |t| {
        t == "Everything has a copy from the last 36 hours"
    })
    .await;
    capture(&d, "transfers", &axe_src, Some(8)).await;
    d.click("#cancel-all").await;
    sim.clear_faults();
    d.until_js(
        "return document.querySelectorAll('#transfers progress').length === 0",
        "Stop all left a download running",
        30,
    )
    .await;

    // Quota used up: all four of the day are taken, so the next is held, with the time.
    set_look(&d, "light", "en").await;
    d.until_text("#quota-text", |t| t.starts_with("0 of 4 left"))
        .await;
    d.click("button[aria-label='Back up now: CON']").await;
    d.until_text("#notice", |t| t.contains("daily quota used up"))
        .await;
    capture(&d, "quota-used", &axe_src, None).await;
    assert!(
        sim.requests().iter().all(|r| r.status != 429),
        "a refused request was sent"
    );

    // Settings → Offsite copies: a destination listed, with the words of its adding. Added
    // through the form; nothing is sent to the endpoint until Test or Send copies now.
    set_look(&d, "light", "en").await;
    d.resize(1100, 720).await;
    d.js("document.getElementById('notice-close').click()")
        .await;
    d.click("#tab-settings").await;
    for (id, v) in [
        ("#offsite-name", "b2-eu"),
        (
            "#offsite-endpoint",
            "https://s3.eu-central-003.backblazeb2.com",
        ),
        ("#offsite-region", "eu-central-003"),
        ("#offsite-bucket", "square-snapshots-backups"),
        ("#offsite-prefix", "nightly"),
        ("#offsite-key-id", "003a1b2c3d4e5f60000000001"),
        (
            "#offsite-secret",
            "screens-secret-that-stays-in-the-keychain",
        ),
    ] {
        d.type_into(id, v).await;
    }
    d.click("#offsite-add").await;
    d.until_text("#offsite-status", |t| t.starts_with("Added b2-eu"))
        .await;
    d.js("document.getElementById('offsite-section').scrollIntoView()")
        .await;
    capture(&d, "settings-offsite", &axe_src, None).await;

    // Settings → Where backups go: the default folder's "Keep copies here encrypted" switch,
    // turned on with no recovery key written: the lost-key warning, over the section.
    set_look(&d, "light", "en").await;
    d.resize(1100, 720).await;
    d.js("document.getElementById('folder-title').scrollIntoView()")
        .await;
    d.click("#default-encrypt input[role=switch]").await;
    d.until_js(
        "return document.getElementById('encrypt-dialog').open;",
        "the lost-key warning",
        10,
    )
    .await;
    capture(&d, "settings-encrypt-warning", &axe_src, None).await;
    d.click("#encrypt-cancel").await;
    d.until_js(
        "return !document.getElementById('encrypt-dialog').open;",
        "the warning closed",
        10,
    )
    .await;

    // The drag overlay: over a row it names that resource; a file is refused with the reason.
    set_look(&d, "light", "en").await;
    d.resize(1100, 720).await;
    d.click("#tab-resources").await;
    let (x, y) = {
        let v = d
            .js("const r = document.querySelector(\"li.row:has(button[aria-label='Back up now: Atlas Bot'])\").getBoundingClientRect();\
                 return [Math.round((r.left + 300) * devicePixelRatio), Math.round((r.top + r.height / 2) * devicePixelRatio)];")
            .await;
        (v[0].as_i64().unwrap(), v[1].as_i64().unwrap())
    };
    d.js(&format!(
        "window.__TAURI__.event.emit('drag-state', {{phase: 'enter', ok: true, x: {x}, y: {y}}})"
    ))
    .await;
    d.until_text("#drop-sub", |t| t == "Only for Atlas Bot")
        .await;
    assert_eq!(
        d.js("return document.querySelector('li.row.drop-target .name').firstChild.textContent")
            .await,
        json!("Atlas Bot")
    );
    d.screenshot("drag-over-row").await;
    d.js("window.__TAURI__.event.emit('drag-state', {phase: 'over', ok: true, x: 4, y: 4})")
        .await;
    d.until_text("#drop-title", |t| t == "Drop to save backups here")
        .await;
    d.until_text("#drop-sub", |t| t.starts_with("The default folder"))
        .await;
    d.screenshot("drag-default").await;
    d.js("window.__TAURI__.event.emit('drag-state', {phase: 'leave', ok: true, x: 0, y: 0})")
        .await;
    d.until_js(
        "return document.getElementById('drop-overlay').hidden && !document.querySelector('.drop-target')",
        "the overlay stayed after the drag left",
        10,
    )
    .await;
    const REFUSED: &str = "{ok: false, code: 'not_a_folder', message: '/home/ana/notes.txt is a file, not a folder. Drop or choose a folder.', x: 4, y: 4}";
    d.js(&format!(
        "window.__TAURI__.event.emit('drag-state', {{phase: 'enter', ...{REFUSED}}})"
    ))
    .await;
    d.until_text("#drop-title", |t| t == "This can't hold backups")
        .await;
    // Why, in the window's words (the path is the app's own words, which the drop's notice keeps).
    d.until_text("#drop-sub", |t| {
        t == "That is a file, not a folder. Drop or choose a folder to keep the backups in."
    })
    .await;
    d.screenshot("drag-refused").await;
    d.js("window.__TAURI__.event.emit('drag-state', {phase: 'leave', ok: true, x: 0, y: 0})")
        .await;

    // Dropped anyway: a failure's notice, in the window's words, the app's own under a
    // Details that opens from the keyboard.
    d.js(&format!(
        "window.__TAURI__.event.emit('folder-dropped', {{path: null, ...{REFUSED}}})"
    ))
    .await;
    d.until_text("#notice-text", |t| {
        t.starts_with("That is a file, not a folder.")
    })
    .await;
    d.js("document.querySelector('#notice-detail summary').focus()")
        .await;
    d.press("\u{E007}").await;
    assert_eq!(
        d.js("const n = document.getElementById('notice-detail'); return [n.open, n.querySelector('.detail-text').textContent]")
            .await,
        json!([
            true,
            "/home/ana/notes.txt is a file, not a folder. Drop or choose a folder."
        ]),
        "Enter on Details shows the app's own words"
    );
    capture(&d, "error-notice", &axe_src, None).await;
    set_look(&d, "light", "en").await;
    d.resize(1100, 720).await;

    keyboard_walk(&d).await;
    two_accounts(&d, &axe_src, &home).await;
    d.cmd(reqwest::Method::DELETE, "", None).await;
    keychain.delete().unwrap();
    for id in [
        squarecloud_sim::demo::DEMO_CLIENT_ID.to_string(),
        AccountSpec::demo().id,
    ] {
        let id = snapshots::accounts::AccountId::new(id).unwrap();
        KeyringStore::for_account(service_name(), &id)
            .delete()
            .unwrap();
    }
}

/// A second account added from the account menu: the menu listing both (the switcher),
/// then "All accounts", one list grouped by account, each heading with its quota.
async fn two_accounts(d: &Driver, axe_src: &str, home: &Home) {
    set_look(d, "light", "en").await;
    d.resize(1100, 720).await;
    d.click("#account-button").await;
    d.click("#account-add").await;
    d.wait("#sign-in-view:not([hidden]) #sign-in-cancel:not([hidden])")
        .await;
    d.type_into(
        "#api-key",
        &format!("{}\u{E007}", squarecloud_sim::demo::DEMO_CLIENT_KEY),
    )
    .await;
    d.until_text("#account-name", |t| t == "Cliente X").await;
    let out = home.dir.path().join("Cliente X");
    std::fs::create_dir_all(&out).unwrap();
    d.js(&format!(
        "window.__TAURI__.event.emit('folder-dropped', {{ok: true, path: {:?}, x: 5, y: 5}})",
        out.to_str().unwrap()
    ))
    .await;
    d.wait("#resources-pane:not([hidden]) li.row").await;
    const OPEN: &str = "if (document.getElementById('account-menu').hidden) document.getElementById('account-button').click();";
    d.js(OPEN).await;
    d.until_js(
        "return document.querySelectorAll('#account-list [role=menuitemradio]').length === 3;",
        "both accounts and All accounts in the menu",
        30,
    )
    .await;
    capture_with(d, "account-menu", axe_src, None, OPEN).await;
    d.js("[...document.querySelectorAll('#account-list [role=menuitemradio]')].pop().click();")
        .await;
    d.until_js(
        "return document.querySelectorAll('#resources .group-head').length === 2;",
        "the list grouped by account",
        30,
    )
    .await;
    capture(d, "all-accounts", axe_src, Some(7)).await;
}

/// Tab from the top: every visible control of the header, tabs, toolbar, rows, drawer and
/// notice (its Details too) is reached, each with a visible focus ring; the tabs move with the arrows; a row's "⋯" menu
/// opens with Enter and Escape gives the focus back.
async fn keyboard_walk(d: &Driver) {
    d.js("document.activeElement && document.activeElement.blur(); window.focus();")
        .await;
    let want: Vec<String> = serde_json::from_value(
        d.js("return [...document.querySelectorAll('#headerbar button, #tabs [aria-selected=true], #toolbar input, #toolbar select, #toolbar button, #resources button, #resources input, .drawer-head button, #notice button, #notice summary')]\
              .filter(e => e.getClientRects().length && !e.disabled).map(e => e.id || e.getAttribute('aria-label'))")
            .await,
    )
    .unwrap();
    assert!(want.len() > 30, "{want:?}");
    let mut reached = Vec::new();
    for _ in 0..(want.len() + 20) {
        d.press("\u{E004}").await;
        let v = d
            .js("const e = document.activeElement; const s = getComputedStyle(e);\
                 return [e.id || e.getAttribute('aria-label') || e.tagName, e.matches(':focus-visible'),\
                         s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2];")
            .await;
        let id = v[0].as_str().unwrap().to_string();
        assert_eq!(v[1], json!(true), "{id}: focus not marked visible");
        assert_eq!(v[2], json!(true), "{id}: no focus ring");
        if !reached.contains(&id) {
            reached.push(id);
        }
    }
    let missed: Vec<_> = want.iter().filter(|w| !reached.contains(w)).collect();
    assert!(missed.is_empty(), "not reachable by Tab: {missed:?}");

    // The sections: arrows move between tabs.
    d.js("document.getElementById('tab-resources').focus()")
        .await;
    d.press("\u{E015}").await;
    assert_eq!(
        d.js("return [document.activeElement.id, document.getElementById('view-library').hidden]")
            .await,
        json!(["tab-library", false])
    );
    d.press("\u{E013}").await;
    // A row's menu: Enter opens it on its first item, Escape closes it back to the button.
    d.js("document.querySelector(\"button[aria-label='More actions: CON']\").focus()")
        .await;
    d.press("\u{E007}").await;
    assert_eq!(
        d.js("return document.activeElement.id").await,
        json!("menu-download")
    );
    d.press("\u{E015}").await;
    assert_eq!(
        d.js("return document.activeElement.id").await,
        json!("menu-versions")
    );
    d.press("\u{E00C}").await;
    assert_eq!(
        d.js("return [document.activeElement.getAttribute('aria-label'), document.getElementById('row-menu').hidden]")
            .await,
        json!(["More actions: CON", true])
    );
}
