//! Copies kept encrypted in a folder that asks for it (`Settings::encrypts`): the account's
//! key from the keychain, a sealed copy of the same snapshot already there, and the checked
//! download sealed where it is (`LocalFolder::sealed_to`), its plain zip removed.

use crate::accounts::AccountId;
use crate::destination::{Destination, LocalFolder};
use crate::download::{DownloadTarget, Downloaded};
use crate::engine::types::EngineError;
use crate::seal::identity::{self, SealError};
use crate::seal::{self, SealIdentity};
use crate::secret::Keychain;
use crate::verify::{VerifyError, verify_sealed};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The keychain the account's encryption key is kept in, and whose it is.
pub struct Keys {
    keychain: Arc<dyn Keychain>,
    account: AccountId,
}

impl Keys {
    pub fn new(keychain: Arc<dyn Keychain>, account: AccountId) -> Self {
        Self { keychain, account }
    }

    pub fn keychain(&self) -> &dyn Keychain {
        self.keychain.as_ref()
    }

    pub fn account(&self) -> &AccountId {
        &self.account
    }

    /// The key new copies are sealed to, made and kept on first use.
    pub fn for_sealing(&self) -> Result<SealIdentity, SealError> {
        identity::get_or_create(self.keychain(), &self.account)
    }

    /// The key the keychain has, if any (nothing is made).
    pub fn stored(&self) -> Result<Option<SealIdentity>, SealError> {
        identity::stored(self.keychain(), &self.account)
    }
}

/// What a download left in its folder: the file, and its size on disk when it is sealed.
pub(super) struct Kept {
    pub(super) done: Downloaded,
    pub(super) sealed_size: Option<u64>,
}

/// The key a download into `dir` is sealed with, when `dir` encrypts.
pub(super) fn key_for_folder(
    keys: Option<&Keys>,
    dir: &Path,
) -> Result<Arc<SealIdentity>, EngineError> {
    let failed = |detail: String| EngineError::SealKey {
        folder: dir.to_path_buf(),
        detail,
    };
    let keys = keys
        .ok_or_else(|| failed("this program was started without access to the keychain.".into()))?;
    keys.for_sealing()
        .map(Arc::new)
        .map_err(|e| failed(e.to_string()))
}

/// The sealed copy of `target` already in its folder (`<name>.zip.age`), when it opens with
/// `key`, holds a zip of the listed size and passes its check (every CRC with `full`):
/// the snapshot is here already and nothing is fetched. One that does not is left as it
/// is (it may not be ours), and the new copy takes the next free name beside it.
pub(super) async fn already_sealed(
    target: &DownloadTarget,
    key: &Arc<SealIdentity>,
    full: bool,
) -> Result<Option<Kept>, EngineError> {
    let path = seal::sealed_name(&target.dir.join(&target.file_name));
    let Ok(meta) = std::fs::symlink_metadata(&path) else {
        return Ok(None);
    };
    if !meta.is_file() {
        return Ok(None);
    }
    let (p, key, expected) = (path.clone(), key.clone(), target.expected_size);
    let checked =
        tokio::task::spawn_blocking(move || verify_sealed(&p, Some(&key), expected, full))
            .await
            .map_err(|e| VerifyError::Io(e.to_string()))?;
    Ok(checked.ok().map(|verified| Kept {
        done: Downloaded {
            path,
            size: verified.size,
            verified,
            resumed_from: 0,
            already_present: true,
        },
        sealed_size: Some(meta.len()),
    }))
}

/// Seals the checked download `done` in `dir` to `key` (the folder's destination keeps it
/// as `….zip.age`; the plain zip is removed, also when sealing fails).
pub(super) async fn seal_kept(
    dir: &Path,
    done: Downloaded,
    key: &SealIdentity,
) -> Result<Kept, EngineError> {
    let dest = LocalFolder::new(dir).sealed_to(key.recipient());
    let plain = done.path.clone();
    let failed = |detail: String| EngineError::Sealing {
        folder: dir.to_path_buf(),
        detail,
    };
    let copy = tokio::task::spawn_blocking(move || dest.keep(&plain))
        .await
        .map_err(|e| failed(e.to_string()))?
        .map_err(|e| failed(e.to_string()))?;
    let path: PathBuf = copy
        .local_path()
        .ok_or_else(|| failed("the sealed copy is not in this folder".into()))?;
    let sealed_size = std::fs::metadata(&path)
        .map_err(|e| failed(e.to_string()))?
        .len();
    Ok(Kept {
        done: Downloaded {
            path,
            already_present: false,
            ..done
        },
        sealed_size: Some(sealed_size),
    })
}
