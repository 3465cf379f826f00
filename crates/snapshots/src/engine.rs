//! The engine: every decision the app and the CLI share. It decides when a create may be
//! sent (the account and resource windows, the daily quota), reacts to what the server
//! answers, hands finished snapshots to the downloader and records them in the library.

use crate::download::{DownloadError, DownloadTarget, Downloaded, Downloader, Progress};
use crate::ledger::{Ledger, QuotaStatus};
use crate::library::{Library, LibraryEntry, PruneReport};
use crate::names::snapshot_file_name;
use crate::settings::Settings;
use crate::store::{Recovered, read_json_or_default, write_json_atomic};
use crate::verify::VerifyError;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Serialize;
use squarecloud::{
    ApiError, ApiKey, Client, CreateOutcome, ErrorCode, Me, ResourceKind, SnapshotItem,
};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The server's limits as the engine respects them.
#[derive(Debug, Clone)]
pub struct Limits {
    /// One create per this long per account (5 s documented).
    pub account_gap: Duration,
    /// One create per this long per resource (60 s documented; the types say 3 min, and a
    /// `KEEP_CALM` makes the engine wait longer anyway).
    pub resource_gap: Duration,
    /// The rolling quota window (24 h).
    pub quota_window: Duration,
    /// How often a `KEEP_CALM` is retried before the job fails.
    pub keep_calm_retries: u32,
    /// Polling the list after a 202: first delay, longest delay, give up after.
    pub poll_initial: Duration,
    pub poll_max: Duration,
    pub poll_total: Duration,
    /// How long a `RATE_LIMITED` block is assumed to last (about 30 minutes).
    pub rate_block: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            account_gap: Duration::from_secs(5),
            resource_gap: Duration::from_secs(60),
            quota_window: Duration::from_secs(24 * 3600),
            keep_calm_retries: 5,
            poll_initial: Duration::from_secs(2),
            poll_max: Duration::from_secs(60),
            // The list may be cached for 30 minutes: wait a little longer than that.
            poll_total: Duration::from_secs(35 * 60),
            rate_block: Duration::from_secs(30 * 60),
        }
    }
}

impl Limits {
    /// The limits of a simulator that runs `time_scale` times faster than real time.
    pub fn matching(sim: &squarecloud_sim::Limits, time_scale: f64) -> Self {
        let s = |d: Duration| Duration::from_secs_f64(d.as_secs_f64() / time_scale);
        Self {
            account_gap: s(sim.account_gap),
            resource_gap: s(sim.resource_gap),
            quota_window: s(sim.quota_window),
            rate_block: s(sim.block),
            poll_initial: Duration::from_millis(200).min(s(Duration::from_secs(2))),
            poll_max: s(Duration::from_secs(60)).max(Duration::from_millis(50)),
            poll_total: s(Duration::from_secs(35 * 60)).max(Duration::from_secs(2)),
            ..Self::default()
        }
    }
}

/// Where the engine talks to and keeps its state.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub api_url: String,
    /// The file host for list items without `url` (default: Square Cloud's).
    pub files_url: Option<String>,
    /// Settings, ledger and library live here.
    pub data_dir: PathBuf,
    pub limits: Limits,
}

impl EngineConfig {
    pub fn new(api_url: impl Into<String>, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            api_url: api_url.into(),
            files_url: None,
            data_dir: data_dir.into(),
            limits: Limits::default(),
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitReason {
    AccountWindow,
    ResourceWindow,
    KeepCalm,
    Retry,
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
    },
    RateLimited {
        until: DateTime<Utc>,
    },
    Creating {
        resource: String,
    },
    Processing {
        resource: String,
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
    /// The user paused the queue: nothing new starts until resumed.
    Paused,
    Resumed,
}

/// Where events go.
pub type EventSink = Arc<dyn Fn(Event) + Send + Sync>;

#[derive(Debug, thiserror::Error)]
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
        "The server took the snapshot but it did not appear in the list in time. It will show up later; nothing was lost."
    )]
    ProcessingTimeout,
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
    /// A short stable code the UI branches on.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::Auth(_) => "auth",
            EngineError::Quota { .. } => "quota",
            EngineError::RateLimited { .. } => "rate_limited",
            EngineError::Api(e) if e.is_transient() => "network",
            EngineError::Api(_) => "api",
            EngineError::NotFound(_) | EngineError::NoSnapshot(_) => "not_found",
            EngineError::NoDestination => "no_destination",
            EngineError::Download(d) => d.code(),
            EngineError::Verify(_) => "verify",
            EngineError::State { .. } => "disk",
            EngineError::ProcessingTimeout => "processing",
            EngineError::Cancelled => "cancelled",
        }
    }

    fn from_api(e: ApiError) -> Self {
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
#[derive(Debug)]
pub struct JobResult {
    pub resource: ResourceRef,
    pub outcome: Result<JobOutcome, EngineError>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JobOutcome {
    pub taken_at: DateTime<Utc>,
    pub download: Option<Downloaded>,
}

struct Job {
    r: ResourceRef,
    not_before: Option<DateTime<Utc>>,
    keep_calm: u32,
    transient: u32,
}

/// What the create loop hands the download side.
enum Fetch {
    Url {
        r: ResourceRef,
        url: String,
        taken_at: DateTime<Utc>,
        size: Option<u64>,
        version: Option<String>,
    },
    Wait {
        r: ResourceRef,
        before: HashSet<String>,
    },
}

/// The engine, bound to one account.
pub struct Engine {
    client: Client,
    me: RwLock<Me>,
    cfg: EngineConfig,
    ledger: Mutex<Ledger>,
    settings: Mutex<Settings>,
    library: Mutex<Library>,
    downloader: Downloader,
    blocked_until: Mutex<Option<DateTime<Utc>>>,
    recovered: Vec<Recovered>,
    paused: tokio::sync::watch::Sender<bool>,
}

const SETTINGS: &str = "settings.json";
const LEDGER: &str = "ledger.json";
const LIBRARY: &str = "library.json";

fn state_error(path: &Path, e: std::io::Error) -> EngineError {
    EngineError::State {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

/// Reads one state file; an unreadable one is kept aside and reported.
fn load<T: serde::de::DeserializeOwned + Default>(
    dir: &Path,
    name: &str,
) -> Result<(T, Option<Recovered>), EngineError> {
    let p = dir.join(name);
    read_json_or_default(&p).map_err(|e| state_error(&p, e))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A window plus a small safety margin (1%, 2 ms to 250 ms): the server measures with its own
/// clock, and a create that arrives a hair early is refused.
fn padded(d: Duration) -> chrono::Duration {
    chrono_d(d + (d / 100).clamp(Duration::from_millis(2), Duration::from_millis(250)))
}

fn chrono_d(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

async fn sleep_until(t: DateTime<Utc>, cancel: &CancellationToken) -> bool {
    let d = (t - Utc::now()).to_std().unwrap_or_default();
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = cancel.cancelled() => false,
    }
}

impl Engine {
    /// Checks the key with `/users/me` and loads the persisted state.
    pub async fn connect(cfg: EngineConfig, key: ApiKey) -> Result<Self, EngineError> {
        let mut client = Client::new(&cfg.api_url, key).map_err(EngineError::Api)?;
        if let Some(f) = &cfg.files_url {
            client = client.with_files_base(f);
        }
        let me = client.me().await.map_err(EngineError::from_api)?;
        std::fs::create_dir_all(&cfg.data_dir).map_err(|e| state_error(&cfg.data_dir, e))?;
        let (settings, r1) = load::<Settings>(&cfg.data_dir, SETTINGS)?;
        let (ledger, r2) = load::<Ledger>(&cfg.data_dir, LEDGER)?;
        let (library, r3) = load::<Library>(&cfg.data_dir, LIBRARY)?;
        let recovered = [r1, r2, r3].into_iter().flatten().collect();
        Ok(Self {
            client,
            me: RwLock::new(me),
            cfg,
            ledger: Mutex::new(ledger),
            settings: Mutex::new(settings),
            library: Mutex::new(library),
            downloader: Downloader::new(),
            blocked_until: Mutex::new(None),
            recovered,
            paused: tokio::sync::watch::Sender::new(false),
        })
    }

    /// Replaces the downloader (tests shorten its timeouts).
    pub fn with_downloader(mut self, d: Downloader) -> Self {
        self.downloader = d;
        self
    }

    /// Pauses or resumes the queue: while paused no create is sent and no download starts;
    /// what is already running finishes.
    pub fn set_paused(&self, paused: bool) {
        self.paused.send_replace(paused);
    }

    pub fn is_paused(&self) -> bool {
        *self.paused.borrow()
    }

    /// Returns once not paused (false if cancelled meanwhile).
    async fn wait_while_paused(&self, events: &EventSink, cancel: &CancellationToken) -> bool {
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

    fn account_id(&self) -> String {
        self.me
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .user
            .id
            .clone()
    }

    fn daily_quota(&self) -> u32 {
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

    pub fn quota(&self) -> QuotaStatus {
        let total = self.daily_quota();
        lock(&self.ledger).status(
            &self.account_id(),
            total,
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
            match self.client.list_snapshots(r.kind, &r.id).await {
                Ok(list) => {
                    if list.iter().any(|i| i.origin.is_none()) {
                        complete = false; // an older API without `origin`: cannot tell
                    }
                    items.extend(
                        list.into_iter()
                            .map(|i| (r.id.clone(), i.modified, i.origin)),
                    );
                }
                Err(e) => return Err(EngineError::from_api(e)),
            }
        }
        lock(&self.ledger).reconcile(
            &self.account_id(),
            &items,
            Utc::now(),
            chrono_d(self.cfg.limits.quota_window),
            complete,
        );
        self.save_ledger()?;
        Ok(self.quota())
    }

    /// A resource's server snapshots, newest first. Costs no quota.
    pub async fn versions(&self, r: &ResourceRef) -> Result<Vec<SnapshotItem>, EngineError> {
        let mut list = self
            .client
            .list_snapshots(r.kind, &r.id)
            .await
            .map_err(EngineError::from_api)?;
        list.sort_by_key(|i| std::cmp::Reverse(i.modified));
        Ok(list)
    }

    pub fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }

    pub fn save_settings(&self, s: Settings) -> Result<(), EngineError> {
        self.save(SETTINGS, &s)?;
        *lock(&self.settings) = s;
        Ok(())
    }

    pub fn library(&self) -> Library {
        lock(&self.library).clone()
    }

    fn save<T: serde::Serialize>(&self, name: &str, value: &T) -> Result<(), EngineError> {
        let p = self.cfg.data_dir.join(name);
        write_json_atomic(&p, value).map_err(|e| state_error(&p, e))
    }

    fn save_ledger(&self) -> Result<(), EngineError> {
        let l = lock(&self.ledger).clone();
        self.save(LEDGER, &l)
    }

    fn save_library(&self) -> Result<(), EngineError> {
        let l = lock(&self.library).clone();
        self.save(LIBRARY, &l)
    }

    /// Checks a file again (full CRC check with `full`).
    pub async fn verify(&self, path: &Path, full: bool) -> Result<(), EngineError> {
        let p = path.to_path_buf();
        let mut lib = self.library();
        let lib =
            tokio::task::spawn_blocking(move || lib.verify(&p, full, Utc::now()).map(|_| lib))
                .await
                .map_err(|e| EngineError::Verify(VerifyError::Io(e.to_string())))??;
        *lock(&self.library) = lib;
        self.save_library()
    }

    /// Applies the retention rules (the settings' unless given).
    pub fn prune(
        &self,
        keep_last: Option<u32>,
        keep_days: Option<u32>,
    ) -> Result<PruneReport, EngineError> {
        let s = self.settings();
        let report = lock(&self.library).prune(
            keep_last.or(s.keep_last),
            keep_days.or(s.keep_days),
            Utc::now(),
        );
        self.save_library()?;
        Ok(report)
    }

    fn dest_for(&self, r: &ResourceRef, over: Option<&Path>) -> Result<PathBuf, EngineError> {
        over.map(Path::to_path_buf)
            .or_else(|| self.settings().dest_for(&r.id).map(Path::to_path_buf))
            .ok_or(EngineError::NoDestination)
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
        let dir = self.dest_for(r, dest)?;
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
        let url = item.download_url(self.client.files_base(), r.kind, &self.account_id());
        self.fetch(
            r,
            &dir,
            url,
            item.modified,
            Some(item.size),
            item.version(),
            events,
            cancel,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn fetch(
        &self,
        r: &ResourceRef,
        dir: &Path,
        url: String,
        taken_at: DateTime<Utc>,
        size: Option<u64>,
        version: Option<String>,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> Result<Downloaded, EngineError> {
        let target = DownloadTarget {
            url,
            dir: dir.to_path_buf(),
            file_name: snapshot_file_name(&r.name, &r.id, taken_at),
            expected_size: size,
        };
        let refresh = || async {
            // A fresh signed URL from the list: no quota spent.
            let list = self.versions(r).await.ok()?;
            let item = match &version {
                Some(v) => list.iter().find(|i| i.version().as_ref() == Some(v)),
                None => list.first(),
            }?;
            Some(item.download_url(self.client.files_base(), r.kind, &self.account_id()))
        };
        let ev = events.clone();
        let id = r.id.clone();
        let mut on_progress = move |p: Progress| {
            ev(Event::Downloading {
                resource: id.clone(),
                progress: p,
            })
        };
        let full = self.settings().full_verify;
        let done = self
            .downloader
            .fetch(&target, refresh, &mut on_progress, cancel, full)
            .await?;
        lock(&self.library).add(LibraryEntry {
            resource_id: r.id.clone(),
            resource_name: r.name.clone(),
            version,
            taken_at,
            size: done.size,
            path: done.path.clone(),
            downloaded_at: Utc::now(),
            verified_at: Some(Utc::now()),
        });
        self.save_library()?;
        events(Event::Done {
            resource: r.id.clone(),
            path: done.path.clone(),
            size: done.size,
            already_present: done.already_present,
        });
        Ok(done)
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
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Fetch>();
        let mut results: Vec<JobResult> = Vec::new();
        let creates = self.create_loop(targets, &opts, events.clone(), cancel, tx, &mut results);
        let downloads =
            futures_util::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|f| (f, rx)) },
            )
            .map(|f| self.finish(f, &opts, events.clone(), cancel))
            .buffer_unordered(3)
            .collect::<Vec<JobResult>>();
        let ((), done) = tokio::join!(creates, downloads);
        results.extend(done);
        for r in &results {
            if let Err(e) = &r.outcome {
                events(Event::Failed {
                    resource: r.resource.id.clone(),
                    code: e.code().into(),
                    message: e.to_string(),
                });
            }
        }
        results
    }

    async fn finish(
        &self,
        f: Fetch,
        opts: &SnapshotOptions,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> JobResult {
        let (r, url, taken_at, size, version) = match f {
            Fetch::Url {
                r,
                url,
                taken_at,
                size,
                version,
            } => (r, url, taken_at, size, version),
            Fetch::Wait { r, before } => match self.await_processing(&r, &before, cancel).await {
                Ok(item) => {
                    events(Event::Created {
                        resource: r.id.clone(),
                        taken_at: item.modified,
                    });
                    let url =
                        item.download_url(self.client.files_base(), r.kind, &self.account_id());
                    (r, url, item.modified, Some(item.size), item.version())
                }
                Err(e) => {
                    return JobResult {
                        resource: r,
                        outcome: Err(e),
                    };
                }
            },
        };
        if !self.wait_while_paused(&events, cancel).await {
            return JobResult {
                resource: r,
                outcome: Err(EngineError::Cancelled),
            };
        }
        if !opts.download {
            return JobResult {
                resource: r,
                outcome: Ok(JobOutcome {
                    taken_at,
                    download: None,
                }),
            };
        }
        let outcome = match self.dest_for(&r, opts.dest.as_deref()) {
            Ok(dir) => self
                .fetch(&r, &dir, url, taken_at, size, version, events, cancel)
                .await
                .map(|d| JobOutcome {
                    taken_at,
                    download: Some(d),
                }),
            Err(e) => Err(e),
        };
        JobResult {
            resource: r,
            outcome,
        }
    }

    /// After a 202: poll the list (never POST again) until a version we had not seen appears.
    async fn await_processing(
        &self,
        r: &ResourceRef,
        before: &HashSet<String>,
        cancel: &CancellationToken,
    ) -> Result<SnapshotItem, EngineError> {
        let l = &self.cfg.limits;
        let deadline = Utc::now() + chrono_d(l.poll_total);
        let mut delay = l.poll_initial;
        loop {
            if !sleep_until(Utc::now() + chrono_d(delay), cancel).await {
                return Err(EngineError::Cancelled);
            }
            match self.versions(r).await {
                Ok(list) => {
                    if let Some(item) = list.into_iter().find(|i| !before.contains(&version_key(i)))
                    {
                        return Ok(item);
                    }
                }
                Err(EngineError::Api(e)) if e.is_transient() => {}
                Err(e) => return Err(e),
            }
            if Utc::now() > deadline {
                return Err(EngineError::ProcessingTimeout);
            }
            delay = (delay * 2).min(l.poll_max);
        }
    }

    fn ready_time(&self, job: &Job) -> (DateTime<Utc>, WaitReason) {
        let l = &self.cfg.limits;
        let acct = self.account_id();
        let ledger = lock(&self.ledger);
        let now = Utc::now();
        let mut t = (now, WaitReason::AccountWindow);
        if let Some(last) = ledger.last_create(&acct, None) {
            t.0 = t.0.max(last + padded(l.account_gap));
        }
        if let Some(last) = ledger.last_create(&acct, Some(&job.r.id)) {
            let ready = last + padded(l.resource_gap);
            if ready > t.0 {
                t = (ready, WaitReason::ResourceWindow);
            }
        }
        if let Some(nb) = job.not_before
            && nb > t.0
        {
            t = (
                nb,
                if job.keep_calm > 0 {
                    WaitReason::KeepCalm
                } else {
                    WaitReason::Retry
                },
            );
        }
        t
    }

    async fn create_loop(
        &self,
        targets: Vec<ResourceRef>,
        opts: &SnapshotOptions,
        events: EventSink,
        cancel: &CancellationToken,
        tx: tokio::sync::mpsc::UnboundedSender<Fetch>,
        results: &mut Vec<JobResult>,
    ) {
        let l = self.cfg.limits.clone();
        let acct = self.account_id();
        let mut pending: Vec<Job> = targets
            .into_iter()
            .map(|r| Job {
                r,
                not_before: None,
                keep_calm: 0,
                transient: 0,
            })
            .collect();
        let fail_all =
            |pending: &mut Vec<Job>, results: &mut Vec<JobResult>, e: &dyn Fn() -> EngineError| {
                for j in pending.drain(..) {
                    results.push(JobResult {
                        resource: j.r,
                        outcome: Err(e()),
                    });
                }
            };
        while !pending.is_empty() {
            if !self.wait_while_paused(&events, cancel).await || cancel.is_cancelled() {
                fail_all(&mut pending, results, &|| EngineError::Cancelled);
                break;
            }
            if let Some(until) = *lock(&self.blocked_until)
                && until > Utc::now()
            {
                events(Event::RateLimited { until });
                fail_all(&mut pending, results, &|| EngineError::RateLimited {
                    until,
                });
                break;
            }
            // The quota first: no create is sent that it would refuse.
            let total = self.daily_quota();
            let quota_ready = lock(&self.ledger)
                .quota_ready_at(&acct, total, Utc::now(), chrono_d(l.quota_window))
                .map(|t| {
                    if t > Utc::now() {
                        t - chrono_d(l.quota_window) + padded(l.quota_window)
                    } else {
                        t
                    }
                });
            if quota_ready.is_none_or(|t| t > Utc::now()) {
                events(Event::Quota {
                    quota: self.quota(),
                });
                events(Event::PausedForQuota { until: quota_ready });
                if !opts.wait_for_quota {
                    fail_all(&mut pending, results, &|| EngineError::Quota {
                        until: quota_ready,
                    });
                    break;
                }
                let until = quota_ready.unwrap_or_else(|| {
                    Utc::now() + chrono_d(Duration::from_secs(3600).min(l.quota_window))
                });
                if !sleep_until(until, cancel).await {
                    continue;
                }
                lock(&self.ledger)
                    .accounts
                    .entry(acct.clone())
                    .or_default()
                    .exhausted_at = None;
                continue;
            }
            // The job that may go first; ties keep the caller's order.
            let (idx, (ready_at, reason)) = pending
                .iter()
                .enumerate()
                .map(|(i, j)| (i, self.ready_time(j)))
                .min_by_key(|(i, (t, _))| (*t, *i))
                .expect("pending is not empty");
            if ready_at > Utc::now() {
                events(Event::Waiting {
                    resource: pending[idx].r.id.clone(),
                    until: ready_at,
                    reason,
                });
                sleep_until(ready_at, cancel).await;
                continue;
            }
            let r = pending[idx].r.clone();
            events(Event::Creating {
                resource: r.id.clone(),
            });
            let answer = self.client.create_snapshot(r.kind, &r.id).await;
            // Windows count from when the answer arrived: never earlier than the server's.
            let done_at = Utc::now();
            match answer {
                Ok(outcome) => {
                    lock(&self.ledger).record(&acct, &r.id, done_at);
                    let _ = self.save_ledger();
                    events(Event::Quota {
                        quota: self.quota(),
                    });
                    pending.remove(idx);
                    let fetch = match outcome {
                        CreateOutcome::Ready(s) => {
                            events(Event::Created {
                                resource: r.id.clone(),
                                taken_at: done_at,
                            });
                            Fetch::Url {
                                r,
                                url: s.url,
                                taken_at: done_at,
                                size: None,
                                version: None,
                            }
                        }
                        CreateOutcome::Processing => {
                            events(Event::Processing {
                                resource: r.id.clone(),
                            });
                            let before = match self.versions(&r).await {
                                Ok(list) => list.iter().map(version_key).collect(),
                                Err(_) => HashSet::new(),
                            };
                            Fetch::Wait { r, before }
                        }
                    };
                    let _ = tx.send(fetch);
                }
                Err(e) => match e.code() {
                    Some(ErrorCode::KeepCalm) => {
                        let job = &mut pending[idx];
                        job.keep_calm += 1;
                        if job.keep_calm > l.keep_calm_retries {
                            let job = pending.remove(idx);
                            results.push(JobResult {
                                resource: job.r,
                                outcome: Err(EngineError::Api(e)),
                            });
                        } else {
                            let backoff = (l.account_gap * 2u32.pow(job.keep_calm))
                                .min(Duration::from_secs(180))
                                .max(l.account_gap);
                            job.not_before = Some(done_at + chrono_d(backoff));
                        }
                    }
                    Some(ErrorCode::DailySnapshotsLimitReached) => {
                        lock(&self.ledger).mark_exhausted(&acct, done_at);
                        let _ = self.save_ledger();
                    }
                    Some(ErrorCode::RateLimited) => {
                        let until = done_at + chrono_d(l.rate_block);
                        *lock(&self.blocked_until) = Some(until);
                    }
                    Some(c) if c.is_bad_key() => {
                        let msg = e.to_string();
                        fail_all(&mut pending, results, &|| {
                            EngineError::Auth(ApiError::Api {
                                status: 401,
                                code: ErrorCode::AccessDenied,
                                message: Some(msg.clone()),
                            })
                        });
                        break;
                    }
                    _ if e.is_transient() && pending[idx].transient < 3 => {
                        let job = &mut pending[idx];
                        job.transient += 1;
                        job.not_before =
                            Some(done_at + chrono_d(l.account_gap * 2u32.pow(job.transient)));
                    }
                    _ => {
                        let job = pending.remove(idx);
                        results.push(JobResult {
                            resource: job.r,
                            outcome: Err(EngineError::from_api(e)),
                        });
                    }
                },
            }
        }
    }
}

fn version_key(i: &SnapshotItem) -> String {
    i.version()
        .unwrap_or_else(|| format!("{}@{}", i.name, i.modified.timestamp_millis()))
}
