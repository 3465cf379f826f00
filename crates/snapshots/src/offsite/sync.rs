//! `sync`: every library copy this destination does not hold yet is uploaded, checked and
//! recorded as a second copy of the same version. What the library says is there is not
//! uploaded again, nor what the destination's retention deleted there; a copy whose local
//! file is gone is skipped (nothing to send). A file staged in the outbox for this
//! destination (a plan that keeps its copies there only) is removed from this computer
//! once its copy there is checked and recorded, never before.

use super::upload::{Progress, UploadOptions, upload_file};
use super::{OffsiteError, S3, S3Client, parse_at};
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
    let cfg = client.config().clone();
    if cfg.encrypt && seal.is_none() {
        return Err(OffsiteError::Config(format!(
            "{} is set to encrypt copies and no encryption key was given; nothing was uploaded",
            cfg.name
        )));
    }
    let lib: Library = state.read(LIBRARY)?;
    let mut report = SyncReport::default();
    for e in &lib.entries {
        let in_outbox = lib.staged_for(&cfg.name, &e.path);
        if held_by(e, &cfg.name) {
            // Recorded there by an earlier sync that stopped before the staged file went.
            if in_outbox {
                clear_staged(state, &cfg.name, &e.path)?;
                report.cleared.push(e.path.clone());
            }
            report.present += 1;
            continue;
        }
        if lib.dropped_by(&cfg.name, &e.path) {
            // The destination's retention deleted it there: not sent again.
            report.dropped += 1;
            continue;
        }
        if !e.path.is_file() {
            report.missing.push(e.path.clone());
            continue;
        }
        let file = match seal {
            Some(seal) if cfg.encrypt => seal(&e.path)?,
            _ => e.path.clone(),
        };
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let each: Progress<'_> = &|done, total| progress(&e.path, done, total);
        let sent = upload_file(client, state, &file, &name, opts.clone(), cancel, each).await;
        let sealed = file != e.path;
        if sealed && sent.as_ref().err().is_none_or(|e| !e.retryable()) {
            let _ = std::fs::remove_file(&file);
        }
        let copy = sent?;
        let at = copy.at.clone();
        state.update(LIBRARY, |l: &mut Library| l.record_copy_at(&e.path, copy))?;
        if in_outbox {
            clear_staged(state, &cfg.name, &e.path)?;
            report.cleared.push(e.path.clone());
        }
        report.uploaded.push((e.path.clone(), at));
    }
    Ok(report)
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
