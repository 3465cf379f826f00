//! Desktop notifications (notify-rust). A missing notification daemon is not an error.
//!
//! Each carries the app's name, its icon and its desktop entry (the app's id), so the
//! desktop shows and groups them as the app's. What a run finished is said once, at its
//! end (`run.rs`). A plan's failure or postponement is one notification per plan, withdrawn once the plan
//! succeeds; clicking one opens the window on the resource it is about (through an opener
//! the app sets, so this module needs nothing of the commands).

mod run;

pub use run::{Finished, RunNotes};

use crate::appid;
use crate::words::{Speak, Speech, Words, fill};
use snapshots::names::printable;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// The name notifications are shown under.
const APP_NAME: &str = "Square Snapshots";

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
    /// The window's language, which notifications speak too.
    speech: Speech,
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
    /// A notifier that speaks the language `speech` holds (the window's).
    pub fn speaking(speech: Speech) -> Self {
        Self(Arc::new(Inner {
            speech,
            ..Inner::default()
        }))
    }

    fn words(&self) -> &'static Words {
        self.0.speech.get().words()
    }

    /// The window opens through `f` when a notification is clicked.
    pub fn set_opener(&self, f: Opener) {
        let _ = self.0.opener.set(f);
    }

    /// One download finished: "Open folder", and a click opens the window on its resource.
    fn download_finished(&self, done: &Finished) {
        let body = format!(
            "{} → {}",
            escape(&done.name),
            escape(&done.folder.display().to_string())
        );
        self.show(
            self.words().snapshot_saved.into(),
            body,
            Extra {
                folder: Some(done.folder.clone()),
                click: Some(Some(done.resource.clone())),
                ..Extra::default()
            },
        );
    }

    /// Several downloads of one run finished: one notification naming them; a click opens
    /// the window on the list, "Open folder" when they all went to one folder.
    fn backups_done(&self, done: &[Finished]) {
        self.show(
            fill(self.words().backups_done, "n", &done.len().to_string()),
            run::group_body(done, self.words()),
            Extra {
                folder: run::one_folder(done).map(Path::to_path_buf),
                click: Some(None),
                ..Extra::default()
            },
        );
    }

    pub fn failed(&self, name: &str, why: &str) {
        self.show(
            self.words().snapshot_failed.into(),
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
            self.words().plan_failed.into(),
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
            self.words().plan_waiting.into(),
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
            self.words().no_recent.into(),
            format!(
                "{}: {}",
                escape(plan),
                fill(self.words().no_backup_in_days, "days", &days.to_string())
            ),
            Extra {
                click: Some(None),
                plan: Some(plan.to_string()),
                ..Extra::default()
            },
        );
    }

    pub fn quota_reached(&self, until: Option<String>) {
        let w = self.words();
        let body = match until {
            Some(t) => fill(w.quota_frees_at, "time", &escape(&t)),
            None => w.quota_used_up.into(),
        };
        self.show(w.quota_reached.into(), body, Extra::default());
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
    fn show(&self, summary: String, body: String, extra: Extra) {
        let body = safe_body(&body);
        let words = self.words();
        let this = self.clone();
        std::thread::spawn(move || {
            let mut n = notify_rust::Notification::new();
            n.appname(APP_NAME)
                .icon(appid::ID)
                .summary(&summary)
                .body(&body);
            #[cfg(windows)]
            if let Some(id) = appid::toast_app_id() {
                n.app_id(id);
            }
            #[cfg(all(unix, not(target_os = "macos")))]
            {
                n.hint(notify_rust::Hint::DesktopEntry(appid::ID.into()));
                if extra.folder.is_some() {
                    n.action("open", words.open_folder);
                }
                if extra.click.is_some() {
                    n.action("default", words.open);
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
                    let _ = (
                        extra.folder,
                        extra.click,
                        extra.plan,
                        this,
                        words.open_folder,
                    );
                }
                Err(e) => eprintln!("notification not shown: {e}"),
            }
        });
    }
}

#[cfg(test)]
mod tests;
