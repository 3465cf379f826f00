//! Signing in: which account a key opens, the folder its state lives in, the keychain item
//! its key is kept in, and its engine. The app and `sqsnap` both start here.

use crate::accounts::{AccountError, AccountId, Accounts, Known};
use crate::library::{LIBRARY, Library, PruneReport};
use crate::secret::{Keychain, SecretError, Slot};
use crate::statedir::StateDir;
use crate::{Engine, EngineConfig, EngineError};
use squarecloud::ApiKey;

/// Why signing in stopped.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Keychain(#[from] SecretError),
}

/// Whose key this is: one `/users/me`, before any account's state is touched.
pub async fn identify(
    cfg: &EngineConfig,
    key: &ApiKey,
) -> Result<(AccountId, String), EngineError> {
    let client = squarecloud::Client::new(&cfg.api_url, key.clone())
        .map_err(|e| EngineError::Config(e.to_string()))?;
    let me = client.me().await.map_err(EngineError::from_api)?;
    let id = AccountId::new(me.user.id).map_err(EngineError::Config)?;
    Ok((id, me.user.name))
}

fn in_dir(cfg: &EngineConfig, dir: std::path::PathBuf) -> EngineConfig {
    EngineConfig {
        data_dir: dir,
        ..cfg.clone()
    }
}

fn state_failed(accounts: &Accounts, e: std::io::Error) -> EngineError {
    crate::engine::state_error(&accounts.root().join(crate::accounts::INDEX), e)
}

/// A key the user pasted: its account becomes the current one (the state of a release
/// before accounts moves in if it is this account's), the key is kept in that account's
/// keychain item, and the account's engine is returned. Nothing is kept when the key is
/// refused.
pub async fn sign_in(
    accounts: &Accounts,
    keychain: &dyn Keychain,
    cfg: &EngineConfig,
    key: ApiKey,
) -> Result<Engine, SignInError> {
    let added = add_account(accounts, keychain, cfg, key.clone(), true).await?;
    let dir = accounts.dir(&added.account.id);
    Ok(Engine::connect(in_dir(cfg, dir), key).await?)
}

/// What [`add_account`] did.
#[derive(Debug, Clone)]
pub struct Added {
    /// The account as this computer knows it now (a label given earlier stays).
    pub account: Known,
    /// It is the current account now.
    pub current: bool,
    /// It was not known on this computer before.
    pub new: bool,
}

/// A key the user gave, for one more account (`sqsnap account add`, the window's "Add an
/// account"): one `/users/me` says whose it is (no engine is started: [`open`] does that);
/// the account is registered (its own folder,
/// where the state of a release before accounts moves if it is this account's), its key
/// goes to its own keychain item (another account's is never touched), and it becomes the
/// current account when `make_current`, or when none is. A key Square Cloud refuses keeps
/// nothing; an account new here whose key the keychain would not take is forgotten again.
pub async fn add_account(
    accounts: &Accounts,
    keychain: &dyn Keychain,
    cfg: &EngineConfig,
    key: ApiKey,
    make_current: bool,
) -> Result<Added, SignInError> {
    let (id, name) = identify(cfg, &key).await?;
    let new = accounts.get(&id).is_none();
    accounts
        .open_account(&id, &name)
        .map_err(|e| state_failed(accounts, e))?;
    if let Err(e) = keychain.slot(&Slot::Account(id.clone())).set(&key) {
        if new {
            let _ = accounts.forget(&id, false);
        }
        return Err(e.into());
    }
    let current = make_current || accounts.current().is_none();
    if current {
        accounts
            .switch_to(&id)
            .map_err(|e| account_failed(accounts, e))?;
    }
    let account = accounts
        .get(&id)
        .ok_or_else(|| account_failed(accounts, AccountError::Unknown(id.to_string())))?;
    Ok(Added {
        account,
        current,
        new,
    })
}

fn account_failed(accounts: &Accounts, e: AccountError) -> EngineError {
    state_failed(accounts, std::io::Error::other(e.to_string()))
}

/// Whether the keychain holds the key of the account `id`.
pub fn key_kept(keychain: &dyn Keychain, id: &AccountId) -> Result<bool, SecretError> {
    Ok(keychain.slot(&Slot::Account(id.clone())).get()?.is_some())
}

/// The engine of the known account `id`, with the key its keychain item holds (`None`: the
/// keychain holds none for it). Which account is current does not change.
pub async fn open(
    accounts: &Accounts,
    keychain: &dyn Keychain,
    cfg: &EngineConfig,
    id: &AccountId,
) -> Result<Option<Engine>, SignInError> {
    let Some(key) = keychain.slot(&Slot::Account(id.clone())).get()? else {
        return Ok(None);
    };
    let engine = Engine::connect(in_dir(cfg, accounts.dir(id)), key).await?;
    if engine.me().user.id != id.as_str() {
        // The item holds a key of another account (kept by hand, or a mix-up): using it
        // would put one account's backups in another's folder.
        return Err(EngineError::Config(format!(
            "The keychain item of account {id} holds a key of another account ({}). Nothing was done: add the account again with its own key (`sqsnap account add`).",
            crate::names::printable(&engine.me().user.id)
        ))
        .into());
    }
    Ok(Some(engine))
}

/// Why an account could not be removed.
#[derive(Debug, thiserror::Error)]
pub enum RemoveError {
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Keychain(#[from] SecretError),
    #[error("{0}")]
    State(String),
}

/// What [`remove_account`] did.
#[derive(Debug, Default)]
pub struct Removed {
    /// What was deleted of its copies on this computer (`None`: they were kept).
    pub deleted: Option<PruneReport>,
    /// Its folder of state went too: only with its copies, once none of them is left as
    /// this app wrote it.
    pub state_removed: bool,
    /// The current account now.
    pub current: Option<AccountId>,
}

/// Removes the account `id` from this computer: its API key leaves the keychain and it is
/// forgotten. Its copies stay unless `delete_copies`, which deletes the files its library
/// lists that this app wrote and that are unchanged since (as a prune does; never another
/// file, never a copy in a bucket). Its folder of state (library, plans, settings,
/// destinations) goes only with its copies, and only when none of them is left: copies
/// kept keep their record for when the account is added again. Its encryption key stays
/// in the keychain, since copies sealed with it (in buckets too) open with nothing else.
pub fn remove_account(
    accounts: &Accounts,
    keychain: &dyn Keychain,
    id: &AccountId,
    delete_copies: bool,
) -> Result<Removed, RemoveError> {
    accounts
        .get(id)
        .ok_or_else(|| AccountError::Unknown(id.to_string()))?;
    keychain.slot(&Slot::Account(id.clone())).delete()?;
    let mut removed = Removed::default();
    if delete_copies {
        let (report, all_gone) = delete_listed(keychain, id, &accounts.dir(id))?;
        removed.deleted = Some(report);
        removed.state_removed = all_gone;
    }
    accounts.forget(id, removed.state_removed)?;
    removed.current = accounts.current();
    Ok(removed)
}

/// Deletes the copies the library in `dir` lists ([`Library::delete_all`]); whether none
/// is left as this app wrote it, and then the secrets of the account's offsite
/// destinations go too (their settings go with the folder).
fn delete_listed(
    keychain: &dyn Keychain,
    id: &AccountId,
    dir: &std::path::Path,
) -> Result<(PruneReport, bool), RemoveError> {
    if !dir.is_dir() {
        return Ok((PruneReport::default(), true));
    }
    let state = StateDir::open(dir).map_err(|e| RemoveError::State(e.to_string()))?;
    let before: Library = state
        .read(LIBRARY)
        .map_err(|e| RemoveError::State(e.to_string()))?;
    let mut after = before.clone();
    let report = after.delete_all();
    state
        .update(LIBRARY, |l: &mut Library| l.apply_prune(&before, &after))
        .map_err(|e| RemoveError::State(e.to_string()))?;
    let all_gone = !after.holds_intact_copy();
    if all_gone {
        let all: crate::offsite::Offsites = state.read(crate::offsite::OFFSITE).unwrap_or_default();
        for d in &all.destinations {
            keychain.slot(&crate::offsite::slot(id, &d.name)).delete()?;
        }
    }
    Ok((report, all_gone))
}

/// At start: the current account, with the key its keychain item holds; else the one key
/// a release before accounts kept (moved to its account's item). `None`: signed out.
pub async fn resume(
    accounts: &Accounts,
    keychain: &dyn Keychain,
    cfg: &EngineConfig,
) -> Result<Option<Engine>, SignInError> {
    if let Some(id) = accounts.current()
        && let Some(key) = keychain.slot(&Slot::Account(id.clone())).get()?
    {
        let dir = accounts.dir(&id);
        return Ok(Some(Engine::connect(in_dir(cfg, dir), key).await?));
    }
    let legacy = keychain.slot(&Slot::Legacy);
    let Some(key) = legacy.get()? else {
        return Ok(None);
    };
    let engine = sign_in(accounts, keychain, cfg, key).await?;
    // Kept in the account's item now: the old one goes.
    let _ = legacy.delete();
    Ok(Some(engine))
}

/// A key from elsewhere (`sqsnap`'s environment or key file), never kept: the engine of
/// the account it opens, in that account's folder. The current account is not changed.
pub async fn connect_with(
    accounts: &Accounts,
    cfg: &EngineConfig,
    key: ApiKey,
) -> Result<Engine, EngineError> {
    // Most often the key is the current account's: one call, as before accounts.
    if let Some(id) = accounts.current() {
        let engine = Engine::connect(in_dir(cfg, accounts.dir(&id)), key.clone()).await?;
        if engine.me().user.id == id.as_str() {
            return Ok(engine);
        }
    }
    let (id, name) = identify(cfg, &key).await?;
    let dir = accounts
        .open_account(&id, &name)
        .map_err(|e| state_failed(accounts, e))?;
    Engine::connect(in_dir(cfg, dir), key).await
}

/// Signs the current account out: its key leaves the keychain, its state stays.
pub fn sign_out(accounts: &Accounts, keychain: &dyn Keychain) -> Result<(), SignInError> {
    if let Some(id) = accounts.current() {
        keychain.slot(&Slot::Account(id)).delete()?;
    }
    keychain.slot(&Slot::Legacy).delete()?;
    accounts
        .leave()
        .map_err(|e| SignInError::Engine(state_failed(accounts, e)))
}
