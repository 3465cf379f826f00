//! What every command that talks to Square Cloud starts with: the engine's configuration
//! (the demo's simulator with `--demo`), the key, the engine, Ctrl-C.

use crate::cli::Cli;
use crate::exit::Fail;
use crate::say::Whose;
use crate::say::{self, Out};
use crate::words;
use snapshots::accounts::AccountError;
use snapshots::accounts::{AccountId, Accounts, Known};
use snapshots::names::printable;
use snapshots::secret::OsKeychain;
use snapshots::signin;
use snapshots::squarecloud::ApiKey;
use snapshots::statedir::StateDir;
use snapshots::{Engine, EngineConfig, EventSink, default_data_dir};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;
use tokio_util::sync::CancellationToken;

/// The engine's demo of `--demo`, running until the command ends.
#[cfg(feature = "demo")]
pub use snapshots::demo::Demo;
/// Built without the `demo` feature: there is no demo to run.
#[cfg(not(feature = "demo"))]
pub enum Demo {}

/// Where this mode keeps its state: the demo has its own, so `--demo` never touches the
/// real library.
pub fn data_dir(demo: bool) -> PathBuf {
    #[cfg(feature = "demo")]
    if demo {
        return snapshots::demo::data_dir();
    }
    let _ = demo;
    default_data_dir()
}

/// The data dir's accounts (the demo's own with `--demo`).
pub fn accounts(demo: bool) -> Result<Accounts, Fail> {
    let root = data_dir(demo);
    Accounts::open(&root).map_err(|e| Fail::coded(7, "disk", format!("{}: {e}", root.display())))
}

/// `--demo` and `--account`: which data dir, and which of its accounts, a command works on.
#[derive(Debug, Clone)]
pub struct Pick {
    pub demo: bool,
    /// `--account`: an id, a label or a Square Cloud name.
    pub account: Option<String>,
}

impl Pick {
    pub fn of(cli: &Cli) -> Self {
        Self {
            demo: cli.demo,
            account: cli.account.clone(),
        }
    }
}

/// The known accounts as a person reads them: "Ana (111), Cliente X (222)".
pub fn listed(known: &[Known]) -> String {
    known
        .iter()
        .map(|k| format!("{} ({})", printable(k.shown()), k.id))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The account a command works on: `--account`'s (its id, label or name), else the
/// current one. `None` when no account is named, none is current and fewer than two are
/// known (signed out, or the state of a release before accounts). When several are known
/// and none is current, which one is not guessed: they are named, and the command stops.
pub fn chosen(accounts: &Accounts, name: Option<&str>) -> Result<Option<Known>, Fail> {
    if let Some(n) = name {
        return accounts.find(n).map(Some).map_err(account_fail);
    }
    if let Some(k) = accounts.current().and_then(|id| accounts.get(&id)) {
        return Ok(Some(k));
    }
    let known = accounts.known();
    if known.len() > 1 {
        return Err(Fail::says(
            2,
            |w| w.several_accounts,
            &[("accounts", &listed(&known))],
        ));
    }
    Ok(None)
}

/// Why an account named on the command line is not one, in the person's words.
pub fn account_fail(e: AccountError) -> Fail {
    let (m, name, which): (fn(&words::Words) -> &'static str, &String, &str) = match &e {
        AccountError::Unknown(n) => (|w| w.account_unknown, n, ""),
        AccountError::Ambiguous(n, which) => (|w| w.account_ambiguous, n, which),
        AccountError::BadLabel(n) => (|w| w.account_bad_label, n, ""),
        AccountError::LabelTaken(n) => (|w| w.account_label_taken, n, ""),
        AccountError::Disk(_) => return Fail::coded(7, "disk", e.to_string()),
    };
    let quoted = format!("{name:?}");
    Fail::says(2, m, &[("name", &quoted), ("which", &which)])
}

/// How the lines of a command on `account` name it.
pub fn whose(accounts: &Accounts, id: &str, name: &str) -> Whose {
    let known = accounts.known();
    let shown = known
        .iter()
        .find(|k| k.id.as_str() == id)
        .map_or(name, |k| k.shown())
        .to_string();
    Whose {
        id: id.to_string(),
        shown,
        named: known.len() > 1,
    }
}

/// Where a command that needs no key (verify, prune, offsite, key) works: the chosen
/// account and its folder, else the state of a release before accounts not moved yet.
pub struct Offline {
    pub account: Option<Known>,
    pub dir: PathBuf,
    pub whose: Option<Whose>,
}

pub fn offline(pick: &Pick) -> Result<Offline, Fail> {
    let a = accounts(pick.demo)?;
    Ok(match chosen(&a, pick.account.as_deref())? {
        Some(k) => Offline {
            dir: a.dir(&k.id),
            whose: Some(whose(&a, k.id.as_str(), &k.name)),
            account: Some(k),
        },
        None => Offline {
            dir: a.offline_dir().unwrap_or_else(|| a.root().to_path_buf()),
            account: None,
            whose: None,
        },
    })
}

/// The accounts a command over every account (`run-due`, `list --all-accounts`) works on,
/// in the order they were added; `None` when it works on one only (`--demo`, `--account`,
/// or fewer than two accounts known), which [`Session::open`] opens as any command's.
pub fn every(cli: &Cli) -> Result<Option<Vec<Known>>, Fail> {
    if cli.demo || cli.account.is_some() {
        return Ok(None);
    }
    let known = accounts(false)?.known();
    Ok((known.len() > 1).then_some(known))
}

/// A key given beside the keychain (key file, environment, systemd's credentials) and the
/// account it opens (one `/users/me`): over every account, that account uses it.
pub async fn given_key(cli: &Cli) -> Result<Option<(AccountId, ApiKey)>, Fail> {
    let Some(key) = crate::key::key(cli)? else {
        return Ok(None);
    };
    let (cfg, _demo) = setup(cli).await?;
    let (id, _) = signin::identify(&cfg, &key).await?;
    Ok(Some((id, key)))
}

/// One account's failure in a command over every account: said naming it (on standard
/// error, or as a JSON line with its `account`), and the command goes on.
pub fn account_failed(json: bool, whose: &Whose, f: &Fail) {
    if json {
        say::out_json(&whose.tag(serde_json::json!({"error": f.en, "exit_code": f.exit})));
    } else {
        say::err(&format!("sqsnap: {}", whose.line(&f.text)));
        say::said_detail(f.detail.as_deref());
    }
}

/// Refuses `--demo` in a build without it, saying so, before anything else is done.
pub fn check_demo(cli: &Cli) -> Result<(), Fail> {
    if cli.demo && !cfg!(feature = "demo") {
        return Err(Fail::says(2, |w| w.no_demo, &[]));
    }
    Ok(())
}

/// The data dir's state, locked per change.
pub fn state(dir: &std::path::Path) -> Result<StateDir, Fail> {
    StateDir::open(dir).map_err(|e| Fail::coded(7, "disk", format!("{}: {e}", dir.display())))
}

pub async fn setup(cli: &Cli) -> Result<(EngineConfig, Option<Demo>), Fail> {
    #[cfg(feature = "demo")]
    if cli.demo {
        let demo = Demo::start(None)
            .await
            .map_err(|e| Fail::says(5, |w| w.demo_failed, &[("error", &e)]))?;
        return Ok((demo.engine_config(data_dir(true)), Some(demo)));
    }
    let url = cli
        .api_url
        .clone()
        .unwrap_or_else(|| snapshots::squarecloud::DEFAULT_API_URL.into());
    Ok((EngineConfig::new(url, data_dir(false)), None))
}

/// A connected engine and what a command needs beside it.
pub struct Session {
    pub engine: Engine,
    pub out: Out,
    /// Cancelled by Ctrl-C, or when standard output's reader goes away.
    pub cancel: CancellationToken,
    /// `--demo`: the demo's own data dir.
    pub demo: bool,
    /// The account the engine works on, as its lines name it.
    pub whose: Whose,
    /// The account's folder of state.
    pub dir: PathBuf,
    names: HashMap<String, String>,
    /// Dropped after the engine.
    _demo: Option<Demo>,
}

/// Why signing in stopped, as an exit code and words.
pub fn signin_fail(e: signin::SignInError) -> Fail {
    match e {
        signin::SignInError::Engine(e) => Fail::from(e),
        signin::SignInError::Keychain(e) => Fail::coded(3, "keychain", e.to_string()),
    }
}

/// The keychain holds no key for an account that is known here.
pub fn no_key(k: &Known) -> Fail {
    Fail::says(
        3,
        |w| w.no_key_for,
        &[("name", &printable(k.shown())), ("id", &k.id)],
    )
}

/// One token for the whole run: Ctrl-C, or standard output's reader going away, stops
/// whatever works, whichever account it is for.
fn cancel_token() -> CancellationToken {
    static TOKEN: OnceLock<CancellationToken> = OnceLock::new();
    TOKEN
        .get_or_init(|| {
            let cancel = CancellationToken::new();
            say::stop_when_output_closes(cancel.clone());
            let c2 = cancel.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    c2.cancel();
                }
            });
            cancel
        })
        .clone()
}

impl Session {
    /// The engine of the account the command works on: a key given (key file,
    /// environment, systemd) opens its own account, which must be `--account`'s when that
    /// is given; otherwise the chosen account's key from the keychain.
    pub async fn open(cli: &Cli) -> Result<Session, Fail> {
        let (cfg, demo) = setup(cli).await?;
        let accounts = accounts(cli.demo)?;
        let engine = match crate::key::key(cli)? {
            Some(key) => {
                let want = match &cli.account {
                    Some(n) => Some(accounts.find(n).map_err(account_fail)?),
                    None => None,
                };
                let engine = signin::connect_with(&accounts, &cfg, key).await?;
                if let Some(k) = want
                    && engine.me().user.id != k.id.as_str()
                {
                    return Err(Fail::says(
                        2,
                        |w| w.key_other_account,
                        &[
                            ("them", &printable(&engine.me().user.name)),
                            ("their_id", &printable(&engine.me().user.id)),
                            ("want", &printable(k.shown())),
                            ("want_id", &k.id),
                        ],
                    ));
                }
                engine
            }
            None => match chosen(&accounts, cli.account.as_deref())? {
                Some(k) => signin::open(&accounts, &OsKeychain::default(), &cfg, &k.id)
                    .await
                    .map_err(signin_fail)?
                    .ok_or_else(|| no_key(&k))?,
                // The keychain's item of a release before accounts, if any.
                None => signin::resume(&accounts, &OsKeychain::default(), &cfg)
                    .await
                    .map_err(signin_fail)?
                    .ok_or_else(crate::key::not_signed_in)?,
            },
        };
        Self::around(cli, engine, &accounts, demo)
    }

    /// The engine of the known account `k` (commands over every account): with `given`,
    /// a key given on the command line's side when it is `k`'s, else its keychain key.
    pub async fn open_known(
        cli: &Cli,
        k: &Known,
        given: Option<&(AccountId, ApiKey)>,
    ) -> Result<Session, Fail> {
        let (cfg, demo) = setup(cli).await?;
        let accounts = accounts(cli.demo)?;
        let engine = match given {
            Some((id, key)) if id == &k.id => {
                signin::connect_with(&accounts, &cfg, key.clone()).await?
            }
            _ => signin::open(&accounts, &OsKeychain::default(), &cfg, &k.id)
                .await
                .map_err(signin_fail)?
                .ok_or_else(|| no_key(k))?,
        };
        Self::around(cli, engine, &accounts, demo)
    }

    fn around(
        cli: &Cli,
        mut engine: Engine,
        accounts: &Accounts,
        demo: Option<Demo>,
    ) -> Result<Session, Fail> {
        // The account's encryption key, for folders that keep copies encrypted.
        engine = engine.with_keychain(std::sync::Arc::new(OsKeychain::default()));
        if cli.connections.is_some() || cli.limit_rate.is_some() {
            engine = engine.with_transfer(cli.connections.map(usize::from), cli.limit_rate);
        }
        let me = engine.me();
        let whose = whose(accounts, &me.user.id, &me.user.name);
        for r in engine.recovered() {
            say::err(&whose.line(&words::say(|w| w.note, &[("text", &r)])));
        }
        let dir = match AccountId::new(me.user.id.clone()) {
            Ok(id) => accounts.dir(&id),
            Err(e) => return Err(Fail::coded(5, "api", e)),
        };
        let names = engine
            .resources()
            .into_iter()
            .map(|r| (r.id, r.name))
            .collect();
        Ok(Session {
            engine,
            out: Out::of(cli.json, Some(whose.clone())),
            cancel: cancel_token(),
            demo: cli.demo,
            whose,
            dir,
            names,
            _demo: demo,
        })
    }

    /// Where the engine's events go while a command works.
    pub fn sink(&self) -> EventSink {
        crate::progress::sink(self.out.json, self.names.clone(), Some(self.whose.clone()))
    }

    /// `f`'s failure naming the account when it must be.
    pub fn named(&self, f: Fail) -> Fail {
        f.after(|m| self.whose.line(m))
    }
}
