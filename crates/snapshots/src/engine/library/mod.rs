//! The library room: the index of snapshots this app downloaded (what, where, when
//! checked), the rules that prune it (`retention.rs`; in a place other than this computer,
//! `places.rs`), and the shelf that fills it and keeps the settings of where things go
//! (`shelf.rs`).

mod places;
mod retention;
pub mod sealed;
mod shelf;
pub mod unfinished;

pub use places::Held;
pub use retention::{Retention, Rule};
pub(super) use shelf::{Listed, Shelf};

use crate::destination::{Copies, Copy, Known, Presence};
use crate::verify::{VerifyError, verify_copy};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The library's file in the data dir.
pub const LIBRARY: &str = "library.json";

/// Checks a file again (every CRC with `full`) and records when it passed. An encrypted
/// copy is opened with `key` and checked as it is decrypted, never written out in plain
/// ([`verify_copy`]). The data dir's lock is held to read the file's listed size and to
/// record the result, never during the check: a pass over a large archive would hold every
/// other process. The outer error is the state's; the inner one the file's.
pub fn verify_listed(
    state: &crate::statedir::StateDir,
    path: &Path,
    full: bool,
    key: Option<&crate::seal::SealIdentity>,
) -> std::io::Result<Result<(), VerifyError>> {
    let expected = state
        .read::<Library>(LIBRARY)?
        .entries
        .iter()
        .find(|e| e.path == path)
        .map(|e| e.size);
    let checked = verify_copy(path, key, expected, full).map(|_| ());
    if checked.is_ok() {
        state.update(LIBRARY, |l: &mut Library| l.mark_verified(path, Utc::now()))?;
    }
    Ok(checked)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LibraryEntry {
    pub resource_id: String,
    pub resource_name: String,
    pub version: Option<String>,
    /// When the snapshot was taken (server time, or the create's answer).
    pub taken_at: DateTime<Utc>,
    /// The snapshot's size: the zip's, whether the copy at `path` is the zip or sealed.
    pub size: u64,
    /// The file the download wrote and checked, on this computer: the zip, or its sealed
    /// copy (`….zip.age`) when [`LibraryEntry::sealed_size`] is set.
    pub path: PathBuf,
    pub downloaded_at: DateTime<Utc>,
    pub verified_at: Option<DateTime<Utc>>,
    /// Copies kept elsewhere than `path` (another destination), each answered for by its
    /// kind of destination: retention deletes them with the entry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub copies: Vec<Copy>,
    /// The copy at `path` is sealed (the zip encrypted with age to the account's key, see
    /// `crate::seal`), this many bytes on disk. `None`: the plain zip, `size` bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_size: Option<u64>,
    /// The id of the account whose key downloaded it. Libraries written before accounts
    /// were told apart have none: such an entry is the account's whose folder holds the
    /// library ([`Library::owned_by`]). A plain string, so that an odd value cannot make
    /// the whole library unreadable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

impl LibraryEntry {
    /// The copy at `path`, as its destination sees it.
    pub fn copy(&self) -> Copy {
        Copy::local(&self.path)
    }

    /// Every copy of this snapshot: the one at `path`, then those kept elsewhere.
    pub fn all_copies(&self) -> impl Iterator<Item = Copy> + '_ {
        std::iter::once(self.copy()).chain(self.copies.iter().cloned())
    }

    /// Records a copy kept by a destination (nothing new when it is the one at `path`).
    pub fn record_copy(&mut self, copy: Copy) {
        if copy != self.copy() && !self.copies.contains(&copy) {
            self.copies.push(copy);
        }
    }

    /// Whether the copy at `path` is there, as its destination says.
    fn present(&self) -> bool {
        Known.presence(&self.copy()) != Presence::Missing
    }

    /// Whether the copy at `path` is sealed (encrypted at rest).
    pub fn sealed(&self) -> bool {
        self.sealed_size.is_some()
    }

    /// The size the copy at `path` had when it was written: the sealed file's for a sealed
    /// copy, else the zip's.
    pub fn file_size(&self) -> u64 {
        self.sealed_size.unwrap_or(self.size)
    }

    /// Whether the copy at `path` still has the size written.
    fn intact(&self) -> bool {
        Known.presence(&self.copy()) == Presence::Present(self.file_size())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Library {
    pub entries: Vec<LibraryEntry>,
    /// Server versions whose file a prune deleted on purpose, per resource id, with when:
    /// a mirror does not bring them back. Forgotten once the server no longer lists them
    /// (`forget_pruned_except`), or when that version is downloaded again by hand.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pruned: BTreeMap<String, BTreeMap<String, DateTime<Utc>>>,
    /// Per offsite destination (by name), the files whose copy there its retention deleted
    /// while the file itself stays here: a sync does not send them again. Forgotten with
    /// the entry, or when the file is downloaded again by hand.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dropped: BTreeMap<String, std::collections::BTreeSet<PathBuf>>,
    /// Per offsite destination (by name), the files staged in the account's outbox for a
    /// plan that keeps its copies there only: on this computer until their upload there is
    /// checked, then removed. Local retention neither counts nor deletes them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outbox: BTreeMap<String, std::collections::BTreeSet<PathBuf>>,
}

/// Tombstones kept per resource at most (the oldest go first): a server that keeps listing
/// thousands of versions must not grow the index without end.
const MAX_PRUNED_PER_RESOURCE: usize = 1000;

/// What a prune did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PruneReport {
    pub deleted: Vec<PathBuf>,
    pub kept: usize,
    /// Listed files that were changed or replaced since we wrote them: left alone.
    pub skipped: Vec<PathBuf>,
}

impl Library {
    /// The library as the account `id` (the one whose folder holds it) reads it: an entry
    /// that names no account is `id`'s.
    pub fn owned_by(mut self, id: &str) -> Self {
        for e in self.entries.iter_mut().filter(|e| e.account.is_none()) {
            e.account = Some(id.to_string());
        }
        self
    }

    /// Deletes every local copy this library lists, as a prune does: only files this app
    /// wrote that still have the size it wrote (a file changed since is left alone, in
    /// `skipped`), with their other local copies. Entries whose file is gone are
    /// forgotten; copies in buckets are left where they are, and their entries with them.
    /// For an account that is removed with its copies.
    pub fn delete_all(&mut self) -> PruneReport {
        let mut report = PruneReport::default();
        let all: Vec<(PathBuf, u64)> = self
            .entries
            .iter()
            .map(|e| (e.path.clone(), e.size))
            .collect();
        self.delete(all, &mut report);
        report
    }

    /// Whether a file this library lists is still on this computer as this app wrote it
    /// (present, with the size written).
    pub fn holds_intact_copy(&self) -> bool {
        self.entries.iter().any(|e| e.intact())
    }

    /// Records a copy kept elsewhere of the entry whose file is `path` (an offsite upload).
    /// `false` when no entry has that file.
    pub fn record_copy_at(&mut self, path: &Path, copy: Copy) -> bool {
        match self.entries.iter_mut().find(|e| e.path == path) {
            Some(e) => {
                e.record_copy(copy);
                true
            }
            None => false,
        }
    }

    pub fn add(&mut self, e: LibraryEntry) {
        if let Some(v) = &e.version
            && let Some(t) = self.pruned.get_mut(&e.resource_id)
        {
            // Wanted again (a download by hand): retention decides about it afresh.
            t.remove(v);
            if t.is_empty() {
                self.pruned.remove(&e.resource_id);
            }
        }
        self.entries.retain(|x| x.path != e.path);
        for files in self.dropped.values_mut() {
            files.remove(&e.path);
        }
        self.dropped.retain(|_, f| !f.is_empty());
        self.entries.push(e);
    }

    /// The versions of `id` this library has a copy of or deleted on purpose: what a mirror
    /// must not download again.
    pub fn known_versions(&self, id: &str) -> std::collections::HashSet<String> {
        self.entries
            .iter()
            .filter(|e| e.resource_id == id)
            .filter_map(|e| e.version.clone())
            .chain(
                self.pruned
                    .get(id)
                    .into_iter()
                    .flat_map(|t| t.keys().cloned()),
            )
            .collect()
    }

    /// Forgets the pruned versions of `id` the server no longer lists (`listed`: every
    /// version it lists now).
    pub fn forget_pruned_except(&mut self, id: &str, listed: &std::collections::HashSet<String>) {
        if let Some(t) = self.pruned.get_mut(id) {
            t.retain(|v, _| listed.contains(v));
            if t.is_empty() {
                self.pruned.remove(id);
            }
        }
    }

    /// Records what a prune did to a copy of this library, read as `before` and pruned into
    /// `after` outside the state lock: entries it removed go, entries it changed take its
    /// change, its new tombstones are kept. What another process changed meanwhile wins: an
    /// entry that is no longer as `before` had it is left as it is now (the next prune looks
    /// at it again), and entries added since stay.
    pub fn apply_prune(&mut self, before: &Library, after: &Library) {
        for old in &before.entries {
            let now = after.entries.iter().find(|e| e.path == old.path);
            let Some(i) = self.entries.iter().position(|e| e == old) else {
                continue;
            };
            match now {
                None => {
                    self.entries.remove(i);
                }
                Some(new) if new != old => self.entries[i] = new.clone(),
                Some(_) => {}
            }
        }
        for (id, versions) in &after.pruned {
            let had = before.pruned.get(id);
            for (v, at) in versions {
                if had.is_none_or(|h| !h.contains_key(v)) {
                    let t = self.pruned.entry(id.clone()).or_default();
                    t.insert(v.clone(), *at);
                    while t.len() > MAX_PRUNED_PER_RESOURCE {
                        let Some(oldest) =
                            t.iter().min_by_key(|(_, at)| **at).map(|(v, _)| v.clone())
                        else {
                            break;
                        };
                        t.remove(&oldest);
                    }
                }
            }
        }
        self.tidy_dropped();
    }

    fn remember_pruned(&mut self, path: &Path, now: DateTime<Utc>) {
        for e in self.entries.iter().filter(|e| e.path == path) {
            if let Some(v) = &e.version {
                let t = self.pruned.entry(e.resource_id.clone()).or_default();
                t.insert(v.clone(), now);
                while t.len() > MAX_PRUNED_PER_RESOURCE {
                    let Some(oldest) = t.iter().min_by_key(|(_, at)| **at).map(|(v, _)| v.clone())
                    else {
                        break;
                    };
                    t.remove(&oldest);
                }
            }
        }
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

    /// Records that a listed file passed its check at `now`.
    pub fn mark_verified(&mut self, path: &Path, now: DateTime<Utc>) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.path == path) {
            e.verified_at = Some(now);
        }
    }

    /// Entries of one resource whose file is on disk, newest first. A listed file that is
    /// gone (moved, on a drive that is not plugged in) is not a copy: it counts for no rule
    /// and is left in the index as it is.
    fn on_disk(&self, id: &str) -> Vec<&LibraryEntry> {
        self.for_resource(id)
            .into_iter()
            .filter(|e| e.present() && !self.is_staged(&e.path))
            .collect()
    }

    /// Deletes, per resource, files beyond the newest `keep_last` and older than `keep_days`
    /// (a file is deleted only when every given rule would drop it), counting only files that
    /// are on disk. Never deletes the last copy: `keep_last` is at least 1, and the newest
    /// good copy of each resource ([`protected`]) is kept whatever its age. Only files this
    /// app wrote and that still have the size it wrote are touched.
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
            let entries = self.on_disk(&id);
            let last_good_path = protected(&entries);
            for (rank, e) in entries.into_iter().enumerate() {
                let beyond_count = keep_last.is_none_or(|n| rank >= n as usize);
                let too_old = keep_days.is_none_or(|d| now - e.taken_at > Duration::days(d as i64));
                let last_good = last_good_path.as_ref() == Some(&e.path);
                if beyond_count && too_old && !last_good {
                    drop_paths.push((e.path.clone(), e.file_size()));
                }
            }
        }
        self.delete(drop_paths, &mut report);
        report
    }

    /// Deletes files this app wrote that still have the size it wrote, with every other
    /// copy of theirs, each through its destination; forgets missing ones.
    fn delete(&mut self, drop_paths: Vec<(PathBuf, u64)>, report: &mut PruneReport) {
        for (path, size) in drop_paths {
            let copy = Copy::local(&path);
            match Known.presence(&copy) {
                Presence::Present(n) if n == size => {
                    if Known.delete(&copy).is_ok_and(|gone| gone) {
                        report.deleted.push(path.clone());
                        self.remember_pruned(&path, Utc::now());
                        self.delete_other_copies(&path);
                        // Retention here is this computer's: a copy in another kind of
                        // destination (a bucket) keeps the version, and the entry that
                        // answers for it, until that destination's own rule drops it.
                        self.entries.retain_mut(|e| {
                            if e.path != path {
                                return true;
                            }
                            e.copies.retain(|c| c.kind != crate::destination::LOCAL);
                            !e.copies.is_empty()
                        });
                    } else {
                        report.skipped.push(path);
                    }
                }
                Presence::Present(_) => report.skipped.push(path),
                Presence::Missing => {
                    // Gone already: forget it.
                    self.entries.retain(|e| e.path != path);
                }
            }
        }
        self.tidy_dropped();
        report.kept = self.entries.len();
    }

    /// The copies kept elsewhere of the entry at `path` go with it.
    fn delete_other_copies(&self, path: &Path) {
        for e in self.entries.iter().filter(|e| e.path == path) {
            for c in &e.copies {
                let _ = Known.delete(c);
            }
        }
    }
}

/// The copy of one resource no rule deletes, from its files on disk (newest first): the
/// newest that still has the size we wrote, passed its check when downloaded and still
/// reads as a zip; else the newest with its size and a passed check; else the newest with
/// its size. `None` when no file is as we wrote it (then none would be deleted anyway).
fn protected(entries: &[&LibraryEntry]) -> Option<PathBuf> {
    let intact: Vec<&&LibraryEntry> = entries.iter().filter(|e| e.intact()).collect();
    let verified = || intact.iter().filter(|e| e.verified_at.is_some());
    verified()
        .find(|e| Known.reads(&e.copy(), e.file_size()))
        .or_else(|| verified().next())
        .or_else(|| intact.first())
        .map(|e| e.path.clone())
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
                copies: Vec::new(),
                sealed_size: None,
                account: None,
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

    /// An entry records every copy it has; retention deletes each through its kind of
    /// destination, and leaves a copy of a kind this build does not know alone (its entry stays).
    #[test]
    fn an_entry_with_several_copies_is_pruned_whole() {
        let d = tempfile::tempdir().unwrap();
        let (stage, other) = (d.path().join("stage"), d.path().join("second"));
        std::fs::create_dir_all(&stage).unwrap();
        std::fs::create_dir_all(&other).unwrap();
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut lib = Library::default();
        let unknown = Copy {
            kind: "elsewhere".into(),
            at: "bucket/r1_0.zip".into(),
        };
        for i in 0..2 {
            let p = stage.join(format!("r1_{i}.zip"));
            std::fs::write(&p, vec![0u8; 10]).unwrap();
            let mut e = LibraryEntry {
                resource_id: "r1".into(),
                resource_name: "r".into(),
                version: Some(format!("v{i}")),
                taken_at: now - Duration::days(10 - i),
                size: 10,
                path: p.clone(),
                downloaded_at: now,
                verified_at: None,
                copies: Vec::new(),
                sealed_size: None,
                account: None,
            };
            // The copy at `path` is not recorded twice.
            e.record_copy(Copy::local(&p));
            assert!(e.copies.is_empty());
            let second = other.join(format!("r1_{i}.zip"));
            std::fs::write(&second, vec![0u8; 10]).unwrap();
            e.record_copy(Copy::local(&second));
            e.record_copy(unknown.clone());
            e.record_copy(unknown.clone());
            assert_eq!(e.all_copies().count(), 3);
            lib.add(e);
        }
        let r = lib.prune(Some(1), None, now);
        assert_eq!(r.deleted, vec![stage.join("r1_0.zip")]);
        assert!(!other.join("r1_0.zip").exists(), "its second copy went too");
        assert!(other.join("r1_1.zip").exists() && stage.join("r1_1.zip").exists());
        // The copy elsewhere was not this prune's to delete: the version is still kept
        // there, and the library still answers for it.
        let old = lib
            .entries
            .iter()
            .find(|e| e.path == stage.join("r1_0.zip"));
        assert_eq!(old.map(|e| e.copies.clone()), Some(vec![unknown.clone()]));
        // Written as before when an entry has no other copy; read back with them.
        let text = serde_json::to_string(&lib).unwrap();
        let back: Library = serde_json::from_str(&text).unwrap();
        assert_eq!(back, lib);
        let mut plain = lib.entries[0].clone();
        plain.copies.clear();
        assert!(!serde_json::to_string(&plain).unwrap().contains("copies"));
    }

    /// A sealed copy is judged by its size on disk (not the zip's): pruned like a plain one
    /// when it is as written, left alone when it changed.
    #[test]
    fn sealed_copies_are_pruned_by_their_size_on_disk() {
        let d = tempfile::tempdir().unwrap();
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut lib = Library::default();
        for i in 0..3 {
            let p = d.path().join(format!("r1_{i}.zip.age"));
            std::fs::write(&p, vec![0u8; 50]).unwrap();
            lib.add(LibraryEntry {
                resource_id: "r1".into(),
                resource_name: "r".into(),
                version: Some(format!("v{i}")),
                taken_at: now - Duration::days(10 - i),
                size: 10,
                path: p,
                downloaded_at: now,
                verified_at: Some(now),
                copies: Vec::new(),
                sealed_size: Some(50),
                account: None,
            });
        }
        std::fs::write(d.path().join("r1_0.zip.age"), vec![0u8; 51]).unwrap();
        let preview = lib.drops_by(&["r1".to_string()], &Retention::Last { n: 1 });
        assert!(preview.iter().all(|(_, size)| *size == 50), "{preview:?}");
        let r = lib.prune(Some(1), None, now);
        assert_eq!(r.deleted, vec![d.path().join("r1_1.zip.age")]);
        assert_eq!(r.skipped, vec![d.path().join("r1_0.zip.age")]);
        assert_eq!(lib.known_versions("r1").len(), 3);
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
                copies: Vec::new(),
                sealed_size: None,
                account: None,
            });
        }
        let keep = Retention::Last { n: 2 };
        let ids = vec!["r1".to_string()];
        let preview: Vec<PathBuf> = lib.drops_by(&ids, &keep).into_iter().map(|x| x.0).collect();
        assert_eq!(preview.len(), 3);
        let r = lib.prune_by(&ids, &keep);
        assert_eq!(r.deleted, preview);
    }

    /// What a prune did on a copy is recorded over what other processes did meanwhile: an
    /// entry changed since (verified again) is left as it is now, one added stays, one the
    /// prune removed and nobody touched goes.
    #[test]
    fn a_prune_on_a_copy_is_applied_over_changes_made_meanwhile() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let e = |i: i64| LibraryEntry {
            resource_id: "r1".into(),
            resource_name: "r".into(),
            version: Some(format!("v{i}")),
            taken_at: now - Duration::days(10 - i),
            size: 10,
            path: PathBuf::from(format!("/b/r1_{i}.zip")),
            downloaded_at: now,
            verified_at: None,
            copies: Vec::new(),
            sealed_size: None,
            account: None,
        };
        let mut before = Library::default();
        for i in 0..3 {
            before.add(e(i));
        }
        // The prune removed 0 and 1 and left tombstones.
        let mut after = before.clone();
        after.entries.retain(|x| x.path == e(2).path);
        after
            .pruned
            .entry("r1".into())
            .or_default()
            .extend([("v0".to_string(), now), ("v1".to_string(), now)]);
        // Meanwhile: 1 was verified again, 3 was added.
        let mut current = before.clone();
        current.mark_verified(&e(1).path, now);
        current.add(e(3));
        current.apply_prune(&before, &after);
        let mut paths: Vec<_> = current.entries.iter().map(|x| x.path.clone()).collect();
        paths.sort();
        assert_eq!(paths, vec![e(1).path, e(2).path, e(3).path]);
        assert_eq!(current.pruned["r1"].len(), 2);
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
                copies: Vec::new(),
                sealed_size: None,
                account: None,
            });
        }
        // "Keep none", and everything is too old: the newest stays (keep is at least 1), and
        // so does the newest verified copy.
        let r = lib.prune(Some(0), Some(1), now);
        assert_eq!(r.deleted, vec![d.path().join("r1_1.zip")]);
        assert!(d.path().join("r1_0.zip").exists() && d.path().join("r1_2.zip").exists());
        assert_eq!(lib.entries.len(), 2);
    }

    /// A small real zip of `len` stored bytes at `path`; its size.
    fn zip_at(path: &Path, len: usize) -> u64 {
        use std::io::Write;
        let f = std::fs::File::create(path).unwrap();
        let mut z = zip::ZipWriter::new(f);
        z.start_file("a.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(&vec![b'a'; len]).unwrap();
        z.finish().unwrap();
        std::fs::metadata(path).unwrap().len()
    }

    /// The newest entry's file is gone (moved, a drive unplugged): keep-last-1 keeps the
    /// newest file that is still there, by either prune, instead of deleting every copy.
    /// And a newest file that no longer reads as a zip does not cost the last good one.
    #[test]
    fn prune_keeps_the_newest_copy_that_exists_and_reads() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let setup = || {
            let d = tempfile::tempdir().unwrap();
            let mut lib = Library::default();
            for i in 0..4 {
                let p = d.path().join(format!("r1_{i}.zip"));
                let size = zip_at(&p, 10 + i);
                lib.add(LibraryEntry {
                    resource_id: "r1".into(),
                    resource_name: "r".into(),
                    version: Some(format!("v{i}")),
                    taken_at: now - Duration::days(10 - i as i64),
                    size,
                    path: p,
                    downloaded_at: now,
                    verified_at: Some(now),
                    copies: Vec::new(),
                    sealed_size: None,
                    account: None,
                });
            }
            std::fs::remove_file(d.path().join("r1_3.zip")).unwrap();
            (d, lib)
        };
        let (d, mut lib) = setup();
        let r = lib.prune(Some(1), None, now);
        assert!(d.path().join("r1_2.zip").exists(), "{r:?}");
        assert_eq!(r.deleted.len(), 2, "{r:?}");
        let (d, mut lib) = setup();
        let ids = vec!["r1".to_string()];
        let r = lib.prune_by(&ids, &Retention::Last { n: 1 });
        assert!(d.path().join("r1_2.zip").exists(), "{r:?}");
        assert_eq!(r.deleted.len(), 2, "{r:?}");
        // The gone one stays listed (its drive may come back); the deleted are remembered.
        assert!(
            lib.entries
                .iter()
                .any(|e| e.version.as_deref() == Some("v3"))
        );
        assert_eq!(lib.known_versions("r1").len(), 4);

        // The newest file is there, but damaged with its size unchanged: keep-last-1 keeps
        // it (it is the newest) and the newest one that reads.
        let (d, mut lib) = setup();
        let p2 = d.path().join("r1_2.zip");
        let len = std::fs::metadata(&p2).unwrap().len() as usize;
        std::fs::write(&p2, vec![0u8; len]).unwrap();
        let r = lib.prune(Some(1), None, now);
        assert!(p2.exists() && d.path().join("r1_1.zip").exists(), "{r:?}");
        assert_eq!(r.deleted, vec![d.path().join("r1_0.zip")]);
    }
}
