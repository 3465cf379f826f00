//! `sync`: every library copy this destination does not hold yet is uploaded, checked and
//! recorded as a second copy of the same version. What the library says is there is not
//! uploaded again, nor what the destination's retention deleted there; a copy whose local
//! file is gone is skipped (nothing to send). A local copy that is sealed already is sent
//! as it is, never sealed twice.

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
        if held_by(e, &cfg.name) {
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
        // A copy sealed on this computer goes up as it is (`….zip.age`, already encrypted
        // to the account's key), whether the destination encrypts or not.
        let file = match seal {
            Some(seal) if cfg.encrypt && !e.sealed() => seal(&e.path)?,
            _ => e.path.clone(),
        };
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let each: Progress<'_> = &|done, total| progress(&e.path, done, total);
        let sent = upload_file(client, state, &file, &name, opts.clone(), cancel, each).await;
        let staged = file != e.path;
        if staged && sent.as_ref().err().is_none_or(|e| !e.retryable()) {
            let _ = std::fs::remove_file(&file);
        }
        let copy = sent?;
        let at = copy.at.clone();
        state.update(LIBRARY, |l: &mut Library| l.record_copy_at(&e.path, copy))?;
        report.uploaded.push((e.path.clone(), at));
    }
    Ok(report)
}
