//! The send side of the queue: which job goes next, the locked check that records a create
//! before it leaves, and the loop that sends creates at the server's pace and hands each
//! accepted one to the download side.

use super::{Answer, BoxFut, Claim, Fetch, Job, Queue, ToFinish};
use crate::engine::account::version_key;
use crate::engine::types::{
    EngineError, Event, EventSink, JobResult, ResourceRef, SnapshotOptions,
};
use crate::ledger::{InFlight, Ledger};
use crate::pacer::{WaitReason, chrono_d, padded, ready_at, sleep_until};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use squarecloud::ApiError;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The jobs of one `snapshot` call on the send side.
struct Run {
    pending: Vec<Job>,
    results: Vec<JobResult>,
    /// Creates sent and not answered yet.
    in_flight: FuturesUnordered<BoxFut<'static, Answer>>,
}

impl Run {
    /// Ends every waiting job with `e`.
    fn fail_all(&mut self, e: EngineError) {
        for j in self.pending.drain(..) {
            self.results.push(JobResult {
                resource: j.r,
                outcome: Err(e.clone()),
            });
        }
    }
}

/// What one turn of the loop leaves it to do: go round at once, or wait for an answer, a
/// wake-up time (after a quota wait: `quota_wait`), or the pause to end.
enum Turn {
    Again,
    Wait {
        wake: Option<DateTime<Utc>>,
        quota_wait: bool,
    },
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

impl Queue<'_> {
    /// Sends creates at the server's pace and hands each accepted one to the download side.
    /// Returns the jobs that ended before reaching it.
    pub(super) async fn create_loop(
        &self,
        targets: Vec<ResourceRef>,
        opts: &SnapshotOptions,
        events: EventSink,
        cancel: &CancellationToken,
        tx: ToFinish,
    ) -> Vec<JobResult> {
        let mut run = Run {
            pending: targets.into_iter().map(Job::new).collect(),
            results: Vec::new(),
            in_flight: FuturesUnordered::new(),
        };
        let mut paused = self.line.paused.subscribe();
        let mut said_paused = false;
        while !(run.pending.is_empty() && run.in_flight.is_empty()) {
            if cancel.is_cancelled() {
                run.fail_all(EngineError::Cancelled);
                // A create already sent cannot be unsent: take its answer, so that what it
                // spent is recorded and its in-flight record released.
                if let Some(a) = run.in_flight.next().await {
                    self.on_answer(a, &mut run.pending, &mut run.results, &events, &tx)
                        .await;
                }
                continue;
            }
            let is_paused = *paused.borrow_and_update();
            if is_paused && !run.pending.is_empty() && !said_paused {
                said_paused = true;
                events(Event::Paused);
            }
            let (wake, quota_wait) = if !is_paused && !run.pending.is_empty() {
                match self.turn(&mut run, opts, &events, cancel, &tx).await {
                    Turn::Again => continue,
                    Turn::Wait { wake, quota_wait } => (wake, quota_wait),
                }
            } else {
                (None, false)
            };
            let sleep_to = wake.unwrap_or_else(|| Utc::now() + chrono::Duration::days(1));
            let can_sleep = wake.is_some() || is_paused;
            if !can_sleep && run.in_flight.is_empty() {
                continue; // every job ended above
            }
            tokio::select! {
                Some(a) = run.in_flight.next(), if !run.in_flight.is_empty() => {
                    self.on_answer(a, &mut run.pending, &mut run.results, &events, &tx).await;
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
        run.results
    }

    /// Picks the next job and tries to send its create; what the ledger says decides.
    async fn turn(
        &self,
        run: &mut Run,
        opts: &SnapshotOptions,
        events: &EventSink,
        cancel: &CancellationToken,
        tx: &ToFinish,
    ) -> Turn {
        self.list_ahead(&mut run.pending).await;
        let idx = self.next_job(&run.pending, &self.quota.ledger_off().await);
        let claim = match self.claim(&run.pending[idx]).await {
            Ok(c) => c,
            Err(e) => {
                run.fail_all(e);
                return Turn::Wait {
                    wake: None,
                    quota_wait: false,
                };
            }
        };
        let waiting = |wake| Turn::Wait {
            wake,
            quota_wait: false,
        };
        match claim {
            Claim::Sent(sent_at) => {
                let job = run.pending.remove(idx);
                let answer = self.send(job, sent_at, events).await;
                run.in_flight.push(answer);
                Turn::Again
            }
            Claim::NotYet(t, reason) => {
                events(Event::Waiting {
                    resource: run.pending[idx].r.id.clone(),
                    until: t,
                    reason,
                });
                waiting(Some(t))
            }
            Claim::Busy(f) => {
                let job = run.pending.remove(idx);
                events(Event::Joined {
                    resource: job.r.id.clone(),
                    since: f.since,
                });
                let _ = tx.send(Fetch::Elsewhere {
                    r: job.r,
                    owner: f.owner,
                    since: f.since,
                });
                Turn::Again
            }
            Claim::Stale(f) => {
                let job = run.pending.remove(idx);
                if let Some(job) = self.adopt_stale(job, f, cancel, tx).await {
                    run.pending.insert(idx, job);
                }
                Turn::Again
            }
            Claim::Blocked(until) => {
                events(Event::RateLimited { until });
                run.fail_all(EngineError::RateLimited { until });
                waiting(None)
            }
            Claim::NoQuota(until) => self.hold_for_quota(run, until, opts, events).await,
        }
    }

    /// Sends a create recorded at `sent_at`, and returns the future of its answer. Spawned,
    /// so it leaves now, not when the loop next polls it; this waits until it has actually
    /// left (after any wait for the per-minute budget) and counts the windows from then.
    async fn send(
        &self,
        job: Job,
        sent_at: DateTime<Utc>,
        events: &EventSink,
    ) -> BoxFut<'static, Answer> {
        events(Event::Creating {
            resource: job.r.id.clone(),
            since: sent_at,
        });
        let (kind, id) = (job.r.kind, job.r.id.clone());
        let client = self.account.client().clone();
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
            // Written on a blocking thread: done here, its fsync would hold this runtime
            // thread, and with it the connection task about to write the request, so the
            // create would reach the server later than recorded and the next one, paced
            // from this record, too close to it (seen as a refused create under disk load).
            let (acct, rid) = (self.account.id(), job.r.id.clone());
            let _ = self
                .quota
                .update_ledger_off(move |l| l.left_at(&acct, &rid, sent_at, left))
                .await;
            sent_at = left;
        }
        Box::pin(async move {
            let (result, answered_at) = call
                .await
                .unwrap_or_else(|e| (Err(ApiError::Network(e.to_string())), Utc::now()));
            Answer {
                job,
                sent_at,
                answered_at,
                result,
            }
        })
    }

    /// A process that stopped while serving this resource: what it sent is still counted;
    /// its snapshot is adopted if it made one. Returns the job when it made none.
    async fn adopt_stale(
        &self,
        job: Job,
        f: InFlight,
        cancel: &CancellationToken,
        tx: &ToFinish,
    ) -> Option<Job> {
        let (gone, owner) = (job.r.id.clone(), f.owner.clone());
        let _ = self
            .quota
            .update_ledger_off(move |l| {
                if l.in_flight.get(&gone).is_some_and(|x| x.owner == owner) {
                    l.in_flight.remove(&gone);
                }
            })
            .await;
        // Its create may have been accepted and still be prepared: look until the
        // resource's window has passed (no create could be sent before then anyway), so a
        // lost answer is never paid for twice.
        let until = f.since + padded(self.line.limits.resource_gap);
        let found = matches!(
            self.account
                .await_new_version_until(&job.r, None, f.since, until, cancel)
                .await,
            Ok(Some(_))
        );
        if !found {
            return Some(job);
        }
        let _ = tx.send(Fetch::Elsewhere {
            r: job.r,
            owner: f.owner,
            since: f.since,
        });
        None
    }

    /// No quota left: says so, then waits for it to free up or ends every waiting job.
    async fn hold_for_quota(
        &self,
        run: &mut Run,
        until: Option<DateTime<Utc>>,
        opts: &SnapshotOptions,
        events: &EventSink,
    ) -> Turn {
        events(Event::Quota {
            quota: self.quota.status_off(self.account).await,
        });
        events(Event::PausedForQuota {
            until,
            held: run.pending.iter().map(|j| j.r.id.clone()).collect(),
        });
        if !opts.wait_for_quota {
            run.fail_all(EngineError::Quota { until });
            return Turn::Wait {
                wake: None,
                quota_wait: false,
            };
        }
        let window = self.line.limits.quota_window;
        let t =
            until.unwrap_or_else(|| Utc::now() + chrono_d(Duration::from_secs(3600).min(window)));
        Turn::Wait {
            wake: Some(t),
            quota_wait: true,
        }
    }

    /// Fetches the lists of the next few jobs (their "before" sets and size hints), a few at
    /// a time and well inside the per-minute budget.
    async fn list_ahead(&self, pending: &mut [Job]) {
        let budget = self.account.client().budget().per_window() as usize;
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
                Box::pin(async move { self.account.versions(&r).await })
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
                self.quota.persist_block().await;
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
        let (acct, now) = (self.account.id(), Utc::now());
        let margin = self.account.latency().margin();
        let ready = |j: &Job| {
            let (t, _) = ready_at(ledger, &acct, &j.r.id, &self.line.limits, margin, now);
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
        let acct = self.account.id();
        let l = self.line.limits.clone();
        let margin = self.account.latency().margin();
        let total = self.account.daily_quota();
        let stale_after = chrono_d(l.create_timeout + l.poll_total);
        let api = self.quota.api_url().to_string();
        let owner = self.line.owner.clone();
        let holder = self.line.holder.as_ref().map(|h| h.token().to_string());
        let data_dir = self.line.data_dir.clone();
        let id = job.r.id.clone();
        let not_before = job.not_before;
        self.quota
            .update_ledger_off(move |ledger: &mut Ledger| {
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

    /// Drops this engine's in-flight record of a resource.
    pub(super) async fn release(&self, id: &str) {
        let owner = self.line.owner.clone();
        let id = id.to_string();
        let _ = self
            .quota
            .update_ledger_off(move |l| {
                if l.in_flight.get(&id).is_some_and(|f| f.owner == owner) {
                    l.in_flight.remove(&id);
                }
            })
            .await;
    }

    /// After a quota wait: once the oldest counted snapshot has left the window, the
    /// server's last "none left" no longer holds (if it still does, it will say so again).
    async fn clear_exhausted_if_due(&self, wake: Option<DateTime<Utc>>) {
        if wake.is_some_and(|t| t <= Utc::now()) {
            let acct = self.account.id();
            let _ = self
                .quota
                .update_ledger_off(move |l| l.account(&acct).exhausted_at = None)
                .await;
        }
    }
}
