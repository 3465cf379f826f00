//! Retention: which of a resource's files a plan keeps after a verified download, and the
//! prune that applies it. The newest file on disk and the newest good copy always stay.

use super::{Library, LibraryEntry, PruneReport, protected};
use chrono::{DateTime, Datelike, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::PathBuf;

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

impl Library {
    /// A plan's retention for some resources: `Everything` keeps all; `Last` the newest N;
    /// `Calendar` the newest file of each of the last D days, W weeks and M months that have
    /// one (as restic's --keep-daily/weekly/monthly). Only files on disk count; the newest of
    /// them and the newest good copy ([`protected`]) of each resource are always kept.
    pub fn prune_by(&mut self, ids: &[String], retention: &Retention) -> PruneReport {
        let mut report = PruneReport::default();
        let drop_paths = self.drops_by(ids, retention);
        self.delete(drop_paths, &mut report);
        report
    }

    /// What `prune_by` would delete (path and size on disk), without deleting anything.
    pub fn drops_by(&self, ids: &[String], retention: &Retention) -> Vec<(PathBuf, u64)> {
        let mut drop_paths = Vec::new();
        for id in ids {
            let entries = self.on_disk(id);
            let mut keep: HashSet<PathBuf> = HashSet::new();
            if let Some(first) = entries.first() {
                keep.insert(first.path.clone());
            }
            if let Some(good) = protected(&entries) {
                keep.insert(good);
            }
            keep.extend(retention.keeps(&entries));
            for e in entries {
                if !keep.contains(&e.path) {
                    drop_paths.push((e.path.clone(), e.file_size()));
                }
            }
        }
        drop_paths
    }
}

impl Retention {
    /// The copies the rule keeps among one resource's copies in one place, given newest
    /// first (by their entry's path); no protection added.
    pub fn keeps(&self, entries: &[&LibraryEntry]) -> HashSet<PathBuf> {
        let mut keep = HashSet::new();
        match self {
            Retention::Everything => entries.iter().for_each(|e| {
                keep.insert(e.path.clone());
            }),
            Retention::Last { n } => entries.iter().take((*n).max(1) as usize).for_each(|e| {
                keep.insert(e.path.clone());
            }),
            Retention::Calendar {
                daily,
                weekly,
                monthly,
            } => {
                type Bucket<'a> = &'a dyn Fn(&LibraryEntry) -> String;
                let buckets: [(u32, Bucket); 3] = [
                    (*daily, &|e| e.taken_at.format("%Y-%m-%d").to_string()),
                    (*weekly, &|e| {
                        let w = e.taken_at.iso_week();
                        format!("{}-W{}", w.year(), w.week())
                    }),
                    (*monthly, &|e| e.taken_at.format("%Y-%m").to_string()),
                ];
                for (count, key) in buckets {
                    let mut seen = HashSet::new();
                    for e in entries {
                        if seen.len() >= count as usize {
                            break;
                        }
                        // Newest first: the first of each bucket is its newest.
                        if seen.insert(key(e)) {
                            keep.insert(e.path.clone());
                        }
                    }
                }
            }
        }
        keep
    }
}

/// A retention rule for one place: a plan's, or `sqsnap prune`'s counts.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    Plan(Retention),
    /// The newest `last` and those taken within `days` of `now`: a copy goes only when
    /// every rule given drops it (none given: all are kept).
    Counts {
        last: Option<u32>,
        days: Option<u32>,
        now: DateTime<Utc>,
    },
}

impl Rule {
    /// What the rule keeps among one resource's copies in one place, newest first.
    pub fn keeps(&self, entries: &[&LibraryEntry]) -> HashSet<PathBuf> {
        match self {
            Rule::Plan(r) => r.keeps(entries),
            Rule::Counts { last, days, now } => entries
                .iter()
                .enumerate()
                .filter(|(rank, e)| {
                    let in_count = last.is_some_and(|n| *rank < n.max(1) as usize);
                    let recent =
                        days.is_some_and(|d| *now - e.taken_at <= Duration::days(d as i64));
                    in_count || recent || (last.is_none() && days.is_none())
                })
                .map(|(_, e)| e.path.clone())
                .collect(),
        }
    }
}
