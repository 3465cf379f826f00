//! Encrypted copies ("sealed"): a zip encrypted with `age` to an X25519 recipient, kept as
//! `<name>.zip.age` and readable by the stock `age` and `rage` tools with the identity.
//!
//! Everything streams through 64 KiB chunks (age's STREAM), so memory stays constant for
//! multi-GiB files. Every file written goes through [`crate::ownfile`]: created `0600`
//! under a temporary name that did not exist (no planted link is followed), fsynced, and
//! only then given its final name with a rename that never replaces anything. A failure at
//! any point (a wrong identity, a truncated or tampered copy, a full disk) removes the
//! temporary file: no half file, and no partial plaintext, ever carries the final name.
//!
//! The identity and the recovery key are in [`identity`]; which folders keep their copies
//! sealed, and whether a recovery key was written, in [`folders`].

pub mod folders;
pub mod identity;

pub use identity::{SealIdentity, SealRecipient};

use crate::ownfile;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read};
use std::path::{Path, PathBuf};

/// The suffix a sealed copy gets after its plain name (`X.zip` → `X.zip.age`).
pub const SEALED_SUFFIX: &str = ".age";

/// The first bytes of every binary age file.
const MAGIC: &[u8] = b"age-encryption.org/v1\n";
/// The first line of an armored (PEM-like) age file.
const ARMOR_MAGIC: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";

/// What [`seal_file`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedInfo {
    /// The size of the sealed file in bytes (the plain size plus about 0.03 % and a header).
    pub size: u64,
}

/// The name a sealed copy of `plain` gets: the same name with [`SEALED_SUFFIX`] appended.
pub fn sealed_name(plain: &Path) -> PathBuf {
    let mut s = plain.as_os_str().to_os_string();
    s.push(SEALED_SUFFIX);
    PathBuf::from(s)
}

/// Whether `path` starts like an age file (binary or armored). A quick presence check; it
/// proves nothing about the rest of the file.
pub fn looks_sealed(path: &Path) -> io::Result<bool> {
    let mut head = [0u8; 34];
    let mut f = File::open(path)?;
    let mut got = 0;
    while got < head.len() {
        match f.read(&mut head[got..])? {
            0 => break,
            n => got += n,
        }
    }
    let head = &head[..got];
    Ok(head.starts_with(MAGIC) || head.starts_with(ARMOR_MAGIC))
}

/// Whether `path` is a regular file that starts like an age file. Anything else (a folder,
/// a named pipe, a device) is not looked into: opening a pipe would wait for a writer.
pub fn is_sealed_file(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file()) && looks_sealed(path).unwrap_or(false)
}

/// Encrypts `plain` to `recipient` into `sealed_out`, which must not exist. Constant memory.
pub fn seal_file(
    plain: &Path,
    sealed_out: &Path,
    recipient: &SealRecipient,
) -> io::Result<SealedInfo> {
    let mut input = BufReader::with_capacity(256 * 1024, File::open(plain)?);
    let size = write_new(sealed_out, |out| {
        let enc = age::Encryptor::with_recipients(std::iter::once(recipient.as_age()))
            .map_err(io::Error::other)?;
        let mut w = enc.wrap_output(out)?;
        io::copy(&mut input, &mut w)?;
        w.finish()?;
        Ok(())
    })?;
    Ok(SealedInfo { size })
}

/// The reader [`open_reader`] returns: the plain bytes as they are decrypted. It also
/// implements `Seek` (age re-decrypts only the 64 KiB chunk it lands in), so a zip check
/// can read a sealed copy's central directory and every entry without writing plaintext.
pub type SealedReader = age::stream::StreamReader<BufReader<File>>;

/// Opens a sealed copy for reading as plain bytes, checked chunk by chunk as they are read.
/// A tampered chunk, or a file cut short, is an error when the reader gets there (never
/// silently short data). Errors say what was wrong in words a person can act on.
pub fn open_reader(sealed: &Path, identity: &SealIdentity) -> io::Result<SealedReader> {
    let input = BufReader::with_capacity(256 * 1024, File::open(sealed)?);
    let dec = age::Decryptor::new_buffered(input).map_err(|e| explain(sealed, e))?;
    dec.decrypt(std::iter::once(identity.as_age()))
        .map_err(|e| explain(sealed, e))
}

/// Decrypts `sealed` into `plain_out`, which must not exist. `plain_out` appears only once
/// every chunk was decrypted and authenticated; otherwise nothing is left. Returns the
/// plain size.
pub fn open_file(sealed: &Path, plain_out: &Path, identity: &SealIdentity) -> io::Result<u64> {
    let mut r = open_reader(sealed, identity)?;
    write_new(plain_out, |out| {
        io::copy(&mut r, out).map_err(|e| explain_io(sealed, e))?;
        Ok(())
    })
}

/// Seals a checked, staged zip as `<zip>.age` beside it, then deletes the plain zip. The
/// sealed copy is complete and on disk (fsynced, renamed, folder synced) before the plain
/// one is removed, so a crash in between leaves at least one whole copy, and the plaintext
/// never outlives the sealed copy's creation by more than that one step. When that name is
/// taken (by anything, a link included), the next free one: `<stem> (2).zip.age`, … —
/// nothing is ever replaced.
pub fn keep_sealed(staged_zip: &Path, recipient: &SealRecipient) -> io::Result<PathBuf> {
    let mut n = 1;
    let out = loop {
        let out = numbered_sealed_name(staged_zip, n);
        if std::fs::symlink_metadata(&out).is_ok() && n < 1000 {
            n += 1;
            continue;
        }
        match seal_file(staged_zip, &out, recipient) {
            Ok(_) => break out,
            // Taken between the look and the write (another process): the next name.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
            Err(e) => return Err(e),
        }
    };
    std::fs::remove_file(staged_zip)?;
    sync_parent(&out)?;
    Ok(out)
}

/// `X.zip.age` for `n` = 1, else `X (n).zip.age`: the sealed names a copy of `X.zip` may
/// take, in order.
fn numbered_sealed_name(plain: &Path, n: u32) -> PathBuf {
    if n <= 1 {
        return sealed_name(plain);
    }
    let stem = plain
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "snapshot".into());
    let ext = plain
        .extension()
        .map(|s| format!(".{}", s.to_string_lossy()))
        .unwrap_or_default();
    sealed_name(&plain.with_file_name(format!("{stem} ({n}){ext}")))
}

/// The folder in the account's state dir where copies are sealed before an upload.
pub const STAGING: &str = "sealing";

/// How old a temporary file left in [`STAGING`] by a killed seal must be before it is
/// removed (a younger one may belong to a seal still running in another process).
const STALE_TEMP: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// A sealed copy of `plain` for an upload, staged in `dir` (`0700`) as `<name>.age`: made
/// once, then found again by the next attempt. A resumed multipart upload therefore sends
/// the rest of the same ciphertext (sealing again would give other bytes of the same size,
/// and the parts of two encryptions must never meet in one object). The caller removes the
/// staged file once the upload is done with it.
pub fn staged_for_upload(
    dir: &Path,
    plain: &Path,
    recipient: &SealRecipient,
) -> io::Result<PathBuf> {
    ownfile::ensure_private_dir(dir)?;
    let name = plain.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file", plain.display()),
        )
    })?;
    let staged = sealed_name(&dir.join(name));
    clear_stale_temps(dir);
    match std::fs::symlink_metadata(&staged) {
        Ok(m) if m.is_file() => return Ok(staged),
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{} is not a regular file; nothing was uploaded",
                    staged.display()
                ),
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    match seal_file(plain, &staged, recipient) {
        Ok(_) => Ok(staged),
        // Another process staged it meanwhile: the same use.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && staged.is_file() => Ok(staged),
        Err(e) => Err(e),
    }
}

/// Removes temporary files a killed seal left in `dir`, once they are a day old.
fn clear_stale_temps(dir: &Path) {
    let Ok(list) = std::fs::read_dir(dir) else {
        return;
    };
    for e in list.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_TEMP);
        if name.starts_with('.') && name.ends_with(".tmp") && old {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Writes a new file at `dest` through a `0600` temporary sibling: `fill` writes the body,
/// then fsync and a no-replace rename. On any error the temporary file is removed. Returns
/// the size written.
pub(crate) fn write_new(
    dest: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> io::Result<u64> {
    // Refuse early (and say why) when the final name is taken, a planted link included.
    if let Ok(m) = std::fs::symlink_metadata(dest) {
        if m.file_type().is_symlink() {
            let why = "is a symbolic link (someone else may have planted it)".to_string();
            let path = dest.to_path_buf();
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                ownfile::Foreign { path, why },
            ));
        }
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} already exists; it was left as it is", dest.display()),
        ));
    }
    let tmp = temp_name(dest);
    let file = ownfile::create_new(&tmp)?;
    let result = (|| {
        let mut w = BufWriter::with_capacity(256 * 1024, file);
        fill(&mut w)?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        let size = f.metadata()?.len();
        drop(f);
        ownfile::rename_new(&tmp, dest)?;
        Ok(size)
    })();
    match result {
        Ok(size) => {
            sync_parent(dest)?;
            Ok(size)
        }
        Err(e) => {
            ownfile::remove_own(&tmp);
            Err(e)
        }
    }
}

/// `.<name>.<random>.tmp` beside `dest`: hidden, unique, never the final name.
fn temp_name(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tag: u64 = rand::random();
    dest.with_file_name(format!(".{name}.{tag:016x}.tmp"))
}

fn sync_parent(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// An age decryption error in words, as an `io::Error`.
fn explain(sealed: &Path, e: age::DecryptError) -> io::Error {
    use age::DecryptError as D;
    let shown = sealed.display();
    let (kind, text) = match e {
        D::NoMatchingKeys => (
            io::ErrorKind::PermissionDenied,
            format!(
                "{shown} was encrypted for another key, not this account's. Import the recovery key it was made with (sqsnap key import-recovery) and try again. The file is unchanged."
            ),
        ),
        D::UnknownFormat | D::InvalidHeader => (
            io::ErrorKind::InvalidData,
            format!("{shown} is not an encrypted copy (no age header), or its header is damaged."),
        ),
        D::Io(e) => return explain_io(sealed, e),
        other => (
            io::ErrorKind::InvalidData,
            format!(
                "{shown} could not be decrypted ({other}): it is damaged or was changed. Use another copy of this version."
            ),
        ),
    };
    io::Error::new(kind, text)
}

/// A read error inside the decrypted stream: age reports a bad or missing chunk as
/// `InvalidData` or `UnexpectedEof`; say what it means.
fn explain_io(sealed: &Path, e: io::Error) -> io::Error {
    match e.kind() {
        io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} is damaged or cut short ({e}): its contents failed the authentication check, so nothing was kept from it. Use another copy of this version.",
                sealed.display()
            ),
        ),
        _ => e,
    }
}
