//! `sqsnap login`, `logout` and `whoami`: the key in the keychain, and whose it is. Login is
//! `sqsnap account add --use` with the key typed or piped in.

use crate::cli::Cli;
use crate::exit::Fail;
use crate::say::Out;
use crate::session::{Pick, Session, accounts, chosen, setup};
use crate::words;
use snapshots::names::printable;
use snapshots::secret::{Keychain, OsKeychain, Slot};
use snapshots::signin;
use snapshots::squarecloud::ApiKey;
use std::io::{IsTerminal, Read};

/// Where the key comes from when one is added.
pub enum KeyFrom {
    /// A hidden prompt on a terminal, else standard input (`login`, as always).
    Typed,
    /// `--key-file` (or `SQUARECLOUD_API_KEY_FILE`), else `SQUARECLOUD_API_KEY`, else as
    /// [`KeyFrom::Typed`] (`account add`).
    Given,
}

/// The key to add, never from the command line's words.
fn read_key(cli: &Cli, from: KeyFrom) -> Result<ApiKey, Fail> {
    if let KeyFrom::Given = from {
        if let Some(path) = &cli.key_file {
            return crate::key::read_key_file(path, crate::key::KeySource::File);
        }
        if let Some(k) = std::env::var("SQUARECLOUD_API_KEY")
            .ok()
            .and_then(ApiKey::new)
        {
            return Ok(k);
        }
    }
    let mut text = String::new();
    if std::io::stdin().is_terminal() {
        text = rpassword::prompt_password(words::w().prompt_api_key)
            .map_err(|e| Fail::coded(2, "", e.to_string()))?;
    } else {
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Fail::coded(2, "", e.to_string()))?;
    }
    ApiKey::new(text).ok_or_else(|| Fail::says(2, |w| w.no_key_given, &[]))
}

/// Checks a key (typed hidden on a terminal, else read from stdin) and keeps it in the
/// keychain; its account becomes the default. The demo's is checked and never stored.
pub async fn login(cli: &Cli) -> Result<(), Fail> {
    let key = read_key(cli, KeyFrom::Typed)?;
    add(cli, key, true, true).await
}

/// `sqsnap account add [--use]`.
pub async fn add_account(cli: &Cli, make_default: bool) -> Result<(), Fail> {
    let key = read_key(cli, KeyFrom::Given)?;
    add(cli, key, make_default, false).await
}

/// Why a key was not added, with its exit code; nothing was stored.
fn add_fail(e: signin::SignInError) -> Fail {
    match e {
        signin::SignInError::Engine(e) if e.code() == "auth" => {
            Fail::says(3, |w| w.key_refused, &[])
        }
        signin::SignInError::Engine(e) => Fail::from(e).within(|w| w.nothing_stored),
        signin::SignInError::Keychain(e) => Fail::coded(3, "keychain", e.to_string()),
    }
}

/// Adds the account of `key`: `login` words its lines as it always did.
async fn add(cli: &Cli, key: ApiKey, make_default: bool, login: bool) -> Result<(), Fail> {
    let (cfg, _demo) = setup(cli).await?;
    let out = Out::new(cli.json);
    #[cfg(feature = "demo")]
    if cli.demo {
        let client = snapshots::squarecloud::Client::new(&cfg.api_url, snapshots::demo::key())
            .map_err(|e| Fail::coded(2, "config", e.to_string()))?;
        let me = client
            .me()
            .await
            .map_err(|e| Fail::coded(5, "network", e.to_string()))?;
        out.emit(
            words::say(|w| w.demo_account, &[("name", &me.user.name)]),
            serde_json::json!({"account": me.user.name, "stored": false}),
        );
        return Ok(());
    }
    let accounts = accounts(false)?;
    let keychain = OsKeychain::default();
    let added = signin::add_account(&accounts, &keychain, &cfg, key.clone(), make_default)
        .await
        .map_err(add_fail)?;
    // The one key a release before accounts kept, when it is this one: kept under the
    // account now.
    let legacy = keychain.slot(&Slot::Legacy);
    if legacy
        .get()
        .ok()
        .flatten()
        .is_some_and(|k| k.expose_secret() == key.expose_secret())
    {
        let _ = legacy.delete();
    }
    let k = &added.account;
    if login {
        out.emit(
            words::say(|w| w.signed_in, &[("name", &k.name), ("id", &k.id)]),
            serde_json::json!({"account": k.name, "id": k.id, "stored": true}),
        );
        return Ok(());
    }
    let what = words::say(
        if added.new {
            |w| w.added
        } else {
            |w| w.already_known
        },
        &[("shown", &k.shown()), ("id", &k.id)],
    );
    let default = match (
        added.current,
        accounts.current().and_then(|c| accounts.get(&c)),
    ) {
        (true, _) => words::w().is_default.to_string(),
        (false, Some(c)) => words::say(
            |w| w.still_default,
            &[
                ("name", &printable(c.shown())),
                ("this", &format!("{:?}", k.shown())),
            ],
        ),
        (false, None) => String::new(),
    };
    out.emit(
        format!("{what}{default}"),
        serde_json::json!({"added": k.id, "name": k.name, "label": k.label,
            "new": added.new, "current": added.current, "stored": true}),
    );
    Ok(())
}

/// Removes the default account's key (or `--account`'s) from the keychain; it is signed
/// out, its state stays.
pub fn logout(out: &Out, pick: &Pick) -> Result<(), Fail> {
    if pick.demo {
        out.emit(
            words::w().demo_logout,
            serde_json::json!({"signed_out": false}),
        );
        return Ok(());
    }
    let accounts = accounts(false)?;
    let keychain = OsKeychain::default();
    let other = match &pick.account {
        Some(_) => chosen(&accounts, pick.account.as_deref())?
            .filter(|k| Some(&k.id) != accounts.current().as_ref()),
        None => None,
    };
    match other {
        // Another account than the default: its key goes, the default stays signed in.
        Some(k) => keychain
            .slot(&Slot::Account(k.id))
            .delete()
            .map_err(|e| Fail::coded(3, "keychain", e.to_string()))?,
        None => signin::sign_out(&accounts, &keychain)
            .map_err(|e| Fail::coded(3, "keychain", e.to_string()))?,
    }
    out.emit(
        words::w().signed_out,
        serde_json::json!({"signed_out": true}),
    );
    Ok(())
}

pub fn whoami(s: &Session) -> Result<(), Fail> {
    let me = s.engine.me();
    let p = &me.user.plan;
    s.out.emit(
        words::say(
            |w| w.whoami,
            &[
                ("name", &printable(&me.user.name)),
                ("id", &printable(&me.user.id)),
                ("plan", &printable(&p.name)),
                ("mb", &p.memory.limit),
                ("quota", &p.daily_snapshot_quota()),
            ],
        ),
        serde_json::json!({"id": me.user.id, "name": me.user.name, "plan": p.name, "memory_mb": p.memory.limit, "daily_quota": p.daily_snapshot_quota()}),
    );
    Ok(())
}
