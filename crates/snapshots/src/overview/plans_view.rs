//! The plans as the window shows them: each plan with its last run, its next start and
//! what its next prune deletes, and what all of them need of the daily quota.

use crate::engine::Engine;
use crate::plans::{InvalidPlan, Plan, Plans, RunRecord};
use chrono::{DateTime, Local, Utc};
use serde::Serialize;
use std::path::PathBuf;

/// One plan in the window. The field names are the JSON the window reads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanRow {
    pub plan: Plan,
    pub last_run: Option<RunRecord>,
    pub next_run: DateTime<Utc>,
    /// What its next prune deletes.
    pub prune_preview: Vec<PathBuf>,
}

/// The plans page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlansView {
    pub plans: Vec<PlanRow>,
    /// What all snapshot plans need of the daily quota, and what is kept for clicks.
    pub creates_per_day: u32,
    pub quota: u32,
    pub reserve: u32,
    /// Stored plans that cannot run (bad values in plans.json), with why: shown, removable.
    pub invalid: Vec<InvalidPlan>,
}

/// The plans page for an account of `resources` resources and a daily `quota`, at `now`;
/// `prune_preview` says which files a plan's next prune deletes.
pub fn plans_view(
    plans: &Plans,
    resources: usize,
    quota: u32,
    prune_preview: impl Fn(&Plan) -> Vec<PathBuf>,
    now: DateTime<Local>,
) -> PlansView {
    PlansView {
        creates_per_day: plans.creates_per_day(resources),
        quota,
        reserve: plans.reserve,
        invalid: plans.invalid.clone(),
        plans: plans
            .plans
            .iter()
            .map(|p| PlanRow {
                last_run: plans
                    .state
                    .get(&p.id)
                    .and_then(|s| s.history.back().cloned()),
                next_run: p.schedule.next_start(now).with_timezone(&Utc),
                prune_preview: prune_preview(p),
                plan: p.clone(),
            })
            .collect(),
    }
}

/// The plans page from what the engine knows now (no call to Square Cloud).
pub fn plans_of_engine(e: &Engine) -> PlansView {
    plans_view(
        &e.plans(),
        e.resources().len(),
        e.me().user.plan.daily_snapshot_quota(),
        |p| e.retention_preview(p).into_iter().map(|(p, _)| p).collect(),
        Local::now(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plans::{PlanKind, PlanState, Retention, Schedule, Scope};
    use chrono::TimeZone;

    fn plan(id: &str, kind: PlanKind) -> Plan {
        Plan {
            id: id.into(),
            kind,
            scope: Scope::All,
            schedule: Schedule::Day {
                at: chrono::NaiveTime::from_hms_opt(3, 0, 0).unwrap(),
            },
            retention: Retention::default(),
            dest: None,
            offsite: None,
            offsite_only: false,
        }
    }

    fn run(started: DateTime<Utc>, ok: bool) -> RunRecord {
        serde_json::from_value(serde_json::json!({
            "period": started.date_naive().to_string(), "started": started, "ended": null,
            "ok": ok, "bytes": 0, "files": 0, "failures": [],
        }))
        .unwrap()
    }

    #[test]
    fn each_plan_shows_its_last_run_its_next_start_and_its_prune() {
        let now = Local.with_ymd_and_hms(2025, 3, 10, 12, 0, 0).unwrap();
        let t = now.with_timezone(&Utc);
        let mut state = PlanState::default();
        state
            .history
            .push_back(run(t - chrono::Duration::days(2), false));
        state
            .history
            .push_back(run(t - chrono::Duration::days(1), true));
        let plans = Plans {
            plans: vec![
                plan("nightly", PlanKind::Snapshot),
                plan("mirror", PlanKind::Mirror),
            ],
            state: [("nightly".to_string(), state)].into_iter().collect(),
            reserve: 2,
            ..Default::default()
        };
        let view = plans_view(
            &plans,
            3,
            10,
            |p| vec![PathBuf::from(format!("/b/{}.zip", p.id))],
            now,
        );
        assert_eq!((view.quota, view.reserve), (10, 2));
        assert_eq!(view.creates_per_day, plans.creates_per_day(3));
        assert_eq!(view.plans.len(), 2);
        let nightly = &view.plans[0];
        assert_eq!(nightly.plan.id, "nightly");
        assert_eq!(
            nightly.last_run,
            Some(run(t - chrono::Duration::days(1), true))
        );
        let next = Local.with_ymd_and_hms(2025, 3, 11, 3, 0, 0).unwrap();
        assert_eq!(nightly.next_run, next.with_timezone(&Utc));
        assert_eq!(nightly.prune_preview, vec![PathBuf::from("/b/nightly.zip")]);
        assert_eq!(view.plans[1].last_run, None, "a plan that never ran");
    }

    #[test]
    fn the_json_keys_are_the_ones_the_window_reads() {
        let plans = Plans {
            plans: vec![plan("nightly", PlanKind::Snapshot)],
            ..Default::default()
        };
        let v = serde_json::to_value(plans_view(&plans, 1, 4, |_| vec![], Local::now())).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["creates_per_day", "invalid", "plans", "quota", "reserve"]
        );
        let row: Vec<&str> = v["plans"][0]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(row, ["last_run", "next_run", "plan", "prune_preview"]);
    }
}
