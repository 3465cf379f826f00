//! A local, faithful stand-in for the Square Cloud API v2 and its snapshot file host.
//!
//! Tests start it in-process on free loopback ports ([`Simulator::start`]); the
//! `squarecloud-sim` binary serves it for curl, the CLI and the app. It serves one account
//! or several, each opened by its own key and with its own resources, quota, windows and
//! per-minute cap ([`SimConfig::with_account`]), and workspaces that share applications
//! between them ([`WorkspaceSpec`]; what is confirmed and what inferred is said there). It
//! serves the account, application, database and workspace routes, snapshot list/create/restore with the documented
//! envelopes, codes and limits (per-account and per-resource create windows, the rolling
//! daily quota, a per-minute cap, blocks for bad keys), slow creates that answer 202, cached
//! lists, and a file host with signed, expiring URLs, `Range` and real zip bodies streamed
//! from a description, and commits (`POST /v2/apps/{id}/commit`) that add an uploaded zip's
//! files to an application, which its later snapshots hold, and uploads (`POST /v2/apps`)
//! that create one from a zip holding its configuration. Faults are injectable per
//! request and every request is recorded.

pub mod appconfig;
mod clock;
mod data;
pub mod demo;
pub mod faults;
mod model;
mod server;
mod workspace;
pub mod zipgen;

pub use clock::SimClock;
pub use data::SimData;
pub use demo::{DEMO_CLIENT_KEY, DEMO_KEY};
pub use faults::{FaultKind, FaultSpec, Target};
pub use model::{AccountSpec, KeyedAccount, Limits, ResourceSpec, SimConfig, WindowRule};
pub use server::RecordedRequest;
pub use workspace::{MemberSpec, WorkspaceGroup, WorkspaceSpec};

use axum::serve::ListenerExt;
use server::Shared;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A running simulator. Dropping it stops both servers.
pub struct Simulator {
    shared: Arc<Shared>,
    api_addr: SocketAddr,
    files_addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("api", &self.api_url())
            .field("files", &self.files_url())
            .finish()
    }
}

impl Simulator {
    /// Binds the API and the file host on 127.0.0.1 (port 0 = any free port) and serves them
    /// on the current Tokio runtime. Accounts or workspaces that [`SimConfig::check`] finds
    /// ambiguous are an `InvalidInput` error.
    pub async fn start(config: SimConfig) -> std::io::Result<Self> {
        config
            .check()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let api = TcpListener::bind(("127.0.0.1", config.api_port)).await?;
        let files = TcpListener::bind(("127.0.0.1", config.files_port)).await?;
        let api_addr = api.local_addr()?;
        let files_addr = files.local_addr()?;
        let shared = Arc::new(Shared::new(config, format!("http://{files_addr}")));
        let api_app = server::api_router(shared.clone());
        let files_app = server::files_router(shared.clone());
        // Nagle's algorithm off, as on the web servers and storage hosts the simulator stands
        // in for (nginx, Go's and Node's servers, S3): with it on, the last small piece of each
        // answer waits for the client's delayed ACK, 40 ms on Linux.
        let no_delay = |s: &mut tokio::net::TcpStream| {
            let _ = s.set_nodelay(true);
        };
        let (api, files) = (api.tap_io(no_delay), files.tap_io(no_delay));
        let tasks = vec![
            tokio::spawn(async move {
                let _ = axum::serve(api, api_app).await;
            }),
            tokio::spawn(async move {
                // The peer's address tells a distant host's new connections from kept ones.
                let files_app =
                    files_app.into_make_service_with_connect_info::<std::net::SocketAddr>();
                let _ = axum::serve(files, files_app).await;
            }),
        ];
        Ok(Self {
            shared,
            api_addr,
            files_addr,
            tasks,
        })
    }

    /// The API base URL, ending in `/v2`.
    pub fn api_url(&self) -> String {
        format!("http://{}/v2", self.api_addr)
    }

    /// The file host's base URL.
    pub fn files_url(&self) -> String {
        format!("http://{}", self.files_addr)
    }

    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    pub fn clock(&self) -> &SimClock {
        &self.shared.clock
    }

    /// Moves the simulated clock forward.
    pub fn advance(&self, by: Duration) {
        self.shared.clock.advance(by);
    }

    /// Adds a fault for the next matching requests.
    pub fn inject(&self, fault: FaultSpec) {
        self.lock().faults.push(fault);
    }

    /// Body bytes the file host has sent so far (what a resume re-sends shows here).
    pub fn file_bytes_served(&self) -> u64 {
        self.shared
            .served
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Drops every fault not yet used up.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// The id of the account a resource belongs to.
    pub fn owner_of(&self, resource_id: &str) -> Option<String> {
        let st = self.lock();
        let r = st.resources.iter().find(|r| r.spec.id == resource_id)?;
        Some(self.shared.config.account_at(r.owner).id.clone())
    }

    /// How many of an account's daily snapshots are spent (creates within the quota's
    /// rolling window, as of the simulated clock, whichever resource they were of); none for
    /// an unknown account.
    pub fn quota_used(&self, account_id: &str) -> Option<usize> {
        let now = self.shared.clock.now();
        let window = self.shared.config.limits.quota_window;
        let who = self
            .shared
            .config
            .accounts()
            .position(|(_, a)| a.id == account_id)?;
        let mut st = self.lock();
        Some(server::in_window(
            &mut st.accounts[who].creates,
            now,
            window,
        ))
    }

    /// Every request received so far (control API calls excepted).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().log.clone()
    }

    /// The request log read for one account's key used on another's resource: how many API
    /// requests named a resource, and each API request that carried no account's key or the
    /// key of an account other than the named resource's owner ("METHOD path: why").
    pub fn key_crossings(&self) -> (usize, Vec<String>) {
        let resources: Vec<String> = self
            .shared
            .config
            .accounts()
            .flat_map(|(_, a)| a.applications.iter().chain(&a.databases))
            .map(|r| r.id.clone())
            .collect();
        let (mut named, mut crossed) = (0, Vec::new());
        for r in self.requests().iter().filter(|r| r.host == Target::Api) {
            let Some(who) = r.account.as_deref() else {
                crossed.push(format!("{} {}: no account's key", r.method, r.path));
                continue;
            };
            for id in resources.iter().filter(|id| r.path.contains(id.as_str())) {
                named += 1;
                let owner = self.owner_of(id);
                if owner.as_deref() != Some(who) {
                    crossed.push(format!(
                        "{} {}: account {who}'s key on {}'s resource",
                        r.method,
                        r.path,
                        owner.as_deref().unwrap_or("no account")
                    ));
                }
            }
        }
        (named, crossed)
    }

    pub fn clear_requests(&self) {
        self.lock().log.clear();
    }

    /// The archive served for a resource's version, as the file host streams it: read it
    /// piece by piece with `read_at` (large ones need not be held whole).
    pub fn archive_zip(&self, resource_id: &str, version_id: &str) -> Option<zipgen::VirtualZip> {
        let st = self.lock();
        let r = st.resources.iter().find(|r| r.spec.id == resource_id)?;
        let v = r.versions.iter().find(|v| v.id == version_id)?;
        Some(r.archive(v))
    }

    /// The whole archive currently served for a resource's version (tests of small ones).
    pub fn archive(&self, resource_id: &str, version_id: &str) -> Option<Vec<u8>> {
        let st = self.lock();
        let r = st.resources.iter().find(|r| r.spec.id == resource_id)?;
        let v = r.versions.iter().find(|v| v.id == version_id)?;
        Some(r.archive(v).to_vec())
    }

    /// An application's files as commits left them, by path (none for an unknown id or a
    /// database; empty before any commit).
    pub fn app_files(&self, app_id: &str) -> Option<BTreeMap<String, Vec<u8>>> {
        let st = self.lock();
        let r = st
            .resources
            .iter()
            .find(|r| r.spec.id == app_id && r.kind == server::Kind::App)?;
        Some(
            r.files
                .iter()
                .map(|(path, bytes)| (path.clone(), bytes.to_vec()))
                .collect(),
        )
    }

    /// The version ids of a resource, oldest first, including ones still being generated.
    pub fn versions(&self, resource_id: &str) -> Vec<String> {
        let st = self.lock();
        st.resources
            .iter()
            .find(|r| r.spec.id == resource_id)
            .map(|r| r.versions.iter().map(|v| v.id.clone()).collect())
            .unwrap_or_default()
    }

    /// The version ids made by creates, oldest first, including ones still being generated:
    /// not the seeded ones, nor the daily automatic ones that appear as the clock passes
    /// 03:00 UTC (a test with a fast clock, or run near that hour, sees those too).
    pub fn created_versions(&self, resource_id: &str) -> Vec<String> {
        let st = self.lock();
        st.resources
            .iter()
            .find(|r| r.spec.id == resource_id)
            .map(|r| {
                r.versions
                    .iter()
                    .filter(|v| v.origin == "manual")
                    .map(|v| v.id.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// How many commits to an application asked for a restart.
    pub fn app_restarts(&self, app_id: &str) -> u32 {
        let st = self.lock();
        st.resources
            .iter()
            .find(|r| r.spec.id == app_id)
            .map_or(0, |r| r.restarts)
    }

    /// The version a resource was last restored to (a restore was accepted).
    pub fn restored_to(&self, resource_id: &str) -> Option<String> {
        let st = self.lock();
        st.resources
            .iter()
            .find(|r| r.spec.id == resource_id)
            .and_then(|r| r.restored_to.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, server::State0> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
