//! Streams a snapshot to `<dir>/<name>.part`, resumes with `Range`, checks the archive and
//! renames it into place. Memory use is one chunk, whatever the size.

use crate::segmented::{Outcome, remove_sidecar, sidecar_path};
use crate::settings::{FolderError, validate_folder};
use crate::verify::{Verified, VerifyError, verify_zip};
use futures_util::StreamExt;
use rand::Rng;
use reqwest::{StatusCode, header};
use serde::Serialize;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

/// Cumulative progress, reported a few times a second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Progress {
    pub bytes: u64,
    pub total: Option<u64>,
    pub bytes_per_sec: f64,
    pub eta_secs: Option<f64>,
}

/// What to fetch and where.
#[derive(Debug, Clone)]
pub struct DownloadTarget {
    pub url: String,
    pub dir: PathBuf,
    pub file_name: String,
    /// The size the list reported, when known.
    pub expected_size: Option<u64>,
    /// Without an expected size, the most that may arrive: past it the download stops and
    /// its `.part` is deleted.
    pub max_size: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Downloaded {
    pub path: PathBuf,
    pub size: u64,
    pub verified: Verified,
    /// Bytes that were already on disk in a `.part` from an earlier attempt.
    pub resumed_from: u64,
    /// The file was already there, complete; nothing was fetched.
    pub already_present: bool,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum DownloadError {
    #[error(transparent)]
    Folder(#[from] FolderError),
    #[error(
        "Could not write {path}: the disk is full. Free some space and try again: the {bytes} bytes already downloaded are kept and the download will resume."
    )]
    DiskFull { path: PathBuf, bytes: u64 },
    #[error(
        "{dir} has no room for this snapshot ({}). Nothing was downloaded and nothing was left there. Free some space or choose a folder on another disk, then try again.",
        size_text(*needed)
    )]
    NoRoom { dir: PathBuf, needed: u64 },
    #[error("Could not write {path}: {detail}. Nothing was saved under the final name.")]
    Disk { path: PathBuf, detail: String },
    #[error(
        "Cancelled. The {bytes} bytes already downloaded are kept in {part} and the next download of this snapshot resumes from there."
    )]
    Cancelled { part: PathBuf, bytes: u64 },
    #[error(
        "The download kept failing ({detail}) after {attempts} attempts. What was downloaded is kept and the next try resumes."
    )]
    Network { detail: String, attempts: u32 },
    #[error("The snapshot host refused the download (HTTP {status}): {detail}")]
    Rejected { status: u16, detail: String },
    #[error(
        "The snapshot host answered with a web page ({content_type}) instead of the archive: a network's sign-in page or a proxy may be in the way. Nothing was saved; check the connection and try again."
    )]
    WebPage { content_type: String },
    #[error("The downloaded file failed its integrity check ({0}). It was deleted; try again.")]
    Verify(#[from] VerifyError),
    #[error(
        "The computer restarted during this download, and part of what had been downloaded before did not reach the disk: the file failed its integrity check ({0}). It was deleted; the next try downloads it again from the start."
    )]
    LostInRestart(VerifyError),
    #[error(
        "The snapshot host sent {got} bytes where Square Cloud's list promised {promised}. The file was not kept; try again."
    )]
    WrongLength { promised: u64, got: u64 },
    #[error(
        "{0}. Square Snapshots did not make that file, and writing to it could send the backup somewhere else. The folder was left as it was: remove that file, or choose a folder only you can write to, then try again."
    )]
    Foreign(crate::ownfile::Foreign),
    #[error(
        "The snapshot host kept sending past {} without saying how large the file is, far more than this resource's snapshots have weighed so far. The download was stopped and the partial file deleted, so the folder is as it was. The snapshot is still on Square Cloud: Download latest fetches it with the size Square Cloud lists.",
        size_text(*limit)
    )]
    Oversize { limit: u64 },
    #[error(
        "Refusing to download over plain HTTP from {0}: only https, or http on this computer, is allowed."
    )]
    Insecure(String),
}

impl DownloadError {
    /// A short stable code the UI and the CLI branch on.
    pub fn code(&self) -> &'static str {
        match self {
            DownloadError::Folder(_) | DownloadError::Foreign(_) => "folder",
            DownloadError::DiskFull { .. }
            | DownloadError::NoRoom { .. }
            | DownloadError::Disk { .. } => "disk",
            DownloadError::Cancelled { .. } => "cancelled",
            DownloadError::Network { .. } => "network",
            DownloadError::Rejected { .. }
            | DownloadError::WebPage { .. }
            | DownloadError::Oversize { .. } => "rejected",
            DownloadError::Verify(_)
            | DownloadError::LostInRestart(_)
            | DownloadError::WrongLength { .. } => "verify",
            DownloadError::Insecure(_) => "insecure",
        }
    }
}

/// The download engine. Holds its own HTTP client with no total timeout (files are large),
/// a connect timeout, a read-idle timeout and a throughput floor: a connection that drips
/// slower than the floor over a whole window is treated as stalled and resumed.
#[derive(Debug, Clone)]
pub struct Downloader {
    pub(crate) http: reqwest::Client,
    pub(crate) read_idle: Duration,
    pub(crate) max_failures: u32,
    backoff: Duration,
    pub(crate) floor_bytes_per_sec: u64,
    pub(crate) floor_window: Duration,
    /// Most connections for one snapshot (1: a single stream).
    pub(crate) connections: usize,
    /// Snapshots smaller than this use one stream.
    split_min: u64,
    /// A total rate shared by every connection holding it.
    pub(crate) limit: Option<Arc<RateLimit>>,
}

pub use crate::segmented::RateLimit;
pub use crate::settings::{DEFAULT_CONNECTIONS, MAX_CONNECTIONS};
/// The size from which a snapshot is split over several connections.
pub const SPLIT_MIN: u64 = 32 * 1024 * 1024;

/// Error bodies from the file host are read up to this much, and for this long at most.
const ERROR_BODY_CAP: usize = 64 * 1024;
const ERROR_BODY_TIME: Duration = Duration::from_secs(10);

impl Downloader {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .user_agent(squarecloud::USER_AGENT)
            .connect_timeout(Duration::from_secs(15))
            .redirect(squarecloud::redirect_policy())
            .build()
            .expect("an HTTP client with default TLS settings");
        Self {
            http,
            read_idle: Duration::from_secs(30),
            max_failures: 6,
            backoff: Duration::from_millis(500),
            floor_bytes_per_sec: 1024,
            floor_window: Duration::from_secs(60),
            connections: DEFAULT_CONNECTIONS,
            split_min: SPLIT_MIN,
            limit: None,
        }
    }

    /// Up to `n` connections (1 to 8) per snapshot of `split_min` bytes or more.
    pub fn with_connections(mut self, n: usize, split_min: u64) -> Self {
        self.connections = n.clamp(1, MAX_CONNECTIONS);
        self.split_min = split_min;
        self
    }

    /// Up to `n` connections (1 to 8) per large snapshot.
    pub fn with_connection_count(mut self, n: usize) -> Self {
        self.connections = n.clamp(1, MAX_CONNECTIONS);
        self
    }

    /// A total rate for every download made through this downloader and its clones.
    pub fn with_limit(mut self, limit: Option<Arc<RateLimit>>) -> Self {
        self.limit = limit;
        self
    }

    /// Below `bytes_per_sec` over a whole `window`, a connection counts as stalled.
    pub fn with_floor(mut self, bytes_per_sec: u64, window: Duration) -> Self {
        self.floor_bytes_per_sec = bytes_per_sec;
        self.floor_window = window;
        self
    }

    /// How long a connection may stay silent before it is dropped and resumed.
    pub fn with_read_idle(mut self, d: Duration) -> Self {
        self.read_idle = d;
        self
    }

    /// Consecutive failures (without progress) before giving up, and the first backoff.
    pub fn with_retries(mut self, max_failures: u32, backoff: Duration) -> Self {
        self.max_failures = max_failures;
        self.backoff = backoff;
        self
    }

    /// Sends a request; no answer within the read-idle time is a failure too. The error is
    /// the cause in words.
    pub(crate) async fn send(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, String> {
        match tokio::time::timeout(self.read_idle, req.send()).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(describe(e)),
            Err(_) => Err("no answer in time".into()),
        }
    }

    /// Exponential, jittered, at most a minute.
    pub(crate) fn backoff_for(&self, failures: u32) -> Duration {
        let base = self.backoff.as_secs_f64() * 2f64.powi(failures.saturating_sub(1).min(6) as i32);
        let jitter = rand::rng().random_range(0.5..1.5);
        Duration::from_secs_f64((base * jitter).min(60.0))
    }

    async fn pause(&self, failures: u32, cancel: &CancellationToken) {
        let d = self.backoff_for(failures);
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = cancel.cancelled() => {}
        }
    }

    /// Downloads `target`. `refresh` is asked for a fresh URL when the host rejects the one
    /// we have (expired signature); it must not spend quota (the list endpoint does not).
    pub async fn fetch<F, Fut>(
        &self,
        target: &DownloadTarget,
        mut refresh: F,
        on_progress: &mut (dyn FnMut(Progress) + Send),
        cancel: &CancellationToken,
        full_verify: bool,
    ) -> Result<Downloaded, DownloadError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<String>>,
    {
        let dir = validate_folder(&target.dir)?;
        let final_path = dir.join(&target.file_name);
        if let Ok(meta) = std::fs::metadata(&final_path)
            && target.expected_size.is_none_or(|s| s == meta.len())
        {
            // Same name = same resource and snapshot time: it may be here already. A damaged
            // file under that name is left as it is (it may not be ours), and the download
            // goes to a new name beside it.
            let p = final_path.clone();
            let full = full_verify;
            let check = tokio::task::spawn_blocking(move || verify_zip(&p, None, full))
                .await
                .map_err(|e| VerifyError::Io(e.to_string()))?;
            if let Ok(verified) = check {
                return Ok(Downloaded {
                    path: final_path,
                    size: meta.len(),
                    verified,
                    resumed_from: 0,
                    already_present: true,
                });
            }
        }
        let part = dir.join(format!("{}.part", target.file_name));
        let side = sidecar_path(&part);
        let mut url = target.url.clone();
        let mut etag: Option<String> = None;
        let mut total: Option<u64> = target.expected_size;
        let mut failures = 0u32;
        let mut refreshes = UrlRefreshes::default();
        let mut resumed_from = file_len(&part);
        // The furthest the file has got: an attempt that only gets back there (a host that
        // restarts from 0 and cuts at the same place) is not progress, so it cannot loop.
        let mut furthest = resumed_from;

        // Large snapshots go over several ranged connections when the host allows it.
        let mut segmented = false;
        // Resumed from ranges recorded before the system restarted.
        let mut after_restart = false;
        if let Some(size) = target.expected_size
            && self.connections > 1
            && (size >= self.split_min || std::fs::symlink_metadata(&side).is_ok())
        {
            resumed_from = crate::segmented::read_sidecar(&side)?
                .map(|s| s.done_bytes())
                .unwrap_or(resumed_from);
            match self
                .fetch_segmented(
                    &mut url,
                    &mut refresh,
                    &part,
                    &target.file_name,
                    size,
                    on_progress,
                    cancel,
                )
                .await?
            {
                Outcome::Done { check_all } => {
                    segmented = true;
                    after_restart = check_all;
                }
                Outcome::NoRanges => {
                    // One stream from the start: the preallocated file says nothing of progress.
                    if std::fs::symlink_metadata(&side).is_ok() {
                        truncate(&part)?;
                        remove_sidecar(&side);
                    }
                    resumed_from = file_len(&part);
                }
            }
        } else if std::fs::symlink_metadata(&side).is_ok() {
            truncate(&part)?;
            remove_sidecar(&side);
            resumed_from = 0;
        }
        // A single stream's `.part` left by an earlier run: after a crash or a power cut its
        // length may have reached the disk before all of its bytes did (a file system that
        // journals metadata only), so the archive it completes is checked whole.
        let from_earlier_run = !segmented && resumed_from > 0;
        // This run appended one answer to another's bytes. The host's first answer may not
        // have been the file at all (a 200 of a few bytes of something else, then cut), and
        // the usual check (the length and the central directory, at the end) says nothing
        // of the start: such a file is checked whole.
        let mut spliced = false;
        let mut meter = Meter::new(resumed_from);

        // One stream (a small file, one connection, or a host without ranges).
        loop {
            if segmented {
                break;
            }
            squarecloud::check_url(&url).map_err(|e| DownloadError::Insecure(e.0))?;
            if cancel.is_cancelled() {
                return Err(DownloadError::Cancelled {
                    bytes: file_len(&part),
                    part,
                });
            }
            let offset = file_len(&part);
            if total.is_some_and(|t| t == offset && t > 0) {
                break;
            }
            let mut req = self.http.get(&url);
            if offset > 0 {
                req = req.header(header::RANGE, format!("bytes={offset}-"));
                if let Some(tag) = &etag {
                    req = req.header(header::IF_RANGE, tag);
                }
            }
            let sent = tokio::select! {
                r = self.send(req) => r,
                _ = cancel.cancelled() => continue,
            };
            let resp = match sent {
                Ok(r) => r,
                Err(detail) => {
                    failures += 1;
                    self.give_up_or_wait(failures, &detail, cancel).await?;
                    continue;
                }
            };
            let status = resp.status();
            if status.is_success()
                && let Some(ct) = resp
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                && ct
                    .trim_start()
                    .to_ascii_lowercase()
                    .starts_with("text/html")
            {
                return Err(DownloadError::WebPage {
                    content_type: ct.chars().take(60).collect(),
                });
            }
            let mut start = 0u64;
            match status {
                StatusCode::OK => {
                    // Square Cloud's list promised a size: a shorter body is a cut, resumed
                    // below, not the whole file. Without a promise, this answer's length.
                    total = target.expected_size.or(resp.content_length()).or(total);
                }
                StatusCode::PARTIAL_CONTENT => {
                    match parse_content_range(resp.headers().get(header::CONTENT_RANGE)) {
                        Some((s, t)) if s == offset => {
                            start = s;
                            spliced |= s > 0;
                            total = t.or(total);
                        }
                        got => {
                            // A range we did not ask for: start over rather than splice. A
                            // host that keeps doing it spends the attempts like any failure.
                            truncate(&part)?;
                            etag = None;
                            failures += 1;
                            let detail = match got {
                                Some((s, _)) => format!(
                                    "the host sent bytes from {s} when asked for {offset} onwards"
                                ),
                                None => "the host sent a part without saying which".into(),
                            };
                            self.give_up_or_wait(failures, &detail, cancel).await?;
                            continue;
                        }
                    }
                }
                StatusCode::RANGE_NOT_SATISFIABLE => {
                    let server_len =
                        parse_unsatisfied_len(resp.headers().get(header::CONTENT_RANGE));
                    if server_len.is_some_and(|l| l == offset) {
                        total = server_len;
                        break;
                    }
                    truncate(&part)?;
                    failures += 1;
                    self.give_up_or_wait(
                        failures,
                        "the host refused the range it was asked for (HTTP 416)",
                        cancel,
                    )
                    .await?;
                    continue;
                }
                s if url_refused(s) => {
                    let detail = s3_message(resp).await;
                    if let Some(fresh) = refreshes.fresh(&mut refresh).await {
                        url = fresh;
                        continue;
                    }
                    return Err(DownloadError::Rejected {
                        status: s.as_u16(),
                        detail,
                    });
                }
                s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
                    failures += 1;
                    self.give_up_or_wait(failures, &format!("HTTP {}", s.as_u16()), cancel)
                        .await?;
                    continue;
                }
                s => {
                    let detail = s3_message(resp).await;
                    return Err(DownloadError::Rejected {
                        status: s.as_u16(),
                        detail,
                    });
                }
            }
            if let Some(tag) = resp
                .headers()
                .get(header::ETAG)
                .and_then(|v| v.to_str().ok())
            {
                etag = Some(tag.to_string());
            }
            // A size said up front past the bound: refused before anything is written.
            if let Some(limit) = target.max_size
                && total.is_some_and(|t| t > limit)
            {
                crate::ownfile::remove_own(&part);
                remove_sidecar(&side);
                return Err(DownloadError::Oversize { limit });
            }
            // 200 means the whole file: begin again even if a .part existed.
            let (mut file, second) = open_part(&part, start == 0)?;
            let mut written = start;
            meter.reset_to(written);
            let mut stream = resp.bytes_stream();
            let mut floor = Floor::new(written, self.floor_bytes_per_sec, self.floor_window);
            let writeback = crate::writeback::Writeback::new(second, written);
            let outcome: Result<(), String> = loop {
                let next = tokio::select! {
                    n = tokio::time::timeout(self.read_idle, stream.next()) => n,
                    _ = cancel.cancelled() => break Err("cancelled".into()),
                };
                match next {
                    Ok(Some(Ok(chunk))) => {
                        if let Some(limit) = &self.limit {
                            limit.take(chunk.len()).await;
                        }
                        if let Some(limit) = target.max_size
                            && written + chunk.len() as u64 > limit
                        {
                            drop(file);
                            crate::ownfile::remove_own(&part);
                            remove_sidecar(&side);
                            return Err(DownloadError::Oversize { limit });
                        }
                        if let Err(e) = file.write_all(&chunk).await {
                            let _ = file.flush().await;
                            return Err(disk_error(&part, e, written));
                        }
                        written += chunk.len() as u64;
                        writeback.landed(written);
                        if let Some(p) = meter.tick(written, total) {
                            on_progress(p);
                        }
                    }
                    Ok(Some(Err(e))) => break Err(describe(e)),
                    Ok(None) => break Ok(()),
                    Err(_) => break Err("the connection went silent".into()),
                }
                if floor.too_slow(written) {
                    break Err("the connection slowed to a drip".into());
                }
            };
            if let Err(e) = file.flush().await.and(file.sync_all().await) {
                return Err(disk_error(&part, e, written));
            }
            drop(file);
            if written > furthest {
                furthest = written;
                failures = 0;
            }
            match outcome {
                Ok(()) if total.is_none_or(|t| written >= t) => {
                    total = Some(written);
                    on_progress(meter.force(written, total));
                    break;
                }
                Ok(()) => {
                    failures += 1;
                    self.give_up_or_wait(failures, "the connection closed early", cancel)
                        .await?;
                }
                Err(_) if cancel.is_cancelled() => {
                    return Err(DownloadError::Cancelled {
                        bytes: written,
                        part,
                    });
                }
                Err(detail) => {
                    failures += 1;
                    self.give_up_or_wait(failures, &detail, cancel).await?;
                }
            }
        }

        // The list's size is what Square Cloud promised: the host must have sent exactly that.
        if let (Some(promised), got) = (target.expected_size, file_len(&part))
            && promised != got
        {
            crate::ownfile::remove_own(&part);
            remove_sidecar(&side);
            return Err(DownloadError::WrongLength { promised, got });
        }
        let check = part.clone();
        let expected = target.expected_size.or(total);
        let full = full_verify || after_restart || from_earlier_run || spliced;
        let verified = tokio::task::spawn_blocking(move || verify_zip(&check, expected, full))
            .await
            .map_err(|e| VerifyError::Io(e.to_string()))?;
        let verified = match verified {
            Ok(v) => v,
            Err(e) => {
                crate::ownfile::remove_own(&part);
                remove_sidecar(&side);
                return Err(if after_restart {
                    DownloadError::LostInRestart(e)
                } else {
                    e.into()
                });
            }
        };
        let dest = rename_into_place(&part, &final_path, &dir)?;
        remove_sidecar(&side);
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(Downloaded {
            size: verified.size,
            path: dest,
            verified,
            resumed_from,
            already_present: false,
        })
    }

    pub(crate) async fn give_up_or_wait(
        &self,
        failures: u32,
        detail: &str,
        cancel: &CancellationToken,
    ) -> Result<(), DownloadError> {
        if failures >= self.max_failures {
            return Err(DownloadError::Network {
                detail: detail.to_string(),
                attempts: failures,
            });
        }
        // Cancelled while waiting: the caller's loop sees the token and reports it.
        self.pause(failures, cancel).await;
        Ok(())
    }
}

impl Default for Downloader {
    fn default() -> Self {
        Self::new()
    }
}

/// A transfer error in words, with its causes ("error following redirect: refusing
/// http://…"), without the URL (it carries a signature).
pub(crate) fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// A size as people read it: "40.0 MiB".
pub(crate) fn size_text(n: u64) -> String {
    size_in(n, &["bytes", "KiB", "MiB", "GiB", "TiB"])
}

/// `n` bytes in the largest of `units` (each 1024 times the one before) that keeps the
/// figure at 1 or more, with one decimal; whole bytes in the first.
pub fn size_in(n: u64, units: &[&str; 5]) -> String {
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < units.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} {}", units[0])
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// The length of `p` itself: a link planted there is not followed (its own length is
/// tiny; opening it for the resume then refuses it).
fn file_len(p: &Path) -> u64 {
    std::fs::symlink_metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// Deletes our `.part` to start over; one that is not ours is refused, and stays.
fn truncate(p: &Path) -> Result<(), DownloadError> {
    if std::fs::symlink_metadata(p).is_err() {
        return Ok(());
    }
    drop(
        crate::ownfile::open_own(p, crate::ownfile::Access::Read)
            .map_err(|e| disk_error(p, e, 0))?,
    );
    match std::fs::remove_file(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(DownloadError::Disk {
            path: p.into(),
            detail: e.to_string(),
        }),
    }
}

/// The `.part` to write, created private, or ours from before (never a planted link or
/// another user's file): emptied when `fresh`, else appended to. Also a second handle on
/// it for the write-back.
fn open_part(
    p: &Path,
    fresh: bool,
) -> Result<(tokio::fs::File, Option<std::fs::File>), DownloadError> {
    use crate::ownfile::{Access, open_or_create};
    let opened = if fresh {
        open_or_create(p, Access::Write).and_then(|f| f.set_len(0).map(|()| f))
    } else {
        open_or_create(p, Access::Append)
    };
    let f = opened.map_err(|e| disk_error(p, e, 0))?;
    let second = f.try_clone().ok();
    Ok((tokio::fs::File::from_std(f), second))
}

pub(crate) fn disk_error(p: &Path, e: std::io::Error, bytes: u64) -> DownloadError {
    if let Some(f) = crate::ownfile::Foreign::of(&e) {
        DownloadError::Foreign(f.clone())
    } else if e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error() == Some(28) {
        DownloadError::DiskFull {
            path: p.into(),
            bytes,
        }
    } else if e.kind() == std::io::ErrorKind::NotFound {
        DownloadError::Folder(FolderError::Missing(p.parent().unwrap_or(p).into()))
    } else {
        DownloadError::Disk {
            path: p.into(),
            detail: e.to_string(),
        }
    }
}

pub(crate) fn parse_content_range(v: Option<&header::HeaderValue>) -> Option<(u64, Option<u64>)> {
    let s = v?.to_str().ok()?.strip_prefix("bytes ")?;
    let (range, total) = s.split_once('/')?;
    let (start, _) = range.split_once('-')?;
    Some((start.trim().parse().ok()?, total.trim().parse().ok()))
}

fn parse_unsatisfied_len(v: Option<&header::HeaderValue>) -> Option<u64> {
    v?.to_str()
        .ok()?
        .strip_prefix("bytes */")?
        .trim()
        .parse()
        .ok()
}

/// The host's error in words, from at most 64 KiB of its body read for at most 10 s.
pub(crate) async fn s3_message(resp: reqwest::Response) -> String {
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    let _ = tokio::time::timeout(ERROR_BODY_TIME, async {
        while let Some(Ok(chunk)) = stream.next().await {
            let room = ERROR_BODY_CAP - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() >= ERROR_BODY_CAP {
                break;
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&body);
    let pick = |tag: &str| {
        text.split(&format!("<{tag}>"))
            .nth(1)
            .and_then(|r| r.split(&format!("</{tag}>")).next())
            .map(str::to_string)
    };
    match (pick("Code"), pick("Message")) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c,
        _ => text.chars().filter(|c| !c.is_control()).take(120).collect(),
    }
}

/// The fresh file URLs one download asked for after the file host refused one: at most
/// two, so a URL that is refused at once every time ends the download.
#[derive(Debug, Default)]
pub(crate) struct UrlRefreshes(u32);

impl UrlRefreshes {
    /// A fresh URL from `refresh`, unless two were asked for already or none comes.
    pub(crate) async fn fresh<F, Fut>(&mut self, refresh: &mut F) -> Option<String>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<String>>,
    {
        if self.0 >= 2 {
            return None;
        }
        let fresh = refresh().await?;
        self.0 += 1;
        Some(fresh)
    }
}

/// The answers of a file host that refuses the signed URL itself (expired, or gone): a
/// fresh URL from the list may work where retrying this one never will.
pub(crate) fn url_refused(s: StatusCode) -> bool {
    matches!(
        s,
        StatusCode::FORBIDDEN | StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST | StatusCode::GONE
    )
}

/// `name.zip`, or `name (2).zip`, ... — never an existing file.
/// `p`, or `<stem> (N).<ext>` with the first N from `from` whose name is free: nothing there,
/// not even a link (a dangling one would say "no file" and then be replaced).
fn unique_path(p: &Path, from: u32) -> PathBuf {
    let free = |c: &Path| std::fs::symlink_metadata(c).is_err();
    if from <= 1 && free(p) {
        return p.to_path_buf();
    }
    let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("snapshot");
    let ext = p.extension().and_then(|s| s.to_str()).unwrap_or("zip");
    (from.max(2)..)
        .map(|n| p.with_file_name(format!("{stem} ({n}).{ext}")))
        .find(|c| free(c))
        .expect("some free name")
}

/// Gives the checked `.part` its final name, or the next free one: never over a file, never
/// through a link, even when a name is taken between the look and the rename.
fn rename_into_place(part: &Path, final_path: &Path, dir: &Path) -> Result<PathBuf, DownloadError> {
    let mut n = 1;
    loop {
        let dest = unique_path(final_path, n);
        match crate::ownfile::rename_new(part, &dest) {
            Ok(()) => return Ok(dest),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DownloadError::Folder(FolderError::Missing(
                    dir.to_path_buf(),
                )));
            }
            Err(e) => {
                return Err(DownloadError::Disk {
                    path: dest,
                    detail: e.to_string(),
                });
            }
        }
    }
}

/// The throughput floor: too slow when, over a whole window, fewer bytes than the floor
/// allows have arrived (a drip of one byte every few seconds never trips an idle timeout).
pub(crate) struct Floor {
    start: Instant,
    start_bytes: u64,
    bytes_per_sec: u64,
    window: Duration,
}

impl Floor {
    pub(crate) fn new(bytes: u64, bytes_per_sec: u64, window: Duration) -> Self {
        Self {
            start: Instant::now(),
            start_bytes: bytes,
            bytes_per_sec,
            window,
        }
    }

    pub(crate) fn too_slow(&mut self, bytes: u64) -> bool {
        let elapsed = self.start.elapsed();
        if elapsed < self.window {
            return false;
        }
        let slow =
            (bytes - self.start_bytes) as f64 / elapsed.as_secs_f64() < self.bytes_per_sec as f64;
        // The next window starts now.
        self.start = Instant::now();
        self.start_bytes = bytes;
        slow
    }
}

/// Throttles progress to about four reports a second and smooths the speed.
pub(crate) struct Meter {
    last: Instant,
    last_bytes: u64,
    speed: f64,
}

impl Meter {
    pub(crate) fn new(bytes: u64) -> Self {
        Self {
            last: Instant::now(),
            last_bytes: bytes,
            speed: 0.0,
        }
    }

    fn reset_to(&mut self, bytes: u64) {
        self.last = Instant::now();
        self.last_bytes = bytes;
    }

    pub(crate) fn tick(&mut self, bytes: u64, total: Option<u64>) -> Option<Progress> {
        let dt = self.last.elapsed().as_secs_f64();
        if dt < 0.25 {
            return None;
        }
        Some(self.force(bytes, total))
    }

    pub(crate) fn force(&mut self, bytes: u64, total: Option<u64>) -> Progress {
        let dt = self.last.elapsed().as_secs_f64().max(1e-3);
        let now_speed = bytes.saturating_sub(self.last_bytes) as f64 / dt;
        self.speed = if self.speed == 0.0 {
            now_speed
        } else {
            0.7 * self.speed + 0.3 * now_speed
        };
        self.last = Instant::now();
        self.last_bytes = bytes;
        Progress {
            bytes,
            total,
            bytes_per_sec: self.speed,
            eta_secs: total
                .filter(|_| self.speed > 0.0)
                .map(|t| t.saturating_sub(bytes) as f64 / self.speed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_parsing() {
        let v = header::HeaderValue::from_static("bytes 100-199/1000");
        assert_eq!(parse_content_range(Some(&v)), Some((100, Some(1000))));
        let v = header::HeaderValue::from_static("bytes */1000");
        assert_eq!(parse_unsatisfied_len(Some(&v)), Some(1000));
    }

    #[test]
    fn a_full_disk_says_so_and_keeps_what_was_downloaded() {
        let e = disk_error(
            Path::new("/x/a.zip.part"),
            std::io::Error::from_raw_os_error(28),
            42,
        );
        assert_eq!(e.code(), "disk");
        let text = e.to_string();
        assert!(
            text.contains("disk is full") && text.contains("42 bytes") && text.contains("resume"),
            "{text}"
        );
    }

    #[test]
    fn unique_names_never_overwrite() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.zip");
        assert_eq!(unique_path(&p, 1), p);
        std::fs::write(&p, "x").unwrap();
        assert_eq!(unique_path(&p, 1), d.path().join("a (2).zip"));
    }
}
