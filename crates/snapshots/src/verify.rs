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
