//! `sqsnap verify`: downloaded archives checked (length, central directory, every CRC),
//! and the result recorded in the library.

use crate::exit::Fail;
use crate::say::Out;
use crate::session::state;
use snapshots::library::Library;
use std::path::PathBuf;

pub fn run(out: &Out, dir: &std::path::Path, paths: &[PathBuf]) -> Result<(), Fail> {
    let st = state(dir)?;
    let mut failed = 0;
    for p in paths {
        // The state lock is held to read the entry and to record the result, never during
        // the check itself: a CRC pass over a large archive would hold every other process.
        let expected = st
            .read::<Library>("library.json")
            .map_err(|e| Fail(7, e.to_string()))?
            .entries
            .iter()
            .find(|e| e.path == *p)
            .map(|e| e.size);
        let checked = snapshots::verify::verify_zip(p, expected, true).map(|_| ());
        if checked.is_ok() {
            st.update("library.json", |lib: &mut Library| {
                lib.mark_verified(p, chrono::Utc::now())
            })
            .map_err(|e| Fail(7, e.to_string()))?;
        }
        match checked {
            Ok(()) => out.emit(
                format!("ok       {}", p.display()),
                serde_json::json!({"path": p, "ok": true}),
            ),
            Err(e) => {
                failed += 1;
                out.emit(
                    format!("FAILED   {}: {e}", p.display()),
                    serde_json::json!({"path": p, "ok": false, "error": e.to_string()}),
                );
            }
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
