//! Notifications against a notification server stand-in on the session bus (a real one
//! under `make test`; `#[ignore]` outside it), and the escaping.

use super::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn names_are_escaped_for_markup_and_terminals() {
    assert_eq!(
        escape("<a href='x'>bot</a> & \u{1b}[31m"),
        "&lt;a href='x'&gt;bot&lt;/a&gt; &amp; \u{FFFD}[31m"
    );
    // A title change (OSC), a bell, C1's one-character CSI, the bidirectional marks.
    let hostile = "\u{1b}]0;pwned\u{7}bot\u{9b}2J \u{200F}\u{061C}\u{202E}gpj.exe";
    for text in [escape(hostile), safe_body(&format!("{hostile}: {hostile}"))] {
        assert!(
            !text.chars().any(|c| c.is_control()
                || matches!(c, '\u{200E}' | '\u{200F}')
                || ('\u{2028}'..='\u{202E}').contains(&c)
                || ('\u{2066}'..='\u{2069}').contains(&c)
                || c == '\u{061C}'),
            "{text:?}"
        );
    }
}

/// One notification as the server received it.
#[derive(Clone, Debug)]
struct Note {
    id: u32,
    app: String,
    icon: String,
    summary: String,
    body: String,
    actions: Vec<String>,
    desktop_entry: Option<String>,
}

/// A notification server stand-in on the session bus: records what it is asked.
#[derive(Clone, Default)]
struct Server {
    notes: Arc<Mutex<Vec<Note>>>,
    closed: Arc<Mutex<Vec<u32>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Server {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app: String,
        _replaces: u32,
        icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        hints: HashMap<String, zbus::zvariant::OwnedValue>,
        _timeout: i32,
    ) -> u32 {
        let mut notes = self.notes.lock().unwrap();
        let id = 42 + notes.len() as u32;
        let desktop_entry = hints
            .get("desktop-entry")
            .and_then(|v| String::try_from(v.clone()).ok());
        notes.push(Note {
            id,
            app,
            icon,
            summary,
            body,
            actions,
            desktop_entry,
        });
        id
    }
    fn close_notification(&self, id: u32) {
        self.closed.lock().unwrap().push(id);
    }
    fn get_capabilities(&self) -> Vec<String> {
        vec!["actions".into(), "body".into()]
    }
    fn get_server_information(&self) -> (String, String, String, String) {
        ("stand-in".into(), "test".into(), "1".into(), "1.2".into())
    }
    #[zbus(signal)]
    async fn action_invoked(
        ctx: &zbus::object_server::SignalEmitter<'_>,
        id: u32,
        action: &str,
    ) -> zbus::Result<()>;
}

/// One test at a time holds the server's name on the bus.
static BUS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct StandIn {
    conn: zbus::Connection,
    server: Server,
    _bus: tokio::sync::MutexGuard<'static, ()>,
}

impl StandIn {
    async fn start() -> Self {
        let bus = BUS.lock().await;
        let server = Server::default();
        let conn = zbus::connection::Builder::session()
            .unwrap()
            .name("org.freedesktop.Notifications")
            .unwrap()
            .serve_at("/org/freedesktop/Notifications", server.clone())
            .unwrap()
            .build()
            .await
            .unwrap();
        Self {
            conn,
            server,
            _bus: bus,
        }
    }

    /// Waits (10 s at most) for a notification whose summary is `summary`.
    async fn note(&self, summary: &str) -> Note {
        let t = Instant::now();
        loop {
            let notes = self.server.notes.lock().unwrap().clone();
            if let Some(n) = notes.iter().find(|n| n.summary == summary) {
                return n.clone();
            }
            assert!(t.elapsed() < Duration::from_secs(10), "{notes:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The user clicks the notification `id`: the server says its default action was
    /// invoked (after the app had time to listen for it).
    async fn click(&self, id: u32) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let iface = self
            .conn
            .object_server()
            .interface::<_, Server>("/org/freedesktop/Notifications")
            .await
            .unwrap();
        Server::action_invoked(iface.signal_emitter(), id, "default")
            .await
            .unwrap();
    }
}

/// A notifier whose opener records what a click asked to open.
fn recording() -> (Notifier, Arc<Mutex<Vec<Option<String>>>>) {
    let opened = Arc::new(Mutex::new(Vec::new()));
    let o = opened.clone();
    let notifier = Notifier::default();
    notifier.set_opener(Box::new(move |r| o.lock().unwrap().push(r)));
    (notifier, opened)
}

async fn opened_once(opened: &Mutex<Vec<Option<String>>>) -> Option<String> {
    let t = Instant::now();
    while opened.lock().unwrap().is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the click opened nothing"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    opened.lock().unwrap()[0].clone()
}

/// A plan's failure is one notification with a click action; clicking opens the
/// window on the resource; the plan's next success withdraws it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a D-Bus session: `make test` runs it"]
async fn plan_notifications_click_through_and_are_withdrawn() {
    let bus = StandIn::start().await;
    let (notifier, opened) = recording();
    notifier.plan_failed("nightly", "disk full", Some("r1".into()));
    let note = bus.note("A scheduled backup failed").await;
    assert!(note.actions.iter().any(|a| a == "default"), "{note:?}");
    bus.click(note.id).await;
    assert_eq!(opened_once(&opened).await, Some("r1".to_string()));
    notifier.plan_succeeded("nightly");
    let t = Instant::now();
    while !bus.server.closed.lock().unwrap().contains(&note.id) {
        assert!(t.elapsed() < Duration::from_secs(10), "not withdrawn");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn finished(resource: &str, name: &str, folder: &str) -> Finished {
    Finished {
        resource: resource.into(),
        name: name.into(),
        folder: folder.into(),
    }
}

/// Three downloads finished in one run: one notification, "3 backups done", naming them
/// escaped, under the app's name, icon and desktop entry; a click opens the list, and
/// "Open folder" is there since they all went to one folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a D-Bus session: `make test` runs it"]
async fn a_run_of_three_is_one_notification_under_the_apps_id() {
    let bus = StandIn::start().await;
    let (notifier, opened) = recording();
    let run = RunNotes::new(notifier);
    run.finished(finished("r1", "<b>bot</b>", "/backups"));
    run.finished(finished("r2", "site & api", "/backups"));
    run.finished(finished("r3", "db", "/backups"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        bus.server.notes.lock().unwrap().is_empty(),
        "said before the run ended"
    );
    run.flush();
    let note = bus.note("3 backups done").await;
    assert_eq!(
        note.body,
        "&lt;b&gt;bot&lt;/b&gt;, site &amp; api, db → /backups"
    );
    assert_eq!(note.app, "Square Snapshots");
    assert_eq!(note.icon, crate::appid::ID);
    assert_eq!(note.desktop_entry.as_deref(), Some(crate::appid::ID));
    assert!(
        note.actions.iter().any(|a| a == "open") && note.actions.iter().any(|a| a == "default"),
        "{note:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        bus.server.notes.lock().unwrap().len(),
        1,
        "one toast, not three"
    );
    bus.click(note.id).await;
    assert_eq!(
        opened_once(&opened).await,
        None,
        "the list, not one resource"
    );
}

/// A single finished download keeps "Snapshot saved" with its name and folder; a click
/// opens the window on that resource.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a D-Bus session: `make test` runs it"]
async fn one_download_is_snapshot_saved_and_clicks_to_its_resource() {
    let bus = StandIn::start().await;
    let (notifier, opened) = recording();
    let run = RunNotes::new(notifier);
    run.finished(finished("0f1e2d", "my <bot>", "/home/ana/backups"));
    drop(run); // a run that ends without a flush still says what it finished
    let note = bus.note("Snapshot saved").await;
    assert_eq!(note.body, "my &lt;bot&gt; → /home/ana/backups");
    assert_eq!(note.desktop_entry.as_deref(), Some(crate::appid::ID));
    assert_eq!(note.icon, crate::appid::ID);
    bus.click(note.id).await;
    assert_eq!(opened_once(&opened).await, Some("0f1e2d".to_string()));
}

/// Notifications speak the window's language: with the window in Spanish, a run of four
/// is "4 copias terminadas" naming three "y 1 más", and its buttons are in Spanish too;
/// when the window changes language, the next notification follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a D-Bus session: `make test` runs it"]
async fn notifications_speak_the_windows_language() {
    use crate::words::{Lang, Speech};
    let bus = StandIn::start().await;
    let speech = Speech::new(Lang::Es);
    let notifier = Notifier::speaking(speech.clone());
    let run = RunNotes::new(notifier.clone());
    for (r, name) in [("r1", "bot"), ("r2", "site"), ("r3", "db"), ("r4", "api")] {
        run.finished(finished(r, name, "/copias"));
    }
    run.flush();
    let note = bus.note("4 copias terminadas").await;
    assert_eq!(note.body, "bot, site, db y 1 más → /copias");
    assert!(
        note.actions.iter().any(|a| a == "Abrir carpeta"),
        "{note:?}"
    );
    assert!(
        note.actions.iter().any(|a| a == "Abrir Square Snapshots"),
        "{note:?}"
    );
    speech.set(Lang::PtBr);
    notifier.quota_reached(Some("12:43".into()));
    let note = bus.note("Cota atingida").await;
    assert_eq!(
        note.body,
        "A cota diária de snapshots acabou. O próximo fica livre às 12:43."
    );
}
