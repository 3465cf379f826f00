//! The API key lives in the OS keychain (Secret Service, Keychain, Credential Manager) and
//! nowhere else. There is no plaintext fallback.

use crate::accounts::AccountId;
use squarecloud::ApiKey;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The keychain user name of the one key a release before accounts kept.
const LEGACY_USER: &str = "api-key";

/// Where the key is kept.
pub trait SecretStore: Send + Sync {
    fn get(&self) -> Result<Option<ApiKey>, SecretError>;
    fn set(&self, key: &ApiKey) -> Result<(), SecretError>;
    fn delete(&self) -> Result<(), SecretError>;
}

/// Why the keychain could not be used, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error(
        "No keychain is available ({0}). On Linux, install and start a Secret Service such as GNOME Keyring or KWallet, then try again. The key was not saved anywhere."
    )]
    Unavailable(String),
    #[error(
        "The keychain is locked or access was denied ({0}). Unlock it (or allow access when asked) and try again. The key was not saved anywhere."
    )]
    Denied(String),
    #[error("The keychain failed: {0}. The key was not saved anywhere.")]
    Other(String),
}

/// The keychain item name: the app's bundle identifier before it became
/// `app.squaresnapshots.SquareSnapshots`, kept so that keys stored by earlier releases are
/// found; with `.dev` for debug builds so tests and development never touch a user's real
/// item. `SQSNAP_KEYRING_SERVICE` overrides it.
pub fn service_name() -> String {
    if let Ok(s) = std::env::var("SQSNAP_KEYRING_SERVICE")
        && !s.is_empty()
    {
        return s;
    }
    let base = "app.squaresnapshots.desktop";
    if cfg!(debug_assertions) {
        format!("{base}.dev")
    } else {
        base.into()
    }
}

/// The OS keychain through `keyring`.
pub struct KeyringStore {
    service: String,
    user: String,
}

impl KeyringStore {
    /// The item a release before accounts kept its one key in (the tests' item too).
    pub fn new(service: impl Into<String>) -> Self {
        Self {
            service: service.into(),
            user: LEGACY_USER.into(),
        }
    }

    /// The item that holds one account's key.
    pub fn for_account(service: impl Into<String>, id: &AccountId) -> Self {
        Self {
            service: service.into(),
            user: format!("account:{id}"),
        }
    }

    /// The item that holds one account's encryption identity (`crate::seal`).
    pub fn for_seal(service: impl Into<String>, id: &AccountId) -> Self {
        Self {
            service: service.into(),
            user: format!("seal:{id}"),
        }
    }

    fn entry(&self) -> Result<keyring::Entry, SecretError> {
        keyring::Entry::new(&self.service, &self.user).map_err(map_err)
    }
}

impl Default for KeyringStore {
    fn default() -> Self {
        Self::new(service_name())
    }
}

fn map_err(e: keyring::Error) -> SecretError {
    match e {
        keyring::Error::PlatformFailure(inner) => {
            let text = inner.to_string();
            if text.contains("ServiceUnknown")
                || text.contains("org.freedesktop.secrets")
                || text.contains("DBus")
                || text.contains("D-Bus")
            {
                SecretError::Unavailable(text)
            } else if text.to_lowercase().contains("lock")
                || text.contains("denied")
                || text.contains("dismissed")
            {
                SecretError::Denied(text)
            } else {
                SecretError::Other(text)
            }
        }
        keyring::Error::NoStorageAccess(inner) => {
            let text = inner.to_string();
            if text.to_lowercase().contains("lock") || text.contains("denied") {
                SecretError::Denied(text)
            } else {
                SecretError::Unavailable(text)
            }
        }
        other => SecretError::Other(other.to_string()),
    }
}

impl SecretStore for KeyringStore {
    fn get(&self) -> Result<Option<ApiKey>, SecretError> {
        match self.entry()?.get_password() {
            Ok(k) => Ok(ApiKey::new(k)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_err(e)),
        }
    }

    fn set(&self, key: &ApiKey) -> Result<(), SecretError> {
        self.entry()?
            .set_password(key.expose_secret())
            .map_err(map_err)
    }

    fn delete(&self) -> Result<(), SecretError> {
        match self.entry()?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_err(e)),
        }
    }
}

/// Keeps the key in memory only: unit tests, and the app's demo mode.
#[derive(Default)]
pub struct MemoryStore(Mutex<Option<ApiKey>>);

impl SecretStore for MemoryStore {
    fn get(&self) -> Result<Option<ApiKey>, SecretError> {
        Ok(self.0.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }
    fn set(&self, key: &ApiKey) -> Result<(), SecretError> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(key.clone());
        Ok(())
    }
    fn delete(&self) -> Result<(), SecretError> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(())
    }
}

/// Which secret: an account's API key, the one a release before accounts kept, or an
/// account's encryption identity (an `AGE-SECRET-KEY-1…` string carried in an [`ApiKey`],
/// which is redacted and never serialized; see `crate::seal::identity`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Slot {
    Account(AccountId),
    Legacy,
    Seal(AccountId),
    /// An offsite destination's secret access key (user `offsite:<account>:<name>`).
    Offsite {
        account: AccountId,
        name: String,
    },
}

/// Where every account's key lives: one item per account.
pub trait Keychain: Send + Sync {
    fn slot(&self, slot: &Slot) -> Box<dyn SecretStore>;
}

/// The OS keychain, one item per account under the app's service name.
pub struct OsKeychain {
    service: String,
}

impl OsKeychain {
    pub fn new(service: impl Into<String>) -> Self {
        Self {
            service: service.into(),
        }
    }
}

impl Default for OsKeychain {
    fn default() -> Self {
        Self::new(service_name())
    }
}

impl Keychain for OsKeychain {
    fn slot(&self, slot: &Slot) -> Box<dyn SecretStore> {
        Box::new(match slot {
            Slot::Account(id) => KeyringStore::for_account(self.service.clone(), id),
            Slot::Legacy => KeyringStore::new(self.service.clone()),
            Slot::Seal(id) => KeyringStore::for_seal(self.service.clone(), id),
            Slot::Offsite { account, name } => KeyringStore {
                service: self.service.clone(),
                user: format!("offsite:{account}:{name}"),
            },
        })
    }
}

/// Keys in memory only: the demo, and unit tests.
#[derive(Default)]
pub struct MemoryKeychain(Mutex<HashMap<Slot, Arc<MemoryStore>>>);

struct Shared(Arc<MemoryStore>);

impl SecretStore for Shared {
    fn get(&self) -> Result<Option<ApiKey>, SecretError> {
        self.0.get()
    }
    fn set(&self, key: &ApiKey) -> Result<(), SecretError> {
        self.0.set(key)
    }
    fn delete(&self) -> Result<(), SecretError> {
        self.0.delete()
    }
}

impl Keychain for MemoryKeychain {
    fn slot(&self, slot: &Slot) -> Box<dyn SecretStore> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Box::new(Shared(map.entry(slot.clone()).or_default().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_round_trip() {
        let s = MemoryStore::default();
        assert_eq!(s.get().unwrap(), None);
        s.set(&ApiKey::new("k-1").unwrap()).unwrap();
        assert_eq!(s.get().unwrap().unwrap().expose_secret(), "k-1");
        s.delete().unwrap();
        assert_eq!(s.get().unwrap(), None);
    }

    #[test]
    fn debug_builds_use_their_own_keychain_item() {
        if std::env::var("SQSNAP_KEYRING_SERVICE").is_err() {
            assert!(service_name().ends_with(".dev"));
        }
    }
}
