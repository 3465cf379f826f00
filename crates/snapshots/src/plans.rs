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
pub use crate::library::Retention;
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
    /// Resources this run did not snapshot because that would have used the snapshots kept
    /// for the user's own clicks (the reserve), by id; `postponed` says why in words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reserve_held: Vec<String>,
}

/// A run under way (or killed or stopped half way): what it has finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InProgress {
    pub period: String,
    pub started: DateTime<Utc>,
    /// The process that claimed it (for people reading the file; liveness is `holder`'s).
    pub pid: u32,
    pub done: Vec<String>,
    /// The lock its runner holds while it runs (see `claim.rs`): a claim whose lock can be
    /// taken is stale, whatever `pid` says. `None`: written by an older version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
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

/// The plans and their state, as `plans.json` holds them.
///
/// Read leniently: a plan that cannot be read or has values no schedule can keep (written
/// by hand, or by a damaged or older program) goes to `invalid` with the reason, and the
/// others stay. It is written back as it was, so it can be shown and removed, never run.
#[derive(Debug, Clone, PartialEq)]
pub struct Plans {
    pub plans: Vec<Plan>,
    pub state: BTreeMap<String, PlanState>,
    /// Creates a day kept free for manual snapshots.
    pub reserve: u32,
    /// Stored plans that are skipped, with why.
    pub invalid: Vec<InvalidPlan>,
}

/// A stored plan that cannot run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvalidPlan {
    /// Its name, when it has one ("" otherwise).
    pub id: String,
    /// What is wrong, what it means, and what to do.
    pub why: String,
    /// The plan as stored, written back unchanged.
    #[serde(skip)]
    pub raw: serde_json::Value,
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
            invalid: Vec::new(),
        }
    }
}

impl Serialize for Plans {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeStruct};
        let mut plans = Vec::with_capacity(self.plans.len() + self.invalid.len());
        for p in &self.plans {
            plans.push(serde_json::to_value(p).map_err(S::Error::custom)?);
        }
        plans.extend(self.invalid.iter().map(|i| i.raw.clone()));
        let mut st = s.serialize_struct("Plans", 3)?;
        st.serialize_field("plans", &plans)?;
        st.serialize_field("state", &self.state)?;
        st.serialize_field("reserve", &self.reserve)?;
        st.end()
    }
}

impl<'de> Deserialize<'de> for Plans {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            plans: Vec<serde_json::Value>,
            #[serde(default)]
            state: BTreeMap<String, serde_json::Value>,
            #[serde(default)]
            reserve: Option<serde_json::Value>,
        }
        let raw = Raw::deserialize(d)?;
        let mut out = Plans {
            reserve: raw
                .reserve
                .map(|v| v.as_u64().map_or(one(), |n| n.min(u32::MAX as u64) as u32))
                .unwrap_or_else(one),
            ..Plans::default()
        };
        for value in raw.plans {
            let id = value
                .get("id")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string();
            let checked = serde_json::from_value::<Plan>(value.clone())
                .map_err(|e| format!("It cannot be read ({e})."))
                .and_then(|p| p.validate().map(|()| p))
                .and_then(|p| {
                    if out.plans.iter().any(|q| q.id == p.id) {
                        Err("Another plan has the same name.".to_string())
                    } else {
                        Ok(p)
                    }
                });
            match checked {
                Ok(p) => out.plans.push(p),
                Err(why) => out.invalid.push(InvalidPlan {
                    id,
                    why: format!(
                        "{why} This stored plan is skipped: it backs nothing up, and your files are untouched. Remove it, then add it again with a valid schedule."
                    ),
                    raw: value,
                }),
            }
        }
        // A plan's state that cannot be read is started afresh; the others keep theirs.
        for (id, v) in raw.state {
            out.state
                .insert(id, serde_json::from_value(v).unwrap_or_default());
        }
        Ok(out)
    }
}

/// The longest gap `Schedule::Hours` may have: a year.
pub const MAX_HOURS: u32 = 24 * 366;

impl Plan {
    /// Whether every field holds a value a schedule can keep; the reason when not.
    pub fn validate(&self) -> Result<(), String> {
        if self.id.trim().is_empty() {
            return Err("A plan needs a name.".into());
        }
        if self.id.chars().count() > 200 || self.id.chars().any(char::is_control) {
            return Err(
                "A plan's name is at most 200 characters, with no control characters.".into(),
            );
        }
        match &self.schedule {
            Schedule::Hours { hours } if *hours == 0 || *hours > MAX_HOURS => {
                return Err(format!(
                    "Every {hours} hours is not a schedule: choose from 1 to {MAX_HOURS} hours (a year)."
                ));
            }
            Schedule::Week { weekday, .. } if *weekday > 6 => {
                return Err(format!(
                    "Weekday {weekday} does not exist: 0 is Monday and 6 is Sunday."
                ));
            }
            _ => {}
        }
        if let Scope::Resources { ids } = &self.scope
            && (ids.is_empty() || ids.iter().any(|i| i.trim().is_empty()))
        {
            return Err("The plan names no resource: choose at least one, or all.".into());
        }
        if let Retention::Last { n: 0 } = self.retention {
            return Err("Keeping the last 0 would delete every copy: keep at least 1.".into());
        }
        Ok(())
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
        let step = match self {
            Schedule::Hour => Duration::hours(1),
            Schedule::Hours { hours } => Duration::hours((*hours).max(1) as i64),
            Schedule::Day { .. } => Duration::days(1),
            Schedule::Week { .. } => Duration::days(7),
        };
        // Past the calendar's end (a schedule no check let through): never a panic.
        start.clone().checked_add_signed(step).unwrap_or(start)
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
                }
                .min(u32::MAX as usize) as u32;
                n.saturating_mul(p.schedule.runs_per_day())
            })
            .fold(0u32, u32::saturating_add)
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
        plan.validate()
            .map_err(|why| PlanError::Invalid(format!("{why} Nothing was saved.")))?;
        if self.plans.iter().any(|p| p.id == plan.id)
            || self.invalid.iter().any(|p| p.id == plan.id)
        {
            return Err(PlanError::Exists(plan.id));
        }
        let mut with = self.clone();
        with.plans.push(plan.clone());
        let needed = with.creates_per_day(resources);
        if needed.saturating_add(self.reserve) > quota && needed > 0 {
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
        if needed > 0 && needed.saturating_add(reserve) > quota {
            return Err(PlanError::OverQuota {
                needed,
                quota,
                reserve,
            });
        }
        self.reserve = reserve;
        Ok(())
    }

    /// Removes the plan named `id`, and any stored plan of that name that cannot run.
    /// Returns the plan when it was a valid one.
    pub fn remove(&mut self, id: &str) -> Result<Option<Plan>, PlanError> {
        let invalid = self.invalid.len();
        self.invalid.retain(|p| p.id != id);
        let found = self.plans.iter().position(|p| p.id == id);
        if found.is_none() && invalid == self.invalid.len() {
            return Err(PlanError::Unknown(id.into()));
        }
        self.state.remove(id);
        Ok(found.map(|i| self.plans.remove(i)))
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
                // Held back that day to keep the reserve: planned, and not done.
                if covering
                    .iter()
                    .any(|p| runs_that_day(p).any(|r| r.reserve_held.iter().any(|i| i == resource)))
                {
                    return Day::Missed;
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
    /// Resumed from a run that was killed or stopped half way.
    pub resumed: bool,
    /// Stopped (cancelled) before the end: the next `run_due` finishes it.
    #[serde(default)]
    pub stopped: bool,
    /// Resources not snapshotted, to keep the reserve for the user's own clicks (by id).
    pub reserve_held: Vec<String>,
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
    ///
    /// A run that was killed, or stopped through `cancel`, keeps its claim with what it had
    /// finished; its lock is let go, so the next `run_due` (here or in another process)
    /// finishes it without redoing that. A stopped run is returned with `stopped` and is
    /// not recorded in the history: the run that finishes it is.
    pub async fn run_due(
        &self,
        now: DateTime<Utc>,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> Result<Vec<PlanRun>, EngineError> {
        let local = now.with_timezone(&Local);
        let pid = std::process::id();
        let data_dir = self.cfg.data_dir.clone();
        // Claim every due period (or a stopped run to resume) in one locked step. Each claim
        // names a lock this process holds until the run ends.
        let (claimed, failed) = self.update_plans(|plans| {
            let mut out: Vec<(Claimed, crate::claim::Holder)> = Vec::new();
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
                let holder = match crate::claim::Holder::acquire(&data_dir) {
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
        if let Some(e) = failed
            && claimed.is_empty()
        {
            return Err(crate::engine::state_error(
                &self.cfg.data_dir.join("claims"),
                e,
            ));
        }
        if !claimed.is_empty() {
            // An all-resources plan covers what the account has now, not what it had when
            // this engine started. Offline, what is known serves.
            let _ = self.refresh().await;
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
            if run.stopped {
                // Its claim stays with what it finished; dropping the lock releases it.
                drop(holder);
                runs.push(run);
                continue;
            }
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
                reserve_held: run.reserve_held.clone(),
            };
            self.update_plans(|plans| {
                let st = plans.state.entry(plan.id.clone()).or_default();
                st.running = None;
                st.history.push_back(record);
                while st.history.len() > HISTORY {
                    st.history.pop_front();
                }
            })?;
            drop(holder);
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
        let mut run = PlanRun::new(&plan.id, period);
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
                // The reserve for the user's own snapshots, checked now: an all-resources
                // plan grows with the account, and other snapshots may have used the day.
                let (go, wait, why) = self.within_reserve(targets);
                targets = go;
                if let Some(why) = why {
                    // Said once for the run (`sqsnap run-due` prints it), not as a waiting
                    // line per resource: nothing of this run will come for them.
                    events(crate::engine::Event::Learned {
                        message: format!("{}: {why}", crate::names::printable(&plan.id)),
                    });
                    run.postponed.push(why);
                    run.reserve_held = wait.into_iter().map(|r| r.id).collect();
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

    /// Splits a snapshot plan's targets into those the quota left today can take while
    /// keeping the reserve for snapshots by hand, and those that wait for a later run, with
    /// why in words. The resources whose newest copy here is oldest go first, so the same
    /// ones do not wait every time.
    fn within_reserve(
        &self,
        mut targets: Vec<ResourceRef>,
    ) -> (Vec<ResourceRef>, Vec<ResourceRef>, Option<String>) {
        let reserve = self.plans().reserve;
        let q = self.quota();
        let room = q.remaining.saturating_sub(reserve) as usize;
        if targets.len() <= room {
            return (targets, Vec::new(), None);
        }
        let library = self.library();
        targets.sort_by_key(|r| library.for_resource(&r.id).first().map(|e| e.taken_at));
        let wait = targets.split_off(room);
        let names: Vec<String> = wait
            .iter()
            .take(5)
            .map(|r| crate::names::printable(&r.name))
            .collect();
        let more = if wait.len() > names.len() {
            format!(" and {} more", wait.len() - names.len())
        } else {
            String::new()
        };
        let why = format!(
            "{} of {} resources ({}{more}) were not snapshotted, to keep the reserve: {} of the {} snapshots a day {} left and {reserve} {} kept for snapshots you take by hand. Their earlier backups are untouched; they are taken in the plan's next run that fits. To take them sooner, lower the reserve or take fewer resources in the plan.",
            wait.len(),
            wait.len() + targets.len(),
            names.join(", "),
            q.remaining,
            q.total,
            if q.remaining == 1 { "is" } else { "are" },
            if reserve == 1 { "is" } else { "are" },
        );
        (targets, wait, Some(why))
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

    /// Downloads every listed version of `r` that the library neither has nor deleted on
    /// purpose (a prune's tombstone: retention and the mirror agree); on a metered
    /// connection, those above the setting's size wait for the next run.
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
        let list = self.versions(r).await?;
        let listed: HashSet<String> = list.iter().filter_map(|i| i.version()).collect();
        // Tombstones of versions the server no longer lists can go: it will not offer them.
        let have = self
            .state
            .update(crate::engine::LIBRARY, |lib: &mut Library| {
                lib.forget_pruned_except(&r.id, &listed);
                lib.known_versions(&r.id)
            })
            .map_err(|e| crate::engine::state_error(&self.cfg.data_dir, e))?;
        let mut got = (0, 0, Vec::new());
        for item in list {
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

    /// A schedule no check would let through still gives an answer, never a panic.
    #[test]
    fn absurd_schedules_do_not_panic() {
        let now = at(2026, 11, 25, 7, 59);
        for s in [
            Schedule::Hours { hours: u32::MAX },
            Schedule::Hours { hours: 0 },
            Schedule::Week {
                weekday: u32::MAX,
                at: NaiveTime::from_hms_opt(3, 0, 0).unwrap(),
            },
        ] {
            let _ = s.period(now);
            let _ = s.next_start(now);
            let _ = s.runs_per_day();
        }
        let far = DateTime::<Utc>::MAX_UTC - Duration::hours(1);
        let _ = Schedule::Hour.next_start(far);
        let _ = Schedule::Day {
            at: NaiveTime::from_hms_opt(3, 0, 0).unwrap(),
        }
        .next_start(far);
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
                reserve_held: vec![],
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
