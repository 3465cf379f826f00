//! Files and folders the engine creates: readable by their owner alone, and never written
//! through a name someone else planted.
//!
//! Backups hold source code, `.env` files and database dumps, and the folders they go to may
//! be shared (a world-writable `/srv/backups`, a home others can list). So every file the
//! engine makes is created `0600` and every folder `0700` (on Windows, an access list of its
//! own granting the user and SYSTEM alone: [`windows`]); a new file is created exclusively
//! without following a symbolic link (`O_CREAT | O_EXCL | O_NOFOLLOW`), and an existing one
//! (a `.part` to resume, a sidecar, a lock) is opened without following a link and then
//! checked: a regular file, owned by this user, with no other name. Anything else is refused
//! with [`Foreign`], which says what was found; the file is left as it is.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

#[cfg(windows)]
mod windows;

/// Why a file in our place was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path} {why}, so nothing was written to it")]
pub struct Foreign {
    pub path: std::path::PathBuf,
    pub why: String,
}

impl Foreign {
    /// The refusal inside an I/O error, if that is what `e` is.
    pub fn of(e: &io::Error) -> Option<&Foreign> {
        e.get_ref().and_then(|r| r.downcast_ref::<Foreign>())
    }
}

fn refuse(path: &Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        Foreign {
            path: path.to_path_buf(),
            why: why.to_string(),
        },
    )
}

/// How an existing file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Append,
}

fn options(access: Access) -> OpenOptions {
    let mut o = OpenOptions::new();
    match access {
        Access::Read => o.read(true),
        Access::Write => o.read(true).write(true),
        Access::Append => o.append(true),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK: a named pipe planted under our name must not hold the open forever
        // (it then fails, or opens and is refused as no regular file); a regular file
        // ignores it.
        o.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK);
    }
    o
}

/// Creates `path`, which must not exist in any form (a dangling link counts), readable and
/// writable by its owner alone (on Windows, by its owner and SYSTEM).
pub fn create_new(path: &Path) -> io::Result<File> {
    #[cfg(windows)]
    let made = windows::create_new(path);
    #[cfg(not(windows))]
    let made = {
        let mut o = options(Access::Write);
        o.create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        o.open(path)
    };
    made.map_err(|e| explain(path, e))
}

/// Opens an existing file of ours: not a link, a regular file, this user's, one name only.
/// A file made by an older version with wider permissions is narrowed to `0600`.
pub fn open_own(path: &Path, access: Access) -> io::Result<File> {
    let f = options(access).open(path).map_err(|e| explain(path, e))?;
    check_own(path, &f)?;
    Ok(f)
}

/// Opens our existing file, or creates it when there is none.
pub fn open_or_create(path: &Path, access: Access) -> io::Result<File> {
    // Another process may create or delete the name between two steps (a lock file is
    // deleted by its holder as it lets go): look again, a bounded number of times.
    let mut last = None;
    for _ in 0..100 {
        match open_own(path, access) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => match create_new(path) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                other => return other,
            },
            other => return other,
        }
    }
    Err(last.unwrap_or_else(|| io::Error::from(io::ErrorKind::AlreadyExists)))
}

/// The whole content of our existing file (see [`open_own`]).
pub fn read_own(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut f = open_own(path, Access::Read)?;
    let mut out = Vec::new();
    f.read_to_end(&mut out)?;
    Ok(out)
}

/// `O_NOFOLLOW` fails with `ELOOP` on a link: say so in words.
fn explain(path: &Path, e: io::Error) -> io::Error {
    #[cfg(unix)]
    if e.raw_os_error() == Some(libc::ELOOP) {
        return refuse(path, "is a symbolic link (someone may have planted it)");
    }
    #[cfg(unix)]
    if matches!(e.raw_os_error(), Some(libc::ENXIO | libc::EISDIR)) {
        return refuse(path, "is not a regular file");
    }
    let _ = path;
    e
}

#[cfg(unix)]
fn check_own(path: &Path, f: &File) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let m = f.metadata()?;
    if !m.file_type().is_file() {
        return Err(refuse(path, "is not a regular file"));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if m.uid() != me {
        return Err(refuse(
            path,
            &format!("belongs to another user (uid {})", m.uid()),
        ));
    }
    if m.nlink() > 1 {
        return Err(refuse(
            path,
            "has another name elsewhere (a hard link someone may have planted)",
        ));
    }
    if m.mode() & 0o077 != 0 {
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_own(path: &Path, f: &File) -> io::Result<()> {
    let m = f.metadata()?;
    if !m.file_type().is_file() {
        return Err(refuse(path, "is not a regular file"));
    }
    Ok(())
}

/// Deletes `path` if it is a file of ours (see [`open_own`]); anything else under that name
/// is left as it is. Whether something was deleted.
pub fn remove_own(path: &Path) -> bool {
    let Ok(m) = std::fs::symlink_metadata(path) else {
        return false;
    };
    if !m.file_type().is_file() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: as above.
        if m.uid() != unsafe { libc::geteuid() } || m.nlink() > 1 {
            return false;
        }
    }
    std::fs::remove_file(path).is_ok()
}

/// Creates `dir` and any missing parents, each new one `0700` (on Windows, the private access
/// list). Folders that exist keep their permissions (a destination is the user's to share or
/// not).
pub fn create_dir_private(dir: &Path) -> io::Result<()> {
    #[cfg(windows)]
    return windows::create_dir_all(dir);
    #[cfg(not(windows))]
    {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(dir)
    }
}

/// A folder of the engine's own (the data dir and those in it): created `0700`, or narrowed
/// to `0700` when it exists, is this user's and lets others in (made by an older version).
/// On Windows a new one gets the private access list and one that exists is left as it is
/// (the data dir is in the profile, whose access, the user's alone, it inherits).
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    create_dir_private(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let m = std::fs::symlink_metadata(dir)?;
        // SAFETY: as above.
        let me = unsafe { libc::geteuid() };
        if m.is_dir() && m.uid() == me && m.mode() & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(())
}

/// Gives `from` the name `to` only if no file of any kind has that name: never over
/// another file, and never through a planted link.
pub fn rename_new(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| {
            CString::new(p.as_os_str().as_bytes())
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL in a path"))
        };
        let (a, b) = (c(from)?, c(to)?);
        // SAFETY: two valid NUL-terminated paths, AT_FDCWD for both.
        let r = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                a.as_ptr(),
                libc::AT_FDCWD,
                b.as_ptr(),
                libc::RENAME_NOREPLACE,
            )
        };
        if r == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        // Not every file system has it (some network and FUSE ones): the portable way below.
        if !matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) {
            return Err(e);
        }
    }
    // A hard link fails when the name is taken, whatever is there; then the old name goes.
    match std::fs::hard_link(from, to) {
        Ok(()) => std::fs::remove_file(from),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(_) => {
            // No hard links here (FAT, some shares): a plain rename, after a last look.
            if std::fs::symlink_metadata(to).is_ok() {
                return Err(io::Error::from(io::ErrorKind::AlreadyExists));
            }
            std::fs::rename(from, to)
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

    #[test]
    fn new_files_and_folders_are_private_whatever_the_umask() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a.zip.part");
        create_new(&f).unwrap();
        assert_eq!(std::fs::metadata(&f).unwrap().mode() & 0o777, 0o600);
        let sub = d.path().join("x/y");
        create_dir_private(&sub).unwrap();
        assert_eq!(std::fs::metadata(&sub).unwrap().mode() & 0o777, 0o700);
        assert_eq!(
            std::fs::metadata(d.path().join("x")).unwrap().mode() & 0o777,
            0o700
        );
    }

    #[test]
    fn a_planted_link_is_refused_and_its_target_untouched() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let planted = d.path().join("a.zip.part");
        symlink(&victim, &planted).unwrap();
        for e in [
            create_new(&planted).unwrap_err(),
            open_own(&planted, Access::Append).unwrap_err(),
            open_or_create(&planted, Access::Write).unwrap_err(),
        ] {
            let f = Foreign::of(&e).map(|f| f.why.clone()).unwrap_or_default();
            assert!(
                f.contains("symbolic link") || e.kind() == io::ErrorKind::AlreadyExists,
                "{e}"
            );
        }
        // A named pipe under our name neither blocks nor is written to.
        let fifo = d.path().join("c.zip.part");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        for access in [Access::Append, Access::Write, Access::Read] {
            let e = open_own(&fifo, access).unwrap_err();
            assert!(
                Foreign::of(&e).unwrap().why.contains("not a regular file"),
                "{e}"
            );
        }
        // A dangling link is refused too (O_EXCL does not follow it).
        let dangling = d.path().join("b.zip.part");
        symlink(d.path().join("nowhere"), &dangling).unwrap();
        assert!(create_new(&dangling).is_err());
        assert!(!d.path().join("nowhere").exists());
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    }

    #[test]
    fn a_hard_link_or_another_users_file_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let planted = d.path().join("a.zip.part");
        std::fs::hard_link(&victim, &planted).unwrap();
        let e = open_own(&planted, Access::Append).unwrap_err();
        assert!(Foreign::of(&e).unwrap().why.contains("another name"), "{e}");
        // Another user's file: only root can make one here.
        // SAFETY: no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            let theirs = d.path().join("c.zip.part");
            std::fs::write(&theirs, b"x").unwrap();
            std::os::unix::fs::chown(&theirs, Some(65534), None).unwrap();
            let e = open_own(&theirs, Access::Write).unwrap_err();
            assert!(Foreign::of(&e).unwrap().why.contains("another user"), "{e}");
        }
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    }

    #[test]
    fn an_older_wide_file_of_ours_is_narrowed() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a.zip.part");
        std::fs::write(&f, b"x").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        open_own(&f, Access::Append).unwrap();
        assert_eq!(std::fs::metadata(&f).unwrap().mode() & 0o777, 0o600);
    }

    #[test]
    fn rename_never_replaces_anything() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        std::fs::write(&a, b"new").unwrap();
        std::fs::write(&b, b"old").unwrap();
        assert!(rename_new(&a, &b).is_err());
        assert_eq!(std::fs::read(&b).unwrap(), b"old");
        std::fs::remove_file(&b).unwrap();
        symlink(d.path().join("elsewhere"), &b).unwrap();
        assert!(
            rename_new(&a, &b).is_err(),
            "a dangling link keeps its name"
        );
        assert!(!d.path().join("elsewhere").exists());
        std::fs::remove_file(&b).unwrap();
        rename_new(&a, &b).unwrap();
        assert_eq!(std::fs::read(&b).unwrap(), b"new");
        assert!(!a.exists());
    }
}
