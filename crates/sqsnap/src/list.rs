//! `sqsnap list`: every application and database, the newest snapshot of each (and of its
//! copies on this computer, saying when that one is encrypted), the quota.
//! With `--json`, each resource is the window's row (`snapshots::overview`), keys and all.

use crate::cli::Cli;
use crate::exit::Fail;
use crate::say;
use crate::session::{Session, account_failed, accounts, every, given_key, whose};
use crate::words;
use snapshots::names::printable;
use snapshots::overview::{self, ResourceRow};
use snapshots::squarecloud::ResourceKind;

/// `sqsnap list --all-accounts`: each account's resources under its name, each account
/// with its own key and engine. An account that cannot be listed (no key in the keychain,
/// a refused key) is said and the others are still listed; the exit code is the worst.
pub async fn all(cli: &Cli) -> Result<(), Fail> {
    let Some(known) = every(cli)? else {
        let s = Session::open(cli).await?;
        header(&s);
        return run(&s).await.map_err(|f| s.named(f));
    };
    let given = given_key(cli).await?;
    let mut worst: Option<u8> = None;
    for k in &known {
        let done = match Session::open_known(cli, k, given.as_ref()).await {
            Ok(s) => {
                header(&s);
                run(&s).await
            }
            Err(f) => Err(f),
        };
        if let Err(f) = done {
            let w = whose(&accounts(false)?, k.id.as_str(), &k.name);
            account_failed(cli.json, &w, &f);
            worst = worst.max(Some(f.exit));
        }
    }
    match worst {
        Some(code) => Err(Fail::says(code, |w| w.list_some_failed, &[])),
        None => Ok(()),
    }
}

/// The line a group of rows starts with, for people: the account, its id and its name on
/// Square Cloud when it is called otherwise here.
fn header(s: &Session) {
    let me = s.engine.me();
    let theirs = if me.user.name == s.whose.shown {
        String::new()
    } else {
        words::say(|w| w.list_theirs, &[("name", &printable(&me.user.name))])
    };
    if !s.out.json {
        say::out(&format!(
            "== {} ({}{theirs})",
            printable(&s.whose.shown),
            s.whose.id
        ));
    }
}

pub async fn run(s: &Session) -> Result<(), Fail> {
    if let Err(e) = s.engine.refresh_newest(std::time::Duration::ZERO).await {
        say::err(&format!(
            "sqsnap: {}",
            s.out
                .named(&words::say(|w| w.list_unknown, &[("error", &e)]))
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
    let w = words::w();
    let kind = match r.kind {
        ResourceKind::App => w.kind_app,
        ResourceKind::Database => w.kind_database,
    };
    let newest = match (learnt, r.newest_server) {
        (true, Some(t)) => t.format("%Y-%m-%d %H:%M UTC").to_string(),
        (true, None) => w.newest_none.into(),
        (false, _) => w.newest_unknown.into(),
    };
    // The newest copy on this computer, and whether it is encrypted.
    let here = r
        .newest_local
        .as_ref()
        .map(|e| {
            let sealed = if e.sealed() { w.here_encrypted } else { "" };
            let when = e.taken_at.format("%Y-%m-%d %H:%M UTC");
            format!("{}{sealed}", words::fill(w.here, &[("when", &when)]))
        })
        .unwrap_or_default();
    format!(
        "{:8} {}  {:28} {:10} {:>5} MB  {}{here}",
        kind,
        printable(&r.id),
        printable(&r.name),
        printable(r.runtime.as_deref().unwrap_or_default()),
        r.ram,
        words::fill(w.newest, &[("when", &newest)]),
    )
}
