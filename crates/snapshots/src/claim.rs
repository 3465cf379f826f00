//! Who holds a claim recorded in a state file, told by an OS file lock rather than a pid.
//!
//! A record such as "plan nightly is being run" or "a create for this resource is in
//! flight" must name its holder in a way that dies with it. A pid does not: after a reboot
//! (or simply later) another process may have the same one, this process's own pid is
//! "alive" while it no longer runs the work (a cancelled run), and off Linux there is no
//! cheap way to ask at all. A [`Holder`] is a lock file under `<data dir>/claims/`, created
//! `0600` and locked (`flock` on Unix, `LockFileEx` on Windows) for as long as the holder
//! value lives. The OS lets go of the lock when the process ends however it ends (`kill -9`
//! included), and [`Holder`]'s `Drop` lets go of it when the work stops (cancelled or done).
//! So a claim whose lock can be taken is stale on every OS, whatever pid it names.
//!
//! Use: create a [`Holder`] before writing the record, store [`Holder::token`] in the record
//! (under the data dir's lock), keep the value while the work runs, and drop it after the
//! record is cleared (or leave the record for a later run to take over). Anyone reading the
//! record asks [`held`] with the stored token.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// The folder of the lock files, under the data dir.
const DIR: &str = "claims";

/// A claim's lock, held until dropped. Its token names it in state files.
#[derive(Debug)]
pub(crate) struct Holder {
    token: String,
    file: File,
    path: PathBuf,
}

impl Holder {
    /// Creates and locks a new lock file under `data_dir/claims/` with a fresh token.
    pub(crate) fn acquire(data_dir: &Path) -> io::Result<Holder> {
        let dir = data_dir.join(DIR);
        crate::ownfile::ensure_private_dir(&dir)?;
        loop {
            let token = format!("{}-{:016x}", std::process::id(), rand::random::<u64>());
            let path = dir.join(format!("{token}.lock"));
            let file = match crate::ownfile::create_new(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            };
            // Nobody else knows this name yet: the lock is ours at once.
            file.lock()?;
            return Ok(Holder { token, file, path });
        }
    }

    /// The name to store in a record: [`held`] with it says whether this value still lives.
    pub(crate) fn token(&self) -> &str {
        &self.token
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        // Deleted while still locked, so a reader never finds the name unlocked and ours.
        // (Windows does not delete an open file: there the reader deletes it once stale.)
        #[cfg(unix)]
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
        #[cfg(not(unix))]
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether process `pid` of this machine still runs (itself; any process where this cannot
/// be told, off Linux, counts as running: what it holds is never taken from it). Only for
/// records that name no [`Holder`] (older versions', and temporary files named by pid).
pub(crate) fn process_alive(pid: u32) -> bool {
    pid == std::process::id()
        || !cfg!(target_os = "linux")
        || Path::new("/proc").join(pid.to_string()).exists()
}

/// A token as [`Holder::acquire`] makes them; anything else read from a file is refused
/// before it becomes part of a path.
fn well_formed(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 64
        && token.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// Whether the [`Holder`] named `token` still lives, in this process or another one. A
/// token with no lock file, or whose lock can be taken, belongs to work that stopped (its
/// leftover file is removed). Where locking itself fails, the claim counts as held: what
/// someone may still be doing is never taken from them.
pub(crate) fn held(data_dir: &Path, token: &str) -> bool {
    if !well_formed(token) {
        return false;
    }
    let path = data_dir.join(DIR).join(format!("{token}.lock"));
    let file = match crate::ownfile::open_own(&path, crate::ownfile::Access::Write) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return false,
        // Not ours (a planted link, another user's file): it proves nothing about a holder.
        Err(e) if crate::ownfile::Foreign::of(&e).is_some() => return false,
        Err(_) => return true,
    };
    match file.try_lock() {
        Ok(()) => {
            // Stale: its holder is gone. Tidy the leftover (a Windows holder cannot).
            let _ = std::fs::remove_file(&path);
            let _ = file.unlock();
            false
        }
        Err(std::fs::TryLockError::WouldBlock) => true,
        Err(std::fs::TryLockError::Error(_)) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_holder_is_held_and_a_dropped_one_is_not() {
        let d = tempfile::tempdir().unwrap();
        let h = Holder::acquire(d.path()).unwrap();
        let token = h.token().to_string();
        assert!(token.starts_with(&format!("{}-", std::process::id())));
        // Asked from this same process, through another handle: still held.
        assert!(held(d.path(), &token));
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let p = d.path().join(DIR).join(format!("{token}.lock"));
            assert_eq!(std::fs::metadata(&p).unwrap().mode() & 0o777, 0o600);
        }
        drop(h);
        assert!(!held(d.path(), &token));
        assert_eq!(std::fs::read_dir(d.path().join(DIR)).unwrap().count(), 0);
    }

    #[test]
    fn a_leftover_unlocked_file_is_stale_and_odd_tokens_are_refused() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join(DIR)).unwrap();
        let p = d.path().join(DIR).join("123-00ff.lock");
        std::fs::write(&p, b"").unwrap();
        assert!(!held(d.path(), "123-00ff"), "nobody holds it");
        assert!(!p.exists(), "tidied");
        assert!(!held(d.path(), "../../etc/passwd"));
        assert!(!held(d.path(), ""));
        // Held from another handle: respected.
        std::fs::write(&p, b"").unwrap();
        let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        f.lock().unwrap();
        assert!(held(d.path(), "123-00ff"));
        f.unlock().unwrap();
        assert!(!held(d.path(), "123-00ff"));
    }
}
