//! The finish: a `.part` every byte of which has arrived is checked against the promised
//! length and as an archive, then renamed into place (never over a file, never through a
//! link) and the folder synced, so the name appears only for a whole, checked snapshot.

use super::error::DownloadError;
use super::part::{file_len, remove_sidecar, sidecar_path};
use super::target::{DownloadTarget, Downloaded};
use crate::settings::FolderError;
use crate::verify::{VerifyError, verify_zip};
use std::path::{Path, PathBuf};

/// A `.part` every byte of which has arrived, and how it must be checked.
pub(super) struct Arrived {
    pub part: PathBuf,
    /// The size the host gave, used when the list gave none.
    pub total: Option<u64>,
    /// Every entry's CRC is checked, not only the length and the central directory.
    pub check_whole: bool,
    /// Its ranges were recorded before the system restarted: a failed check says so.
    pub after_restart: bool,
    /// Bytes that were on disk from an earlier attempt.
    pub resumed_from: u64,
}

/// Checks `arrived` and gives it its name in `dir`; a file that fails is deleted with its
/// sidecar, so the folder holds no half-made snapshot.
pub(super) async fn finish(
    arrived: Arrived,
    target: &DownloadTarget,
    dir: &Path,
) -> Result<Downloaded, DownloadError> {
    let Arrived {
        part,
        total,
        check_whole,
        after_restart,
        resumed_from,
    } = arrived;
    let side = sidecar_path(&part);
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
    let verified = tokio::task::spawn_blocking(move || verify_zip(&check, expected, check_whole))
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
    let dest = rename_into_place(&part, &dir.join(&target.file_name), dir)?;
    remove_sidecar(&side);
    if let Ok(d) = std::fs::File::open(dir) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_never_overwrite() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.zip");
        assert_eq!(unique_path(&p, 1), p);
        std::fs::write(&p, "x").unwrap();
        assert_eq!(unique_path(&p, 1), d.path().join("a (2).zip"));
    }
}
