//! Plans: backups that run themselves. A *mirror* plan downloads every server snapshot not
//! on disk yet (Square Cloud makes an automatic one of each resource daily): it costs no
//! quota. A *snapshot* plan takes a new snapshot and downloads it: it spends quota, through
//! the same queue, pacer and lock as a click.
//!
//! A plan runs at most once per period (this hour, this day from 03:00, ...). The period
//! is claimed in `plans.json` under the data dir's lock before anything is sent, so two
//! processes (the tray app and `sqsnap run-due` from a timer) never both run it, and a
//! machine that was off runs each plan once when it comes back, not once per missed period.
//! A run killed half way is resumed by the next `run_due`, with only the resources it had
//! not finished.

use crate::engine::{Engine, EngineError, EventSink, ResourceRef, SnapshotOptions};
use crate::library::{Library, PruneReport};
use chrono::{DateTime, Datelike, Duration, Local, NaiveTime, TimeZone, Timelike, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

pub const PLANS: &str = "plans.json";

/// How many runs each plan keeps in its history.
const HISTORY: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanKind {
    Mirror,
    Snapshot,
}

/// When a plan runs, in local time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "every", rename_all = "snake_case")]
pub enum Schedule {
    Hour,
    Hours {
        hours: u32,
    },
    Day {
        at: NaiveTime,
    },
    /// `weekday`: 0 = Monday … 6 = Sunday.
    Week {
        weekday: u32,
        at: NaiveTime,
    },
}

/// Which resources a plan covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "snake_case")]
pub enum Scope {
    All,
    Resources { ids: Vec<String> },
}

/// What is kept on disk, per resource, after a verified download.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "keep", rename_all = "snake_case")]
pub enum Retention {
    /// The newest of each of the last `daily` days, `weekly` weeks and `monthly` months.
    Calendar {
        daily: u32,
        weekly: u32,
        monthly: u32,
    },
    Last {
        n: u32,
    },
    Everything,
}

impl Default for Retention {
    fn default() -> Self {
        Retention::Calendar {
            daily: 7,
            weekly: 4,
            monthly: 6,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub id: String,
    pub kind: PlanKind,
    pub scope: Scope,
    pub schedule: Schedule,
    #[serde(default)]
    pub retention: Retention,
    /// Where its downloads go (default: the resource's folder, else the default folder).
    #[serde(default)]
    pub dest: Option<PathBuf>,
}

/// One run of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub period: String,
    pub started: DateTime<Utc>,
    pub ended: Option<DateTime<Utc>>,
    pub ok: bool,
    pub bytes: u64,
    pub files: u32,
    pub failures: Vec<String>,
    /// The resources that failed, by id.
    #[serde(default)]
    pub failed_ids: Vec<String>,
    /// Downloads left for later, with the reason.
    #[serde(default)]
    pub postponed: Vec<String>,
}

/// A run under way (or killed half way): what it has finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InProgress {
    pub period: String,
    pub started: DateTime<Utc>,
    pub pid: u32,
    pub done: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanState {
    /// The last period this plan ran (or was created) in.
    pub last_period: Option<String>,
    pub running: Option<InProgress>,
    pub history: VecDeque<RunRecord>,
    /// When the plan was added.
    #[serde(default)]
    pub created: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plans {
    pub plans: Vec<Plan>,
    #[serde(default)]
    pub state: BTreeMap<String, PlanState>,
    /// Creates a day kept free for manual snapshots.
    #[serde(default = "one")]
    pub reserve: u32,
}

fn one() -> u32 {
    1
}

impl Default for Plans {
    /// No plans, and one snapshot a day kept for the user's own clicks.
    fn default() -> Self {
        Self {
            plans: Vec::new(),
            state: BTreeMap::new(),
            reserve: one(),
        }
    }
}

impl Schedule {
    /// The period `now` falls in, as a stable key, and when it started.
    pub fn period<Tz: TimeZone>(&self, now: DateTime<Tz>) -> (String, DateTime<Tz>)
    where
        Tz::Offset: std::fmt::Display,
    {
        let tz = now.timezone();
        let at_day = |d: chrono::NaiveDate, t: NaiveTime| {
            tz.from_local_datetime(&d.and_time(t))
                .earliest()
                .unwrap_or_else(|| now.clone())
        };
        match self {
            Schedule::Hour => {
                let start = now
                    .with_minute(0)
                    .and_then(|t| t.with_second(0))
                    .and_then(|t| t.with_nanosecond(0))
                    .unwrap_or_else(|| now.clone());
                (start.format("%Y-%m-%dT%H").to_string(), start)
            }
            Schedule::Hours { hours } => {
                let h = (*hours).max(1) as i64;
                let index = now.timestamp().div_euclid(h * 3600);
                let start = tz
                    .timestamp_opt(index * h * 3600, 0)
                    .earliest()
                    .unwrap_or_else(|| now.clone());
                (format!("{h}h-{index}"), start)
            }
            Schedule::Day { at } => {
                let today = at_day(now.date_naive(), *at);
                let start = if today <= now {
                    today
                } else {
                    at_day(now.date_naive() - Duration::days(1), *at)
                };
                (start.format("%Y-%m-%d").to_string(), start)
            }
            Schedule::Week { weekday, at } => {
                let back = (now.weekday().num_days_from_monday() + 7 - weekday % 7) % 7;
                let mut start = at_day(now.date_naive() - Duration::days(back as i64), *at);
                if start > now {
                    start = at_day(now.date_naive() - Duration::days(back as i64 + 7), *at);
                }
                (start.format("week of %Y-%m-%d").to_string(), start)
            }
        }
    }

    /// When the period after the one `now` falls in starts.
    pub fn next_start<Tz: TimeZone>(&self, now: DateTime<Tz>) -> DateTime<Tz>
    where
        Tz::Offset: std::fmt::Display,
    {
        let (_, start) = self.period(now);
        start
            + match self {
                Schedule::Hour => Duration::hours(1),
                Schedule::Hours { hours } => Duration::hours((*hours).max(1) as i64),
                Schedule::Day { .. } => Duration::days(1),
                Schedule::Week { .. } => Duration::days(7),
            }
    }

    /// Creates one plan of this schedule may need on its busiest day, per resource.
    pub fn runs_per_day(&self) -> u32 {
        match self {
            Schedule::Hour => 24,
            Schedule::Hours { hours } => 24u32.div_ceil((*hours).max(1)),
            Schedule::Day { .. } | Schedule::Week { .. } => 1,
        }
    }
}

/// Why a plan cannot be saved.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "These plans would need {needed} snapshots a day, but the account has {quota} and {reserve} {} kept for snapshots you take by hand. Take fewer resources, or snapshot them less often (a mirror plan costs nothing).",
        if *reserve == 1 { "is" } else { "are" }
    )]
    OverQuota {
        needed: u32,
        quota: u32,
        reserve: u32,
    },
    #[error("No plan named {0}.")]
    Unknown(String),
    #[error("A plan named {0} exists already.")]
    Exists(String),
    #[error("{0}")]
    Invalid(String),
}

impl Plans {
    /// Snapshots a day all snapshot plans need, for an account of `resources` resources.
    pub fn creates_per_day(&self, resources: usize) -> u32 {
        self.plans
            .iter()
            .filter(|p| p.kind == PlanKind::Snapshot)
            .map(|p| {
                let n = match &p.scope {
                    Scope::All => resources,
                    Scope::Resources { ids } => ids.len(),
                } as u32;
                n * p.schedule.runs_per_day()
            })
            .sum()
    }

    /// Adds a plan if every snapshot plan together still fits in the quota, less the
    /// reserve. Its first run is its next period: adding one never fires it at once.
    pub fn add(
        &mut self,
        plan: Plan,
        resources: usize,
        quota: u32,
        now: DateTime<Local>,
    ) -> Result<(), PlanError> {
        if plan.id.trim().is_empty() {
            return Err(PlanError::Invalid("A plan needs a name.".into()));
        }
        if self.plans.iter().any(|p| p.id == plan.id) {
            return Err(PlanError::Exists(plan.id));
        }
        if let Retention::Last { n: 0 } = plan.retention {
            return Err(PlanError::Invalid(
                "Keeping the last 0 would delete every copy: keep at least 1.".into(),
            ));
        }
        let mut with = self.clone();
        with.plans.push(plan.clone());
        let needed = with.creates_per_day(resources);
        if needed + self.reserve > quota && needed > 0 {
            return Err(PlanError::OverQuota {
                needed,
                quota,
                reserve: self.reserve,
            });
        }
        let (period, _) = plan.schedule.period(now);
        self.state.insert(
            plan.id.clone(),
            PlanState {
                last_period: Some(period),
                created: Some(now.with_timezone(&Utc)),
                ..PlanState::default()
            },
        );
        self.plans.push(plan);
        Ok(())
    }

    /// When the next plan that covers `resource` runs.
    pub fn next_for(&self, resource: &str, now: DateTime<Local>) -> Option<DateTime<Utc>> {
        self.plans
            .iter()
            .filter(|p| match &p.scope {
                Scope::All => true,
                Scope::Resources { ids } => ids.iter().any(|i| i == resource),
            })
            .map(|p| p.schedule.next_start(now).with_timezone(&Utc))
            .min()
    }

    /// Changes how many snapshots a day are kept for clicks, if the plans still fit.
    pub fn set_reserve(
        &mut self,
        reserve: u32,
        resources: usize,
        quota: u32,
    ) -> Result<(), PlanError> {
        let needed = self.creates_per_day(resources);
        if needed > 0 && needed + reserve > quota {
            return Err(PlanError::OverQuota {
                needed,
                quota,
                reserve,
            });
        }
        self.reserve = reserve;
        Ok(())
    }

    pub fn remove(&mut self, id: &str) -> Result<Plan, PlanError> {
        let i = self
            .plans
            .iter()
            .position(|p| p.id == id)
            .ok_or_else(|| PlanError::Unknown(id.into()))?;
        self.state.remove(id);
        Ok(self.plans.remove(i))
    }
}

/// One day of a resource's last 30, for the strip in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Day {
    /// A verified copy taken that day is on this computer.
    BackedUp,
    /// A plan run for it failed that day.
    Failed,
    /// A plan should have run for it that day and did not.
    Missed,
    /// Nothing was planned, nothing happened.
    Nothing,
}

impl Plans {
    /// The last `n` days of one resource, oldest first, in local dates.
    pub fn days(
        &self,
        resource: &str,
        library: &Library,
        n: u32,
        now: DateTime<Local>,
    ) -> Vec<Day> {
        let today = now.date_naive();
        let backed: HashSet<chrono::NaiveDate> = library
            .for_resource(resource)
            .iter()
            .filter(|e| e.verified_at.is_some())
            .map(|e| e.taken_at.with_timezone(&Local).date_naive())
            .collect();
        let covering: Vec<&Plan> = self
            .plans
            .iter()
            .filter(|p| match &p.scope {
                Scope::All => true,
                Scope::Resources { ids } => ids.iter().any(|i| i == resource),
            })
            .collect();
        (0..n as i64)
            .rev()
            .map(|back| {
                let day = today - Duration::days(back);
                if backed.contains(&day) {
                    return Day::BackedUp;
                }
                let runs_that_day = |p: &Plan| {
                    self.state
                        .get(&p.id)
                        .into_iter()
                        .flat_map(|s| s.history.iter())
                        .filter(move |r| r.started.with_timezone(&Local).date_naive() == day)
                };
                if covering
                    .iter()
                    .any(|p| runs_that_day(p).any(|r| r.failed_ids.iter().any(|i| i == resource)))
                {
                    return Day::Failed;
                }
                // Due that day: a snapshot plan whose period started that day, after it was
                // added, and before now. (A mirror has nothing to miss if nothing was new.)
                let due = covering.iter().any(|p| {
                    p.kind == PlanKind::Snapshot
                        && self
                            .state
                            .get(&p.id)
                            .and_then(|s| s.created)
                            .is_some_and(|c| {
                                let start = p.schedule.next_start(
                                    Local
                                        .from_local_datetime(
                                            &day.and_hms_opt(0, 0, 0).unwrap_or_default(),
                                        )
                                        .earliest()
                                        .unwrap_or(now),
                                );
                                start.date_naive() == day
                                    && start.with_timezone(&Utc) > c
                                    && start < now
                            })
                        && runs_that_day(p).next().is_none()
                });
                if due { Day::Missed } else { Day::Nothing }
            })
            .collect()
    }
}

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
    /// Resumed from a run that was killed half way.
    pub resumed: bool,
}

impl Engine {
    pub fn plans(&self) -> Plans {
        self.state.read(PLANS).unwrap_or_default()
    }

    /// Changes the plans under the lock.
    pub fn update_plans<R>(&self, f: impl FnOnce(&mut Plans) -> R) -> Result<R, EngineError> {
        self.state
            .update(PLANS, f)
            .map_err(|e| crate::engine::state_error(&self.cfg.data_dir.join(PLANS), e))
    }

    /// Adds a plan after checking it fits in the quota.
    pub fn add_plan(&self, plan: Plan) -> Result<Result<(), PlanError>, EngineError> {
        let (n, quota) = (self.resources().len(), self.daily_quota());
        self.update_plans(|p| p.add(plan, n, quota, Local::now()))
    }

    /// Runs every plan due at `now`, once per period, then returns what each did.
    pub async fn run_due(
        &self,
        now: DateTime<Utc>,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> Result<Vec<PlanRun>, EngineError> {
        let local = now.with_timezone(&Local);
        let pid = std::process::id();
        // Claim every due period (or a killed run to resume) in one locked step.
        let claimed: Vec<Claimed> = self.update_plans(|plans| {
            let mut out = Vec::new();
            for plan in plans.plans.clone() {
                let (period, _) = plan.schedule.period(local);
                let st = plans.state.entry(plan.id.clone()).or_default();
                match &st.running {
                    Some(r) if crate::statedir::process_alive(r.pid) => continue, // someone is on it
                    Some(r) => {
                        // Killed half way: finish that run, without what it had done.
                        let (p, done, began) = (r.period.clone(), r.done.clone(), r.started);
                        st.running = Some(InProgress { pid, ..r.clone() });
                        out.push((plan, p, done, Some(began)));
                        continue;
                    }
                    None => {}
                }
                if st.last_period.as_deref() == Some(period.as_str()) {
                    continue;
                }
                st.last_period = Some(period.clone());
                st.running = Some(InProgress {
                    period: period.clone(),
                    // This machine's clock: compared with the ledger's when resuming.
                    started: Utc::now(),
                    pid,
                    done: Vec::new(),
                });
                out.push((plan, period, Vec::new(), None));
            }
            out
        })?;
        let mut runs = Vec::new();
        for (plan, period, done, resumed_from) in claimed {
            let run = self
                .run_plan(&plan, &period, &done, resumed_from, events.clone(), cancel)
                .await;
            let run = PlanRun {
                resumed: resumed_from.is_some(),
                ..run
            };
            let record = RunRecord {
                period: period.clone(),
                started: now,
                ended: Some(Utc::now()),
                ok: run.ok,
                bytes: run.bytes,
                files: run.files,
                failures: run.failures.clone(),
                failed_ids: run.failed_ids.clone(),
                postponed: run.postponed.clone(),
            };
            let cancelled = cancel.is_cancelled();
            self.update_plans(|plans| {
                let st = plans.state.entry(plan.id.clone()).or_default();
                if !cancelled {
                    st.running = None;
                }
                st.history.push_back(record);
                while st.history.len() > HISTORY {
                    st.history.pop_front();
                }
            })?;
            runs.push(run);
        }
        Ok(runs)
    }

    fn plan_targets(&self, plan: &Plan, done: &[String]) -> Vec<ResourceRef> {
        let skip: HashSet<&String> = done.iter().collect();
        self.resources()
            .into_iter()
            .filter(|r| match &plan.scope {
                Scope::All => true,
                Scope::Resources { ids } => ids.contains(&r.id),
            })
            .filter(|r| !skip.contains(&r.id))
            .collect()
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
        let mut run = PlanRun {
            plan: plan.id.clone(),
            period: period.to_string(),
            ok: true,
            files: 0,
            bytes: 0,
            failures: Vec::new(),
            failed_ids: Vec::new(),
            postponed: Vec::new(),
            pruned: 0,
            resumed: false,
        };
        let fail = |run: &mut PlanRun, r: &ResourceRef, e: &EngineError| {
            run.ok = false;
            run.failures
                .push(format!("{}: {e}", crate::names::printable(&r.name)));
            run.failed_ids.push(r.id.clone());
        };
        // Each finished resource is recorded at once, so a run killed later resumes without it.
        let plan_events: EventSink = {
            let (events, plan_id) = (events.clone(), plan.id.clone());
            let state = self.state_handle();
            std::sync::Arc::new(move |e: crate::engine::Event| {
                if let crate::engine::Event::Done { resource, .. } = &e {
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
        };
        let events = plan_events;
        match plan.kind {
            PlanKind::Snapshot => {
                // A resumed run first adopts what the killed one had sent: never a second
                // create for a resource it already snapshotted.
                if let Some(began) = resumed_from {
                    let mut rest = Vec::new();
                    for r in targets {
                        match self
                            .adopt_sent_since(&r, began, plan, events.clone(), cancel)
                            .await
                        {
                            Some(Ok(d)) => {
                                run.files += u32::from(!d.already_present);
                                run.bytes += d.size;
                                self.mark_done(plan, &r.id);
                            }
                            Some(Err(e)) => fail(&mut run, &r, &e),
                            None => rest.push(r),
                        }
                    }
                    targets = rest;
                }
                let opts = SnapshotOptions {
                    download: true,
                    dest: plan.dest.clone(),
                    wait_for_quota: false,
                };
                for res in self.snapshot(targets, opts, events, cancel).await {
                    match res.outcome {
                        Ok(o) => {
                            if let Some(d) = o.download {
                                run.files += u32::from(!d.already_present);
                                run.bytes += d.size;
                            }
                            self.mark_done(plan, &res.resource.id);
                        }
                        Err(e) => fail(&mut run, &res.resource, &e),
                    }
                }
            }
            PlanKind::Mirror => {
                for r in targets {
                    match self.mirror_one(&r, plan, events.clone(), cancel).await {
                        Ok((files, bytes, later)) => {
                            run.files += files;
                            run.bytes += bytes;
                            run.postponed.extend(later);
                            self.mark_done(plan, &r.id);
                        }
                        Err(e) => fail(&mut run, &r, &e),
                    }
                }
            }
        }
        if !cancel.is_cancelled() {
            run.pruned = self
                .apply_retention(plan)
                .map(|r| r.deleted.len())
                .unwrap_or(0);
        }
        run
    }

    /// If this machine sent a create for `r` since `began` (the ledger says so), finds and
    /// downloads that snapshot; `None` when nothing was sent.
    async fn adopt_sent_since(
        &self,
        r: &ResourceRef,
        began: DateTime<Utc>,
        plan: &Plan,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> Option<Result<crate::download::Downloaded, EngineError>> {
        let acct = self.account_id();
        let sent = self
            .ledger()
            .accounts
            .get(&acct)?
            .entries
            .iter()
            .filter(|e| e.source == "app" && e.resource == r.id && e.at >= began)
            .map(|e| e.at)
            .min()?;
        Some(
            async {
                let dir = self.checked_dest(r, plan.dest.as_deref())?;
                let item = self
                    .await_new_version(r, None, sent, cancel)
                    .await?
                    .ok_or(EngineError::AnswerLost)?;
                self.fetch_item(r, &dir, &item, events, cancel).await
            }
            .await,
        )
    }

    /// Downloads every listed version of `r` that the library does not have yet; on a
    /// metered connection, those above the setting's size wait for the next run.
    async fn mirror_one(
        &self,
        r: &ResourceRef,
        plan: &Plan,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> Result<(u32, u64, Vec<String>), EngineError> {
        let limit = self
            .settings()
            .metered_limit_mb
            .map(|mb| mb * 1024 * 1024)
            .filter(|_| self.is_metered());
        let mut later = Vec::new();
        let dir = self.checked_dest(r, plan.dest.as_deref())?;
        let have: HashSet<String> = self
            .library()
            .for_resource(&r.id)
            .into_iter()
            .filter_map(|e| e.version.clone())
            .collect();
        let mut got = (0, 0, Vec::new());
        for item in self.versions(r).await? {
            let Some(v) = item.version() else { continue };
            if have.contains(&v) {
                continue;
            }
            if let Some(limit) = limit
                && item.size > limit
            {
                let reason = format!(
                    "{} ({} MB) waits for a connection that is not metered",
                    crate::names::printable(&r.name),
                    item.size / (1024 * 1024)
                );
                events(crate::engine::Event::Postponed {
                    resource: r.id.clone(),
                    reason: reason.clone(),
                    bytes: item.size,
                });
                later.push(reason);
                continue;
            }
            let d = self
                .fetch_item(r, &dir, &item, events.clone(), cancel)
                .await?;
            if !d.already_present {
                got.0 += 1;
                got.1 += d.size;
            }
        }
        got.2 = later;
        Ok(got)
    }

    /// The files the plan's next prune would delete, with their sizes.
    pub fn retention_preview(&self, plan: &Plan) -> Vec<(PathBuf, u64)> {
        let ids: Vec<String> = self
            .plan_targets(plan, &[])
            .into_iter()
            .map(|r| r.id)
            .collect();
        self.library().drops_by(&ids, &plan.retention)
    }

    /// Applies a plan's retention to its resources' files (never the newest verified copy).
    fn apply_retention(&self, plan: &Plan) -> Result<PruneReport, EngineError> {
        let ids: Vec<String> = self
            .plan_targets(plan, &[])
            .into_iter()
            .map(|r| r.id)
            .collect();
        let retention = plan.retention.clone();
        self.state
            .update(crate::engine::LIBRARY, |lib: &mut Library| {
                lib.prune_by(&ids, &retention)
            })
            .map_err(|e| crate::engine::state_error(&self.cfg.data_dir, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
            .and_utc()
    }

    #[test]
    fn periods_of_each_schedule() {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        let day = Schedule::Day { at: t(3, 0) };
        assert_eq!(day.period(at(2026, 11, 25, 2, 59)).0, "2026-11-24");
        assert_eq!(day.period(at(2026, 11, 25, 3, 0)).0, "2026-11-25");
        // 2026-11-25 is a Wednesday (weekday 2).
        let week = Schedule::Week {
            weekday: 2,
            at: t(4, 0),
        };
        assert_eq!(week.period(at(2026, 11, 25, 3, 0)).0, "week of 2026-11-18");
        assert_eq!(week.period(at(2026, 11, 30, 0, 0)).0, "week of 2026-11-25");
        let hour = Schedule::Hour;
        assert_eq!(hour.period(at(2026, 11, 25, 7, 59)).0, "2026-11-25T07");
        let six = Schedule::Hours { hours: 6 };
        assert_ne!(
            six.period(at(2026, 11, 25, 5, 0)).0,
            six.period(at(2026, 11, 25, 6, 0)).0
        );
        assert_eq!(six.runs_per_day(), 4);
        assert_eq!(
            day.next_start(at(2026, 11, 25, 2, 59)),
            at(2026, 11, 25, 3, 0)
        );
        assert_eq!(
            hour.next_start(at(2026, 11, 25, 7, 59)),
            at(2026, 11, 25, 8, 0)
        );
    }

    #[test]
    fn the_strip_says_backed_up_failed_missed_or_nothing() {
        use crate::library::LibraryEntry;
        let now = Local
            .from_local_datetime(
                &NaiveDate::from_ymd_opt(2026, 11, 25)
                    .unwrap()
                    .and_hms_opt(12, 0, 0)
                    .unwrap(),
            )
            .earliest()
            .unwrap();
        let day = |back: i64| now - Duration::days(back);
        let mut plans = Plans::default();
        let p = Plan {
            id: "nightly".into(),
            kind: PlanKind::Snapshot,
            scope: Scope::All,
            schedule: Schedule::Day {
                at: NaiveTime::from_hms_opt(3, 0, 0).unwrap(),
            },
            retention: Retention::Everything,
            dest: None,
        };
        plans.add(p, 1, 32, day(4)).unwrap();
        let st = plans.state.get_mut("nightly").unwrap();
        for (back, ok) in [(3, true), (2, false)] {
            st.history.push_back(RunRecord {
                period: String::new(),
                started: day(back).with_timezone(&Utc),
                ended: None,
                ok,
                bytes: 0,
                files: 0,
                failures: vec![],
                failed_ids: if ok { vec![] } else { vec!["r".into()] },
                postponed: vec![],
            });
        }
        let mut lib = Library::default();
        lib.add(LibraryEntry {
            resource_id: "r".into(),
            resource_name: "r".into(),
            version: None,
            taken_at: day(3).with_timezone(&Utc),
            size: 1,
            path: "/x".into(),
            downloaded_at: day(3).with_timezone(&Utc),
            verified_at: Some(day(3).with_timezone(&Utc)),
        });
        let d = plans.days("r", &lib, 6, now);
        // 5 and 4 days ago: before the plan (and its first day); then ok, failed, missed x2.
        assert_eq!(
            d,
            vec![
                Day::Nothing,
                Day::Nothing,
                Day::BackedUp,
                Day::Failed,
                Day::Missed,
                Day::Missed
            ]
        );
    }

    #[test]
    fn the_planner_refuses_what_the_quota_cannot_hold() {
        let mut plans = Plans::default();
        assert_eq!(plans.reserve, 1, "one kept for clicks unless changed");
        let daily = |id: &str, ids: Vec<&str>| Plan {
            id: id.into(),
            kind: PlanKind::Snapshot,
            scope: Scope::Resources {
                ids: ids.into_iter().map(String::from).collect(),
            },
            schedule: Schedule::Day {
                at: NaiveTime::from_hms_opt(3, 0, 0).unwrap(),
            },
            retention: Retention::default(),
            dest: None,
        };
        let now = Local::now();
        plans
            .add(daily("a", vec!["1", "2", "3"]), 10, 4, now)
            .unwrap();
        let e = plans.add(daily("b", vec!["4"]), 10, 4, now).unwrap_err();
        assert_eq!(
            e,
            PlanError::OverQuota {
                needed: 4,
                quota: 4,
                reserve: 1
            }
        );
        assert!(e.to_string().contains("4 snapshots a day"));
        // The reserve cannot grow past what the plans leave: 3 needed + 2 > 4.
        assert!(matches!(
            plans.set_reserve(2, 10, 4),
            Err(PlanError::OverQuota { needed: 3, .. })
        ));
        plans.set_reserve(0, 10, 4).unwrap();
        assert_eq!(plans.reserve, 0);
        plans.set_reserve(1, 10, 4).unwrap();
        // A mirror plan costs nothing.
        let mirror = Plan {
            kind: PlanKind::Mirror,
            scope: Scope::All,
            ..daily("m", vec![])
        };
        plans.add(mirror, 10, 4, now).unwrap();
    }
}
