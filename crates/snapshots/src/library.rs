//! The index of snapshots this app downloaded: what, where, when checked; and retention.

use crate::verify::{VerifyError, verify_zip};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LibraryEntry {
    pub resource_id: String,
    pub resource_name: String,
    pub version: Option<String>,
    /// When the snapshot was taken (server time, or the create's answer).
    pub taken_at: DateTime<Utc>,
    pub size: u64,
    pub path: PathBuf,
    pub downloaded_at: DateTime<Utc>,
    pub verified_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Library {
    pub entries: Vec<LibraryEntry>,
}

/// What a prune did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PruneReport {
    pub deleted: Vec<PathBuf>,
    pub kept: usize,
    /// Listed files that were changed or replaced since we wrote them: left alone.
    pub skipped: Vec<PathBuf>,
}

impl Library {
    pub fn add(&mut self, e: LibraryEntry) {
        self.entries.retain(|x| x.path != e.path);
        self.entries.push(e);
    }

    /// Entries of one resource, newest first.
    pub fn for_resource(&self, id: &str) -> Vec<&LibraryEntry> {
        let mut v: Vec<_> = self
            .entries
            .iter()
            .filter(|e| e.resource_id == id)
            .collect();
        v.sort_by_key(|e| std::cmp::Reverse(e.taken_at));
        v
    }

    /// Checks a listed file again; records when it passed.
    pub fn verify(
        &mut self,
        path: &Path,
        full: bool,
        now: DateTime<Utc>,
    ) -> Result<(), VerifyError> {
        let expected = self.entries.iter().find(|e| e.path == path).map(|e| e.size);
        verify_zip(path, expected, full)?;
        self.mark_verified(path, now);
        Ok(())
    }

    /// Records that a listed file passed its check at `now`.
    pub fn mark_verified(&mut self, path: &Path, now: DateTime<Utc>) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.path == path) {
            e.verified_at = Some(now);
        }
    }

    /// Deletes, per resource, files beyond the newest `keep_last` and older than `keep_days`
    /// (a file is deleted only when every given rule would drop it). Never deletes the last
    /// copy: `keep_last` is at least 1, and the newest verified copy of each resource is
    /// kept whatever its age. Only files this app wrote and that still have the size it
    /// wrote are touched.
    pub fn prune(
        &mut self,
        keep_last: Option<u32>,
        keep_days: Option<u32>,
        now: DateTime<Utc>,
    ) -> PruneReport {
        let mut report = PruneReport::default();
        if keep_last.is_none() && keep_days.is_none() {
            report.kept = self.entries.len();
            return report;
        }
        let keep_last = keep_last.map(|n| n.max(1));
        let mut ids: Vec<String> = self.entries.iter().map(|e| e.resource_id.clone()).collect();
        ids.sort();
        ids.dedup();
        let mut drop_paths = Vec::new();
        for id in ids {
            let entries = self.for_resource(&id);
            let newest_verified = entries
                .iter()
                .find(|e| e.verified_at.is_some())
                .map(|e| e.path.clone());
            for (rank, e) in entries.into_iter().enumerate() {
                let beyond_count = keep_last.is_none_or(|n| rank >= n as usize);
                let too_old = keep_days.is_none_or(|d| now - e.taken_at > Duration::days(d as i64));
                let last_good = newest_verified.as_ref() == Some(&e.path);
                if beyond_count && too_old && !last_good {
                    drop_paths.push((e.path.clone(), e.size));
                }
            }
        }
        self.delete(drop_paths, &mut report);
        report
    }

    /// A plan's retention for some resources: `Everything` keeps all; `Last` the newest N;
    /// `Calendar` the newest file of each of the last D days, W weeks and M months that have
    /// one (as restic's --keep-daily/weekly/monthly). The newest file and the newest
    /// verified one of each resource are always kept.
    pub fn prune_by(&mut self, ids: &[String], retention: &crate::plans::Retention) -> PruneReport {
        let mut report = PruneReport::default();
        let drop_paths = self.drops_by(ids, retention);
        self.delete(drop_paths, &mut report);
        report
    }

    /// What `prune_by` would delete (path and size), without deleting anything.
    pub fn drops_by(
        &self,
        ids: &[String],
        retention: &crate::plans::Retention,
    ) -> Vec<(PathBuf, u64)> {
        use crate::plans::Retention;
        use chrono::Datelike;
        use std::collections::HashSet;
        let mut drop_paths = Vec::new();
        for id in ids {
            let entries = self.for_resource(id);
            let mut keep: HashSet<PathBuf> = HashSet::new();
            if let Some(first) = entries.first() {
                keep.insert(first.path.clone());
            }
            if let Some(v) = entries.iter().find(|e| e.verified_at.is_some()) {
                keep.insert(v.path.clone());
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

    /// Deletes files this app wrote that still have the size it wrote; forgets missing ones.
    fn delete(&mut self, drop_paths: Vec<(PathBuf, u64)>, report: &mut PruneReport) {
        for (path, size) in drop_paths {
            match std::fs::metadata(&path) {
                Ok(m) if m.len() == size => {
                    if std::fs::remove_file(&path).is_ok() {
                        report.deleted.push(path.clone());
                        self.entries.retain(|e| e.path != path);
                    } else {
                        report.skipped.push(path);
                    }
                }
                Ok(_) => report.skipped.push(path),
                Err(_) => {
                    // Gone already: forget it.
                    self.entries.retain(|e| e.path != path);
                }
            }
        }
        report.kept = self.entries.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_keeps_the_newest_and_never_touches_foreign_or_changed_files() {
        let d = tempfile::tempdir().unwrap();
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut lib = Library::default();
        for i in 0..4 {
            let p = d.path().join(format!("r1_{i}.zip"));
            std::fs::write(&p, vec![0u8; 10]).unwrap();
            lib.add(LibraryEntry {
                resource_id: "r1".into(),
                resource_name: "r".into(),
                version: None,
                taken_at: now - Duration::days(10 - i),
                size: 10,
                path: p,
                downloaded_at: now,
                verified_at: None,
            });
        }
        // The user replaced one of the old files with something else.
        std::fs::write(d.path().join("r1_1.zip"), b"mine").unwrap();
        let foreign = d.path().join("not-ours.zip");
        std::fs::write(&foreign, b"x").unwrap();
        let r = lib.prune(Some(2), None, now);
        assert_eq!(r.deleted, vec![d.path().join("r1_0.zip")]);
        assert_eq!(r.skipped, vec![d.path().join("r1_1.zip")]);
        assert!(foreign.exists() && d.path().join("r1_3.zip").exists());
        assert_eq!(r.kept, 3);
    }

    #[test]
    fn the_preview_is_what_the_prune_deletes() {
        let d = tempfile::tempdir().unwrap();
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut lib = Library::default();
        for i in 0..5 {
            let p = d.path().join(format!("r1_{i}.zip"));
            std::fs::write(&p, vec![0u8; 10]).unwrap();
            lib.add(LibraryEntry {
                resource_id: "r1".into(),
                resource_name: "r".into(),
                version: None,
                taken_at: now - Duration::days(i),
                size: 10,
                path: p,
                downloaded_at: now,
                verified_at: Some(now),
            });
        }
        let keep = crate::plans::Retention::Last { n: 2 };
        let ids = vec!["r1".to_string()];
        let preview: Vec<PathBuf> = lib.drops_by(&ids, &keep).into_iter().map(|x| x.0).collect();
        assert_eq!(preview.len(), 3);
        let r = lib.prune_by(&ids, &keep);
        assert_eq!(r.deleted, preview);
    }

    #[test]
    fn prune_never_deletes_the_last_verified_copy() {
        let d = tempfile::tempdir().unwrap();
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut lib = Library::default();
        for (i, verified) in [(0, true), (1, false), (2, false)] {
            let p = d.path().join(format!("r1_{i}.zip"));
            std::fs::write(&p, vec![0u8; 10]).unwrap();
            lib.add(LibraryEntry {
                resource_id: "r1".into(),
                resource_name: "r".into(),
                version: None,
                taken_at: now - Duration::days(100 - i),
                size: 10,
                path: p,
                downloaded_at: now,
                verified_at: verified.then_some(now),
            });
        }
        // "Keep none", and everything is too old: the newest stays (keep is at least 1), and
        // so does the newest verified copy.
        let r = lib.prune(Some(0), Some(1), now);
        assert_eq!(r.deleted, vec![d.path().join("r1_1.zip")]);
        assert!(d.path().join("r1_0.zip").exists() && d.path().join("r1_2.zip").exists());
        assert_eq!(lib.entries.len(), 2);
    }
}
