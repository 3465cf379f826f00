//! Offsite copies: S3-compatible buckets (AWS S3, Cloudflare R2, Backblaze B2, MinIO,
//! Wasabi). A destination is configured per account in `offsite.json` (no secret in it);
//! its secret access key lives in the OS keychain (`offsite:<account>:<name>`). A verified
//! local copy is uploaded ([`upload`]), checked by the server, and recorded in the library
//! as a second copy of the same version (kind [`S3`], at `s3://bucket/key#name`).
//!
//! Sealing: with `encrypt` on, the file handed to [`upload::upload_file`] is the sealed one
//! (`….zip.age`, made by the seal module); to this module it is just another file.

pub mod access;
pub mod client;
pub mod copies;
pub mod keep;
pub mod outbox;
pub mod sigv4;
pub mod sync;
pub mod upload;

use crate::accounts::AccountId;
use crate::secret::{Keychain, SecretError, Slot};
use crate::statedir::StateDir;
use serde::{Deserialize, Serialize};

pub use client::S3Client;

/// The kind a copy in a bucket is recorded under.
pub const S3: &str = "s3";

/// The account's offsite destinations, in its state dir.
pub const OFFSITE: &str = "offsite.json";

/// An S3-compatible bucket this account copies to. The secret key is not here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsiteConfig {
    pub name: String,
    /// `https://s3.eu-west-1.amazonaws.com`, `https://<id>.r2.cloudflarestorage.com`, …
    pub endpoint: String,
    #[serde(default = "default_region")]
    pub region: String,
    pub bucket: String,
    #[serde(default)]
    pub prefix: String,
    /// `endpoint/bucket/key` rather than `bucket.endpoint/key` (MinIO, most self-hosted).
    #[serde(default)]
    pub path_style: bool,
    pub access_key_id: String,
    /// Seal each copy with age before it leaves (on by default for offsite).
    #[serde(default = "yes")]
    pub encrypt: bool,
}

fn default_region() -> String {
    "us-east-1".into()
}

fn yes() -> bool {
    true
}

impl OffsiteConfig {
    /// Refuses an endpoint that is not a URL, or plain `http://` off loopback: the
    /// credentials' signatures and the data would cross the network in the clear.
    pub fn check_endpoint(&self) -> Result<(), OffsiteError> {
        let url = url::Url::parse(&self.endpoint)
            .map_err(|e| OffsiteError::Config(format!("the endpoint is not a URL: {e}")))?;
        match url.scheme() {
            "https" => Ok(()),
            "http" if is_loopback(&url) => Ok(()),
            "http" => Err(OffsiteError::Config(
                "plain http:// is only allowed on this computer (127.0.0.1, ::1, localhost); use https://".into(),
            )),
            s => Err(OffsiteError::Config(format!("the endpoint's scheme {s} is not http(s)"))),
        }
    }

    /// Where the copies go, as the window and `sqsnap` show it.
    pub fn place(&self) -> String {
        let p = self.prefix.trim_matches('/');
        if p.is_empty() {
            format!("{} bucket {}", self.endpoint, self.bucket)
        } else {
            format!("{} bucket {} under {p}/", self.endpoint, self.bucket)
        }
    }

    /// The copy's `at` for an object key: `s3://bucket/key#name`.
    pub fn copy_at(&self, key: &str) -> String {
        format!("s3://{}/{key}#{}", self.bucket, self.name)
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        None => false,
    }
}

/// Splits a copy's `at` into the destination's name and the object key.
pub fn parse_at(at: &str) -> Option<(&str, &str)> {
    let rest = at.strip_prefix("s3://")?;
    let (path, name) = rest.rsplit_once('#')?;
    let (_bucket, key) = path.split_once('/')?;
    Some((name, key))
}

/// Where a copy in a bucket is, for a person: `NAME: ENDPOINT bucket B, key K` (the
/// endpoint as configured; the bucket and key from the copy itself).
pub fn describe(copy: &crate::destination::Copy, all: &Offsites) -> Option<String> {
    if copy.kind != S3 {
        return None;
    }
    let (name, key) = parse_at(&copy.at)?;
    let bucket = copy.at.strip_prefix("s3://")?.split('/').next()?;
    let endpoint = all
        .get(name)
        .map_or("(destination removed)", |c| c.endpoint.as_str());
    Some(format!("{name}: {endpoint} bucket {bucket}, key {key}"))
}

/// The account's offsite destinations, as stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Offsites {
    pub destinations: Vec<OffsiteConfig>,
}

impl Offsites {
    pub fn get(&self, name: &str) -> Option<&OffsiteConfig> {
        self.destinations.iter().find(|d| d.name == name)
    }
}

/// The keychain slot of a destination's secret access key.
pub fn slot(account: &AccountId, name: &str) -> Slot {
    Slot::Offsite {
        account: account.clone(),
        name: name.to_string(),
    }
}

/// Adds (or replaces) a destination: the config in the state dir, the secret in the keychain.
pub fn add(
    state: &StateDir,
    keychain: &dyn Keychain,
    account: &AccountId,
    cfg: OffsiteConfig,
    secret: &str,
) -> Result<(), OffsiteError> {
    cfg.check_endpoint()?;
    if cfg.name.is_empty() || cfg.name.contains(['#', '/', ':']) {
        return Err(OffsiteError::Config(
            "a destination's name must not be empty nor hold '#', '/' or ':'".into(),
        ));
    }
    let key = squarecloud::ApiKey::new(secret)
        .ok_or_else(|| OffsiteError::Config("the secret access key is empty".into()))?;
    keychain.slot(&slot(account, &cfg.name)).set(&key)?;
    state.update(OFFSITE, |o: &mut Offsites| {
        o.destinations.retain(|d| d.name != cfg.name);
        o.destinations.push(cfg);
    })?;
    Ok(())
}

/// Removes a destination and its secret. Its copies stay in the bucket.
pub fn remove(
    state: &StateDir,
    keychain: &dyn Keychain,
    account: &AccountId,
    name: &str,
) -> Result<bool, OffsiteError> {
    let had = state.update(OFFSITE, |o: &mut Offsites| {
        let n = o.destinations.len();
        o.destinations.retain(|d| d.name != name);
        n != o.destinations.len()
    })?;
    keychain.slot(&slot(account, name)).delete()?;
    Ok(had)
}

/// A client for a configured destination, its secret read from the keychain.
pub fn open(
    state: &StateDir,
    keychain: &dyn Keychain,
    account: &AccountId,
    name: &str,
) -> Result<S3Client, OffsiteError> {
    let cfg = state
        .read::<Offsites>(OFFSITE)?
        .get(name)
        .cloned()
        .ok_or_else(|| OffsiteError::Config(format!("no offsite destination named {name}")))?;
    let secret = keychain.slot(&slot(account, name)).get()?.ok_or_else(|| {
        OffsiteError::Config(format!(
            "the secret key of {name} is not in the keychain; add the destination again"
        ))
    })?;
    S3Client::new(cfg, secret.expose_secret().to_string())
}

/// Why an offsite step failed, in words a person can act on. Every message says the local
/// copy is untouched: nothing here deletes or changes a file on this computer.
#[derive(Debug, thiserror::Error)]
pub enum OffsiteError {
    #[error("The offsite destination is not set up right: {0}. Your local copies are safe.")]
    Config(String),
    #[error(
        "The server refused the access key ({0}): the key id or secret is wrong, or the key was revoked. Your local copies are safe; add the destination again with the right key."
    )]
    Credentials(String),
    #[error(
        "The bucket {0} does not exist at this endpoint. Your local copies are safe; create the bucket or fix its name (and region), then try again."
    )]
    NoSuchBucket(String),
    #[error(
        "The server refused to store the copy (AccessDenied): the bucket is read-only for this key, or full. Your local copies are safe; give the key write access or free space, then sync again."
    )]
    AccessDenied,
    #[error(
        "The server says this computer's clock is wrong (RequestTimeTooSkewed). Your local copies are safe; set the clock right (turn on automatic time) and try again."
    )]
    ClockSkew,
    #[error(
        "The server is busy ({0}) and still was after several tries. Your local copies are safe; sync again later and the upload resumes."
    )]
    Busy(String),
    #[error(
        "The connection to the offsite server failed ({0}). Your local copies are safe; sync again and the upload resumes where it stopped."
    )]
    Network(String),
    #[error("The object is not there.")]
    NotFound,
    #[error(
        "The copy {key} is {size} bytes, over the {max} bytes it may be; it was not fetched and nothing was changed."
    )]
    TooLarge { key: String, size: u64, max: u64 },
    #[error("The server no longer has that multipart upload.")]
    NoSuchUpload,
    #[error(
        "The copy in the bucket does not match the local file ({0}). Your local copy is safe; it was not recorded as offsite; sync again."
    )]
    Mismatch(String),
    #[error("The upload was cancelled. Your local copy is safe; nothing partial is left.")]
    Cancelled,
    #[error("The server answered something unexpected: {0}. Your local copies are safe.")]
    Protocol(String),
    #[error("Could not read or record state on this computer: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

impl OffsiteError {
    /// Maps a non-2xx S3 answer to what it means.
    pub fn from_s3(status: u16, body: &str, cfg: &OffsiteConfig) -> Self {
        let code = client::xml_value(body, "Code").unwrap_or_default();
        match code.as_str() {
            "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "InvalidSecurity" => {
                Self::Credentials(code)
            }
            "NoSuchBucket" => Self::NoSuchBucket(cfg.bucket.clone()),
            "AccessDenied" | "AllAccessDisabled" | "QuotaExceeded" => Self::AccessDenied,
            "RequestTimeTooSkewed" => Self::ClockSkew,
            "SlowDown" | "ServiceUnavailable" | "InternalError" | "RequestTimeout" => {
                Self::Busy(code)
            }
            "NoSuchKey" => Self::NotFound,
            "NoSuchUpload" => Self::NoSuchUpload,
            _ => match status {
                404 => Self::NotFound,
                403 => Self::AccessDenied,
                500 | 502 | 503 | 504 => Self::Busy(format!("HTTP {status}")),
                _ => Self::Protocol(format!("HTTP {status} {code}")),
            },
        }
    }

    /// A short stable code the window words the failure by (its `failedWhy`), as the
    /// engine's errors have theirs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Config(_) => "offsite_config",
            Self::Credentials(_) => "offsite_credentials",
            Self::NoSuchBucket(_) => "offsite_no_bucket",
            Self::AccessDenied => "offsite_denied",
            Self::ClockSkew => "offsite_clock",
            Self::Busy(_) => "offsite_busy",
            Self::Network(_) => "offsite_network",
            Self::NotFound | Self::NoSuchUpload => "offsite_missing",
            Self::TooLarge { .. } => "too_large",
            Self::Mismatch(_) => "offsite_mismatch",
            Self::Cancelled => "cancelled",
            Self::Protocol(_) => "offsite_protocol",
            Self::Io(_) => "disk",
            Self::Secret(_) => "keychain",
        }
    }

    /// Whether trying again soon can help.
    pub fn retryable(&self) -> bool {
        matches!(self, Self::Busy(_) | Self::Network(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(endpoint: &str) -> OffsiteConfig {
        OffsiteConfig {
            name: "b2".into(),
            endpoint: endpoint.into(),
            region: "us-east-1".into(),
            bucket: "bk".into(),
            prefix: "snaps/".into(),
            path_style: true,
            access_key_id: "AK".into(),
            encrypt: true,
        }
    }

    #[test]
    fn plain_http_only_on_loopback() {
        assert!(cfg("https://s3.example.com").check_endpoint().is_ok());
        assert!(cfg("http://127.0.0.1:9000").check_endpoint().is_ok());
        assert!(cfg("http://localhost:9000").check_endpoint().is_ok());
        assert!(cfg("http://[::1]:9000").check_endpoint().is_ok());
        assert!(cfg("http://s3.example.com").check_endpoint().is_err());
        assert!(cfg("ftp://x").check_endpoint().is_err());
    }

    #[test]
    fn a_copy_names_its_bucket_key_and_destination() {
        let c = cfg("https://s3.example.com");
        let at = c.copy_at("snaps/a.zip");
        assert_eq!(at, "s3://bk/snaps/a.zip#b2");
        assert_eq!(parse_at(&at), Some(("b2", "snaps/a.zip")));
        assert!(c.place().contains("bucket bk under snaps/"));
    }
}
