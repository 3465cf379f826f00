//! Retention: which of a resource's files a plan keeps after a verified download, and the
//! prune that applies it. The newest file on disk and the newest good copy always stay.

use super::{Library, LibraryEntry, PruneReport, protected};
use chrono::Datelike;
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

    /// What `prune_by` would delete (path and size), without deleting anything.
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
            match retention {
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
                        for e in &entries {
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
            for e in entries {
                if !keep.contains(&e.path) {
                    drop_paths.push((e.path.clone(), e.size));
                }
            }
        }
        drop_paths
    }
}
