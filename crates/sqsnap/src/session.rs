//! What every command that talks to Square Cloud starts with: the engine's configuration
//! (the demo's simulator with `--demo`), the key, the engine, Ctrl-C.

use crate::cli::Cli;
use crate::exit::Fail;
use crate::say::{self, Out};
use snapshots::accounts::Accounts;
use snapshots::secret::OsKeychain;
use snapshots::signin;
use snapshots::statedir::StateDir;
use snapshots::{Engine, EngineConfig, EventSink, default_data_dir};
use std::collections::HashMap;
use std::path::PathBuf;
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
    Accounts::open(&root).map_err(|e| Fail(7, format!("{}: {e}", root.display())))
}

/// Where commands that need no key find the state: the signed-in account's folder (or
/// the state of a release before accounts, not moved yet).
pub fn offline_dir(demo: bool) -> Result<PathBuf, Fail> {
    let a = accounts(demo)?;
    Ok(a.offline_dir().unwrap_or_else(|| a.root().to_path_buf()))
}

/// Refuses `--demo` in a build without it, saying so, before anything else is done.
pub fn check_demo(cli: &Cli) -> Result<(), Fail> {
    if cli.demo && !cfg!(feature = "demo") {
        return Err(Fail(
            2,
            "--demo is not built into this sqsnap (it was built without the `demo` feature). Nothing was done.".into(),
        ));
    }
    Ok(())
}

/// The data dir's state, locked per change.
pub fn state(dir: &std::path::Path) -> Result<StateDir, Fail> {
    StateDir::open(dir).map_err(|e| Fail(7, format!("{}: {e}", dir.display())))
}

pub async fn setup(cli: &Cli) -> Result<(EngineConfig, Option<Demo>), Fail> {
    #[cfg(feature = "demo")]
    if cli.demo {
        let demo = Demo::start(None)
            .await
            .map_err(|e| Fail(5, format!("cannot start the demo simulator: {e}")))?;
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
    names: HashMap<String, String>,
    /// Dropped after the engine.
    _demo: Option<Demo>,
}

impl Session {
    pub async fn open(cli: &Cli) -> Result<Session, Fail> {
        let (cfg, demo) = setup(cli).await?;
        let accounts = accounts(cli.demo)?;
        let mut engine = match crate::key::key(cli)? {
            // The keychain's: the signed-in account (or the key kept before accounts).
            None => signin::resume(&accounts, &OsKeychain::default(), &cfg)
                .await
                .map_err(|e| match e {
                    signin::SignInError::Engine(e) => Fail::from(e),
                    signin::SignInError::Keychain(e) => Fail(3, e.to_string()),
                })?
                .ok_or_else(crate::key::not_signed_in)?,
            Some(key) => signin::connect_with(&accounts, &cfg, key).await?,
        };
        // The account's encryption key, for folders that keep copies encrypted.
        engine = engine.with_keychain(std::sync::Arc::new(OsKeychain::default()));
        if cli.connections.is_some() || cli.limit_rate.is_some() {
            engine = engine.with_transfer(cli.connections.map(usize::from), cli.limit_rate);
        }
        for r in engine.recovered() {
            say::err(&format!("note: {r}"));
        }
        let names = engine
            .resources()
            .into_iter()
            .map(|r| (r.id, r.name))
            .collect();
        let cancel = CancellationToken::new();
        say::stop_when_output_closes(cancel.clone());
        let c2 = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                c2.cancel();
            }
        });
        Ok(Session {
            engine,
            out: Out { json: cli.json },
            cancel,
            demo: cli.demo,
            names,
            _demo: demo,
        })
    }

    /// Where the engine's events go while a command works.
    pub fn sink(&self) -> EventSink {
        crate::progress::sink(self.out.json, self.names.clone())
    }
}
