//! Every way a download can fail, in words a person can act on, with the short code the UI
//! and the CLI branch on; and the translation of the disk's own errors into them.

use crate::ownfile::Foreign;
use crate::settings::FolderError;
use crate::verify::VerifyError;
use std::path::{Path, PathBuf};

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
    Foreign(Foreign),
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

/// A failed write, open or rename of `p` in words: another user's file, a full disk (the
/// `bytes` already there are kept), a folder gone, or the system's own message.
pub(crate) fn disk_error(p: &Path, e: std::io::Error, bytes: u64) -> DownloadError {
    if let Some(f) = Foreign::of(&e) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
