//! Desktop notifications (notify-rust). A missing notification daemon is not an error.
//!
//! A plan's failure or postponement is one notification per plan, withdrawn once the plan
//! succeeds; clicking one opens the window on the resource it is about (through an opener
//! the app sets, so this module needs nothing of the commands).

use snapshots::names::printable;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Shows the window, on a resource when one is given.
pub type Opener = Box<dyn Fn(Option<String>) + Send + Sync>;

/// What notifications remember, held in the app's managed state: the opener a click calls,
/// and the notification standing for each plan. A clone shares both, so the threads that
/// wait on a notification's actions can keep one.
#[derive(Clone, Default)]
pub struct Notifier(Arc<Inner>);

#[derive(Default)]
struct Inner {
    /// Set once the window exists (the app's setup); a click before that opens nothing.
    opener: OnceLock<Opener>,
    /// The notification standing for each plan, by notification id.
    plan_notes: Mutex<HashMap<String, u32>>,
}

/// Notification bodies may be read as markup (`<b>`, `<a href>`): names and messages are
/// escaped, and control characters are shown as `�`.
fn escape(text: &str) -> String {
    printable(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// What a notification does besides being read.
#[derive(Default)]
struct Extra {
    /// "Open folder" opens this folder.
    folder: Option<PathBuf>,
    /// A click opens the window (on this resource, if any).
    click: Option<Option<String>>,
    /// The plan it stands for: withdrawn when the plan succeeds.
    plan: Option<String>,
}

impl Notifier {
    /// The window opens through `f` when a notification is clicked.
    pub fn set_opener(&self, f: Opener) {
        let _ = self.0.opener.set(f);
    }

    pub fn download_finished(&self, name: &str, folder: &Path) {
        let body = format!(
            "{} → {}",
            escape(name),
            escape(&folder.display().to_string())
        );
        self.show(
            "Snapshot saved",
            body,
            Extra {
                folder: Some(folder.to_path_buf()),
                ..Extra::default()
            },
        );
    }

    pub fn failed(&self, name: &str, why: &str) {
        self.show(
            "Snapshot failed",
            format!("{}: {}", escape(name), escape(why)),
            Extra {
                click: Some(None),
                ..Extra::default()
            },
        );
    }

    /// A plan failed; a click opens the window on the first resource that failed.
    pub fn plan_failed(&self, plan: &str, why: &str, resource: Option<String>) {
        self.show(
            "A scheduled backup failed",
            format!("{}: {}", escape(plan), escape(why)),
            Extra {
                click: Some(resource),
                plan: Some(plan.to_string()),
                ..Extra::default()
            },
        );
    }

    /// A plan left downloads for later (a metered connection).
    pub fn plan_postponed(&self, plan: &str, why: &str) {
        self.show(
            "A scheduled backup is waiting",
            format!("{}: {}", escape(plan), escape(why)),
            Extra {
                click: Some(None),
                plan: Some(plan.to_string()),
                ..Extra::default()
            },
        );
    }

    /// The plan ran well: its failure or postponement notification, if any, is withdrawn.
    pub fn plan_succeeded(&self, plan: &str) {
        let id = self
            .0
            .plan_notes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(plan);
        if let Some(id) = id {
            std::thread::spawn(move || close(id));
        }
    }

    pub fn no_backup_in_days(&self, plan: &str, days: u32) {
        self.show(
            "No recent backup",
            format!(
                "{}: no successful backup in {days} days. Open Square Snapshots to see why.",
                escape(plan)
            ),
            Extra {
                click: Some(None),
                plan: Some(plan.to_string()),
                ..Extra::default()
            },
        );
    }

    pub fn quota_reached(&self, until: Option<String>) {
        let body = match until {
            Some(t) => format!(
                "The daily snapshot quota is used up. The next one frees up at {}.",
                escape(&t)
            ),
            None => "The daily snapshot quota is used up.".into(),
        };
        self.show("Quota reached", body, Extra::default());
    }
}

/// Withdraws a notification (the freedesktop `CloseNotification` call).
fn close(id: u32) {
    if let Ok(conn) = zbus::blocking::Connection::session() {
        let _ = conn.call_method(
            Some("org.freedesktop.Notifications"),
            "/org/freedesktop/Notifications",
            Some("org.freedesktop.Notifications"),
            "CloseNotification",
            &(id,),
        );
    }
}

/// The body as sent: whatever a caller put in it, no character a terminal or a
/// notification daemon would act on (control characters, bidirectional overrides) is left.
fn safe_body(body: &str) -> String {
    printable(body)
}

impl Notifier {
    fn show(&self, summary: &'static str, body: String, extra: Extra) {
        let body = safe_body(&body);
        let this = self.clone();
        std::thread::spawn(move || {
            let mut n = notify_rust::Notification::new();
            n.appname("Square Snapshots").summary(summary).body(&body);
            #[cfg(all(unix, not(target_os = "macos")))]
            {
                if extra.folder.is_some() {
                    n.action("open", "Open folder");
                }
                if extra.click.is_some() {
                    n.action("default", "Open Square Snapshots");
                }
            }
            match n.show() {
                #[cfg(all(unix, not(target_os = "macos")))]
                Ok(handle) => {
                    if let Some(plan) = &extra.plan {
                        // A newer one for the same plan replaces the old.
                        let old = this
                            .0
                            .plan_notes
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(plan.clone(), handle.id());
                        if let Some(old) = old {
                            close(old);
                        }
                    }
                    if extra.folder.is_some() || extra.click.is_some() {
                        handle.wait_for_action(|action| match action {
                            "open" => {
                                if let Some(dir) = &extra.folder {
                                    let _ = crate::opener::open_path(dir);
                                }
                            }
                            "default" => {
                                if let (Some(open), Some(resource)) =
                                    (this.0.opener.get(), &extra.click)
                                {
                                    open(resource.clone());
                                }
                            }
                            _ => {}
                        });
                    }
                }
                #[cfg(not(all(unix, not(target_os = "macos"))))]
                Ok(_) => {
                    let _ = (extra, this);
                }
                Err(e) => eprintln!("notification not shown: {e}"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
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

    /// A notification server stand-in on the session bus: records what it is asked.
    #[derive(Clone, Default)]
    struct Server(Arc<Mutex<Vec<String>>>);

    #[zbus::interface(name = "org.freedesktop.Notifications")]
    impl Server {
        #[allow(clippy::too_many_arguments)]
        fn notify(
            &self,
            _app: String,
            _replaces: u32,
            _icon: String,
            summary: String,
            _body: String,
            actions: Vec<String>,
            _hints: HashMap<String, zbus::zvariant::OwnedValue>,
            _timeout: i32,
        ) -> u32 {
            let mut log = self.0.lock().unwrap();
            log.push(format!("notify {summary} {}", actions.join(",")));
            41 + log.len() as u32
        }
        fn close_notification(&self, id: u32) {
            self.0.lock().unwrap().push(format!("close {id}"));
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

    async fn until(log: &Mutex<Vec<String>>, pred: impl Fn(&[String]) -> bool) {
        let t = Instant::now();
        while !pred(&log.lock().unwrap()) {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "{:?}",
                log.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A plan's failure is one notification with a click action; clicking opens the
    /// window on the resource; the plan's next success withdraws it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs a D-Bus session: `make test` runs it"]
    async fn plan_notifications_click_through_and_are_withdrawn() {
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
        let opened = Arc::new(Mutex::new(None));
        let o = opened.clone();
        let notifier = Notifier::default();
        notifier.set_opener(Box::new(move |r| *o.lock().unwrap() = Some(r)));
        let log = server.0.clone();
        notifier.plan_failed("nightly", "disk full", Some("r1".into()));
        until(&log, |log| {
            log.iter()
                .any(|l| l.starts_with("notify A scheduled backup failed") && l.contains("default"))
        })
        .await;
        let id = 41 + server.0.lock().unwrap().len() as u32;
        // The click: the server says the default action was invoked.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let iface = conn
            .object_server()
            .interface::<_, Server>("/org/freedesktop/Notifications")
            .await
            .unwrap();
        Server::action_invoked(iface.signal_emitter(), id, "default")
            .await
            .unwrap();
        let t = Instant::now();
        while opened.lock().unwrap().is_none() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "the click opened nothing"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(*opened.lock().unwrap(), Some(Some("r1".to_string())));
        notifier.plan_succeeded("nightly");
        until(&log, |log| log.iter().any(|l| l == &format!("close {id}"))).await;
    }
}
