//! The shelf: the library on disk and what fills it. It keeps the settings (which folder
//! each resource's files go to, connections, rate, checks), the downloader with the rate
//! limit every download of the engine shares, and records each verified file in the index.

use super::sealed::{self, Kept, Keys};
use super::unfinished::{UNFINISHED, Unfinished, UnfinishedDownload, worth_resuming};
use super::{LIBRARY, Library, LibraryEntry, PruneReport};
use crate::destination::{Destination, LocalFolder};
use crate::download::{DownloadError, DownloadTarget, Downloaded, Downloader, Progress, RateLimit};
use crate::engine::account::{Account, version_key};
use crate::engine::types::{
    EngineConfig, EngineError, Event, EventSink, FRESH_SIZE_GROWTH, MeteredCheck, ResourceRef,
    state_error,
};
use crate::names::snapshot_file_name;
use crate::settings::{SETTINGS, Settings, validate_folder};
use crate::statedir::{NamedLock, StateDir};
use crate::verify::VerifyError;
use chrono::{DateTime, Utc};
use squarecloud::SnapshotItem;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio_util::sync::CancellationToken;

pub(in crate::engine) struct Shelf {
    state: Arc<StateDir>,
    data_dir: PathBuf,
    /// The least a fresh snapshot may weigh before its download is stopped.
    fresh_size_floor: u64,
    downloader: Downloader,
    /// Connections and rate limit for this run (the CLI's flags), over the settings.
    transfer: Option<(usize, Option<u64>)>,
    /// The total rate limit every download of this engine shares, while it is unchanged.
    limiter: Mutex<Option<Arc<RateLimit>>>,
    /// Tells whether the connection is metered (the app asks NetworkManager).
    metered: RwLock<Option<MeteredCheck>>,
    /// Each download is recorded until it ends ([`super::unfinished`]): the app's choice.
    keep_unfinished: AtomicBool,
    /// Where the account's encryption key is, for folders that keep copies sealed.
    keys: Option<Keys>,
    /// The id of the account whose key downloads here, recorded on each library entry.
    owner: Option<String>,
}

impl Shelf {
    pub(in crate::engine) fn new(state: Arc<StateDir>, cfg: &EngineConfig) -> Self {
        Self {
            state,
            data_dir: cfg.data_dir.clone(),
            fresh_size_floor: cfg.fresh_size_floor,
            downloader: Downloader::new(),
            transfer: None,
            limiter: Mutex::new(None),
            metered: RwLock::new(None),
            keep_unfinished: AtomicBool::new(false),
            keys: None,
            owner: None,
        }
    }

    /// The keychain the account's encryption key is in (for folders that encrypt).
    pub(in crate::engine) fn set_keys(&mut self, keys: Keys) {
        self.keys = Some(keys);
    }

    pub(in crate::engine) fn keys(&self) -> Option<&Keys> {
        self.keys.as_ref()
    }

    /// Records `account` (the engine's) as the owner of every download this shelf adds.
    pub(in crate::engine) fn owned_by(mut self, account: &str) -> Self {
        self.owner = Some(account.to_string());
        self
    }

    /// The account the library's entries belong to when they name none.
    pub(in crate::engine) fn owner(&self) -> Option<&str> {
        self.owner.as_deref()
    }

    /// Records each download until it ends, so the next start can go on with it.
    pub(in crate::engine) fn keep_unfinished(&self, on: bool) {
        self.keep_unfinished.store(on, Ordering::Relaxed);
    }

    /// The downloads recorded and not ended.
    pub(in crate::engine) fn unfinished(&self) -> Vec<UnfinishedDownload> {
        self.state
            .read::<Unfinished>(UNFINISHED)
            .map(|u| u.downloads)
            .unwrap_or_default()
    }

    /// Forgets every recorded download: the user stopped them.
    pub(in crate::engine) fn forget_unfinished(&self) -> Result<(), EngineError> {
        self.state
            .update(UNFINISHED, |u: &mut Unfinished| u.downloads.clear())
            .map_err(|e| state_error(&self.data_dir.join(UNFINISHED), e))
    }

    /// Forgets one recorded download: it ended, or it is not worth going on with.
    pub(in crate::engine) async fn end_unfinished(
        &self,
        d: UnfinishedDownload,
    ) -> Result<(), EngineError> {
        self.unfinished_update(move |u| u.end(&d.resource_id, &d.version, &d.dir))
            .await
    }

    /// Loads the settings and the index once, so an unreadable one is kept aside and
    /// reported at start.
    pub(in crate::engine) fn load(state: &StateDir, data_dir: &Path) -> Result<(), EngineError> {
        let _: Settings = state.read(SETTINGS).map_err(|e| state_error(data_dir, e))?;
        let _: Library = state.read(LIBRARY).map_err(|e| state_error(data_dir, e))?;
        Ok(())
    }

    pub(in crate::engine) fn settings(&self) -> Settings {
        self.state.read(SETTINGS).unwrap_or_default()
    }

    /// Changes the settings by reloading them under the lock first, so a change another
    /// process made meanwhile is kept.
    pub(in crate::engine) fn update_settings(
        &self,
        f: impl FnOnce(&mut Settings),
    ) -> Result<Settings, EngineError> {
        self.state
            .update(SETTINGS, |s: &mut Settings| {
                f(s);
                s.clone()
            })
            .map_err(|e| state_error(&self.data_dir.join(SETTINGS), e))
    }

    /// The account's state dir, where the library, the plans and the outbox are.
    pub(in crate::engine) fn state(&self) -> &StateDir {
        &self.state
    }

    pub(in crate::engine) fn library(&self) -> Library {
        self.state.read(LIBRARY).unwrap_or_default()
    }

    pub(in crate::engine) fn update_library<R>(
        &self,
        f: impl FnOnce(&mut Library) -> R,
    ) -> Result<R, EngineError> {
        self.state
            .update(LIBRARY, f)
            .map_err(|e| state_error(&self.data_dir.join(LIBRARY), e))
    }

    /// Checks a file again (full CRC check with `full`); an encrypted copy with the
    /// account's key, as it is decrypted.
    pub(in crate::engine) async fn verify(
        &self,
        path: &Path,
        full: bool,
    ) -> Result<(), EngineError> {
        let key = if crate::seal::is_sealed_file(path) {
            self.keys
                .as_ref()
                .map(Keys::stored)
                .transpose()
                .map_err(|e| EngineError::Verify(VerifyError::Sealed(e.to_string())))?
                .flatten()
        } else {
            None
        };
        let (state, p) = (self.state.clone(), path.to_path_buf());
        tokio::task::spawn_blocking(move || super::verify_listed(&state, &p, full, key.as_ref()))
            .await
            .map_err(|e| EngineError::Verify(VerifyError::Io(e.to_string())))?
            .map_err(|e| state_error(&self.data_dir.join(LIBRARY), e))??;
        Ok(())
    }

    /// Applies the retention rules (the settings' unless given). At least one copy of each
    /// resource is always kept.
    pub(in crate::engine) fn prune(
        &self,
        keep_last: Option<u32>,
        keep_days: Option<u32>,
    ) -> Result<PruneReport, EngineError> {
        let s = self.settings();
        let (last, days) = (keep_last.or(s.keep_last), keep_days.or(s.keep_days));
        self.prune_with(|l| l.prune(last, days, Utc::now()))
    }

    /// Runs `prune` on a copy of the library outside the state lock (its file work: sizes,
    /// zip reads, deletes, however long they take), then records what it did under the lock
    /// ([`Library::apply_prune`]). The lock is held only to read and to write the index.
    pub(in crate::engine) fn prune_with(
        &self,
        prune: impl FnOnce(&mut Library) -> PruneReport,
    ) -> Result<PruneReport, EngineError> {
        let before = self.library();
        let mut after = before.clone();
        let report = prune(&mut after);
        self.update_library(|l| l.apply_prune(&before, &after))?;
        Ok(report)
    }

    pub(in crate::engine) fn dest_for(
        &self,
        r: &ResourceRef,
        over: Option<&Path>,
    ) -> Result<PathBuf, EngineError> {
        over.map(Path::to_path_buf)
            .or_else(|| self.settings().dest_for(&r.id).map(Path::to_path_buf))
            .ok_or(EngineError::NoDestination)
    }

    /// The folder a download of `r` goes to, checked now: it exists and can be written.
    pub(in crate::engine) fn checked_dest(
        &self,
        r: &ResourceRef,
        over: Option<&Path>,
    ) -> Result<PathBuf, EngineError> {
        let dir = self.dest_for(r, over)?;
        validate_folder(&dir).map_err(|e| EngineError::Download(DownloadError::Folder(e)))
    }

    /// Connections per snapshot and a total rate for this engine only (the CLI's flags).
    pub(in crate::engine) fn set_transfer(
        &mut self,
        connections: Option<usize>,
        limit_rate: Option<u64>,
    ) {
        let s = self.settings();
        self.transfer = Some((
            connections.unwrap_or_else(|| s.connections()),
            limit_rate.or(s.limit_rate),
        ));
    }

    pub(in crate::engine) fn set_downloader(&mut self, d: Downloader) {
        self.downloader = d;
    }

    /// The downloader with the connections and the shared rate limit in force now.
    fn downloader(&self) -> Downloader {
        let s = self.settings();
        let n = self.transfer.map_or_else(|| s.connections(), |(n, _)| n);
        self.downloader
            .clone()
            .with_connection_count(n)
            .with_limit(self.rate_limit())
    }

    /// The rate limit in force now, one for every transfer that holds it (downloads and
    /// offsite uploads); `None` when there is no limit.
    pub(in crate::engine) fn rate_limit(&self) -> Option<Arc<RateLimit>> {
        let rate = self
            .transfer
            .map_or_else(|| self.settings().limit_rate, |(_, r)| r);
        rate.filter(|r| *r > 0).map(|r| {
            let mut held = self.limiter.lock().unwrap_or_else(|e| e.into_inner());
            match &*held {
                Some(l) if l.bytes_per_sec() == r => l.clone(),
                _ => {
                    let l = Arc::new(RateLimit::new(r));
                    *held = Some(l.clone());
                    l
                }
            }
        })
    }

    pub(in crate::engine) fn set_metered_check(&self, check: MeteredCheck) {
        *self.metered.write().unwrap_or_else(|e| e.into_inner()) = Some(check);
    }

    pub(in crate::engine) fn is_metered(&self) -> bool {
        self.metered
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|f| f())
    }

    /// The most a freshly created snapshot of `id` may weigh: its download has no listed
    /// size, and a host that never stops sending must not fill the disk. Four times the
    /// largest snapshot of the resource seen (listed, or in the library), and never less
    /// than [`EngineConfig::fresh_size_floor`].
    pub(in crate::engine) fn fresh_size_cap(&self, account: &Account, id: &str) -> u64 {
        let kept = self
            .library()
            .entries
            .iter()
            .filter(|e| e.resource_id == id)
            .map(|e| e.size)
            .max()
            .unwrap_or(0);
        account
            .largest_listed(id)
            .max(kept)
            .saturating_mul(FRESH_SIZE_GROWTH)
            .max(self.fresh_size_floor)
    }

    /// Downloads one listed version; a refused URL is refreshed from the list for that same
    /// version, never for another one.
    pub(in crate::engine) async fn fetch_item(
        &self,
        account: &Account,
        r: &ResourceRef,
        dir: &Path,
        item: &SnapshotItem,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> Result<Downloaded, EngineError> {
        let key = version_key(item);
        let refresh = || async {
            let list = account.versions(r).await.ok()?;
            let same = list.iter().find(|i| version_key(i) == key)?;
            Some(account.download_url(r, same))
        };
        let target = DownloadTarget {
            url: account.download_url(r, item),
            dir: dir.to_path_buf(),
            file_name: snapshot_file_name(&r.name, &r.id, item.modified),
            expected_size: Some(item.size),
            max_size: None,
        };
        let listed = Listed {
            version: item.version(),
            taken_at: item.modified,
        };
        self.fetch(r, target, listed, refresh, events, cancel).await
    }

    /// Streams `target`, records it in the library and says so. When the app keeps
    /// unfinished downloads, a listed version is recorded until it ends.
    pub(in crate::engine) async fn fetch<F, Fut>(
        &self,
        r: &ResourceRef,
        target: DownloadTarget,
        listed: Listed,
        refresh: F,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> Result<Downloaded, EngineError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<String>>,
    {
        let record = match (
            &listed.version,
            self.keep_unfinished.load(Ordering::Relaxed),
        ) {
            (Some(v), true) => Some(UnfinishedDownload {
                resource_id: r.id.clone(),
                version: v.clone(),
                dir: target.dir.clone(),
                since: Utc::now(),
            }),
            _ => None,
        };
        if let Some(d) = &record {
            let d = d.clone();
            self.unfinished_update(move |u| u.start(d)).await?;
        }
        let done = self
            .fetch_now(r, target, listed, refresh, events, cancel)
            .await;
        if let Some(d) = record
            && done.as_ref().err().is_none_or(|e| !worth_resuming(e))
        {
            self.end_unfinished(d).await?;
        }
        done
    }

    /// Changes the record of unfinished downloads on a blocking thread: the update waits for
    /// the state lock and syncs the file, and on the async runtime it held up every task
    /// (the other downloads, the window's commands) while a burst of downloads took turns,
    /// which then all went on together.
    async fn unfinished_update(
        &self,
        f: impl FnOnce(&mut Unfinished) + Send + 'static,
    ) -> Result<(), EngineError> {
        let state = self.state.clone();
        let file = self.data_dir.join(UNFINISHED);
        tokio::task::spawn_blocking(move || state.update(UNFINISHED, f))
            .await
            .map_err(|e| state_error(&file, std::io::Error::other(e)))?
            .map_err(|e| state_error(&file, e))
    }

    async fn fetch_now<F, Fut>(
        &self,
        r: &ResourceRef,
        target: DownloadTarget,
        listed: Listed,
        refresh: F,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> Result<Downloaded, EngineError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<String>>,
    {
        let ev = events.clone();
        let id = r.id.clone();
        let mut on_progress = move |p: Progress| {
            ev(Event::Downloading {
                resource: id.clone(),
                progress: p,
            })
        };
        let settings = self.settings();
        let full = settings.full_verify;
        // A folder that encrypts: the key first (nothing is fetched without one), and a
        // sealed copy of this snapshot already there is the download.
        let seal = match settings.encrypts(&target.dir) {
            true => Some(sealed::key_for_folder(self.keys(), &target.dir)?),
            false => None,
        };
        let _held = self.hold_file(&target).await?;
        if let Some(key) = &seal
            && let Some(kept) = sealed::already_sealed(&target, key, full).await?
        {
            return self.record(r, listed, kept, &events);
        }
        let done = self
            .downloader()
            .fetch(&target, refresh, &mut on_progress, cancel, full)
            .await?;
        // A plain copy of this snapshot the library already had (made before the folder
        // was set to encrypt) stays as it is.
        let plain_before = done.already_present
            && self
                .library()
                .entries
                .iter()
                .any(|e| e.path == done.path && !e.sealed());
        let kept = match seal {
            Some(key) if !plain_before => sealed::seal_kept(&target.dir, done, &key).await?,
            _ => {
                // Written, checked and renamed in the folder, which keeps it where it is.
                let dest = LocalFolder::new(&target.dir);
                dest.keep(&done.path)
                    .map_err(|e| state_error(dest.stage(), e))?;
                Kept {
                    done,
                    sealed_size: None,
                }
            }
        };
        self.record(r, listed, kept, &events)
    }

    /// Records a kept copy in the library and says it is done.
    fn record(
        &self,
        r: &ResourceRef,
        listed: Listed,
        kept: Kept,
        events: &EventSink,
    ) -> Result<Downloaded, EngineError> {
        let Kept { done, sealed_size } = kept;
        let entry = LibraryEntry {
            resource_id: r.id.clone(),
            resource_name: r.name.clone(),
            version: listed.version,
            taken_at: listed.taken_at,
            size: done.size,
            path: done.path.clone(),
            downloaded_at: Utc::now(),
            verified_at: Some(Utc::now()),
            copies: Vec::new(),
            sealed_size,
            account: self.owner.clone(),
        };
        // A download into a destination's outbox waits there for its upload (offsite only).
        let staged = done
            .path
            .parent()
            .and_then(|dir| crate::offsite::outbox::dest_of(&self.data_dir, dir));
        self.update_library(|l| {
            l.add(entry);
            if let Some(dest) = &staged {
                l.stage(dest, &done.path);
            }
        })?;
        events(Event::Done {
            resource: r.id.clone(),
            path: done.path.clone(),
            size: done.size,
            already_present: done.already_present,
            outbox: staged,
        });
        Ok(done)
    }

    /// One download of a file at a time on this machine: a second process (or engine)
    /// waits here, then finds the file already in place.
    async fn hold_file(&self, target: &DownloadTarget) -> Result<NamedLock, EngineError> {
        let key = target
            .dir
            .join(&target.file_name)
            .to_string_lossy()
            .into_owned();
        let dir = self.data_dir.clone();
        tokio::task::spawn_blocking(move || StateDir::open(&dir).and_then(|s| s.lock_named(&key)))
            .await
            .map_err(|e| state_error(&self.data_dir, std::io::Error::other(e)))?
            .map_err(|e| state_error(&self.data_dir, e))
    }
}

/// What the list says of a file being downloaded: its version (none for a fresh create's
/// URL) and when it was taken.
pub(in crate::engine) struct Listed {
    pub(in crate::engine) version: Option<String>,
    pub(in crate::engine) taken_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::LibraryEntry;
    use std::time::Duration;

    fn entry(dir: &Path, i: i64) -> LibraryEntry {
        let path = dir.join(format!("bot_{i}.zip"));
        std::fs::write(&path, vec![1u8; 10]).unwrap();
        LibraryEntry {
            resource_id: "r1".into(),
            resource_name: "bot".into(),
            version: Some(format!("v{i}")),
            taken_at: Utc::now() - chrono::Duration::days(10 - i),
            size: 10,
            path,
            downloaded_at: Utc::now(),
            verified_at: None,
            copies: Vec::new(),
            sealed_size: None,
            account: None,
        }
    }

    /// A prune's file work runs with the state lock free: another process's update goes
    /// through while it works, and what that update added is still there after.
    #[test]
    fn a_prune_holds_the_state_lock_only_to_read_and_to_write() {
        let d = tempfile::tempdir().unwrap();
        let data = d.path().join("data");
        let state = Arc::new(StateDir::open(&data).unwrap());
        state
            .update(LIBRARY, |l: &mut Library| {
                for i in 0..3 {
                    l.add(entry(d.path(), i));
                }
            })
            .unwrap();
        let shelf = Shelf::new(state, &EngineConfig::new("http://127.0.0.1:9", &data));
        let newcomer = entry(d.path(), 5);
        let added = newcomer.clone();
        let report = shelf
            .prune_with(|l| {
                // As a second process would: its own handle, its own lock, a time limit.
                let (tx, rx) = std::sync::mpsc::channel();
                let other = data.clone();
                std::thread::spawn(move || {
                    let s = StateDir::open(&other).unwrap();
                    let r = s.update(LIBRARY, |l: &mut Library| l.add(added));
                    let _ = tx.send(r.is_ok());
                });
                let got = rx.recv_timeout(Duration::from_secs(10));
                assert_eq!(got, Ok(true), "another process waited for the prune");
                l.prune(Some(1), None, Utc::now())
            })
            .unwrap();
        assert_eq!(report.deleted.len(), 2, "{report:?}");
        let lib = shelf.library();
        let mut left: Vec<_> = lib.entries.iter().map(|e| e.path.clone()).collect();
        left.sort();
        assert_eq!(left, vec![d.path().join("bot_2.zip"), newcomer.path]);
        let tombs = lib.pruned.get("r1").map(|t| t.len());
        assert_eq!(tombs, Some(2), "the prune's tombstones are kept");
    }
}
