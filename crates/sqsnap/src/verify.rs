//! `sqsnap verify`: downloaded archives checked (length, central directory, every CRC),
//! and the result recorded in the library. An encrypted copy (`….zip.age`) is opened with
//! the account's key and checked as it is decrypted; nothing plain is written.

use crate::exit::Fail;
use crate::say::Out;
use crate::session::state;
use snapshots::accounts::AccountId;
use snapshots::library::verify_listed;
use snapshots::seal::{self, SealIdentity};
use std::path::PathBuf;

/// Checks `paths` against the library in `dir`, the state of `account` (whose key opens an
/// encrypted copy).
pub fn run(
    out: &Out,
    dir: &std::path::Path,
    account: Option<&AccountId>,
    paths: &[PathBuf],
) -> Result<(), Fail> {
    let st = state(dir)?;
    let mut failed = 0;
    for p in paths {
        // An encrypted copy opens with the signed-in account's key, as a stream.
        let sealed = seal::is_sealed_file(p);
        let key = if sealed { account.and_then(key) } else { None };
        let checked =
            verify_listed(&st, p, true, key.as_ref()).map_err(|e| Fail(7, e.to_string()))?;
        let elsewhere = offsite_copies(&st, p);
        let what = if sealed { " (encrypted)" } else { "" };
        match checked {
            Ok(()) => out.emit(
                format!("ok       {}{what}", p.display()),
                serde_json::json!({"path": p, "ok": true, "encrypted": sealed, "offsite": elsewhere}),
            ),
            Err(e) => {
                failed += 1;
                out.emit(
                    format!("FAILED   {}{what}: {e}", p.display()),
                    serde_json::json!({"path": p, "ok": false, "encrypted": sealed, "error": e.to_string(), "offsite": elsewhere}),
                );
            }
        }
        // Whatever the local file's state, the other copies of its version.
        for w in &elsewhere {
            out.human(format!("  also   {w}"));
        }
    }
    if failed > 0 {
        Err(Fail(
            6,
            format!("{failed} of {} files failed the check.", paths.len()),
        ))
    } else {
        Ok(())
    }
}

/// The account's encryption key, when the keychain has it (`None` makes the check say
/// that this computer has no key for the copy, and what to do).
fn key(account: &AccountId) -> Option<SealIdentity> {
    let kc = snapshots::secret::OsKeychain::default();
    match seal::identity::stored(&kc, account) {
        Ok(k) => k,
        Err(e) => {
            crate::say::err(&format!("sqsnap: {e}"));
            None
        }
    }
}

/// Where the library says this file's version also is, in buckets (endpoint and bucket).
fn offsite_copies(st: &snapshots::statedir::StateDir, path: &std::path::Path) -> Vec<String> {
    use snapshots::library::{LIBRARY, Library};
    use snapshots::offsite::{OFFSITE, Offsites, describe};
    let lib: Library = st.read(LIBRARY).unwrap_or_default();
    let all: Offsites = st.read(OFFSITE).unwrap_or_default();
    lib.entries
        .iter()
        .filter(|e| e.path == path)
        .flat_map(|e| e.copies.iter().filter_map(|c| describe(c, &all)))
        .collect()
}
