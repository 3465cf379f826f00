//! `sqsnap restore`: a resource put back to one of its snapshots, after a question (unless
//! `--yes`) and a snapshot of the current state (unless `--no-snapshot-first`).

use crate::cli::RestoreArgs;
use crate::exit::Fail;
use crate::say;
use crate::session::Session;
use snapshots::names::printable;
use std::io::IsTerminal;

pub async fn run(s: &Session, a: &RestoreArgs) -> Result<(), Fail> {
    let r = s.engine.resource(&a.id)?;
    let item = s
        .engine
        .versions(&r)
        .await?
        .into_iter()
        .find(|i| i.version().as_deref() == Some(a.version.as_str()))
        .ok_or_else(|| {
            Fail(
                8,
                format!(
                    "{} has no snapshot with version {}.",
                    printable(&r.name),
                    printable(&a.version)
                ),
            )
        })?;
    if !a.yes {
        confirm(&format!(
            "Restore {} to its snapshot of {} ({})? Its current files are replaced.{} [y/N] ",
            printable(&r.name),
            item.modified.format("%Y-%m-%d %H:%M UTC"),
            say::bytes(item.size),
            if a.no_snapshot_first {
                " No snapshot of the current state is taken first."
            } else {
                " A snapshot of the current state is taken first (one of today's quota)."
            }
        ))?;
    }
    let opts = snapshots::restore::RestoreOptions {
        snapshot_first: !a.no_snapshot_first,
        download_first_to: a.dest.clone(),
    };
    let done = s
        .engine
        .restore(&r, &a.version, opts, s.sink(), &s.cancel)
        .await?;
    s.out.emit(
        format!(
            "{} was restored to its snapshot of {}.{}",
            printable(&r.name),
            done.version_taken_at.format("%Y-%m-%d %H:%M UTC"),
            done.safety
                .as_ref()
                .and_then(|s| s.download.as_ref())
                .map(|d| format!(" The state before is saved in {}.", d.path.display()))
                .unwrap_or_default()
        ),
        serde_json::json!({"restored": r.id, "version": done.version, "snapshot_first": done.safety.is_some()}),
    );
    Ok(())
}

/// Asks on a terminal; elsewhere, says to pass --yes.
fn confirm(question: &str) -> Result<(), Fail> {
    confirm_to(question, "restoring", "Not restored")
}

/// Asks `question` on a terminal; elsewhere says that it is not `doing` without --yes. A
/// "no" ends with `not_done` (exit 130). `sqsnap put-back` asks the same way.
pub fn confirm_to(question: &str, doing: &str, not_done: &str) -> Result<(), Fail> {
    if !std::io::stdin().is_terminal() {
        return Err(Fail(
            2,
            format!("Not {doing} without a confirmation: pass --yes (nothing was changed)."),
        ));
    }
    say::ask(question);
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Fail(2, e.to_string()))?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "s" | "sim") {
        Ok(())
    } else {
        Err(Fail(130, format!("{not_done}: nothing was changed.")))
    }
}
