//! What every command that talks to Square Cloud starts with: the engine's configuration
//! (the demo's simulator with `--demo`), the key, the engine, Ctrl-C.

use crate::cli::Cli;
use crate::exit::Fail;
use crate::say::{self, Out};
use snapshots::statedir::StateDir;
use snapshots::{Engine, EngineConfig, EventSink, Limits, default_data_dir};
use std::collections::HashMap;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

/// The in-process simulator of `--demo`; dropped at exit.
pub struct Demo(#[allow(dead_code)] squarecloud_sim::Simulator);

/// Where this mode keeps its state: the demo has its own, so `--demo` never touches the
/// real library.
pub fn data_dir(demo: bool) -> PathBuf {
    let base = default_data_dir();
    if demo { base.join("demo") } else { base }
}

/// The data dir's state, locked per change.
pub fn state(dir: &std::path::Path) -> Result<StateDir, Fail> {
    StateDir::open(dir).map_err(|e| Fail(7, format!("{}: {e}", dir.display())))
}

pub async fn setup(cli: &Cli) -> Result<(EngineConfig, Option<Demo>), Fail> {
    if cli.demo {
        let sim = squarecloud_sim::Simulator::start(squarecloud_sim::SimConfig::demo("demo-key"))
            .await
            .map_err(|e| Fail(5, format!("cannot start the demo simulator: {e}")))?;
        let mut cfg = EngineConfig::new(sim.api_url(), data_dir(true));
        cfg.files_url = Some(sim.files_url());
        cfg.limits = Limits::matching(&sim.config().limits, sim.config().time_scale);
        return Ok((cfg, Some(Demo(sim))));
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
    names: HashMap<String, String>,
    /// Dropped after the engine.
    _demo: Option<Demo>,
}

impl Session {
    pub async fn open(cli: &Cli) -> Result<Session, Fail> {
        let (cfg, demo) = setup(cli).await?;
        let mut engine = Engine::connect(cfg, crate::key::key(cli)?).await?;
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
            names,
            _demo: demo,
        })
    }

    /// Where the engine's events go while a command works.
    pub fn sink(&self) -> EventSink {
        crate::progress::sink(self.out.json, self.names.clone())
    }
}
