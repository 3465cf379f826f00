//! `sqsnap versions`: a resource's snapshots on Square Cloud, newest first.

use crate::exit::Fail;
use crate::say;
use crate::session::Session;
use snapshots::names::printable;

pub async fn run(s: &Session, id: &str) -> Result<(), Fail> {
    let r = s.engine.resource(id)?;
    for i in s.engine.versions(&r).await? {
        s.out.emit(
            format!(
                "{}  {:>10}  {:9}  {}",
                i.modified.format("%Y-%m-%d %H:%M UTC"),
                say::bytes(i.size),
                printable(i.origin.as_deref().unwrap_or("")),
                printable(&i.version().unwrap_or_default())
            ),
            serde_json::json!({"version": i.version(), "modified": i.modified, "size": i.size, "origin": i.origin}),
        );
    }
    Ok(())
}
