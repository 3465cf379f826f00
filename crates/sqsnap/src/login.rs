//! `sqsnap login`, `logout` and `whoami`: the key in the keychain, and whose it is. Login is
//! `sqsnap account add --use` with the key typed or piped in.

use crate::cli::Cli;
use crate::exit::Fail;
use crate::say::Out;
use crate::session::{Pick, Session, accounts, chosen, setup};
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
        text = rpassword::prompt_password("Square Cloud API key (input hidden): ")
            .map_err(|e| Fail(2, e.to_string()))?;
    } else {
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Fail(2, e.to_string()))?;
    }
    ApiKey::new(text).ok_or_else(|| Fail(2, "No key was given. Nothing was stored.".into()))
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
        signin::SignInError::Engine(e) if e.code() == "auth" => Fail(
            3,
            "Square Cloud refused this key. Copy a current key from your account's security page and try again. Nothing was stored.".into(),
        ),
        signin::SignInError::Engine(e) => {
            let Fail(code, msg) = Fail::from(e);
            Fail(code, format!("{msg} Nothing was stored."))
        }
        signin::SignInError::Keychain(e) => Fail(3, e.to_string()),
    }
}

/// Adds the account of `key`: `login` words its lines as it always did.
async fn add(cli: &Cli, key: ApiKey, make_default: bool, login: bool) -> Result<(), Fail> {
    let (cfg, _demo) = setup(cli).await?;
    let out = Out::new(cli.json);
    #[cfg(feature = "demo")]
    if cli.demo {
        let client = snapshots::squarecloud::Client::new(&cfg.api_url, snapshots::demo::key())
            .map_err(|e| Fail(2, e.to_string()))?;
        let me = client.me().await.map_err(|e| Fail(5, e.to_string()))?;
        out.emit(
            format!(
                "Demo account {} — the demo key is not stored.",
                me.user.name
            ),
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
            format!(
                "Signed in as {} ({}); the key is in the OS keychain.",
                k.name, k.id
            ),
            serde_json::json!({"account": k.name, "id": k.id, "stored": true}),
        );
        return Ok(());
    }
    let what = if added.new {
        format!(
            "Added {} ({}); its key is in the OS keychain.",
            k.shown(),
            k.id
        )
    } else {
        format!(
            "{} ({}) was already known here; its key in the keychain is this one now.",
            k.shown(),
            k.id
        )
    };
    let default = match (
        added.current,
        accounts.current().and_then(|c| accounts.get(&c)),
    ) {
        (true, _) => " It is the default account.".to_string(),
        (false, Some(c)) => format!(
            " The default account is still {}: use this one with --account {:?}, or make it the default with `sqsnap account use {:?}`.",
            printable(c.shown()),
            k.shown(),
            k.shown()
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
            "The demo key is never stored: there is nothing to sign out of.",
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
            .map_err(|e| Fail(3, e.to_string()))?,
        None => signin::sign_out(&accounts, &keychain).map_err(|e| Fail(3, e.to_string()))?,
    }
    out.emit(
        "Signed out: the key was removed from the keychain.",
        serde_json::json!({"signed_out": true}),
    );
    Ok(())
}

pub fn whoami(s: &Session) -> Result<(), Fail> {
    let me = s.engine.me();
    let p = &me.user.plan;
    s.out.emit(
        format!("{} ({}) — plan {} ({} MB), {} snapshots a day", printable(&me.user.name), printable(&me.user.id), printable(&p.name), p.memory.limit, p.daily_snapshot_quota()),
        serde_json::json!({"id": me.user.id, "name": me.user.name, "plan": p.name, "memory_mb": p.memory.limit, "daily_quota": p.daily_snapshot_quota()}),
    );
    Ok(())
}
