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

use crate::download::DownloadTarget;
use crate::engine::{
    Engine, EngineError, Event, EventSink, JobOutcome, JobResult, ResourceRef, SnapshotOptions,
    version_key,
};
use crate::ledger::{InFlight, Ledger, WindowRule};
use crate::names::snapshot_file_name;
use crate::pacer::{WaitReason, chrono_d, padded, ready_at, sleep_until};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use squarecloud::{ApiError, CreateOutcome, ErrorCode, SnapshotItem};
use std::collections::HashSet;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// A boxed future: naming its type keeps the queue's future `Send` for every lifetime.
type BoxFut<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A job's result, published to the requests that joined it.
pub(crate) type JobSlot = watch::Sender<Option<Result<JobOutcome, EngineError>>>;

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

/// Is the engine that wrote an in-flight record still there? Asked of its claim's lock
/// (see [`crate::claim`]); a record of an older version, by its pid.
fn alive(
    f: &InFlight,
    data_dir: &std::path::Path,
    stale_after: chrono::Duration,
    now: DateTime<Utc>,
) -> bool {
    if now - f.since > stale_after {
        return false;
    }
    match &f.holder {
        Some(token) => crate::claim::held(data_dir, token),
        None => crate::claim::process_alive(f.pid),
    }
}

impl Engine {
    /// Takes a snapshot of each resource, sending no create the server would refuse, and
    /// downloads each one as it is ready (up to three at a time) when asked to.
    pub async fn snapshot(
        &self,
        targets: Vec<ResourceRef>,
        opts: SnapshotOptions,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> Vec<JobResult> {
        let mut results = Vec::new();
        let mut seen = HashSet::new();
        let mut own = Vec::new();
        let mut joined = Vec::new();
        for r in targets {
            if !seen.insert(r.id.clone()) {
                continue;
            }
            // The folder first: no quota is spent on a snapshot that could not be saved.
            if opts.download
                && let Err(e) = self.checked_dest(&r, opts.dest.as_deref())
            {
                results.push(JobResult {
                    resource: r,
                    outcome: Err(e),
                });
                continue;
            }
            let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
            match jobs.get(&r.id) {
                Some(slot) => joined.push((r, slot.subscribe())),
                None => {
                    jobs.insert(r.id.clone(), watch::Sender::new(None));
                    own.push(r);
                }
            }
        }
        let guard = Registered {
            engine: self,
            ids: own.iter().map(|r| r.id.clone()).collect(),
        };
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Fetch>();
        let creates = self.create_loop(own, &opts, events.clone(), cancel, tx);
        let downloads =
            futures_util::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|f| (f, rx)) },
            )
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
                events(Event::Failed {
                    resource: res.resource.id.clone(),
                    code: e.code().into(),
                    message: e.to_string(),
                });
            }
        }
        // Requests that joined a job already running here.
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

    /// Fetches the lists of the next few jobs (their "before" sets and size hints), a few at
    /// a time and well inside the per-minute budget.
    async fn list_ahead(&self, pending: &mut [Job]) {
        let budget = self.client.budget().per_window() as usize;
        let ahead = (budget / 3).clamp(1, 32);
        let todo: Vec<usize> = (0..pending.len())
            .filter(|i| !pending[*i].listed)
            .take(ahead)
            .collect();
        if todo.is_empty() {
            return;
        }
        let fetches: Vec<BoxFut<'_, _>> = todo
            .iter()
            .map(|i| -> BoxFut<'_, _> {
                let r = pending[*i].r.clone();
                Box::pin(async move { self.versions(&r).await })
            })
            .collect();
        let lists: Vec<_> = futures_util::stream::iter(fetches)
            .buffered(4)
            .collect()
            .await;
        for (i, list) in todo.into_iter().zip(lists) {
            if let Err(EngineError::Api(e)) = &list
                && e.is_account_block()
            {
                self.persist_block().await;
            }
            let job = &mut pending[i];
            job.listed = true;
            if let Ok(list) = list {
                job.size_hint = list.first().map(|x| x.size).unwrap_or(0);
                job.before = Some(list.iter().map(version_key).collect());
            }
        }
    }

    /// Which job goes next: among the listed ones whose windows are open, the largest
    /// (the caller's order breaks ties); when none is open yet, the one that opens first.
    fn next_job(&self, pending: &[Job], ledger: &Ledger) -> usize {
        let (acct, margin, now) = (self.account_id(), self.latency.margin(), Utc::now());
        let ready = |j: &Job| {
            let (t, _) = ready_at(ledger, &acct, &j.r.id, &self.cfg.limits, margin, now);
            j.not_before.map_or(t, |nb| nb.max(t))
        };
        let listed: Vec<(usize, DateTime<Utc>)> = (0..pending.len())
            .filter(|i| pending[*i].listed)
            .map(|i| (i, ready(&pending[i])))
            .collect();
        listed
            .iter()
            .filter(|(_, t)| *t <= now)
            .max_by_key(|(i, _)| (pending[*i].size_hint, std::cmp::Reverse(*i)))
            .or_else(|| listed.iter().min_by_key(|(i, t)| (*t, *i)))
            .map(|(i, _)| *i)
            .unwrap_or(0)
    }

    /// Re-checks everything against the ledger every process writes, and records the create
    /// as sent, in one locked step.
    async fn claim(&self, job: &Job) -> Result<Claim, EngineError> {
        let acct = self.account_id();
        let l = self.cfg.limits.clone();
        let margin = self.latency.margin();
        let total = self.daily_quota();
        let stale_after = chrono_d(l.create_timeout + l.poll_total);
        let api = self.cfg.api_url.clone();
        let owner = self.owner.clone();
        let holder = self.holder.as_ref().map(|h| h.token().to_string());
        let data_dir = self.cfg.data_dir.clone();
        let id = job.r.id.clone();
        let not_before = job.not_before;
        self.update_ledger_off(move |ledger: &mut Ledger| {
            let now = Utc::now();
            if let Some(until) = ledger.blocked_until.get(&api)
                && *until > now
            {
                return Claim::Blocked(*until);
            }
            if let Some(f) = ledger.in_flight.get(&id)
                && f.owner != owner
            {
                return if alive(f, &data_dir, stale_after, now) {
                    Claim::Busy(f.clone())
                } else {
                    Claim::Stale(f.clone())
                };
            }
            let window = chrono_d(l.quota_window);
            match ledger.quota_ready_at(&acct, total, now, window) {
                Some(t) if t <= now => {}
                other => {
                    return Claim::NoQuota(other.map(|t| t - window + padded(l.quota_window)));
                }
            }
            let (mut t, mut why) = ready_at(ledger, &acct, &id, &l, margin, now);
            if let Some(nb) = not_before
                && nb > t
            {
                (t, why) = (nb, WaitReason::KeepCalm);
            }
            if t > now {
                return Claim::NotYet(t, why);
            }
            ledger.record(&acct, &id, now);
            ledger.in_flight.insert(
                id.clone(),
                InFlight {
                    account: acct.clone(),
                    owner: owner.clone(),
                    pid: std::process::id(),
                    since: now,
                    holder,
                },
            );
            Claim::Sent(now)
        })
        .await
    }

    /// Records a `RATE_LIMITED` block for every process (a cron run during it must not call).
    async fn persist_block(&self) -> DateTime<Utc> {
        let until = Utc::now() + chrono_d(self.cfg.limits.rate_block);
        let api = self.cfg.api_url.clone();
        let _ = self
            .update_ledger_off(move |x| {
                let t = x.blocked_until.entry(api).or_insert(until);
                *t = (*t).max(until);
            })
            .await;
        until
    }

    /// Drops this engine's in-flight record of a resource.
    pub(crate) async fn release(&self, id: &str) {
        let owner = self.owner.clone();
        let id = id.to_string();
        let _ = self
            .update_ledger_off(move |l| {
                if l.in_flight.get(&id).is_some_and(|f| f.owner == owner) {
                    l.in_flight.remove(&id);
                }
            })
            .await;
    }

    /// Sends creates at the server's pace and hands each accepted one to the download side.
    /// Returns the jobs that ended before reaching it.
    async fn create_loop(
        &self,
        targets: Vec<ResourceRef>,
        opts: &SnapshotOptions,
        events: EventSink,
        cancel: &CancellationToken,
        tx: tokio::sync::mpsc::UnboundedSender<Fetch>,
    ) -> Vec<JobResult> {
        let mut results = Vec::new();
        let mut pending: Vec<Job> = targets
            .into_iter()
            .map(|r| Job {
                r,
                not_before: None,
                keep_calm: 0,
                connect_failures: 0,
                before: None,
                listed: false,
                size_hint: 0,
                last_error: None,
            })
            .collect();
        let mut in_flight = FuturesUnordered::new();
        let mut paused = self.paused_watch();
        let mut said_paused = false;
        let fail = |pending: &mut Vec<Job>, results: &mut Vec<JobResult>, e: EngineError| {
            for j in pending.drain(..) {
                results.push(JobResult {
                    resource: j.r,
                    outcome: Err(e.clone()),
                });
            }
        };
        loop {
            if pending.is_empty() && in_flight.is_empty() {
                break;
            }
            if cancel.is_cancelled() {
                fail(&mut pending, &mut results, EngineError::Cancelled);
                // A create already sent cannot be unsent: take its answer, so that what it
                // spent is recorded and its in-flight record released.
                if let Some(a) = in_flight.next().await {
                    self.on_answer(a, &mut pending, &mut results, &events, &tx)
                        .await;
                }
                continue;
            }
            let mut wake: Option<DateTime<Utc>> = None;
            let mut quota_wait = false;
            let is_paused = *paused.borrow_and_update();
            if is_paused && !pending.is_empty() && !said_paused {
                said_paused = true;
                events(Event::Paused);
            }
            if !is_paused && !pending.is_empty() {
                self.list_ahead(&mut pending).await;
                let idx = self.next_job(&pending, &self.ledger_off().await);
                match self.claim(&pending[idx]).await {
                    Err(e) => fail(&mut pending, &mut results, e),
                    Ok(Claim::Sent(sent_at)) => {
                        let job = pending.remove(idx);
                        events(Event::Creating {
                            resource: job.r.id.clone(),
                            since: sent_at,
                        });
                        let (kind, id) = (job.r.kind, job.r.id.clone());
                        // Spawned, so it leaves now, not when the loop next polls it; the
                        // loop waits until it has actually left (after any wait for the
                        // per-minute budget) and counts the windows from then.
                        let client = self.client.clone();
                        let (left_tx, left_rx) = tokio::sync::oneshot::channel();
                        let call = tokio::spawn(async move {
                            let result = client
                                .create_snapshot_noting(kind, &id, move || {
                                    let _ = left_tx.send(Utc::now());
                                })
                                .await;
                            (result, Utc::now())
                        });
                        let mut sent_at = sent_at;
                        if let Ok(left) = left_rx.await
                            && left > sent_at
                        {
                            // Written on a blocking thread: done here, its fsync would hold
                            // this runtime thread, and with it the connection task about to
                            // write the request, so the create would reach the server later
                            // than recorded and the next one, paced from this record, too
                            // close to it (seen as a refused create under disk load).
                            let (acct, rid) = (self.account_id(), job.r.id.clone());
                            let _ = self
                                .update_ledger_off(move |l| l.left_at(&acct, &rid, sent_at, left))
                                .await;
                            sent_at = left;
                        }
                        in_flight.push(async move {
                            let (result, answered_at) = call.await.unwrap_or_else(|e| {
                                (Err(ApiError::Network(e.to_string())), Utc::now())
                            });
                            Answer {
                                job,
                                sent_at,
                                answered_at,
                                result,
                            }
                        });
                        continue;
                    }
                    Ok(Claim::NotYet(t, reason)) => {
                        events(Event::Waiting {
                            resource: pending[idx].r.id.clone(),
                            until: t,
                            reason,
                        });
                        wake = Some(t);
                    }
                    Ok(Claim::Busy(f)) => {
                        let job = pending.remove(idx);
                        events(Event::Joined {
                            resource: job.r.id.clone(),
                            since: f.since,
                        });
                        let _ = tx.send(Fetch::Elsewhere {
                            r: job.r,
                            owner: f.owner,
                            since: f.since,
                        });
                        continue;
                    }
                    Ok(Claim::Stale(f)) => {
                        // A process that stopped while serving this resource: what it sent
                        // is still counted; adopt its snapshot if it made one.
                        let job = pending.remove(idx);
                        let (gone, owner) = (job.r.id.clone(), f.owner.clone());
                        let _ = self
                            .update_ledger_off(move |l| {
                                if l.in_flight.get(&gone).is_some_and(|x| x.owner == owner) {
                                    l.in_flight.remove(&gone);
                                }
                            })
                            .await;
                        // Its create may have been accepted and still be prepared: look
                        // until the resource's window has passed (no create could be sent
                        // before then anyway), so a lost answer is never paid for twice.
                        let until = f.since + padded(self.cfg.limits.resource_gap);
                        let found = matches!(
                            self.await_new_version_until(&job.r, None, f.since, until, cancel)
                                .await,
                            Ok(Some(_))
                        );
                        if found {
                            let _ = tx.send(Fetch::Elsewhere {
                                r: job.r,
                                owner: f.owner,
                                since: f.since,
                            });
                        } else {
                            pending.insert(idx, job);
                        }
                        continue;
                    }
                    Ok(Claim::Blocked(until)) => {
                        events(Event::RateLimited { until });
                        fail(
                            &mut pending,
                            &mut results,
                            EngineError::RateLimited { until },
                        );
                    }
                    Ok(Claim::NoQuota(until)) => {
                        events(Event::Quota {
                            quota: self.quota_off().await,
                        });
                        events(Event::PausedForQuota {
                            until,
                            held: pending.iter().map(|j| j.r.id.clone()).collect(),
                        });
                        if opts.wait_for_quota {
                            let l = &self.cfg.limits;
                            let t = until.unwrap_or_else(|| {
                                Utc::now() + chrono_d(Duration::from_secs(3600).min(l.quota_window))
                            });
                            wake = Some(t);
                            quota_wait = true;
                        } else {
                            fail(&mut pending, &mut results, EngineError::Quota { until });
                        }
                    }
                }
            }
            let sleep_to = wake.unwrap_or_else(|| Utc::now() + chrono::Duration::days(1));
            let can_sleep = wake.is_some() || is_paused;
            if !can_sleep && in_flight.is_empty() {
                continue; // every job ended above
            }
            tokio::select! {
                Some(a) = in_flight.next(), if !in_flight.is_empty() => {
                    self.on_answer(a, &mut pending, &mut results, &events, &tx).await;
                }
                _ = sleep_until(sleep_to, cancel), if can_sleep => {
                    if quota_wait {
                        self.clear_exhausted_if_due(wake).await;
                    }
                }
                _ = paused.changed(), if is_paused => {
                    if said_paused && !*paused.borrow() {
                        said_paused = false;
                        events(Event::Resumed);
                    }
                }
                _ = cancel.cancelled() => {}
            }
        }
        results
    }

    /// After a quota wait: once the oldest counted snapshot has left the window, the
    /// server's last "none left" no longer holds (if it still does, it will say so again).
    async fn clear_exhausted_if_due(&self, wake: Option<DateTime<Utc>>) {
        if wake.is_some_and(|t| t <= Utc::now()) {
            let acct = self.account_id();
            let _ = self
                .update_ledger_off(move |l| l.account(&acct).exhausted_at = None)
                .await;
        }
    }

    /// One create's answer.
    async fn on_answer(
        &self,
        a: Answer,
        pending: &mut Vec<Job>,
        results: &mut Vec<JobResult>,
        events: &EventSink,
        tx: &tokio::sync::mpsc::UnboundedSender<Fetch>,
    ) {
        let acct = self.account_id();
        let Answer {
            mut job,
            sent_at,
            answered_at,
            result,
        } = a;
        let id = job.r.id.clone();
        match result {
            Ok(outcome) => {
                let (a, i) = (acct.clone(), id.clone());
                let _ = self
                    .update_ledger_off(move |l| l.answered(&a, &i, sent_at, answered_at))
                    .await;
                events(Event::Quota {
                    quota: self.quota_off().await,
                });
                let fetch = match outcome {
                    CreateOutcome::Ready(s) => {
                        events(Event::Created {
                            resource: id.clone(),
                            taken_at: answered_at,
                        });
                        Fetch::Url {
                            r: job.r,
                            url: s.url,
                            taken_at: answered_at,
                            before: job.before,
                            since: sent_at,
                        }
                    }
                    CreateOutcome::Processing => {
                        events(Event::Processing {
                            resource: id.clone(),
                            since: sent_at,
                            answer_lost: false,
                            until: self.watch_deadline(),
                        });
                        Fetch::Watch {
                            r: job.r,
                            before: job.before,
                            since: sent_at,
                            answer_lost: false,
                        }
                    }
                };
                let _ = tx.send(fetch);
            }
            Err(e) if e.answer_may_be_lost() => {
                // The server may have taken it: it stays counted, and the list will tell.
                events(Event::Processing {
                    resource: id.clone(),
                    since: sent_at,
                    answer_lost: true,
                    until: self.watch_deadline(),
                });
                let _ = tx.send(Fetch::Watch {
                    r: job.r,
                    before: job.before,
                    since: sent_at,
                    answer_lost: true,
                });
            }
            Err(e) => {
                // The server's own word, or no connection at all: nothing was spent.
                let (a, i) = (acct.clone(), id.clone());
                let _ = self
                    .update_ledger_off(move |l| l.forget(&a, &i, sent_at))
                    .await;
                self.release(&id).await;
                self.on_refusal(e, &mut job, sent_at, answered_at, events)
                    .await;
                match self.refusal_verdict(&job).await {
                    Some(Verdict::All(err)) => {
                        pending.push(job);
                        for j in pending.drain(..) {
                            results.push(JobResult {
                                resource: j.r,
                                outcome: Err(err.clone()),
                            });
                        }
                    }
                    Some(Verdict::One(err)) => results.push(JobResult {
                        resource: job.r,
                        outcome: Err(err),
                    }),
                    None => pending.push(job),
                }
            }
        }
    }

    /// Learns from a refusal and sets when the job may be tried again.
    async fn on_refusal(
        &self,
        e: ApiError,
        job: &mut Job,
        sent_at: DateTime<Utc>,
        answered_at: DateTime<Utc>,
        events: &EventSink,
    ) {
        let acct = self.account_id();
        let l = self.cfg.limits.clone();
        job.last_error = Some(e.clone());
        match e.code() {
            _ if e.is_account_block() => {
                let until = self.persist_block().await;
                events(Event::RateLimited { until });
            }
            Some(ErrorCode::KeepCalm) => {
                job.keep_calm += 1;
                let gap = chrono_d(l.account_gap);
                let ledger = self.ledger_off().await;
                let learned = ledger
                    .accounts
                    .get(&acct)
                    .map(|a| a.learned.clone())
                    .unwrap_or_default();
                // Was another create of the account unanswered, or answered less than a
                // window before this one was sent? Then the server counts from answers.
                let busy_account = ledger.accounts.get(&acct).is_some_and(|a| {
                    a.entries.iter().any(|x| {
                        x.source == "app"
                            && x.at < sent_at
                            && x.answered_at.is_none_or(|t| t + gap > sent_at)
                    })
                });
                if learned.rule == WindowRule::Arrival && busy_account {
                    let message = format!(
                        "Square Cloud refused a create sent at {} while the account's previous create was still being prepared: it counts the account's window from each answer, not from each request. Creates now wait for the previous answer.",
                        sent_at.format("%H:%M:%S%.3f UTC")
                    );
                    let (m, a) = (message.clone(), acct.clone());
                    let _ = self
                        .update_ledger_off(move |x| {
                            let a = &mut x.account(&a).learned;
                            a.rule = WindowRule::Answer;
                            a.rule_evidence = Some(m);
                        })
                        .await;
                    events(Event::Learned { message });
                    // Not the job's fault: it goes again under the learned rule.
                    job.keep_calm -= 1;
                } else {
                    // Sent just after the account's window closed by our clock: the server
                    // saw it arrive sooner after the previous one than we sent it. Widen
                    // the margin so the next creates leave with more room.
                    let near_edge = ledger.accounts.get(&acct).is_some_and(|a| {
                        a.entries.iter().any(|x| {
                            x.at < sent_at
                                && sent_at - x.at < gap + chrono_d(Duration::from_secs(1))
                        })
                    });
                    if near_edge {
                        self.latency.widen();
                    }
                    // The account was free: this resource's own window is longer than we
                    // thought. Lengthen it for next time, and back off now.
                    let id = job.r.id.clone();
                    let had_create = ledger.last_create(&acct, Some(&id)).is_some();
                    if had_create {
                        let current = learned
                            .resource_gaps_ms
                            .get(&id)
                            .copied()
                            .unwrap_or(l.resource_gap.as_millis() as u64)
                            .max(1);
                        let longer = (current * 2).min(3_600_000);
                        let (a, i) = (acct.clone(), id.clone());
                        let _ = self
                            .update_ledger_off(move |x| {
                                x.account(&a).learned.resource_gaps_ms.insert(i, longer);
                            })
                            .await;
                        events(Event::Learned {
                            message: format!(
                                "Square Cloud asked to slow down for {} although its window looked open: that resource's window is now taken as {:.0} s.",
                                crate::names::printable(&job.r.name),
                                longer as f64 / 1000.0
                            ),
                        });
                    }
                    let backoff = (l.account_gap * 2u32.pow(job.keep_calm.min(6)))
                        .min(Duration::from_secs(180))
                        .max(l.account_gap);
                    job.not_before = Some(answered_at + chrono_d(backoff));
                }
            }
            Some(ErrorCode::DailySnapshotsLimitReached) => {
                let _ = self
                    .update_ledger_off(move |x| x.mark_exhausted(&acct, answered_at))
                    .await;
            }
            _ if e.is_transient() => {
                // Never reached the server (no connection): safe to try again.
                job.connect_failures += 1;
                job.not_before = Some(
                    answered_at + chrono_d(l.account_gap * 2u32.pow(job.connect_failures.min(6))),
                );
            }
            _ => {}
        }
    }

    /// Whether a refused job ends here, and how.
    async fn refusal_verdict(&self, job: &Job) -> Option<Verdict> {
        let e = job.last_error.as_ref()?;
        let l = &self.cfg.limits;
        if e.is_account_block() {
            let until = self
                .ledger_off()
                .await
                .blocked_until
                .get(&self.cfg.api_url)
                .copied()
                .unwrap_or_else(Utc::now);
            return Some(Verdict::All(EngineError::RateLimited { until }));
        }
        match e.code() {
            Some(c) if c.is_bad_key() => Some(Verdict::All(EngineError::Auth(e.clone()))),
            Some(ErrorCode::KeepCalm) if job.keep_calm > l.keep_calm_retries => {
                Some(Verdict::One(EngineError::Api(e.clone())))
            }
            Some(ErrorCode::KeepCalm) | Some(ErrorCode::DailySnapshotsLimitReached) => None,
            _ if e.is_transient() && job.connect_failures <= 3 => None,
            _ => Some(Verdict::One(EngineError::from_api(e.clone()))),
        }
    }

    /// The download side of one job. This engine's in-flight record of the resource lives
    /// until here: a process killed before its download ends leaves it, and the next one
    /// adopts that snapshot instead of taking another.
    async fn finish(
        &self,
        f: Fetch,
        opts: &SnapshotOptions,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> JobResult {
        let id = match &f {
            Fetch::Url { r, .. } | Fetch::Watch { r, .. } | Fetch::Elsewhere { r, .. } => {
                r.id.clone()
            }
        };
        let res = self.finish_inner(f, opts, events, cancel).await;
        self.release(&id).await;
        res
    }

    /// What `finish` does between taking the job and releasing its record.
    async fn finish_inner(
        &self,
        f: Fetch,
        opts: &SnapshotOptions,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> JobResult {
        let (r, found, joined) = match f {
            Fetch::Url {
                r,
                url,
                taken_at,
                before,
                since,
            } => {
                // One look at the list: when it already shows the new version, the file is
                // named by the snapshot's own time and checked against its listed size, as
                // any other process that joined will name it.
                if let Ok(list) = self.versions(&r).await
                    && let Some(item) = crate::engine::new_version(&list, before.as_ref(), since)
                {
                    (r, Ok(item), false)
                } else {
                    let outcome = if opts.download {
                        self.download_created(
                            &r, url, taken_at, before, since, opts, &events, cancel,
                        )
                        .await
                        .map(Some)
                    } else {
                        Ok(None)
                    };
                    let outcome = outcome.map(|download| JobOutcome {
                        taken_at,
                        download,
                        joined: false,
                    });
                    return JobResult {
                        resource: r,
                        outcome,
                    };
                }
            }
            Fetch::Watch {
                r,
                before,
                since,
                answer_lost,
            } => {
                // A watch of its own, so the user can stop waiting for this one alone.
                let watch = cancel.child_token();
                self.watching
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(r.id.clone(), watch.clone());
                let found = self
                    .await_new_version(&r, before.as_ref(), since, &watch)
                    .await;
                self.watching
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&r.id);
                let found = match found {
                    Ok(Some(item)) => Ok(item),
                    Ok(None) if answer_lost => Err(EngineError::AnswerLost),
                    Ok(None) => Err(EngineError::ProcessingTimeout),
                    Err(EngineError::Cancelled) if !cancel.is_cancelled() => {
                        Err(EngineError::StoppedWaiting)
                    }
                    Err(e) => Err(e),
                };
                (r, found, false)
            }
            Fetch::Elsewhere { r, owner, since } => {
                let found = self.await_other_process(&r, &owner, since, cancel).await;
                (r, found, true)
            }
        };
        let item = match found {
            Ok(item) => item,
            Err(e) => {
                return JobResult {
                    resource: r,
                    outcome: Err(e),
                };
            }
        };
        events(Event::Created {
            resource: r.id.clone(),
            taken_at: item.modified,
        });
        let outcome = if !opts.download {
            Ok(None)
        } else if !self.wait_while_paused(&events, cancel).await {
            Err(EngineError::Cancelled)
        } else {
            match self.checked_dest(&r, opts.dest.as_deref()) {
                Ok(dir) => self
                    .fetch_item(&r, &dir, &item, events.clone(), cancel)
                    .await
                    .map(Some),
                Err(e) => Err(e),
            }
        };
        JobResult {
            resource: r,
            outcome: outcome.map(|download| JobOutcome {
                taken_at: item.modified,
                download,
                joined,
            }),
        }
    }

    /// Downloads what a create answered with. If the host refuses its URL, a fresh one comes
    /// from the list for *this* snapshot only (waiting for the list to show it); never the
    /// newest listed one, which may be an older snapshot.
    #[allow(clippy::too_many_arguments)]
    async fn download_created(
        &self,
        r: &ResourceRef,
        url: String,
        taken_at: DateTime<Utc>,
        before: Option<HashSet<String>>,
        since: DateTime<Utc>,
        opts: &SnapshotOptions,
        events: &EventSink,
        cancel: &CancellationToken,
    ) -> Result<crate::download::Downloaded, EngineError> {
        if !self.wait_while_paused(events, cancel).await {
            return Err(EngineError::Cancelled);
        }
        let dir = self.checked_dest(r, opts.dest.as_deref())?;
        let refresh = || {
            let before = before.clone();
            async move {
                let item = self
                    .await_new_version(r, before.as_ref(), since, cancel)
                    .await
                    .ok()
                    .flatten()?;
                Some(item.download_url(self.client.files_base(), r.kind, &self.account_id()))
            }
        };
        let target = DownloadTarget {
            url,
            dir,
            file_name: snapshot_file_name(&r.name, &r.id, taken_at),
            expected_size: None,
            max_size: Some(self.fresh_size_cap(&r.id)),
        };
        self.fetch(r, target, None, taken_at, refresh, events.clone(), cancel)
            .await
    }

    /// Waits for another process's create of `r` to end, then finds what it made.
    async fn await_other_process(
        &self,
        r: &ResourceRef,
        owner: &str,
        since: DateTime<Utc>,
        cancel: &CancellationToken,
    ) -> Result<SnapshotItem, EngineError> {
        let l = &self.cfg.limits;
        let deadline = Utc::now() + chrono_d(l.create_timeout + l.poll_total);
        let step = l.poll_initial.max(Duration::from_millis(50));
        loop {
            let still = self
                .ledger_off()
                .await
                .in_flight
                .get(&r.id)
                .is_some_and(|f| f.owner == owner && f.since == since);
            if !still {
                break;
            }
            if Utc::now() > deadline {
                return Err(EngineError::Busy { since });
            }
            if !sleep_until(Utc::now() + chrono_d(step), cancel).await {
                return Err(EngineError::Cancelled);
            }
        }
        self.await_new_version(r, None, since, cancel)
            .await?
            .ok_or(EngineError::ProcessingTimeout)
    }
}

/// Removes the registry entries of the jobs a call owns, publishing a result to whoever
/// joined them (a cancellation when the call ended without one).
struct Registered<'a> {
    engine: &'a Engine,
    ids: Vec<String>,
}

impl Registered<'_> {
    fn publish(&self, res: &JobResult) {
        let mut jobs = self.engine.jobs.lock().unwrap_or_else(|e| e.into_inner());
        if self.ids.contains(&res.resource.id)
            && let Some(slot) = jobs.remove(&res.resource.id)
        {
            slot.send_replace(Some(res.outcome.clone()));
        }
    }
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        let mut jobs = self.engine.jobs.lock().unwrap_or_else(|e| e.into_inner());
        for id in &self.ids {
            if let Some(slot) = jobs.remove(id) {
                slot.send_replace(Some(Err(EngineError::Cancelled)));
            }
        }
    }
}

/// The queue's future must be `Send`, for the app's commands and `tokio::spawn`.
#[allow(dead_code)]
fn snapshot_future_is_send(e: &Engine, events: EventSink, cancel: &CancellationToken) {
    fn is_send<T: Send>(_: T) {}
    is_send(e.snapshot(Vec::new(), SnapshotOptions::default(), events, cancel));
}
