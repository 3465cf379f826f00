//! The create queue. One snapshot in flight per resource on the machine; creates across
//! resources are pipelined at the server's pace; a create is never sent twice for one
//! request, whatever happens to its answer.
//!
//! - A request for a resource this engine is already serving joins that job; one that
//!   another process is serving (an in-flight record in the ledger, taken under the data
//!   dir's lock) waits for it and downloads what it made. Neither posts.
//! - Destinations are checked before anything is sent: no quota is spent on a snapshot that
//!   could not be saved.
//! - The create is recorded (ledger entry and in-flight record) before it is sent, under the
//!   lock and after re-checking every window against what all processes recorded.
//! - The next resource's create goes once the account window since the previous one was
//!   *sent* has passed (plus a margin measured from recent round trips), while earlier ones
//!   are still being prepared. If the server refuses one for the account window, it counts
//!   from the answer: the engine switches to that rule for the account, persists it with the
//!   evidence, and says so. So at most one request is refused to learn it.
//! - A lost answer (reset, time-out, gateway page) may mean the snapshot was taken: the
//!   engine watches the list for it and never posts again. A 202 is handled the same way.
//! - The snapshot downloaded is always the one this create made: found by version, not by
//!   "newest in the list", so a stale list never puts an older archive under a new name.
//! - Resources whose last snapshot was largest go first: their creates take longest, so the
//!   whole run ends sooner.
//!
//! The room is split by stage: `send.rs` paces and sends the creates, `answer.rs` reads
//! what each create answered, `finish.rs` finds and downloads what it made.

mod answer;
mod finish;
mod send;

use super::account::Account;
use super::library::Shelf;
use super::quota::Quota;
use super::types::{
    EngineConfig, EngineError, Event, EventSink, JobOutcome, JobResult, ResourceRef,
    SnapshotOptions,
};
use crate::claim::Holder;
use crate::ledger::InFlight;
use crate::pacer::{Limits, WaitReason};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use squarecloud::{ApiError, CreateOutcome};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// A boxed future: naming its type keeps the queue's future `Send` for every lifetime.
type BoxFut<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A job's result, published to the requests that joined it.
type JobSlot = watch::Sender<Option<Result<JobOutcome, EngineError>>>;

/// A request that joined a job already running here, and where that job's result comes.
type Joined = (
    ResourceRef,
    watch::Receiver<Option<Result<JobOutcome, EngineError>>>,
);

/// What the queue keeps between calls: the jobs running, the watches the user may stop,
/// whether it is paused, and the name its in-flight records carry.
pub(super) struct Pipeline {
    limits: Limits,
    data_dir: PathBuf,
    /// This engine's name in the in-flight records: the process id and a random token.
    owner: String,
    /// This engine's claim, held while it lives: its in-flight records name it, so another
    /// process can tell them from those of an engine that is gone ([`crate::claim`]).
    holder: Option<Holder>,
    /// Snapshots queued or running in this engine, by resource id: a second request joins.
    jobs: Mutex<HashMap<String, JobSlot>>,
    /// The creates whose list is being watched (a slow one, or one whose answer was lost),
    /// by resource: cancelling one stops that watch only.
    watching: Mutex<HashMap<String, CancellationToken>>,
    paused: watch::Sender<bool>,
}

impl Pipeline {
    pub(super) fn new(cfg: &EngineConfig) -> Self {
        let token: u64 = rand::random();
        Self {
            limits: cfg.limits.clone(),
            data_dir: cfg.data_dir.clone(),
            owner: format!("{}-{token:016x}", std::process::id()),
            // Without one (the folder cannot be written), records fall back to the pid.
            holder: Holder::acquire(&cfg.data_dir).ok(),
            jobs: Mutex::new(HashMap::new()),
            watching: Mutex::new(HashMap::new()),
            paused: watch::Sender::new(false),
        }
    }

    /// Pauses or resumes: while paused no create is sent and no download starts; what is
    /// already running finishes.
    pub(super) fn set_paused(&self, paused: bool) {
        self.paused.send_replace(paused);
    }

    pub(super) fn is_paused(&self) -> bool {
        *self.paused.borrow()
    }

    /// Follows the pause (an offsite sync holds its next upload back while paused).
    pub(super) fn pause_watch(&self) -> watch::Receiver<bool> {
        self.paused.subscribe()
    }

    /// Returns once not paused (false if cancelled meanwhile).
    pub(super) async fn wait_while_paused(
        &self,
        events: &EventSink,
        cancel: &CancellationToken,
    ) -> bool {
        let mut rx = self.paused.subscribe();
        if !*rx.borrow_and_update() {
            return true;
        }
        events(Event::Paused);
        loop {
            tokio::select! {
                changed = rx.changed() => {
                    if changed.is_err() || !*rx.borrow_and_update() {
                        events(Event::Resumed);
                        return true;
                    }
                }
                _ = cancel.cancelled() => return false,
            }
        }
    }

    /// Stops watching the list for `resource`'s new snapshot; false when nothing of it is
    /// being watched.
    pub(super) fn stop_waiting(&self, resource: &str) -> bool {
        match self
            .watching
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(resource)
        {
            Some(t) => {
                t.cancel();
                true
            }
            None => false,
        }
    }

    fn watch(&self, resource: &str, token: CancellationToken) {
        self.watching
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(resource.to_string(), token);
    }

    fn unwatch(&self, resource: &str) {
        self.watching
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(resource);
    }
}

/// The queue at work: the pipeline's state with the rooms it sends through, borrowed for
/// one call.
pub(super) struct Queue<'a> {
    account: &'a Account,
    quota: &'a Quota,
    shelf: &'a Shelf,
    line: &'a Pipeline,
}

struct Job {
    r: ResourceRef,
    not_before: Option<DateTime<Utc>>,
    keep_calm: u32,
    connect_failures: u32,
    /// Version keys listed before the create (None: not fetched yet, or the list failed).
    before: Option<HashSet<String>>,
    listed: bool,
    /// The newest listed snapshot's size: big ones take longest to prepare.
    size_hint: u64,
    last_error: Option<ApiError>,
}

impl Job {
    fn new(r: ResourceRef) -> Self {
        Job {
            r,
            not_before: None,
            keep_calm: 0,
            connect_failures: 0,
            before: None,
            listed: false,
            size_hint: 0,
            last_error: None,
        }
    }
}

/// How a refused job ends: alone, or with every job still waiting.
enum Verdict {
    One(EngineError),
    All(EngineError),
}

/// What the create side hands the download side.
enum Fetch {
    /// The create answered with a URL.
    Url {
        r: ResourceRef,
        url: String,
        taken_at: DateTime<Utc>,
        before: Option<HashSet<String>>,
        since: DateTime<Utc>,
    },
    /// The snapshot is being prepared (202) or the answer was lost: find it in the list.
    Watch {
        r: ResourceRef,
        before: Option<HashSet<String>>,
        since: DateTime<Utc>,
        answer_lost: bool,
    },
    /// Another process serves this resource: wait for it, then find what it made.
    Elsewhere {
        r: ResourceRef,
        owner: String,
        since: DateTime<Utc>,
    },
}

/// What trying to send a create found, under the data dir's lock.
enum Claim {
    Sent(DateTime<Utc>),
    NotYet(DateTime<Utc>, WaitReason),
    Busy(InFlight),
    Stale(InFlight),
    Blocked(DateTime<Utc>),
    NoQuota(Option<DateTime<Utc>>),
}

/// Where the answer of one create went.
struct Answer {
    job: Job,
    sent_at: DateTime<Utc>,
    answered_at: DateTime<Utc>,
    result: Result<CreateOutcome, ApiError>,
}

/// The channel the create side hands work to the download side on.
type ToFinish = tokio::sync::mpsc::UnboundedSender<Fetch>;

impl<'a> Queue<'a> {
    pub(super) fn new(
        account: &'a Account,
        quota: &'a Quota,
        shelf: &'a Shelf,
        line: &'a Pipeline,
    ) -> Self {
        Self {
            account,
            quota,
            shelf,
            line,
        }
    }

    /// Takes a snapshot of each resource, sending no create the server would refuse, and
    /// downloads each one as it is ready (up to three at a time) when asked to.
    pub(super) async fn snapshot(
        &self,
        targets: Vec<ResourceRef>,
        opts: SnapshotOptions,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> Vec<JobResult> {
        let (mut results, own, joined) = self.register(targets, &opts);
        let guard = Registered {
            line: self.line,
            ids: own.iter().map(|r| r.id.clone()).collect(),
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Fetch>();
        let creates = self.create_loop(own, &opts, events.clone(), cancel, tx);
        let downloads = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
            .map(|f| -> BoxFut<'_, JobResult> {
                Box::pin(self.finish(f, &opts, events.clone(), cancel))
            })
            .buffer_unordered(3)
            .map(|res| {
                guard.publish(&res);
                res
            })
            .collect::<Vec<JobResult>>();
        let (failed_early, done) = tokio::join!(creates, downloads);
        for res in failed_early.iter().chain(&done) {
            guard.publish(res);
        }
        drop(guard);
        results.extend(failed_early);
        results.extend(done);
        for res in &results {
            if let Err(e) = &res.outcome {
                events(Event::failed(res.resource.id.clone(), e));
            }
        }
        results.extend(Self::await_joined(joined).await);
        results
    }

    /// Sorts the targets: those whose folder fails end now (no quota is spent on a snapshot
    /// that could not be saved), those already running here are joined, the rest are this
    /// call's own jobs.
    fn register(
        &self,
        targets: Vec<ResourceRef>,
        opts: &SnapshotOptions,
    ) -> (Vec<JobResult>, Vec<ResourceRef>, Vec<Joined>) {
        let mut results = Vec::new();
        let mut seen = HashSet::new();
        let mut own = Vec::new();
        let mut joined = Vec::new();
        for r in targets {
            if !seen.insert(r.id.clone()) {
                continue;
            }
            // A shared application whose role may not snapshot: refused before any request.
            if let Err(e) = r.check_may_snapshot() {
                results.push(JobResult {
                    resource: r,
                    outcome: Err(e),
                });
                continue;
            }
            if opts.download
                && let Err(e) = self.shelf.checked_dest(&r, opts.dest.as_deref())
            {
                results.push(JobResult {
                    resource: r,
                    outcome: Err(e),
                });
                continue;
            }
            let mut jobs = self.line.jobs.lock().unwrap_or_else(|e| e.into_inner());
            match jobs.get(&r.id) {
                Some(slot) => joined.push((r, slot.subscribe())),
                None => {
                    jobs.insert(r.id.clone(), watch::Sender::new(None));
                    own.push(r);
                }
            }
        }
        (results, own, joined)
    }

    /// The results of requests that joined a job already running here.
    async fn await_joined(joined: Vec<Joined>) -> Vec<JobResult> {
        let mut results = Vec::new();
        for (r, mut rx) in joined {
            let outcome = match rx.wait_for(Option::is_some).await {
                Ok(v) => v.clone().expect("waited for a value"),
                Err(_) => Err(EngineError::Cancelled),
            };
            results.push(JobResult {
                resource: r,
                outcome: outcome.map(|o| JobOutcome { joined: true, ..o }),
            });
        }
        results
    }
}

/// Removes the registry entries of the jobs a call owns, publishing a result to whoever
/// joined them (a cancellation when the call ended without one).
struct Registered<'a> {
    line: &'a Pipeline,
    ids: Vec<String>,
}

impl Registered<'_> {
    fn publish(&self, res: &JobResult) {
        let mut jobs = self.line.jobs.lock().unwrap_or_else(|e| e.into_inner());
        if self.ids.contains(&res.resource.id)
            && let Some(slot) = jobs.remove(&res.resource.id)
        {
            slot.send_replace(Some(res.outcome.clone()));
        }
    }
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        let mut jobs = self.line.jobs.lock().unwrap_or_else(|e| e.into_inner());
        for id in &self.ids {
            if let Some(slot) = jobs.remove(id) {
                slot.send_replace(Some(Err(EngineError::Cancelled)));
            }
        }
    }
}
