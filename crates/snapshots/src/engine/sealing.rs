//! Encrypted copies on this computer, as the engine offers them: the keychain the account's
//! key is in, the folders that keep their copies sealed (turned on only after the lost-key
//! warning was confirmed, unless a recovery key was written), and the recovery key.
//! The work is `crate::seal::folders`'; downloads seal through the shelf.

use super::library::sealed::Keys;
use super::{Engine, EngineError};
use crate::accounts::AccountId;
use crate::seal::folders::{self, ChoiceError, FolderEncryption};
use crate::seal::{SealIdentity, identity};
use crate::secret::Keychain;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The encrypted-copies side of the settings: each folder's choice, and whether a recovery
/// key was written for the account's key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Encryption {
    pub folders: Vec<FolderEncryption>,
    pub recovery_exported: bool,
    /// The public key copies are sealed to (`age1…`), when the keychain has one.
    pub recipient: Option<String>,
    /// The fewest characters a recovery key's passphrase may have.
    pub min_passphrase_chars: usize,
}

impl Engine {
    /// The keychain the account's encryption key is kept in: downloads into a folder that
    /// encrypts seal with it, and verify opens sealed copies with it. Without one, such a
    /// download stops before anything is fetched, saying so.
    pub fn with_keychain(mut self, keychain: Arc<dyn Keychain>) -> Self {
        if let Ok(account) = AccountId::new(self.me().user.id) {
            self.shelf.set_keys(Keys::new(keychain, account));
        }
        self
    }

    fn keys(&self) -> Result<&Keys, EngineError> {
        self.shelf.keys().ok_or_else(|| EngineError::Key {
            code: "keychain",
            detail: "This program was started without access to the keychain, where the encryption key is kept. Nothing was changed.".into(),
        })
    }

    /// The account's key as the keychain has it (nothing is made); `None` when it has none.
    pub fn seal_key(&self) -> Result<Option<SealIdentity>, EngineError> {
        Ok(self.keys()?.stored()?)
    }

    /// Each folder the window shows (the default, each resource's own, and any other that
    /// encrypts) with its choice and copies, and whether a recovery key was written.
    pub fn encryption(&self) -> Encryption {
        let settings = self.settings();
        let library = self.library();
        let recipient = self
            .keys()
            .ok()
            .and_then(|k| k.stored().ok().flatten())
            .map(|k| k.recipient());
        let folders = folders::shown_folders(&settings)
            .iter()
            .map(|d| folders::status(&settings, &library, d, recipient.as_ref()))
            .collect();
        let recipient = recipient.map(|r| r.to_string());
        Encryption {
            folders,
            recovery_exported: recipient
                .as_deref()
                .is_some_and(|r| settings.recovery_exported_for(r)),
            recipient,
            min_passphrase_chars: identity::MIN_PASSPHRASE_CHARS,
        }
    }

    /// Turns encryption on or off for the copies made in `dir` from now on; the copies
    /// already there stay as they are. Turning it on while no recovery key was written for
    /// the account's key needs `confirmed` (the caller said
    /// [`folders::LOST_KEY_WARNING`] and the person agreed); otherwise
    /// [`EngineError::EncryptUnconfirmed`], and nothing changes.
    pub fn set_folder_encrypts(
        &self,
        dir: &Path,
        on: bool,
        confirmed: bool,
    ) -> Result<FolderEncryption, EngineError> {
        let keys = self.keys()?;
        folders::set(
            self.shelf.state(),
            keys.keychain(),
            keys.account(),
            dir,
            on,
            confirmed,
        )
        .map_err(choice_error)
    }

    /// Writes the recovery key of the account's encryption key to `out` (which must not
    /// exist), protected by `passphrase`, and records that it was written. Returns the
    /// public key it is for.
    pub fn export_recovery(&self, passphrase: &str, out: &Path) -> Result<String, EngineError> {
        let keys = self.keys()?;
        folders::export_recovery(
            self.shelf.state(),
            keys.keychain(),
            keys.account(),
            passphrase,
            out,
        )
        .map(|r| r.to_string())
        .map_err(choice_error)
    }
}

/// A folder choice's failure as the engine's.
pub(crate) fn choice_error(e: ChoiceError) -> EngineError {
    match e {
        ChoiceError::Unconfirmed(folder) => EngineError::EncryptUnconfirmed {
            folder,
            warning: folders::LOST_KEY_WARNING.into(),
        },
        ChoiceError::Folder(f) => EngineError::Download(crate::download::DownloadError::Folder(f)),
        ChoiceError::Key(k) => k.into(),
        ChoiceError::State(path, e) => super::state_error(&path, e),
    }
}

/// Where [`Engine::export_recovery`]'s file goes when only a folder is given.
pub fn recovery_file_name(account: &str) -> PathBuf {
    PathBuf::from(format!("square-snapshots-recovery-{account}.age"))
}
