//! Small JSON files written atomically; an unreadable one is kept aside, never lost.

use serde::{Serialize, de::DeserializeOwned};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `value` to `path` through a temporary file, fsync and rename, so a crash leaves
/// either the old file or the new one.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile_in(dir, path)?;
    let bytes = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    tmp.1.write_all(&bytes)?;
    tmp.1.sync_all()?;
    drop(tmp.1);
    std::fs::rename(&tmp.0, path)?;
    if let Ok(d) = std::fs::File::open(dir) {
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
/// free, so callers at the same moment (threads or processes) never share one.
pub(crate) fn tempfile_in(dir: &Path, target: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let base = target
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("state");
    for n in 0..100u32 {
        let p = dir.join(format!(".{base}.{}.{n}.tmp", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&p)
        {
            Ok(f) => return Ok((p, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("no free temporary file name"))
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
}
