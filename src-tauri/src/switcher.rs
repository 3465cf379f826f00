//! The window's accounts: the ones this computer knows and whether each is signed in,
//! showing another, renaming and removing one, and every account's list at once ("All
//! accounts"). Adding one is signing in with its key (`sign_in`): the accounts already
//! signed in stay.

use crate::commands::{Session, ready, resume_unfinished, session};
use crate::error::UiError;
use crate::state::AppState;
use serde::Serialize;
use snapshots::accounts::{AccountError, AccountId, Known};
use snapshots::ledger::QuotaStatus;
use snapshots::overview::{self, ResourceRow};
use snapshots::secret::Slot;
use snapshots::signin::{self, RemoveError};
use snapshots::{Engine, names::printable};
use std::sync::Arc;
use tauri::State;

/// An account as the header's menu shows it.
#[derive(Serialize)]
pub struct AccountEntry {
    id: String,
    /// What it is called here: the user's name for it, else Square Cloud's.
    name: String,
    /// Square Cloud's name for it.
    server_name: String,
    /// The window shows it.
    current: bool,
    /// Its key worked in this run: its resources, plans and quota are known.
    signed_in: bool,
    quota: Option<QuotaStatus>,
    /// Why it is not signed in (no key on this computer, a key refused, no network): its
    /// code for the window's words, its message as the detail.
    problem: Option<UiError>,
}

impl From<AccountError> for UiError {
    fn from(e: AccountError) -> Self {
        let code = match &e {
            AccountError::Unknown(_) => "account_unknown",
            AccountError::Ambiguous(..) => "account_unknown",
            AccountError::BadLabel(_) => "account_label_bad",
            AccountError::LabelTaken(_) => "account_label_taken",
            AccountError::Disk(_) => "state",
        };
        UiError::new(code, e.to_string())
    }
}

fn account_id(id: &str) -> Result<AccountId, UiError> {
    AccountId::new(id).map_err(|m| UiError::new("account_unknown", m))
}

/// Signs in every account this computer knows a key for and that is not signed in yet
/// (the window shows the same account as before): what "All accounts", the tray's
/// "Snapshot all" and the schedule work on. Returns why each of the others is not.
pub async fn open_all<R: tauri::Runtime>(
    app: &tauri::AppHandle<R>,
    state: &AppState,
) -> Vec<(AccountId, UiError)> {
    let mut problems = Vec::new();
    for k in state.accounts.known() {
        if state.engines.lock().await.get(k.id.as_str()).is_some() {
            continue;
        }
        // The key is read first: a failure kept for this same key is said again without
        // asking the server (a refused key, or one minute after the server could not be
        // reached).
        let key = match state.keychain.slot(&Slot::Account(k.id.clone())).get() {
            Ok(Some(key)) => key,
            Ok(None) => {
                problems.push((k.id.clone(), no_key(&k)));
                continue;
            }
            Err(e) => {
                problems.push((k.id.clone(), signin::SignInError::from(e).into()));
                continue;
            }
        };
        if let Some(e) = state.open_failures.standing(k.id.as_str(), &key) {
            problems.push((k.id.clone(), e));
            continue;
        }
        let opened = signin::open(
            &state.accounts,
            state.keychain.as_ref(),
            &state.engine_config(),
            &k.id,
        )
        .await;
        match opened {
            Ok(Some(e)) => {
                state.open_failures.forget(k.id.as_str());
                let e = state.engines.lock().await.add(ready(state, e));
                resume_unfinished(app, &e, state.cancel_token());
            }
            Ok(None) => problems.push((k.id.clone(), no_key(&k))),
            Err(err) => {
                let err = UiError::from(err);
                state.open_failures.keep(k.id.as_str(), key, err.clone());
                problems.push((k.id.clone(), err));
            }
        }
    }
    problems
}

fn no_key(k: &Known) -> UiError {
    UiError::new(
        "account_no_key",
        format!(
            "This computer keeps no API key for {} ({}): its copies and plans are here, but nothing of it can run until it is added again with its key.",
            printable(k.shown()),
            k.id
        ),
    )
}

/// Every account this computer knows, in the order they were added, each signed in when
/// its key allows.
#[tauri::command]
pub async fn list_accounts<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    state: State<'_, AppState>,
) -> Result<Vec<AccountEntry>, UiError> {
    let problems = open_all(&app, &state).await;
    let engines = state.engines.lock().await;
    let current = engines.current().map(|e| e.me().user.id);
    Ok(state
        .accounts
        .known()
        .into_iter()
        .map(|k| {
            let e = engines.get(k.id.as_str());
            AccountEntry {
                current: current.as_deref() == Some(k.id.as_str()),
                signed_in: e.is_some(),
                quota: e.map(|e| e.quota()),
                problem: problems
                    .iter()
                    .find(|(id, _)| id == &k.id)
                    .map(|(_, p)| p.clone()),
                name: printable(k.shown()),
                server_name: printable(&k.name),
                id: k.id.to_string(),
            }
        })
        .collect())
}

/// The window shows the account `id` from now on (and `sqsnap` uses it by default).
#[tauri::command]
pub async fn switch_account<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    state: State<'_, AppState>,
    id: String,
) -> Result<Session, UiError> {
    let id = account_id(&id)?;
    let known = state
        .accounts
        .get(&id)
        .ok_or_else(|| UiError::from(AccountError::Unknown(id.to_string())))?;
    if state.engines.lock().await.get(id.as_str()).is_none() {
        let e = signin::open(
            &state.accounts,
            state.keychain.as_ref(),
            &state.engine_config(),
            &id,
        )
        .await?
        .ok_or_else(|| no_key(&known))?;
        let e = state.engines.lock().await.add(ready(&state, e));
        resume_unfinished(&app, &e, state.cancel_token());
    }
    state.accounts.switch_to(&id)?;
    let mut engines = state.engines.lock().await;
    engines.show(id.as_str());
    let e = engines.current().cloned();
    state.remember_close_to_tray(e.as_ref().is_none_or(|e| e.settings().close_to_tray));
    Ok(session(&state, e.as_deref(), vec![]))
}

/// Names an account on this computer (`None` or blank: Square Cloud's name again).
#[tauri::command]
pub async fn rename_account(
    state: State<'_, AppState>,
    id: String,
    label: Option<String>,
) -> Result<(), UiError> {
    Ok(state.accounts.rename(&account_id(&id)?, label.as_deref())?)
}

/// What removing an account did.
#[derive(Serialize)]
pub struct RemovedView {
    /// Copies deleted from this computer (none when they were kept).
    deleted: usize,
    /// Copies left because they changed since the app wrote them, or could not be deleted.
    skipped: usize,
    session: Session,
}

/// Removes an account from this computer: its key leaves the keychain, its work stops. Its
/// copies stay unless `delete_copies` (only files this app wrote and that are unchanged;
/// never a copy in a bucket). The window then shows the account that is current now.
#[tauri::command]
pub async fn remove_account(
    state: State<'_, AppState>,
    id: String,
    delete_copies: bool,
) -> Result<RemovedView, UiError> {
    let id = account_id(&id)?;
    let engine = state.engines.lock().await.get(id.as_str()).cloned();
    if let Some(e) = &engine {
        // Nothing new of it starts, and what runs stops (the other accounts' downloads
        // stop too, as with Stop all, and go on at the next start or click); its own are
        // not taken up again.
        e.set_paused(true);
        state.cancel_all();
        let _ = e.forget_unfinished();
    }
    let removed =
        signin::remove_account(&state.accounts, state.keychain.as_ref(), &id, delete_copies)
            .map_err(|e| match e {
                RemoveError::Account(e) => e.into(),
                RemoveError::Keychain(e) => e.into(),
                RemoveError::State(m) => UiError::new("state", m),
            })?;
    let mut engines = state.engines.lock().await;
    engines.remove(id.as_str());
    // The window shows the account now current if it is signed in, else any that is.
    let next = removed
        .current
        .filter(|n| engines.get(n.as_str()).is_some())
        .or_else(|| {
            let e = engines.all().into_iter().next()?;
            AccountId::new(e.me().user.id).ok()
        });
    if let Some(next) = &next {
        engines.show(next.as_str());
        state.accounts.switch_to(next)?;
    }
    let (deleted, skipped) = removed
        .deleted
        .map(|r| (r.deleted.len(), r.skipped.len()))
        .unwrap_or_default();
    Ok(RemovedView {
        deleted,
        skipped,
        session: session(&state, engines.current().map(Arc::as_ref), vec![]),
    })
}

/// One account's part of "All accounts".
#[derive(Serialize)]
pub struct AccountGroup {
    id: String,
    name: String,
    quota: Option<QuotaStatus>,
    rows: Vec<ResourceRow>,
    /// Why its list could not be had (it is not signed in, or the server said no).
    problem: Option<UiError>,
}

/// Every signed-in account's resources, each account's list asked at the same time; an
/// account that cannot be reached says why, and the others are listed.
#[tauri::command]
pub async fn list_all_resources<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    state: State<'_, AppState>,
) -> Result<Vec<AccountGroup>, UiError> {
    let problems = open_all(&app, &state).await;
    let engines = state.engines.lock().await.all();
    let lists = futures_util::future::join_all(engines.iter().map(|e| e.refresh())).await;
    let mut groups = Vec::new();
    for k in state.accounts.known() {
        let name = printable(k.shown());
        if let Some((i, e)) = engines
            .iter()
            .enumerate()
            .find(|(_, e)| e.me().user.id == k.id.as_str())
        {
            groups.push(group_of(k.id.to_string(), name, e, lists[i].as_ref().err()));
        } else if let Some((_, p)) = problems.iter().find(|(id, _)| id == &k.id) {
            groups.push(AccountGroup {
                id: k.id.to_string(),
                name,
                quota: None,
                rows: vec![],
                problem: Some(p.clone()),
            });
        }
    }
    Ok(groups)
}

fn group_of(
    id: String,
    name: String,
    e: &Engine,
    failed: Option<&snapshots::EngineError>,
) -> AccountGroup {
    AccountGroup {
        id,
        name,
        quota: Some(e.quota()),
        rows: overview::of_engine(e)
            .into_iter()
            .map(overview::shown_row)
            .collect(),
        problem: failed.map(|err| UiError::new(err.code(), err.to_string())),
    }
}
