//! `sqsnap put-back`: a copy we hold uploaded into an application (Square Cloud's commit),
//! after a question (unless `--yes`, as `sqsnap restore` asks) and a snapshot of the
//! current state (unless `--no-snapshot-first`). What cannot go is said before anything is
//! sent; the upload's progress goes to standard error.

use crate::cli::PutBackArgs;
use crate::exit::Fail;
use crate::restore::{confirm_to, state_before};
use crate::say;
use crate::session::Session;
use crate::words;
use snapshots::PutBackOptions;
use snapshots::names::printable;
use std::path::Path;

pub async fn run(s: &Session, a: &PutBackArgs) -> Result<(), Fail> {
    match (&a.from, &a.from_offsite, &a.version) {
        (Some(file), _, _) => put_back(s, a, file).await,
        (None, Some(name), Some(version)) => from_offsite(s, a, name, version).await,
        _ => Err(Fail::says(2, |w| w.put_back_say_what, &[])),
    }
}

/// The copy of snapshot `version` kept in destination `name`: asked about, then fetched,
/// checked, put back and removed by the engine (as the window does).
async fn from_offsite(s: &Session, a: &PutBackArgs, name: &str, version: &str) -> Result<(), Fail> {
    let copy = s
        .engine
        .offsite_copies(&a.id)
        .into_iter()
        .find(|c| c.destination == name && c.version.as_deref() == Some(version))
        .ok_or_else(|| {
            Fail::says(
                2,
                |w| w.offsite_no_copy,
                &[("dest", &name), ("version", &version), ("id", &a.id)],
            )
        })?;
    let r = s.engine.resource(&a.id)?;
    if !a.yes {
        confirm_to(
            &words::say(
                |w| w.fetch_ask,
                &[
                    ("name", &printable(&r.name)),
                    ("time", &copy.taken_at.format("%Y-%m-%d %H:%M UTC")),
                    ("dest", &name),
                    ("bucket", &copy.bucket),
                    ("key", &copy.key),
                    ("size", &say::bytes(copy.size)),
                    ("restart", &restart_note(a)),
                    ("first", &first_note(a)),
                ],
            ),
            |w| w.doing_put_back,
            |w| w.not_put_back,
        )?;
    }
    s.out.warn(words::say(
        |w| w.fetching,
        &[("key", &copy.key), ("dest", &name)],
    ));
    let opts = options(a, None);
    let done = s
        .engine
        .put_back_from_offsite(
            &a.id,
            name,
            &copy.key,
            &snapshots::secret::OsKeychain::default(),
            opts,
            s.sink(),
            &s.cancel,
        )
        .await?;
    let from = |w: &words::Words| words::fill(w.copy_in, &[("dest", &name)]);
    said(s, &r.name, (&from(words::en()), &from(words::w())), &done);
    Ok(())
}

fn restart_note(a: &PutBackArgs) -> &'static str {
    if a.restart {
        words::w().restart_after
    } else {
        ""
    }
}

fn first_note(a: &PutBackArgs) -> &'static str {
    if a.no_snapshot_first {
        words::w().first_none
    } else {
        words::w().first_taken
    }
}

fn options(
    a: &PutBackArgs,
    key: Option<std::sync::Arc<snapshots::seal::SealIdentity>>,
) -> PutBackOptions {
    PutBackOptions {
        snapshot_first: !a.no_snapshot_first,
        download_first_to: a.dest.clone(),
        restart: a.restart,
        key,
    }
}

/// What a put back did, as a line (and a JSON object): `from` in English (for JSON) and in
/// the person's language.
fn said(s: &Session, name: &str, from: (&str, &str), done: &snapshots::PutBack) {
    let (from, from_here) = from;
    s.out.emit(
        words::say(
            |w| w.put_back_done,
            &[
                ("name", &printable(name)),
                ("from", &from_here),
                (
                    "restarting",
                    &if done.restarted {
                        words::w().restarting
                    } else {
                        ""
                    },
                ),
                ("before", &state_before(done.safety.as_ref())),
            ],
        ),
        serde_json::json!({
            "put_back": done.plan.resource.id,
            "from": from,
            "size": done.plan.size,
            "restarted": done.restarted,
            "snapshot_first": done.safety.as_ref().and_then(|s| s.download.as_ref()).map(|d| &d.path),
        }),
    );
}

async fn put_back(s: &Session, a: &PutBackArgs, from: &Path) -> Result<(), Fail> {
    let key = key_for(s, from)?.map(std::sync::Arc::new);
    let plan = s.engine.check_put_back(&a.id, from, key.as_deref()).await?;
    let r = &plan.resource;
    let taken = plan
        .from
        .as_ref()
        .map(|e| {
            words::say(
                |w| w.taken_of,
                &[
                    ("name", &printable(&e.resource_name)),
                    ("time", &e.taken_at.format("%Y-%m-%d %H:%M UTC")),
                ],
            )
        })
        .unwrap_or_default();
    if !a.yes {
        confirm_to(
            &words::say(
                |w| w.put_back_ask,
                &[
                    ("file", &from.display()),
                    ("size", &say::bytes(plan.size)),
                    ("taken", &taken),
                    ("name", &printable(&r.name)),
                    ("restart", &restart_note(a)),
                    ("first", &first_note(a)),
                ],
            ),
            |w| w.doing_put_back,
            |w| w.not_put_back,
        )?;
    }
    let done = s
        .engine
        .put_back(&a.id, from, options(a, key), s.sink(), &s.cancel)
        .await?;
    let file = from.display().to_string();
    said(s, &r.name, (&file, &file), &done);
    Ok(())
}

/// `sqsnap new-app FILE`: the copy uploaded as a new application, after a question (unless
/// `yes`); what cannot go is said before anything is sent, the upload's progress goes to
/// standard error.
pub async fn new_app(s: &Session, file: &Path, yes: bool) -> Result<(), Fail> {
    let key = key_for(s, file)?.map(std::sync::Arc::new);
    let plan = s.engine.check_new_app(file, key.clone()).await?;
    if !yes {
        let free = plan
            .available_mb
            .map(|free| words::say(|w| w.new_app_free, &[("free", &free)]))
            .unwrap_or_default();
        confirm_to(
            &words::say(
                |w| w.new_app_ask,
                &[
                    ("name", &printable(&plan.name)),
                    ("mb", &plan.memory_mb),
                    ("free", &free),
                    ("file", &file.display()),
                    ("size", &say::bytes(plan.size)),
                ],
            ),
            |w| w.doing_new_app,
            |w| w.no_app_made,
        )?;
    }
    let app = s.engine.new_app_from_copy(file, key, s.sink()).await?;
    s.out.emit(
        words::say(
            |w| w.new_app_done,
            &[
                ("name", &printable(&app.tag)),
                ("id", &app.id),
                ("file", &file.display()),
            ],
        ),
        serde_json::json!({
            "new_app": app.id,
            "name": app.tag,
            "ram": app.ram,
            "from": file,
            "size": plan.size,
        }),
    );
    Ok(())
}

/// The account's key from the keychain when `file` is an encrypted copy.
fn key_for(
    s: &Session,
    file: &std::path::Path,
) -> Result<Option<snapshots::seal::SealIdentity>, Fail> {
    let Ok(account) = snapshots::accounts::AccountId::new(&s.engine.me().user.id) else {
        return Ok(None);
    };
    snapshots::seal::identity::key_for(&snapshots::secret::OsKeychain::default(), &account, file)
        .map_err(|e| Fail::from(snapshots::EngineError::from(e)).with_exit(3))
}
