//! The connections of one parallel download at work: started up to what the ramp allows,
//! each failed one's range put back for another, the progress reported, until every range
//! is on disk or the download fails or stops.

use super::connection::WorkerError;
use super::shared::{FAR, Saver, Seg, Shared};
use crate::download::client::{Downloader, Tries};
use crate::download::error::{DownloadError, disk_error};
use crate::download::pacing::{Meter, Ramp};
use crate::download::target::Progress;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use std::collections::VecDeque;
use std::future::Future;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// A connection that ended: its range, how it ended, and whether it wrote anything.
type Ended = (Arc<Seg>, Result<(), WorkerError>, bool);

/// One parallel download's connections and the ramp that sizes them.
pub(super) struct Transfer<'a> {
    dl: &'a Downloader,
    shared: Arc<Shared>,
    part: &'a Path,
    cancel: &'a CancellationToken,
    /// The URL every connection asks, replaced when one is refused.
    url_now: Arc<Mutex<String>>,
    /// Ranges no connection is filling: gaps of an earlier attempt, or a failed one's rest.
    queue: VecDeque<(u64, u64)>,
    workers: FuturesUnordered<BoxFuture<'static, Ended>>,
    active: usize,
    ramp: Ramp,
    /// The current step's start and the bytes on disk then; None while connections start.
    step: Option<(Instant, u64)>,
    /// The backoff the next connection waits, after a failure.
    retry_delay: Duration,
    saver: Saver,
    meter: Meter,
}

/// Bytes a second since `at`, when `bytes` were on disk.
fn rate_since((at, bytes): (Instant, u64), done: u64) -> f64 {
    (done - bytes) as f64 / at.elapsed().as_secs_f64()
}

impl<'a> Transfer<'a> {
    /// The transfer, its first connection already running on the probe's answer (to `url`,
    /// for range `first`, which took `probe_took`); `queue` holds the other ranges.
    pub fn new(
        dl: &'a Downloader,
        shared: Arc<Shared>,
        part: &'a Path,
        cancel: &'a CancellationToken,
        url: &str,
        queue: VecDeque<(u64, u64)>,
        (first, probe, probe_took): (Arc<Seg>, reqwest::Response, Duration),
    ) -> Self {
        let already = shared.done.load(Ordering::Acquire);
        let mut ramp = Ramp::new(dl.connections);
        // The probe has answered, so the first step starts now.
        let step = Some((Instant::now(), already));
        // A distant host: every connection allowed starts now.
        if probe_took >= FAR {
            ramp.all_now();
        }
        let mut t = Transfer {
            dl,
            saver: Saver::start(&shared),
            shared,
            part,
            cancel,
            url_now: Arc::new(Mutex::new(url.to_string())),
            queue,
            workers: FuturesUnordered::new(),
            active: 1,
            ramp,
            step,
            retry_delay: Duration::ZERO,
            meter: Meter::new(already),
        };
        t.spawn(first, Some(probe), Duration::ZERO);
        t
    }

    fn spawn(&mut self, seg: Arc<Seg>, resp: Option<reqwest::Response>, delay: Duration) {
        let (me, shared, url, cancel) = (
            self.dl.clone(),
            self.shared.clone(),
            self.url_now.clone(),
            self.cancel.clone(),
        );
        self.workers.push(
            async move {
                tokio::time::sleep(delay).await;
                let before = seg.pos.load(Ordering::Acquire);
                let r = me.fill(&seg, resp, &shared, &url, &cancel).await;
                let progressed = seg.pos.load(Ordering::Acquire) > before;
                (seg, r, progressed)
            }
            .boxed(),
        );
    }

    /// Runs the connections until every range is on disk, then syncs the file.
    pub async fn run<F, Fut>(
        mut self,
        tries: &mut Tries<'_, F>,
        on_progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<(), DownloadError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<String>>,
    {
        let total = self
            .shared
            .record
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .total;
        let mut ticker = tokio::time::interval(Duration::from_millis(25));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // Stopped: no new connection starts, and the range a stopped one left is not
            // mistaken for a finished file (that would fail the check and lose the `.part`).
            if self.cancel.is_cancelled() {
                while self.workers.next().await.is_some() {}
                let _ = self.saver.stop_and_save().await;
                return Err(DownloadError::Cancelled {
                    part: self.part.to_path_buf(),
                    bytes: self.shared.done.load(Ordering::Acquire),
                });
            }
            self.start_connections();
            if self.active == 0 && self.queue.is_empty() {
                break;
            }
            let window_end =
                self.step.map_or_else(Instant::now, |s| s.0) + self.shared.ramp_window();
            tokio::select! {
                Some(ended) = self.workers.next() => self.ended(ended, tries).await?,
                _ = ticker.tick() => {
                    let done = self.shared.done.load(Ordering::Acquire);
                    if let Some(p) = self.meter.tick(done, Some(total)) {
                        on_progress(p);
                    }
                }
                // Every connection asked for has answered: the step is timed from here.
                _ = self.shared.all_answered.notified(), if self.ramp.is_open() && self.step.is_none() => {
                    self.all_answered();
                }
                // A window is over: the ramp weighs its rate (new connections start at the top).
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(window_end)),
                    if self.ramp.is_open() && self.step.is_some() => {
                    self.window_over();
                }
                // Stopped: the top of the loop lets the connections notice and records
                // what they finished.
                _ = self.cancel.cancelled() => {}
            }
        }
        self.shared
            .file
            .sync_all()
            .map_err(|e| disk_error(self.part, e, total))?;
        let _ = self.saver.stop_and_save().await;
        on_progress(self.meter.force(total, Some(total)));
        Ok(())
    }

    /// Starts connections up to the ramp's target: a gap left by a failed one first, else a
    /// range split off one being filled (see [`Shared::split`]).
    fn start_connections(&mut self) {
        while self.active < self.ramp.target {
            let seg = match self.queue.pop_front() {
                Some((a, b)) => self.shared.add_seg(a, b),
                None => match self.shared.split() {
                    Some(seg) => seg,
                    None => break,
                },
            };
            self.shared.starting.fetch_add(1, Ordering::AcqRel);
            self.step = None;
            self.spawn(seg, None, self.retry_delay);
            self.retry_delay = Duration::ZERO;
            self.active += 1;
        }
    }

    /// A connection is over: what it did not fill goes back to the queue, and its failure
    /// is weighed (a refused URL refreshed, a network failure counted towards giving up).
    async fn ended<F, Fut>(
        &mut self,
        (seg, r, progressed): Ended,
        tries: &mut Tries<'_, F>,
    ) -> Result<(), DownloadError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<String>>,
    {
        self.active -= 1;
        if progressed {
            tries.failures = 0;
        }
        let (pos, end) = (
            seg.pos.load(Ordering::Acquire),
            seg.end.load(Ordering::Acquire),
        );
        // Never to a split of its old range as well.
        seg.end.store(pos, Ordering::Release);
        match r {
            Ok(()) => {}
            Err(_) if self.cancel.is_cancelled() => {
                if pos < end {
                    self.queue.push_front((pos, end));
                }
            }
            Err(WorkerError::Disk(e)) => {
                let _ = self.saver.stop_and_save().await;
                return Err(e);
            }
            Err(WorkerError::Expired(status, detail)) => {
                self.queue.push_front((pos, end));
                if !tries.fresh_url().await {
                    let _ = self.saver.stop_and_save().await;
                    return Err(DownloadError::Rejected { status, detail });
                }
                *self.url_now.lock().unwrap_or_else(|e| e.into_inner()) = tries.url.clone();
            }
            Err(WorkerError::Net(detail)) => {
                if pos < end {
                    self.queue.push_front((pos, end));
                }
                tries.failures += 1;
                if tries.failures >= self.dl.max_failures {
                    let _ = self.saver.stop_and_save().await;
                    return Err(DownloadError::Network {
                        detail,
                        attempts: tries.failures,
                    });
                }
                self.retry_delay = self.dl.backoff_for(tries.failures);
            }
        }
        Ok(())
    }

    fn all_answered(&mut self) {
        if self.shared.starting.load(Ordering::Acquire) == 0 {
            let done = self.shared.done.load(Ordering::Acquire);
            self.step = Some((Instant::now(), done));
        }
    }

    fn window_over(&mut self) {
        if let Some(from) = self.step {
            let done = self.shared.done.load(Ordering::Acquire);
            self.ramp.window(rate_since(from, done));
            self.step = Some((Instant::now(), done));
        }
    }
}
