//! The outbox: where the downloads of a plan that keeps its copies offsite only wait on this
//! computer. It is in the account's own folder (`0700`), never in the user's, with a folder
//! per destination (`outbox/<name>/`). A download there is checked as any other, uploaded
//! by `sync`, and removed once its copy there is checked and recorded; one whose upload
//! fails stays (it may be the only copy) until a later run or sync sends it.

use crate::ownfile::ensure_private_dir;
use std::path::{Path, PathBuf};

/// The outbox's folder in the account's state dir.
pub const OUTBOX: &str = "outbox";

/// The folder a destination's staged copies wait in. Its name is the destination's, with
/// any byte that is not an ASCII letter, digit, `-` or `_` written `%XX` (so `.`, `..` and
/// names no file system takes are safe, and each name has its own folder).
pub fn dir(data_dir: &Path, dest: &str) -> PathBuf {
    data_dir.join(OUTBOX).join(encode(dest))
}

/// [`dir`], made if missing, readable by this user only.
pub fn ensure(data_dir: &Path, dest: &str) -> std::io::Result<PathBuf> {
    ensure_private_dir(&data_dir.join(OUTBOX))?;
    let d = dir(data_dir, dest);
    ensure_private_dir(&d)?;
    Ok(d)
}

/// The destination whose outbox folder `folder` is (`None`: not an outbox folder of the
/// account whose state dir is `data_dir`). Both are compared as the file system resolves
/// them.
pub fn dest_of(data_dir: &Path, folder: &Path) -> Option<String> {
    let root = std::fs::canonicalize(data_dir.join(OUTBOX)).ok()?;
    let folder = std::fs::canonicalize(folder).ok()?;
    if folder.parent()? != root {
        return None;
    }
    decode(folder.file_name()?.to_str()?)
}

fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode(s: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(s.len());
    let mut it = s.bytes();
    while let Some(b) = it.next() {
        if b == b'%' {
            let hex = [it.next()?, it.next()?];
            bytes.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            bytes.push(b);
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_destination_has_its_own_safe_folder() {
        for name in ["b2", "my.s3", "..", ".", "a b", "Ç%ã", "x\\y", "CON"] {
            let e = encode(name);
            assert!(
                e.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_%".contains(&b)),
                "{e}"
            );
            assert_eq!(decode(&e).as_deref(), Some(name));
        }
        assert_eq!(encode("b2"), "b2");
        assert_ne!(encode("a.b"), encode("a%2Eb"));
    }

    #[cfg(unix)]
    #[test]
    fn the_outbox_is_private_and_known_by_its_place() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let data = d.path().join("acct");
        std::fs::create_dir(&data).unwrap();
        let b = ensure(&data, "my.b2").unwrap();
        for f in [data.join(OUTBOX), b.clone()] {
            let mode = std::fs::metadata(&f).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "{}", f.display());
        }
        assert_eq!(dest_of(&data, &b).as_deref(), Some("my.b2"));
        // Through another spelling of the same folder.
        let other = data.join(OUTBOX).join("..").join(OUTBOX).join("my%2Eb2");
        assert_eq!(dest_of(&data, &other).as_deref(), Some("my.b2"));
        // The user's folders, and the outbox itself, are not a destination's.
        assert_eq!(dest_of(&data, d.path()), None);
        assert_eq!(dest_of(&data, &data.join(OUTBOX)), None);
        let user = d.path().join(OUTBOX).join("b2");
        std::fs::create_dir_all(&user).unwrap();
        assert_eq!(dest_of(&data, &user), None);
    }
}
