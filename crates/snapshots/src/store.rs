//! Small JSON files written atomically; an unreadable one is kept aside, never lost.

use serde::{Serialize, de::DeserializeOwned};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `value` to `path` through a temporary file, fsync and rename, so a crash leaves
/// either the old file or the new one.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    write_json(path, value, true)
}

/// [`write_json_atomic`], with the fsyncs only when `durable`: a record that may be lost in
/// a power cut (a count of recent calls) is still never read half written.
pub(crate) fn write_json<T: Serialize>(
    path: &Path,
    value: &T,
    durable: bool,
) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    crate::ownfile::create_dir_private(dir)?;
    let mut tmp = tempfile_in(dir, path)?;
    let bytes = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    tmp.1.write_all(&bytes)?;
    if durable {
        tmp.1.sync_all()?;
    }
    drop(tmp.1);
    std::fs::rename(&tmp.0, path)?;
    if durable && let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes text atomically (temporary file, fsync, rename).
pub fn write_text_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile_in(dir, path)?;
    tmp.1.write_all(text.as_bytes())?;
    tmp.1.sync_all()?;
    drop(tmp.1);
    std::fs::rename(&tmp.0, path)
}

/// A new file `.<target's name>.<pid>.<n>.tmp` in `dir`, created exclusively: the first `n`
/// free, so callers at the same moment (threads or processes) never share one. Those a
/// killed process left are deleted on the way ([`sweep_left_temps`]). Readable by its owner
/// alone, and never through a link planted under its name ([`crate::ownfile::create_new`]).
pub(crate) fn tempfile_in(dir: &Path, target: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let base = target
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("state");
    for n in 0..100u32 {
        let p = dir.join(format!(".{base}.{}.{n}.tmp", std::process::id()));
        match crate::ownfile::create_new(&p) {
            Ok(f) => {
                if let Ok(now) = f.metadata().and_then(|m| m.modified()) {
                    sweep_left_temps(dir, base, now);
                }
                return Ok((p, f));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("no free temporary file name"))
}

/// How long a temporary file of a process that is gone is left alone: one of a process in
/// another PID namespace (a container sharing the folder) looks gone too, and no write of
/// ours holds its temporary file this long.
const LEFT_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// How often one folder is looked through for one target's leftovers.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// Deletes the temporary files of `base` that a process killed mid-write left in `dir`:
/// `.<base>.<pid>.<n>.tmp` whose process is gone and that nobody touched for [`LEFT_AFTER`].
/// Nothing else is touched, whatever its name. At most once per [`SWEEP_EVERY`] per folder
/// and target, so frequent writes do not list the folder each time.
///
/// `fs_now`: the modification time of a file just made in `dir`. Ages are measured on the
/// folder's own clock: a network share stamps files with the server's, which may be ahead
/// of or behind this computer's.
pub(crate) fn sweep_left_temps(dir: &Path, base: &str, fs_now: std::time::SystemTime) {
    use std::collections::HashMap;
    use std::hash::{Hash, Hasher};
    use std::sync::{LazyLock, Mutex};
    use std::time::Instant;
    static LAST: LazyLock<Mutex<HashMap<u64, Instant>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));
    // Called on every state write: a hash of the pair, not a copy of the path, is the key.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (dir, base).hash(&mut h);
    {
        let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
        if last
            .get(&h.finish())
            .is_some_and(|t| t.elapsed() < SWEEP_EVERY)
        {
            return;
        }
        last.insert(h.finish(), Instant::now());
    }
    remove_left_temps(dir, base, LEFT_AFTER, fs_now);
}

/// The sweep itself, without the throttle; returns how many files it deleted.
fn remove_left_temps(
    dir: &Path,
    base: &str,
    left_after: std::time::Duration,
    fs_now: std::time::SystemTime,
) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let prefix = format!(".{base}.");
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some((pid, n)) = name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|r| r.strip_suffix(".tmp"))
            .and_then(|r| r.split_once('.'))
        else {
            continue;
        };
        let (Ok(pid), Ok(_)) = (pid.parse::<u32>(), n.parse::<u32>()) else {
            continue;
        };
        let untouched = e
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .and_then(|m| m.modified().ok())
            .and_then(|t| fs_now.duration_since(t).ok())
            .is_some_and(|age| age >= left_after);
        if untouched && !crate::claim::process_alive(pid) && std::fs::remove_file(e.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// What happened when a file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    pub file: PathBuf,
    pub kept_as: PathBuf,
}

impl std::fmt::Display for Recovered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} could not be read, so it was kept as {} and the app started with defaults. \
             Nothing else was changed.",
            self.file.display(),
            self.kept_as.display()
        )
    }
}

/// Reads `path`; a missing file is the default; an unreadable one is renamed aside
/// (`<name>.corrupt-<time>`) and reported.
pub fn read_json_or_default<T: DeserializeOwned + Default>(
    path: &Path,
) -> std::io::Result<(T, Option<Recovered>)> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((T::default(), None)),
        Err(e) => return Err(e),
    };
    match serde_json::from_slice(&bytes) {
        Ok(v) => Ok((v, None)),
        Err(_) => {
            let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
            let kept_as = path.with_file_name(format!(
                "{}.corrupt-{stamp}",
                path.file_name().and_then(|n| n.to_str()).unwrap_or("state")
            ));
            std::fs::rename(path, &kept_as)?;
            Ok((
                T::default(),
                Some(Recovered {
                    file: path.to_path_buf(),
                    kept_as,
                }),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn round_trip_and_corrupt_files_are_kept_aside() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("settings.json");
        let (v, r): (BTreeMap<String, u32>, _) = read_json_or_default(&p).unwrap();
        assert!(v.is_empty() && r.is_none());
        write_json_atomic(&p, &BTreeMap::from([("a".to_string(), 1u32)])).unwrap();
        let (v, _): (BTreeMap<String, u32>, _) = read_json_or_default(&p).unwrap();
        assert_eq!(v["a"], 1);
        std::fs::write(&p, b"{not json").unwrap();
        let (v, r): (BTreeMap<String, u32>, _) = read_json_or_default(&p).unwrap();
        assert!(v.is_empty());
        let r = r.unwrap();
        assert_eq!(std::fs::read(&r.kept_as).unwrap(), b"{not json");
        assert!(!p.exists());
        assert!(r.to_string().contains("kept as"));
        // No temporary files are left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    /// What a killed writer left (its process gone) is deleted once untouched long enough;
    /// a live process's file, another target's, a recent one and look-alike names stay.
    /// Ages are read on the folder's clock (a fresh file's time), not this process's: the
    /// test also passes with the process's clock moved (scripts/time-sweep.sh).
    #[test]
    // A Unix program (`true`) stands for a process that has ended.
    #[cfg(unix)]
    fn leftovers_of_gone_processes_are_swept_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        // A process that has ended: its id is free until reused.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        assert!(!crate::claim::process_alive(gone));
        let me = std::process::id();
        let old = [
            format!(".ledger.json.{gone}.0.tmp"),  // left by a kill: swept
            format!(".ledger.json.{gone}.7.tmp"),  // left by a kill: swept
            format!(".ledger.json.{me}.0.tmp"),    // a live process's write: kept
            format!(".plans.json.{gone}.0.tmp"),   // another target: kept
            format!(".ledger.json.x{gone}.0.tmp"), // not our pattern: kept
            format!(".ledger.json.{gone}.0.tmp.mine"), // not our pattern: kept
            "ledger.json".to_string(),
        ];
        let fresh = format!(".ledger.json.{gone}.1.tmp"); // gone, but too recent: kept
        for n in old.iter().chain([&fresh]) {
            std::fs::write(dir.path().join(n), b"x").unwrap();
        }
        let now = std::fs::metadata(dir.path().join(&fresh))
            .unwrap()
            .modified()
            .unwrap();
        for n in &old {
            let f = std::fs::File::options()
                .write(true)
                .open(dir.path().join(n))
                .unwrap();
            f.set_modified(now - LEFT_AFTER - std::time::Duration::from_secs(1))
                .unwrap();
        }
        assert_eq!(
            remove_left_temps(dir.path(), "ledger.json", LEFT_AFTER, now),
            2
        );
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        let mut want: Vec<String> = old[2..].iter().chain([&fresh]).cloned().collect();
        want.sort();
        assert_eq!(left, want);
    }
}
