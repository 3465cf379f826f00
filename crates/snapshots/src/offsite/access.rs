//! How a plan run reaches the account's offsite destinations. The engine holds no keychain:
//! the app and `sqsnap` hand it an [`OffsiteAccess`] that opens a destination (its secret
//! from the keychain) and, when the destination encrypts, gives the key its copies are
//! sealed to; tests hand it a client of their own.

use super::sync::SyncStep;
use super::{OffsiteConfig, OffsiteError, S3Client};
use crate::accounts::AccountId;
use crate::seal::{self, SealRecipient};
use crate::secret::Keychain;
use crate::statedir::StateDir;

/// A destination, open: its client, and the key its copies are sealed to when it encrypts.
pub struct Reach {
    pub client: S3Client,
    /// `Some` exactly when the destination encrypts.
    pub recipient: Option<SealRecipient>,
}

/// Opens the account's offsite destinations for a plan run.
pub trait OffsiteAccess: Send + Sync {
    /// The destination named `name`, open, or why not.
    fn reach(&self, name: &str) -> Result<Reach, OffsiteError>;

    /// A step of a plan run's upload to the destination `cfg` (queued, sending with its
    /// progress, sent, failed, left), to show as the window shows a click's.
    fn step(&self, _cfg: &OffsiteConfig, _step: SyncStep<'_>) {}
}

/// Opens the destination `name` of `account` as configured in `state`, its secret from
/// `keychain`; when it encrypts, the account's key is read from the keychain (made and
/// kept there on first use).
pub fn reach(
    state: &StateDir,
    keychain: &dyn Keychain,
    account: &AccountId,
    name: &str,
) -> Result<Reach, OffsiteError> {
    let client = super::open(state, keychain, account, name)?;
    let recipient = match client.config().encrypt {
        true => Some(
            seal::identity::get_or_create(keychain, account)
                .map_err(|e| {
                    OffsiteError::Config(format!(
                        "{name} encrypts copies and the encryption key could not be read or made ({e}); nothing was uploaded"
                    ))
                })?
                .recipient(),
        ),
        false => None,
    };
    Ok(Reach { client, recipient })
}
