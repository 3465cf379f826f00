//! The stale-plan rule: a plan with no successful run for days is one the user believes
//! backs them up and does not. The app's tray and `sqsnap run-due` both say so, by this one
//! rule, so the two never disagree about which plan is behind.

use super::model::Plans;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// Days a plan may go without a successful run before it is stale.
pub const STALE_AFTER_DAYS: u32 = 3;

/// A plan that has not succeeded for longer than [`STALE_AFTER_DAYS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StalePlan {
    pub plan: String,
    /// Its last successful run's start, or when it was added if it never succeeded.
    pub since: DateTime<Utc>,
}

impl Plans {
    /// The plans whose last successful run (or, without one, their creation) is more than
    /// [`STALE_AFTER_DAYS`] before `now`. A plan with no state yet is not judged: nothing
    /// says when it began.
    pub fn stale(&self, now: DateTime<Utc>) -> Vec<StalePlan> {
        self.plans
            .iter()
            .filter_map(|p| {
                let st = self.state.get(&p.id)?;
                let since = st
                    .history
                    .iter()
                    .rev()
                    .find(|r| r.ok)
                    .map(|r| r.started)
                    .or(st.created)?;
                (now - since > Duration::days(STALE_AFTER_DAYS.into())).then(|| StalePlan {
                    plan: p.id.clone(),
                    since,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::library::Retention;
    use crate::engine::plans::model::{Plan, PlanKind, PlanState, RunRecord, Schedule, Scope};

    fn plan(id: &str) -> Plan {
        Plan {
            id: id.into(),
            kind: PlanKind::Mirror,
            scope: Scope::All,
            schedule: Schedule::Hour,
            retention: Retention::Everything,
            dest: None,
            offsite: None,
            offsite_only: false,
        }
    }

    fn run(started: DateTime<Utc>, ok: bool) -> RunRecord {
        RunRecord {
            period: String::new(),
            started,
            ended: Some(started),
            ok,
            bytes: 0,
            files: 0,
            failures: vec![],
            failed_ids: vec![],
            postponed: vec![],
            reserve_held: vec![],
            offsite: None,
        }
    }

    /// Stale counts from the last run that succeeded (failed runs since do not help), or
    /// from the plan's creation when none did; a plan with no state is left alone.
    #[test]
    fn a_plan_is_stale_after_three_days_without_a_successful_run() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let days = |n: i64| now - Duration::days(n);
        let mut plans = Plans::default();
        for id in ["ok-lately", "failing", "never-ran", "new", "no-state"] {
            plans.plans.push(plan(id));
        }
        let state = |created, history: Vec<RunRecord>| PlanState {
            created: Some(created),
            history: history.into(),
            ..PlanState::default()
        };
        plans.state.insert(
            "ok-lately".into(),
            state(days(30), vec![run(days(5), false), run(days(2), true)]),
        );
        plans.state.insert(
            "failing".into(),
            state(days(30), vec![run(days(4), true), run(days(1), false)]),
        );
        plans.state.insert(
            "never-ran".into(),
            state(days(3) - Duration::minutes(1), vec![]),
        );
        plans.state.insert("new".into(), state(days(3), vec![]));
        let stale = plans.stale(now);
        assert_eq!(
            stale,
            vec![
                StalePlan {
                    plan: "failing".into(),
                    since: days(4)
                },
                StalePlan {
                    plan: "never-ran".into(),
                    since: days(3) - Duration::minutes(1)
                },
            ]
        );
    }
}
