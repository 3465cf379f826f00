//! The destination folder: that it is there, is a folder and can be written (the settings'
//! check, before anything is fetched), the complete snapshot that may already be in it, and
//! room on its disk for the whole file, reserved before the first byte arrives.

use super::error::DownloadError;
use super::target::{DownloadTarget, Downloaded};
use crate::settings::validate_folder;
use crate::verify::{VerifyError, verify_zip};
use std::fs::File;
use std::path::{Path, PathBuf};

/// The folder `target` goes to, checked: it exists, is a folder, and can be written.
pub(super) fn destination(target: &DownloadTarget) -> Result<PathBuf, DownloadError> {
    Ok(validate_folder(&target.dir)?)
}

/// The snapshot at `final_path`, when it is there already and passes its check.
pub(super) async fn already_there(
    final_path: &Path,
    target: &DownloadTarget,
    full_verify: bool,
) -> Result<Option<Downloaded>, DownloadError> {
    let Ok(meta) = std::fs::metadata(final_path) else {
        return Ok(None);
    };
    if target.expected_size.is_some_and(|s| s != meta.len()) {
        return Ok(None);
    }
    // Same name = same resource and snapshot time: it may be here already. A damaged file
    // under that name is left as it is (it may not be ours), and the download goes to a new
    // name beside it.
    let p = final_path.to_path_buf();
    let check = tokio::task::spawn_blocking(move || verify_zip(&p, None, full_verify))
        .await
        .map_err(|e| VerifyError::Io(e.to_string()))?;
    Ok(check.ok().map(|verified| Downloaded {
        path: final_path.to_path_buf(),
        size: meta.len(),
        verified,
        resumed_from: 0,
        already_present: true,
    }))
}

/// Reserves the disk blocks of the whole file before any byte arrives (Linux), so that:
/// - a disk without room for the snapshot says so now, not after most of it was fetched;
/// - the writes do not allocate: with delayed allocation, each write reserving its blocks
///   waited for the writeback allocating earlier ones (ext4's `i_data_sem`; up to 54 ms
///   per write seen under strace), its connection unread meanwhile, so its socket buffers
///   filled with what a kill at that moment loses.
///
/// The blocks are reserved as unwritten: they read as zeros, and nothing is written now.
/// File systems without it (FAT, some network ones) go on without; only a full disk is an
/// error.
#[cfg(target_os = "linux")]
pub(super) fn reserve_room(file: &File, total: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let Ok(len) = libc::off_t::try_from(total) else {
        return Ok(());
    };
    // SAFETY: the descriptor is borrowed from an open file for the length of the call,
    // which reads no memory of ours. KEEP_SIZE: the length is already `total`.
    let r = unsafe { libc::fallocate(file.as_raw_fd(), libc::FALLOC_FL_KEEP_SIZE, 0, len) };
    if r == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::ENOSPC) {
        Err(e)
    } else {
        Ok(())
    }
}

#[cfg(not(target_os = "linux"))]
pub(super) fn reserve_room(_file: &File, _total: u64) -> std::io::Result<()> {
    Ok(())
}
