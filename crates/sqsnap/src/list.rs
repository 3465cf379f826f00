//! `sqsnap list`: every application and database, the newest snapshot of each, the quota.

use crate::exit::Fail;
use crate::say;
use crate::session::Session;
use snapshots::ResourceRef;
use snapshots::names::printable;
use snapshots::squarecloud::{Me, ResourceKind};

pub async fn run(s: &Session) -> Result<(), Fail> {
    let me = s.engine.me();
    if let Err(e) = s.engine.refresh_newest(std::time::Duration::ZERO).await {
        say::err(&format!(
            "sqsnap: could not read every snapshot list, so some show \"unknown\": {e}"
        ));
    }
    let known = s.engine.newest_known();
    for r in s.engine.resources() {
        row(s, &me, &r, known.get(&r.id).copied());
    }
    let q = s.engine.quota();
    s.out
        .emit(crate::quota::line(&q), serde_json::json!({"quota": q}));
    Ok(())
}

/// One resource's line. `newest`: None when its list could not be read, `Some(None)` when
/// it has no snapshot.
fn row(
    s: &Session,
    me: &Me,
    r: &ResourceRef,
    newest: Option<Option<chrono::DateTime<chrono::Utc>>>,
) {
    let (detail, ram) = match r.kind {
        ResourceKind::App => {
            let a = me.applications.iter().find(|a| a.id == r.id);
            (
                a.and_then(|a| a.lang.clone()).unwrap_or_default(),
                a.map(|a| a.ram).unwrap_or(0),
            )
        }
        _ => {
            let d = me.databases.iter().find(|d| d.id == r.id);
            (
                d.and_then(|d| d.engine.clone()).unwrap_or_default(),
                d.map(|d| d.ram).unwrap_or(0),
            )
        }
    };
    let kind = match r.kind {
        ResourceKind::App => "app",
        _ => "database",
    };
    s.out.emit(
        format!("{kind:8} {}  {:28} {:10} {:>5} MB  newest: {}", printable(&r.id), printable(&r.name), printable(&detail), ram, match newest { Some(Some(t)) => t.format("%Y-%m-%d %H:%M UTC").to_string(), Some(None) => "none".into(), None => "unknown".into() }),
        serde_json::json!({"kind": kind, "id": r.id, "name": r.name, "runtime": detail, "ram": ram, "newest_snapshot": newest.flatten()}),
    );
}
