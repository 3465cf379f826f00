//! Engine events on their way to the window and the notifications: a click's job sends them
//! down its own channel, background work (plans, downloads taken up again) as the app's
//! `engine-event`, which names the account; either way a finished or failed download, or
//! the quota running out, raises its notification, naming the account when there are
//! several.

use crate::notify::{Finished, Notifier, RunNotes};
use crate::state::AppState;
use serde::Serialize;
use snapshots::{Engine, Event, EventSink};
use std::collections::HashMap;
use std::sync::Arc;
use tauri::ipc::Channel;

/// Engine events of background work (plans) go to the window as `engine-event`. A
/// scheduled download that succeeds notifies only when the user asked for it; the caller
/// flushes the run's notes when the run ends.
pub fn event_sink<R: tauri::Runtime>(
    e: &Engine,
    app: &tauri::AppHandle<R>,
) -> (EventSink, Arc<RunNotes>) {
    use tauri::{Emitter, Manager};
    let run = RunNotes::new(app.state::<Notifier>().inner().clone());
    let state = app.state::<AppState>();
    let notify_done = e.settings().notify_success;
    let app = app.clone();
    let account = e.me().user.id;
    let events = notifying(&state, e, run.clone(), notify_done, move |event| {
        let _ = app.emit(
            "engine-event",
            AccountEvent {
                account: account.clone(),
                event,
            },
        );
    });
    (events, run)
}

/// A background event, with the account whose engine sent it: with several accounts
/// signed in, the window puts each account's quota in its own place.
#[derive(Serialize, Clone)]
struct AccountEvent {
    account: String,
    #[serde(flatten)]
    event: Event,
}

/// Forwards engine events to the window and raises the notifications: one sink per command
/// call, which is one run; the command flushes its notes when the engine call returns.
pub fn sink(
    state: &AppState,
    e: &Engine,
    notifier: &Notifier,
    channel: Channel<Event>,
) -> (EventSink, Arc<RunNotes>) {
    let run = RunNotes::new(notifier.clone());
    let events = notifying(state, e, run.clone(), true, move |ev| {
        let _ = channel.send(ev);
    });
    (events, run)
}

/// Raises the notifications an event calls for (a finished download, only with
/// `notify_done`, is kept for the run's end), then forwards it.
fn notifying(
    state: &AppState,
    e: &Engine,
    run: Arc<RunNotes>,
    notify_done: bool,
    forward: impl Fn(Event) + Send + Sync + 'static,
) -> EventSink {
    // With more than one account, each name says whose it is.
    let named = state.namer(e);
    let names: HashMap<String, String> = e
        .resources()
        .into_iter()
        .map(|r| (r.id, named(&r.name)))
        .collect();
    Arc::new(move |ev: Event| {
        match &ev {
            // A copy staged for an offsite-only plan is said once its upload is done.
            Event::Done {
                resource,
                path,
                already_present: false,
                outbox: None,
                ..
            } if notify_done => {
                run.finished(Finished {
                    resource: resource.clone(),
                    name: names.get(resource).unwrap_or(resource).clone(),
                    folder: path.parent().unwrap_or(path).to_path_buf(),
                });
            }
            Event::Failed {
                resource,
                message,
                code,
            } if code != "cancelled" => {
                run.notifier().failed(
                    names.get(resource).map(String::as_str).unwrap_or(resource),
                    message,
                );
            }
            Event::PausedForQuota { until, .. } => {
                // What finished before the wait is said now, not hours later.
                run.flush();
                run.notifier().quota_reached(
                    until.map(|t| t.with_timezone(&chrono::Local).format("%H:%M").to_string()),
                );
            }
            _ => {}
        }
        forward(ev);
    })
}
