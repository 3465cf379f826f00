//! Putting a copy back: a zip we hold (a library copy, or any file) uploaded into an
//! application through Square Cloud's commit route, so that it works after the server's
//! snapshot is gone. Everything that can be judged here is judged before a request is sent:
//! databases (they take no commit), files over the 100 MB upload limit, files that are not a
//! whole zip (every CRC read). By default a snapshot of the application's current state is
//! taken and downloaded first (the step restore takes, shared), so a put back can be undone.
//! A commit adds and replaces files; whether it deletes the others is unknown, and the
//! callers say so. One commit per application per 3 s on every process's clock; a
//! `KEEP_CALM` (nothing applied) is waited out and sent once more; a lost answer is never
//! sent again ([`EngineError::CommitUnknown`]).
//!
//! An encrypted copy (`….zip.age`) is checked and sent as it is decrypted, with the
//! account's key the caller gives: the plain zip is never written anywhere.

use super::library::LibraryEntry;
use super::{Engine, EngineError, Event, EventSink, JobOutcome, ResourceRef};
use crate::download::Progress;
use crate::pacer::{WaitReason, padded, sleep_until};
use crate::seal::{self, SealIdentity};
use crate::verify::{verify_zip, verify_zip_reader};
use chrono::Utc;
use squarecloud::limits::UPLOAD_MAX_BYTES;
use squarecloud::{ApiError, ErrorCode, ResourceKind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// What a put back would do, checked without sending anything.
#[derive(Debug, Clone)]
pub struct PutBackPlan {
    pub resource: ResourceRef,
    pub file: PathBuf,
    /// The zip's size in bytes (at most [`UPLOAD_MAX_BYTES`]); for an encrypted copy, the
    /// size of the zip inside.
    pub size: u64,
    /// The file is an encrypted copy, opened with the key the caller gave.
    pub sealed: bool,
    /// Entries in the zip, each read and its CRC checked.
    pub entries: usize,
    /// The library's record of the file, when it is one of its copies: which snapshot of
    /// which resource it is.
    pub from: Option<LibraryEntry>,
}

/// What `put_back` should do.
#[derive(Debug, Clone)]
pub struct PutBackOptions {
    /// Take (and download) a snapshot of the current state first: one quota slot.
    pub snapshot_first: bool,
    /// Where that snapshot is downloaded (default: the resource's folder, when set).
    pub download_first_to: Option<PathBuf>,
    /// Restart the application once the files are in.
    pub restart: bool,
    /// The account's key, for an encrypted copy.
    pub key: Option<Arc<SealIdentity>>,
}

impl Default for PutBackOptions {
    fn default() -> Self {
        Self {
            snapshot_first: true,
            download_first_to: None,
            restart: false,
            key: None,
        }
    }
}

/// How a put back went.
#[derive(Debug, Clone)]
pub struct PutBack {
    pub plan: PutBackPlan,
    /// The snapshot taken first, when asked for.
    pub safety: Option<JobOutcome>,
    pub restarted: bool,
}

/// How much larger than its zip an encrypted copy may be (age's header, and 16 bytes per
/// 64 KiB chunk: about 26 KB for 100 MB), before its zip is opened to measure.
pub(super) const SEAL_SLACK: u64 = 64 * 1024;

/// Progress events at most this often while uploading.
pub(super) const TELL_EVERY: Duration = Duration::from_millis(250);

impl Engine {
    /// Whether `file` can be put back into `resource_id`, and what it is; sends nothing.
    /// `key` opens an encrypted copy.
    pub async fn check_put_back(
        &self,
        resource_id: &str,
        file: &Path,
        key: Option<&SealIdentity>,
    ) -> Result<PutBackPlan, EngineError> {
        let resource = self.resource(resource_id)?;
        if resource.kind == ResourceKind::Database {
            return Err(EngineError::PutBackDatabase {
                name: resource.name,
            });
        }
        let checked = check_copy(file, key).await?;
        Ok(PutBackPlan {
            from: self.library_entry_of(file),
            resource,
            file: file.to_path_buf(),
            size: checked.size,
            sealed: checked.sealed,
            entries: checked.entries,
        })
    }

    /// The library's entry for `file` (the same file, by path or once resolved).
    pub(super) fn library_entry_of(&self, file: &Path) -> Option<LibraryEntry> {
        let real = std::fs::canonicalize(file).ok();
        self.library().entries.into_iter().find(|e| {
            e.path == file || real.is_some() && std::fs::canonicalize(&e.path).ok() == real
        })
    }

    /// Puts the zip at `file` back into application `resource_id` (see the module's rules).
    pub async fn put_back(
        &self,
        resource_id: &str,
        file: &Path,
        opts: PutBackOptions,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> Result<PutBack, EngineError> {
        let plan = self
            .check_put_back(resource_id, file, opts.key.as_deref())
            .await?;
        self.put_back_checked(plan, opts, events, cancel).await
    }

    /// [`Self::put_back`] of a file whose check passed (`plan`).
    pub(super) async fn put_back_checked(
        &self,
        plan: PutBackPlan,
        opts: PutBackOptions,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> Result<PutBack, EngineError> {
        let r = plan.resource.clone();
        let safety = if opts.snapshot_first {
            let first =
                self.snapshot_first(&r, opts.download_first_to.clone(), events.clone(), cancel);
            Some(first.await?)
        } else {
            None
        };
        let mut tries = 0;
        loop {
            self.wait_commit_window(&r, &events, cancel).await?;
            match self.send_commit(&plan, &opts, &events, cancel).await? {
                // Nothing was applied: wait the window out and send once more.
                Err(e) if e.code() == Some(&ErrorCode::KeepCalm) && tries == 0 => tries += 1,
                Err(e) => return Err(commit_error(e, &plan.file)),
                Ok(()) => break,
            }
        }
        events(Event::Committed {
            resource: r.id.clone(),
            size: plan.size,
            restart: opts.restart,
        });
        Ok(PutBack {
            plan,
            safety,
            restarted: opts.restart,
        })
    }

    /// Waits until the application's commit window is open on every process's clock, then
    /// records this commit in the ledger (before it is sent, as creates are).
    async fn wait_commit_window(
        &self,
        r: &ResourceRef,
        events: &EventSink,
        cancel: &CancellationToken,
    ) -> Result<(), EngineError> {
        let gap = padded(self.limits().commit_gap);
        if let Some(t) = self.ledger().commits.get(&r.id).copied()
            && t + gap > Utc::now()
        {
            events(Event::Waiting {
                resource: r.id.clone(),
                until: t + gap,
                reason: WaitReason::KeepCalm,
            });
            if !sleep_until(t + gap, cancel).await {
                return Err(EngineError::Cancelled);
            }
        }
        let now = Utc::now();
        self.update_ledger(|l| {
            l.commits.insert(r.id.clone(), now);
        })
    }

    /// One commit, its progress told as events: the client's answer, or the engine's error
    /// when cancelled (before the whole file was sent nothing can have been applied; after,
    /// the outcome is unknown).
    async fn send_commit(
        &self,
        plan: &PutBackPlan,
        opts: &PutBackOptions,
        events: &EventSink,
        cancel: &CancellationToken,
    ) -> Result<Result<(), ApiError>, EngineError> {
        let sent = Arc::new(AtomicU64::new(0));
        let progress = upload_progress(plan.resource.id.clone(), events.clone(), sent.clone());
        let id = &plan.resource.id;
        let commit = match (plan.sealed, opts.key.as_deref()) {
            (false, _) => {
                let c = self.client();
                Box::pin(c.commit_with_progress(id, &plan.file, opts.restart, progress))
                    as std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send + '_>>
            }
            (true, None) => {
                return Err(EngineError::PutBackNoKey {
                    path: plan.file.clone(),
                });
            }
            (true, Some(key)) => {
                let r = seal::open_reader(&plan.file, key).map_err(|e| {
                    EngineError::PutBackBadFile {
                        path: plan.file.clone(),
                        detail: e.to_string(),
                    }
                })?;
                // Sent under the zip's own name (`X.zip`, not `X.zip.age`).
                let name = plan
                    .file
                    .file_stem()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "put-back.zip".into());
                Box::pin(self.client().commit_reader(
                    id,
                    name,
                    plan.size,
                    Box::new(r),
                    opts.restart,
                    progress,
                ))
            }
        };
        tokio::select! {
            done = commit => Ok(done),
            () = cancel.cancelled() => Err(if sent.load(Ordering::SeqCst) < plan.size {
                EngineError::Cancelled
            } else {
                EngineError::CommitUnknown
            }),
        }
    }
}

/// A copy as checked before it is sent anywhere: its zip's size, whether it is sealed, and
/// its entries (each read and its CRC checked).
pub(super) struct CheckedCopy {
    pub(super) size: u64,
    pub(super) sealed: bool,
    pub(super) entries: usize,
}

/// Checks that `file` is a whole zip (opened with `key` when it is an encrypted copy) that
/// Square Cloud's upload limit takes; reads it and sends nothing.
pub(super) async fn check_copy(
    file: &Path,
    key: Option<&SealIdentity>,
) -> Result<CheckedCopy, EngineError> {
    let bad = |detail: String| EngineError::PutBackBadFile {
        path: file.to_path_buf(),
        detail,
    };
    let meta = tokio::fs::metadata(file)
        .await
        .map_err(|e| bad(e.to_string()))?;
    if !meta.is_file() {
        return Err(bad("not a file".into()));
    }
    let sealed = seal::looks_sealed(file).map_err(|e| bad(e.to_string()))?;
    // An encrypted copy is a little larger than its zip: refused here only when even
    // the zip inside cannot fit (its size is known once it is open).
    let too_large = |size| EngineError::PutBackTooLarge {
        path: file.to_path_buf(),
        size,
        max: UPLOAD_MAX_BYTES,
    };
    if meta.len() > UPLOAD_MAX_BYTES + if sealed { SEAL_SLACK } else { 0 } {
        return Err(too_large(meta.len()));
    }
    let p = file.to_path_buf();
    let checked = if sealed {
        let key = key.ok_or_else(|| EngineError::PutBackNoKey {
            path: file.to_path_buf(),
        })?;
        let mut r = seal::open_reader(&p, key).map_err(|e| bad(e.to_string()))?;
        let size = std::io::Seek::seek(&mut r, std::io::SeekFrom::End(0))
            .map_err(|e| bad(e.to_string()))?;
        if size > UPLOAD_MAX_BYTES {
            return Err(too_large(size));
        }
        std::io::Seek::rewind(&mut r).map_err(|e| bad(e.to_string()))?;
        tokio::task::spawn_blocking(move || verify_zip_reader(r, size, true))
    } else {
        tokio::task::spawn_blocking(move || verify_zip(&p, None, true))
    };
    let checked = checked
        .await
        .map_err(|e| bad(e.to_string()))?
        .map_err(|e| bad(e.to_string()))?;
    Ok(CheckedCopy {
        size: checked.size,
        sealed,
        entries: checked.entries,
    })
}

/// Tells `events` how the upload for `resource` goes, a few times a second and at its end;
/// `sent` holds the bytes sent so far.
pub(super) fn upload_progress(
    resource: String,
    events: EventSink,
    sent: Arc<AtomicU64>,
) -> squarecloud::CommitProgress {
    let start = Instant::now();
    let last = std::sync::Mutex::new(None::<Instant>);
    Arc::new(move |bytes, total| {
        sent.store(bytes, Ordering::SeqCst);
        let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
        if bytes < total && last.is_some_and(|t| t.elapsed() < TELL_EVERY) {
            return;
        }
        *last = Some(Instant::now());
        let rate = bytes as f64 / start.elapsed().as_secs_f64().max(1e-3);
        events(Event::Uploading {
            resource: resource.clone(),
            progress: Progress {
                bytes,
                total: Some(total),
                bytes_per_sec: rate,
                eta_secs: (rate > 0.0).then(|| (total - bytes) as f64 / rate),
            },
        });
    })
}

/// A failed commit of `file` in the engine's words.
fn commit_error(e: ApiError, file: &Path) -> EngineError {
    upload_failed(e, file, EngineError::CommitUnknown, |code, message| {
        EngineError::CommitRefused { code, message }
    })
}

/// A failed upload of `file` (a commit, or a new application) in the engine's words: `lost`
/// when its answer may have been lost on the way, `refused` for Square Cloud's refusal.
pub(super) fn upload_failed(
    e: ApiError,
    file: &Path,
    lost: EngineError,
    refused: impl FnOnce(String, Option<String>) -> EngineError,
) -> EngineError {
    match e {
        ApiError::LocalFile(detail) => EngineError::PutBackBadFile {
            path: file.to_path_buf(),
            detail,
        },
        e if e.answer_may_be_lost() => lost,
        e if e.is_account_block() || e.code().is_some_and(ErrorCode::is_bad_key) => {
            EngineError::from_api(e)
        }
        ApiError::Api { raw, message, .. } => refused(raw, message),
        other => EngineError::from_api(other),
    }
}
