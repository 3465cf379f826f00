//! The engine: every decision the app and the CLI share. It owns the account, the state
//! files (under one lock shared with other processes), server lists, downloads and the
//! library. The create queue lives in `queue.rs`, the windows in `pacer.rs`.

use crate::download::{DownloadError, DownloadTarget, Downloaded, Downloader, Progress};
use crate::ledger::{Ledger, QuotaStatus};
use crate::library::{Library, LibraryEntry, PruneReport};
use crate::names::snapshot_file_name;
use crate::pacer::{Latency, Limits, WaitReason, chrono_d, sleep_until};
use crate::queue::JobSlot;
use crate::settings::{Settings, validate_folder};
use crate::statedir::StateDir;
use crate::store::Recovered;
use crate::verify::VerifyError;
use chrono::{DateTime, Utc};
use serde::Serialize;
use squarecloud::{
    ApiError, ApiKey, Client, ErrorCode, Me, RequestBudget, ResourceKind, SnapshotItem,
};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Where the engine talks to and keeps its state.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub api_url: String,
    /// The file host for list items without `url` (default: Square Cloud's).
    pub files_url: Option<String>,
    /// Settings, ledger and library live here.
    pub data_dir: PathBuf,
    pub limits: Limits,
    /// The least a freshly created snapshot, whose size no list has given, may weigh before
    /// its download is stopped: see [`Engine::fresh_size_cap`].
    pub fresh_size_floor: u64,
}

/// [`EngineConfig::fresh_size_floor`]'s default: more than any application's upload.
pub const FRESH_SIZE_FLOOR: u64 = 2 * 1024 * 1024 * 1024;
/// A fresh snapshot may weigh this many times the largest one of its resource seen so far.
pub const FRESH_SIZE_GROWTH: u64 = 4;

impl EngineConfig {
    pub fn new(api_url: impl Into<String>, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            api_url: api_url.into(),
            files_url: None,
            data_dir: data_dir.into(),
            limits: Limits::default(),
            fresh_size_floor: FRESH_SIZE_FLOOR,
        }
    }
}

/// The OS app data dir (`SQSNAP_DATA_DIR` overrides it).
pub fn default_data_dir() -> PathBuf {
    if let Ok(d) = std::env::var("SQSNAP_DATA_DIR")
        && !d.is_empty()
    {
        return d.into();
    }
    directories::ProjectDirs::from("app", "squaresnapshots", "Square Snapshots")
        .map(|p| p.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".square-snapshots"))
}

/// An application or a database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceRef {
    pub kind: ResourceKind,
    pub id: String,
    pub name: String,
}

/// Every state change of a job, for a UI or a terminal to show.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Waiting {
        resource: String,
        until: DateTime<Utc>,
        reason: WaitReason,
    },
    PausedForQuota {
        until: Option<DateTime<Utc>>,
        /// The resources whose snapshots are held for the quota.
        held: Vec<String>,
    },
    RateLimited {
        until: DateTime<Utc>,
    },
    /// The create was sent at `since`; Square Cloud is preparing the archive.
    Creating {
        resource: String,
        since: DateTime<Utc>,
    },
    /// Still preparing past the server's deadline (202), or the answer was lost: the engine
    /// watches the list for the new snapshot and never asks again.
    Processing {
        resource: String,
        since: DateTime<Utc>,
        answer_lost: bool,
        /// Until when the list is watched for the new snapshot before giving up. Never a
        /// second create: [`Engine::stop_waiting`] ends the watch sooner.
        until: DateTime<Utc>,
    },
    /// Another process on this computer is already taking a snapshot of this resource: this
    /// job waits for it instead of asking for a second one.
    Joined {
        resource: String,
        since: DateTime<Utc>,
    },
    Created {
        resource: String,
        taken_at: DateTime<Utc>,
    },
    Downloading {
        resource: String,
        progress: Progress,
    },
    Done {
        resource: String,
        path: PathBuf,
        size: u64,
        already_present: bool,
    },
    Failed {
        resource: String,
        code: String,
        message: String,
    },
    Quota {
        quota: QuotaStatus,
    },
    /// A plan left this download for later, and why (a metered connection).
    Postponed {
        resource: String,
        reason: String,
        /// The size of the download left for later.
        bytes: u64,
    },
    /// Something the engine learned about the server's limits, with the evidence.
    Learned {
        message: String,
    },
    /// The user paused the queue: nothing new starts until resumed.
    Paused,
    Resumed,
}

/// Where events go.
pub type EventSink = Arc<dyn Fn(Event) + Send + Sync>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    #[error(
        "The API key was refused ({0}). Check that it is a current key from your Square Cloud account's security page, and sign in again."
    )]
    Auth(ApiError),
    #[error("The daily snapshot quota is used up.{}", until.map(|t| format!(" The next one frees up at {} UTC.", t.format("%Y-%m-%d %H:%M"))).unwrap_or_else(|| " When the next one frees up is not known.".into()))]
    Quota { until: Option<DateTime<Utc>> },
    #[error("Square Cloud has blocked requests from this key or address for a while (until about {} UTC). Nothing was lost; try again then.", until.format("%H:%M"))]
    RateLimited { until: DateTime<Utc> },
    #[error("{}", api_message(.0))]
    Api(ApiError),
    #[error("The API address cannot be used: {0}")]
    Config(String),
    #[error("No application or database with id {0} on this account.")]
    NotFound(String),
    #[error("No snapshot of {0} exists yet.")]
    NoSnapshot(String),
    #[error(
        "No folder is set for snapshots. Choose one (drag a folder onto the window, or pass --dest)."
    )]
    NoDestination,
    #[error(transparent)]
    Download(#[from] DownloadError),
    #[error("The integrity check failed: {0}")]
    Verify(#[from] VerifyError),
    #[error("Could not save the app's state in {path}: {detail}")]
    State { path: PathBuf, detail: String },
    #[error(
        "Square Cloud took the snapshot but it did not appear in the list in time. It will show up later (see the versions of this resource); no second snapshot was requested."
    )]
    ProcessingTimeout,
    #[error(
        "The snapshot was requested, but the answer was lost on the way and the new snapshot did not appear in the list in time. It may still show up; no second snapshot was requested, so the quota was not spent twice."
    )]
    AnswerLost,
    #[error(
        "You stopped waiting for this snapshot. Square Cloud may still have made it: it counts toward today's quota until its list shows otherwise, and once listed, Download latest fetches it. No second snapshot was requested."
    )]
    StoppedWaiting,
    #[error(
        "Another Square Snapshots process on this computer has been taking a snapshot of this resource since {} UTC and has not finished. No second snapshot was requested.", since.format("%H:%M:%S")
    )]
    Busy { since: DateTime<Utc> },
    #[error(
        "The restore was sent, but its answer was lost on the way: it may have happened. Check the application on Square Cloud before trying again."
    )]
    RestoreUnknown,
    #[error(
        "A restore of this resource is already in progress on Square Cloud. Wait for it to finish."
    )]
    RestoreInProgress,
    #[error("Cancelled.")]
    Cancelled,
}

/// An API error in words, with what to do when it is likely to pass.
fn api_message(e: &ApiError) -> String {
    if e.is_transient() {
        format!("{e}. Check your internet connection and try again; nothing was lost.")
    } else {
        e.to_string()
    }
}

impl EngineError {
    /// A short stable code the UI and the CLI branch on.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::Auth(_) => "auth",
            EngineError::Quota { .. } => "quota",
            EngineError::RateLimited { .. } => "rate_limited",
            EngineError::Api(e) if e.is_transient() => "network",
            EngineError::Api(_) => "api",
            EngineError::Config(_) => "config",
            EngineError::NotFound(_) | EngineError::NoSnapshot(_) => "not_found",
            EngineError::NoDestination => "no_destination",
            EngineError::Download(d) => d.code(),
            EngineError::Verify(_) => "verify",
            EngineError::State { .. } => "disk",
            EngineError::ProcessingTimeout
            | EngineError::AnswerLost
            | EngineError::StoppedWaiting => "processing",
            EngineError::Busy { .. } | EngineError::RestoreInProgress => "busy",
            EngineError::RestoreUnknown => "processing",
            EngineError::Cancelled => "cancelled",
        }
    }

    pub(crate) fn from_api(e: ApiError) -> Self {
        if e.is_account_block() {
            // Said as a block wherever it is met (a list while a snapshot is prepared, a
            // quota check), not as a server error: it is the user's key, for a while.
            return EngineError::RateLimited {
                until: Utc::now() + chrono_d(squarecloud::limits::RATE_BLOCK),
            };
        }
        match e.code() {
            Some(c) if c.is_bad_key() => EngineError::Auth(e),
            _ => EngineError::Api(e),
        }
    }
}

/// What `snapshot` should do.
#[derive(Debug, Clone, Default)]
pub struct SnapshotOptions {
    pub download: bool,
    /// Overrides the settings' folders.
    pub dest: Option<PathBuf>,
    /// When the quota runs out: wait for it to free up (true) or stop (false).
    pub wait_for_quota: bool,
}

/// How one resource's job ended.
#[derive(Debug, Clone)]
pub struct JobResult {
    pub resource: ResourceRef,
    pub outcome: Result<JobOutcome, EngineError>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JobOutcome {
    pub taken_at: DateTime<Utc>,
    pub download: Option<Downloaded>,
    /// This request joined a snapshot already being taken (by this app or another process).
    pub joined: bool,
}

/// The engine, bound to one account.
pub struct Engine {
    pub(crate) client: Client,
    me: RwLock<Me>,
    pub(crate) cfg: EngineConfig,
    pub(crate) state: Arc<StateDir>,
    downloader: Downloader,
    recovered: Vec<Recovered>,
    paused: tokio::sync::watch::Sender<bool>,
    pub(crate) latency: Latency,
    /// This engine's name in the in-flight records: the process id and a random token.
    pub(crate) owner: String,
    /// Snapshots queued or running in this engine, by resource id: a second request joins.
    pub(crate) jobs: Mutex<HashMap<String, JobSlot>>,
    /// Tells whether the connection is metered (the app asks NetworkManager).
    metered: RwLock<Option<MeteredCheck>>,
    /// Connections and rate limit for this run (the CLI's flags), over the settings.
    transfer: Option<(usize, Option<u64>)>,
    /// The total rate limit every download of this engine shares, while it is unchanged.
    limiter: Mutex<Option<Arc<crate::download::RateLimit>>>,
    /// When each resource's newest snapshot on the server was taken (`None`: it has none),
    /// and when that was learnt.
    newest: Mutex<HashMap<String, Learnt>>,
    /// The account-wide listing answered 402 (a free plan): not asked again.
    no_account_listing: std::sync::atomic::AtomicBool,
    /// The largest snapshot of each resource its lists have shown, in bytes.
    largest: Mutex<HashMap<String, u64>>,
    /// The creates whose list is being watched (a slow one, or one whose answer was lost),
    /// by resource: cancelling one stops that watch only.
    pub(crate) watching: Mutex<HashMap<String, CancellationToken>>,
    /// This engine's claim, held while it lives: its in-flight records name it, so another
    /// process can tell them from those of an engine that is gone ([`crate::claim`]).
    pub(crate) holder: Option<crate::claim::Holder>,
}

/// When a resource's newest server snapshot was learnt, and when it was taken (`None`: none).
type Learnt = (Instant, Option<DateTime<Utc>>);

/// How long what [`Engine::newest_known`] holds is kept before a refresh asks again. The
/// service caches its listings for 30 minutes; a create or a listing of one resource by
/// this engine updates its entry at once.
pub const NEWEST_MAX_AGE: Duration = Duration::from_secs(5 * 60);
/// One-resource listings a refresh runs at once when the account-wide one is not offered.
const NEWEST_PARALLEL: usize = 4;

/// Whether the network connection is metered (mobile data, a capped plan).
pub type MeteredCheck = Arc<dyn Fn() -> bool + Send + Sync>;

pub(crate) const SETTINGS: &str = "settings.json";
pub(crate) use crate::ledger::LEDGER;
pub(crate) use crate::library::LIBRARY;

pub(crate) fn state_error(path: &Path, e: std::io::Error) -> EngineError {
    EngineError::State {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

/// Share of the plan's per-minute cap that every process on this data dir uses together
/// (their calls are counted in one record, `calls.rs`): the rest is left for the user's
/// other tools (the dashboard, a bot) on the same account.
const BUDGET_SHARE: f64 = 0.75;

impl Engine {
    /// Checks the key with `/users/me` and loads the persisted state. Sends nothing while a
    /// `RATE_LIMITED` block recorded by any process is in force.
    pub async fn connect(cfg: EngineConfig, key: ApiKey) -> Result<Self, EngineError> {
        let state =
            Arc::new(StateDir::open(&cfg.data_dir).map_err(|e| state_error(&cfg.data_dir, e))?);
        let ledger: Ledger = state
            .read(LEDGER)
            .map_err(|e| state_error(&cfg.data_dir, e))?;
        if let Some(until) = ledger.blocked_until.get(&cfg.api_url)
            && *until > Utc::now()
        {
            return Err(EngineError::RateLimited { until: *until });
        }
        let mut client =
            Client::new(&cfg.api_url, key).map_err(|e| EngineError::Config(e.to_string()))?;
        if let Some(f) = &cfg.files_url {
            client = client.with_files_base(f);
        }
        // One budget and one block for every process on this data dir.
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
        let client = client
            .with_budget(budget)
            .with_rate_block(cfg.limits.rate_block);
        let me = match client.me().await {
            Ok(me) => me,
            Err(e) if e.is_account_block() => {
                let until = Utc::now() + chrono_d(cfg.limits.rate_block);
                let url = cfg.api_url.clone();
                let _ = state.update(LEDGER, |l: &mut Ledger| {
                    l.blocked_until.insert(url, until);
                });
                return Err(EngineError::RateLimited { until });
            }
            Err(e) => return Err(EngineError::from_api(e)),
        };
        let cap =
            squarecloud::limits::requests_per_minute(&me.user.plan.name, me.user.plan.memory.limit);
        client
            .budget()
            .set_per_window(((cap as f64) * BUDGET_SHARE).floor().max(1.0) as u32);
        // Load each file once so an unreadable one is kept aside and reported now.
        let _: Settings = state
            .read(SETTINGS)
            .map_err(|e| state_error(&cfg.data_dir, e))?;
        let _: Library = state
            .read(LIBRARY)
            .map_err(|e| state_error(&cfg.data_dir, e))?;
        let recovered = state.take_recovered();
        let token: u64 = rand::random();
        // Without one (the folder cannot be written), records fall back to the pid.
        let holder = crate::claim::Holder::acquire(&cfg.data_dir).ok();
        Ok(Self {
            client,
            me: RwLock::new(me),
            owner: format!("{}-{token:016x}", std::process::id()),
            cfg,
            state,
            downloader: Downloader::new(),
            recovered,
            paused: tokio::sync::watch::Sender::new(false),
            latency: Latency::default(),
            jobs: Mutex::new(HashMap::new()),
            metered: RwLock::new(None),
            transfer: None,
            limiter: Mutex::new(None),
            newest: Mutex::new(HashMap::new()),
            largest: Mutex::new(HashMap::new()),
            watching: Mutex::new(HashMap::new()),
            holder,
            no_account_listing: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Connections per snapshot (1–8) and a total rate in bytes a second, for this engine
    /// only (the CLI's `--connections` and `--limit-rate`); otherwise the settings decide.
    pub fn with_transfer(mut self, connections: Option<usize>, limit_rate: Option<u64>) -> Self {
        let s = self.settings();
        self.transfer = Some((
            connections.unwrap_or_else(|| s.connections()),
            limit_rate.or(s.limit_rate),
        ));
        self
    }

    /// The downloader with the connections and the shared rate limit in force now.
    fn downloader(&self) -> Downloader {
        let s = self.settings();
        let (n, rate) = self
            .transfer
            .unwrap_or_else(|| (s.connections(), s.limit_rate));
        let limit = rate.filter(|r| *r > 0).map(|r| {
            let mut held = self.limiter.lock().unwrap_or_else(|e| e.into_inner());
            match &*held {
                Some(l) if l.bytes_per_sec() == r => l.clone(),
                _ => {
                    let l = Arc::new(crate::download::RateLimit::new(r));
                    *held = Some(l.clone());
                    l
                }
            }
        });
        self.downloader
            .clone()
            .with_connection_count(n)
            .with_limit(limit)
    }

    /// Replaces the downloader (tests shorten its timeouts).
    pub fn with_downloader(mut self, d: Downloader) -> Self {
        self.downloader = d;
        self
    }

    /// The data dir, for callbacks that outlive a borrow of the engine.
    pub(crate) fn state_handle(&self) -> Arc<StateDir> {
        self.state.clone()
    }

    /// How to tell a metered connection (none: never metered).
    pub fn set_metered_check(&self, check: MeteredCheck) {
        *self.metered.write().unwrap_or_else(|e| e.into_inner()) = Some(check);
    }

    pub(crate) fn is_metered(&self) -> bool {
        self.metered
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|f| f())
    }

    /// Pauses or resumes the queue: while paused no create is sent and no download starts;
    /// what is already running finishes.
    pub fn set_paused(&self, paused: bool) {
        self.paused.send_replace(paused);
    }

    pub fn is_paused(&self) -> bool {
        *self.paused.borrow()
    }

    pub(crate) fn paused_watch(&self) -> tokio::sync::watch::Receiver<bool> {
        self.paused.subscribe()
    }

    /// Returns once not paused (false if cancelled meanwhile).
    pub(crate) async fn wait_while_paused(
        &self,
        events: &EventSink,
        cancel: &CancellationToken,
    ) -> bool {
        let mut rx = self.paused.subscribe();
        if !*rx.borrow_and_update() {
            return true;
        }
        events(Event::Paused);
        loop {
            tokio::select! {
                changed = rx.changed() => {
                    if changed.is_err() || !*rx.borrow_and_update() {
                        events(Event::Resumed);
                        return true;
                    }
                }
                _ = cancel.cancelled() => return false,
            }
        }
    }

    /// State files that were unreadable at start and kept aside.
    pub fn recovered(&self) -> &[Recovered] {
        &self.recovered
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn me(&self) -> Me {
        self.me.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn account_id(&self) -> String {
        self.me
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .user
            .id
            .clone()
    }

    pub(crate) fn daily_quota(&self) -> u32 {
        let me = self.me.read().unwrap_or_else(|e| e.into_inner());
        me.user.plan.daily_snapshot_quota()
    }

    pub async fn refresh(&self) -> Result<Me, EngineError> {
        let me = self.client.me().await.map_err(EngineError::from_api)?;
        *self.me.write().unwrap_or_else(|e| e.into_inner()) = me.clone();
        Ok(me)
    }

    /// Every application and database of the account.
    pub fn resources(&self) -> Vec<ResourceRef> {
        let me = self.me();
        me.applications
            .iter()
            .map(|a| ResourceRef {
                kind: ResourceKind::App,
                id: a.id.clone(),
                name: a.name.clone(),
            })
            .chain(me.databases.iter().map(|d| ResourceRef {
                kind: ResourceKind::Database,
                id: d.id.clone(),
                name: d.name.clone(),
            }))
            .collect()
    }

    pub fn resource(&self, id: &str) -> Result<ResourceRef, EngineError> {
        self.resources()
            .into_iter()
            .find(|r| r.id == id)
            .ok_or_else(|| EngineError::NotFound(id.to_string()))
    }

    /// The ledger as the other processes left it.
    pub fn ledger(&self) -> Ledger {
        self.state.read(LEDGER).unwrap_or_default()
    }

    /// Reloads the ledger under the lock, changes it and writes it.
    pub(crate) fn update_ledger<R>(
        &self,
        f: impl FnOnce(&mut Ledger) -> R,
    ) -> Result<R, EngineError> {
        self.state
            .update(LEDGER, f)
            .map_err(|e| state_error(&self.cfg.data_dir.join(LEDGER), e))
    }

    /// `update_ledger` on a blocking thread, for the create loop and the work around it. A
    /// write ends with an fsync, and on a runtime thread it would hold back what else runs
    /// there: the connection task writing a create that just left, which would then reach
    /// the server later than recorded, and the next create, paced from that record, too
    /// close to it.
    pub(crate) async fn update_ledger_off<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Ledger) -> R + Send + 'static,
    ) -> Result<R, EngineError> {
        let state = self.state.clone();
        let path = self.cfg.data_dir.join(LEDGER);
        match tokio::task::spawn_blocking(move || state.update(LEDGER, f)).await {
            Ok(r) => r.map_err(|e| state_error(&path, e)),
            Err(e) => Err(state_error(&path, std::io::Error::other(e))),
        }
    }

    /// `ledger` on a blocking thread: the read waits for the state lock, which another
    /// process may hold while it writes.
    pub(crate) async fn ledger_off(&self) -> Ledger {
        let state = self.state.clone();
        tokio::task::spawn_blocking(move || state.read(LEDGER).unwrap_or_default())
            .await
            .unwrap_or_default()
    }

    /// `quota` with the ledger read on a blocking thread (see `ledger_off`).
    pub(crate) async fn quota_off(&self) -> QuotaStatus {
        self.quota_in(self.ledger_off().await)
    }

    pub fn quota(&self) -> QuotaStatus {
        self.quota_in(self.ledger())
    }

    fn quota_in(&self, mut ledger: Ledger) -> QuotaStatus {
        ledger.status(
            &self.account_id(),
            self.daily_quota(),
            Utc::now(),
            chrono_d(self.cfg.limits.quota_window),
        )
    }

    /// Reads every resource's list (no quota spent) and counts manual snapshots made
    /// elsewhere, so `used` becomes known rather than estimated.
    pub async fn reconcile_quota(&self) -> Result<QuotaStatus, EngineError> {
        let mut items = Vec::new();
        let mut complete = true;
        for r in self.resources() {
            let list = self
                .client
                .list_snapshots(r.kind, &r.id)
                .await
                .map_err(EngineError::from_api)?;
            self.learn_newest(&r.id, list.iter().map(|i| i.modified).max());
            self.learn_largest(&r.id, list.iter().map(|i| i.size).max());
            if list.iter().any(|i| i.origin.is_none()) {
                complete = false; // an older API without `origin`: cannot tell
            }
            items.extend(
                list.into_iter()
                    .map(|i| (r.id.clone(), i.modified, i.origin)),
            );
        }
        let acct = self.account_id();
        let window = chrono_d(self.cfg.limits.quota_window);
        self.update_ledger(|l| l.reconcile(&acct, &items, Utc::now(), window, complete))?;
        Ok(self.quota())
    }

    /// A resource's server snapshots, newest first. Costs no quota.
    pub async fn versions(&self, r: &ResourceRef) -> Result<Vec<SnapshotItem>, EngineError> {
        let started = Instant::now();
        let mut list = self
            .client
            .list_snapshots(r.kind, &r.id)
            .await
            .map_err(EngineError::from_api)?;
        self.latency.observe(started.elapsed());
        list.sort_by_key(|i| std::cmp::Reverse(i.modified));
        self.learn_newest(&r.id, list.first().map(|i| i.modified));
        self.learn_largest(&r.id, list.iter().map(|i| i.size).max());
        Ok(list)
    }

    fn learn_largest(&self, id: &str, size: Option<u64>) {
        if let Some(size) = size {
            let mut m = self.largest.lock().unwrap_or_else(|e| e.into_inner());
            let e = m.entry(id.to_string()).or_default();
            *e = (*e).max(size);
        }
    }

    /// The most a freshly created snapshot of `id` may weigh: its download has no listed
    /// size, and a host that never stops sending must not fill the disk. Four times the
    /// largest snapshot of the resource seen (listed, or in the library), and never less
    /// than [`EngineConfig::fresh_size_floor`].
    pub fn fresh_size_cap(&self, id: &str) -> u64 {
        let listed = self
            .largest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .copied()
            .unwrap_or(0);
        let kept = self
            .library()
            .entries
            .iter()
            .filter(|e| e.resource_id == id)
            .map(|e| e.size)
            .max()
            .unwrap_or(0);
        listed
            .max(kept)
            .saturating_mul(FRESH_SIZE_GROWTH)
            .max(self.cfg.fresh_size_floor)
    }

    fn learn_newest(&self, id: &str, newest: Option<DateTime<Utc>>) {
        self.newest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), (Instant::now(), newest));
    }

    /// When each resource's newest snapshot on the server was taken, for the resources this
    /// engine has learnt it of (`None`: the server has none), see
    /// [`Engine::refresh_newest`]. No request is sent.
    pub fn newest_known(&self) -> HashMap<String, Option<DateTime<Utc>>> {
        self.newest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(id, (_, t))| (id.clone(), *t))
            .collect()
    }

    /// Learns the newest server snapshot of every resource not learnt in the last
    /// `max_age`. Two account-wide listings (applications, databases) when the plan offers
    /// them; otherwise one listing per resource, a few at a time, so 1,000 resources take
    /// their share of the per-minute budget without holding up anything else for long.
    /// Returns whether anything changed. Costs no quota.
    pub async fn refresh_newest(&self, max_age: Duration) -> Result<bool, EngineError> {
        let before = self.newest_known();
        let stale: Vec<ResourceRef> = {
            let known = self.newest.lock().unwrap_or_else(|e| e.into_inner());
            self.resources()
                .into_iter()
                .filter(|r| {
                    known
                        .get(&r.id)
                        .is_none_or(|(at, _)| at.elapsed() >= max_age)
                })
                .collect()
        };
        if stale.is_empty() {
            return Ok(false);
        }
        let mut left = stale;
        if !self
            .no_account_listing
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            match self.newest_account_wide(&left).await {
                Ok(()) => left.clear(),
                // A free plan (402): remembered. It, or the route's own limit: one listing
                // per resource.
                Err(e)
                    if matches!(e.code(), Some(ErrorCode::UpgradeRequired))
                        || e.status() == Some(402) =>
                {
                    self.no_account_listing
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                }
                Err(e) if e.is_transient() || e.status() == Some(429) => {}
                Err(e) => return Err(EngineError::from_api(e)),
            }
        }
        for some in left.chunks(NEWEST_PARALLEL) {
            for r in futures_util::future::join_all(some.iter().map(|r| self.versions(r))).await {
                r?;
            }
        }
        Ok(self.newest_known() != before)
    }

    /// Both account-wide listings, grouped by resource: an item belongs to the resource
    /// whose id its `name` is, or starts with followed by `_` (`<id>_<origin>`).
    async fn newest_account_wide(&self, wanted: &[ResourceRef]) -> Result<(), ApiError> {
        let mut items = Vec::new();
        for kind in [ResourceKind::App, ResourceKind::Database] {
            if wanted.iter().any(|r| r.kind == kind) {
                items.extend(self.client.user_snapshots(kind).await?);
            }
        }
        for r in wanted {
            let newest = items
                .iter()
                .filter(|i| {
                    i.name
                        .strip_prefix(r.id.as_str())
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with('_'))
                })
                .map(|i| i.modified)
                .max();
            self.learn_newest(&r.id, newest);
        }
        Ok(())
    }

    pub fn settings(&self) -> Settings {
        self.state.read(SETTINGS).unwrap_or_default()
    }

    /// Changes the settings by reloading them under the lock first, so a change another
    /// process made meanwhile is kept.
    pub fn update_settings(&self, f: impl FnOnce(&mut Settings)) -> Result<Settings, EngineError> {
        self.state
            .update(SETTINGS, |s: &mut Settings| {
                f(s);
                s.clone()
            })
            .map_err(|e| state_error(&self.cfg.data_dir.join(SETTINGS), e))
    }

    pub fn library(&self) -> Library {
        self.state.read(LIBRARY).unwrap_or_default()
    }

    fn update_library<R>(&self, f: impl FnOnce(&mut Library) -> R) -> Result<R, EngineError> {
        self.state
            .update(LIBRARY, f)
            .map_err(|e| state_error(&self.cfg.data_dir.join(LIBRARY), e))
    }

    /// Checks a file again (full CRC check with `full`).
    pub async fn verify(&self, path: &Path, full: bool) -> Result<(), EngineError> {
        let (state, p) = (self.state.clone(), path.to_path_buf());
        tokio::task::spawn_blocking(move || crate::library::verify_listed(&state, &p, full))
            .await
            .map_err(|e| EngineError::Verify(VerifyError::Io(e.to_string())))?
            .map_err(|e| state_error(&self.cfg.data_dir.join(LIBRARY), e))??;
        Ok(())
    }

    /// Applies the retention rules (the settings' unless given). At least one copy of each
    /// resource is always kept.
    pub fn prune(
        &self,
        keep_last: Option<u32>,
        keep_days: Option<u32>,
    ) -> Result<PruneReport, EngineError> {
        let s = self.settings();
        let (last, days) = (keep_last.or(s.keep_last), keep_days.or(s.keep_days));
        self.update_library(|l| l.prune(last, days, Utc::now()))
    }

    pub(crate) fn dest_for(
        &self,
        r: &ResourceRef,
        over: Option<&Path>,
    ) -> Result<PathBuf, EngineError> {
        over.map(Path::to_path_buf)
            .or_else(|| self.settings().dest_for(&r.id).map(Path::to_path_buf))
            .ok_or(EngineError::NoDestination)
    }

    /// The folder a download of `r` goes to, checked now: it exists and can be written.
    pub(crate) fn checked_dest(
        &self,
        r: &ResourceRef,
        over: Option<&Path>,
    ) -> Result<PathBuf, EngineError> {
        let dir = self.dest_for(r, over)?;
        validate_folder(&dir).map_err(|e| EngineError::Download(DownloadError::Folder(e)))
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
        let dir = self.checked_dest(r, dest)?;
        if !self.wait_while_paused(&events, cancel).await {
            return Err(EngineError::Cancelled);
        }
        let list = self.versions(r).await?;
        let item = match version {
            Some(v) => list.iter().find(|i| i.version().as_deref() == Some(v)),
            None => list.first(),
        }
        .ok_or_else(|| EngineError::NoSnapshot(r.name.clone()))?
        .clone();
        self.fetch_item(r, &dir, &item, events, cancel).await
    }

    /// Downloads one listed version; a refused URL is refreshed from the list for that same
    /// version, never for another one.
    pub(crate) async fn fetch_item(
        &self,
        r: &ResourceRef,
        dir: &Path,
        item: &SnapshotItem,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> Result<Downloaded, EngineError> {
        let key = version_key(item);
        let url = item.download_url(self.client.files_base(), r.kind, &self.account_id());
        let refresh = || async {
            let list = self.versions(r).await.ok()?;
            let same = list.iter().find(|i| version_key(i) == key)?;
            Some(same.download_url(self.client.files_base(), r.kind, &self.account_id()))
        };
        let target = DownloadTarget {
            url,
            dir: dir.to_path_buf(),
            file_name: snapshot_file_name(&r.name, &r.id, item.modified),
            expected_size: Some(item.size),
            max_size: None,
        };
        self.fetch(
            r,
            target,
            item.version(),
            item.modified,
            refresh,
            events,
            cancel,
        )
        .await
    }

    /// Streams `target`, records it in the library and says so.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn fetch<F, Fut>(
        &self,
        r: &ResourceRef,
        target: DownloadTarget,
        version: Option<String>,
        taken_at: DateTime<Utc>,
        refresh: F,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> Result<Downloaded, EngineError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<String>>,
    {
        let ev = events.clone();
        let id = r.id.clone();
        let mut on_progress = move |p: Progress| {
            ev(Event::Downloading {
                resource: id.clone(),
                progress: p,
            })
        };
        let full = self.settings().full_verify;
        // One download of a file at a time on this machine: a second process (or engine)
        // waits here, then finds the file already in place.
        let key = target
            .dir
            .join(&target.file_name)
            .to_string_lossy()
            .into_owned();
        let dir = self.cfg.data_dir.clone();
        let _held = tokio::task::spawn_blocking(move || {
            StateDir::open(&dir).and_then(|s| s.lock_named(&key))
        })
        .await
        .map_err(|e| state_error(&self.cfg.data_dir, std::io::Error::other(e)))?
        .map_err(|e| state_error(&self.cfg.data_dir, e))?;
        let done = self
            .downloader()
            .fetch(&target, refresh, &mut on_progress, cancel, full)
            .await?;
        let entry = LibraryEntry {
            resource_id: r.id.clone(),
            resource_name: r.name.clone(),
            version,
            taken_at,
            size: done.size,
            path: done.path.clone(),
            downloaded_at: Utc::now(),
            verified_at: Some(Utc::now()),
        };
        self.update_library(|l| l.add(entry))?;
        events(Event::Done {
            resource: r.id.clone(),
            path: done.path.clone(),
            size: done.size,
            already_present: done.already_present,
        });
        Ok(done)
    }

    /// Watches the list (never posting again) for the snapshot a create sent at `since`
    /// made: a version not in `before`, not an automatic one, made after `since`.
    pub(crate) async fn await_new_version(
        &self,
        r: &ResourceRef,
        before: Option<&HashSet<String>>,
        since: DateTime<Utc>,
        cancel: &CancellationToken,
    ) -> Result<Option<SnapshotItem>, EngineError> {
        let deadline = Utc::now() + chrono_d(self.cfg.limits.poll_total);
        self.await_new_version_until(r, before, since, deadline, cancel)
            .await
    }

    /// When a watch of the list that starts now gives up.
    pub(crate) fn watch_deadline(&self) -> DateTime<Utc> {
        Utc::now() + chrono_d(self.cfg.limits.poll_total)
    }

    /// Stops watching the list for `resource`'s new snapshot (a slow create, or one whose
    /// answer was lost): its job ends with [`EngineError::StoppedWaiting`]. Nothing is sent,
    /// and the quota stays counted. False when nothing of it is being watched.
    pub fn stop_waiting(&self, resource: &str) -> bool {
        match self
            .watching
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(resource)
        {
            Some(t) => {
                t.cancel();
                true
            }
            None => false,
        }
    }

    /// [`Engine::await_new_version`], giving up at `deadline`.
    pub(crate) async fn await_new_version_until(
        &self,
        r: &ResourceRef,
        before: Option<&HashSet<String>>,
        since: DateTime<Utc>,
        deadline: DateTime<Utc>,
        cancel: &CancellationToken,
    ) -> Result<Option<SnapshotItem>, EngineError> {
        let l = &self.cfg.limits;
        let mut delay = l.poll_initial;
        loop {
            match self.versions(r).await {
                Ok(list) => {
                    if let Some(item) = new_version(&list, before, since) {
                        return Ok(Some(item));
                    }
                }
                Err(EngineError::Api(e)) if e.is_transient() => {}
                Err(e) => return Err(e),
            }
            if Utc::now() > deadline {
                return Ok(None);
            }
            // One more look at the deadline, not a sleep past it.
            if !sleep_until((Utc::now() + chrono_d(delay)).min(deadline), cancel).await {
                return Err(EngineError::Cancelled);
            }
            delay = (delay * 2).min(l.poll_max);
        }
    }
}

/// How far the server's clock may be behind ours when it stamps a new snapshot.
const CLOCK_SKEW: Duration = Duration::from_secs(120);

/// The snapshot a create sent at `since` made, from a list: not one seen before, not made by
/// the daily automatic run, and not made before the create was sent. The earliest such one:
/// anything later is another create, not ours.
pub(crate) fn new_version(
    list: &[SnapshotItem],
    before: Option<&HashSet<String>>,
    since: DateTime<Utc>,
) -> Option<SnapshotItem> {
    list.iter()
        .filter(|i| before.is_none_or(|b| !b.contains(&version_key(i))))
        .filter(|i| i.origin.as_deref() != Some("automatic"))
        .filter(|i| i.modified >= since - chrono_d(CLOCK_SKEW))
        .min_by_key(|i| i.modified)
        .cloned()
}

pub(crate) fn version_key(i: &SnapshotItem) -> String {
    i.version()
        .unwrap_or_else(|| format!("{}@{}", i.name, i.modified.timestamp_millis()))
}
