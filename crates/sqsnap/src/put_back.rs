//! `sqsnap put-back`: a copy we hold uploaded into an application (Square Cloud's commit),
//! after a question (unless `--yes`, as `sqsnap restore` asks) and a snapshot of the
//! current state (unless `--no-snapshot-first`). What cannot go is said before anything is
//! sent; the upload's progress goes to standard error.

use crate::cli::PutBackArgs;
use crate::exit::Fail;
use crate::restore::confirm_to;
use crate::say;
use crate::session::Session;
use snapshots::PutBackOptions;
use snapshots::names::printable;
use std::path::Path;

pub async fn run(s: &Session, a: &PutBackArgs) -> Result<(), Fail> {
    match (&a.from, &a.from_offsite, &a.version) {
        (Some(file), _, _) => put_back(s, a, file).await,
        (None, Some(name), Some(version)) => from_offsite(s, a, name, version).await,
        _ => Err(Fail(
            2,
            "Say what to put back: --from FILE, or --from-offsite NAME --version V.".into(),
        )),
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
            Fail(
                2,
                format!(
                    "{name} holds no copy of snapshot {version} of {} that this computer knows of; nothing was put back. `sqsnap verify FILE` says where each copy is kept.",
                    a.id
                ),
            )
        })?;
    let r = s.engine.resource(&a.id)?;
    if !a.yes {
        confirm_to(
            &format!(
                "Fetch the copy of {} taken {} from {name} (bucket {}, key {}, {}) and put it back into it? Its files are added and replace the same paths; files not in the copy are not deleted.{}{} [y/N] ",
                printable(&r.name),
                copy.taken_at.format("%Y-%m-%d %H:%M UTC"),
                copy.bucket,
                copy.key,
                say::bytes(copy.size),
                restart_note(a),
                first_note(a),
            ),
            "putting back",
            "Not put back",
        )?;
    }
    s.out.warn(format!("Fetching {} from {name}…", copy.key));
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
    said(s, &r.name, &format!("the copy in {name}"), &done);
    Ok(())
}

fn restart_note(a: &PutBackArgs) -> &'static str {
    if a.restart {
        " The application is restarted after."
    } else {
        ""
    }
}

fn first_note(a: &PutBackArgs) -> &'static str {
    if a.no_snapshot_first {
        " No snapshot of the current state is taken first."
    } else {
        " A snapshot of the current state is taken first (one of today's quota)."
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

/// What a put back did, as a line (and a JSON object).
fn said(s: &Session, name: &str, from: &str, done: &snapshots::PutBack) {
    s.out.emit(
        format!(
            "{} now has the files of {from}.{}{}",
            printable(name),
            if done.restarted { " It is restarting." } else { "" },
            done.safety
                .as_ref()
                .and_then(|s| s.download.as_ref())
                .map(|d| format!(" The state before is saved in {}.", d.path.display()))
                .unwrap_or_default()
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
            format!(
                ", the snapshot of {} taken {}",
                printable(&e.resource_name),
                e.taken_at.format("%Y-%m-%d %H:%M UTC")
            )
        })
        .unwrap_or_default();
    if !a.yes {
        confirm_to(
            &format!(
                "Put {} ({}{taken}) back into {}? Its files are added and replace the same paths; files not in the copy are not deleted.{}{} [y/N] ",
                from.display(),
                say::bytes(plan.size),
                printable(&r.name),
                restart_note(a),
                first_note(a),
            ),
            "putting back",
            "Not put back",
        )?;
    }
    let done = s
        .engine
        .put_back(&a.id, from, options(a, key), s.sink(), &s.cancel)
        .await?;
    said(s, &r.name, &from.display().to_string(), &done);
    Ok(())
}

/// `sqsnap new-app FILE`: the copy uploaded as a new application, after a question (unless
/// `yes`); what cannot go is said before anything is sent, the upload's progress goes to
/// standard error.
pub async fn new_app(s: &Session, file: &Path, yes: bool) -> Result<(), Fail> {
    let key = key_for(s, file)?.map(std::sync::Arc::new);
    let plan = s.engine.check_new_app(file, key.clone()).await?;
    if !yes {
        confirm_to(
            &format!(
                "Make a new application \"{}\" ({} MB of memory{}) from {} ({})? It gets a new id; copies of the old application stay under the old one. [y/N] ",
                printable(&plan.name),
                plan.memory_mb,
                plan.available_mb
                    .map(|free| format!(", of {free} MB free"))
                    .unwrap_or_default(),
                file.display(),
                say::bytes(plan.size),
            ),
            "making an application",
            "No application made",
        )?;
    }
    let app = s.engine.new_app_from_copy(file, key, s.sink()).await?;
    s.out.emit(
        format!(
            "Made the application {} ({}) from {}. Back it up like any other: sqsnap snapshot {} --download",
            printable(&app.tag),
            app.id,
            file.display(),
            app.id
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
        .map_err(|e| Fail(3, e.to_string()))
}
