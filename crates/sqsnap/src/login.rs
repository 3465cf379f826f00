//! `sqsnap login`, `logout` and `whoami`: the key in the keychain, and whose it is.

use crate::cli::Cli;
use crate::exit::Fail;
use crate::say::Out;
use crate::session::{Session, accounts, setup};
use snapshots::EngineConfig;
use snapshots::accounts::AccountId;
use snapshots::names::printable;
use snapshots::secret::{Keychain, OsKeychain, Slot};
use snapshots::signin;
use snapshots::squarecloud::{ApiKey, Client};
use std::io::{IsTerminal, Read};

/// Checks a key (typed hidden on a terminal, else read from stdin) and keeps it in the
/// keychain; the demo's is checked and never stored.
pub async fn login(cli: &Cli) -> Result<(), Fail> {
    let (cfg, _demo) = setup(cli).await?;
    check_and_keep(&Out { json: cli.json }, &cfg, cli.demo).await
}

async fn check_and_keep(out: &Out, cfg: &EngineConfig, demo: bool) -> Result<(), Fail> {
    let mut text = String::new();
    if std::io::stdin().is_terminal() {
        text = rpassword::prompt_password("Square Cloud API key (input hidden): ")
            .map_err(|e| Fail(2, e.to_string()))?;
    } else {
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Fail(2, e.to_string()))?;
    }
    let key = ApiKey::new(text).ok_or_else(|| Fail(2, "No key was given.".into()))?;
    #[cfg(feature = "demo")]
    let key = if demo { snapshots::demo::key() } else { key };
    let client = Client::new(&cfg.api_url, key.clone()).map_err(|e| Fail(2, e.to_string()))?;
    let me = client.me().await.map_err(|e| match e.code() {
        Some(c) if c.is_bad_key() => Fail(3, "Square Cloud refused this key. Copy a current key from your account's security page and try again. Nothing was stored.".into()),
        _ => Fail(5, format!("{e}. Nothing was stored.")),
    })?;
    if demo {
        out.emit(
            format!(
                "Demo account {} — the demo key is not stored.",
                me.user.name
            ),
            serde_json::json!({"account": me.user.name, "stored": false}),
        );
        return Ok(());
    }
    // The account's own folder and keychain item; it is the signed-in one now.
    let id = AccountId::new(me.user.id.clone()).map_err(|e| Fail(5, e))?;
    let accounts = accounts(false)?;
    accounts
        .enter(&id, &me.user.name)
        .map_err(|e| Fail(7, format!("{}: {e}", accounts.root().display())))?;
    let keychain = OsKeychain::default();
    keychain
        .slot(&Slot::Account(id))
        .set(&key)
        .map_err(|e| Fail(3, e.to_string()))?;
    // Kept under the account now: the item of the release before accounts goes.
    let _ = keychain.slot(&Slot::Legacy).delete();
    out.emit(
        format!(
            "Signed in as {} ({}); the key is in the OS keychain.",
            me.user.name, me.user.id
        ),
        serde_json::json!({"account": me.user.name, "id": me.user.id, "stored": true}),
    );
    Ok(())
}

pub fn logout(out: &Out) -> Result<(), Fail> {
    signin::sign_out(&accounts(false)?, &OsKeychain::default())
        .map_err(|e| Fail(3, e.to_string()))?;
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
