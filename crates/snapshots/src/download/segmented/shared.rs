//! What the connections of one parallel download share: the `.part` they write into, the
//! ranges they fill and how a range is split for a new connection, the bytes on disk, and
//! the sidecar that records them (saved off the connections' path by its own thread).

use crate::download::pacing::{RAMP_STEP, RAMP_WINDOW_MAX};
use crate::download::part::{Sidecar, merge, store_sidecar};
use crate::download::writeback::Writeback;
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// No segment is split below this.
const MIN_SPLIT: u64 = 1024 * 1024;

/// A connection asks for this much at first, then twice as much each time, up to
/// `MAX_REQUEST`. A split takes bytes not yet asked for when there are some: whatever a host
/// has already sent past a shortened end would be read for nothing (on loopback, megabytes of
/// socket buffers per split). Only the tail split (`STEAL_AFTER`) cuts into an asked range.
pub(super) const FIRST_REQUEST: u64 = 16 * 1024 * 1024;
pub(super) const MAX_REQUEST: u64 = 128 * 1024 * 1024;

/// A host whose first answer takes this long is far away: every connection starts at once
/// (see `Ramp::all_now`) and asks for [`MAX_REQUEST`] from the first.
pub(super) const FAR: Duration = Duration::from_millis(200);
/// Near the end, when nothing is left that no connection has asked for, an idle connection
/// takes the second half of what another has asked for but not yet received, if that one
/// alone would need longer than this to finish. What the host had already sent past the new
/// end is read for nothing; at this much time left it is a small part of what is saved.
/// On a distant host, longer: eight of its quickest answers (see [`Shared::steal_after`]).
const STEAL_AFTER: Duration = Duration::from_millis(250);

/// A range one connection is filling: `pos` moves up as bytes land on disk; `end` may move
/// down when the rest is split off to a new connection: to `asked` or above, or, by the tail
/// split, below it (the connection then stops at `end` and drops the rest of its answer).
pub(super) struct Seg {
    pub start: u64,
    /// When this connection was started: its own rate is `(pos - start)` since then.
    pub began: Instant,
    pub pos: AtomicU64,
    pub end: AtomicU64,
    /// The end of what this connection has asked the host for so far.
    pub asked: AtomicU64,
}

/// What all connections of one transfer share.
pub(super) struct Shared {
    pub file: File,
    pub side: PathBuf,
    pub record: Mutex<Sidecar>,
    segs: Mutex<Vec<Arc<Seg>>>,
    /// Bytes on disk, counting what was there before.
    pub done: AtomicU64,
    /// Connections asked for and not yet answered: the ramp judges a step only once every
    /// new connection delivers (a TLS handshake far away takes longer than a step).
    pub starting: AtomicUsize,
    /// Signalled when `starting` falls to 0: the ramp's next step is timed from then.
    pub all_answered: tokio::sync::Notify,
    /// The quickest answer so far (µs from asking to the headers): a round trip to the
    /// host, or more while every answer came on a new connection.
    quickest_answer: AtomicU64,
    /// The first answer took [`FAR`] or more: a distant host.
    far: bool,
    saved_at: AtomicU64,
    /// The sidecar is rewritten each time this many more bytes are on disk (0.25 % of the
    /// file), so a crash re-fetches about that much plus what was in flight: well under the
    /// 1 % promised, for every size the segmented path takes.
    save_every: u64,
    /// Starts the disk writes every few MiB so the final fsync is short.
    writeback: Writeback,
    /// One writer at a time: two saves racing on the temporary file could rename a torn
    /// one. Holds the sidecar once written, open for in-place saves, with the length written.
    saving: Mutex<Option<(File, usize)>>,
    /// Asks the sidecar writer (`Saver`) for a save; a save already asked for absorbs more.
    save_wanted: Mutex<Option<std::sync::mpsc::SyncSender<()>>>,
}

impl Shared {
    /// The shared state of a transfer of `record.total` bytes into `file`, `already` of them
    /// on disk. `sidecar`: the sidecar as just written, open; `probe_took`: how long the
    /// first answer took.
    pub fn new(
        file: File,
        side: PathBuf,
        record: Sidecar,
        sidecar: Option<(File, usize)>,
        already: u64,
        probe_took: Duration,
    ) -> Self {
        let total = record.total;
        let writeback = Writeback::new(file.try_clone().ok(), already);
        Shared {
            file,
            side,
            record: Mutex::new(record),
            segs: Mutex::new(Vec::new()),
            done: AtomicU64::new(already),
            starting: AtomicUsize::new(0),
            all_answered: tokio::sync::Notify::new(),
            quickest_answer: AtomicU64::new(probe_took.as_micros() as u64),
            far: probe_took >= FAR,
            saved_at: AtomicU64::new(already),
            save_every: (total / 400).max(64 * 1024),
            saving: Mutex::new(sidecar),
            save_wanted: Mutex::new(None),
            writeback,
        }
    }

    /// A new range `[a, b)` for a connection to fill.
    pub fn add_seg(&self, a: u64, b: u64) -> Arc<Seg> {
        let s = Arc::new(Seg {
            start: a,
            began: Instant::now(),
            pos: AtomicU64::new(a),
            end: AtomicU64::new(b),
            asked: AtomicU64::new(a),
        });
        self.segs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(s.clone());
        s
    }

    /// A range split off one being filled, for a new connection: the larger half of the
    /// range with the most not yet asked for, else (near the end) the second half of what
    /// the slowest connection has left. None when no split pays.
    pub fn split(&self) -> Option<Arc<Seg>> {
        let segs = self.segs.lock().unwrap_or_else(|e| e.into_inner()).clone();
        // The range with the most not yet asked for gives up half of it (or what is past
        // what it asked for, if that is less).
        let free = |s: &Seg| {
            let from = s
                .pos
                .load(Ordering::Acquire)
                .max(s.asked.load(Ordering::Acquire));
            s.end.load(Ordering::Acquire).saturating_sub(from)
        };
        let v = segs.iter().max_by_key(|s| free(s))?;
        let (pos, end) = (v.pos.load(Ordering::Acquire), v.end.load(Ordering::Acquire));
        let mid = (pos + (end - pos) / 2).max(v.asked.load(Ordering::Acquire));
        let (v, mid, end) = if end.saturating_sub(mid) >= MIN_SPLIT && end - pos >= 2 * MIN_SPLIT {
            (v, mid, end)
        } else {
            tail_split(&segs, self.steal_after())?
        };
        v.end.store(mid, Ordering::Release);
        Some(self.add_seg(mid, end))
    }

    /// How long the ramp measures the rate for: a round trip to the host at least.
    pub fn ramp_window(&self) -> Duration {
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

    /// What a connection asks for first: [`FIRST_REQUEST`], or on a distant host (its first
    /// answer took [`FAR`] or more) [`MAX_REQUEST`], since each new ask idles the connection
    /// for a round trip (at 20 MB/s and 120 ms, 2.4 MB not received per ask).
    pub fn first_request(&self) -> u64 {
        if self.far { MAX_REQUEST } else { FIRST_REQUEST }
    }

    pub fn answered_in(&self, took: Duration) {
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

    pub fn landed(&self, n: u64) {
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
pub(super) struct Saver {
    shared: Arc<Shared>,
    thread: Option<tokio::task::JoinHandle<()>>,
}

impl Saver {
    pub fn start(shared: &Arc<Shared>) -> Self {
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
    pub async fn stop_and_save(&mut self) -> std::io::Result<()> {
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
