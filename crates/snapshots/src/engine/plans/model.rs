//! The plan model: what a plan is (kind, scope, schedule, retention), the periods of its
//! schedule, its state in `plans.json` (read leniently), and the planner's check that all
//! snapshot plans together fit in the quota.

use crate::engine::library::Retention;
use chrono::{DateTime, Datelike, Duration, Local, NaiveTime, TimeZone, Timelike, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;

pub const PLANS: &str = "plans.json";

/// How many runs each plan keeps in its history.
pub(super) const HISTORY: usize = 200;

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
    /// The offsite destination its copies go to (by name), after each verified download.
    /// `None`: on this computer only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offsite: Option<String>,
    /// With `offsite`: the copies are kept there only. Each download waits in the account's
    /// own folder (`outbox/`, not the user's) until its upload is checked, then it is
    /// removed from this computer. Absent (plans written before it): `offsite` alone keeps
    /// copies on this computer and offsite.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub offsite_only: bool,
}

/// Where a plan keeps its copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keeps<'a> {
    /// On this computer only.
    Local,
    /// In this offsite destination only.
    Offsite(&'a str),
    /// On this computer and in this offsite destination.
    Both(&'a str),
}

impl Plan {
    /// Where the plan keeps its copies.
    pub fn keeps(&self) -> Keeps<'_> {
        match (&self.offsite, self.offsite_only) {
            (None, _) => Keeps::Local,
            (Some(d), true) => Keeps::Offsite(d),
            (Some(d), false) => Keeps::Both(d),
        }
    }

    /// Whether its copies stay on this computer (local, or local and offsite).
    pub fn keeps_local(&self) -> bool {
        !matches!(self.keeps(), Keeps::Offsite(_))
    }
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
    /// What the run's offsite step did (a plan that names an offsite destination).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offsite: Option<OffsiteNote>,
}

/// What a plan run's offsite step did, as the run's history keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OffsiteNote {
    /// The destination's name.
    pub dest: String,
    /// The plan keeps its copies there only.
    #[serde(default)]
    pub only: bool,
    /// Copies uploaded there.
    pub uploaded: usize,
    /// Copies deleted there by the plan's rule.
    pub deleted: usize,
    /// Copies still waiting on this computer for their upload there (offsite only).
    pub waiting: usize,
    /// Where they wait: the destination's folder in the account's outbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_in: Option<PathBuf>,
    /// Why the upload, or the rule there, did not finish (`None`: all done).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// That failure's code (`OffsiteError::code`), which the window words it by; runs
    /// recorded before it was kept have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
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
        if self.offsite_only && self.offsite.is_none() {
            return Err(
                "A plan that keeps its copies offsite only needs the offsite destination they go to."
                    .into(),
            );
        }
        if self.offsite_only && self.dest.is_some() {
            return Err(
                "A plan that keeps its copies offsite only has no folder on this computer: leave the folder out, or keep the copies here too."
                    .into(),
            );
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

impl PlanError {
    /// A short stable code the window words the refusal by (its `failedWhy`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::OverQuota { .. } => "plan_over_quota",
            Self::Unknown(_) => "plan_unknown",
            Self::Exists(_) => "plan_exists",
            Self::Invalid(_) => "plan_invalid",
        }
    }
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

    /// A plans file written before a plan could keep its copies offsite only: `offsite`
    /// alone keeps them here and there, and is written back without the new field. An
    /// offsite-only plan reads back as one; one that names no destination, or a folder
    /// here, is listed with why and never run.
    #[test]
    fn plans_files_old_and_new_say_where_copies_are_kept() {
        let old = serde_json::json!({
            "plans": [
                {"id": "both", "kind": "mirror", "scope": {"scope": "all"}, "schedule": {"every": "hour"},
                 "retention": {"keep": "last", "n": 3}, "dest": null, "offsite": "b2"},
                {"id": "here", "kind": "mirror", "scope": {"scope": "all"}, "schedule": {"every": "hour"}},
            ],
            "state": {}, "reserve": 1,
        });
        let plans: Plans = serde_json::from_value(old).unwrap();
        assert!(plans.invalid.is_empty(), "{:?}", plans.invalid);
        assert_eq!(plans.plans[0].keeps(), Keeps::Both("b2"));
        assert_eq!(plans.plans[1].keeps(), Keeps::Local);
        let back = serde_json::to_value(&plans).unwrap();
        assert!(back["plans"][0].get("offsite_only").is_none(), "{back}");

        let mut only = plans.plans[0].clone();
        only.id = "only".into();
        only.offsite_only = true;
        assert_eq!(only.keeps(), Keeps::Offsite("b2"));
        assert!(!only.keeps_local());
        let v = serde_json::to_value(&only).unwrap();
        assert_eq!(v["offsite_only"], true);
        let mut nameless = v.clone();
        nameless["id"] = "nameless".into();
        nameless.as_object_mut().unwrap().remove("offsite");
        let mut here_too = v.clone();
        here_too["id"] = "here-too".into();
        here_too["dest"] = "/home/ana/backups".into();
        let file = serde_json::json!({"plans": [v, nameless, here_too]});
        let plans: Plans = serde_json::from_value(file).unwrap();
        assert_eq!(plans.plans, vec![only]);
        let why: Vec<(&str, &str)> = plans
            .invalid
            .iter()
            .map(|i| (i.id.as_str(), i.why.as_str()))
            .collect();
        assert!(
            why[0].0 == "nameless" && why[0].1.contains("needs the offsite destination"),
            "{why:?}"
        );
        assert!(
            why[1].0 == "here-too" && why[1].1.contains("no folder on this computer"),
            "{why:?}"
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
            offsite: None,
            offsite_only: false,
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
