//! The engine: every decision the app and the CLI share, bound to one account. `Engine` is
//! a façade over rooms that each own their state:
//!
//! - `account.rs`: who the key belongs to, its resources, what their lists have shown;
//! - `quota.rs`: the ledger every process writes, and the quota it adds up to;
//! - `queue/`: the create pipeline (send, answer, refusal, finish) and its pause;
//! - `library/`: the index of downloaded files, retention, the shelf that fills it;
//! - `plans/`: the plan model and the runner;
//! - `putback.rs`: a copy we hold uploaded into an application (the commit route), and
//!   `putback_offsite.rs`: a copy kept in a bucket fetched for it, then removed;
//! - `types.rs`: what they all share (config, events, errors), importing none of them.
//!
//! The rooms import downwards only (plans → queue → library → quota → account → types); this
//! file is the one place that holds them all.

mod account;
pub mod library;
mod newapp;
pub mod plans;
mod putback;
mod putback_offsite;
mod queue;
mod quota;
mod sealing;
mod types;

pub use account::NEWEST_MAX_AGE;
pub use newapp::NewAppPlan;
pub use putback::{PutBack, PutBackOptions, PutBackPlan};
pub use putback_offsite::OffsiteCopy;
pub use sealing::{Encryption, recovery_file_name};
pub use types::{
    EngineConfig, EngineError, Event, EventSink, FRESH_SIZE_FLOOR, FRESH_SIZE_GROWTH, JobOutcome,
    JobResult, MeteredCheck, ResourceRef, SnapshotOptions, WorkspaceRef, default_data_dir,
};

use crate::download::{Downloaded, Downloader};
use crate::ledger::{Ledger, QuotaStatus};
use crate::offsite::access::OffsiteAccess;
use crate::pacer::Limits;
use crate::settings::Settings;
use crate::statedir::StateDir;
use crate::store::Recovered;
use account::Account;
use chrono::{DateTime, Local};
use library::{Library, PruneReport, Shelf};
use plans::{Plan, PlanError, PlanRun, PlanStore, Plans, Runner, StalePlan};
use queue::{Pipeline, Queue};
use quota::Quota;
use squarecloud::{ApiKey, Client, Me, RequestBudget, SnapshotItem};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
pub(crate) use types::state_error;

/// Share of the plan's per-minute cap that every process on this data dir uses together
/// (their calls are counted in one record, `calls.rs`): the rest is left for the user's
/// other tools (the dashboard, a bot) on the same account.
const BUDGET_SHARE: f64 = 0.75;

/// The engine, bound to one account.
pub struct Engine {
    limits: Limits,
    account: Account,
    quota: Quota,
    shelf: Shelf,
    line: Pipeline,
    plans: PlanStore,
    recovered: Vec<Recovered>,
    state: Arc<StateDir>,
    /// How plan runs reach the offsite destinations (the app's and `sqsnap`'s keychain).
    offsite: std::sync::RwLock<Option<Arc<dyn OffsiteAccess>>>,
}

impl Engine {
    /// Checks the key with `/users/me` and loads the persisted state. Sends nothing while a
    /// `RATE_LIMITED` block recorded by any process is in force.
    pub async fn connect(cfg: EngineConfig, key: ApiKey) -> Result<Self, EngineError> {
        let state =
            Arc::new(StateDir::open(&cfg.data_dir).map_err(|e| state_error(&cfg.data_dir, e))?);
        Quota::check_block(&state, &cfg)?;
        let client = shared_client(&cfg, key, &state)?;
        let me = match client.me().await {
            Ok(me) => me,
            Err(e) if e.is_account_block() => {
                return Err(Quota::record_block_at_start(&state, &cfg));
            }
            Err(e) => return Err(EngineError::from_api(e)),
        };
        let cap =
            squarecloud::limits::requests_per_minute(&me.user.plan.name, me.user.plan.memory.limit);
        client
            .budget()
            .set_per_window(((cap as f64) * BUDGET_SHARE).floor().max(1.0) as u32);
        Shelf::load(&state, &cfg.data_dir)?;
        let recovered = state.take_recovered();
        let owner = me.user.id.clone();
        let account = Account::new(client, me.clone(), cfg.limits.clone());
        account.refresh_shared(&me).await;
        Ok(Self {
            limits: cfg.limits.clone(),
            account,
            quota: Quota::new(state.clone(), &cfg),
            shelf: Shelf::new(state.clone(), &cfg).owned_by(&owner),
            line: Pipeline::new(&cfg),
            plans: PlanStore::new(state.clone(), &cfg),
            recovered,
            state,
            offsite: std::sync::RwLock::new(None),
        })
    }

    /// Connections per snapshot (1–8) and a total rate in bytes a second, for this engine
    /// only (the CLI's `--connections` and `--limit-rate`); otherwise the settings decide.
    pub fn with_transfer(mut self, connections: Option<usize>, limit_rate: Option<u64>) -> Self {
        self.shelf.set_transfer(connections, limit_rate);
        self
    }

    /// Replaces the downloader (tests shorten its timeouts).
    pub fn with_downloader(mut self, d: Downloader) -> Self {
        self.shelf.set_downloader(d);
        self
    }

    /// The queue, with the rooms it sends through.
    fn queue(&self) -> Queue<'_> {
        Queue::new(&self.account, &self.quota, &self.shelf, &self.line)
    }

    /// The plan runner, with the rooms a run goes through.
    fn runner(&self) -> Runner<'_> {
        Runner::new(
            &self.account,
            &self.quota,
            &self.shelf,
            self.queue(),
            &self.plans,
            self.offsite
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }

    /// How plan runs reach the account's offsite destinations: a plan that names one
    /// uploads its copies there as part of its run. Without it, that step says it could
    /// not reach the destination, and a plan that keeps its copies there only keeps them
    /// waiting on this computer.
    pub fn set_offsite(&self, access: Arc<dyn OffsiteAccess>) {
        *self.offsite.write().unwrap_or_else(|e| e.into_inner()) = Some(access);
    }

    /// How to tell a metered connection (none: never metered).
    pub fn set_metered_check(&self, check: MeteredCheck) {
        self.shelf.set_metered_check(check);
    }

    /// Pauses or resumes the queue: while paused no create is sent and no download starts;
    /// what is already running finishes.
    pub fn set_paused(&self, paused: bool) {
        self.line.set_paused(paused);
    }

    pub fn is_paused(&self) -> bool {
        self.line.is_paused()
    }

    /// Follows the pause: an offsite sync waits on it before each upload.
    pub fn pause_watch(&self) -> tokio::sync::watch::Receiver<bool> {
        self.line.pause_watch()
    }

    /// The account's state dir (its library, `offsite.json`, the `fetched/` folder).
    pub(crate) fn state_dir(&self) -> &StateDir {
        &self.state
    }

    /// State files that were unreadable at start and kept aside.
    pub fn recovered(&self) -> &[Recovered] {
        &self.recovered
    }

    pub fn client(&self) -> &Client {
        self.account.client()
    }

    pub fn me(&self) -> Me {
        self.account.me()
    }

    pub async fn refresh(&self) -> Result<Me, EngineError> {
        self.account.refresh().await
    }

    /// Why the last refresh could not read the workspaces shared with the account (`None`:
    /// it could); their applications are then left out, the account's own listed as usual.
    pub fn workspaces_error(&self) -> Option<String> {
        self.account.workspaces_error()
    }

    /// Every application and database of the account, and the applications workspaces
    /// share with it (each with its workspace and the account's role there).
    pub fn resources(&self) -> Vec<ResourceRef> {
        self.account.resources()
    }

    pub fn resource(&self, id: &str) -> Result<ResourceRef, EngineError> {
        self.account.resource(id)
    }

    /// The windows and timeouts this engine keeps.
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The ledger as the other processes left it.
    pub fn ledger(&self) -> Ledger {
        self.quota.ledger()
    }

    /// Reloads the ledger under the lock, changes it and writes it.
    pub(crate) fn update_ledger<R>(
        &self,
        f: impl FnOnce(&mut Ledger) -> R,
    ) -> Result<R, EngineError> {
        self.quota.update_ledger(f)
    }

    pub fn quota(&self) -> QuotaStatus {
        self.quota.status(&self.account)
    }

    /// Reads every resource's list (no quota spent) and counts manual snapshots made
    /// elsewhere, so `used` becomes known rather than estimated.
    pub async fn reconcile_quota(&self) -> Result<QuotaStatus, EngineError> {
        self.quota.reconcile(&self.account).await
    }

    /// A resource's server snapshots, newest first. Costs no quota.
    pub async fn versions(&self, r: &ResourceRef) -> Result<Vec<SnapshotItem>, EngineError> {
        self.account.versions(r).await
    }

    /// The most a freshly created snapshot of `id` may weigh: its download has no listed
    /// size, and a host that never stops sending must not fill the disk. Four times the
    /// largest snapshot of the resource seen (listed, or in the library), and never less
    /// than [`EngineConfig::fresh_size_floor`].
    pub fn fresh_size_cap(&self, id: &str) -> u64 {
        self.shelf.fresh_size_cap(&self.account, id)
    }

    /// When each resource's newest snapshot on the server was taken, for the resources this
    /// engine has learnt it of (`None`: the server has none), see
    /// [`Engine::refresh_newest`]. No request is sent.
    pub fn newest_known(&self) -> HashMap<String, Option<DateTime<chrono::Utc>>> {
        self.account.newest_known()
    }

    /// Learns the newest server snapshot of every resource not learnt in the last
    /// `max_age` (one or two account-wide listings when the plan offers them, otherwise one
    /// per resource, a few at a time). Returns whether anything changed. Costs no quota.
    pub async fn refresh_newest(&self, max_age: Duration) -> Result<bool, EngineError> {
        self.account.refresh_newest(max_age).await
    }

    pub fn settings(&self) -> Settings {
        self.shelf.settings()
    }

    /// Changes the settings by reloading them under the lock first, so a change another
    /// process made meanwhile is kept.
    pub fn update_settings(&self, f: impl FnOnce(&mut Settings)) -> Result<Settings, EngineError> {
        self.shelf.update_settings(f)
    }

    /// The library, each entry naming its account (an entry from before accounts were
    /// told apart is this engine's account's).
    pub fn library(&self) -> Library {
        let lib = self.shelf.library();
        match self.shelf.owner() {
            Some(id) => lib.owned_by(id),
            None => lib,
        }
    }

    /// Checks a file again (full CRC check with `full`).
    pub async fn verify(&self, path: &Path, full: bool) -> Result<(), EngineError> {
        self.shelf.verify(path, full).await
    }

    /// Applies the retention rules (the settings' unless given). At least one copy of each
    /// resource is always kept.
    pub fn prune(
        &self,
        keep_last: Option<u32>,
        keep_days: Option<u32>,
    ) -> Result<PruneReport, EngineError> {
        self.shelf.prune(keep_last, keep_days)
    }

    /// The folder `r`'s downloads go to (`over`, else the settings'), unchecked.
    pub(crate) fn dest_for(
        &self,
        r: &ResourceRef,
        over: Option<&Path>,
    ) -> Result<PathBuf, EngineError> {
        self.shelf.dest_for(r, over)
    }

    /// Downloads a server snapshot (the newest, or `version`). Costs no quota.
    pub async fn download(
        &self,
        r: &ResourceRef,
        version: Option<&str>,
        dest: Option<&Path>,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> Result<Downloaded, EngineError> {
        let dir = self.shelf.checked_dest(r, dest)?;
        if !self.line.wait_while_paused(&events, cancel).await {
            return Err(EngineError::Cancelled);
        }
        let list = self.account.versions(r).await?;
        let item = match version {
            Some(v) => list.iter().find(|i| i.version().as_deref() == Some(v)),
            None => list.first(),
        }
        .ok_or_else(|| EngineError::NoSnapshot(r.name.clone()))?
        .clone();
        self.shelf
            .fetch_item(&self.account, r, &dir, &item, events, cancel)
            .await
    }

    /// Records each download until it ends (the app): a quit or a logout in the middle is
    /// gone on with by [`Engine::resume_unfinished`] at the next start.
    pub fn keep_unfinished(&self, on: bool) {
        self.shelf.keep_unfinished(on);
    }

    /// The user stopped every transfer: nothing is gone on with at the next start (the
    /// `.part` files stay, and the next download of the same snapshot still resumes).
    pub fn forget_unfinished(&self) -> Result<(), EngineError> {
        self.shelf.forget_unfinished()
    }

    /// Goes on with every recorded download, one after another, each into the folder it
    /// had (from its `.part`, with `Range`). A snapshot Square Cloud no longer lists, or a
    /// resource gone from the account, is forgotten; a stop keeps the rest for next time.
    pub async fn resume_unfinished(
        &self,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> Vec<(String, Result<Downloaded, EngineError>)> {
        let mut done = Vec::new();
        for d in self.shelf.unfinished() {
            if cancel.is_cancelled() {
                break;
            }
            let got = match self.resource(&d.resource_id) {
                Ok(r) => {
                    self.download(&r, Some(&d.version), Some(&d.dir), events.clone(), cancel)
                        .await
                }
                Err(e) => Err(e),
            };
            if got
                .as_ref()
                .err()
                .is_some_and(|e| !library::unfinished::worth_resuming(e))
            {
                let _ = self.shelf.end_unfinished(d.clone()).await;
            }
            done.push((d.resource_id.clone(), got));
        }
        done
    }

    /// Stops watching the list for `resource`'s new snapshot (a slow create, or one whose
    /// answer was lost): its job ends with [`EngineError::StoppedWaiting`]. Nothing is sent,
    /// and the quota stays counted. False when nothing of it is being watched.
    pub fn stop_waiting(&self, resource: &str) -> bool {
        self.line.stop_waiting(resource)
    }

    /// Takes a snapshot of each resource, sending no create the server would refuse, and
    /// downloads each one as it is ready (up to three at a time) when asked to.
    pub async fn snapshot(
        &self,
        targets: Vec<ResourceRef>,
        opts: SnapshotOptions,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> Vec<JobResult> {
        self.queue().snapshot(targets, opts, events, cancel).await
    }

    /// The rate limit downloads hold now, for an offsite upload to share (`None`: no limit).
    pub fn rate_limit(&self) -> Option<std::sync::Arc<crate::download::RateLimit>> {
        self.shelf.rate_limit()
    }

    pub fn plans(&self) -> Plans {
        self.plans.plans()
    }

    /// Changes the plans under the lock.
    pub fn update_plans<R>(&self, f: impl FnOnce(&mut Plans) -> R) -> Result<R, EngineError> {
        self.plans.update_plans(f)
    }

    /// Adds a plan after checking it fits in the quota, and that the offsite destination it
    /// names is one of the account's.
    pub fn add_plan(&self, plan: Plan) -> Result<Result<(), PlanError>, EngineError> {
        if let Err(e) = self.check_offsite(&plan) {
            return Ok(Err(e));
        }
        let (n, quota) = (self.account.resources().len(), self.account.daily_quota());
        self.plans
            .update_plans(|p| p.add(plan, n, quota, Local::now()))
    }

    /// Changes where the plan named `id` keeps its copies: on this computer (`offsite`
    /// `None`), in that offsite destination only (`only`), or both. Its runs so far stay.
    pub fn set_plan_copies(
        &self,
        id: &str,
        offsite: Option<String>,
        only: bool,
    ) -> Result<Result<Plan, PlanError>, EngineError> {
        let Some(mut plan) = self.plans().plans.into_iter().find(|p| p.id == id) else {
            return Ok(Err(PlanError::Unknown(id.into())));
        };
        plan.offsite = offsite;
        plan.offsite_only = only;
        if only {
            // No folder on this computer: its copies wait in the account's outbox.
            plan.dest = None;
        }
        if let Err(why) = plan.validate() {
            return Ok(Err(PlanError::Invalid(format!(
                "{why} Nothing was changed."
            ))));
        }
        if let Err(e) = self.check_offsite(&plan) {
            return Ok(Err(e));
        }
        self.plans
            .update_plans(|p| match p.plans.iter_mut().find(|q| q.id == id) {
                Some(q) => {
                    *q = plan.clone();
                    Ok(plan)
                }
                None => Err(PlanError::Unknown(id.into())),
            })
    }

    /// Refuses a plan whose offsite destination is not one of the account's.
    fn check_offsite(&self, plan: &Plan) -> Result<(), PlanError> {
        let Some(name) = &plan.offsite else {
            return Ok(());
        };
        let all: crate::offsite::Offsites = self
            .shelf
            .state()
            .read(crate::offsite::OFFSITE)
            .unwrap_or_default();
        match all.get(name) {
            Some(_) => Ok(()),
            None => Err(PlanError::Invalid(format!(
                "No offsite destination named {name}: add it first. Nothing was saved."
            ))),
        }
    }

    /// Runs every plan due at `now`, once per period, then returns what each did. A run
    /// that was killed or stopped is finished by the next call, without what it had done.
    pub async fn run_due(
        &self,
        now: DateTime<chrono::Utc>,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> Result<Vec<PlanRun>, EngineError> {
        self.runner().run_due(now, events, cancel).await
    }

    /// The plans with no successful run for longer than [`plans::STALE_AFTER_DAYS`] at
    /// `now`: the app's tray and `sqsnap run-due` warn of the same ones.
    pub fn stale_plans(&self, now: DateTime<chrono::Utc>) -> Vec<StalePlan> {
        self.plans.plans().stale(now)
    }

    /// The files the plan's next prune would delete, with their sizes.
    pub fn retention_preview(&self, plan: &Plan) -> Vec<(PathBuf, u64)> {
        self.runner().retention_preview(plan)
    }

    /// The ids of the resources a plan covers now: those its retention applies to, here
    /// and in its offsite destination.
    pub fn plan_resources(&self, plan: &Plan) -> Vec<String> {
        self.runner().plan_resources(plan)
    }
}

/// The API client, with one request budget and one block for every process on this data
/// dir.
fn shared_client(
    cfg: &EngineConfig,
    key: ApiKey,
    state: &Arc<StateDir>,
) -> Result<Client, EngineError> {
    let mut client =
        Client::new(&cfg.api_url, key).map_err(|e| EngineError::Config(e.to_string()))?;
    if let Some(f) = &cfg.files_url {
        client = client.with_files_base(f);
    }
    let budget = Arc::new(
        RequestBudget::with_window(
            squarecloud::limits::requests_per_minute("", 0),
            cfg.limits.minute,
        )
        .with_shared(Arc::new(crate::calls::SharedCallLog::new(
            state.clone(),
            cfg.api_url.clone(),
        ))),
    );
    Ok(client
        .with_budget(budget)
        .with_rate_block(cfg.limits.rate_block))
}

/// The queue's future must be `Send`, for the app's commands and `tokio::spawn`.
#[allow(dead_code)]
fn snapshot_future_is_send(e: &Engine, events: EventSink, cancel: &CancellationToken) {
    fn is_send<T: Send>(_: T) {}
    is_send(e.snapshot(Vec::new(), SnapshotOptions::default(), events, cancel));
}
