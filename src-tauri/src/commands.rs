//! Thin commands: each adapts one engine call for the UI. The API key comes in through
//! `sign_in` and never goes back out.

use crate::error::UiError;
use crate::events::{event_sink, sink};
use crate::notify::Notifier;
use crate::state::AppState;
use serde::Serialize;
use snapshots::ledger::QuotaStatus;
use snapshots::library::PruneReport;
use snapshots::overview::{self, HistoryRow, PlansView, ResourceRow, SettingsView};
use snapshots::settings::{folder_from_drop, validate_folder};
use snapshots::signin;
use snapshots::{Engine, Event, SnapshotOptions};
use squarecloud::ApiKey;
use std::path::PathBuf;
use std::sync::Arc;
use tauri::State;
use tauri::ipc::Channel;

#[derive(Serialize)]
pub struct Session {
    signed_in: bool,
    demo: bool,
    account: Option<AccountView>,
    quota: Option<QuotaStatus>,
    /// How old, in hours, a resource's newest copy may be and still count as fresh.
    fresh_hours: i64,
    /// Things the user should know (a state file kept aside, a keychain problem), each
    /// with its code for the window to word it by and its message as the detail.
    notices: Vec<UiError>,
    /// How many accounts this computer knows: with more than one, the window names the
    /// account of every row, line and notice.
    accounts: usize,
}

#[derive(Serialize)]
pub struct AccountView {
    id: String,
    name: String,
    plan: String,
    memory_mb: u64,
    daily_quota: u32,
}

pub(crate) async fn engine(state: &AppState) -> Result<Arc<Engine>, UiError> {
    state.engine().await.ok_or_else(UiError::not_signed_in)
}

/// The engine of the account a row belongs to (`account`, from "All accounts"), or of the
/// one the window shows.
pub(crate) async fn engine_of(
    state: &AppState,
    account: &Option<String>,
) -> Result<Arc<Engine>, UiError> {
    state
        .engine_for(account.as_deref())
        .await
        .ok_or_else(UiError::not_signed_in)
}

pub(crate) fn session(state: &AppState, engine: Option<&Engine>, notices: Vec<UiError>) -> Session {
    Session {
        signed_in: engine.is_some(),
        demo: state.is_demo(),
        account: engine.map(|e| {
            let me = e.me();
            // The name the user gave it on this computer, else Square Cloud's.
            let shown = snapshots::accounts::AccountId::new(me.user.id.clone())
                .ok()
                .and_then(|id| state.accounts.get(&id))
                .map_or(me.user.name.clone(), |k| k.shown().to_string());
            AccountView {
                id: me.user.id,
                name: snapshots::names::printable(&shown),
                plan: snapshots::names::printable(&me.user.plan.name),
                memory_mb: me.user.plan.memory.limit,
                daily_quota: me.user.plan.daily_snapshot_quota(),
            }
        }),
        quota: engine.map(Engine::quota),
        fresh_hours: overview::FRESH_HOURS,
        notices,
        accounts: state.accounts.known().len(),
    }
}

/// The session; signs in with the stored key of the account signed in last, when there is
/// one (a key kept by a release before accounts moves to its account first).
#[tauri::command]
pub async fn get_session<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    state: State<'_, AppState>,
) -> Result<Session, UiError> {
    if let Some(e) = state.engines.lock().await.current() {
        return Ok(session(&state, Some(e), vec![]));
    }
    // Connecting can take a while (a slow network): the engines are not held meanwhile,
    // so closing the window or the tray never waits for it.
    match signin::resume(
        &state.accounts,
        state.keychain.as_ref(),
        &state.engine_config(),
    )
    .await
    {
        Ok(None) => Ok(session(&state, None, vec![])),
        Ok(Some(e)) => {
            let notices = e.recovered().iter().map(UiError::from).collect();
            let mut engines = state.engines.lock().await;
            if let Some(existing) = engines.current() {
                return Ok(session(&state, Some(existing), vec![]));
            }
            let e = engines.insert(ready(&state, e));
            resume_unfinished(&app, &e, state.cancel_token());
            Ok(session(&state, Some(&e), notices))
        }
        // A stored key that the server refuses: keep it (it may be a passing problem) but
        // ask again; network and keychain trouble are reported as they are.
        Err(err) => Ok(session(&state, None, vec![err.into()])),
    }
}

/// An engine just connected, set up as the app runs it: its downloads are recorded until
/// they end, so quitting in the middle loses nothing.
pub(crate) fn ready(state: &AppState, e: Engine) -> Arc<Engine> {
    // The keychain the account's encryption key is in, for folders that encrypt.
    let e = Arc::new(e.with_keychain(state.keychain.clone()));
    e.keep_unfinished(true);
    e.set_metered_check(Arc::new(snapshots::metered::is_metered));
    state.remember_close_to_tray(e.settings().close_to_tray);
    e
}

/// Goes on with the downloads a quit or a logout cut short, as background transfers the
/// window shows (from their `.part`, into the folders they had).
pub(crate) fn resume_unfinished<R: tauri::Runtime>(
    app: &tauri::AppHandle<R>,
    e: &Arc<Engine>,
    cancel: tokio_util::sync::CancellationToken,
) {
    let (events, run) = event_sink(e, app);
    let e = e.clone();
    tauri::async_runtime::spawn(async move {
        for (resource, got) in e.resume_unfinished(events.clone(), &cancel).await {
            if let Err(err) = got
                && err.code() != "cancelled"
            {
                events(Event::failed(resource, &err));
            }
        }
        run.flush();
    });
}

/// Checks the key with Square Cloud, then keeps it in the keychain item of its account,
/// which becomes the one the window shows.
#[tauri::command]
pub async fn sign_in<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    state: State<'_, AppState>,
    key: String,
) -> Result<Session, UiError> {
    let key =
        ApiKey::new(key).ok_or_else(|| UiError::new("key_empty", "Paste your API key first."))?;
    let engine = signin::sign_in(
        &state.accounts,
        state.keychain.as_ref(),
        &state.engine_config(),
        key,
    )
    .await?;
    let notices = engine.recovered().iter().map(UiError::from).collect();
    let engine = state.engines.lock().await.insert(ready(&state, engine));
    resume_unfinished(&app, &engine, state.cancel_token());
    Ok(session(&state, Some(&engine), notices))
}

/// Stops what is running and removes the account's key from the keychain; its backups,
/// library and plans stay for when it signs in again. Another account signed in in this
/// run is shown next, if there is one.
#[tauri::command]
pub async fn sign_out(state: State<'_, AppState>) -> Result<Session, UiError> {
    state.cancel_all();
    if let Some(e) = state.engine().await {
        let _ = e.forget_unfinished();
    }
    signin::sign_out(&state.accounts, state.keychain.as_ref())?;
    let mut engines = state.engines.lock().await;
    engines.remove_current();
    let next = engines.all().into_iter().next();
    if let Some(e) = &next {
        let id = e.me().user.id;
        engines.show(&id);
        if let Ok(id) = snapshots::accounts::AccountId::new(id) {
            let _ = state.accounts.switch_to(&id);
        }
    }
    Ok(session(&state, next.as_deref(), vec![]))
}

/// Applications and databases with their newest server and local snapshots.
#[tauri::command]
pub async fn list_resources(state: State<'_, AppState>) -> Result<Vec<ResourceRow>, UiError> {
    let e = engine(&state).await?;
    e.refresh().await?;
    // No listing per resource here: 1,000 of them would take minutes of the per-minute
    // budget. The window asks `refresh_newest` after showing the rows.
    Ok(overview::of_engine(&e)
        .into_iter()
        .map(overview::shown_row)
        .collect())
}

/// Learns when each resource's newest server snapshot was taken, for those not learnt in
/// the last few minutes; true when the rows should be drawn again. Costs no quota.
#[tauri::command]
pub async fn refresh_newest(state: State<'_, AppState>) -> Result<bool, UiError> {
    let e = engine(&state).await?;
    Ok(e.refresh_newest(snapshots::engine::NEWEST_MAX_AGE).await?)
}

#[derive(Serialize)]
pub struct VersionView {
    version: Option<String>,
    modified: chrono::DateTime<chrono::Utc>,
    size: u64,
    origin: Option<String>,
}

/// The server's snapshots of one resource, newest first. Costs no quota.
#[tauri::command]
pub async fn list_versions(
    state: State<'_, AppState>,
    id: String,
    account: Option<String>,
) -> Result<Vec<VersionView>, UiError> {
    let e = engine_of(&state, &account).await?;
    let r = e.resource(&id)?;
    Ok(e.versions(&r)
        .await?
        .into_iter()
        .map(|i| VersionView {
            version: i.version(),
            modified: i.modified,
            size: i.size,
            origin: i.origin,
        })
        .collect())
}

/// Snapshots the given resources (spends quota) and downloads them.
#[tauri::command]
pub async fn create_snapshots(
    state: State<'_, AppState>,
    notifier: State<'_, Notifier>,
    ids: Vec<String>,
    on_event: Channel<Event>,
    account: Option<String>,
) -> Result<usize, UiError> {
    let e = engine_of(&state, &account).await?;
    let targets = ids
        .iter()
        .map(|id| e.resource(id))
        .collect::<Result<Vec<_>, _>>()?;
    let opts = SnapshotOptions {
        download: true,
        dest: None,
        wait_for_quota: true,
    };
    let (events, run) = sink(&state, &e, &notifier, on_event);
    let results = e
        .snapshot(targets, opts, events, &state.cancel_token())
        .await;
    run.flush();
    Ok(results.iter().filter(|r| r.outcome.is_ok()).count())
}

/// Downloads a server snapshot (the newest, or `version`). Costs no quota.
#[tauri::command]
pub async fn download_snapshot(
    state: State<'_, AppState>,
    notifier: State<'_, Notifier>,
    id: String,
    version: Option<String>,
    on_event: Channel<Event>,
    account: Option<String>,
) -> Result<PathBuf, UiError> {
    let e = engine_of(&state, &account).await?;
    let r = e.resource(&id)?;
    let (events, run) = sink(&state, &e, &notifier, on_event);
    let downloaded = e
        .download(
            &r,
            version.as_deref(),
            None,
            events.clone(),
            &state.cancel_token(),
        )
        .await;
    run.flush();
    match downloaded {
        Ok(d) => Ok(d.path),
        Err(err) => {
            events(Event::failed(id, &err));
            Err(err.into())
        }
    }
}

#[derive(Serialize)]
pub struct RestoreView {
    version: String,
    version_taken_at: chrono::DateTime<chrono::Utc>,
    snapshot_first: Option<PathBuf>,
}

/// Puts a resource back to one of its server snapshots, after a snapshot of its current
/// state when asked (spends one of today's snapshots).
#[tauri::command]
pub async fn restore_snapshot(
    state: State<'_, AppState>,
    notifier: State<'_, Notifier>,
    id: String,
    version: String,
    snapshot_first: bool,
    on_event: Channel<Event>,
    account: Option<String>,
) -> Result<RestoreView, UiError> {
    let e = engine_of(&state, &account).await?;
    let r = e.resource(&id)?;
    let opts = snapshots::restore::RestoreOptions {
        snapshot_first,
        download_first_to: None,
    };
    let (events, run) = sink(&state, &e, &notifier, on_event);
    let done = e
        .restore(&r, &version, opts, events, &state.cancel_token())
        .await;
    run.flush();
    let done = done?;
    Ok(RestoreView {
        version: done.version,
        version_taken_at: done.version_taken_at,
        snapshot_first: done.safety.and_then(|s| s.download).map(|d| d.path),
    })
}

/// Turns starting at login on or off (an XDG autostart entry on Linux, a login item on
/// macOS, the Run key on Windows), starting with `--minimized`.
pub fn start_at_login<R: tauri::Runtime>(
    app: &tauri::AppHandle<R>,
    on: bool,
) -> Result<bool, UiError> {
    crate::autostart::set(app, on).map_err(|e| {
        UiError::new(
            "autostart",
            format!("Could not change starting at login: {e}"),
        )
    })?;
    Ok(crate::autostart::is_enabled(app))
}

/// The page has painted its first list: the log says how long the start took, once per run
/// (for a slow start reported by a user, and for `make bench`'s launch rows).
#[tauri::command]
pub fn list_shown(state: State<'_, AppState>) {
    let launch = &state.launch;
    if !launch
        .list_said
        .swap(true, std::sync::atomic::Ordering::SeqCst)
    {
        eprintln!(
            "square-snapshots: the list is on screen, {} ms after start",
            launch.at.elapsed().as_millis()
        );
    }
}

#[tauri::command]
pub fn get_start_at_login<R: tauri::Runtime>(app: tauri::AppHandle<R>) -> bool {
    crate::autostart::is_enabled(&app)
}

#[tauri::command]
pub fn set_start_at_login<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    enabled: bool,
) -> Result<bool, UiError> {
    start_at_login(&app, enabled)
}

/// The plans' runs, newest first (each plan keeps its last 200).
#[tauri::command]
pub async fn list_history(state: State<'_, AppState>) -> Result<Vec<HistoryRow>, UiError> {
    Ok(overview::history_of_engine(&*engine(&state).await?))
}

#[tauri::command]
pub async fn list_plans(state: State<'_, AppState>) -> Result<PlansView, UiError> {
    Ok(overview::plans_of_engine(&*engine(&state).await?))
}

/// Adds a plan; one that would not fit in the daily quota is refused with the numbers.
#[tauri::command]
pub async fn add_plan(
    state: State<'_, AppState>,
    plan: snapshots::plans::Plan,
) -> Result<PlansView, UiError> {
    let e = engine(&state).await?;
    if let snapshots::plans::Scope::Resources { ids } = &plan.scope {
        for id in ids {
            e.resource(id)?;
        }
    }
    if let Some(name) = &plan.offsite {
        let (_, st) = state.account_state(&e)?;
        let all: snapshots::offsite::Offsites = st
            .read(snapshots::offsite::OFFSITE)
            .map_err(|err| UiError::new("state", err.to_string()))?;
        if all.get(name).is_none() {
            return Err(UiError::new(
                "plan_no_destination",
                format!(
                    "No offsite destination named {name}: add it under Offsite copies first. No plan was saved."
                ),
            ));
        }
    }
    e.add_plan(plan)??;
    Ok(overview::plans_of_engine(&e))
}

/// How many snapshots a day are kept for clicks; refused if the plans would not fit.
#[tauri::command]
pub async fn set_plan_reserve(
    state: State<'_, AppState>,
    reserve: u32,
) -> Result<PlansView, UiError> {
    let e = engine(&state).await?;
    let (n, quota) = (e.resources().len(), e.me().user.plan.daily_snapshot_quota());
    e.update_plans(|p| p.set_reserve(reserve, n, quota))??;
    Ok(overview::plans_of_engine(&e))
}

#[tauri::command]
pub async fn remove_plan(state: State<'_, AppState>, id: String) -> Result<PlansView, UiError> {
    let e = engine(&state).await?;
    e.update_plans(|p| p.remove(&id))??;
    Ok(overview::plans_of_engine(&e))
}

/// Cancels every transfer and wait; partial downloads are kept and resume when downloaded
/// again, but the next start does not go on with them (the user stopped them).
#[tauri::command]
pub async fn cancel_transfer(state: State<'_, AppState>) -> Result<(), UiError> {
    state.cancel_all();
    if let Some(e) = state.engine().await {
        e.forget_unfinished()?;
    }
    Ok(())
}

/// Stops watching the list for one resource's new snapshot (a slow create, or one whose
/// answer was lost); the rest goes on. Nothing is sent.
#[tauri::command]
pub async fn stop_waiting(
    state: State<'_, AppState>,
    resource: String,
    account: Option<String>,
) -> Result<bool, UiError> {
    Ok(engine_of(&state, &account).await?.stop_waiting(&resource))
}

/// Pauses (or resumes) the queue: nothing new starts while paused.
#[tauri::command]
pub async fn pause_queue<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    paused: bool,
) -> Result<(), UiError> {
    crate::set_paused(&app, paused).await;
    Ok(())
}

#[tauri::command]
pub async fn get_settings(state: State<'_, AppState>) -> Result<SettingsView, UiError> {
    Ok(engine(&state).await?.settings().into())
}

/// The system's language (`en`, `pt-BR`, `es`), as the tray and notifications pick it before
/// the window has said: the window's first choice when the user has not made one. The web
/// view's own `navigator.language` is not it: WebKitGTK reads the C library's locale, which
/// is "C" (so English) when the system's language is not installed there, and WebView2 reads
/// the browser's.
#[tauri::command]
pub fn system_language() -> &'static str {
    crate::words::of_system().tag()
}

/// The window says which language it shows: the tray (and whatever else speaks outside the
/// window) follows.
#[tauri::command]
pub async fn set_language<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    state: State<'_, AppState>,
    locale: String,
) -> Result<(), UiError> {
    let paused = state.engine().await.is_some_and(|e| e.is_paused());
    crate::speak(&app, crate::words::Lang::pick(&locale), paused);
    Ok(())
}

/// Saves the user's choices (folders are set through `set_destination*` only).
#[tauri::command]
pub async fn save_settings(
    state: State<'_, AppState>,
    settings: SettingsView,
) -> Result<(), UiError> {
    let e = engine(&state).await?;
    let saved = e.update_settings(|s| settings.apply_to(s))?;
    state.remember_close_to_tray(saved.close_to_tray);
    Ok(())
}

fn store_dest(
    state: &AppState,
    e: &Engine,
    resource: Option<String>,
    dir: PathBuf,
    confirmed: bool,
) -> Result<PathBuf, UiError> {
    if let Some(id) = &resource {
        e.resource(id)?;
    }
    // Another account's folder mixes two accounts' copies: said, and kept only once the
    // user confirms.
    let me = snapshots::accounts::AccountId::new(e.me().user.id).ok();
    let users = state.accounts.folder_users(&dir, me.as_ref());
    if !confirmed && !users.is_empty() {
        let who: Vec<String> = users.iter().map(|u| u.describe()).collect();
        return Err(UiError {
            path: Some(dir.clone()),
            ..UiError::new(
                "folder_shared",
                format!(
                    "{} is used by another account: {}. Nothing was changed.",
                    dir.display(),
                    who.join("; ")
                ),
            )
        });
    }
    let d = dir.clone();
    e.update_settings(move |s| s.set_destination(resource, d))?;
    Ok(dir)
}

/// Sets a folder (the default, or a resource's) after checking it exists and is writable;
/// a folder another account uses only when `confirmed`.
#[tauri::command]
pub async fn set_destination(
    state: State<'_, AppState>,
    resource: Option<String>,
    path: PathBuf,
    account: Option<String>,
    confirmed: Option<bool>,
) -> Result<PathBuf, UiError> {
    let e = engine_of(&state, &account).await?;
    let dir = validate_folder(&path)?;
    store_dest(&state, &e, resource, dir, confirmed.unwrap_or(false))
}

/// What a drop onto the window sets: exactly one writable folder, else a clear refusal.
#[tauri::command]
pub async fn set_destination_from_paths(
    state: State<'_, AppState>,
    resource: Option<String>,
    paths: Vec<PathBuf>,
    account: Option<String>,
) -> Result<PathBuf, UiError> {
    let e = engine_of(&state, &account).await?;
    store_dest(&state, &e, resource, folder_from_drop(&paths)?, false)
}

/// A resource goes back to the default folder.
#[tauri::command]
pub async fn clear_destination(
    state: State<'_, AppState>,
    resource: String,
    account: Option<String>,
) -> Result<(), UiError> {
    let e = engine_of(&state, &account).await?;
    e.update_settings(move |s| {
        s.destinations.remove(&resource);
    })?;
    Ok(())
}

/// The native folder picker; `None` when the user closed it.
#[tauri::command]
pub async fn pick_destination(
    state: State<'_, AppState>,
    resource: Option<String>,
    account: Option<String>,
) -> Result<Option<PathBuf>, UiError> {
    let e = engine_of(&state, &account).await?;
    let picked = rfd::AsyncFileDialog::new()
        .set_title("Choose where snapshots go")
        .pick_folder()
        .await;
    match picked {
        Some(h) => Ok(Some(store_dest(
            &state,
            &e,
            resource,
            validate_folder(h.path())?,
            false,
        )?)),
        None => Ok(None),
    }
}

/// Opens a folder in the file manager: only folders the app itself uses.
#[tauri::command]
pub async fn open_folder(state: State<'_, AppState>, path: PathBuf) -> Result<(), UiError> {
    let e = engine(&state).await?;
    if !overview::is_app_folder(&e.settings(), &e.library(), &path) {
        return Err(UiError::new(
            "not_app_folder",
            "That folder is not one the app uses.",
        ));
    }
    crate::opener::open_path(&path).map_err(|err| {
        UiError::new(
            "open_failed",
            format!("Could not open {}: {err}", path.display()),
        )
    })
}

/// Checks a downloaded file again, every CRC included.
#[tauri::command]
pub async fn verify_file(state: State<'_, AppState>, path: PathBuf) -> Result<(), UiError> {
    let e = engine(&state).await?;
    if !overview::in_library(&e.library(), &path) {
        return Err(UiError::new(
            "not_in_library",
            "That file is not in the library.",
        ));
    }
    // A copy in the library that fails its check stays where it is, said as damaged (a
    // download's failed check, "verify", means the file was not kept).
    e.verify(&path, true).await.map_err(|err| match err {
        snapshots::EngineError::Verify(_) => UiError::new("damaged", err.to_string()),
        err => err.into(),
    })
}

#[tauri::command]
pub async fn prune_library(
    state: State<'_, AppState>,
    keep_last: Option<u32>,
    keep_days: Option<u32>,
) -> Result<PruneReport, UiError> {
    Ok(engine(&state).await?.prune(keep_last, keep_days)?)
}
