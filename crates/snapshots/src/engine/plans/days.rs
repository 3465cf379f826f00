//! The strip in the window: for each of a resource's last days, whether a copy was backed
//! up, a plan run failed, a planned run was missed, or nothing was due.

use super::model::{Plan, PlanKind, Plans, Scope};
use crate::engine::library::Library;
use chrono::{DateTime, Duration, Local, TimeZone, Utc};
use serde::Serialize;
use std::collections::HashSet;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::library::Retention;
    use crate::engine::plans::model::{Plan, RunRecord, Schedule};
    use chrono::{NaiveDate, NaiveTime};

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
            offsite: None,
            offsite_only: false,
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
                offsite: None,
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
            copies: Vec::new(),
            sealed_size: None,
            account: None,
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
}
