//! Which folders keep their copies encrypted, and whether a recovery key was written: the
//! choices the window and `sqsnap folder encrypt` make, kept in the account's settings.
//!
//! Turning encryption on for a folder when no recovery key was written for the account's
//! key is said plainly first ([`LOST_KEY_WARNING`]) and needs the caller's confirmation.
//! Copies already in the folder stay as they are: plain ones stay plain, sealed ones
//! sealed; only the copies made from then on are sealed. That a recovery key was written
//! is recorded as the key's public half and a time, never the key.

use super::identity::{self, SealError, SealRecipient};
use crate::accounts::AccountId;
use crate::engine::library::{LIBRARY, Library};
use crate::secret::Keychain;
use crate::settings::{FolderError, RecoveryExported, SETTINGS, Settings, validate_folder};
use crate::statedir::StateDir;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What is said before encryption is turned on for a folder while no recovery key was
/// written for the account's key.
pub const LOST_KEY_WARNING: &str = "If this computer's keychain is lost and you have no recovery key, the encrypted copies cannot be opened by anyone, including you.";

/// A folder's choice, and what is in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FolderEncryption {
    pub folder: PathBuf,
    /// New copies made in it are sealed.
    pub encrypts: bool,
    /// The library's copies in it that are plain zips (they stay as they are).
    pub plain_copies: usize,
    /// The library's copies in it that are sealed (they stay sealed).
    pub sealed_copies: usize,
    /// A recovery key was written for the account's encryption key.
    pub recovery_exported: bool,
    /// The public key copies are sealed to (`age1…`), when the keychain has one.
    pub recipient: Option<String>,
}

/// Why a folder's choice was not changed.
#[derive(Debug, thiserror::Error)]
pub enum ChoiceError {
    /// No recovery key was written: [`LOST_KEY_WARNING`] must be said and confirmed first.
    #[error("{LOST_KEY_WARNING}")]
    Unconfirmed(PathBuf),
    #[error(transparent)]
    Folder(#[from] FolderError),
    #[error(transparent)]
    Key(#[from] SealError),
    #[error("Could not save the settings in {0}: {1}")]
    State(PathBuf, std::io::Error),
}

/// The folders whose choice the window shows: the default one and each resource's own.
pub fn shown_folders(s: &Settings) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = s
        .default_dest
        .iter()
        .chain(s.destinations.values())
        .chain(s.encrypt_folders.iter())
        .cloned()
        .collect();
    v.sort();
    v.dedup();
    v
}

/// `dir`'s choice and its copies, as the settings and the library say now. `recipient`:
/// the account's key, when the keychain has one.
pub fn status(
    settings: &Settings,
    library: &Library,
    dir: &Path,
    recipient: Option<&SealRecipient>,
) -> FolderEncryption {
    let here: Vec<_> = library
        .entries
        .iter()
        .filter(|e| e.path.parent() == Some(dir))
        .collect();
    let sealed = here.iter().filter(|e| e.sealed()).count();
    let recipient = recipient.map(ToString::to_string);
    FolderEncryption {
        folder: dir.to_path_buf(),
        encrypts: settings.encrypts(dir),
        plain_copies: here.len() - sealed,
        sealed_copies: sealed,
        recovery_exported: recipient
            .as_deref()
            .is_some_and(|r| settings.recovery_exported_for(r)),
        recipient,
    }
}

/// Turns encryption on or off for the copies made in `dir` from now on. On: the folder
/// must exist and take files (it is kept by its canonical path, as downloads name it), the
/// account's key is made and kept in the keychain if it has none, and when no recovery key
/// was written for that key, `confirmed` must say the caller said [`LOST_KEY_WARNING`] and
/// the person agreed ([`ChoiceError::Unconfirmed`] otherwise, and nothing is made or
/// changed). Off: no question (the sealed copies stay sealed and open as before).
pub fn set(
    state: &StateDir,
    keychain: &dyn Keychain,
    account: &AccountId,
    dir: &Path,
    on: bool,
    confirmed: bool,
) -> Result<FolderEncryption, ChoiceError> {
    let saved = |e| ChoiceError::State(state.path().join(SETTINGS), e);
    if !on {
        let canonical = crate::names::canonical(dir).unwrap_or_else(|_| dir.to_path_buf());
        let s = state
            .update(SETTINGS, |s: &mut Settings| {
                s.set_encrypts(dir, false);
                s.set_encrypts(&canonical, false);
                s.clone()
            })
            .map_err(saved)?;
        let recipient = identity::stored(keychain, account)?.map(|i| i.recipient());
        return Ok(status(&s, &library(state), &canonical, recipient.as_ref()));
    }
    let dir = validate_folder(dir)?;
    let stored = identity::stored(keychain, account)?;
    let exported = |s: &Settings| {
        stored
            .as_ref()
            .is_some_and(|i| s.recovery_exported_for(&i.recipient().to_string()))
    };
    let settings: Settings = state.read(SETTINGS).map_err(saved)?;
    if !confirmed && !exported(&settings) {
        return Err(ChoiceError::Unconfirmed(dir));
    }
    // The key copies will be sealed to, made now: a keychain that cannot keep one says so
    // before any folder is set to encrypt.
    let key = match stored {
        Some(k) => k,
        None => identity::get_or_create(keychain, account)?,
    };
    let s = state
        .update(SETTINGS, |s: &mut Settings| {
            s.set_encrypts(&dir, true);
            s.clone()
        })
        .map_err(saved)?;
    Ok(status(&s, &library(state), &dir, Some(&key.recipient())))
}

/// Writes the recovery key of the account's key (made first if the keychain has none) to
/// `out` with `passphrase` ([`identity::export_recovery`]), then records that it was
/// written (the public key and the time). Returns the public key.
pub fn export_recovery(
    state: &StateDir,
    keychain: &dyn Keychain,
    account: &AccountId,
    passphrase: &str,
    out: &Path,
) -> Result<SealRecipient, ChoiceError> {
    identity::check_passphrase(passphrase)?;
    let key = identity::get_or_create(keychain, account)?;
    identity::export_recovery(&key, Some(account), passphrase, out)?;
    let recipient = key.recipient();
    note_recovery(state, &recipient)?;
    Ok(recipient)
}

/// Records that a recovery key exists for `recipient`'s key (written here, or the one a
/// key was imported from).
pub fn note_recovery(state: &StateDir, recipient: &SealRecipient) -> Result<(), ChoiceError> {
    let note = RecoveryExported {
        recipient: recipient.to_string(),
        at: chrono::Utc::now(),
    };
    state
        .update(SETTINGS, |s: &mut Settings| {
            s.recovery_exported = Some(note)
        })
        .map_err(|e| ChoiceError::State(state.path().join(SETTINGS), e))
}

fn library(state: &StateDir) -> Library {
    state.read(LIBRARY).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::MemoryKeychain;

    fn setup() -> (tempfile::TempDir, StateDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let state = StateDir::open(&d.path().join("data")).unwrap();
        let folder = d.path().join("backups");
        std::fs::create_dir_all(&folder).unwrap();
        let folder = crate::names::canonical(&folder).unwrap();
        (d, state, folder)
    }

    /// Without a recovery key, turning on needs the confirmation and changes nothing
    /// without it (no key is made either); confirmed, the key is made and the folder set.
    /// Once a recovery key is written for that key, no confirmation is needed; off needs
    /// none.
    #[test]
    fn turning_on_without_a_recovery_key_needs_a_confirmation() {
        let (_d, state, folder) = setup();
        let kc = MemoryKeychain::default();
        let a = AccountId::new("77").unwrap();
        let e = set(&state, &kc, &a, &folder, true, false).unwrap_err();
        assert!(matches!(e, ChoiceError::Unconfirmed(_)), "{e}");
        assert!(e.to_string().contains("including you"), "{e}");
        assert!(identity::stored(&kc, &a).unwrap().is_none(), "no key made");
        let s: Settings = state.read(SETTINGS).unwrap();
        assert!(!s.encrypts(&folder));

        let on = set(&state, &kc, &a, &folder, true, true).unwrap();
        assert!(on.encrypts && !on.recovery_exported, "{on:?}");
        let key = identity::stored(&kc, &a).unwrap().unwrap();
        assert_eq!(on.recipient, Some(key.recipient().to_string()));

        let off = set(&state, &kc, &a, &folder, false, false).unwrap();
        assert!(!off.encrypts);
        let out = folder.join("recovery.age");
        let r = export_recovery(&state, &kc, &a, "a long enough passphrase", &out).unwrap();
        assert_eq!(r, key.recipient());
        let s: Settings = state.read(SETTINGS).unwrap();
        assert!(s.recovery_exported_for(&r.to_string()));
        assert!(
            !std::fs::read_to_string(&out)
                .unwrap()
                .contains("AGE-SECRET")
        );
        let on = set(&state, &kc, &a, &folder, true, false).unwrap();
        assert!(on.encrypts && on.recovery_exported, "{on:?}");
    }

    #[test]
    fn a_missing_folder_or_a_weak_passphrase_changes_nothing() {
        let (d, state, _) = setup();
        let kc = MemoryKeychain::default();
        let a = AccountId::new("78").unwrap();
        let gone = d.path().join("gone");
        let e = set(&state, &kc, &a, &gone, true, true).unwrap_err();
        assert!(matches!(e, ChoiceError::Folder(_)), "{e}");
        let out = d.path().join("r.age");
        let e = export_recovery(&state, &kc, &a, "short", &out).unwrap_err();
        assert!(
            matches!(e, ChoiceError::Key(SealError::WeakPassphrase(5))),
            "{e}"
        );
        assert!(!out.exists());
        let s: Settings = state.read(SETTINGS).unwrap();
        assert!(s.recovery_exported.is_none() && s.encrypt_folders.is_empty());
    }
}
