//! Signing in: which account a key opens, the folder its state lives in, the keychain item
//! its key is kept in, and its engine. The app and `sqsnap` both start here.

use crate::accounts::{AccountId, Accounts};
use crate::secret::{Keychain, SecretError, Slot};
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
    let (id, name) = identify(cfg, &key).await?;
    let dir = accounts
        .enter(&id, &name)
        .map_err(|e| state_failed(accounts, e))?;
    let engine = Engine::connect(in_dir(cfg, dir), key.clone()).await?;
    keychain.slot(&Slot::Account(id)).set(&key)?;
    Ok(engine)
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
