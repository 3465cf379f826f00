//! What sqsnap's exit status means: the one table `--help` and the README print, and how an
//! engine error maps onto it.

use snapshots::EngineError;

/// One exit code per meaning; `--help` and the README print this table.
pub const EXIT_CODES: &[(u8, &str)] = &[
    (0, "everything asked for was done"),
    (
        2,
        "usage or configuration (a bad flag, an API address that is not https), or a copy that cannot be put back (a database, over 100 MB, not a whole zip)",
    ),
    (
        3,
        "the API key was refused, or the keychain could not be used",
    ),
    (
        4,
        "the daily quota is used up, or Square Cloud is rate limiting this key",
    ),
    (
        5,
        "network or server trouble; nothing was lost, try again later",
    ),
    (6, "a downloaded file failed its integrity check"),
    (
        7,
        "a local disk or folder problem (missing, not writable, full)",
    ),
    (8, "no such application, database or snapshot"),
    (
        9,
        "not finished yet: the snapshot is still being prepared on Square Cloud, its answer (or a put back's) was lost, or another process is taking it",
    ),
    (130, "cancelled (Ctrl-C, or a question answered no)"),
    (
        141,
        "its output was closed (a pipe into head): it stopped quietly, as other tools do",
    ),
];

pub fn exit_codes_help() -> String {
    let mut s = String::from("Exit codes:\n");
    for (code, meaning) in EXIT_CODES {
        s.push_str(&format!("  {code:>3}  {meaning}\n"));
    }
    s
}

/// The exit code of an engine error.
fn exit_code(code: &str) -> u8 {
    match code {
        "auth" | "offsite_credentials" | "keychain" | "no_key" | "wrong_passphrase" => 3,
        "quota" | "rate_limited" => 4,
        "verify" => 6,
        "disk" | "folder" | "no_destination" | "seal" => 7,
        "not_found" | "offsite_missing" => 8,
        "processing" | "restore_unknown" | "busy" | "commit_unknown" => 9,
        "cancelled" => 130,
        "config" | "insecure" | "unsupported" | "too_large" | "bad_file" | "confirm"
        | "weak_passphrase" | "offsite_config" | "offsite_unknown" | "no_config" | "no_room" => 2,
        _ => 5,
    }
}

/// A command that did not do everything asked: its exit code (one of [`EXIT_CODES`]) and
/// what to tell the person.
pub struct Fail(pub u8, pub String);

impl From<EngineError> for Fail {
    fn from(e: EngineError) -> Self {
        Fail(exit_code(e.code()), e.to_string())
    }
}
