//! `sqsnap account`: the accounts this computer knows. Each has its own folder of state and
//! its own keychain item; one of them is the default (`use`), which every command works on
//! unless `--account` names another.

use crate::cli::{AccountCmd, Cli};
use crate::exit::Fail;
use crate::say::{self, Out};
use crate::session::accounts;
use snapshots::accounts::{Accounts, Known};
use snapshots::library::{LIBRARY, Library};
use snapshots::names::printable;
use snapshots::secret::OsKeychain;
use snapshots::signin::{self, RemoveError, Removed};
use snapshots::statedir::StateDir;
use std::io::IsTerminal;
use std::path::PathBuf;

pub async fn run(cli: &Cli, cmd: &AccountCmd) -> Result<(), Fail> {
    if let AccountCmd::Add { make_default } = cmd {
        return crate::login::add_account(cli, *make_default).await;
    }
    let out = Out::new(cli.json);
    let accounts = accounts(cli.demo)?;
    let find = |name: &str| accounts.find(name).map_err(|e| Fail(2, e.to_string()));
    match cmd {
        AccountCmd::Add { .. } => unreachable!("handled above"),
        AccountCmd::List => list(&out, &accounts),
        AccountCmd::Rename { name, new, reset } => {
            let k = find(name)?;
            let label = if *reset { None } else { new.as_deref() };
            accounts
                .rename(&k.id, label)
                .map_err(|e| Fail(2, e.to_string()))?;
            let k = find(k.id.as_str())?;
            out.emit(
                format!(
                    "Account {} is called {} here now (on Square Cloud: {}).",
                    k.id,
                    k.shown(),
                    k.name
                ),
                serde_json::json!({"id": k.id, "name": k.name, "label": k.label, "shown": k.shown()}),
            );
            Ok(())
        }
        AccountCmd::Use { name } => {
            let k = find(name)?;
            accounts
                .switch_to(&k.id)
                .map_err(|e| Fail(2, e.to_string()))?;
            let key = signin::key_kept(&OsKeychain::default(), &k.id).unwrap_or(true);
            out.emit(
                format!(
                    "{} ({}) is the default account now.{}",
                    k.shown(),
                    k.id,
                    if key {
                        ""
                    } else {
                        " The keychain holds no key for it: add it again with `sqsnap account add`."
                    }
                ),
                serde_json::json!({"current": k.id, "shown": k.shown(), "key_in_keychain": key}),
            );
            Ok(())
        }
        AccountCmd::Remove {
            name,
            delete_copies,
            yes,
        } => remove(&out, &accounts, &find(name)?, *delete_copies, *yes),
    }
}

fn list(out: &Out, accounts: &Accounts) -> Result<(), Fail> {
    let known = accounts.known();
    let current = accounts.current();
    let kc = OsKeychain::default();
    if known.is_empty() {
        out.human("No accounts here yet. Add one with `sqsnap account add`.");
    }
    for k in &known {
        let is_current = current.as_ref() == Some(&k.id);
        let key = signin::key_kept(&kc, &k.id);
        let key_words = match &key {
            Ok(true) => "key in the keychain".to_string(),
            Ok(false) => "NO KEY in the keychain (`sqsnap account add`)".to_string(),
            Err(e) => format!("key unknown: {e}"),
        };
        out.emit(
            format!(
                "{} {:24} {:20} Square Cloud: {}; {key_words}",
                if is_current { "*" } else { " " },
                printable(k.shown()),
                k.id,
                printable(&k.name),
            ),
            serde_json::json!({"id": k.id, "name": k.name, "label": k.label,
                "shown": k.shown(), "current": is_current,
                "key_in_keychain": key.as_ref().ok(), "added_at": k.added_at}),
        );
    }
    if current.is_some() {
        out.human("* the default account (others with --account NAME)");
    } else if known.len() > 1 {
        out.human("No account is the default: choose one with `sqsnap account use NAME`.");
    }
    Ok(())
}

/// The files the account's library lists that are on this computer, and their folders.
fn copies_here(accounts: &Accounts, k: &Known) -> (usize, Vec<PathBuf>) {
    let lib: Library = StateDir::open(&accounts.dir(&k.id))
        .and_then(|s| s.read(LIBRARY))
        .unwrap_or_default();
    let here: Vec<&PathBuf> = lib
        .entries
        .iter()
        .map(|e| &e.path)
        .filter(|p| p.exists())
        .collect();
    let mut folders: Vec<PathBuf> = here
        .iter()
        .filter_map(|p| p.parent().map(PathBuf::from))
        .collect();
    folders.sort();
    folders.dedup();
    (here.len(), folders)
}

/// "1 copy", "3 copies".
fn copies(n: usize) -> String {
    if n == 1 {
        "1 copy".into()
    } else {
        format!("{n} copies")
    }
}

fn folders_words(folders: &[PathBuf]) -> String {
    folders
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// On a terminal, with no `--delete-copies`: keep the copies (the default) or delete them.
fn ask_delete(who: &str, n: usize, folders: &[PathBuf]) -> Result<bool, Fail> {
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    say::ask(&format!(
        "{who} has {} on this computer (in {}). Keep (k) or delete (d)? [K/d] ",
        copies(n),
        folders_words(folders)
    ));
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Fail(2, e.to_string()))?;
    Ok(matches!(answer.trim(), "d" | "D" | "delete"))
}

fn remove(
    out: &Out,
    accounts: &Accounts,
    k: &Known,
    delete_copies: bool,
    yes: bool,
) -> Result<(), Fail> {
    let who = format!("{} ({})", printable(k.shown()), k.id);
    let (n, folders) = copies_here(accounts, k);
    let delete = n > 0 && (delete_copies || ask_delete(&who, n, &folders)?);
    if delete && !yes {
        crate::restore::confirm_to(
            &format!(
                "Delete {who}'s {} in {}? Only files this app made and that are unchanged go; they cannot be brought back. [y/N] ",
                copies(n),
                folders_words(&folders)
            ),
            "deleting its copies",
            "The account was not removed",
        )?;
    }
    let removed = signin::remove_account(accounts, &OsKeychain::default(), &k.id, delete).map_err(
        |e| match e {
            RemoveError::Keychain(e) => Fail(3, e.to_string()),
            RemoveError::Account(e) => Fail(2, e.to_string()),
            RemoveError::State(e) => Fail(7, e),
        },
    )?;
    say_removed(out, accounts, k, &who, n, &folders, &removed);
    Ok(())
}

fn say_removed(
    out: &Out,
    accounts: &Accounts,
    k: &Known,
    who: &str,
    n: usize,
    folders: &[PathBuf],
    r: &Removed,
) {
    let copies = match &r.deleted {
        Some(report) => {
            for p in &report.deleted {
                out.emit(
                    format!("deleted  {}", p.display()),
                    serde_json::json!({"deleted": p}),
                );
            }
            for p in &report.skipped {
                out.emit(
                    format!("kept     {} (changed since it was downloaded)", p.display()),
                    serde_json::json!({"skipped": p}),
                );
            }
            format!(
                " {} deleted{}.{}",
                copies(report.deleted.len()),
                match report.skipped.len() {
                    0 => String::new(),
                    k => format!(", {} kept (changed since downloaded)", copies(k)),
                },
                if r.state_removed {
                    " Its library, plans and settings on this computer went with them."
                } else {
                    " Its library, plans and settings stay on this computer, since some copies are still there."
                }
            )
        }
        None if n > 0 => format!(
            " Its {} on this computer (in {}) stay, and so do its library, plans and settings, for when it is added again.",
            copies(n),
            folders_words(folders)
        ),
        None => " Its library, plans and settings stay, for when it is added again.".into(),
    };
    let now = match r.current.as_ref().and_then(|c| accounts.get(c)) {
        Some(c) => format!(" The default account is {} now.", printable(c.shown())),
        None if !accounts.known().is_empty() => {
            " No account is the default now: choose one with `sqsnap account use NAME`.".into()
        }
        None => String::new(),
    };
    out.emit(
        format!("Removed {who}: its key left the keychain.{copies}{now}"),
        serde_json::json!({"removed": k.id, "name": k.name,
            "copies_deleted": r.deleted.as_ref().map(|d| d.deleted.len()),
            "state_removed": r.state_removed, "current": r.current}),
    );
}
