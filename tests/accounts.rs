//! Two Square Cloud accounts in one real window (under Xvfb, over WebDriver, with the real
//! gnome-keyring and this test serving `org.freedesktop.Notifications`), against one
//! simulator that knows both keys. `make test` runs it; alone it needs
//! `xvfb-run -a dbus-run-session -- scripts/with-keyring.sh cargo test --test accounts -- --ignored`.

mod support;

use serde_json::json;
use snapshots::accounts::AccountId;
use snapshots::secret::{KeyringStore, SecretStore};
use squarecloud_sim::demo::{
    DEMO_CLIENT_ID, DEMO_CLIENT_PRIVATE_APP, DEMO_SHARED_ADMIN_APP, DEMO_SHARED_VIEW_APP,
    client_account,
};
use squarecloud_sim::{AccountSpec, SimConfig, Simulator};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::{
    Driver, Home, files_containing, files_under, launch_with, one_app_at_a_time,
    serve_notifications,
};

const KEY: &str = "313397145698959364-accounts-secret-key";
const CLIENT_KEY: &str = "527104883960201216-accounts-client-key";
/// The demo account's Atlas Bot.
const ATLAS: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// Waits until `dir` holds a zip, and returns the zips there.
async fn until_zip(dir: &Path, what: &str) -> Vec<PathBuf> {
    let t = Instant::now();
    loop {
        let zips: Vec<PathBuf> = files_under(dir)
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "zip"))
            .collect();
        if !zips.is_empty() {
            return zips;
        }
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "no backup of {what} in {}: {:?}",
            dir.display(),
            files_under(dir)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Sets the default folder of the account shown, as a drop onto the window does.
async fn drop_folder(d: &Driver, dir: &Path) {
    d.js(&format!(
        "window.__TAURI__.event.emit('folder-dropped', {{ok: true, path: {:?}, x: 5, y: 5}})",
        dir.to_str().unwrap()
    ))
    .await;
    d.until_text("#notice", |t| t.contains("Folder set")).await;
}

/// Opens the header's account menu and clicks the item whose text starts with `name`.
async fn account_menu(d: &Driver, item: &str) {
    d.click("#account-button").await;
    d.wait("#account-menu:not([hidden])").await;
    let clicked = d
        .js(&format!(
            "const b = [...document.querySelectorAll('#account-menu button')].find(b => !b.hidden && b.textContent.replace('✓', '').trim().startsWith({item:?}));\
             if (!b) return [...document.querySelectorAll('#account-menu button')].map(b => b.textContent);\
             b.click(); return true;"
        ))
        .await;
    assert_eq!(clicked, json!(true), "no {item:?} in the account menu");
}

/// No API request carried another account's key, or none; how many named a resource.
fn no_request_crossed_accounts(sim: &Simulator) -> usize {
    let (named, crossed) = sim.key_crossings();
    assert!(crossed.is_empty(), "{crossed:#?}");
    named
}

/// Two accounts signed in in one window: the second is added from the account menu (the
/// first stays signed in), each key in its own keychain item; "All accounts" lists both,
/// grouped, each heading with its own quota, and the banner counts per account; one backup
/// of each lands in that account's own folder, each notification names its account, and no
/// request of one account carries the other's key. Removing one keeps its copies and
/// deletes its key, and the window shows the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, a D-Bus session with gnome-keyring and tauri-driver: `make test` runs it"]
async fn two_accounts_each_back_up_into_their_own_place_and_say_whose() {
    let _one = one_app_at_a_time().await;
    // The demo account on 512 MB (4 snapshots a day), with one application.
    let mut demo = AccountSpec::demo();
    demo.memory_mb = 512;
    demo.applications.retain(|a| a.id == ATLAS);
    demo.databases.clear();
    let config = SimConfig::new(KEY, demo)
        .with_account(CLIENT_KEY, client_account())
        .instant_creates();
    let sim = Simulator::start(config).await.unwrap();
    let demo_id = AccountId::new(AccountSpec::demo().id).unwrap();
    let client_id = AccountId::new(DEMO_CLIENT_ID).unwrap();
    let (_bus, seen) = serve_notifications().await;
    let home = Home::new();
    let (out_a, out_b) = (home.dir.path().join("Mine"), home.dir.path().join("Client"));
    std::fs::create_dir_all(&out_a).unwrap();
    std::fs::create_dir_all(&out_b).unwrap();
    let service = format!(
        "app.squaresnapshots.test.window-accounts-{}",
        std::process::id()
    );
    let items = [
        KeyringStore::for_account(service.clone(), &demo_id),
        KeyringStore::for_account(service.clone(), &client_id),
    ];
    for i in &items {
        i.delete().unwrap();
    }
    let env = [("SQSNAP_KEYRING_SERVICE", service.as_str())];
    let (_driver, d) = launch_with(&sim.api_url(), &home, &[], "e2e-accounts", &env).await;

    // The first account, as anyone signs in; its folder.
    d.wait("#sign-in-view:not([hidden]) #api-key").await;
    d.type_into("#api-key", &format!("{KEY}\u{E007}")).await;
    d.until_text("#account-name", |t| t == "Demo Account").await;
    d.js("if (!document.getElementById('first-run').hidden) document.getElementById('first-run-skip').click();")
        .await;
    drop_folder(&d, &out_a).await;

    // The second, added from the account menu: the form says what adding means and can be
    // left; the first stays signed in.
    account_menu(&d, "Add an account").await;
    d.wait("#sign-in-view:not([hidden]) #sign-in-cancel:not([hidden])")
        .await;
    d.until_text("#sign-in-title", |t| {
        t == "Add another Square Cloud account"
    })
    .await;
    d.type_into("#api-key", &format!("{CLIENT_KEY}\u{E007}"))
        .await;
    d.until_text("#account-name", |t| t == "Cliente X").await;
    d.until_text("#resources", |t| t.contains("Loja do Cliente X"))
        .await;
    d.js("if (!document.getElementById('first-run').hidden) document.getElementById('first-run-skip').click();")
        .await;
    // The first account's folder is not taken as this one's without asking: the dialog
    // names the account that keeps its backups there, and Cancel changes nothing.
    d.js(&format!(
        "window.__TAURI__.event.emit('folder-dropped', {{ok: true, path: {:?}, x: 5, y: 5}})",
        out_a.to_str().unwrap()
    ))
    .await;
    d.until_js(
        "return document.getElementById('shared-dialog').open;",
        "the shared folder question",
        10,
    )
    .await;
    let who = d.text_of("#shared-who").await;
    assert!(
        who.contains("Demo Account") && who.contains("default folder"),
        "{who}"
    );
    d.click("#shared-cancel").await;
    drop_folder(&d, &out_b).await;
    // Its views say whose they are.
    d.until_text("#history-title", |t| t == "Plan runs · Cliente X")
        .await;
    // Two keychain items, one per account, each with its own key.
    assert_eq!(
        items[0]
            .get()
            .unwrap()
            .map(|k| k.expose_secret().to_string()),
        Some(KEY.into())
    );
    assert_eq!(
        items[1]
            .get()
            .unwrap()
            .map(|k| k.expose_secret().to_string()),
        Some(CLIENT_KEY.into())
    );

    // The menu lists both, the shown one ticked, each with its quota.
    d.click("#account-button").await;
    d.wait("#account-menu:not([hidden])").await;
    let menu = d
        .js("return [...document.querySelectorAll('#account-list [role=menuitemradio]')].map(b => [b.textContent, b.getAttribute('aria-checked')])")
        .await;
    assert_eq!(
        menu,
        json!([
            ["Demo Account4 of 4 left today", "false"],
            ["✓Cliente X64 of 64 left today", "true"],
            ["All accounts", "false"]
        ]),
        "the account menu"
    );
    d.press("\u{E00C}").await;

    // All accounts: one list, grouped, a heading per account with its quota; the banner
    // counts per account; every row names its account.
    account_menu(&d, "All accounts").await;
    d.until_text("#account-name", |t| t == "All accounts").await;
    d.until_js(
        "return document.querySelectorAll('#resources .group-head').length === 2;",
        "two account headings",
        30,
    )
    .await;
    let heads = d
        .js("return [...document.querySelectorAll('#resources .group-head')].map(h => h.textContent)")
        .await;
    assert_eq!(
        heads,
        json!([
            "Demo Account1 resource4 of 4 left today",
            "Cliente X3 resources64 of 64 left today"
        ])
    );
    assert_eq!(
        d.js("return document.getElementById('quota-chip').hidden")
            .await,
        json!(true),
        "the header's quota chip stays in All accounts"
    );
    d.until_text("#status-text", |t| {
        t.contains("1 resource in Demo Account needs attention")
            && t.contains("3 resources in Cliente X need attention")
    })
    .await;
    let tags = d
        .js("return [...document.querySelectorAll('#resources li.row')].map(r => r.querySelector('.tag.account').textContent)")
        .await;
    assert_eq!(
        tags,
        json!(["Demo Account", "Cliente X", "Cliente X", "Cliente X"])
    );

    // One backup of each, from the one list: each lands in its own account's folder.
    d.click("button[aria-label='Back up now: Atlas Bot']").await;
    d.click("button[aria-label='Back up now: Loja do Cliente X']")
        .await;
    let a = until_zip(&out_a, "Atlas Bot").await;
    let b = until_zip(&out_b, "Loja do Cliente X").await;
    assert!(
        a.iter().all(|p| p.to_string_lossy().contains(ATLAS)),
        "{a:?}"
    );
    assert!(
        b.iter()
            .all(|p| p.to_string_lossy().contains(DEMO_CLIENT_PRIVATE_APP)),
        "{b:?}"
    );
    assert_eq!(sim.created_versions(ATLAS).len(), 1);
    assert_eq!(sim.created_versions(DEMO_CLIENT_PRIVATE_APP).len(), 1);
    // Each account's quota went down by one, in its own heading.
    d.until_js(
        "const h = [...document.querySelectorAll('#resources .group-head')].map(h => h.textContent);\
         return h.length === 2 && h[0].endsWith('3 of 4 left today') && h[1].endsWith('63 of 64 left today');",
        "each account's quota spent once",
        30,
    )
    .await;

    // Each notification names its account.
    let t = Instant::now();
    loop {
        let said: Vec<String> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|(s, b)| format!("{s} {b}"))
            .collect();
        if said.iter().any(|n| n.contains("Atlas Bot (Demo Account)"))
            && said
                .iter()
                .any(|n| n.contains("Loja do Cliente X (Cliente X)"))
        {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "notifications do not name the account: {said:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The tray's "Snapshot all" covers every account, each at its own pace: Cliente X's two
    // apps not backed up yet are created at once, while Atlas Bot and Loja do Cliente X,
    // backed up a moment ago, wait for their resource's minute, each line naming its account.
    d.js("window.__TAURI__.event.emit('tray-snapshot-all', null)")
        .await;
    let t = Instant::now();
    while sim.created_versions(DEMO_SHARED_ADMIN_APP).is_empty()
        || sim.created_versions(DEMO_SHARED_VIEW_APP).is_empty()
    {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "Snapshot all left out Cliente X's apps"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    d.until_text("#transfers", |t| {
        t.contains("Atlas Bot (Demo Account)") && t.contains("Loja do Cliente X (Cliente X)")
    })
    .await;
    d.click("#cancel-all").await;
    d.until_js(
        "return !document.querySelector('#transfers li');",
        "the drawer emptied by Stop all",
        30,
    )
    .await;
    assert_eq!(
        sim.created_versions(ATLAS).len(),
        1,
        "Atlas Bot created again within its minute"
    );

    // No request of one account carried the other's key; the creates are among them.
    assert!(no_request_crossed_accounts(&sim) >= 2);
    // Each account's library has its own copy, and names its account.
    let data = &home.data;
    for (id, res) in [(&demo_id, ATLAS), (&client_id, DEMO_CLIENT_PRIVATE_APP)] {
        let lib = std::fs::read_to_string(
            files_under(data)
                .into_iter()
                .find(|p| p.ends_with(Path::new("accounts").join(id.as_str()).join("library.json")))
                .unwrap_or_else(|| panic!("no library for {id} under {}", data.display())),
        )
        .unwrap();
        assert!(lib.contains(res), "{id}'s library lacks {res}");
        let other = if res == ATLAS {
            DEMO_CLIENT_PRIVATE_APP
        } else {
            ATLAS
        };
        assert!(!lib.contains(other), "{id}'s library holds {other}");
    }
    // Neither key is in any file the app wrote.
    for key in [KEY, CLIENT_KEY] {
        for dir in [&home.data, &home.config, &home.cache] {
            assert_eq!(files_containing(dir, key.as_bytes()), Vec::<PathBuf>::new());
        }
    }

    let kept = until_zip(&out_b, "Cliente X's copies").await;
    assert!(kept.len() >= b.len(), "{kept:?}");
    // Removing Cliente X (shown first) keeps its copies, deletes its key, and the window shows
    // the demo account.
    account_menu(&d, "Cliente X").await;
    d.until_text("#account-name", |t| t == "Cliente X").await;
    account_menu(&d, "Remove this account").await;
    d.until_js(
        "return document.getElementById('remove-dialog').open;",
        "the remove dialog",
        10,
    )
    .await;
    assert_eq!(
        d.js("return document.getElementById('remove-keep').checked")
            .await,
        json!(true),
        "keeping the copies is the default"
    );
    d.click("#remove-confirm").await;
    d.until_text("#account-name", |t| t == "Demo Account").await;
    d.until_text("#notice", |t| {
        t.contains("Cliente X was removed from this computer")
    })
    .await;
    assert!(
        items[1].get().unwrap().is_none(),
        "the removed account's key stayed"
    );
    assert!(
        items[0].get().unwrap().is_some(),
        "the other account's key went"
    );
    assert_eq!(
        until_zip(&out_b, "the kept copy").await,
        kept,
        "the copies were not kept"
    );
    d.cmd(reqwest::Method::DELETE, "", None).await;
    for i in &items {
        i.delete().unwrap();
    }
}
