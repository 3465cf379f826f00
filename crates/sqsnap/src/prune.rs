//! `sqsnap prune`: old downloads this app made deleted, keeping the newest N per resource
//! and/or D days; files changed since they were downloaded are kept. `--offsite NAME`
//! prunes that destination's bucket instead (`offsite.rs`).

use crate::exit::Fail;
use crate::say::Out;
use crate::session::state;
use crate::words;
use snapshots::library::Library;

/// Refuses a prune that says nothing to keep, or to keep none.
pub fn check(keep: Option<u32>, days: Option<u32>) -> Result<(), Fail> {
    if keep.is_none() && days.is_none() {
        return Err(Fail::says(2, |w| w.prune_say_what, &[]));
    }
    if keep == Some(0) {
        return Err(Fail::says(2, |w| w.prune_keep_zero, &[]));
    }
    Ok(())
}

pub fn run(
    out: &Out,
    dir: &std::path::Path,
    keep: Option<u32>,
    days: Option<u32>,
) -> Result<(), Fail> {
    check(keep, days)?;
    let report = state(dir)?
        .update(snapshots::library::LIBRARY, |lib: &mut Library| {
            lib.prune(keep, days, chrono::Utc::now())
        })
        .map_err(|e| Fail::coded(7, "disk", e.to_string()))?;
    for p in &report.deleted {
        out.emit(
            words::say(|w| w.deleted_path, &[("path", &p.display())]),
            serde_json::json!({"deleted": p}),
        );
    }
    for p in &report.skipped {
        out.emit(
            words::say(|w| w.kept_changed, &[("path", &p.display())]),
            serde_json::json!({"skipped": p}),
        );
    }
    out.emit(
        words::say(
            |w| w.prune_total,
            &[("deleted", &report.deleted.len()), ("kept", &report.kept)],
        ),
        serde_json::json!({"deleted_count": report.deleted.len(), "kept": report.kept}),
    );
    Ok(())
}
