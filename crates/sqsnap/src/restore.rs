//! `sqsnap restore`: a resource put back to one of its snapshots, after a question (unless
//! `--yes`) and a snapshot of the current state (unless `--no-snapshot-first`).

use crate::cli::RestoreArgs;
use crate::exit::{Fail, Said};
use crate::say;
use crate::session::Session;
use crate::words;
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
            Fail::says(
                8,
                |w| w.restore_no_version,
                &[
                    ("name", &printable(&r.name)),
                    ("version", &printable(&a.version)),
                ],
            )
        })?;
    if !a.yes {
        let w = words::w();
        confirm(&words::fill(
            w.restore_ask,
            &[
                ("name", &printable(&r.name)),
                ("time", &item.modified.format("%Y-%m-%d %H:%M UTC")),
                ("size", &say::bytes(item.size)),
                (
                    "first",
                    &if a.no_snapshot_first {
                        w.first_none
                    } else {
                        w.first_taken
                    },
                ),
            ],
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
        words::say(
            |w| w.restored,
            &[
                ("name", &printable(&r.name)),
                (
                    "time",
                    &done.version_taken_at.format("%Y-%m-%d %H:%M UTC"),
                ),
                ("before", &state_before(done.safety.as_ref())),
            ],
        ),
        serde_json::json!({"restored": r.id, "version": done.version, "snapshot_first": done.safety.is_some()}),
    );
    Ok(())
}

/// " The state before is saved in …" when a snapshot was taken first and downloaded.
pub fn state_before(safety: Option<&snapshots::JobOutcome>) -> String {
    safety
        .and_then(|s| s.download.as_ref())
        .map(|d| words::say(|w| w.state_before, &[("path", &d.path.display())]))
        .unwrap_or_default()
}

/// Asks on a terminal; elsewhere, says to pass --yes.
fn confirm(question: &str) -> Result<(), Fail> {
    confirm_to(question, |w| w.doing_restore, |w| w.not_restored)
}

/// Asks `question` on a terminal; elsewhere says that it is not `doing` without --yes. A
/// "no" ends with `not_done` (exit 130). `sqsnap put-back` asks the same way. Yes is
/// `y`/`yes`, or `s`/`sim`/`sí`/`si` (Portuguese and Spanish).
pub fn confirm_to(question: &str, doing: Said, not_done: Said) -> Result<(), Fail> {
    if !std::io::stdin().is_terminal() {
        return Err(Fail {
            en: words::fill(words::en().needs_yes, &[("doing", &doing(words::en()))]),
            ..Fail::says(2, |w| w.needs_yes, &[("doing", &doing(words::w()))])
        });
    }
    say::ask(question);
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Fail::coded(2, "", e.to_string()))?;
    if matches!(
        answer.trim().to_lowercase().as_str(),
        "y" | "yes" | "s" | "sim" | "sí" | "si"
    ) {
        Ok(())
    } else {
        Err(Fail {
            en: words::fill(words::en().not_done, &[("what", &not_done(words::en()))]),
            ..Fail::says(130, |w| w.not_done, &[("what", &not_done(words::w()))])
        })
    }
}
