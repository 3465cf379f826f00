//! The plans' runs as the window lists them: every plan's runs together, newest first.

use crate::engine::Engine;
use crate::plans::{Plans, RunRecord};
use serde::Serialize;

/// How many runs the history shows (each plan keeps its last 200).
pub const HISTORY_ROWS: usize = 100;

/// One run, with the plan it belongs to; the run's own fields sit beside `plan` in JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryRow {
    pub plan: String,
    #[serde(flatten)]
    pub run: RunRecord,
}

/// The newest [`HISTORY_ROWS`] runs of every plan, newest first.
pub fn history(plans: Plans) -> Vec<HistoryRow> {
    let mut rows: Vec<HistoryRow> = plans
        .state
        .into_iter()
        .flat_map(|(plan, s)| {
            s.history.into_iter().map(move |run| HistoryRow {
                plan: plan.clone(),
                run,
            })
        })
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.run.started));
    rows.truncate(HISTORY_ROWS);
    rows
}

/// The history from the engine's plans file.
pub fn history_of_engine(e: &Engine) -> Vec<HistoryRow> {
    history(e.plans())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plans::PlanState;
    use chrono::{DateTime, Duration, TimeZone, Utc};

    fn run(started: DateTime<Utc>) -> RunRecord {
        serde_json::from_value(serde_json::json!({
            "period": "p", "started": started, "ended": null,
            "ok": true, "bytes": 0, "files": 0, "failures": [],
        }))
        .unwrap()
    }

    #[test]
    fn every_plans_runs_newest_first_and_at_most_a_hundred() {
        let t0 = Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap();
        let mut a = PlanState::default();
        let mut b = PlanState::default();
        for i in 0..80 {
            a.history.push_back(run(t0 + Duration::hours(2 * i)));
            b.history.push_back(run(t0 + Duration::hours(2 * i + 1)));
        }
        let plans = Plans {
            state: [("a".to_string(), a), ("b".to_string(), b)]
                .into_iter()
                .collect(),
            ..Default::default()
        };
        let rows = history(plans);
        assert_eq!(rows.len(), HISTORY_ROWS);
        assert_eq!(rows[0].plan, "b");
        assert_eq!(rows[0].run.started, t0 + Duration::hours(159));
        assert_eq!(rows[1].plan, "a");
        assert!(
            rows.windows(2)
                .all(|w| w[0].run.started >= w[1].run.started)
        );
        let v = serde_json::to_value(&rows[0]).unwrap();
        assert_eq!(v["plan"], "b");
        assert!(
            v.get("started").is_some(),
            "the run's fields sit beside the plan"
        );
    }
}
