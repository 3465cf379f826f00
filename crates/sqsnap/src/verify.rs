//! `sqsnap verify`: downloaded archives checked (length, central directory, every CRC),
//! and the result recorded in the library.

use crate::exit::Fail;
use crate::say::Out;
use crate::session::state;
use snapshots::library::verify_listed;
use std::path::PathBuf;

pub fn run(out: &Out, dir: &std::path::Path, paths: &[PathBuf]) -> Result<(), Fail> {
    let st = state(dir)?;
    let mut failed = 0;
    for p in paths {
        let checked = verify_listed(&st, p, true).map_err(|e| Fail(7, e.to_string()))?;
        let elsewhere = offsite_copies(&st, p);
        match checked {
            Ok(()) => out.emit(
                format!("ok       {}", p.display()),
                serde_json::json!({"path": p, "ok": true, "offsite": elsewhere}),
            ),
            Err(e) => {
                failed += 1;
                out.emit(
                    format!("FAILED   {}: {e}", p.display()),
                    serde_json::json!({"path": p, "ok": false, "error": e.to_string(), "offsite": elsewhere}),
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
