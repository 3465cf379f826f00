//! Where the API key comes from: the demo's, a key file, the environment, systemd's
//! credentials or the keychain; and the checks a key file must pass first.

use crate::cli::Cli;
use crate::exit::{Fail, Said};
use snapshots::squarecloud::ApiKey;
use std::io::Read;
use std::path::PathBuf;

/// The key's name among systemd's credentials: the unit `plan install-timer` writes says
/// `LoadCredential=squarecloud-api-key:PATH`, and the service finds the key in
/// `$CREDENTIALS_DIRECTORY/squarecloud-api-key`.
pub const CREDENTIAL: &str = "squarecloud-api-key";

/// The key, from the first of: the demo's; `--key-file` (or `SQUARECLOUD_API_KEY_FILE`);
/// `SQUARECLOUD_API_KEY`; systemd's credentials. `None`: the keychain's, which signing in
/// finds under the signed-in account.
pub fn key(cli: &Cli) -> Result<Option<ApiKey>, Fail> {
    #[cfg(feature = "demo")]
    if cli.demo {
        return Ok(Some(snapshots::demo::key()));
    }
    if let Some(path) = &cli.key_file {
        return read_key_file(path, KeySource::File).map(Some);
    }
    if let Some(k) = std::env::var("SQUARECLOUD_API_KEY")
        .ok()
        .and_then(ApiKey::new)
    {
        return Ok(Some(k));
    }
    if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY").filter(|d| !d.is_empty()) {
        let path = PathBuf::from(dir).join(CREDENTIAL);
        if std::fs::symlink_metadata(&path).is_ok() {
            return read_key_file(&path, KeySource::Systemd).map(Some);
        }
    }
    Ok(None)
}

/// No key given and none in the keychain.
pub fn not_signed_in() -> Fail {
    Fail::says(3, |w| w.not_signed_in, &[])
}

#[derive(Clone, Copy, PartialEq)]
pub enum KeySource {
    /// A file the user named: it must be theirs and private.
    File,
    /// systemd's credentials directory: private to the service, its files made by systemd
    /// (owned by root for a system service that runs as another user).
    Systemd,
}

/// Reads a key file. Refused, with what to do, when it is a link, not a plain file, not
/// the user's own or readable or writable by others: a key others can read is no longer
/// secret, and one others can write decides which account the backups use. One line; the
/// line break at its end is not part of the key. The key is never in a message.
pub fn read_key_file(path: &std::path::Path, source: KeySource) -> Result<ApiKey, Fail> {
    let shown = path.display();
    let refuse = |why: Said, args: &[(&str, &dyn std::fmt::Display)]| {
        Fail::says_why(2, |w| w.key_file_refused, &[("path", &shown)], why, args)
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Not through a link; and a FIFO must not hold the open.
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|e| {
        #[cfg(unix)]
        if e.raw_os_error() == Some(libc::ELOOP) {
            return refuse(|w| w.kf_symlink, &[]);
        }
        match e.kind() {
            std::io::ErrorKind::NotFound => refuse(|w| w.kf_missing, &[]),
            std::io::ErrorKind::PermissionDenied => refuse(|w| w.kf_no_read, &[]),
            _ => refuse(|w| w.kf_open, &[("error", &e)]),
        }
    })?;
    let meta = file
        .metadata()
        .map_err(|e| refuse(|w| w.kf_examine, &[("error", &e)]))?;
    if !meta.is_file() {
        return Err(refuse(|w| w.kf_not_plain, &[]));
    }
    #[cfg(unix)]
    if source == KeySource::File {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            return Err(refuse(|w| w.kf_other_user, &[("uid", &meta.uid())]));
        }
        let mode = meta.mode() & 0o777;
        if mode & 0o077 != 0 {
            let mode = format!("{mode:04o}");
            return Err(refuse(|w| w.kf_mode, &[("mode", &mode), ("path", &shown)]));
        }
    }
    let _ = source;
    let mut text = String::new();
    std::io::Read::take(file, 4097)
        .read_to_string(&mut text)
        .map_err(|e| refuse(|w| w.kf_not_text, &[("error", &e)]))?;
    if text.len() > 4096 {
        return Err(refuse(|w| w.kf_too_long, &[]));
    }
    let line = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    if line.contains(['\n', '\r']) {
        return Err(refuse(|w| w.kf_lines, &[]));
    }
    ApiKey::new(line).ok_or_else(|| refuse(|w| w.kf_empty, &[]))
}
