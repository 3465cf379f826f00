//! The account's encryption identity: one X25519 key pair per account, made on first use
//! and kept only in the OS keychain (`seal:<account id>`), never in a file, a log or the
//! webview. Its public half (the recipient, `age1…`) may be shown anywhere.
//!
//! The recovery key is that identity as an age identity file (the `age-keygen` format,
//! with `#` comment lines saying what it is), encrypted with a passphrase (age's scrypt
//! recipient) and armored: `age -d recovery.age > identity.txt` asks for the passphrase
//! and gives back a file `age -d -i identity.txt X.zip.age` takes.

use crate::accounts::AccountId;
use crate::secret::{Keychain, SecretError, Slot};
use age::secrecy::{ExposeSecret, SecretString};
use squarecloud::ApiKey;
use std::fmt;
use std::io::{self, Read, Write};
use std::path::Path;
use std::str::FromStr;

/// scrypt's work factor (log2 N) for a recovery key: what `age -p` uses.
const SCRYPT_LOG_N: u8 = 18;

/// The fewest characters a recovery passphrase may have.
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// The secret half. `Debug` is redacted and there is no `Serialize` or `Display`: the only
/// ways out are the keychain and an encrypted recovery file.
pub struct SealIdentity(age::x25519::Identity);

/// The public half: safe to show, log and store (`age1…`).
#[derive(Clone, PartialEq, Eq)]
pub struct SealRecipient(age::x25519::Recipient);

/// Why the identity or the recovery key could not be used, in words a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(transparent)]
    Keychain(#[from] SecretError),
    #[error(
        "The passphrase is too short ({0} characters). Use at least {MIN_PASSPHRASE_CHARS}: a few unrelated words work well. Nothing was written."
    )]
    WeakPassphrase(usize),
    #[error(
        "That passphrase does not open this recovery key. Check it (it is case-sensitive) and try again."
    )]
    WrongPassphrase,
    #[error("{0} is not a Square Snapshots recovery key ({1}).")]
    NotRecovery(String, String),
    #[error(
        "The keychain item for this account's encryption key holds something that is not an age identity. Nothing was changed; remove the item \"seal:<account id>\" from the keychain only if no encrypted copy needs it."
    )]
    Corrupt,
    #[error(
        "This computer already has a different encryption key for this account (public key {0}). Copies made with it would become unreadable, so it was kept; nothing was imported."
    )]
    Different(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl SealIdentity {
    /// A new random identity.
    pub fn generate() -> Self {
        Self(age::x25519::Identity::generate())
    }

    /// The public recipient copies are encrypted to.
    pub fn recipient(&self) -> SealRecipient {
        SealRecipient(self.0.to_public())
    }

    pub(crate) fn as_age(&self) -> &dyn age::Identity {
        &self.0
    }

    /// Reads `AGE-SECRET-KEY-1…` (surrounding whitespace allowed).
    fn parse(s: &str) -> Option<Self> {
        age::x25519::Identity::from_str(s.trim()).ok().map(Self)
    }

    /// The identity file text (`age-keygen` format): comments, then the secret line.
    fn file_text(&self, account: Option<&AccountId>) -> SecretString {
        let who = account
            .map(|a| format!(" for account {a}"))
            .unwrap_or_default();
        SecretString::from(format!(
            "# Square Snapshots encryption identity{who}: decrypts its .zip.age copies (age -d -i this-file X.zip.age > X.zip).\n# public key: {}\n{}\n",
            self.recipient(),
            self.0.to_string().expose_secret()
        ))
    }
}

impl fmt::Debug for SealIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealIdentity({}, secret redacted)", self.recipient())
    }
}

impl SealRecipient {
    pub(crate) fn as_age(&self) -> &dyn age::Recipient {
        &self.0
    }
}

impl fmt::Display for SealRecipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for SealRecipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealRecipient({})", self.0)
    }
}

impl FromStr for SealRecipient {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        age::x25519::Recipient::from_str(s.trim())
            .map(Self)
            .map_err(|e| format!("not an age X25519 recipient: {e}"))
    }
}

/// The account's identity if the keychain has one.
pub fn stored(
    keychain: &dyn Keychain,
    account: &AccountId,
) -> Result<Option<SealIdentity>, SealError> {
    match keychain.slot(&Slot::Seal(account.clone())).get()? {
        None => Ok(None),
        Some(k) => SealIdentity::parse(k.expose_secret())
            .map(Some)
            .ok_or(SealError::Corrupt),
    }
}

/// The key to open `file` with: the account's stored identity when the file is an encrypted
/// copy, `None` for a plain one (nothing is asked of the keychain then).
pub fn key_for(
    keychain: &dyn Keychain,
    account: &AccountId,
    file: &Path,
) -> Result<Option<SealIdentity>, SealError> {
    if !super::looks_sealed(file).unwrap_or(false) {
        return Ok(None);
    }
    stored(keychain, account)
}

/// The account's identity, made and stored in the keychain on first use. If the keychain
/// cannot keep it, the error says so and no identity is returned (so nothing is encrypted
/// to a key that would be lost).
pub fn get_or_create(
    keychain: &dyn Keychain,
    account: &AccountId,
) -> Result<SealIdentity, SealError> {
    if let Some(id) = stored(keychain, account)? {
        return Ok(id);
    }
    let id = SealIdentity::generate();
    store(keychain, account, &id)?;
    // Read it back: a keychain that accepted the write but kept nothing must not be trusted.
    match stored(keychain, account)? {
        Some(back) if back.recipient() == id.recipient() => Ok(id),
        _ => Err(SealError::Keychain(SecretError::Other(
            "the encryption key did not read back after it was saved".into(),
        ))),
    }
}

/// Keeps `id` as the account's identity. Refuses to replace a different one.
pub fn store(
    keychain: &dyn Keychain,
    account: &AccountId,
    id: &SealIdentity,
) -> Result<(), SealError> {
    if let Some(old) = stored(keychain, account)? {
        if old.recipient() == id.recipient() {
            return Ok(());
        }
        return Err(SealError::Different(old.recipient().to_string()));
    }
    let text = id.0.to_string();
    let key = ApiKey::new(text.expose_secret()).ok_or(SealError::Corrupt)?;
    keychain.slot(&Slot::Seal(account.clone())).set(&key)?;
    Ok(())
}

/// Refuses a passphrase under [`MIN_PASSPHRASE_CHARS`] characters.
pub fn check_passphrase(passphrase: &str) -> Result<(), SealError> {
    let n = passphrase.chars().count();
    if n < MIN_PASSPHRASE_CHARS {
        return Err(SealError::WeakPassphrase(n));
    }
    Ok(())
}

/// Writes the recovery key to `out` (which must not exist): the identity file, encrypted
/// with `passphrase` (age scrypt), armored, `0600`. Readable by `age -d` / `rage -d`.
pub fn export_recovery(
    identity: &SealIdentity,
    account: Option<&AccountId>,
    passphrase: &str,
    out: &Path,
) -> Result<(), SealError> {
    check_passphrase(passphrase)?;
    let mut pass = age::scrypt::Recipient::new(SecretString::from(passphrase.to_owned()));
    // The stock `age -p`'s work factor: age's own choice calibrates to one second on this
    // computer, which in a debug build (or on a slow one) gives a far weaker key.
    pass.set_work_factor(SCRYPT_LOG_N);
    let enc = age::Encryptor::with_recipients(std::iter::once(&pass as &dyn age::Recipient))
        .map_err(io::Error::other)?;
    let text = identity.file_text(account);
    super::write_new(out, |file| {
        let armor = age::armor::ArmoredWriter::wrap_output(file, age::armor::Format::AsciiArmor)?;
        let mut w = enc.wrap_output(armor)?;
        w.write_all(text.expose_secret().as_bytes())?;
        w.finish()?.finish()?;
        Ok(())
    })?;
    Ok(())
}

/// Reads a recovery key written by [`export_recovery`] (or any passphrase-encrypted age
/// identity file, armored or not) back into an identity.
pub fn import_recovery(file: &Path, passphrase: &str) -> Result<SealIdentity, SealError> {
    let shown = file.display().to_string();
    let not = |why: String| SealError::NotRecovery(shown.clone(), why);
    let f = std::fs::File::open(file)?;
    let armored = age::armor::ArmoredReader::new(io::BufReader::new(f));
    let dec = age::Decryptor::new(armored).map_err(|e| not(e.to_string()))?;
    if !dec.is_scrypt() {
        return Err(not("it is not protected by a passphrase".into()));
    }
    let pass = age::scrypt::Identity::new(SecretString::from(passphrase.to_owned()));
    let mut r = dec
        .decrypt(std::iter::once(&pass as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::DecryptionFailed | age::DecryptError::NoMatchingKeys => {
                SealError::WrongPassphrase
            }
            other => not(other.to_string()),
        })?;
    let mut text = String::new();
    r.read_to_string(&mut text)
        .map_err(|e| not(format!("damaged: {e}")))?;
    let text = SecretString::from(text);
    text.expose_secret()
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .and_then(SealIdentity::parse)
        .ok_or_else(|| not("no AGE-SECRET-KEY line inside".into()))
}
