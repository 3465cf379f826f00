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
        let entry = self.entries.iter_mut().find(|e| e.path == path);
        let expected = entry.as_ref().map(|e| e.size);
        verify_zip(path, expected, full)?;
        if let Some(e) = entry {
            e.verified_at = Some(now);
        }
        Ok(())
    }

    /// Deletes, per resource, files beyond the newest `keep_last` and older than `keep_days`
    /// (a file is deleted only when every given rule would drop it). Only files this app
    /// wrote and that still have the size it wrote are touched.
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
        let mut ids: Vec<String> = self.entries.iter().map(|e| e.resource_id.clone()).collect();
        ids.sort();
        ids.dedup();
        let mut drop_paths = Vec::new();
        for id in ids {
            for (rank, e) in self.for_resource(&id).into_iter().enumerate() {
                let beyond_count = keep_last.is_none_or(|n| rank >= n as usize);
                let too_old = keep_days.is_none_or(|d| now - e.taken_at > Duration::days(d as i64));
                if beyond_count && too_old {
                    drop_paths.push((e.path.clone(), e.size));
                }
            }
        }
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
        report
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
}
