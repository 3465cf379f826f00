//! Started at login (`--minimized`), the real app under Xvfb: it stays in the tray only
//! where something on the desktop shows tray icons (a StatusNotifier host on the session
//! bus, served here), and otherwise opens its window minimised, never hiding where no one
//! could reach it. The window's state is read from the X server, as a desktop would see it.

mod support;

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{Home, Killer, app_window, app_window_id, close_window};

/// A desktop's tray: the StatusNotifier watcher, with a host registered. Records the items
/// (tray icons) that register with it: who registered, and the service or path it gave.
struct Watcher(Arc<Mutex<Vec<(String, String)>>>);

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    fn register_status_notifier_item(
        &self,
        #[zbus(header)] header: zbus::message::Header<'_>,
        service: String,
    ) {
        let sender = header.sender().map(|s| s.to_string()).unwrap_or_default();
        self.0.lock().unwrap().push((sender, service));
    }

    fn register_status_notifier_host(&self, _service: String) {}

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.0.lock().unwrap().iter().map(|i| i.1.clone()).collect()
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }
}

/// A dbusmenu layout: an item's id, its properties and its children (each a layout).
type Layout = (
    i32,
    std::collections::HashMap<String, zbus::zvariant::OwnedValue>,
    Vec<zbus::zvariant::OwnedValue>,
);

/// The labels of a tray item's menu, as a desktop's tray reads them over D-Bus.
async fn tray_labels(conn: &zbus::Connection, sender: &str, service: &str) -> Vec<String> {
    let (dest, path) = if service.starts_with('/') {
        (sender.to_string(), service.to_string())
    } else {
        (service.to_string(), "/StatusNotifierItem".to_string())
    };
    let item = zbus::Proxy::new(conn, dest.clone(), path, "org.kde.StatusNotifierItem")
        .await
        .unwrap();
    let menu: zbus::zvariant::OwnedObjectPath = item.get_property("Menu").await.unwrap();
    let menu = zbus::Proxy::new(conn, dest, menu, "com.canonical.dbusmenu")
        .await
        .unwrap();
    let (_revision, layout): (u32, Layout) = menu
        .call("GetLayout", &(0i32, -1i32, Vec::<String>::new()))
        .await
        .unwrap();
    let mut labels = Vec::new();
    let mut todo = vec![layout];
    while let Some((_, props, children)) = todo.pop() {
        if let Some(label) = props.get("label") {
            labels.push(String::try_from(label.try_clone().unwrap()).unwrap());
        }
        for child in children {
            todo.push(Layout::try_from(child).unwrap());
        }
    }
    labels
}

fn start(home: &Home, args: &[&str]) -> Killer {
    start_with(home, args, &[])
}

fn start_with(home: &Home, args: &[&str], env: &[(&str, &std::path::Path)]) -> Killer {
    let log = home
        .dir
        .path()
        .join(format!("app-{}-{}.log", args.join(""), env.len()));
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_square-snapshots"))
        .args(args)
        .envs(env.iter().copied())
        .env("XDG_DATA_HOME", &home.data)
        .env("XDG_CONFIG_HOME", &home.config)
        .env("XDG_CACHE_HOME", &home.cache)
        .env("NO_AT_BRIDGE", "1")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    Killer(child, log)
}

fn log_of(app: &Killer) -> String {
    String::from_utf8_lossy(&std::fs::read(&app.1).unwrap_or_default()).into_owned()
}

async fn until(what: &str, limit: Duration, done: impl FnMut() -> bool) {
    until_or(what, limit, done, String::new).await
}

/// [`until`], saying `context()` if the time runs out.
async fn until_or(
    what: &str,
    limit: Duration,
    mut done: impl FnMut() -> bool,
    context: impl Fn() -> String,
) {
    let t = Instant::now();
    while !done() {
        assert!(
            t.elapsed() < limit,
            "{what}: not within {limit:?}{}",
            context()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_login_the_window_stays_in_a_shown_tray_and_opens_minimised_without_one() {
    // One test, in order: the app is single-instance on the session bus, and the watcher
    // below must be gone for the first half.
    let home = Home::new();

    // 1. Nothing shows tray icons (a bare X server): after waiting for a panel that may
    //    start after it, the window opens, minimised.
    let app = start(&home, &["--demo", "--minimized"]);
    until("the window opens", Duration::from_secs(40), || {
        app_window().is_some_and(|w| w.viewable)
    })
    .await;
    let w = app_window().unwrap();
    assert!(w.iconic, "opened minimised, not in the user's face: {w:?}");
    let log = log_of(&app);
    assert!(
        log.contains("nothing on this desktop shows tray icons"),
        "{log}"
    );
    // Closed, with no tray to go to and no plan to keep running: the app quits.
    let mut app = app;
    close_window(app_window_id().unwrap().0);
    until("the app quits once closed", Duration::from_secs(20), || {
        app.0.try_wait().unwrap().is_some()
    })
    .await;
    drop(app);
    until("the first app is gone", Duration::from_secs(20), || {
        app_window().is_none()
    })
    .await;

    // Again with a backup plan, which needs the app running: closing minimises the window
    // (there is no window manager here to show it so; the app says it) and the app runs on.
    let data = home.dir.path().join("with-plans");
    std::fs::create_dir_all(data.join("demo")).unwrap();
    std::fs::write(
        data.join("demo").join("plans.json"),
        r#"{"plans": [{"id": "nightly", "kind": "snapshot", "scope": {"scope": "all"},
            "schedule": {"every": "week", "weekday": 6, "at": "03:00:00"}}], "reserve": 1}"#,
    )
    .unwrap();
    let mut app = start_with(&home, &["--demo"], &[("SQSNAP_DATA_DIR", &data)]);
    until("the window opens", Duration::from_secs(40), || {
        app_window().is_some_and(|w| w.viewable)
    })
    .await;
    close_window(app_window_id().unwrap().0);
    // Once seen failing under the time sweep at 02:59:30 UTC, not reproduced: say what the
    // app did if it shows again.
    until_or(
        "the app says why it stays",
        Duration::from_secs(20),
        || log_of(&app).contains("the window is minimised instead"),
        || format!("; window: {:?}\n{}", app_window(), log_of(&app)),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        app.0.try_wait().unwrap().is_none(),
        "the app keeps running for its plans"
    );
    assert!(app_window().is_some(), "the window is still there");
    drop(app);
    until(
        "the app with plans is gone",
        Duration::from_secs(20),
        || app_window().is_none(),
    )
    .await;

    // 2. A desktop whose tray shows icons: the app's icon registers there, and the window
    //    stays hidden past the 3 s first-showing fallback.
    let items = Arc::new(Mutex::new(Vec::new()));
    let tray = zbus::connection::Builder::session()
        .unwrap()
        .name("org.kde.StatusNotifierWatcher")
        .unwrap()
        .serve_at("/StatusNotifierWatcher", Watcher(items.clone()))
        .unwrap()
        .build()
        .await
        .expect("a D-Bus session bus: run inside dbus-run-session");
    // In Spanish, as the system says: the tray's menu speaks it.
    let es = std::path::Path::new("es_ES.UTF-8");
    let app = start_with(
        &home,
        &["--demo", "--minimized"],
        &[("LANG", es), ("LC_ALL", es)],
    );
    until("the tray icon registers", Duration::from_secs(40), || {
        !items.lock().unwrap().is_empty()
    })
    .await;
    let (sender, service) = items.lock().unwrap()[0].clone();
    let labels = tray_labels(&tray, &sender, &service).await;
    for word in ["Abrir Square Snapshots", "Copiar todo", "Pausar", "Salir"] {
        assert!(
            labels.iter().any(|l| l.replace('_', "") == word),
            "{word:?} not in the tray's menu: {labels:?}"
        );
    }
    until("the app decides", Duration::from_secs(20), || {
        log_of(&app).contains("staying in the tray")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        !app_window().is_some_and(|w| w.viewable),
        "hidden in the tray: {:?}",
        app_window()
    );
    // Launched again (as the tray's Open does): the window comes.
    let again = start(&home, &["--demo"]);
    until(
        "a second launch opens the window",
        Duration::from_secs(20),
        || app_window().is_some_and(|w| w.viewable),
    )
    .await;
    drop(again);
    // Closed, with a tray shown: the window goes there and the app keeps running.
    let mut app = app;
    close_window(app_window_id().unwrap().0);
    until(
        "the window hides in the tray",
        Duration::from_secs(20),
        || app_window().is_some_and(|w| !w.viewable),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(app.0.try_wait().unwrap().is_none(), "the app keeps running");
    drop(app);
}
