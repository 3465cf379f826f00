//! Uploading one file to a bucket: a single PUT under a threshold, multipart above it,
//! resumable across a kill. The upload id and each part's ETag and SHA-256 are recorded in
//! the account's state dir (`offsite-uploads.json`) as the parts land; a later run asks the
//! server which parts it holds and sends only the others. An upload older than [`STALE`]
//! is aborted and started over; a cancel or a refusal aborts it, so no parts are left
//! behind. After the upload the object is checked: its size, and the SHA-256 the server
//! computed (full-object for a PUT, the composite of the parts for a multipart upload)
//! where the server says it; each part's SHA-256 was checked by the server on arrival.

use super::client::{Feed, S3Client, b64, b64_sha256};
use super::{OffsiteError, S3};
use crate::destination::Copy;
use crate::statedir::StateDir;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use std::collections::BTreeMap;
use std::path::Path;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::sync::CancellationToken;

/// The journal of multipart uploads in flight, in the account's state dir.
pub const JOURNAL: &str = "offsite-uploads.json";

/// An upload not finished within a day is aborted and started over.
pub const STALE: chrono::Duration = chrono::Duration::hours(24);

/// S3's most parts in one upload.
const MAX_PARTS: u64 = 10_000;

/// How a file is sent.
#[derive(Debug, Clone)]
pub struct UploadOptions {
    /// Files up to this size go in one PUT.
    pub single_limit: u64,
    /// The smallest part (S3 wants ≥ 5 MiB for all parts but the last); grown so a file
    /// fits in 10,000 parts.
    pub part_size: u64,
    /// The rate limit downloads use (`--limit-rate`, the app's setting): shared, so an
    /// upload and a download together stay under it.
    pub rate: Option<std::sync::Arc<crate::download::RateLimit>>,
}

impl Default for UploadOptions {
    fn default() -> Self {
        Self {
            single_limit: 16 << 20,
            part_size: 16 << 20,
            rate: None,
        }
    }
}

/// Progress is told at most this often while a body is being sent.
const TELL_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

impl UploadOptions {
    /// A feed for one body under the shared limit.
    fn feed(&self) -> Feed {
        Feed {
            rate: self.rate.clone(),
            ..Feed::default()
        }
    }
}

/// Runs one request that sends a fed body, telling `progress` how far it is (`base` bytes
/// were on the server before it) a few times a second; stopped by `cancel`.
async fn fed<T>(
    request: impl std::future::Future<Output = Result<T, OffsiteError>>,
    feed: &Feed,
    (base, total): (u64, u64),
    cancel: &CancellationToken,
    progress: Progress<'_>,
) -> Result<T, OffsiteError> {
    tokio::pin!(request);
    let mut tick = tokio::time::interval(TELL_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            r = &mut request => return r,
            _ = tick.tick() => {
                progress(base + feed.sent.load(std::sync::atomic::Ordering::SeqCst), total);
            }
            () = cancel.cancelled() => return Err(OffsiteError::Cancelled),
        }
    }
}

impl UploadOptions {
    /// The part size for a file of `size` bytes: at least `part_size`, in whole MiB, and
    /// large enough for 10,000 parts to hold the file.
    pub fn part_size_for(&self, size: u64) -> u64 {
        let need = size.div_ceil(MAX_PARTS);
        let mib = 1 << 20;
        self.part_size.max(need.div_ceil(mib) * mib)
    }
}

/// One part that landed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DonePart {
    pub number: u32,
    pub etag: String,
    /// Base64 SHA-256 of the part, as sent in `x-amz-checksum-sha256`.
    pub sha256: String,
}

/// A multipart upload in flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub upload_id: String,
    pub size: u64,
    pub part_size: u64,
    pub started_at: DateTime<Utc>,
    pub parts: Vec<DonePart>,
}

/// The uploads in flight, by `destination#key`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    pub uploads: BTreeMap<String, Pending>,
}

/// Progress: bytes sent so far, of the total.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Send + Sync);

/// Uploads `file` as `name` (under the destination's prefix), checks it, and returns the
/// copy to record. The local file is only read.
pub async fn upload_file(
    client: &S3Client,
    state: &StateDir,
    file: &Path,
    name: &str,
    opts: UploadOptions,
    cancel: &CancellationToken,
    progress: Progress<'_>,
) -> Result<Copy, OffsiteError> {
    let key = client.key(name);
    let size = tokio::fs::metadata(file).await?.len();
    if size <= opts.single_limit {
        let body = tokio::fs::read(file).await?;
        if cancel.is_cancelled() {
            return Err(OffsiteError::Cancelled);
        }
        let sum = b64_sha256(&body);
        let feed = opts.feed();
        let put = client.put_fed(&key, body.into(), Some(&feed));
        fed(put, &feed, (0, size), cancel, progress).await?;
        verify(client, &key, size, Some(&sum)).await?;
        progress(size, size);
    } else {
        multipart(client, state, file, &key, size, &opts, cancel, progress).await?;
    }
    Ok(Copy {
        kind: S3.into(),
        at: client.config().copy_at(&key),
    })
}

/// HEAD the object: its size must be `size`, and its SHA-256 (when the server says it)
/// must be `sha256`. A mismatch deletes the object so it is never taken for a good copy.
async fn verify(
    client: &S3Client,
    key: &str,
    size: u64,
    sha256: Option<&str>,
) -> Result<(), OffsiteError> {
    let head = client
        .head(key)
        .await?
        .ok_or_else(|| OffsiteError::Mismatch("the object is not there after the upload".into()))?;
    let mut wrong = None;
    if head.size != size {
        wrong = Some(format!("{} bytes there, {size} here", head.size));
    } else if let (Some(theirs), Some(ours)) = (head.sha256.as_deref(), sha256)
        && theirs != ours
    {
        wrong = Some(format!("SHA-256 {theirs} there, {ours} here"));
    }
    if let Some(w) = wrong {
        let _ = client.delete(key).await;
        return Err(OffsiteError::Mismatch(w));
    }
    Ok(())
}

fn journal_key(client: &S3Client, key: &str) -> String {
    format!("{}#{key}", client.config().name)
}

/// Finds the upload to continue, or starts one: a recorded upload that is fresh, for the
/// same size, and still on the server keeps the parts the server holds; a stale one is
/// aborted.
async fn resume_or_start(
    client: &S3Client,
    state: &StateDir,
    key: &str,
    size: u64,
    part_size: u64,
) -> Result<Pending, OffsiteError> {
    let jkey = journal_key(client, key);
    let recorded = state.read::<Journal>(JOURNAL)?.uploads.get(&jkey).cloned();
    if let Some(mut p) = recorded {
        let fresh = Utc::now() - p.started_at < STALE;
        if fresh && p.size == size && p.part_size == part_size {
            match client.list_parts(key, &p.upload_id).await {
                Ok(held) => {
                    // A part counts when the server holds it whole (and, where it lists
                    // ETags, the one recorded); any other is sent again.
                    let q = p.clone();
                    p.parts.retain(|d| {
                        held.iter().any(|h| {
                            h.number == d.number
                                && h.size == part_len(&q, d.number)
                                && h.etag.as_ref().is_none_or(|e| e == &d.etag)
                        })
                    });
                    return Ok(p);
                }
                Err(OffsiteError::NoSuchUpload) | Err(OffsiteError::NotFound) => {}
                Err(e) => return Err(e),
            }
        } else {
            client.abort(key, &p.upload_id).await?;
        }
        forget(state, &jkey)?;
    }
    let upload_id = client.create_multipart(key).await?;
    let p = Pending {
        upload_id,
        size,
        part_size,
        started_at: Utc::now(),
        parts: Vec::new(),
    };
    state.update(JOURNAL, |j: &mut Journal| {
        j.uploads.insert(jkey, p.clone());
    })?;
    Ok(p)
}

/// Aborts every upload in flight to this destination (it is being removed): no parts are
/// left in its bucket. Returns how many were aborted.
pub async fn abandon_all(client: &S3Client, state: &StateDir) -> Result<usize, OffsiteError> {
    let prefix = format!("{}#", client.config().name);
    let pending: Vec<(String, Pending)> = state
        .read::<Journal>(JOURNAL)?
        .uploads
        .into_iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .collect();
    for (jkey, p) in &pending {
        client.abort(&jkey[prefix.len()..], &p.upload_id).await?;
        forget(state, jkey)?;
    }
    Ok(pending.len())
}

fn forget(state: &StateDir, jkey: &str) -> std::io::Result<()> {
    state.update(JOURNAL, |j: &mut Journal| {
        j.uploads.remove(jkey);
    })
}

#[allow(clippy::too_many_arguments)]
async fn multipart(
    client: &S3Client,
    state: &StateDir,
    file: &Path,
    key: &str,
    size: u64,
    opts: &UploadOptions,
    cancel: &CancellationToken,
    progress: Progress<'_>,
) -> Result<(), OffsiteError> {
    let part_size = opts.part_size_for(size);
    let mut p = resume_or_start(client, state, key, size, part_size).await?;
    let jkey = journal_key(client, key);
    let sent = send_parts(
        client, state, file, key, &jkey, &mut p, opts, cancel, progress,
    )
    .await;
    let done = match sent {
        Ok(()) => finish(client, key, &p).await,
        Err(e) => Err(e),
    };
    match done {
        Ok(()) => {
            forget(state, &jkey)?;
            Ok(())
        }
        // A cut connection or a busy server: the parts stay for the next run to resume
        // (and a stale one is aborted then).
        Err(e) if e.retryable() => Err(e),
        Err(e) => {
            // Cancelled or refused: leave nothing behind on the server.
            let _ = client.abort(key, &p.upload_id).await;
            forget(state, &jkey)?;
            Err(e)
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn send_parts(
    client: &S3Client,
    state: &StateDir,
    file: &Path,
    key: &str,
    jkey: &str,
    p: &mut Pending,
    opts: &UploadOptions,
    cancel: &CancellationToken,
    progress: Progress<'_>,
) -> Result<(), OffsiteError> {
    let count = p.size.div_ceil(p.part_size) as u32;
    let mut f = tokio::fs::File::open(file).await?;
    let mut on_server: u64 = p.parts.iter().map(|d| part_len(p, d.number)).sum();
    progress(on_server, p.size);
    for number in 1..=count {
        if p.parts.iter().any(|d| d.number == number) {
            continue;
        }
        if cancel.is_cancelled() {
            return Err(OffsiteError::Cancelled);
        }
        let len = part_len(p, number);
        f.seek(std::io::SeekFrom::Start(
            u64::from(number - 1) * p.part_size,
        ))
        .await?;
        let mut buf = vec![0u8; len as usize];
        f.read_exact(&mut buf).await?;
        let sum = b64_sha256(&buf);
        let feed = opts.feed();
        let part = client.upload_part(key, &p.upload_id, number, buf.into(), &sum, Some(&feed));
        let etag = fed(part, &feed, (on_server, p.size), cancel, progress).await?;
        let done = DonePart {
            number,
            etag,
            sha256: sum,
        };
        p.parts.push(done.clone());
        state.update(JOURNAL, |j: &mut Journal| {
            if let Some(x) = j.uploads.get_mut(jkey) {
                x.parts.retain(|d| d.number != number);
                x.parts.push(done);
            }
        })?;
        on_server += len;
        progress(on_server, p.size);
    }
    Ok(())
}

fn part_len(p: &Pending, number: u32) -> u64 {
    let start = u64::from(number - 1) * p.part_size;
    p.part_size.min(p.size.saturating_sub(start))
}

/// Completes the upload and checks the object: its size, and the composite SHA-256 of the
/// parts where the server says it (`<base64>-<N>`).
async fn finish(client: &S3Client, key: &str, p: &Pending) -> Result<(), OffsiteError> {
    let mut parts = p.parts.clone();
    parts.sort_by_key(|d| d.number);
    let list: Vec<(u32, String, String)> = parts
        .iter()
        .map(|d| (d.number, d.etag.clone(), d.sha256.clone()))
        .collect();
    client.complete(key, &p.upload_id, &list).await?;
    let composite = composite_sha256(&parts);
    let head = client.head(key).await?;
    let theirs = head.as_ref().and_then(|h| h.sha256.clone());
    // A composite (`…-N`) is compared; a server that states none, or a full-object sum it
    // computed itself, is held to the size (each part's SHA-256 was checked on arrival).
    let expect = theirs.filter(|t| t.contains('-')).map(|_| composite);
    verify(client, key, p.size, expect.as_deref()).await
}

/// S3's checksum of a multipart object: SHA-256 of the parts' SHA-256s, then `-N`.
pub fn composite_sha256(parts: &[DonePart]) -> String {
    use base64::Engine as _;
    let mut h = sha2::Sha256::new();
    for d in parts {
        if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(&d.sha256) {
            h.update(raw);
        }
    }
    format!("{}-{}", b64(&h.finalize()), parts.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_fit_in_ten_thousand() {
        let o = UploadOptions::default();
        assert_eq!(o.part_size_for(100 << 20), 16 << 20);
        let big = 1u64 << 40; // 1 TiB
        let ps = o.part_size_for(big);
        assert!(big.div_ceil(ps) <= MAX_PARTS);
        assert_eq!(ps % (1 << 20), 0);
    }
}
