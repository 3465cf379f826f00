//! Put back from a copy, for the window: what the engine's check says of a file, the put
//! back itself (its upload's events on the job's channel), the copies kept in buckets and a
//! put back from one of them (fetched, put back and removed by the engine), and the native
//! file picker for a zip that is not one of the library's copies. Thin: the rules are the
//! engine's.

use crate::commands::engine_of;
use crate::error::UiError;
use crate::events::sink;
use crate::notify::Notifier;
use crate::state::AppState;
use serde::Serialize;
use snapshots::{Event, OffsiteCopy, PutBackOptions};
use std::path::PathBuf;
use tauri::State;
use tauri::ipc::Channel;

#[derive(Serialize)]
pub struct PutBackCheck {
    path: PathBuf,
    size: u64,
    entries: usize,
    /// When the library knows the file: when its snapshot was taken.
    from_taken_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What the engine says of putting `path` back into `id`; refusals (a database, over
/// 100 MB, not a whole zip) come back as errors with their codes. Sends nothing.
#[tauri::command]
pub async fn check_put_back(
    state: State<'_, AppState>,
    id: String,
    path: PathBuf,
    account: Option<String>,
) -> Result<PutBackCheck, UiError> {
    let e = engine_of(&state, &account).await?;
    let key = key_for(&state, &e, &path)?;
    let plan = e.check_put_back(&id, &path, key.as_ref()).await?;
    Ok(PutBackCheck {
        path: plan.file,
        size: plan.size,
        entries: plan.entries,
        from_taken_at: plan.from.map(|e| e.taken_at),
    })
}

#[derive(Serialize)]
pub struct PutBackView {
    size: u64,
    restarted: bool,
    snapshot_first: Option<PathBuf>,
}

/// Uploads `path` into application `id`, after a snapshot of its current state when asked.
#[tauri::command]
#[allow(clippy::too_many_arguments)]
pub async fn put_back(
    state: State<'_, AppState>,
    notifier: State<'_, Notifier>,
    id: String,
    path: PathBuf,
    snapshot_first: bool,
    restart: bool,
    on_event: Channel<Event>,
    account: Option<String>,
) -> Result<PutBackView, UiError> {
    let e = engine_of(&state, &account).await?;
    let opts = PutBackOptions {
        snapshot_first,
        download_first_to: None,
        restart,
        key: key_for(&state, &e, &path)?.map(std::sync::Arc::new),
    };
    let (events, run) = sink(&state, &e, &notifier, on_event);
    let result = e
        .put_back(&id, &path, opts, events.clone(), &state.cancel_token())
        .await;
    run.flush();
    done(&id, &events, result)
}

/// The copies of application `id`'s snapshots kept in buckets, newest first (the window
/// offers those whose destination is still set up).
#[tauri::command]
pub async fn list_offsite_copies(
    state: State<'_, AppState>,
    id: String,
    account: Option<String>,
) -> Result<Vec<OffsiteCopy>, UiError> {
    // The key goes back as it is (put_back_offsite finds the copy by it); the window
    // shows every string as text.
    Ok(engine_of(&state, &account).await?.offsite_copies(&id))
}

/// Fetches the copy at `key` in destination `destination` and puts it back into
/// application `id`: `fetching` events while it arrives, `fetched` once it is here and
/// reads whole, then the put back's own; the fetched file is removed whatever happens.
#[tauri::command]
#[allow(clippy::too_many_arguments)]
pub async fn put_back_offsite(
    state: State<'_, AppState>,
    notifier: State<'_, Notifier>,
    id: String,
    destination: String,
    key: String,
    snapshot_first: bool,
    restart: bool,
    on_event: Channel<Event>,
    account: Option<String>,
) -> Result<PutBackView, UiError> {
    let e = engine_of(&state, &account).await?;
    let opts = PutBackOptions {
        snapshot_first,
        download_first_to: None,
        restart,
        key: None,
    };
    let (events, run) = sink(&state, &e, &notifier, on_event);
    let result = e
        .put_back_from_offsite(
            &id,
            &destination,
            &key,
            &*state.keychain,
            opts,
            events.clone(),
            &state.cancel_token(),
        )
        .await;
    run.flush();
    done(&id, &events, result)
}

/// A put back's end for the window: what it did, or its error (also told as a `failed`
/// event, for the drawer).
fn done(
    id: &str,
    events: &snapshots::EventSink,
    result: Result<snapshots::PutBack, snapshots::EngineError>,
) -> Result<PutBackView, UiError> {
    match result {
        Ok(done) => Ok(PutBackView {
            size: done.plan.size,
            restarted: done.restarted,
            snapshot_first: done.safety.and_then(|s| s.download).map(|d| d.path),
        }),
        Err(err) => {
            events(Event::failed(id.to_string(), &err));
            Err(err.into())
        }
    }
}

/// The account's key when `path` is an encrypted copy (from the keychain; never sent to
/// the window).
fn key_for(
    state: &AppState,
    e: &snapshots::Engine,
    path: &std::path::Path,
) -> Result<Option<snapshots::seal::SealIdentity>, UiError> {
    let account = snapshots::accounts::AccountId::new(&e.me().user.id)
        .map_err(|_| UiError::not_signed_in())?;
    snapshots::seal::identity::key_for(&*state.keychain, &account, path)
        .map_err(|err| UiError::new("keychain", err.to_string()))
}

/// The native file picker for a zip; `None` when the user closed it.
#[tauri::command]
pub async fn pick_put_back_file() -> Option<PathBuf> {
    rfd::AsyncFileDialog::new()
        .set_title("Choose a copy to put back")
        .add_filter("zip", &["zip", "age"])
        .pick_file()
        .await
        .map(|h| h.path().to_path_buf())
}
