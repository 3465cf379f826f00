//! Where the API key comes from: the demo's, a key file, the environment, systemd's
//! credentials or the keychain; and the checks a key file must pass first.

use crate::cli::Cli;
use crate::exit::Fail;
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
    Fail(
        3,
        "Not signed in. Run `sqsnap login` to keep the key in the keychain; on a server without one, put it in a file only you can read and pass --key-file PATH (or set SQUARECLOUD_API_KEY_FILE).".into(),
    )
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
    let refuse = |why: String| {
        Fail(
            2,
            format!("The API key file {shown} was not used: {why} Nothing was sent."),
        )
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
            return refuse("it is a symbolic link, and sqsnap reads a key only from the file itself (a link can be turned to another file). Give the path of the file the link points to.".into());
        }
        match e.kind() {
            std::io::ErrorKind::NotFound => refuse("there is no such file.".into()),
            std::io::ErrorKind::PermissionDenied => {
                refuse("this user may not read it.".into())
            }
            _ => refuse(format!("it cannot be opened ({e}).")),
        }
    })?;
    let meta = file
        .metadata()
        .map_err(|e| refuse(format!("it cannot be examined ({e}).")))?;
    if !meta.is_file() {
        return Err(refuse("it is not a plain file.".into()));
    }
    #[cfg(unix)]
    if source == KeySource::File {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            return Err(refuse(format!(
                "it belongs to another user (uid {}), who can change or read it. Keep the key in a file of your own: `install -m 600 /dev/null NEW_PATH`, then paste the key into it.",
                meta.uid()
            )));
        }
        let mode = meta.mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(refuse(format!(
                "others can read or change it (mode {mode:04o}). Make it yours alone with `chmod 600 {shown}`; since others could read it, think about replacing the key on Square Cloud (Account → Security)."
            )));
        }
    }
    let _ = source;
    let mut text = String::new();
    std::io::Read::take(file, 4097)
        .read_to_string(&mut text)
        .map_err(|e| refuse(format!("it cannot be read as text ({e}).")))?;
    if text.len() > 4096 {
        return Err(refuse("it is far too long to be an API key.".into()));
    }
    let line = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    if line.contains(['\n', '\r']) {
        return Err(refuse(
            "it holds more than one line; it must hold the key alone.".into(),
        ));
    }
    ApiKey::new(line).ok_or_else(|| refuse("it is empty.".into()))
}
