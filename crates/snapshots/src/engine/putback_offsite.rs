//! Putting back a copy kept in a bucket (an offsite destination), for when the one on this
//! computer is gone. The library says which copies of a resource's snapshots each bucket
//! holds ([`Engine::offsite_copies`]); one is fetched a piece at a time into a folder of its
//! own under the account's private `fetched/` (never whole in memory, never more than a put
//! back may send), checked as any copy is (opened with the account's key on the way when
//! sealed), put back through the commit route, and removed whatever happens. The window and
//! `sqsnap put-back --from-offsite` both come here.

use super::putback::{PutBack, PutBackOptions, SEAL_SLACK, TELL_EVERY};
use super::{Engine, EngineError, Event, EventSink, state_error};
use crate::accounts::AccountId;
use crate::download::Progress;
use crate::offsite::{self, OFFSITE, OffsiteError, Offsites, S3, S3Client};
use crate::seal;
use crate::secret::Keychain;
use chrono::{DateTime, Utc};
use serde::Serialize;
use squarecloud::ResourceKind;
use squarecloud::limits::UPLOAD_MAX_BYTES;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The folder of the account's state dir that fetched copies pass through.
pub const FETCHED: &str = "fetched";

/// A leftover in `fetched/` this old (a run that was killed) is removed by the next fetch.
const LEFTOVER: Duration = Duration::from_secs(24 * 3600);

/// A copy of one of a resource's snapshots kept in a bucket, as the library recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OffsiteCopy {
    /// The destination's name.
    pub destination: String,
    pub bucket: String,
    /// The object's key in the bucket.
    pub key: String,
    /// The snapshot's version, when the library knows it.
    pub version: Option<String>,
    pub taken_at: DateTime<Utc>,
    /// The zip's size (a sealed object is a few bytes larger).
    pub size: u64,
    /// Encrypted (`….zip.age`): opened with the account's key as it is put back.
    pub sealed: bool,
    /// The destination is still set up here. A removed one's copies stay in its bucket, but
    /// its secret left the keychain: they cannot be fetched from here.
    pub configured: bool,
    /// The local copy it is a second copy of (that file may be gone).
    pub local: PathBuf,
}

impl From<OffsiteError> for EngineError {
    fn from(e: OffsiteError) -> Self {
        match e {
            OffsiteError::Cancelled => EngineError::Cancelled,
            e => EngineError::Offsite {
                code: e.code(),
                message: e.to_string(),
            },
        }
    }
}

/// A fetched copy's own folder, removed with the copy when dropped: after the put back,
/// a failure, a stop or a panic alike.
struct Fetched {
    dir: PathBuf,
    file: PathBuf,
}

impl Fetched {
    /// A new folder under `root` for the object at `key`, named as its key ends.
    fn new(root: &Path, key: &str) -> Result<Self, EngineError> {
        crate::ownfile::ensure_private_dir(root).map_err(|e| state_error(root, e))?;
        sweep(root);
        let dir = root.join(format!("{:016x}", rand::random::<u64>()));
        crate::ownfile::ensure_private_dir(&dir).map_err(|e| state_error(&dir, e))?;
        let name = key
            .rsplit('/')
            .next()
            .filter(|n| !n.is_empty() && *n != "." && *n != "..")
            .unwrap_or("copy.zip");
        Ok(Self {
            file: dir.join(name),
            dir,
        })
    }
}

impl Drop for Fetched {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Removes what a killed run left in `root` (old enough that no run is still using it).
fn sweep(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > LEFTOVER);
        if old {
            let _ = std::fs::remove_dir_all(e.path());
            let _ = std::fs::remove_file(e.path());
        }
    }
}

impl Engine {
    /// The copies of `resource_id`'s snapshots that the library says are kept in buckets,
    /// newest first.
    pub fn offsite_copies(&self, resource_id: &str) -> Vec<OffsiteCopy> {
        let set_up: Offsites = self.state_dir().read(OFFSITE).unwrap_or_default();
        let mut out: Vec<OffsiteCopy> = self
            .library()
            .for_resource(resource_id)
            .into_iter()
            .flat_map(|e| {
                let set_up = &set_up;
                e.copies
                    .iter()
                    .filter(|c| c.kind == S3)
                    .filter_map(move |c| {
                        let (name, key) = offsite::parse_at(&c.at)?;
                        let bucket = c.at.strip_prefix("s3://")?.split('/').next()?;
                        Some(OffsiteCopy {
                            destination: name.to_string(),
                            bucket: bucket.to_string(),
                            key: key.to_string(),
                            version: e.version.clone(),
                            taken_at: e.taken_at,
                            size: e.size,
                            sealed: key.ends_with(".age"),
                            configured: set_up.get(name).is_some(),
                            local: e.path.clone(),
                        })
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        out.sort_by_key(|c| std::cmp::Reverse(c.taken_at));
        out
    }

    /// Fetches the copy at `key` in `destination` (one of [`Self::offsite_copies`]) and puts
    /// it back into application `resource_id` as [`Self::put_back`] does; the fetched file
    /// is removed whatever happens. `keychain` holds the destination's secret and, for a
    /// sealed copy, the account's key (read before anything is fetched: a copy this computer
    /// cannot open is not fetched). Events: `Fetching` as it arrives, `Fetched` once it is
    /// here and its check passed, then the put back's own.
    #[allow(clippy::too_many_arguments)]
    pub async fn put_back_from_offsite(
        &self,
        resource_id: &str,
        destination: &str,
        key: &str,
        keychain: &dyn Keychain,
        mut opts: PutBackOptions,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> Result<PutBack, EngineError> {
        let resource = self.resource(resource_id)?;
        if resource.kind == ResourceKind::Database {
            return Err(EngineError::PutBackDatabase {
                name: resource.name,
            });
        }
        let copy = self
            .offsite_copies(resource_id)
            .into_iter()
            .find(|c| c.destination == destination && c.key == key)
            .ok_or_else(|| EngineError::Offsite {
                code: "offsite_unknown",
                message: format!(
                    "{destination} holds no copy {key} of this application that this computer knows of. Nothing was fetched or put back; choose one of the copies listed for it."
                ),
            })?;
        let account = AccountId::new(self.me().user.id).map_err(EngineError::Config)?;
        if copy.sealed && opts.key.is_none() {
            opts.key = account_key(keychain, &account)?;
            if opts.key.is_none() {
                return Err(EngineError::PutBackNoKey {
                    path: PathBuf::from(&copy.key),
                });
            }
        }
        let client = offsite::open(self.state_dir(), keychain, &account, destination)?;
        let fetched = Fetched::new(&self.state_dir().path().join(FETCHED), &copy.key)?;
        fetch(&client, &copy, resource_id, &fetched.file, &events, cancel).await?;
        // Sealed by its content though its name does not say so.
        if opts.key.is_none() && seal::looks_sealed(&fetched.file).unwrap_or(false) {
            opts.key = account_key(keychain, &account)?;
        }
        let mut plan = self
            .check_put_back(resource_id, &fetched.file, opts.key.as_deref())
            .await?;
        plan.from = self
            .library()
            .entries
            .into_iter()
            .find(|e| e.path == copy.local);
        events(Event::Fetched {
            resource: resource_id.to_string(),
            size: plan.size,
        });
        let done = self.put_back_checked(plan, opts, events, cancel).await;
        drop(fetched);
        done
    }
}

/// The account's key from the keychain (`None`: this computer has none).
fn account_key(
    keychain: &dyn Keychain,
    account: &AccountId,
) -> Result<Option<Arc<seal::SealIdentity>>, EngineError> {
    seal::identity::stored(keychain, account)
        .map(|k| k.map(Arc::new))
        .map_err(|e| EngineError::Offsite {
            code: "keychain",
            message: format!(
                "The encryption key could not be read from the keychain ({e}). Nothing was fetched or put back; unlock the keychain, then try again."
            ),
        })
}

/// The object written to `out`, its progress told as `Fetching` events a few times a
/// second. A missing object and one too large to put back are said as such.
async fn fetch(
    client: &S3Client,
    copy: &OffsiteCopy,
    resource: &str,
    out: &Path,
    events: &EventSink,
    cancel: &CancellationToken,
) -> Result<(), EngineError> {
    let max = UPLOAD_MAX_BYTES + if copy.sealed { SEAL_SLACK } else { 0 };
    let start = Instant::now();
    let last = Mutex::new(None::<Instant>);
    let tell = |bytes: u64, total: Option<u64>| {
        let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
        let end = total == Some(bytes);
        if !end && last.is_some_and(|t| t.elapsed() < TELL_EVERY) {
            return;
        }
        *last = Some(Instant::now());
        let rate = bytes as f64 / start.elapsed().as_secs_f64().max(1e-3);
        events(Event::Fetching {
            resource: resource.to_string(),
            destination: copy.destination.clone(),
            bucket: copy.bucket.clone(),
            progress: Progress {
                bytes,
                total,
                bytes_per_sec: rate,
                eta_secs: total
                    .filter(|_| rate > 0.0)
                    .map(|t| t.saturating_sub(bytes) as f64 / rate),
            },
        });
    };
    match client.get_to(&copy.key, out, max, cancel, &tell).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(EngineError::Offsite {
            code: "offsite_missing",
            message: format!(
                "{} is not in bucket {} of {} any more. Nothing was put back; choose another copy.",
                copy.key, copy.bucket, copy.destination
            ),
        }),
        Err(OffsiteError::TooLarge { size, .. }) => Err(EngineError::PutBackTooLarge {
            path: PathBuf::from(&copy.key),
            size,
            max: UPLOAD_MAX_BYTES,
        }),
        Err(e) => Err(e.into()),
    }
}
