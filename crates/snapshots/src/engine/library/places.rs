//! Retention in a place other than this computer (a bucket): the same rules, judged on the
//! copies that place holds, independently of what the local folder keeps. The place is
//! asked first (a network call, outside the data dir's lock); what it answered is judged
//! here, and what it deleted is forgotten here.

use super::retention::Rule;
use super::{Library, LibraryEntry};
use crate::destination::{Copy, LOCAL};
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// A copy a place holds, as the place answered for it just now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The entry it is a copy of (the entry's `path`).
    pub entry: PathBuf,
    pub copy: Copy,
    /// There with the size it was uploaded with: a copy that can be restored from.
    pub verified: bool,
}

impl Library {
    /// The copies `rule` drops among those one place holds (`held`: the copies there now;
    /// a recorded copy the place no longer has is not one), per resource of `ids` (`None`:
    /// every resource). Judged on that place alone: its copies, newest first, as the local
    /// folder's rule is judged on the files on disk. Kept whatever the rule says: the
    /// newest copy there, and the newest there that verified. A resource with no copy that
    /// verified there and none intact on this computer loses nothing: the place may hold
    /// its only good copies.
    pub fn drops_in_place(&self, ids: Option<&[String]>, rule: &Rule, held: &[Held]) -> Vec<Held> {
        let mut ids: Vec<String> = match ids {
            Some(ids) => ids.to_vec(),
            None => self.entries.iter().map(|e| e.resource_id.clone()).collect(),
        };
        ids.sort();
        ids.dedup();
        let mut drops = Vec::new();
        for id in ids {
            // The resource's entries with a copy there, newest first.
            let there: Vec<(&LibraryEntry, &Held)> = self
                .for_resource(&id)
                .into_iter()
                .filter_map(|e| Some((e, held.iter().find(|h| h.entry == e.path)?)))
                .collect();
            let newest_good = there.iter().find(|(_, h)| h.verified);
            let intact_here = self.for_resource(&id).iter().any(|e| e.intact());
            if newest_good.is_none() && !intact_here {
                continue;
            }
            let entries: Vec<&LibraryEntry> = there.iter().map(|(e, _)| *e).collect();
            let mut keep = rule.keeps(&entries);
            keep.extend(entries.first().map(|e| e.path.clone()));
            keep.extend(newest_good.map(|(e, _)| e.path.clone()));
            drops.extend(
                there
                    .into_iter()
                    .filter(|(e, _)| !keep.contains(&e.path))
                    .map(|(_, h)| h.clone()),
            );
        }
        drops
    }

    /// Forgets a copy the place `dest` deleted by its retention. An entry left with no copy
    /// anywhere, its local file deleted by a prune here, leaves the index, and its version
    /// is remembered as pruned on purpose, so a mirror does not download it again: `true`
    /// when that happened. An entry that stays (its file still here, a copy elsewhere, or a
    /// file missing without a prune having deleted it: a drive not plugged in, a folder
    /// moved, which a local prune leaves listed too) remembers that `dest` dropped it, so a
    /// sync does not send it there again.
    pub fn forget_copy(
        &mut self,
        dest: &str,
        entry: &Path,
        copy: &Copy,
        now: DateTime<Utc>,
    ) -> bool {
        let Some(e) = self.entries.iter_mut().find(|e| e.path == entry) else {
            return false;
        };
        e.copies.retain(|c| c != copy);
        let others = e.copies.iter().any(|c| c.kind != LOCAL);
        let pruned_here = !e.present()
            && e.version.as_ref().is_none_or(|v| {
                self.pruned
                    .get(&e.resource_id)
                    .is_some_and(|t| t.contains_key(v))
            });
        if others || !pruned_here {
            self.dropped
                .entry(dest.to_string())
                .or_default()
                .insert(entry.to_path_buf());
            return false;
        }
        self.remember_pruned(entry, now);
        self.entries.retain(|e| e.path != entry);
        self.tidy_dropped();
        true
    }

    /// Forgets a copy that its place says is not there (deleted behind this app's back):
    /// the entry answers for it no more; one left with no copy anywhere leaves the index.
    pub fn forget_missing(&mut self, entry: &Path, copy: &Copy) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.path == entry) {
            e.copies.retain(|c| c != copy);
            if e.copies.iter().all(|c| c.kind == LOCAL) && !e.present() {
                self.entries.retain(|e| e.path != entry);
                self.tidy_dropped();
            }
        }
    }

    /// Whether `dest`'s retention deleted its copy of the file at `entry`.
    pub fn dropped_by(&self, dest: &str, entry: &Path) -> bool {
        self.dropped.get(dest).is_some_and(|f| f.contains(entry))
    }

    /// Drops the marks (dropped there, staged for there) of files no entry lists any more.
    pub(super) fn tidy_dropped(&mut self) {
        let listed: HashSet<&PathBuf> = self.entries.iter().map(|e| &e.path).collect();
        for files in self.dropped.values_mut().chain(self.outbox.values_mut()) {
            files.retain(|p| listed.contains(p));
        }
        self.dropped.retain(|_, f| !f.is_empty());
        self.outbox.retain(|_, f| !f.is_empty());
    }

    /// Records that the file at `entry` is staged in the outbox for `dest`: it is kept on
    /// this computer only until its upload there is checked.
    pub fn stage(&mut self, dest: &str, entry: &Path) {
        self.outbox
            .entry(dest.to_string())
            .or_default()
            .insert(entry.to_path_buf());
    }

    /// Whether the file at `entry` waits in the outbox for `dest`.
    pub fn staged_for(&self, dest: &str, entry: &Path) -> bool {
        self.outbox.get(dest).is_some_and(|f| f.contains(entry))
    }

    /// Whether the file at `entry` waits in the outbox for any destination.
    pub fn is_staged(&self, entry: &Path) -> bool {
        self.outbox.values().any(|f| f.contains(entry))
    }

    /// The staged files that still wait on this computer for their upload to `dest`.
    pub fn waiting_for(&self, dest: &str) -> Vec<PathBuf> {
        self.outbox
            .get(dest)
            .into_iter()
            .flatten()
            .filter(|p| self.entries.iter().any(|e| &e.path == *p && e.present()))
            .cloned()
            .collect()
    }

    /// The staged file at `entry` was uploaded to `dest`, checked, recorded there, and
    /// removed from this computer on purpose: it waits no more, and its version is
    /// remembered as deleted here, as a local prune would (so once that destination's rule
    /// drops its copy, the version is gone on purpose and a mirror does not bring it back).
    pub fn unstage(&mut self, dest: &str, entry: &Path, now: DateTime<Utc>) {
        if let Some(f) = self.outbox.get_mut(dest) {
            f.remove(entry);
        }
        self.outbox.retain(|_, f| !f.is_empty());
        let gone = self.entries.iter().any(|e| e.path == entry && !e.present());
        if gone {
            self.remember_pruned(entry, now);
        }
    }

    /// The versions of `id` that have a copy recorded anywhere (this computer's file when
    /// it is there, or a copy in another place).
    pub fn versions_with_copies(&self, id: &str) -> HashSet<String> {
        self.entries
            .iter()
            .filter(|e| e.resource_id == id && (e.present() || !e.copies.is_empty()))
            .filter_map(|e| e.version.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::library::Retention;
    use chrono::Duration;

    fn at(name: &str) -> Copy {
        Copy {
            kind: "s3".into(),
            at: format!("s3://b/{name}#lab"),
        }
    }

    /// Five versions, each in the bucket; the local files of the three oldest were deleted
    /// by a local prune (keep-last-2 here).
    fn library(d: &Path, now: DateTime<Utc>) -> (Library, Vec<Held>) {
        let mut lib = Library::default();
        let mut held = Vec::new();
        for i in 0..5 {
            let p = d.join(format!("r1_{i}.zip"));
            std::fs::write(&p, vec![0u8; 10]).unwrap();
            let copy = at(&format!("r1_{i}.zip"));
            lib.add(LibraryEntry {
                resource_id: "r1".into(),
                resource_name: "r".into(),
                version: Some(format!("v{i}")),
                taken_at: now - Duration::days(10 - i),
                size: 10,
                path: p.clone(),
                downloaded_at: now,
                verified_at: Some(now),
                copies: vec![copy.clone()],
                sealed_size: None,
                account: None,
            });
            held.push(Held {
                entry: p,
                copy,
                verified: true,
            });
        }
        let local = lib.prune(Some(2), None, now);
        assert_eq!(local.deleted.len(), 3);
        (lib, held)
    }

    #[test]
    fn a_bucket_keeps_its_own_newest_and_forgets_what_it_deleted() {
        let d = tempfile::tempdir().unwrap();
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let (mut lib, held) = library(d.path(), now);
        let rule = Rule::Plan(Retention::Last { n: 2 });
        let drops = lib.drops_in_place(None, &rule, &held);
        let names: Vec<_> = drops.iter().map(|h| h.copy.at.clone()).collect();
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(
            names
                .iter()
                .all(|n| ["r1_0", "r1_1", "r1_2"].iter().any(|x| n.contains(x)))
        );
        for h in &drops {
            // The local files of these are gone: the entry and its version go, remembered.
            assert!(lib.forget_copy("lab", &h.entry, &h.copy, now));
        }
        assert_eq!(lib.entries.len(), 2);
        assert_eq!(lib.known_versions("r1").len(), 5, "tombstones for three");
        assert_eq!(lib.versions_with_copies("r1").len(), 2);
    }

    /// A file missing without a prune having deleted it (a drive not plugged in) keeps its
    /// entry when the bucket drops its copy: the file may come back, as a local prune
    /// assumes; the bucket is not sent it again.
    #[test]
    fn a_missing_file_keeps_its_entry_when_the_bucket_drops_its_copy() {
        let d = tempfile::tempdir().unwrap();
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let (mut lib, held) = library(d.path(), now);
        let unplugged = held[3].clone();
        std::fs::remove_file(&unplugged.entry).unwrap();
        assert!(!lib.forget_copy("lab", &unplugged.entry, &unplugged.copy, now));
        assert!(lib.entries.iter().any(|e| e.path == unplugged.entry));
        assert!(lib.dropped_by("lab", &unplugged.entry));
        assert!(!lib.known_versions("r1").is_empty());
        assert!(!lib.pruned.get("r1").is_some_and(|t| t.contains_key("v3")));
    }

    #[test]
    fn a_copy_kept_here_keeps_its_entry_and_an_unverified_bucket_loses_nothing() {
        let d = tempfile::tempdir().unwrap();
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let (mut lib, mut held) = library(d.path(), now);
        // The newest local file still answers: deleting its bucket copy keeps the entry.
        let newest = held[4].clone();
        assert!(!lib.forget_copy("lab", &newest.entry, &newest.copy, now));
        assert!(
            lib.entries
                .iter()
                .any(|e| e.path == newest.entry && e.copies.is_empty())
        );
        assert!(lib.dropped_by("lab", &newest.entry), "not sent there again");
        // The newest bucket copy did not verify: the newest that did is kept too.
        held[3].verified = false;
        let rule = Rule::Plan(Retention::Last { n: 1 });
        let drops = lib.drops_in_place(None, &rule, &held[..4]);
        let kept: Vec<_> = held[..4]
            .iter()
            .filter(|h| !drops.contains(h))
            .map(|h| h.copy.at.clone())
            .collect();
        assert_eq!(kept.len(), 2, "{kept:?}");
        assert!(kept.iter().any(|k| k.contains("r1_3")) && kept.iter().any(|k| k.contains("r1_2")));
        // Nothing verified there and nothing intact here: that bucket may hold the only
        // good copies; none is deleted.
        for f in [3, 4] {
            std::fs::remove_file(d.path().join(format!("r1_{f}.zip"))).unwrap();
        }
        for h in &mut held {
            h.verified = false;
        }
        assert!(lib.drops_in_place(None, &rule, &held).is_empty());
    }

    #[test]
    fn counts_keep_what_either_rule_keeps() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let d = tempfile::tempdir().unwrap();
        let (lib, _) = library(d.path(), now);
        let entries = lib.for_resource("r1");
        // Taken 6..10 days ago, newest first.
        let rule = |last, days| Rule::Counts { last, days, now };
        assert_eq!(rule(Some(2), None).keeps(&entries).len(), 2);
        assert_eq!(rule(None, Some(7)).keeps(&entries).len(), 2);
        assert_eq!(rule(Some(1), Some(8)).keeps(&entries).len(), 3);
        assert_eq!(rule(None, None).keeps(&entries).len(), 5);
    }
}
