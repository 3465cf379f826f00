//! The data dir that several processes share (the app, `sqsnap` from cron or a timer).
//! Every read-modify-write of a state file happens under one OS file lock on the dir,
//! reloading first, so no process's change is lost to another's whole-file write.

use crate::store::{Recovered, read_json_or_default};
use serde::{Serialize, de::DeserializeOwned};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A data dir and the state files in it.
#[derive(Debug)]
pub struct StateDir {
    dir: PathBuf,
    /// Files found unreadable and kept aside, to tell the user once.
    recovered: Mutex<Vec<Recovered>>,
    /// Serialises this process's own users: the OS lock is per open file description, and
    /// two handles of one process must not both think they hold it.
    local: Mutex<()>,
}

/// Held while a state file is read, changed and written.
struct DirLock<'a> {
    file: File,
    _local: std::sync::MutexGuard<'a, ()>,
}

impl Drop for DirLock<'_> {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

impl StateDir {
    /// Creates the dir when missing, readable by this user alone (and narrows one an older
    /// version left open to others).
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        crate::ownfile::ensure_private_dir(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            recovered: Mutex::new(Vec::new()),
            local: Mutex::new(()),
        })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn lock(&self) -> std::io::Result<DirLock<'_>> {
        let local = self.local.lock().unwrap_or_else(|e| e.into_inner());
        let path = self.dir.join(".lock");
        let mut file = crate::ownfile::open_or_create(&path, crate::ownfile::Access::Write)?;
        wait_for_lock(&file, &path, STATE_LOCK_WAIT)?;
        // Who holds it, for a process that waits too long: this process, since now.
        let _ = write_holder(&mut file);
        Ok(DirLock {
            file,
            _local: local,
        })
    }

    fn load<T: DeserializeOwned + Default>(&self, name: &str) -> std::io::Result<T> {
        let (value, recovered) = read_json_or_default::<T>(&self.dir.join(name))?;
        if let Some(r) = recovered {
            self.recovered
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(r);
        }
        Ok(value)
    }

    /// The file's current content (the default when missing; kept aside when unreadable).
    pub fn read<T: DeserializeOwned + Default>(&self, name: &str) -> std::io::Result<T> {
        let _g = self.lock()?;
        self.load(name)
    }

    /// Reloads the file under the lock, applies `f` and writes the result atomically.
    /// Returns what `f` returned. A change that changes nothing writes nothing: each write
    /// ends with an fsync, and most checks (may this create leave yet?) change nothing.
    pub fn update<T, R>(&self, name: &str, f: impl FnOnce(&mut T) -> R) -> std::io::Result<R>
    where
        T: DeserializeOwned + Serialize + Default,
    {
        self.update_with(name, true, f)
    }

    /// [`StateDir::update`] without the fsyncs: for a record that is worth little after a
    /// power cut and is written on every API call (the shared request budget).
    pub fn update_light<T, R>(&self, name: &str, f: impl FnOnce(&mut T) -> R) -> std::io::Result<R>
    where
        T: DeserializeOwned + Serialize + Default,
    {
        self.update_with(name, false, f)
    }

    fn update_with<T, R>(
        &self,
        name: &str,
        durable: bool,
        f: impl FnOnce(&mut T) -> R,
    ) -> std::io::Result<R>
    where
        T: DeserializeOwned + Serialize + Default,
    {
        let _g = self.lock()?;
        let path = self.dir.join(name);
        let mut value: T = self.load(name)?;
        let before = serde_json::to_vec(&value).map_err(std::io::Error::other)?;
        let out = f(&mut value);
        let after = serde_json::to_vec(&value).map_err(std::io::Error::other)?;
        if before != after || !path.exists() {
            crate::store::write_json(&path, &value, durable)?;
        }
        Ok(out)
    }

    /// Holds an exclusive lock named after `key` (a file to be written) until the returned
    /// guard is dropped, waiting for another process that holds it. The lock files live in
    /// the data dir, never in the user's folders, and are deleted when released.
    pub fn lock_named(&self, key: &str) -> std::io::Result<NamedLock> {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(key.as_bytes());
        let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let dir = self.dir.join("locks");
        crate::ownfile::ensure_private_dir(&dir)?;
        let path = dir.join(format!("{name}.lock"));
        loop {
            let file = crate::ownfile::open_or_create(&path, crate::ownfile::Access::Write)?;
            file.lock()?;
            // The holder before us may have deleted the name as it let go: then this lock is
            // on a file nobody else will find, and the name must be taken again.
            if same_file(&file, &path) {
                return Ok(NamedLock { file, path });
            }
        }
    }

    /// State files found unreadable since the last call, each kept aside under a new name.
    pub fn take_recovered(&self) -> Vec<Recovered> {
        std::mem::take(&mut *self.recovered.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// How long a state read or write waits for another process to let go of the dir: theirs
/// are short (read, change, write), so a longer wait means that process is stuck.
pub const STATE_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// Waits for the exclusive lock on `file` up to `limit`; then fails naming who holds it.
fn wait_for_lock(file: &File, path: &Path, limit: std::time::Duration) -> std::io::Result<()> {
    let began = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(1);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        if began.elapsed() >= limit {
            let holder = std::fs::read_to_string(path)
                .ok()
                .map(|s| crate::names::printable(s.trim()))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "a process that did not say who it is".into());
            return Err(std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                format!(
                    "another Square Snapshots process has held {} for over {} s ({holder}). \
                     Nothing was changed. If that process is stuck, stop it, then try again",
                    path.display(),
                    limit.as_secs()
                ),
            ));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(std::time::Duration::from_millis(50));
    }
}

/// Writes who holds the lock into the lock file: `pid N (program) since TIME`.
fn write_holder(file: &mut File) -> std::io::Result<()> {
    use std::io::{Seek, Write};
    let program = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let text = format!(
        "pid {} ({program}) since {}",
        std::process::id(),
        chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC")
    );
    file.set_len(0)?;
    file.seek(std::io::SeekFrom::Start(0))?;
    file.write_all(text.as_bytes())
}

/// Whether the open `file` is still the one named `path`.
fn same_file(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::symlink_metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        // Windows does not delete a file that is open, so the name is still this file.
        let _ = (file, path);
        true
    }
}

/// A named lock: held until dropped, then its file is deleted (under the lock, so a waiter
/// that gets it after notices and takes the name again) and let go.
#[derive(Debug)]
pub struct NamedLock {
    file: File,
    /// Deleted on drop where an open file can be (not on Windows: the name stays, reused).
    #[cfg_attr(not(unix), allow(dead_code))]
    path: PathBuf,
}

impl Drop for NamedLock {
    fn drop(&mut self) {
        #[cfg(unix)]
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Eight threads, each with its own handle (as separate processes have), add 50 keys
    /// each by read-modify-write: none is lost.
    #[test]
    fn concurrent_updates_lose_nothing() {
        let d = tempfile::tempdir().unwrap();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let p = d.path().to_path_buf();
                std::thread::spawn(move || {
                    let s = StateDir::open(&p).unwrap();
                    for i in 0..50 {
                        s.update("m.json", |m: &mut BTreeMap<String, u32>| {
                            m.insert(format!("{t}-{i}"), i)
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let s = StateDir::open(d.path()).unwrap();
        let m: BTreeMap<String, u32> = s.read("m.json").unwrap();
        assert_eq!(m.len(), 400);
    }

    /// An update that changes nothing does not rewrite the file (the rename of a new file
    /// would give it a new inode); one that changes something does.
    #[test]
    // Judged by the file's inode, which Windows does not give (the behaviour is the same).
    #[cfg(unix)]
    fn an_update_that_changes_nothing_writes_nothing() {
        use std::os::unix::fs::MetadataExt;
        let d = tempfile::tempdir().unwrap();
        let s = StateDir::open(d.path()).unwrap();
        let inode = || std::fs::metadata(d.path().join("m.json")).unwrap().ino();
        s.update("m.json", |_: &mut BTreeMap<String, u32>| {})
            .unwrap();
        assert!(
            d.path().join("m.json").exists(),
            "a missing file is written"
        );
        s.update("m.json", |m: &mut BTreeMap<String, u32>| {
            m.insert("a".into(), 1)
        })
        .unwrap();
        let first = inode();
        let seen = s
            .update("m.json", |m: &mut BTreeMap<String, u32>| {
                m.get("a").copied()
            })
            .unwrap();
        assert_eq!(seen, Some(1));
        assert_eq!(inode(), first, "not rewritten");
        s.update("m.json", |m: &mut BTreeMap<String, u32>| {
            m.insert("a".into(), 2)
        })
        .unwrap();
        assert_ne!(inode(), first, "rewritten");
        let m: BTreeMap<String, u32> = s.read("m.json").unwrap();
        assert_eq!(m["a"], 2);
    }

    /// A process that holds the state lock and never lets go (stuck, or a hostile user of
    /// an older, world-readable lock file) no longer blocks the others forever: they give
    /// up after the limit with a message that names the holder.
    #[test]
    fn a_held_lock_is_waited_for_with_a_limit_and_a_name() {
        let d = tempfile::tempdir().unwrap();
        let s = StateDir::open(d.path()).unwrap();
        s.update("m.json", |_: &mut BTreeMap<String, u32>| {})
            .unwrap();
        let lock = d.path().join(".lock");
        // Windows has no modes: the profile's ACL keeps these (see the README).
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            assert_eq!(std::fs::metadata(&lock).unwrap().mode() & 0o777, 0o600);
            assert_eq!(std::fs::metadata(d.path()).unwrap().mode() & 0o777, 0o700);
        }
        let held = std::fs::OpenOptions::new().write(true).open(&lock).unwrap();
        held.lock().unwrap();
        std::fs::write(&lock, "pid 4242 (sqsnap) since 2026-12-04 15:00:00 UTC").unwrap();
        let f = std::fs::OpenOptions::new().write(true).open(&lock).unwrap();
        let t = std::time::Instant::now();
        let e = wait_for_lock(&f, &lock, std::time::Duration::from_millis(300)).unwrap_err();
        assert!(t.elapsed() >= std::time::Duration::from_millis(300));
        let text = e.to_string();
        assert!(
            text.contains("pid 4242 (sqsnap)") && text.contains("Nothing was changed"),
            "{text}"
        );
        held.unlock().unwrap();
        wait_for_lock(&f, &lock, std::time::Duration::from_millis(300)).unwrap();
    }

    /// Named locks have a stable name (SHA-256 of the key, the same in every build), are
    /// private, and leave no file behind once let go; a waiter that got a deleted one's
    /// lock takes the name again, so two holders never run at once.
    #[test]
    fn named_locks_are_stable_exclusive_and_cleaned_up() {
        let d = tempfile::tempdir().unwrap();
        let s = StateDir::open(d.path()).unwrap();
        let g = s.lock_named("/backups/a.zip").unwrap();
        let names: Vec<String> = std::fs::read_dir(d.path().join("locks"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        // sha256("/backups/a.zip"), first 8 bytes.
        assert_eq!(
            names,
            ["ff77a1a4f14c2ec9.lock"].map(String::from).to_vec(),
            "{names:?}"
        );
        let inside = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (p, inside) = (d.path().to_path_buf(), inside.clone());
                std::thread::spawn(move || {
                    let s = StateDir::open(&p).unwrap();
                    for _ in 0..25 {
                        let _g = s.lock_named("/backups/a.zip").unwrap();
                        assert_eq!(inside.fetch_add(1, std::sync::atomic::Ordering::SeqCst), 0);
                        std::thread::yield_now();
                        inside.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    }
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(50));
        drop(g);
        for t in threads {
            t.join().unwrap();
        }
        // Windows cannot delete a file another handle holds open: there the name stays
        // (one per file ever downloaded) and is taken again by the next holder.
        #[cfg(unix)]
        assert_eq!(
            std::fs::read_dir(d.path().join("locks")).unwrap().count(),
            0
        );
    }
}
