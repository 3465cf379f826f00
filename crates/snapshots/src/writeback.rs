//! Starting the disk writes early.
//!
//! A download lands in the page cache; the `fsync` before the final rename then waits for
//! all of it to reach the disk at once (60 ms for 200 MiB here, seconds for a large file on
//! a slow disk). Asking the kernel every few MiB to start writing what is already there,
//! without waiting for it, spreads that work over the download, so the final `fsync` has
//! little left to do. Durability still comes only from that `fsync`; this changes when the
//! writes happen, not what is promised.

use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes between two requests to start writing back.
pub const EVERY: u64 = 16 * 1024 * 1024;

/// Tracks how much of a file had its writeback started; shared by every connection.
#[derive(Debug, Default)]
pub struct Writeback {
    started_at: AtomicU64,
}

impl Writeback {
    pub fn new(already: u64) -> Self {
        Writeback {
            started_at: AtomicU64::new(already),
        }
    }

    /// Called with the bytes now on disk (in the page cache): every [`EVERY`] bytes, asks
    /// the kernel to start writing the file's dirty pages. One caller wins each step.
    pub fn landed<F: AsFd>(&self, file: &F, done: u64) {
        let at = self.started_at.load(Ordering::Acquire);
        if done >= at + EVERY
            && self
                .started_at
                .compare_exchange(at, done, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            start(file);
        }
    }
}

/// An open file (std's or tokio's): on Unix, anything with a file descriptor.
#[cfg(unix)]
pub trait AsFd: std::os::fd::AsFd {}
#[cfg(unix)]
impl<T: std::os::fd::AsFd> AsFd for T {}
/// An open file: the other systems do nothing with it.
#[cfg(not(unix))]
pub trait AsFd {}
#[cfg(not(unix))]
impl<T> AsFd for T {}

/// Starts writing back every dirty page of `file` and returns without waiting (Linux);
/// elsewhere, nothing: the final `fsync` does it all.
#[cfg(target_os = "linux")]
fn start<F: AsFd>(file: &F) {
    use std::os::fd::AsRawFd;
    let fd = std::os::fd::AsFd::as_fd(file).as_raw_fd();
    // SAFETY: `fd` is borrowed from an open file for the length of the call; the call
    // reads no memory of ours. Errors only mean the writeback starts later, at fsync.
    unsafe {
        libc::sync_file_range(fd, 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start<F: AsFd>(_file: &F) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_request_per_step_and_none_before_the_first() {
        let f = tempfile::tempfile().unwrap();
        let w = Writeback::new(0);
        w.landed(&f, EVERY - 1);
        assert_eq!(w.started_at.load(Ordering::Acquire), 0);
        w.landed(&f, EVERY + 5);
        assert_eq!(w.started_at.load(Ordering::Acquire), EVERY + 5);
        w.landed(&f, EVERY + 6);
        assert_eq!(w.started_at.load(Ordering::Acquire), EVERY + 5);
    }
}
