//! Parallel ranged downloads: one preallocated `.part`, segments written at their offsets
//! over up to N connections, added one step at a time while the total rate grows. A small
//! sidecar (`<file>.part.json`) records the total size, the ETag and the finished ranges, so
//! a crash or `kill -9` resumes every unfinished segment. A host that ignores `Range` gets
//! the single stream of `download.rs`.

use crate::download::{
    DownloadError, Downloader, Meter, Progress, describe, s3_message, url_refused,
};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use reqwest::{StatusCode, header};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// No segment is split below this.
const MIN_SPLIT: u64 = 1024 * 1024;
/// A connection asks for this much at first, then twice as much each time, up to
/// `MAX_REQUEST`. A split takes bytes not yet asked for when there are some: whatever a host
/// has already sent past a shortened end would be read for nothing (on loopback, megabytes of
/// socket buffers per split). Only the tail split (`STEAL_AFTER`) cuts into an asked range.
const FIRST_REQUEST: u64 = 16 * 1024 * 1024;
const MAX_REQUEST: u64 = 128 * 1024 * 1024;
/// Near the end, when nothing is left that no connection has asked for, an idle connection
/// takes the second half of what another has asked for but not yet received, if that one
/// alone would need longer than this to finish. What the host had already sent past the new
/// end is read for nothing; at this much time left it is a small part of what is saved.
/// On a distant host, longer: eight of its quickest answers (see [`Shared::steal_after`]).
const STEAL_AFTER: Duration = Duration::from_millis(250);
/// The rate is measured over windows this long at least; on a distant host, over the
/// quickest answer seen (a round trip or more), up to `RAMP_WINDOW_MAX`.
const RAMP_STEP: Duration = Duration::from_millis(50);
const RAMP_WINDOW_MAX: Duration = Duration::from_secs(1);
/// A new connection is kept up only if the total rate grew by this much.
const RAMP_GAIN: f64 = 1.2;
/// A step that has not yet grown by `RAMP_GAIN` is judged once its rate stops growing: a
/// window less than this factor over the one before. Far away, a new connection starts in
/// TCP's slow start and needs several round trips to reach its pace.
const RAMP_PLATEAU: f64 = 1.1;
/// A host whose first answer takes this long is far away: see [`Ramp::second_now`].
const FAR: Duration = Duration::from_millis(200);

/// The connection ramp: one connection first, then double while each step raises the total
/// rate by `RAMP_GAIN`; stop adding at the first step that does not, or at the maximum.
#[derive(Debug)]
pub(crate) struct Ramp {
    pub target: usize,
    max: usize,
    open: bool,
    last_rate: Option<f64>,
    /// The current step's last window.
    window_rate: Option<f64>,
}

impl Ramp {
    pub fn new(max: usize) -> Self {
        Self {
            target: 1,
            max,
            open: max > 1,
            last_rate: None,
            window_rate: None,
        }
    }

    /// The total rate over one window of the current step; returns how many connections to
    /// run now. The step is judged (see [`Ramp::step`]) at once when it is the first or has
    /// grown enough, else when its rate has stopped growing.
    pub fn window(&mut self, rate: f64) -> usize {
        if !self.open {
            return self.target;
        }
        let judge = match (self.last_rate, self.window_rate) {
            (Some(last), Some(prev)) => rate >= last * RAMP_GAIN || rate < prev * RAMP_PLATEAU,
            (Some(last), None) => rate >= last * RAMP_GAIN,
            (None, _) => true,
        };
        if !judge {
            self.window_rate = Some(rate);
            return self.target;
        }
        self.window_rate = None;
        self.step(rate)
    }

    /// A distant host: a second connection starts before the first one's rate is known;
    /// [`Ramp::alone`] gives that rate once the second answers. False when one is the most.
    pub fn second_now(&mut self) -> bool {
        if !self.open || self.last_rate.is_some() {
            return false;
        }
        self.target = 2.min(self.max);
        self.open = self.target < self.max;
        self.target == 2
    }

    /// The first connection's rate alone, measured while the second connected: the first
    /// step's, which the second is judged against.
    pub fn alone(&mut self, rate: f64) {
        self.last_rate = Some(rate);
    }

    /// The total rate over the last step; returns how many connections to run now.
    fn step(&mut self, rate: f64) -> usize {
        if self.open {
            match self.last_rate {
                Some(prev) if rate < prev * RAMP_GAIN => self.open = false,
                _ if self.target >= self.max => self.open = false,
                _ => {
                    self.last_rate = Some(rate);
                    self.target = (self.target * 2).min(self.max);
                }
            }
        }
        self.target
    }

    pub fn is_open(&self) -> bool {
        self.open
    }
}

/// What the sidecar holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Sidecar {
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
    pub(crate) fn done_bytes(&self) -> u64 {
        merge(self.done.clone(), self.total)
            .iter()
            .map(|r| r.1 - r.0)
            .sum()
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

pub(crate) fn sidecar_path(part: &Path) -> PathBuf {
    let mut s = part.as_os_str().to_owned();
    s.push(".json");
    PathBuf::from(s)
}

/// The largest sidecar rewritten in place: one page, which the kernel copies whole.
const IN_PLACE_MAX: usize = 4096;

/// Writes a sidecar's bytes as [`Shared::save`] says; `open`: the sidecar as last written
/// here, open, with its length.
fn store_sidecar(
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
        drop(crate::ownfile::open_own(
            &tmp,
            crate::ownfile::Access::Read,
        )?);
        std::fs::remove_file(&tmp)?;
    }
    {
        use std::io::Write;
        let mut f = crate::ownfile::create_new(&tmp)?;
        f.write_all(&bytes)?;
    }
    std::fs::rename(&tmp, side)?;
    *open = crate::ownfile::open_own(side, crate::ownfile::Access::Write)
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
pub(crate) fn read_sidecar_bytes(side: &Path) -> Result<Option<Vec<u8>>, DownloadError> {
    match crate::ownfile::read_own(side) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(crate::download::disk_error(side, e, 0)),
    }
}

/// The sidecar's record, when there is one that reads.
pub(crate) fn read_sidecar(side: &Path) -> Result<Option<Sidecar>, DownloadError> {
    Ok(read_sidecar_bytes(side)?.and_then(|b| serde_json::from_slice(&b).ok()))
}

/// Deletes a sidecar, and the temporary one a save cut short by a kill left beside it.
/// Only files of ours: whatever someone else put under those names stays.
pub(crate) fn remove_sidecar(side: &Path) {
    crate::ownfile::remove_own(side);
    crate::ownfile::remove_own(&sidecar_tmp(side));
}

/// Sorted, merged, clipped to `[0, total)`.
fn merge(mut v: Vec<(u64, u64)>, total: u64) -> Vec<(u64, u64)> {
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
fn gaps(done: &[(u64, u64)], total: u64) -> VecDeque<(u64, u64)> {
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

/// A range one connection is filling: `pos` moves up as bytes land on disk; `end` may move
/// down when the rest is split off to a new connection: to `asked` or above, or, by the tail
/// split, below it (the connection then stops at `end` and drops the rest of its answer).
struct Seg {
    start: u64,
    /// When this connection was started: its own rate is `(pos - start)` since then.
    began: Instant,
    pos: AtomicU64,
    end: AtomicU64,
    /// The end of what this connection has asked the host for so far.
    asked: AtomicU64,
}

/// What all connections of one transfer share.
struct Shared {
    file: File,
    side: PathBuf,
    record: Mutex<Sidecar>,
    segs: Mutex<Vec<Arc<Seg>>>,
    /// Bytes on disk, counting what was there before.
    done: AtomicU64,
    /// Connections asked for and not yet answered: the ramp judges a step only once every
    /// new connection delivers (a TLS handshake far away takes longer than a step).
    starting: std::sync::atomic::AtomicUsize,
    /// Signalled when `starting` falls to 0: the ramp's next step is timed from then.
    all_answered: tokio::sync::Notify,
    /// The quickest answer so far (µs from asking to the headers): a round trip to the
    /// host, or more while every answer came on a new connection.
    quickest_answer: AtomicU64,
    saved_at: AtomicU64,
    /// The sidecar is rewritten each time this many more bytes are on disk (0.25 % of the
    /// file), so a crash re-fetches about that much plus what was in flight: well under the
    /// 1 % promised, for every size the segmented path takes.
    save_every: u64,
    /// Starts the disk writes every few MiB so the final fsync is short.
    writeback: crate::writeback::Writeback,
    /// One writer at a time: two saves racing on the temporary file could rename a torn
    /// one. Holds the sidecar once written, open for in-place saves, with the length written.
    saving: Mutex<Option<(File, usize)>>,
    /// Asks the sidecar writer (`Saver`) for a save; a save already asked for absorbs more.
    save_wanted: Mutex<Option<std::sync::mpsc::SyncSender<()>>>,
}

impl Shared {
    /// How long the ramp measures the rate for: a round trip to the host at least.
    fn ramp_window(&self) -> Duration {
        Duration::from_micros(self.quickest_answer.load(Ordering::Relaxed))
            .clamp(RAMP_STEP, RAMP_WINDOW_MAX)
    }

    /// How long the slowest connection must still need for a tail split to pay. Far away, a
    /// split's new request may need a new connection: three round trips to its answer (TCP,
    /// TLS, the request), then slow start before it matches the pace of the one it relieves.
    /// It pays when the victim alone would need twice that: about eight round trips.
    fn steal_after(&self) -> Duration {
        STEAL_AFTER.max(Duration::from_micros(self.quickest_answer.load(Ordering::Relaxed)) * 8)
    }

    fn answered_in(&self, took: Duration) {
        self.quickest_answer
            .fetch_min(took.as_micros() as u64, Ordering::Relaxed);
    }

    fn done_ranges(&self) -> Vec<(u64, u64)> {
        let rec = self.record.lock().unwrap_or_else(|e| e.into_inner());
        let mut v = rec.done.clone();
        for s in self.segs.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            v.push((s.start, s.pos.load(Ordering::Acquire)));
        }
        merge(v, rec.total)
    }

    /// Writes the sidecar so that a kill leaves the old one or the new one, never a mix.
    ///
    /// The first save goes to a temporary file renamed over the sidecar. Later ones rewrite
    /// it in place with one positioned write, padded with spaces (which JSON ignores) to
    /// the length already there, as long as that fits in the file's first page: the kernel
    /// copies one page whole, even when the process is killed during the call. A rename
    /// waits for the journal, and on a file system mounted with `discard` for the disk
    /// (seen at 40 ms, while 400 MB/s landed unrecorded); a write to the page cache does not.
    /// Larger records take the rename again.
    fn save(&self) -> std::io::Result<()> {
        let mut open = self.saving.lock().unwrap_or_else(|e| e.into_inner());
        let done = self.done_ranges();
        let rec = {
            let r = self.record.lock().unwrap_or_else(|e| e.into_inner());
            Sidecar { done, ..r.clone() }
        };
        let bytes = serde_json::to_vec(&rec).map_err(std::io::Error::other)?;
        store_sidecar(&mut open, &self.side, bytes)
    }

    fn landed(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::AcqRel) + n;
        self.writeback.landed(done);
        let saved = self.saved_at.load(Ordering::Acquire);
        if done >= saved + self.save_every
            && self
                .saved_at
                .compare_exchange(saved, done, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            // Not here: the rename frees the old sidecar's blocks, and a file system mounted
            // with `discard` then waits for the disk (about 1 ms a save here, 0.4 s per GiB
            // when it held up the connections).
            if let Some(tx) = &*self.save_wanted.lock().unwrap_or_else(|e| e.into_inner()) {
                let _ = tx.try_send(());
            }
        }
    }
}

/// The sidecar writer: saves on a blocking thread while the connections go on. `stop` waits
/// for a save under way, so none lands after the caller renames the `.part` and deletes the
/// sidecar; dropped (the transfer dropped), the thread ends after its current save.
struct Saver {
    shared: Arc<Shared>,
    thread: Option<tokio::task::JoinHandle<()>>,
}

impl Saver {
    fn start(shared: &Arc<Shared>) -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
        *shared.save_wanted.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
        let s = shared.clone();
        let thread = tokio::task::spawn_blocking(move || {
            while rx.recv().is_ok() {
                let _ = s.save();
            }
        });
        Saver {
            shared: shared.clone(),
            thread: Some(thread),
        }
    }

    /// Drops the sender: the writer's thread ends after the save under way, if any.
    fn close(&self) {
        self.shared
            .save_wanted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }

    /// Ends the writer, then writes the sidecar as it stands now.
    async fn stop_and_save(&mut self) -> std::io::Result<()> {
        self.close();
        if let Some(t) = self.thread.take() {
            let _ = t.await;
        }
        self.shared.save()
    }
}

impl Drop for Saver {
    fn drop(&mut self) {
        self.close();
    }
}

/// The tail split: the connection that would take longest to finish alone at its own rate
/// so far, if that is over `after`, gives up the second half of what it has left.
/// Returns the connection, the new end it keeps and the old end.
fn tail_split(segs: &[Arc<Seg>], after: Duration) -> Option<(&Arc<Seg>, u64, u64)> {
    // Seconds left at the connection's rate so far, with its position and end.
    let left = |s: &Seg| {
        let (pos, end) = (s.pos.load(Ordering::Acquire), s.end.load(Ordering::Acquire));
        let running = s.began.elapsed().as_secs_f64();
        // A connection with nothing to show yet has no rate to judge by.
        if pos - s.start < MIN_SPLIT / 4 || running < RAMP_STEP.as_secs_f64() {
            return None;
        }
        let rate = (pos - s.start) as f64 / running;
        Some((end.saturating_sub(pos) as f64 / rate, pos, end))
    };
    let (v, (secs_left, pos, end)) = segs
        .iter()
        .filter_map(|s| left(s).map(|l| (s, l)))
        .max_by(|a, b| a.1.0.total_cmp(&b.1.0))?;
    let mid = pos + (end - pos) / 2;
    (secs_left > after.as_secs_f64() && end - mid >= MIN_SPLIT).then_some((v, mid, end))
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
fn allocate(file: &File, total: u64) -> std::io::Result<()> {
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
fn allocate(_file: &File, _total: u64) -> std::io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn write_at(f: &File, buf: &[u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(f, buf, at)
}

#[cfg(windows)]
fn write_at(f: &File, mut buf: &[u8], mut at: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        let n = f.seek_write(buf, at)?;
        buf = &buf[n..];
        at += n as u64;
    }
    Ok(())
}

/// Why a connection ended early.
enum WorkerError {
    /// Worth another try (network, timeout, 5xx, a drip).
    Net(String),
    /// The signed URL was refused: get a fresh one.
    Expired(u16, String),
    Disk(DownloadError),
}

/// How the segmented path ended.
pub(crate) enum Outcome {
    /// `check_all`: it resumed ranges recorded before the system restarted (or by a version
    /// that did not say when): every entry's CRC must be checked.
    Done { check_all: bool },
    /// The host answered a ranged request with the whole file: use one stream.
    NoRanges,
}

/// A total rate limit shared by every connection of every transfer that holds it.
#[derive(Debug)]
pub struct RateLimit {
    bytes_per_sec: u64,
    next: Mutex<Instant>,
}

impl RateLimit {
    pub fn new(bytes_per_sec: u64) -> Self {
        Self {
            bytes_per_sec: bytes_per_sec.max(1),
            next: Mutex::new(Instant::now()),
        }
    }

    pub fn bytes_per_sec(&self) -> u64 {
        self.bytes_per_sec
    }

    /// Waits for `n` bytes' turn: each chunk takes its slot of time after the previous one.
    pub async fn take(&self, n: usize) {
        let start = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            // An idle limiter saves up at most a quarter second of burst.
            let start = (*next).max(now.checked_sub(Duration::from_millis(250)).unwrap_or(now));
            *next = start + Duration::from_secs_f64(n as f64 / self.bytes_per_sec as f64);
            start
        };
        tokio::time::sleep_until(start.into()).await;
    }
}

impl Downloader {
    /// Fills `part` (`total` bytes) over up to `self.connections` ranged connections.
    /// `url` is updated when a fresh one had to be fetched.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn fetch_segmented<F, Fut>(
        &self,
        url: &mut String,
        refresh: &mut F,
        part: &Path,
        file_name: &str,
        total: u64,
        on_progress: &mut (dyn FnMut(Progress) + Send),
        cancel: &CancellationToken,
    ) -> Result<Outcome, DownloadError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<String>>,
    {
        let side = sidecar_path(part);
        // What an earlier attempt finished: the sidecar, or a single stream's `.part`.
        let side_bytes = read_sidecar_bytes(&side)?;
        let had_side = side_bytes.is_some();
        let mut record = match side_bytes.and_then(|b| serde_json::from_slice::<Sidecar>(&b).ok()) {
            Some(s) if s.file == file_name && s.total == total => s,
            _ => {
                let len = std::fs::symlink_metadata(part)
                    .map(|m| m.len())
                    .unwrap_or(0);
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
        let mut queue = gaps(&record.done, total);
        let Some(&(first_a, first_b)) = queue.front() else {
            return Ok(Outcome::Done { check_all });
        };
        // The first connection asks for the start of the first gap.
        let first_upto = first_b.min(first_a + FIRST_REQUEST);

        // The first ranged request: does the host do ranges, and is it the same file?
        let mut failures = 0u32;
        let mut refreshes = crate::download::UrlRefreshes::default();
        let (probe, probe_took) = loop {
            squarecloud::check_url(url).map_err(|e| DownloadError::Insecure(e.0))?;
            if cancel.is_cancelled() {
                return Err(DownloadError::Cancelled {
                    part: part.to_path_buf(),
                    bytes: record.done.iter().map(|r| r.1 - r.0).sum(),
                });
            }
            let mut req = self
                .http
                .get(url.as_str())
                .header(header::RANGE, format!("bytes={first_a}-{}", first_upto - 1));
            if let Some(tag) = &record.etag {
                req = req.header(header::IF_RANGE, tag);
            }
            let asked = Instant::now();
            let resp = match self.send(req).await {
                Ok(r) => r,
                Err(detail) => {
                    failures += 1;
                    self.give_up_or_wait(failures, &detail, cancel).await?;
                    continue;
                }
            };
            match resp.status() {
                StatusCode::PARTIAL_CONTENT => {
                    let range = crate::download::parse_content_range(
                        resp.headers().get(header::CONTENT_RANGE),
                    );
                    if range != Some((first_a, Some(total))) {
                        // Another size, or a range we did not ask for: let one stream decide.
                        return Ok(Outcome::NoRanges);
                    }
                    break (resp, asked.elapsed());
                }
                StatusCode::OK => return Ok(Outcome::NoRanges),
                s if url_refused(s) => {
                    let detail = s3_message(resp).await;
                    if let Some(fresh) = refreshes.fresh(refresh).await {
                        *url = fresh;
                        continue;
                    }
                    return Err(DownloadError::Rejected {
                        status: s.as_u16(),
                        detail,
                    });
                }
                s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
                    failures += 1;
                    self.give_up_or_wait(failures, &format!("HTTP {}", s.as_u16()), cancel)
                        .await?;
                }
                // Anything else: the single stream knows how to explain it.
                _ => return Ok(Outcome::NoRanges),
            }
        };
        let h = |n: header::HeaderName| {
            probe
                .headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        record.etag = h(header::ETAG).or(record.etag);
        record.last_modified = h(header::LAST_MODIFIED).or(record.last_modified);

        // One file, preallocated to its final size; every connection writes at its offset.
        let file = crate::ownfile::open_or_create(part, crate::ownfile::Access::Write)
            .map_err(|e| crate::download::disk_error(part, e, 0))?;
        let already: u64 = record.done.iter().map(|r| r.1 - r.0).sum();
        // The sidecar before the length: a `.part` of full length without one would read,
        // after a kill here, as a file one stream had finished.
        let mut sidecar = None;
        if let Err(e) = serde_json::to_vec(&record)
            .map_err(std::io::Error::other)
            .and_then(|b| store_sidecar(&mut sidecar, &side, b))
        {
            // Nothing fetched yet: the `.part` just made goes too, so a refusal leaves the
            // folder as it was.
            if already == 0 && file.metadata().is_ok_and(|m| m.len() == 0) {
                drop(file);
                crate::ownfile::remove_own(part);
            }
            return Err(crate::download::disk_error(&side, e, already));
        }
        if file.metadata().map(|m| m.len()).unwrap_or(0) != total {
            file.set_len(total)
                .map_err(|e| crate::download::disk_error(part, e, already))?;
        }
        if let Err(e) = allocate(&file, total) {
            if already > 0 {
                return Err(crate::download::disk_error(part, e, already));
            }
            // Nothing fetched yet: nothing to keep either.
            drop(file);
            crate::ownfile::remove_own(part);
            remove_sidecar(&side);
            return Err(DownloadError::NoRoom {
                dir: part.parent().unwrap_or(part).to_path_buf(),
                needed: total,
            });
        }
        let writeback = crate::writeback::Writeback::new(file.try_clone().ok(), already);
        let shared = Arc::new(Shared {
            file,
            side: side.clone(),
            record: Mutex::new(record),
            segs: Mutex::new(Vec::new()),
            done: AtomicU64::new(already),
            starting: std::sync::atomic::AtomicUsize::new(0),
            all_answered: tokio::sync::Notify::new(),
            quickest_answer: AtomicU64::new(probe_took.as_micros() as u64),
            saved_at: AtomicU64::new(already),
            save_every: (total / 400).max(64 * 1024),
            saving: Mutex::new(sidecar),
            save_wanted: Mutex::new(None),
            writeback,
        });
        let mut saver = Saver::start(&shared);
        let mut meter = Meter::new(already);
        let url_now = Arc::new(Mutex::new(url.clone()));

        let mut workers = FuturesUnordered::new();
        let spawn = |seg: Arc<Seg>, resp: Option<reqwest::Response>, delay: Duration| {
            let (me, shared, url, cancel) = (
                self.clone(),
                shared.clone(),
                url_now.clone(),
                cancel.clone(),
            );
            async move {
                tokio::time::sleep(delay).await;
                let before = seg.pos.load(Ordering::Acquire);
                let r = me.fill(&seg, resp, &shared, &url, &cancel).await;
                let progressed = seg.pos.load(Ordering::Acquire) > before;
                (seg, r, progressed)
            }
        };
        let new_seg = |a: u64, b: u64| {
            let s = Arc::new(Seg {
                start: a,
                began: Instant::now(),
                pos: AtomicU64::new(a),
                end: AtomicU64::new(b),
                asked: AtomicU64::new(a),
            });
            shared
                .segs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(s.clone());
            s
        };
        queue.pop_front();
        let first = new_seg(first_a, first_b);
        first.asked.store(first_upto, Ordering::Release);
        workers.push(spawn(first, Some(probe), Duration::ZERO));
        let mut active = 1usize;
        let mut ramp = Ramp::new(self.connections);
        // The current step's start and the bytes on disk then; None while connections start.
        // The probe has answered, so the first step starts now.
        let mut step: Option<(Instant, u64)> = Some((Instant::now(), already));
        // A distant host: the second connection starts now, and the first one's rate alone
        // is measured while it connects (as long as the probe took, a window's worth).
        let far = probe_took >= FAR && ramp.second_now();
        let mut alone = if far { step } else { None };
        // Bytes a second since `at`, when `bytes` were on disk.
        let rate_since = |(at, bytes): (Instant, u64), done: u64| {
            (done - bytes) as f64 / at.elapsed().as_secs_f64()
        };
        let mut retry_delay = Duration::ZERO;
        let mut ticker = tokio::time::interval(Duration::from_millis(25));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

        loop {
            // Stopped: no new connection starts, and the range a stopped one left is not
            // mistaken for a finished file (that would fail the check and lose the `.part`).
            if cancel.is_cancelled() {
                while workers.next().await.is_some() {}
                let _ = saver.stop_and_save().await;
                return Err(DownloadError::Cancelled {
                    part: part.to_path_buf(),
                    bytes: shared.done.load(Ordering::Acquire),
                });
            }
            // Start connections up to the target: a gap left by a failed one first, else
            // the larger half of the biggest range still being filled, else (near the end)
            // the second half of what the slowest connection has left.
            while active < ramp.target {
                let seg = if let Some((a, b)) = queue.pop_front() {
                    new_seg(a, b)
                } else {
                    let segs = shared
                        .segs
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .clone();
                    // The range with the most not yet asked for gives up half of it (or
                    // what is past what it asked for, if that is less).
                    let free = |s: &Seg| {
                        let from = s
                            .pos
                            .load(Ordering::Acquire)
                            .max(s.asked.load(Ordering::Acquire));
                        s.end.load(Ordering::Acquire).saturating_sub(from)
                    };
                    let victim = segs.iter().max_by_key(|s| free(s));
                    let Some(v) = victim else { break };
                    let (pos, end) = (v.pos.load(Ordering::Acquire), v.end.load(Ordering::Acquire));
                    let mid = (pos + (end - pos) / 2).max(v.asked.load(Ordering::Acquire));
                    let split =
                        if end.saturating_sub(mid) >= MIN_SPLIT && end - pos >= 2 * MIN_SPLIT {
                            Some((v, mid, end))
                        } else {
                            tail_split(&segs, shared.steal_after())
                        };
                    let Some((v, mid, end)) = split else { break };
                    v.end.store(mid, Ordering::Release);
                    new_seg(mid, end)
                };
                shared.starting.fetch_add(1, Ordering::AcqRel);
                step = None;
                workers.push(spawn(seg, None, retry_delay));
                retry_delay = Duration::ZERO;
                active += 1;
            }
            if active == 0 && queue.is_empty() {
                break;
            }
            tokio::select! {
                Some((seg, r, progressed)) = workers.next() => {
                    active -= 1;
                    if progressed {
                        failures = 0;
                    }
                    let (pos, end) = (seg.pos.load(Ordering::Acquire), seg.end.load(Ordering::Acquire));
                    // This connection is over: what it did not fill goes back to the queue
                    // (below), never to a split of its old range as well.
                    seg.end.store(pos, Ordering::Release);
                    match r {
                        Ok(()) => {}
                        Err(_) if cancel.is_cancelled() => {
                            if pos < end {
                                queue.push_front((pos, end));
                            }
                        }
                        Err(WorkerError::Disk(e)) => {
                            let _ = saver.stop_and_save().await;
                            return Err(e);
                        }
                        Err(WorkerError::Expired(status, detail)) => {
                            queue.push_front((pos, end));
                            match refreshes.fresh(refresh).await {
                                Some(f) => {
                                    *url_now.lock().unwrap_or_else(|e| e.into_inner()) = f.clone();
                                    *url = f;
                                }
                                None => {
                                    let _ = saver.stop_and_save().await;
                                    return Err(DownloadError::Rejected { status, detail });
                                }
                            }
                        }
                        Err(WorkerError::Net(detail)) => {
                            if pos < end {
                                queue.push_front((pos, end));
                            }
                            failures += 1;
                            if failures >= self.max_failures {
                                let _ = saver.stop_and_save().await;
                                return Err(DownloadError::Network { detail, attempts: failures });
                            }
                            retry_delay = self.backoff_for(failures);
                        }
                    }
                }
                _ = ticker.tick() => {
                    let done = shared.done.load(Ordering::Acquire);
                    if let Some(p) = meter.tick(done, Some(total)) {
                        on_progress(p);
                    }
                }
                // Every connection asked for has answered: the step is timed from here.
                _ = shared.all_answered.notified(), if ramp.is_open() && step.is_none() => {
                    if shared.starting.load(Ordering::Acquire) == 0 {
                        let done = shared.done.load(Ordering::Acquire);
                        if let Some(from) = alone.take() {
                            ramp.alone(rate_since(from, done));
                        }
                        step = Some((Instant::now(), done));
                    }
                }
                // A window is over: the ramp weighs its rate (new connections start at the top).
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(step.map_or_else(Instant::now, |s| s.0) + shared.ramp_window())),
                    if ramp.is_open() && step.is_some() => {
                    if let Some(from) = step {
                        let done = shared.done.load(Ordering::Acquire);
                        ramp.window(rate_since(from, done));
                        step = Some((Instant::now(), done));
                    }
                }
                // Stopped: the top of the loop lets the connections notice and records
                // what they finished.
                _ = cancel.cancelled() => {}
            }
        }
        shared
            .file
            .sync_all()
            .map_err(|e| crate::download::disk_error(part, e, total))?;
        let _ = saver.stop_and_save().await;
        on_progress(meter.force(total, Some(total)));
        Ok(Outcome::Done { check_all })
    }

    /// One connection: requests `[pos, end)` (unless handed the probe's answer) and writes
    /// what arrives at its offset until `end`, which may shrink while it runs.
    async fn fill(
        &self,
        seg: &Seg,
        resp: Option<reqwest::Response>,
        shared: &Shared,
        url: &Mutex<String>,
        cancel: &CancellationToken,
    ) -> Result<(), WorkerError> {
        /// Counts this connection as started when dropped: answered, failed or cancelled.
        struct Answered<'a>(&'a Shared);
        impl Drop for Answered<'_> {
            fn drop(&mut self) {
                if self.0.starting.fetch_sub(1, Ordering::AcqRel) == 1 {
                    self.0.all_answered.notify_one();
                }
            }
        }
        // Only a connection the main loop counted as starting (not the probe's) reports its
        // first answer (`then`, not `then_some`: a guard built for nothing counts down).
        let mut answered = resp.is_none().then(|| Answered(shared));
        let mut handed = resp;
        let mut ask = FIRST_REQUEST;
        loop {
            let resp = match handed.take() {
                Some(r) => r,
                None => {
                    let (pos, end) = (
                        seg.pos.load(Ordering::Acquire),
                        seg.end.load(Ordering::Acquire),
                    );
                    if pos >= end {
                        return Ok(());
                    }
                    let upto = end.min(pos + ask);
                    ask = (ask * 2).min(MAX_REQUEST);
                    seg.asked.fetch_max(upto, Ordering::AcqRel);
                    let r = self.ask_range(pos, upto, shared, url, cancel).await;
                    answered.take();
                    r?
                }
            };
            // This answer covers up to `asked` (or `end`, if a split came down to it).
            let upto = seg.asked.load(Ordering::Acquire);
            let mut stream = resp.bytes_stream();
            let mut floor = crate::download::Floor::new(
                seg.pos.load(Ordering::Acquire),
                self.floor_bytes_per_sec,
                self.floor_window,
            );
            loop {
                let next = tokio::select! {
                    n = tokio::time::timeout(self.read_idle, stream.next()) => n,
                    _ = cancel.cancelled() => return Err(WorkerError::Net("cancelled".into())),
                };
                let chunk = match next {
                    Ok(Some(Ok(c))) => c,
                    Ok(Some(Err(e))) => return Err(WorkerError::Net(describe(e))),
                    Ok(None) => {
                        let pos = seg.pos.load(Ordering::Acquire);
                        if pos >= seg.end.load(Ordering::Acquire) {
                            return Ok(());
                        }
                        if pos >= upto {
                            break; // this answer is complete: ask for the next part
                        }
                        return Err(WorkerError::Net("the connection closed early".into()));
                    }
                    Err(_) => return Err(WorkerError::Net("the connection went silent".into())),
                };
                if let Some(limit) = &self.limit {
                    limit.take(chunk.len()).await;
                }
                let pos = seg.pos.load(Ordering::Acquire);
                let end = seg.end.load(Ordering::Acquire).min(upto);
                let n = (chunk.len() as u64).min(end.saturating_sub(pos)) as usize;
                if n > 0 {
                    // Into the page cache before it is counted: a crash keeps what was counted.
                    write_at(&shared.file, &chunk[..n], pos).map_err(|e| {
                        // The `.part` (the sidecar's name without `.json`) and what is on
                        // disk in all, not this write's offset.
                        let part = shared.side.with_extension("");
                        let done = shared.done.load(Ordering::Acquire);
                        WorkerError::Disk(crate::download::disk_error(&part, e, done))
                    })?;
                    seg.pos.store(pos + n as u64, Ordering::Release);
                    shared.landed(n as u64);
                }
                if pos + n as u64 >= seg.end.load(Ordering::Acquire) {
                    // Done, or the rest went to another connection.
                    return Ok(());
                }
                if floor.too_slow(pos + n as u64) {
                    return Err(WorkerError::Net("the connection slowed to a drip".into()));
                }
            }
        }
    }

    /// Asks for `[pos, upto)`; the answer must be that range.
    async fn ask_range(
        &self,
        pos: u64,
        upto: u64,
        shared: &Shared,
        url: &Mutex<String>,
        cancel: &CancellationToken,
    ) -> Result<reqwest::Response, WorkerError> {
        let u = url.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut req = self
            .http
            .get(u)
            .header(header::RANGE, format!("bytes={pos}-{}", upto - 1));
        let tag = shared
            .record
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .etag
            .clone();
        if let Some(tag) = tag {
            req = req.header(header::IF_RANGE, tag);
        }
        let asked = Instant::now();
        let r = tokio::select! {
            r = self.send(req) => r.map_err(WorkerError::Net)?,
            _ = cancel.cancelled() => return Err(WorkerError::Net("cancelled".into())),
        };
        shared.answered_in(asked.elapsed());
        match r.status() {
            StatusCode::PARTIAL_CONTENT => {
                let got =
                    crate::download::parse_content_range(r.headers().get(header::CONTENT_RANGE));
                if got.map(|g| g.0) != Some(pos) {
                    return Err(WorkerError::Net("the host sent another range".into()));
                }
                Ok(r)
            }
            s if url_refused(s) => Err(WorkerError::Expired(s.as_u16(), s3_message(r).await)),
            s => Err(WorkerError::Net(format!("HTTP {}", s.as_u16()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first save renames a new file into place; later ones rewrite it in place, a
    /// shorter record padded so it still reads back exactly; one over a page is renamed.
    #[test]
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

    #[test]
    fn a_step_is_judged_once_it_grew_enough_or_stopped_growing() {
        let mut r = Ramp::new(4);
        // The first window sets the baseline and doubles.
        assert_eq!(r.window(1e6), 2);
        // Slow start: growing by 10 % or more a window, not yet by 20 %: not judged yet.
        assert_eq!(r.window(1.05e6), 2);
        assert_eq!(r.window(1.17e6), 2);
        // Then 20 % over the last step: judged at once, doubled; at the most, it stops.
        assert_eq!(r.window(2e6), 4);
        assert_eq!(r.window(4e6), 4);
        assert!(!r.is_open());

        // Two windows within 10 % of each other and no gain: judged, and the ramp stops.
        let mut r = Ramp::new(8);
        assert_eq!(r.window(700e6), 2);
        assert_eq!(r.window(650e6), 2);
        assert_eq!(r.window(660e6), 2);
        assert!(!r.is_open());
    }

    #[test]
    fn far_away_the_second_connection_starts_at_once() {
        let mut r = Ramp::new(4);
        assert!(r.second_now());
        assert_eq!(r.target, 2);
        // The first connection alone, measured while the second connected; the two together
        // double it: on to four.
        r.alone(10e6);
        assert_eq!(r.window(20e6), 4);
        // At most two: the second is the last.
        let mut r = Ramp::new(2);
        assert!(r.second_now());
        assert!(!r.is_open());
        assert!(!Ramp::new(1).second_now());
    }

    #[test]
    fn the_ramp_doubles_while_the_rate_grows_and_stops_when_it_does_not() {
        // A host that caps each connection: every step doubles the rate.
        let mut r = Ramp::new(4);
        assert_eq!(r.step(20e6), 2);
        assert_eq!(r.step(40e6), 4);
        assert_eq!(r.step(80e6), 4);
        assert!(!r.is_open());
        // A host with no cap: a second connection adds nothing, so no third.
        let mut r = Ramp::new(8);
        assert_eq!(r.step(700e6), 2);
        assert_eq!(r.step(720e6), 2);
        assert!(!r.is_open());
        assert_eq!(r.step(2e9), 2);
        // One connection asked for: never more.
        let mut r = Ramp::new(1);
        assert_eq!(r.step(1e6), 1);
    }

    #[tokio::test]
    async fn the_limit_holds_the_rate() {
        let l = RateLimit::new(1_000_000);
        let t = Instant::now();
        for _ in 0..20 {
            l.take(50_000).await;
        }
        // 1 MB at 1 MB/s, less the quarter second of burst allowed at the start.
        assert!(
            t.elapsed() >= Duration::from_millis(700),
            "{:?}",
            t.elapsed()
        );
    }
}
