//! Starting the disk writes early.
//!
//! A download lands in the page cache; the `fsync` before the final rename then waits for
//! all of it to reach the disk at once (60 ms for 200 MiB here, seconds for a large file on
//! a slow disk). Asking the kernel every few MiB to start writing what is already there,
//! without waiting for it, spreads that work over the download, so the final `fsync` has
//! little left to do. Durability still comes only from that `fsync`; this changes when the
//! writes happen, not what is promised.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;

/// Bytes between two requests to start writing back.
pub const EVERY: u64 = 16 * 1024 * 1024;

/// Tracks how much of a file had its writeback started; shared by every connection.
///
/// The request itself is made by a thread of its own. `sync_file_range` usually returns in
/// a few milliseconds, but waits when the disk's queue is full (0.18 and 0.73 s seen under
/// strace in three 1 GiB downloads): made by the task that reads a connection, it stopped
/// that connection, and the runtime thread under it, for as long.
#[derive(Debug, Default)]
pub struct Writeback {
    started_at: AtomicU64,
    /// Wakes the thread; a request already waiting absorbs the next (it covers the whole
    /// file). `None`: no file, or a system without the call.
    wake: Option<SyncSender<()>>,
}

impl Writeback {
    /// `file`: a handle of the file for the thread (opened again, or a duplicate), which
    /// keeps it until this is dropped and its request under way, if any, returns.
    pub fn new(file: Option<std::fs::File>, already: u64) -> Self {
        Writeback {
            started_at: AtomicU64::new(already),
            wake: file.and_then(spawn),
        }
    }

    /// Called with the bytes now on disk (in the page cache): every [`EVERY`] bytes, asks
    /// the kernel to start writing the file's dirty pages, without waiting. One caller wins
    /// each step.
    pub fn landed(&self, done: u64) {
        let at = self.started_at.load(Ordering::Acquire);
        if done >= at + EVERY
            && self
                .started_at
                .compare_exchange(at, done, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            && let Some(wake) = &self.wake
        {
            let _ = wake.try_send(());
        }
    }
}

/// The thread that asks for the writeback (Linux); elsewhere none: the final `fsync` does
/// it all.
#[cfg(target_os = "linux")]
fn spawn(file: std::fs::File) -> Option<SyncSender<()>> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
    std::thread::Builder::new()
        .name("writeback".into())
        .spawn(move || {
            while rx.recv().is_ok() {
                start(&file);
            }
        })
        .ok()?;
    Some(tx)
}

#[cfg(not(target_os = "linux"))]
fn spawn(_file: std::fs::File) -> Option<SyncSender<()>> {
    None
}

/// Starts writing back every dirty page of `file` and returns without waiting for the
/// writes (it may wait for room in the disk's queue).
#[cfg(target_os = "linux")]
fn start(file: &std::fs::File) {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: `fd` is borrowed from an open file for the length of the call; the call
    // reads no memory of ours. Errors only mean the writeback starts later, at fsync.
    unsafe {
        libc::sync_file_range(fd, 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_request_per_step_and_none_before_the_first() {
        let f = tempfile::tempfile().unwrap();
        let w = Writeback::new(Some(f), 0);
        assert_eq!(w.wake.is_some(), cfg!(target_os = "linux"), "its thread");
        w.landed(EVERY - 1);
        assert_eq!(w.started_at.load(Ordering::Acquire), 0);
        w.landed(EVERY + 5);
        assert_eq!(w.started_at.load(Ordering::Acquire), EVERY + 5);
        w.landed(EVERY + 6);
        assert_eq!(w.started_at.load(Ordering::Acquire), EVERY + 5);
    }
}
