//! `sqsnap list`: every application and database, the newest snapshot of each (and of its
//! copies on this computer, saying when that one is encrypted), the quota.
//! With `--json`, each resource is the window's row (`snapshots::overview`), keys and all.

use crate::exit::Fail;
use crate::say;
use crate::session::Session;
use snapshots::names::printable;
use snapshots::overview::{self, ResourceRow};
use snapshots::squarecloud::ResourceKind;

pub async fn run(s: &Session) -> Result<(), Fail> {
    if let Err(e) = s.engine.refresh_newest(std::time::Duration::ZERO).await {
        say::err(&format!(
            "sqsnap: could not read every snapshot list, so some show \"unknown\": {e}"
        ));
    }
    let known = s.engine.newest_known();
    for r in overview::of_engine(&s.engine) {
        // The row says "no snapshot" and "not learnt" alike (null); people are told which.
        let learnt = known.contains_key(&r.id);
        s.out.emit(line(&r, learnt), serde_json::json!(r));
    }
    let q = s.engine.quota();
    s.out
        .emit(crate::quota::line(&q), serde_json::json!({"quota": q}));
    Ok(())
}

/// One resource's line for people. `learnt`: whether its snapshot list could be read.
fn line(r: &ResourceRow, learnt: bool) -> String {
    let kind = match r.kind {
        ResourceKind::App => "app",
        ResourceKind::Database => "database",
    };
    let newest = match (learnt, r.newest_server) {
        (true, Some(t)) => t.format("%Y-%m-%d %H:%M UTC").to_string(),
        (true, None) => "none".into(),
        (false, _) => "unknown".into(),
    };
    // The newest copy on this computer, and whether it is encrypted.
    let here = r
        .newest_local
        .as_ref()
        .map(|e| {
            let sealed = if e.sealed() { ", encrypted" } else { "" };
            format!(
                "  here: {}{sealed}",
                e.taken_at.format("%Y-%m-%d %H:%M UTC")
            )
        })
        .unwrap_or_default();
    format!(
        "{:8} {}  {:28} {:10} {:>5} MB  newest: {newest}{here}",
        kind,
        printable(&r.id),
        printable(&r.name),
        printable(r.runtime.as_deref().unwrap_or_default()),
        r.ram,
    )
}
