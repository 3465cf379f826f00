//! What the window tests share: a minimal W3C WebDriver client for tauri-driver, a D-Bus
//! notification listener, and the launch of the app with its own data dirs.
#![allow(dead_code)] // each test binary uses its own part

use base64::Engine as _;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Records every notification the app sends.
pub struct Listener(pub Arc<Mutex<Vec<(String, String)>>>);

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Listener {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        _app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        _hints: HashMap<String, zbus::zvariant::OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut seen = self.0.lock().unwrap();
        seen.push((summary, body));
        seen.len() as u32
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into(), "actions".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "e2e-listener".into(),
            "square-snapshots".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, _id: u32) {}
}

/// A minimal W3C WebDriver client.
pub struct Driver {
    pub http: reqwest::Client,
    pub base: String,
    pub session: String,
    pub shots: PathBuf,
}

impl Driver {
    pub async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let mut req = self.http.request(method, &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        v["value"].clone()
    }

    pub async fn find(&self, css: &str) -> Option<String> {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.get(ELEMENT).and_then(Value::as_str).map(str::to_string)
    }

    pub async fn wait(&self, css: &str) -> String {
        let t = Instant::now();
        loop {
            if let Some(e) = self.find(css).await {
                return e;
            }
            assert!(t.elapsed() < Duration::from_secs(30), "no element {css}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks; a node replaced by a re-render (stale) is found again, as a person would, for
    /// up to 10 s (a loaded machine draws slowly).
    pub async fn click(&self, css: &str) {
        let t = Instant::now();
        let mut last = Value::Null;
        while t.elapsed() < Duration::from_secs(10) {
            let e = self.wait(css).await;
            self.settle(css).await;
            let v = self
                .cmd(
                    reqwest::Method::POST,
                    &format!("/element/{e}/click"),
                    Some(json!({})),
                )
                .await;
            let error = v.get("error").and_then(Value::as_str).map(str::to_string);
            last = v;
            match error.as_deref() {
                None => return,
                Some("stale element reference") => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                // Moved by a re-layout (the drawer opening) between the scroll and the click.
                // WebKit does not scroll nested scroll areas for a click: as a person would.
                Some("element not interactable") => {
                    self.js(&format!(
                        "const e = document.querySelector({css:?}); if (e) e.scrollIntoView({{block: 'center'}});"
                    ))
                    .await;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
                Some(_) => panic!("click {css}: {last}"),
            }
        }
        self.screenshot("failed-click").await;
        panic!("click {css}: the element kept going stale or out of reach for 10 s ({last})");
    }

    /// Waits (up to 2 s) until the element has stayed in one place for 100 ms: a list that
    /// scrolls or re-measures its rows moves it, and a click aimed before that would land
    /// on whatever is there after (another row's button). A person waits for it too.
    pub async fn settle(&self, css: &str) {
        self.js_async(&format!(
            "const e = document.querySelector({css:?}); if (!e) {{ done(false); return; }}
             let last = '', same = 0, n = 0;
             const step = () => {{
               const r = e.getBoundingClientRect();
               const k = [r.x, r.y, r.width, r.height].join();
               same = k === last ? same + 1 : 0; last = k;
               if (same >= 2 || ++n >= 40) done(same >= 2); else setTimeout(step, 50);
             }};
             step();"
        ))
        .await;
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.wait(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/clear"),
            Some(json!({})),
        )
        .await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Keys sent to an element as they are (no clearing first): arrows, Enter.
    pub async fn keys(&self, css: &str, text: &str) {
        let e = self.wait(css).await;
        let v = self
            .cmd(
                reqwest::Method::POST,
                &format!("/element/{e}/value"),
                Some(json!({"text": text})),
            )
            .await;
        assert!(v.get("error").is_none(), "keys to {css}: {v}");
    }

    pub async fn js(&self, script: &str) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Calls an app command as the UI does, through the same IPC and ACL.
    pub async fn invoke(&self, cmd: &str, args: Value) -> Value {
        let script = "const done = arguments[arguments.length - 1];\
            window.__TAURI__.core.invoke(arguments[0], arguments[1])\
            .then(v => done({ok: v}), e => done({err: e}));";
        self.cmd(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({"script": script, "args": [cmd, args]})),
        )
        .await
    }

    pub async fn text_of(&self, css: &str) -> String {
        self.js(&format!(
            "const e = document.querySelector({css:?}); return e ? e.textContent : '';"
        ))
        .await
        .as_str()
        .unwrap_or("")
        .to_string()
    }

    pub async fn until_text(&self, css: &str, pred: impl Fn(&str) -> bool) -> String {
        let t = Instant::now();
        loop {
            let text = self.text_of(css).await;
            if pred(&text) {
                return text;
            }
            if t.elapsed() > Duration::from_secs(60) {
                // What the window showed, for whoever reads the failure.
                self.screenshot("failed-wait").await;
                panic!("{css}: last text {text:?} (see failed-wait.png)");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn screenshot(&self, name: &str) {
        // What the page holds now, drawn: WebKit's frames come unevenly under Xvfb, and a
        // picture taken at once can show a state a few steps old.
        self.js_async("requestAnimationFrame(() => requestAnimationFrame(() => done()));")
            .await;
        // Painting without compositing (no GPU here: see src-tauri/src/render.rs), WebKit
        // answers a screenshot after the next paint, and a page with nothing to redraw is
        // never painted again: the request would wait forever. So while it waits, the body's
        // outline flips between none and transparent, which repaints and shows nothing.
        let shot = self.cmd(reqwest::Method::GET, "/screenshot", None);
        let nudge = async {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                self.js("const s = document.body.style; s.outline = s.outline ? '' : '1px solid transparent';")
                    .await;
            }
        };
        let v = tokio::select! {
            v = shot => v,
            _ = nudge => unreachable!(),
        };
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }
}

/// tauri-driver, and the file its output and the app's go to (the key-secrecy check reads
/// it; a failing test prints it).
pub struct Killer(pub Child, pub PathBuf);

impl Drop for Killer {
    fn drop(&mut self) {
        // The app first: WebKitWebDriver leaves it running when it ends, and the next test's
        // app would hand over to it (single instance) and exit.
        let apps = app_pids_under(self.0.id());
        for pid in &apps {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
        }
        let t = Instant::now();
        while apps
            .iter()
            .any(|p| Path::new(&format!("/proc/{p}/exe")).exists())
            && t.elapsed() < Duration::from_secs(10)
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        // SIGTERM: tauri-driver then stops WebKitWebDriver too (SIGKILL would leave it running).
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let _ = self.0.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- the app's output ({}) ---\n{}",
                self.1.display(),
                String::from_utf8_lossy(&std::fs::read(&self.1).unwrap_or_default())
            );
        }
    }
}

/// The app's own processes under tauri-driver (`root`): its children's children.
pub fn app_pids_under(root: u32) -> Vec<u32> {
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_square-snapshots")).unwrap();
    let parent_of = |pid: u32| -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // After the command's name in parentheses: state, then the parent's id.
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if std::fs::read_link(format!("/proc/{pid}/exe")).ok().as_ref() != Some(&exe) {
            continue;
        }
        let mut p = pid;
        for _ in 0..4 {
            match parent_of(p) {
                Some(q) if q == root => {
                    found.push(pid);
                    break;
                }
                Some(q) if q > 1 => p = q,
                _ => break,
            }
        }
    }
    found
}

/// Every regular file under `dir`, at any depth, links not followed; none when `dir` does
/// not exist.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(walkdir::DirEntry::into_path)
        .collect()
}

pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return hits;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            hits.extend(files_containing(&p, needle));
        } else if let Ok(bytes) = std::fs::read(&p)
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            hits.push(p);
        }
    }
    hits
}

impl Driver {
    /// Sets the window's outer size (no window manager under Xvfb: outer = inner).
    pub async fn resize(&self, width: u32, height: u32) {
        self.cmd(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
        let t = Instant::now();
        loop {
            let v = self
                .js("return [window.innerWidth, window.innerHeight]")
                .await;
            if v == json!([width, height]) {
                // Then two drawn frames: the list's resize observer redraws and re-measures
                // its rows on the next one, and a click meanwhile can land on a moving row.
                self.js_async("requestAnimationFrame(() => requestAnimationFrame(() => done()));")
                    .await;
                return;
            }
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "window is {v}, not {width}×{height}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls a script until it returns true, for up to `secs`; the window's picture if not.
    pub async fn until_js(&self, script: &str, what: &str, secs: u64) {
        let t = Instant::now();
        while self.js(script).await != json!(true) {
            if t.elapsed() > Duration::from_secs(secs) {
                self.screenshot("failed-wait").await;
                panic!("{what}: not seen in {secs} s (see failed-wait.png)");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Key presses as a person types them, to whatever has the focus.
    pub async fn press(&self, keys: &str) {
        self.press_holding(None, keys).await;
    }

    /// The same, each key with `held` (a modifier such as Shift, `\u{E008}`) held down.
    pub async fn press_holding(&self, held: Option<char>, keys: &str) {
        let mut actions = Vec::new();
        for k in keys.chars() {
            let down = |c: char| json!({"type": "keyDown", "value": c.to_string()});
            let up = |c: char| json!({"type": "keyUp", "value": c.to_string()});
            actions.extend(held.map(down));
            actions.push(down(k));
            actions.push(up(k));
            actions.extend(held.map(up));
        }
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/actions",
                Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
            )
            .await;
        assert!(v.is_null() || v.get("error").is_none(), "key actions: {v}");
    }

    /// Runs an async script (`done(value)` ends it).
    pub async fn js_async(&self, body: &str) -> Value {
        let script = format!("const done = arguments[arguments.length - 1]; {body}");
        self.cmd(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Allows long scripts (axe takes a few seconds on a big page).
    pub async fn script_timeout(&self, ms: u64) {
        self.cmd(
            reqwest::Method::POST,
            "/timeouts",
            Some(json!({"script": ms})),
        )
        .await;
    }
}

/// Serves `org.freedesktop.Notifications` on the session bus; what the app sends lands in
/// the returned list while the connection lives.
pub async fn serve_notifications() -> (zbus::Connection, Arc<Mutex<Vec<(String, String)>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let bus = zbus::connection::Builder::session()
        .unwrap()
        .name("org.freedesktop.Notifications")
        .unwrap()
        .serve_at("/org/freedesktop/Notifications", Listener(seen.clone()))
        .unwrap()
        .build()
        .await
        .expect("a D-Bus session bus: run inside dbus-run-session");
    (bus, seen)
}

/// The app's data, config and cache dirs under one temporary home.
pub struct Home {
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
    pub config: PathBuf,
    pub cache: PathBuf,
}

impl Home {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (data, config, cache) = (
            dir.path().join("data"),
            dir.path().join("config"),
            dir.path().join("cache"),
        );
        Self {
            dir,
            data,
            config,
            cache,
        }
    }
}

/// The app is single-instance on the session bus: a second one hands over to the first and
/// exits. The window tests of one binary run one at a time, each holding this while its app
/// may run (tests of a binary otherwise run in parallel).
pub async fn one_app_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static ONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    ONE.lock().await
}

/// tauri-driver on free ports (two runs on one machine never drive each other's app), with
/// the app pointed at `api_url` and at `home`'s dirs; then a session on the app.
pub async fn launch(api_url: &str, home: &Home, args: &[&str], shots: &str) -> (Killer, Driver) {
    launch_with(api_url, home, args, shots, &[]).await
}

/// [`launch`], with more environment for the app (tauri-driver's is the app's).
pub async fn launch_with(
    api_url: &str,
    home: &Home,
    args: &[&str],
    shots: &str,
    env: &[(&str, &str)],
) -> (Killer, Driver) {
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(shots);
    std::fs::create_dir_all(&shots).unwrap();
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (port, native_port) = (free_port(), free_port());
    let log = home.dir.path().join(format!("app-{port}.log"));
    let log_file = std::fs::File::create(&log).unwrap();
    let driver = Command::new("tauri-driver")
        .args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native_port.to_string(),
        ])
        .env("SQUARECLOUD_API_URL", api_url)
        .env("XDG_DATA_HOME", &home.data)
        .env("XDG_CONFIG_HOME", &home.config)
        .env("XDG_CACHE_HOME", &home.cache)
        .env("NO_AT_BRIDGE", "1")
        .envs(env.iter().copied())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .expect("tauri-driver on PATH (cargo install tauri-driver --locked)");
    let killer = Killer(driver, log);
    // A command that never returns fails the test instead of holding CI to its limit; the
    // longest wait asked of the page is the accessibility check's 120 s script.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(180))
        .build()
        .unwrap();
    let caps = json!({"capabilities": {"alwaysMatch": {"tauri:options": {
        "application": env!("CARGO_BIN_EXE_square-snapshots"), "args": args}}}});
    let t = Instant::now();
    let session = loop {
        if let Ok(r) = http
            .post(format!("http://127.0.0.1:{port}/session"))
            .json(&caps)
            .send()
            .await
        {
            let v: Value = r.json().await.unwrap();
            if let Some(id) = v["value"]["sessionId"].as_str() {
                break id.to_string();
            }
            panic!("no session: {v}");
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "tauri-driver did not start"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let d = Driver {
        http,
        base: format!("http://127.0.0.1:{port}"),
        session,
        shots,
    };
    (killer, d)
}

/// A row's "⋯" menu, then one of its items. A click that lands while a refresh replaces the
/// row is lost, as it would be for a person: click again.
pub async fn menu_action(d: &Driver, name: &str, item: &str) {
    let t = Instant::now();
    loop {
        let button = format!("button[aria-label='More actions: {name}']");
        d.click(&button).await;
        // Open for this row: a click while another row's menu was still closing can close
        // rather than open, and that menu's items act on the other row.
        let open = format!(
            "const b = document.querySelector({}); return !document.getElementById('row-menu').hidden && !!b && b.getAttribute('aria-expanded') === 'true'",
            json!(button)
        );
        if d.js(&open).await == json!(true) {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the menu of {name} did not open"
        );
    }
    d.click(item).await;
}

/// The app's top-level X window (the one with WM_HINTS), if mapped or not: whether it is
/// viewable, and whether it asks to start iconic (minimised).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowState {
    pub viewable: bool,
    pub iconic: bool,
}

pub fn app_window() -> Option<WindowState> {
    app_window_id().map(|(_, state)| state)
}

/// The top-level window's X id and state.
pub fn app_window_id() -> Option<(u64, WindowState)> {
    let tree = Command::new("xwininfo")
        .args(["-root", "-tree"])
        .output()
        .expect("xwininfo (x11-utils)");
    let tree = String::from_utf8_lossy(&tree.stdout);
    for line in tree.lines().filter(|l| l.contains("\"Square Snapshots\"")) {
        let Some(id) = line.split_whitespace().next() else {
            continue;
        };
        let hints = Command::new("xprop")
            .args(["-id", id, "WM_HINTS"])
            .output()
            .expect("xprop (x11-utils)");
        let hints = String::from_utf8_lossy(&hints.stdout);
        if !hints.contains("WM_HINTS(WM_HINTS)") {
            continue; // a child window, not the top level
        }
        let info = Command::new("xwininfo").args(["-id", id]).output().unwrap();
        let xid = u64::from_str_radix(id.trim_start_matches("0x"), 16).ok()?;
        return Some((
            xid,
            WindowState {
                viewable: String::from_utf8_lossy(&info.stdout).contains("Map State: IsViewable"),
                iconic: hints.contains("Iconic State"),
            },
        ));
    }
    None
}

/// Asks the window to close, as a window manager's close button does (`WM_DELETE_WINDOW`).
pub fn close_window(xid: u64) {
    use x11_dl::xlib;
    let x = xlib::Xlib::open().expect("libX11");
    // SAFETY: a display of our own, opened and closed here; the event is fully initialised.
    unsafe {
        let display = (x.XOpenDisplay)(std::ptr::null());
        assert!(!display.is_null(), "no X display");
        let atom = |name: &str| {
            let name = std::ffi::CString::new(name).unwrap();
            (x.XInternAtom)(display, name.as_ptr(), 0)
        };
        let mut data = xlib::ClientMessageData::new();
        data.set_long(0, atom("WM_DELETE_WINDOW") as i64);
        data.set_long(1, xlib::CurrentTime as i64);
        let mut event = xlib::XEvent {
            client_message: xlib::XClientMessageEvent {
                type_: xlib::ClientMessage,
                serial: 0,
                send_event: 1,
                display,
                window: xid,
                message_type: atom("WM_PROTOCOLS"),
                format: 32,
                data,
            },
        };
        (x.XSendEvent)(display, xid, 0, xlib::NoEventMask, &mut event);
        (x.XFlush)(display);
        (x.XCloseDisplay)(display);
    }
}
