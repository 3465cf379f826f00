//! Integrity checks of a downloaded archive.

use std::io::{Read, Seek};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the file is {actual} bytes but the server said {expected}")]
    Length { expected: u64, actual: u64 },
    #[error("not a readable zip archive: {0}")]
    NotZip(String),
    #[error("entry {entry} is damaged: {detail}")]
    Entry { entry: String, detail: String },
    #[error("cannot read the file: {0}")]
    Io(String),
    /// An encrypted copy that could not be opened or read through: no key, another key, a
    /// damaged or cut file (the words say which and what to do).
    #[error("{0}")]
    Sealed(String),
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub size: u64,
    pub entries: usize,
    /// Every entry was decompressed and its CRC-32 compared.
    pub crc_checked: bool,
}

/// Checks the length (when known) and the central directory; with `full`, also reads every
/// entry, which checks each CRC-32. Blocking: call from a blocking thread.
pub fn verify_zip(
    path: &Path,
    expected_len: Option<u64>,
    full: bool,
) -> Result<Verified, VerifyError> {
    let file = std::fs::File::open(path).map_err(|e| VerifyError::Io(e.to_string()))?;
    let size = file
        .metadata()
        .map_err(|e| VerifyError::Io(e.to_string()))?
        .len();
    if let Some(expected) = expected_len
        && expected != size
    {
        return Err(VerifyError::Length {
            expected,
            actual: size,
        });
    }
    verify_zip_reader(std::io::BufReader::new(file), size, full)
}

/// [`verify_zip`] of a zip read from `reader` (`size` bytes), such as a sealed copy as it is
/// decrypted: nothing is written anywhere.
pub fn verify_zip_reader(
    reader: impl Read + Seek,
    size: u64,
    full: bool,
) -> Result<Verified, VerifyError> {
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| VerifyError::NotZip(e.to_string()))?;
    let entries = zip.len();
    if full {
        let mut buf = vec![0u8; 256 * 1024];
        for i in 0..entries {
            let mut f = zip
                .by_index(i)
                .map_err(|e| VerifyError::NotZip(e.to_string()))?;
            let name = f.name().to_string();
            loop {
                match f.read(&mut buf) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => {
                        return Err(VerifyError::Entry {
                            entry: name,
                            detail: e.to_string(),
                        });
                    }
                }
            }
        }
    }
    Ok(Verified {
        size,
        entries,
        crc_checked: full,
    })
}

/// [`verify_zip`] of an encrypted copy (`….zip.age`), opened with `key` and checked as it is
/// decrypted: the zip's length (`expected_len`, the snapshot's size, when known), its
/// central directory and with `full` every entry's CRC. No plaintext is written anywhere;
/// a chunk that fails age's authentication fails the check. `None` for `key`: this
/// computer has no key for it, said with what to do.
pub fn verify_sealed(
    path: &Path,
    key: Option<&crate::seal::SealIdentity>,
    expected_len: Option<u64>,
    full: bool,
) -> Result<Verified, VerifyError> {
    use std::io::SeekFrom;
    let Some(key) = key else {
        return Err(VerifyError::Sealed(format!(
            "{} is encrypted and this computer has no key to open it. Import the recovery key written for this account (sqsnap key import-recovery FILE), then check it again. The file is unchanged.",
            path.display()
        )));
    };
    let damaged = |e: std::io::Error| {
        VerifyError::Sealed(format!(
            "{} is damaged or cut short ({e}): it failed age's authentication. Use another copy of this version.",
            path.display()
        ))
    };
    let mut r =
        crate::seal::open_reader(path, key).map_err(|e| VerifyError::Sealed(e.to_string()))?;
    let size = r.seek(SeekFrom::End(0)).map_err(damaged)?;
    if let Some(expected) = expected_len
        && expected != size
    {
        return Err(VerifyError::Length {
            expected,
            actual: size,
        });
    }
    r.rewind().map_err(damaged)?;
    let failed = std::cell::RefCell::new(None);
    let watched = Watched {
        inner: r,
        failed: &failed,
    };
    let checked = verify_zip_reader(watched, size, full);
    match (checked, failed.into_inner()) {
        // A chunk that failed authentication reads to the zip as a damaged entry or
        // directory: said as what it is.
        (Err(_), Some(e)) => Err(damaged(e)),
        (checked, _) => checked,
    }
}

/// A reader that remembers the first error its inner reader gave (the decryption's).
struct Watched<'a, R> {
    inner: R,
    failed: &'a std::cell::RefCell<Option<std::io::Error>>,
}

impl<R: Read> Read for Watched<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| self.note(e))
    }
}

impl<R: Seek> Seek for Watched<'_, R> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos).inspect_err(|e| self.note(e))
    }
}

impl<R> Watched<'_, R> {
    fn note(&self, e: &std::io::Error) {
        let mut f = self.failed.borrow_mut();
        if f.is_none() {
            *f = Some(std::io::Error::new(e.kind(), e.to_string()));
        }
    }
}

/// Checks `path` as what it is: an encrypted copy through [`verify_sealed`] (with `key`),
/// a zip through [`verify_zip`]. `expected_len` is the zip's size either way.
pub fn verify_copy(
    path: &Path,
    key: Option<&crate::seal::SealIdentity>,
    expected_len: Option<u64>,
    full: bool,
) -> Result<Verified, VerifyError> {
    if crate::seal::is_sealed_file(path) {
        verify_sealed(path, key, expected_len, full)
    } else {
        verify_zip(path, expected_len, full)
    }
}
