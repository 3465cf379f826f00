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
        (None, Some(name), Some(version)) => {
            let file = crate::offsite::fetch_version(s.demo, name, &a.id, version).await?;
            let done = put_back(s, a, &file).await;
            // The fetched copy was for this put back only.
            let _ = std::fs::remove_file(&file);
            done
        }
        _ => Err(Fail(
            2,
            "Say what to put back: --from FILE, or --from-offsite NAME --version V.".into(),
        )),
    }
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
                if a.restart {
                    " The application is restarted after."
                } else {
                    ""
                },
                if a.no_snapshot_first {
                    " No snapshot of the current state is taken first."
                } else {
                    " A snapshot of the current state is taken first (one of today's quota)."
                }
            ),
            "putting back",
            "Not put back",
        )?;
    }
    let opts = PutBackOptions {
        snapshot_first: !a.no_snapshot_first,
        download_first_to: a.dest.clone(),
        restart: a.restart,
        key,
    };
    let done = s
        .engine
        .put_back(&a.id, from, opts, s.sink(), &s.cancel)
        .await?;
    s.out.emit(
        format!(
            "{} now has the files of {}.{}{}",
            printable(&r.name),
            from.display(),
            if done.restarted { " It is restarting." } else { "" },
            done.safety
                .as_ref()
                .and_then(|s| s.download.as_ref())
                .map(|d| format!(" The state before is saved in {}.", d.path.display()))
                .unwrap_or_default()
        ),
        serde_json::json!({
            "put_back": r.id,
            "from": from,
            "size": done.plan.size,
            "restarted": done.restarted,
            "snapshot_first": done.safety.as_ref().and_then(|s| s.download.as_ref()).map(|d| &d.path),
        }),
    );
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
