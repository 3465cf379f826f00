//! `sqsnap verify`: downloaded archives checked (length, central directory, every CRC),
//! and the result recorded in the library. An encrypted copy (`….zip.age`) is opened with
//! the account's key and checked as it is decrypted; nothing plain is written.

use crate::exit::Fail;
use crate::say::Out;
use crate::session::state;
use crate::words;
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
        let checked = verify_listed(&st, p, true, key.as_ref())
            .map_err(|e| Fail::coded(7, "disk", e.to_string()))?;
        let elsewhere = offsite_copies(&st, p);
        let (ok, failed_line) = if sealed {
            (
                words::w().verify_ok_encrypted,
                words::w().verify_failed_encrypted,
            )
        } else {
            (words::w().verify_ok, words::w().verify_failed)
        };
        match checked {
            Ok(()) => out.emit(
                words::fill(ok, &[("path", &p.display())]),
                serde_json::json!({"path": p, "ok": true, "encrypted": sealed, "offsite": elsewhere}),
            ),
            Err(e) => {
                failed += 1;
                out.emit(
                    words::fill(failed_line, &[("path", &p.display()), ("error", &e)]),
                    serde_json::json!({"path": p, "ok": false, "encrypted": sealed, "error": e.to_string(), "offsite": elsewhere}),
                );
            }
        }
        // Whatever the local file's state, the other copies of its version.
        for w in &elsewhere {
            out.human(words::say(|t| t.verify_also, &[("place", w)]));
        }
    }
    if failed > 0 {
        Err(Fail::says(
            6,
            |w| w.verify_some_failed,
            &[("failed", &failed), ("total", &paths.len())],
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
