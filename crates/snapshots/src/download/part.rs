//! The `.part` file a download fills and its JSON sidecar (`<file>.part.json`), which records
//! the total size, the ETag and the finished ranges of a parallel download so a crash or a
//! `kill -9` resumes every unfinished range. Both are opened only when they are ours: a
//! planted link or another user's file under those names is refused, never followed.

use super::error::{DownloadError, disk_error};
use crate::ownfile::{self, Access};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fs::File;
use std::path::{Path, PathBuf};

/// The length of `p` itself: a link planted there is not followed (its own length is
/// tiny; opening it for the resume then refuses it).
pub(super) fn file_len(p: &Path) -> u64 {
    std::fs::symlink_metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// Deletes our `.part` to start over; one that is not ours is refused, and stays.
pub(super) fn truncate(p: &Path) -> Result<(), DownloadError> {
    if std::fs::symlink_metadata(p).is_err() {
        return Ok(());
    }
    drop(ownfile::open_own(p, Access::Read).map_err(|e| disk_error(p, e, 0))?);
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
pub(super) fn open_part(
    p: &Path,
    fresh: bool,
) -> Result<(tokio::fs::File, Option<std::fs::File>), DownloadError> {
    let opened = if fresh {
        ownfile::open_or_create(p, Access::Write).and_then(|f| f.set_len(0).map(|()| f))
    } else {
        ownfile::open_or_create(p, Access::Append)
    };
    let f = opened.map_err(|e| disk_error(p, e, 0))?;
    let second = f.try_clone().ok();
    Ok((tokio::fs::File::from_std(f), second))
}

/// What the sidecar holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Sidecar {
    /// The snapshot's file name (resource, time and version): a sidecar of another is ignored.
    pub file: String,
    pub total: u64,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Finished byte ranges, `[start, end)`, sorted and merged.
    pub done: Vec<(u64, u64)>,
    /// The boot of the system they were recorded in (Linux's boot id). The ranges are in the
    /// page cache when recorded, on the disk only by the final fsync: after a crash or a
    /// power cut they may read as zeros, so a resume in another boot checks every byte.
    #[serde(default)]
    pub boot: Option<String>,
}

impl Sidecar {
    /// Bytes in the finished ranges, each counted once: a sidecar is read from disk, where
    /// any range may be out of order, overlap another, or lie past the end.
    pub(super) fn done_bytes(&self) -> u64 {
        merge(self.done.clone(), self.total)
            .iter()
            .map(|r| r.1 - r.0)
            .sum()
    }
}

impl Sidecar {
    /// The record a parallel download of `file_name` (`total` bytes) resumes from: its
    /// sidecar, or else what a single stream's `.part` holds. Also whether every byte must be
    /// checked at the end (the ranges were recorded before the system restarted).
    pub(super) fn resume(
        part: &Path,
        side: &Path,
        file_name: &str,
        total: u64,
    ) -> Result<(Sidecar, bool), DownloadError> {
        let side_bytes = read_sidecar_bytes(side)?;
        let had_side = side_bytes.is_some();
        let mut record = match side_bytes.and_then(|b| serde_json::from_slice::<Sidecar>(&b).ok()) {
            Some(s) if s.file == file_name && s.total == total => s,
            _ => {
                let len = file_len(part);
                Sidecar {
                    file: file_name.to_string(),
                    total,
                    // A `.part` without a sidecar was written front to back by one stream;
                    // with a foreign sidecar its content is unknown.
                    done: if len <= total && !had_side {
                        vec![(0, len)]
                    } else {
                        vec![]
                    },
                    ..Sidecar::default()
                }
            }
        };
        record.done = merge(record.done, total);
        let this_boot = boot_id();
        let check_all = !record.done.is_empty() && this_boot.is_some() && record.boot != this_boot;
        // Ranges of an earlier boot keep its mark until the whole file is checked: killed
        // again in this boot, the next resume must still check them.
        if !check_all {
            record.boot = this_boot;
        }
        Ok((record, check_all))
    }
}

/// This boot of the system, where the system names it (Linux).
fn boot_id() -> Option<String> {
    static ID: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    })
    .clone()
}

pub(super) fn sidecar_path(part: &Path) -> PathBuf {
    let mut s = part.as_os_str().to_owned();
    s.push(".json");
    PathBuf::from(s)
}

/// The largest sidecar rewritten in place: one page, which the kernel copies whole.
const IN_PLACE_MAX: usize = 4096;

/// Writes a sidecar's bytes as [`Shared::save`] says; `open`: the sidecar as last written
/// here, open, with its length.
pub(super) fn store_sidecar(
    open: &mut Option<(File, usize)>,
    side: &Path,
    mut bytes: Vec<u8>,
) -> std::io::Result<()> {
    if let Some((file, len)) = open.as_mut()
        && bytes.len().max(*len) <= IN_PLACE_MAX
    {
        bytes.resize(bytes.len().max(*len), b' ');
        write_at(file, &bytes, 0)?;
        *len = bytes.len();
        return Ok(());
    }
    // A new private temporary file. What a killed save of ours left goes first; anything
    // else under that name (a link, a pipe, another user's file) is refused and left as it
    // is, as is one planted between the two steps.
    let tmp = sidecar_tmp(side);
    if std::fs::symlink_metadata(&tmp).is_ok() {
        drop(ownfile::open_own(&tmp, Access::Read)?);
        std::fs::remove_file(&tmp)?;
    }
    {
        use std::io::Write;
        let mut f = ownfile::create_new(&tmp)?;
        f.write_all(&bytes)?;
    }
    std::fs::rename(&tmp, side)?;
    *open = ownfile::open_own(side, Access::Write)
        .ok()
        .map(|f| (f, bytes.len()));
    Ok(())
}

/// The temporary file a sidecar is written to before it is renamed over the sidecar.
fn sidecar_tmp(side: &Path) -> PathBuf {
    side.with_extension("json.tmp")
}

/// A sidecar's bytes: None when there is none (or it is not one of ours to read, see the
/// error); an error when its name holds something this app did not make (a planted link,
/// another user's file), which is refused rather than trusted or replaced.
fn read_sidecar_bytes(side: &Path) -> Result<Option<Vec<u8>>, DownloadError> {
    match ownfile::read_own(side) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(disk_error(side, e, 0)),
    }
}

/// The sidecar's record, when there is one that reads.
pub(super) fn read_sidecar(side: &Path) -> Result<Option<Sidecar>, DownloadError> {
    Ok(read_sidecar_bytes(side)?.and_then(|b| serde_json::from_slice(&b).ok()))
}

/// Deletes a sidecar, and the temporary one a save cut short by a kill left beside it.
/// Only files of ours: whatever someone else put under those names stays.
pub(super) fn remove_sidecar(side: &Path) {
    ownfile::remove_own(side);
    ownfile::remove_own(&sidecar_tmp(side));
}

/// Sorted, merged, clipped to `[0, total)`.
pub(super) fn merge(mut v: Vec<(u64, u64)>, total: u64) -> Vec<(u64, u64)> {
    v.retain(|r| r.0 < r.1);
    v.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::new();
    for (a, b) in v {
        let (a, b) = (a.min(total), b.min(total));
        match out.last_mut() {
            Some(l) if a <= l.1 => l.1 = l.1.max(b),
            _ if a < b => out.push((a, b)),
            _ => {}
        }
    }
    out
}

/// What is left of `[0, total)` once `done` is taken out.
pub(super) fn gaps(done: &[(u64, u64)], total: u64) -> VecDeque<(u64, u64)> {
    let mut out = VecDeque::new();
    let mut at = 0;
    for &(a, b) in done {
        if a > at {
            out.push_back((at, a));
        }
        at = at.max(b);
    }
    if at < total {
        out.push_back((at, total));
    }
    out
}

#[cfg(unix)]
pub(super) fn write_at(f: &File, buf: &[u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(f, buf, at)
}

#[cfg(windows)]
pub(super) fn write_at(f: &File, mut buf: &[u8], mut at: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        let n = f.seek_write(buf, at)?;
        buf = &buf[n..];
        at += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first save renames a new file into place; later ones rewrite it in place, a
    /// shorter record padded so it still reads back exactly; one over a page is renamed.
    #[test]
    // Judged by the file's inode, which Windows does not give (the behaviour is the same).
    #[cfg(unix)]
    fn sidecar_saves_rewrite_in_place_within_a_page() {
        use std::os::unix::fs::MetadataExt;
        let d = tempfile::tempdir().unwrap();
        let side = d.path().join("f.zip.part.json");
        let inode = || std::fs::metadata(&side).unwrap().ino();
        let rec = |n: usize| Sidecar {
            file: "f.zip".into(),
            total: 1 << 40,
            done: (0..n as u64).map(|i| (i * 1000, i * 1000 + 500)).collect(),
            ..Sidecar::default()
        };
        let read = || serde_json::from_slice::<Sidecar>(&std::fs::read(&side).unwrap()).unwrap();
        let mut open = None;
        store_sidecar(&mut open, &side, serde_json::to_vec(&rec(20)).unwrap()).unwrap();
        let first = inode();
        assert_eq!(read(), rec(20));
        store_sidecar(&mut open, &side, serde_json::to_vec(&rec(3)).unwrap()).unwrap();
        assert_eq!(inode(), first, "rewritten in place");
        assert_eq!(read(), rec(3), "the padding is read as blank space");
        store_sidecar(&mut open, &side, serde_json::to_vec(&rec(300)).unwrap()).unwrap();
        assert!(std::fs::metadata(&side).unwrap().len() > IN_PLACE_MAX as u64);
        assert_ne!(inode(), first, "over a page: renamed");
        assert_eq!(read(), rec(300));
        assert!(!sidecar_tmp(&side).exists());
    }

    #[test]
    fn ranges_merge_and_leave_gaps() {
        let d = merge(vec![(10, 20), (0, 5), (18, 30), (40, 40), (50, 200)], 100);
        assert_eq!(d, vec![(0, 5), (10, 30), (50, 100)]);
        assert_eq!(
            gaps(&d, 100).into_iter().collect::<Vec<_>>(),
            vec![(5, 10), (30, 50)]
        );
        assert_eq!(gaps(&[], 7).into_iter().collect::<Vec<_>>(), vec![(0, 7)]);
        assert!(gaps(&[(0, 7)], 7).is_empty());
    }
}
