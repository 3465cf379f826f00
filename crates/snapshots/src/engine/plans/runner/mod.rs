//! The plan runner: claims every due period in `plans.json` under the data dir's lock (or a
//! run that was killed or stopped half way), runs each plan through the queue or the shelf,
//! records what it did, and lets the next run resume what one left unfinished. What a run
//! does to each resource is in `work.rs`; its offsite step in `offsite.rs`.

mod offsite;
mod work;

pub use offsite::OffsiteRun;

use super::model::{HISTORY, InProgress, PLANS, Plan, PlanKind, Plans, RunRecord, Scope};
use crate::claim::Holder;
use crate::engine::account::Account;
use crate::engine::library::Shelf;
use crate::engine::queue::Queue;
use crate::engine::quota::Quota;
use crate::engine::types::{
    EngineConfig, EngineError, Event, EventSink, ResourceRef, SnapshotOptions, state_error,
};
use crate::names::printable;
use crate::offsite::access::OffsiteAccess;
use crate::statedir::StateDir;
use chrono::{DateTime, Duration, Local, Utc};
use serde::Serialize;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// A plan run claimed by `run_due`: the plan, its period, what a killed run had finished,
/// and when that run began (None: a fresh run).
type Claimed = (Plan, String, Vec<String>, Option<DateTime<Utc>>);

/// What one due plan did.
#[derive(Debug, Clone, Serialize)]
pub struct PlanRun {
    pub plan: String,
    pub period: String,
    pub ok: bool,
    pub files: u32,
    pub bytes: u64,
    pub failures: Vec<String>,
    pub failed_ids: Vec<String>,
    /// Downloads left for later (a metered connection), with the reason.
    pub postponed: Vec<String>,
    pub pruned: usize,
    /// Resumed from a run that was killed or stopped half way.
    pub resumed: bool,
    /// Stopped (cancelled) before the end: the next `run_due` finishes it.
    #[serde(default)]
    pub stopped: bool,
    /// Resources not snapshotted, to keep the reserve for the user's own clicks (by id).
    pub reserve_held: Vec<String>,
    /// Shared applications left out because the account's role in their workspace does
    /// not allow snapshots (one sentence each): not a failure of the run.
    pub not_allowed: Vec<String>,
    /// What its offsite step did (a plan that names an offsite destination).
    pub offsite: Option<OffsiteRun>,
}

impl PlanRun {
    fn new(plan: &str, period: &str) -> Self {
        PlanRun {
            plan: plan.to_string(),
            period: period.to_string(),
            ok: true,
            files: 0,
            bytes: 0,
            failures: Vec::new(),
            failed_ids: Vec::new(),
            postponed: Vec::new(),
            pruned: 0,
            resumed: false,
            stopped: false,
            reserve_held: Vec::new(),
            not_allowed: Vec::new(),
            offsite: None,
        }
    }

    fn stopped(plan: &str, period: &str) -> Self {
        PlanRun {
            stopped: true,
            ..PlanRun::new(plan, period)
        }
    }
}

/// Whether the runner that claimed `r` still runs it. A claim names the lock its runner
/// holds (`claim.rs`); one from an older version names only a pid, which may be reused or
/// be this process's own after a stop: it is trusted only when it is another live process
/// and the run began less than 12 hours ago.
fn claim_held(data_dir: &std::path::Path, r: &InProgress) -> bool {
    match &r.holder {
        Some(token) => crate::claim::held(data_dir, token),
        None => {
            r.pid != std::process::id()
                && crate::claim::process_alive(r.pid)
                && Utc::now() - r.started < Duration::hours(12)
        }
    }
}

/// `plans.json` in the data dir.
pub(in crate::engine) struct PlanStore {
    state: Arc<StateDir>,
    data_dir: PathBuf,
}

impl PlanStore {
    pub(in crate::engine) fn new(state: Arc<StateDir>, cfg: &EngineConfig) -> Self {
        Self {
            state,
            data_dir: cfg.data_dir.clone(),
        }
    }

    pub(in crate::engine) fn plans(&self) -> Plans {
        self.state.read(PLANS).unwrap_or_default()
    }

    /// Changes the plans under the lock.
    pub(in crate::engine) fn update_plans<R>(
        &self,
        f: impl FnOnce(&mut Plans) -> R,
    ) -> Result<R, EngineError> {
        self.state
            .update(PLANS, f)
            .map_err(|e| state_error(&self.data_dir.join(PLANS), e))
    }

    /// Claims every due period (or a stopped run to resume) in one locked step. Each claim
    /// names a lock this process holds until the run ends.
    fn claim_due(&self, local: DateTime<Local>) -> Result<Vec<(Claimed, Holder)>, EngineError> {
        let pid = std::process::id();
        let data_dir = self.data_dir.clone();
        let (claimed, failed) = self.update_plans(|plans| {
            let mut out: Vec<(Claimed, Holder)> = Vec::new();
            let mut failed = None;
            for plan in plans.plans.clone() {
                let (period, _) = plan.schedule.period(local);
                let st = plans.state.entry(plan.id.clone()).or_default();
                let resume = match &st.running {
                    Some(r) if claim_held(&data_dir, r) => continue, // someone is on it
                    // Killed or stopped half way: finish that run, without what it had done.
                    Some(r) => Some(r.clone()),
                    None if st.last_period.as_deref() == Some(period.as_str()) => continue,
                    None => None,
                };
                let holder = match Holder::acquire(&data_dir) {
                    Ok(h) => h,
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                };
                let token = Some(holder.token().to_string());
                match resume {
                    Some(r) => {
                        let (p, done, began) = (r.period.clone(), r.done.clone(), r.started);
                        st.running = Some(InProgress {
                            pid,
                            holder: token,
                            ..r
                        });
                        out.push(((plan, p, done, Some(began)), holder));
                    }
                    None => {
                        st.last_period = Some(period.clone());
                        st.running = Some(InProgress {
                            period: period.clone(),
                            // This machine's clock: compared with the ledger's when resuming.
                            started: Utc::now(),
                            pid,
                            done: Vec::new(),
                            holder: token,
                        });
                        out.push(((plan, period, Vec::new(), None), holder));
                    }
                }
            }
            (out, failed)
        })?;
        match failed {
            Some(e) if claimed.is_empty() => Err(state_error(&self.data_dir.join("claims"), e)),
            _ => Ok(claimed),
        }
    }

    /// Ends a finished run: its claim goes, its record joins the history.
    fn record(&self, plan: &Plan, record: RunRecord) -> Result<(), EngineError> {
        self.update_plans(|plans| {
            let st = plans.state.entry(plan.id.clone()).or_default();
            st.running = None;
            st.history.push_back(record);
            while st.history.len() > HISTORY {
                st.history.pop_front();
            }
        })
    }

    fn mark_done(&self, plan: &Plan, id: &str) {
        let _ = self.update_plans(|plans| {
            if let Some(r) = plans
                .state
                .get_mut(&plan.id)
                .and_then(|s| s.running.as_mut())
            {
                r.done.push(id.to_string());
            }
        });
    }

    /// `events`, and each finished resource recorded at once, so a run killed later
    /// resumes without it.
    fn recording_done(&self, plan: &Plan, events: EventSink) -> EventSink {
        let (plan_id, state) = (plan.id.clone(), self.state.clone());
        Arc::new(move |e: Event| {
            if let Event::Done { resource, .. } = &e {
                let _ = state.update(PLANS, |plans: &mut Plans| {
                    if let Some(r) = plans
                        .state
                        .get_mut(&plan_id)
                        .and_then(|s| s.running.as_mut())
                        && !r.done.contains(resource)
                    {
                        r.done.push(resource.clone());
                    }
                });
            }
            events(e)
        })
    }
}

/// The runner at work: the plans with the rooms a run goes through, borrowed for one call.
pub(in crate::engine) struct Runner<'a> {
    account: &'a Account,
    quota: &'a Quota,
    shelf: &'a Shelf,
    queue: Queue<'a>,
    store: &'a PlanStore,
    /// How to reach the offsite destinations (none given: a plan's offsite step says so).
    offsite: Option<Arc<dyn OffsiteAccess>>,
}

impl<'a> Runner<'a> {
    pub(in crate::engine) fn new(
        account: &'a Account,
        quota: &'a Quota,
        shelf: &'a Shelf,
        queue: Queue<'a>,
        store: &'a PlanStore,
        offsite: Option<Arc<dyn OffsiteAccess>>,
    ) -> Self {
        Self {
            account,
            quota,
            shelf,
            queue,
            store,
            offsite,
        }
    }

    /// Runs every plan due at `now`, once per period, then returns what each did.
    ///
    /// A run that was killed, or stopped through `cancel`, keeps its claim with what it had
    /// finished; its lock is let go, so the next `run_due` (here or in another process)
    /// finishes it without redoing that. A stopped run is returned with `stopped` and is
    /// not recorded in the history: the run that finishes it is.
    pub(in crate::engine) async fn run_due(
        &self,
        now: DateTime<Utc>,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> Result<Vec<PlanRun>, EngineError> {
        let claimed = self.store.claim_due(now.with_timezone(&Local))?;
        if !claimed.is_empty() {
            // An all-resources plan covers what the account has now, not what it had when
            // this engine started. Offline, what is known serves.
            let _ = self.account.refresh().await;
        }
        let mut runs = Vec::new();
        for ((plan, period, done, resumed_from), holder) in claimed {
            if cancel.is_cancelled() {
                // Stopped before it began: its claim waits, released, for the next run_due.
                drop(holder);
                runs.push(PlanRun::stopped(&plan.id, &period));
                continue;
            }
            let run = self
                .run_plan(&plan, &period, &done, resumed_from, events.clone(), cancel)
                .await;
            let run = PlanRun {
                resumed: resumed_from.is_some(),
                stopped: cancel.is_cancelled(),
                ..run
            };
            if !run.stopped {
                self.store.record(&plan, run_record(&run, now))?;
            }
            // A stopped run's claim stays with what it finished; dropping the lock
            // releases it.
            drop(holder);
            runs.push(run);
        }
        Ok(runs)
    }

    fn plan_targets(&self, plan: &Plan, done: &[String]) -> Vec<ResourceRef> {
        let skip: HashSet<&String> = done.iter().collect();
        self.account
            .resources()
            .into_iter()
            .filter(|r| match &plan.scope {
                Scope::All => true,
                Scope::Resources { ids } => ids.contains(&r.id),
            })
            .filter(|r| !skip.contains(&r.id))
            .collect()
    }

    async fn run_plan(
        &self,
        plan: &Plan,
        period: &str,
        done: &[String],
        resumed_from: Option<DateTime<Utc>>,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> PlanRun {
        let mut targets = self.plan_targets(plan, done);
        let mut run = PlanRun::new(&plan.id, period);
        if plan.kind == PlanKind::Snapshot {
            // A shared application the role may not snapshot: skipped and said, not failed.
            targets.retain(|r| match r.check_may_snapshot() {
                Ok(()) => true,
                Err(e) => {
                    run.not_allowed.push(e.to_string());
                    false
                }
            });
        }
        let events = self.store.recording_done(plan, events);
        let dest = match self.download_dir(plan) {
            Ok(d) => d,
            Err(e) => {
                for r in &targets {
                    failed(&mut run, r, &e);
                }
                return run;
            }
        };
        let dest = dest.as_deref();
        match plan.kind {
            PlanKind::Snapshot => {
                let go = Go { resumed_from, dest };
                self.run_snapshots(plan, targets, go, &mut run, events, cancel)
                    .await
            }
            PlanKind::Mirror => {
                for r in targets {
                    match self.mirror_one(&r, dest, events.clone(), cancel).await {
                        Ok((files, bytes, later)) => {
                            run.files += files;
                            run.bytes += bytes;
                            run.postponed.extend(later);
                            self.store.mark_done(plan, &r.id);
                        }
                        Err(e) => failed(&mut run, &r, &e),
                    }
                }
            }
        }
        // The plan's rule on this computer, when it keeps copies here; then its offsite
        // step, where the rule is applied to the destination's copies.
        if !cancel.is_cancelled() && plan.keeps_local() {
            run.pruned = self
                .apply_retention(plan)
                .map(|r| r.deleted.len())
                .unwrap_or(0);
        }
        if let Some(name) = &plan.offsite
            && !cancel.is_cancelled()
        {
            let o = self.send_offsite(plan, name, cancel).await;
            if plan.offsite_only {
                run.pruned = o.kept.as_ref().map_or(0, |k| k.deleted.len());
            }
            // Offsite only: what did not get there is not where the plan keeps it yet.
            if let (true, Some(words)) = (plan.offsite_only, o.waiting_words()) {
                run.postponed.push(words);
            }
            run.offsite = Some(o);
        }
        run
    }

    /// A snapshot plan's run: what a killed run sent is adopted, the reserve is kept, and
    /// the rest go through the queue.
    async fn run_snapshots(
        &self,
        plan: &Plan,
        mut targets: Vec<ResourceRef>,
        Go { resumed_from, dest }: Go<'_>,
        run: &mut PlanRun,
        events: EventSink,
        cancel: &CancellationToken,
    ) {
        // A resumed run first adopts what the killed one had sent: never a second create
        // for a resource it already snapshotted.
        if let Some(began) = resumed_from {
            let mut rest = Vec::new();
            for r in targets {
                match self
                    .adopt_sent_since(&r, began, dest, events.clone(), cancel)
                    .await
                {
                    Some(Ok(d)) => {
                        run.files += u32::from(!d.already_present);
                        run.bytes += d.size;
                        self.store.mark_done(plan, &r.id);
                    }
                    Some(Err(e)) => failed(run, &r, &e),
                    None => rest.push(r),
                }
            }
            targets = rest;
        }
        // The reserve for the user's own snapshots, checked now: an all-resources plan grows
        // with the account, and other snapshots may have used the day.
        let (go, wait, why) = self.within_reserve(targets);
        if let Some(why) = why {
            // Said once for the run (`sqsnap run-due` prints it), not as a waiting line per
            // resource: nothing of this run will come for them.
            events(Event::Learned {
                message: format!("{}: {why}", printable(&plan.id)),
            });
            run.postponed.push(why);
            run.reserve_held = wait.into_iter().map(|r| r.id).collect();
        }
        let opts = SnapshotOptions {
            download: true,
            dest: dest.map(PathBuf::from),
            wait_for_quota: false,
        };
        for res in self.queue.snapshot(go, opts, events, cancel).await {
            match res.outcome {
                Ok(o) => {
                    if let Some(d) = o.download {
                        run.files += u32::from(!d.already_present);
                        run.bytes += d.size;
                    }
                    self.store.mark_done(plan, &res.resource.id);
                }
                Err(e) => failed(run, &res.resource, &e),
            }
        }
    }
}

/// How a snapshot plan's run goes: resumed from a run that began then (None: a fresh one),
/// its downloads into `dest` (None: each resource's folder).
struct Go<'a> {
    resumed_from: Option<DateTime<Utc>>,
    dest: Option<&'a std::path::Path>,
}

/// Counts a resource's failure in the run.
fn failed(run: &mut PlanRun, r: &ResourceRef, e: &EngineError) {
    run.ok = false;
    run.failures.push(format!("{}: {e}", printable(&r.name)));
    run.failed_ids.push(r.id.clone());
}

/// The history's record of a finished run that started at `now`.
fn run_record(run: &PlanRun, now: DateTime<Utc>) -> RunRecord {
    RunRecord {
        period: run.period.clone(),
        started: now,
        ended: Some(Utc::now()),
        ok: run.ok,
        bytes: run.bytes,
        files: run.files,
        failures: run.failures.clone(),
        failed_ids: run.failed_ids.clone(),
        postponed: run.postponed.clone(),
        reserve_held: run.reserve_held.clone(),
        offsite: run.offsite.as_ref().map(OffsiteRun::note),
    }
}
