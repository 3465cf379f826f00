//! `sync`: every library copy this destination does not hold yet is uploaded, checked and
//! recorded as a second copy of the same version. What the library says is there is not
//! uploaded again, nor what the destination's retention deleted there; a copy whose local
//! file is gone is skipped (nothing to send). A file staged in the outbox for this
//! destination (a plan that keeps its copies there only) is removed from this computer
//! once its copy there is checked and recorded, never before.
//! A local copy that is sealed already is sent as it is, never sealed twice.

use super::upload::{Progress as UploadProgress, UploadOptions, upload_file};
use super::{OffsiteError, S3, S3Client, parse_at};
use crate::download::Progress;
use crate::engine::library::{LIBRARY, Library, LibraryEntry};
use crate::statedir::StateDir;
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;

/// Makes the sealed file to upload (`….zip.age`) from a local copy, when the destination
/// encrypts (the seal module's `staged_for_upload`). The file it returns is a staged copy:
/// uploaded as any other, then removed by `sync` once the upload succeeded or was given up
/// (a retryable failure keeps it, so the next attempt resumes with the same bytes).
pub type Seal<'a> = &'a (dyn Fn(&Path) -> std::io::Result<PathBuf> + Send + Sync);

/// What a sync did.
#[derive(Debug, Default)]
pub struct SyncReport {
    /// Local files uploaded, with where they went.
    pub uploaded: Vec<(PathBuf, String)>,
    /// Already there, by the library.
    pub present: usize,
    /// Local files gone: nothing to upload.
    pub missing: Vec<PathBuf>,
    /// Deleted there by the destination's retention, kept here: not sent again.
    pub dropped: usize,
    /// Staged files (outbox) removed from this computer: their copy there is checked.
    pub cleared: Vec<PathBuf>,
}

/// Whether `entry` has a copy in the destination named `name`.
pub fn held_by(entry: &LibraryEntry, name: &str) -> bool {
    entry
        .copies
        .iter()
        .any(|c| c.kind == S3 && parse_at(&c.at).is_some_and(|(n, _)| n == name))
}

/// One step of a sync, for a window or a terminal to show each upload as a line: what
/// will be sent (before the first starts), how far one is, how it ended, and what was not
/// sent because an earlier one failed or the sync was stopped.
#[derive(Debug)]
pub enum SyncStep<'a> {
    /// The copies this sync is about to send, in order.
    Queued(&'a [&'a LibraryEntry]),
    /// One is being sent (`progress.total` is the size of the file sent, sealed or not).
    Sending {
        entry: &'a LibraryEntry,
        progress: Progress,
    },
    /// One is in the bucket, checked, and recorded at `at`.
    Sent {
        entry: &'a LibraryEntry,
        at: &'a str,
    },
    /// One failed; the sync stops here.
    Failed {
        entry: &'a LibraryEntry,
        error: &'a OffsiteError,
    },
    /// Queued but not sent this time (an earlier one failed, or the sync was stopped).
    Left(&'a [&'a LibraryEntry]),
}

/// What a sync is told and asked while it runs.
#[derive(Clone, Copy)]
pub struct SyncHooks<'a> {
    pub tell: &'a (dyn Fn(SyncStep<'_>) + Send + Sync),
    /// The engine's pause ([`crate::Engine::pause_watch`]): while it says paused, the next
    /// upload does not start (the one running finishes).
    pub paused: Option<&'a tokio::sync::watch::Receiver<bool>>,
}

/// Uploads what the destination lacks. Stops at the first failure (the copies before it
/// are recorded; the one in flight resumes next time).
pub async fn sync(
    client: &S3Client,
    state: &StateDir,
    opts: UploadOptions,
    seal: Option<Seal<'_>>,
    cancel: &CancellationToken,
    progress: &(dyn Fn(&Path, u64, u64) + Send + Sync),
) -> Result<SyncReport, OffsiteError> {
    let tell = |s: SyncStep<'_>| {
        if let SyncStep::Sending { entry, progress: p } = s {
            progress(&entry.path, p.bytes, p.total.unwrap_or(p.bytes));
        }
    };
    let hooks = SyncHooks {
        tell: &tell,
        paused: None,
    };
    sync_with(client, state, opts, seal, cancel, hooks).await
}

/// [`sync`], each step told to `hooks.tell`, waiting while `hooks.paused` says so.
pub async fn sync_with(
    client: &S3Client,
    state: &StateDir,
    opts: UploadOptions,
    seal: Option<Seal<'_>>,
    cancel: &CancellationToken,
    hooks: SyncHooks<'_>,
) -> Result<SyncReport, OffsiteError> {
    let cfg = client.config().clone();
    if cfg.encrypt && seal.is_none() {
        return Err(OffsiteError::Config(format!(
            "{} is set to encrypt copies and no encryption key was given; nothing was uploaded",
            cfg.name
        )));
    }
    let lib: Library = state.read(LIBRARY)?;
    let mut report = SyncReport::default();
    let mut queue: Vec<&LibraryEntry> = Vec::new();
    for e in &lib.entries {
        let in_outbox = lib.staged_for(&cfg.name, &e.path);
        if held_by(e, &cfg.name) {
            // Recorded there by an earlier sync that stopped before the staged file went.
            if in_outbox {
                clear_staged(state, &cfg.name, &e.path)?;
                report.cleared.push(e.path.clone());
            }
            report.present += 1;
        } else if lib.dropped_by(&cfg.name, &e.path) {
            // The destination's retention deleted it there: not sent again.
            report.dropped += 1;
        } else if !e.path.is_file() {
            report.missing.push(e.path.clone());
        } else {
            queue.push(e);
        }
    }
    if !queue.is_empty() {
        (hooks.tell)(SyncStep::Queued(&queue));
    }
    for (i, e) in queue.iter().enumerate() {
        let sent = match until_resumed(hooks.paused, cancel).await {
            true => send_one(client, state, &opts, seal, cancel, hooks, e).await,
            false => Err(OffsiteError::Cancelled),
        };
        match sent {
            Ok(at) => {
                if lib.staged_for(&cfg.name, &e.path) {
                    clear_staged(state, &cfg.name, &e.path)?;
                    report.cleared.push(e.path.clone());
                }
                (hooks.tell)(SyncStep::Sent { entry: e, at: &at });
                report.uploaded.push((e.path.clone(), at));
            }
            Err(error) => {
                (hooks.tell)(SyncStep::Failed {
                    entry: e,
                    error: &error,
                });
                if i + 1 < queue.len() {
                    (hooks.tell)(SyncStep::Left(&queue[i + 1..]));
                }
                return Err(error);
            }
        }
    }
    Ok(report)
}

/// Returns once `paused` says not paused (at once without one); false if cancelled first.
async fn until_resumed(
    paused: Option<&tokio::sync::watch::Receiver<bool>>,
    cancel: &CancellationToken,
) -> bool {
    let Some(rx) = paused else {
        return !cancel.is_cancelled();
    };
    let mut rx = rx.clone();
    tokio::select! {
        r = rx.wait_for(|p| !*p) => r.is_ok() && !cancel.is_cancelled(),
        () = cancel.cancelled() => false,
    }
}

/// Seals (when the destination encrypts), uploads, checks and records one library copy;
/// returns where it went.
async fn send_one(
    client: &S3Client,
    state: &StateDir,
    opts: &UploadOptions,
    seal: Option<Seal<'_>>,
    cancel: &CancellationToken,
    hooks: SyncHooks<'_>,
    e: &LibraryEntry,
) -> Result<String, OffsiteError> {
    // A copy sealed on this computer goes up as it is (`….zip.age`, already encrypted to
    // the account's key), whether the destination encrypts or not.
    let file = match seal {
        Some(seal) if client.config().encrypt && !e.sealed() => seal(&e.path)?,
        _ => e.path.clone(),
    };
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // The rate counts what this run sent (a resumed upload starts past what was there).
    let start = std::time::Instant::now();
    let first = std::sync::Mutex::new(None::<u64>);
    let each: UploadProgress<'_> = &|done, total| {
        let base = *first
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(done);
        let secs = start.elapsed().as_secs_f64().max(1e-3);
        let rate = done.saturating_sub(base) as f64 / secs;
        (hooks.tell)(SyncStep::Sending {
            entry: e,
            progress: Progress {
                bytes: done,
                total: Some(total),
                bytes_per_sec: rate,
                eta_secs: (rate > 0.0).then(|| total.saturating_sub(done) as f64 / rate),
            },
        });
    };
    let sent = upload_file(client, state, &file, &name, opts.clone(), cancel, each).await;
    let staged = file != e.path;
    if staged && sent.as_ref().err().is_none_or(|e| !e.retryable()) {
        let _ = std::fs::remove_file(&file);
    }
    let copy = sent?;
    let at = copy.at.clone();
    state.update(LIBRARY, |l: &mut Library| l.record_copy_at(&e.path, copy))?;
    Ok(at)
}

/// Removes a staged file whose copy in `dest` is checked and recorded, then records that
/// it waits no more.
fn clear_staged(state: &StateDir, dest: &str, path: &Path) -> Result<(), OffsiteError> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    let now = chrono::Utc::now();
    state.update(LIBRARY, |l: &mut Library| l.unstage(dest, path, now))?;
    Ok(())
}
