//! `sqsnap account`: the accounts this computer knows. Each has its own folder of state and
//! its own keychain item; one of them is the default (`use`), which every command works on
//! unless `--account` names another.

use crate::cli::{AccountCmd, Cli};
use crate::exit::Fail;
use crate::say::{self, Out};
use crate::session::{account_fail, accounts};
use crate::words::{self, Lang};
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
    let find = |name: &str| accounts.find(name).map_err(account_fail);
    match cmd {
        AccountCmd::Add { .. } => unreachable!("handled above"),
        AccountCmd::List => list(&out, &accounts),
        AccountCmd::Rename { name, new, reset } => {
            let k = find(name)?;
            let label = if *reset { None } else { new.as_deref() };
            accounts.rename(&k.id, label).map_err(account_fail)?;
            let k = find(k.id.as_str())?;
            out.emit(
                words::say(
                    |w| w.account_renamed,
                    &[("id", &k.id), ("shown", &k.shown()), ("name", &k.name)],
                ),
                serde_json::json!({"id": k.id, "name": k.name, "label": k.label, "shown": k.shown()}),
            );
            Ok(())
        }
        AccountCmd::Use { name } => {
            let k = find(name)?;
            accounts.switch_to(&k.id).map_err(account_fail)?;
            let key = signin::key_kept(&OsKeychain::default(), &k.id).unwrap_or(true);
            out.emit(
                words::say(
                    if key {
                        |w| w.account_default_now
                    } else {
                        |w| w.account_default_nokey
                    },
                    &[("shown", &k.shown()), ("id", &k.id)],
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
    let w = words::w();
    if known.is_empty() {
        out.human(w.accounts_none);
    }
    for k in &known {
        let is_current = current.as_ref() == Some(&k.id);
        let key = signin::key_kept(&kc, &k.id);
        let key_words = match &key {
            Ok(true) => w.key_in_keychain.to_string(),
            Ok(false) => w.no_key_in_keychain.to_string(),
            Err(e) => words::fill(w.key_unknown, &[("error", e)]),
        };
        out.emit(
            format!(
                "{} {:24} {:20} {}",
                if is_current { "*" } else { " " },
                printable(k.shown()),
                k.id,
                words::fill(
                    w.account_line,
                    &[("name", &printable(&k.name)), ("key", &key_words)]
                ),
            ),
            serde_json::json!({"id": k.id, "name": k.name, "label": k.label,
                "shown": k.shown(), "current": is_current,
                "key_in_keychain": key.as_ref().ok(), "added_at": k.added_at}),
        );
    }
    if current.is_some() {
        out.human(w.account_default_mark);
    } else if known.len() > 1 {
        out.human(w.account_none_default);
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
        words::w().copies_one.into()
    } else {
        words::say(|w| w.copies_many, &[("n", &n)])
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
    say::ask(&words::say(
        |w| w.ask_keep_delete,
        &[
            ("who", &who),
            ("copies", &copies(n)),
            ("folders", &folders_words(folders)),
        ],
    ));
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Fail::coded(2, "", e.to_string()))?;
    // Delete is d in English, a (apagar) in Portuguese, b (borrar) in Spanish.
    let delete: &[&str] = match words::lang() {
        Lang::En => &["d", "delete"],
        Lang::PtBr => &["a", "apagar", "d"],
        Lang::Es => &["b", "borrar", "d"],
    };
    Ok(delete.contains(&answer.trim().to_lowercase().as_str()))
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
            &words::say(
                |w| w.ask_delete,
                &[
                    ("who", &who),
                    ("copies", &copies(n)),
                    ("folders", &folders_words(&folders)),
                ],
            ),
            |w| w.doing_delete_copies,
            |w| w.not_removed,
        )?;
    }
    let removed = signin::remove_account(accounts, &OsKeychain::default(), &k.id, delete).map_err(
        |e| match e {
            RemoveError::Keychain(e) => Fail::coded(3, "keychain", e.to_string()),
            RemoveError::Account(e) => account_fail(e),
            RemoveError::State(e) => Fail::coded(7, "disk", e),
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
    let w = words::w();
    let copies = match &r.deleted {
        Some(report) => {
            for p in &report.deleted {
                out.emit(
                    words::fill(w.deleted_path, &[("path", &p.display())]),
                    serde_json::json!({"deleted": p}),
                );
            }
            for p in &report.skipped {
                out.emit(
                    words::fill(w.kept_changed, &[("path", &p.display())]),
                    serde_json::json!({"skipped": p}),
                );
            }
            let gone = copies(report.deleted.len());
            let counts = match report.skipped.len() {
                0 => words::fill(w.removed_copies, &[("copies", &gone)]),
                k => words::fill(
                    w.removed_copies_skipped,
                    &[("copies", &gone), ("skipped", &copies(k))],
                ),
            };
            let state = if r.state_removed {
                w.removed_state_gone
            } else {
                w.removed_state_stays
            };
            format!("{counts}{state}")
        }
        None if n > 0 => words::fill(
            w.removed_kept_copies,
            &[("copies", &copies(n)), ("folders", &folders_words(folders))],
        ),
        None => w.removed_kept_state.into(),
    };
    let now = match r.current.as_ref().and_then(|c| accounts.get(c)) {
        Some(c) => words::fill(w.removed_default_now, &[("name", &printable(c.shown()))]),
        None if !accounts.known().is_empty() => w.removed_no_default.into(),
        None => String::new(),
    };
    out.emit(
        words::fill(
            w.removed,
            &[("who", &who), ("copies", &copies), ("now", &now)],
        ),
        serde_json::json!({"removed": k.id, "name": k.name,
            "copies_deleted": r.deleted.as_ref().map(|d| d.deleted.len()),
            "state_removed": r.state_removed, "current": r.current}),
    );
}
