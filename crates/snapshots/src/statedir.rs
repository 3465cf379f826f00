//! The data dir that several processes share (the app, `sqsnap` from cron or a timer).
//! Every read-modify-write of a state file happens under one OS file lock on the dir,
//! reloading first, so no process's change is lost to another's whole-file write.

use crate::store::{Recovered, read_json_or_default, write_json_atomic};
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
    /// Creates the dir when missing.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
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
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join(".lock"))?;
        file.lock()?;
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
        let _g = self.lock()?;
        let path = self.dir.join(name);
        let mut value: T = self.load(name)?;
        let before = serde_json::to_vec(&value).map_err(std::io::Error::other)?;
        let out = f(&mut value);
        let after = serde_json::to_vec(&value).map_err(std::io::Error::other)?;
        if before != after || !path.exists() {
            write_json_atomic(&path, &value)?;
        }
        Ok(out)
    }

    /// Holds an exclusive lock named after `key` (a file to be written) until the returned
    /// file is dropped, waiting for another process that holds it. The lock files live in
    /// the data dir, never in the user's folders.
    pub fn lock_named(&self, key: &str) -> std::io::Result<File> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        let dir = self.dir.join("locks");
        std::fs::create_dir_all(&dir)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(format!("{:016x}.lock", h.finish())))?;
        file.lock()?;
        Ok(file)
    }

    /// State files found unreadable since the last call, each kept aside under a new name.
    pub fn take_recovered(&self) -> Vec<Recovered> {
        std::mem::take(&mut *self.recovered.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Whether process `pid` of this machine still runs (itself; any process where this cannot
/// be told, off Linux, counts as running: what it holds is never taken from it).
pub(crate) fn process_alive(pid: u32) -> bool {
    pid == std::process::id()
        || !cfg!(target_os = "linux")
        || Path::new("/proc").join(pid.to_string()).exists()
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
}
