//! The demo (`--demo` of the app and of `sqsnap`): a simulated Square Cloud account served
//! in-process by `squarecloud-sim`, with its own data dir so it never touches the real
//! library. Only in builds with the `demo` feature: the simulator is a test server, and
//! stays out of production builds without it.

use crate::engine::{EngineConfig, default_data_dir};
use crate::pacer::{Limits, ServerWindows};
use squarecloud::ApiKey;
use squarecloud_sim::{AccountSpec, SimConfig, Simulator};
use std::path::PathBuf;

/// The demo account's key: it opens the simulator and nothing else, so it is never stored.
pub const KEY: &str = "demo-key";

/// The demo key as the engine takes it.
pub fn key() -> ApiKey {
    ApiKey::new(KEY).expect("non-empty")
}

/// The second demo account's key (Cliente X, which owns the workspaces the demo account
/// is a member of; `start_with_workspaces` serves it).
pub fn client_key() -> ApiKey {
    ApiKey::new(squarecloud_sim::DEMO_CLIENT_KEY).expect("non-empty")
}

/// Where the demo keeps its state: beside the real one, never in it.
pub fn data_dir() -> PathBuf {
    default_data_dir().join("demo")
}

/// A running demo account; the simulator stops when this is dropped.
pub struct Demo {
    sim: Simulator,
}

impl Demo {
    /// Starts the demo account (eight applications and two databases), or one grown or cut
    /// to `resources` (to try a large account).
    pub async fn start(resources: Option<usize>) -> std::io::Result<Self> {
        let mut config = SimConfig::demo(KEY);
        if let Some(n) = resources {
            config.account = AccountSpec::demo_sized(n);
        }
        Ok(Self {
            sim: Simulator::start(config).await?,
        })
    }

    /// [`Demo::start`], the demo account also a member of two workspaces of another account
    /// (Cliente X): admin in one, view only in the other, each sharing one application (the
    /// window's demo, `make run`). A grown or cut account (`resources`) has none, so its
    /// list is exactly that size.
    pub async fn start_with_workspaces(resources: Option<usize>) -> std::io::Result<Self> {
        if resources.is_some() {
            return Self::start(resources).await;
        }
        Ok(Self {
            sim: Simulator::start(SimConfig::demo_accounts()).await?,
        })
    }

    /// The demo's API base URL.
    pub fn api_url(&self) -> String {
        self.sim.api_url()
    }

    /// An engine configuration for the demo, keeping its state in `data_dir`: the
    /// simulator's API and file host, and its windows on its clock.
    pub fn engine_config(&self, data_dir: impl Into<PathBuf>) -> EngineConfig {
        let mut cfg = EngineConfig::new(self.sim.api_url(), data_dir);
        cfg.files_url = Some(self.sim.files_url());
        cfg.limits = limits_of(&self.sim);
        cfg
    }
}

/// The engine's limits for a simulator: its windows, on its clock. The one mapping from
/// the simulator's limits to the engine's windows, so the demo, the engine's tests, the
/// app's tests and the pacing example cannot drift apart.
pub fn limits_of(sim: &Simulator) -> Limits {
    let l = &sim.config().limits;
    Limits::scaled(
        ServerWindows {
            account_gap: l.account_gap,
            resource_gap: l.resource_gap,
            quota_window: l.quota_window,
            rate_block: l.block,
            restore_gap: l.restore_gap,
            commit_gap: l.commit_gap,
        },
        sim.config().time_scale,
    )
}
