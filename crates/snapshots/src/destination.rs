//! Where a copy lives. A download is written and checked in a folder on this computer (its
//! stage); a destination then keeps it and answers for it afterwards: is the copy still
//! there and whole, and delete it when retention says so. The library records each copy
//! as a [`Copy`] (which destination, where in it), so a second kind of destination is a new
//! implementation of [`Destination`], not a change to the download, the library or
//! retention. Two kinds: a folder on this computer (here, synchronous: the library and
//! retention ask under the data dir's lock), and an S3-compatible bucket (`offsite`), whose
//! answers are network calls and so asynchronous (`offsite::copies::BucketCopies`); a
//! bucket's copy is written by an upload after the local copy is kept and checked.

use crate::seal::SealRecipient;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The kind of destination a copy is in, as the library records it.
pub const LOCAL: &str = "local";

/// One copy of a snapshot: the kind of destination and where in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Copy {
    /// [`Destination::kind`] of the destination that holds it.
    pub kind: String,
    /// Where the copy is in that destination (for a local folder: the file's path).
    pub at: String,
}

impl Copy {
    /// A copy in a folder on this computer.
    pub fn local(path: &Path) -> Self {
        Self {
            kind: LOCAL.into(),
            at: path.to_string_lossy().into_owned(),
        }
    }

    /// The file, when the copy is on this computer.
    pub fn local_path(&self) -> Option<PathBuf> {
        (self.kind == LOCAL).then(|| PathBuf::from(&self.at))
    }
}

/// What a destination can say of a copy it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// There, with this many bytes.
    Present(u64),
    /// Not there (deleted, moved, an unplugged drive).
    Missing,
}

/// A place copies are kept: it also answers for them ([`Copies`]).
pub trait Destination: Copies {
    /// The kind recorded in each [`Copy`] it holds.
    fn kind(&self) -> &'static str;
    /// The folder on this computer a download is written and checked in before
    /// [`Destination::keep`]; for a local folder, the folder itself.
    fn stage(&self) -> &Path;
    /// Keeps the finished, checked archive at `staged` (in [`Destination::stage`]) and says
    /// where the copy is.
    fn keep(&self, staged: &Path) -> std::io::Result<Copy>;
}

/// A folder on this computer; one that encrypts keeps each copy sealed (`….zip.age`).
#[derive(Debug, Clone)]
pub struct LocalFolder {
    dir: PathBuf,
    seal_to: Option<SealRecipient>,
}

impl LocalFolder {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            seal_to: None,
        }
    }

    /// Copies kept here are sealed to `recipient` (the folder encrypts): the checked zip
    /// becomes `….zip.age` and the plain zip is removed.
    pub fn sealed_to(mut self, recipient: SealRecipient) -> Self {
        self.seal_to = Some(recipient);
        self
    }
}

impl Destination for LocalFolder {
    fn kind(&self) -> &'static str {
        LOCAL
    }

    fn stage(&self) -> &Path {
        &self.dir
    }

    fn keep(&self, staged: &Path) -> std::io::Result<Copy> {
        let Some(recipient) = &self.seal_to else {
            // Written, checked and renamed in this very folder: it is kept where it is.
            return Ok(Copy::local(staged));
        };
        match crate::seal::keep_sealed(staged, recipient) {
            Ok(sealed) => Ok(Copy::local(&sealed)),
            Err(e) => {
                // A folder that encrypts never keeps a plain copy: the zip goes too (the
                // snapshot is still on Square Cloud, to be downloaded again).
                crate::ownfile::remove_own(staged);
                Err(e)
            }
        }
    }
}

impl Copies for LocalFolder {
    fn presence(&self, copy: &Copy) -> Presence {
        local_presence(copy)
    }

    fn reads(&self, copy: &Copy, size: u64) -> bool {
        local_reads(copy, size)
    }

    fn delete(&self, copy: &Copy) -> std::io::Result<bool> {
        local_delete(copy)
    }
}

fn local_presence(copy: &Copy) -> Presence {
    match copy.local_path().map(std::fs::symlink_metadata) {
        Some(Ok(m)) if m.is_file() => Presence::Present(m.len()),
        _ => Presence::Missing,
    }
}

fn local_reads(copy: &Copy, size: u64) -> bool {
    let Some(p) = copy.local_path() else {
        return false;
    };
    if crate::seal::is_sealed_file(&p) {
        // Sealed: what can be told without the key is its length and its age header
        // (a full check, `verify`, opens it with the key).
        return local_presence(copy) == Presence::Present(size);
    }
    crate::verify::verify_zip(&p, Some(size), false).is_ok()
}

fn local_delete(copy: &Copy) -> std::io::Result<bool> {
    let Some(p) = copy.local_path() else {
        return Ok(false);
    };
    match std::fs::remove_file(&p) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Answers for copies by their kind, wherever they were kept: what retention and the
/// library's checks go through.
pub trait Copies: Send + Sync {
    /// Whether the copy is there, and its size.
    fn presence(&self, copy: &Copy) -> Presence;
    /// Whether the copy still reads as an archive of `size` bytes on disk (a quick check:
    /// its length and central directory; for a sealed copy, its length and age header).
    fn reads(&self, copy: &Copy, size: u64) -> bool;
    /// Deletes a copy this app made. `Ok(false)`: nothing of ours was there to delete.
    fn delete(&self, copy: &Copy) -> std::io::Result<bool>;
}

/// The destinations this build knows: folders on this computer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Known;

impl Copies for Known {
    fn presence(&self, copy: &Copy) -> Presence {
        match copy.kind.as_str() {
            LOCAL => local_presence(copy),
            // A kind this build does not know (written by a newer one): not here to judge.
            _ => Presence::Missing,
        }
    }

    fn reads(&self, copy: &Copy, size: u64) -> bool {
        copy.kind == LOCAL && local_reads(copy, size)
    }

    fn delete(&self, copy: &Copy) -> std::io::Result<bool> {
        match copy.kind.as_str() {
            LOCAL => local_delete(copy),
            _ => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_copy_is_kept_where_it_was_checked_and_answered_for() {
        let d = tempfile::tempdir().unwrap();
        let dest = LocalFolder::new(d.path());
        assert_eq!(dest.stage(), d.path());
        let file = d.path().join("a.zip");
        std::fs::write(&file, b"not a zip").unwrap();
        let copy = dest.keep(&file).unwrap();
        assert_eq!(copy, Copy::local(&file));
        assert_eq!(copy.local_path(), Some(file.clone()));
        assert_eq!(dest.presence(&copy), Presence::Present(9));
        assert!(!dest.reads(&copy, 9), "not an archive");
        assert!(dest.delete(&copy).unwrap());
        assert_eq!(dest.presence(&copy), Presence::Missing);
        assert!(!dest.delete(&copy).unwrap());
    }

    /// A folder that encrypts keeps `….zip.age` only, under the next free name when its
    /// own is taken (never over anything), and answers for it by its length and header.
    #[test]
    fn a_folder_that_encrypts_keeps_the_copy_sealed_and_no_plain_zip() {
        let d = tempfile::tempdir().unwrap();
        let key = crate::seal::SealIdentity::generate();
        let dest = LocalFolder::new(d.path()).sealed_to(key.recipient());
        let file = d.path().join("a.zip");
        std::fs::write(&file, vec![7u8; 100_000]).unwrap();
        let taken = d.path().join("a.zip.age");
        std::fs::write(&taken, b"someone else's").unwrap();
        let copy = dest.keep(&file).unwrap();
        let sealed = d.path().join("a (2).zip.age");
        assert_eq!(copy.local_path(), Some(sealed.clone()));
        assert!(!file.exists(), "the plain zip is gone");
        assert_eq!(std::fs::read(&taken).unwrap(), b"someone else's");
        let len = std::fs::metadata(&sealed).unwrap().len();
        assert!(len > 100_000);
        assert_eq!(Known.presence(&copy), Presence::Present(len));
        assert!(Known.reads(&copy, len));
        assert!(!Known.reads(&copy, len + 1));
        let mut r = crate::seal::open_reader(&sealed, &key).unwrap();
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut r, &mut back).unwrap();
        assert_eq!(back, vec![7u8; 100_000]);
        // Nothing to seal: an error, and no plain file is left either.
        let gone = d.path().join("b.zip");
        assert!(dest.keep(&gone).is_err());
        assert!(!d.path().join("b.zip.age").exists());
    }

    #[test]
    fn a_copy_of_an_unknown_kind_is_never_touched() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("a.zip");
        std::fs::write(&file, b"x").unwrap();
        let copy = Copy {
            kind: "s3".into(),
            at: file.to_string_lossy().into_owned(),
        };
        assert_eq!(Known.presence(&copy), Presence::Missing);
        assert!(!Known.delete(&copy).unwrap());
        assert!(file.exists());
        assert_eq!(copy.local_path(), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_link_is_not_a_copy() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("elsewhere");
        std::fs::create_dir(&target).unwrap();
        let link = d.path().join("a.zip");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(Known.presence(&Copy::local(&link)), Presence::Missing);
    }
}
