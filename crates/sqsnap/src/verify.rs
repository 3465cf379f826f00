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
