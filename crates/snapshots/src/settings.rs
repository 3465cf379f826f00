//! The user's choices, persisted in the OS app data dir.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The settings' file in an account's folder.
pub const SETTINGS: &str = "settings.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Where snapshots go unless a resource has its own folder.
    pub default_dest: Option<PathBuf>,
    /// Per-resource folders, by resource id.
    pub destinations: BTreeMap<String, PathBuf>,
    /// Retention: keep the newest N files per resource (None: keep all).
    pub keep_last: Option<u32>,
    /// Retention: keep files newer than D days (None: no age limit).
    pub keep_days: Option<u32>,
    /// Closing the window keeps the app in the tray.
    pub close_to_tray: bool,
    /// `en`, `pt-BR` or `es`; None follows the OS.
    pub locale: Option<String>,
    /// Check every zip entry's CRC after a download (reads the file once more).
    pub full_verify: bool,
    /// Saved window geometry.
    pub window: Option<WindowGeometry>,
    /// Notify when a scheduled backup succeeds (failures always notify).
    pub notify_success: bool,
    /// On a metered connection, mirror plans leave snapshots larger than this many MB for
    /// later (None: they download everything).
    pub metered_limit_mb: Option<u64>,
    /// `light` or `dark`; None follows the desktop.
    pub theme: Option<String>,
    /// Most connections per large snapshot, 1 to 8 (None: 4).
    pub connections: Option<u8>,
    /// A total download rate in bytes a second, shared by every connection (None: no limit).
    pub limit_rate: Option<u64>,
    /// Folders whose copies are kept encrypted (`….zip.age`, see `crate::seal`). A settings
    /// file from before this choice reads as "none".
    pub encrypt_folders: BTreeSet<PathBuf>,
    /// That a recovery key was written for the account's encryption key: which key (its
    /// public half) and when. Never the key itself.
    pub recovery_exported: Option<RecoveryExported>,
}

/// A recovery key was written (or imported from) for the encryption key whose public half
/// is `recipient` (`age1…`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryExported {
    pub recipient: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WindowGeometry {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
}

impl Settings {
    /// Most connections per large snapshot, as set or the default, within 1 to 8.
    pub fn connections(&self) -> usize {
        self.connections
            .map(usize::from)
            .unwrap_or(DEFAULT_CONNECTIONS)
            .clamp(1, MAX_CONNECTIONS)
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            default_dest: None,
            destinations: BTreeMap::new(),
            keep_last: None,
            keep_days: None,
            close_to_tray: true,
            locale: None,
            full_verify: false,
            window: None,
            notify_success: false,
            metered_limit_mb: Some(100),
            theme: None,
            connections: None,
            limit_rate: None,
            encrypt_folders: BTreeSet::new(),
            recovery_exported: None,
        }
    }
}

impl Settings {
    /// Brings the user's choices within what the app can do: retention keeps at least one
    /// copy, an unknown locale or theme follows the OS, connections stay within 1 to 8, and
    /// a rate of 0 means no limit. Applied to every save, whoever made it.
    pub fn normalise(&mut self) {
        self.keep_last = self.keep_last.map(|n| n.max(1));
        self.locale = self.locale.take().filter(|l| LOCALES.contains(&l.as_str()));
        self.theme = self.theme.take().filter(|t| THEMES.contains(&t.as_str()));
        self.connections = self.connections.map(|c| c.clamp(1, MAX_CONNECTIONS as u8));
        self.limit_rate = self.limit_rate.filter(|r| *r > 0);
    }

    /// Sets a resource's own folder, or the default one when `resource` is `None`.
    pub fn set_destination(&mut self, resource: Option<String>, dir: PathBuf) {
        match resource {
            Some(id) => {
                self.destinations.insert(id, dir);
            }
            None => self.default_dest = Some(dir),
        }
    }

    /// Whether copies in `dir` are kept encrypted.
    pub fn encrypts(&self, dir: &Path) -> bool {
        self.encrypt_folders.contains(dir)
    }

    /// Turns encryption on or off for the copies made in `dir` from now on (copies already
    /// there stay as they are).
    pub fn set_encrypts(&mut self, dir: &Path, on: bool) {
        if on {
            self.encrypt_folders.insert(dir.to_path_buf());
        } else {
            self.encrypt_folders.remove(dir);
        }
    }

    /// Whether a recovery key was written for the encryption key whose public half is
    /// `recipient`.
    pub fn recovery_exported_for(&self, recipient: &str) -> bool {
        self.recovery_exported
            .as_ref()
            .is_some_and(|r| r.recipient == recipient)
    }

    /// The folder for a resource: its own, else the default.
    pub fn dest_for(&self, resource_id: &str) -> Option<&Path> {
        self.destinations
            .get(resource_id)
            .or(self.default_dest.as_ref())
            .map(PathBuf::as_path)
    }
}

/// The languages the window is translated into.
pub const LOCALES: [&str; 3] = ["en", "pt-BR", "es"];
/// The themes besides following the desktop.
pub const THEMES: [&str; 2] = ["light", "dark"];

/// The default most connections per snapshot, and the most a setting may ask for.
pub const DEFAULT_CONNECTIONS: usize = 4;
pub const MAX_CONNECTIONS: usize = 8;

/// Why a folder cannot be a destination.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FolderError {
    #[error("{0} does not exist. Choose a folder that exists, or plug in the drive it is on.")]
    Missing(PathBuf),
    #[error("{0} is a file, not a folder. Drop or choose a folder.")]
    NotAFolder(PathBuf),
    #[error("{0} cannot be written to ({1}). Choose a folder you own, or change its permissions.")]
    NotWritable(PathBuf, String),
    #[error("Drop a single folder: {0} items were dropped.")]
    Several(usize),
    #[error("Nothing was dropped.")]
    Empty,
}

impl FolderError {
    /// A short stable code the window words the refusal by (its `failedWhy`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing(_) | Self::NotWritable(..) => "folder",
            Self::NotAFolder(_) => "not_a_folder",
            Self::Several(_) => "drop_several",
            Self::Empty => "drop_empty",
        }
    }
}

/// The name the folder check's test files are made from.
const PROBE: &str = "sqsnap-write-test";

/// Checks that `path` is an existing folder we can create files in (by creating one).
pub fn validate_folder(path: &Path) -> Result<PathBuf, FolderError> {
    let meta = std::fs::metadata(path).map_err(|_| FolderError::Missing(path.to_path_buf()))?;
    if !meta.is_dir() {
        return Err(FolderError::NotAFolder(path.to_path_buf()));
    }
    match probe(path) {
        Ok(()) => Ok(crate::names::canonical(path).unwrap_or_else(|_| path.to_path_buf())),
        Err(e) => Err(FolderError::NotWritable(
            path.to_path_buf(),
            e.kind().to_string(),
        )),
    }
}

/// Creates a file in `dir` that nobody sees and nothing leaves behind.
///
/// On Linux the file has no name at all (`O_TMPFILE`): a process killed during the check
/// leaves nothing in the user's folder. Elsewhere, or on a file system without it (FAT,
/// some network mounts), a named test file of its own, created exclusively like the atomic
/// writes' temporary files (several downloads check one folder at once), then deleted; the
/// ones a killed process left are deleted by later checks.
fn probe(dir: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::OpenOptions::new()
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_TMPFILE)
            .open(dir)
        {
            Ok(f) => {
                // Test files of older versions, which always named them, and of killed runs.
                if let Ok(now) = f.metadata().and_then(|m| m.modified()) {
                    crate::store::sweep_left_temps(dir, PROBE, now);
                }
                return Ok(());
            }
            // Not supported here: EOPNOTSUPP from the file system, EISDIR from a kernel
            // without it, EINVAL from some FUSE file systems.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL)
                ) => {}
            Err(e) => return Err(e),
        }
    }
    let (named, _) = crate::store::tempfile_in(dir, &dir.join(PROBE))?;
    let _ = std::fs::remove_file(named);
    Ok(())
}

/// What a drop onto the window may set: exactly one writable folder.
pub fn folder_from_drop(paths: &[PathBuf]) -> Result<PathBuf, FolderError> {
    match paths {
        [] => Err(FolderError::Empty),
        [one] => validate_folder(one),
        many => Err(FolderError::Several(many.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_accept_one_writable_folder_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.txt");
        std::fs::write(&file, "x").unwrap();
        assert!(folder_from_drop(&[dir.path().to_path_buf()]).is_ok());
        assert_eq!(
            folder_from_drop(std::slice::from_ref(&file)),
            Err(FolderError::NotAFolder(file.clone()))
        );
        assert_eq!(
            folder_from_drop(&[dir.path().into(), dir.path().into()]),
            Err(FolderError::Several(2))
        );
        assert_eq!(folder_from_drop(&[]), Err(FolderError::Empty));
        let gone = dir.path().join("gone");
        assert_eq!(
            validate_folder(&gone),
            Err(FolderError::Missing(gone.clone()))
        );
        // Each refusal has the code the window words it by.
        let codes = [
            FolderError::NotAFolder(file),
            FolderError::Several(2),
            FolderError::Empty,
            FolderError::Missing(gone),
        ]
        .map(|e| e.code());
        assert_eq!(
            codes,
            ["not_a_folder", "drop_several", "drop_empty", "folder"]
        );
    }

    /// Downloads started together each check their folder at once: every check passes, and
    /// no test file is left behind.
    #[test]
    fn a_folder_checked_by_many_at_once_is_writable_for_all() {
        let dir = tempfile::tempdir().unwrap();
        std::thread::scope(|s| {
            let checks: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        (0..200)
                            .map(|_| validate_folder(dir.path()))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for c in checks {
                for r in c.join().unwrap() {
                    assert!(r.is_ok(), "{r:?}");
                }
            }
        });
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        // Test file names a crashed run left (with this process's id) are stepped over: by
        // the named test file, which Linux's unnamed one spares (so called directly).
        for n in 0..5 {
            let left = dir
                .path()
                .join(format!(".sqsnap-write-test.{}.{n}.tmp", std::process::id()));
            std::fs::write(left, b"").unwrap();
        }
        assert!(validate_folder(dir.path()).is_ok());
        let (named, _) = crate::store::tempfile_in(dir.path(), &dir.path().join(PROBE)).unwrap();
        assert!(
            named.to_string_lossy().ends_with(".5.tmp"),
            "{}",
            named.display()
        );
    }

    #[test]
    fn per_resource_folder_wins_over_the_default() {
        let mut s = Settings {
            default_dest: Some("/d".into()),
            ..Settings::default()
        };
        s.destinations.insert("r1".into(), "/r1".into());
        assert_eq!(s.dest_for("r1"), Some(Path::new("/r1")));
        assert_eq!(s.dest_for("r2"), Some(Path::new("/d")));
    }

    #[test]
    fn saved_choices_are_brought_within_what_the_app_can_do() {
        let mut s = Settings {
            keep_last: Some(0),
            locale: Some("xx".into()),
            theme: Some("neon".into()),
            connections: Some(40),
            limit_rate: Some(0),
            ..Settings::default()
        };
        s.normalise();
        assert_eq!(s.keep_last, Some(1), "retention never deletes every copy");
        assert_eq!((s.locale, s.theme), (None, None));
        assert_eq!((s.connections, s.limit_rate), (Some(8), None));
        let mut s = Settings {
            keep_last: Some(3),
            locale: Some("pt-BR".into()),
            theme: Some("dark".into()),
            connections: Some(0),
            limit_rate: Some(1000),
            ..Settings::default()
        };
        s.normalise();
        assert_eq!(s.keep_last, Some(3));
        assert_eq!(
            (s.locale.as_deref(), s.theme.as_deref()),
            (Some("pt-BR"), Some("dark"))
        );
        assert_eq!((s.connections, s.limit_rate), (Some(1), Some(1000)));
    }

    #[test]
    fn a_destination_is_a_resources_own_or_the_default() {
        let mut s = Settings::default();
        s.set_destination(Some("a1".into()), PathBuf::from("/a"));
        s.set_destination(None, PathBuf::from("/d"));
        assert_eq!(s.dest_for("a1"), Some(Path::new("/a")));
        assert_eq!(s.dest_for("b2"), Some(Path::new("/d")));
    }

    #[test]
    fn seal_choice_is_per_folder_and_old_files_read_without_it() {
        let old = r#"{"default_dest":"/b","keep_last":3}"#;
        let mut s: Settings = serde_json::from_str(old).unwrap();
        assert!(s.encrypt_folders.is_empty());
        assert!(!s.encrypts(Path::new("/b")));
        s.set_encrypts(Path::new("/b/"), true);
        assert!(s.encrypts(Path::new("/b")));
        assert!(!s.encrypts(Path::new("/b/c")));
        let back: Settings = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert!(back.encrypts(Path::new("/b")));
        s.set_encrypts(Path::new("/b"), false);
        assert!(!s.encrypts(Path::new("/b")));
    }
}
