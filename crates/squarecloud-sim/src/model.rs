//! What the simulator serves: its accounts (each with its own key), their resources and
//! workspaces, and the service's limits.

use serde::{Deserialize, Serialize};
use squarecloud::limits;
pub use squarecloud::limits::WindowRule;
use std::time::Duration;

/// One Square Cloud account, as `--data FILE` describes it (JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountSpec {
    pub id: String,
    pub name: String,
    pub email: String,
    #[serde(default = "default_locale")]
    pub locale: String,
    /// `free`, `hobby-2`, `standard-4`, ...
    pub plan: String,
    /// Plan memory in MB; the daily snapshot quota is `memory_mb / 256 * 2`.
    pub memory_mb: u64,
    #[serde(default)]
    pub applications: Vec<ResourceSpec>,
    #[serde(default)]
    pub databases: Vec<ResourceSpec>,
}

fn default_locale() -> String {
    "pt-BR".into()
}

/// An application or a database.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResourceSpec {
    /// 32 hex characters.
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub desc: Option<String>,
    /// Application language, or database engine (`postgres`, `mongo`, `mysql`, `redis`).
    pub kind: String,
    pub ram: u64,
    #[serde(default = "default_cluster")]
    pub cluster: String,
    #[serde(default)]
    pub domain: Option<String>,
    /// Size in bytes of each snapshot archive of this resource.
    pub snapshot_size: u64,
    /// Simulated seconds a create takes; overrides [`SimConfig::generation_time`].
    #[serde(default)]
    pub generation_secs: Option<f64>,
    /// How many daily automatic snapshots exist when the simulator starts.
    #[serde(default)]
    pub history: u32,
}

fn default_cluster() -> String {
    "florida-1".into()
}

impl AccountSpec {
    /// The daily snapshot quota: `(plan memory MB / 256) * 2`.
    pub fn daily_quota(&self) -> u64 {
        self.memory_mb / 256 * 2
    }

    /// The demo account: `standard-4` (32 snapshots a day), 8 applications and 2 databases
    /// with awkward names (spaces, accents, an emoji, a colon, `../../etc/passwd`, `CON`).
    pub fn demo() -> Self {
        let app = |id: &str, name: &str, lang: &str, ram, size, history, domain: Option<&str>| {
            ResourceSpec {
                id: id.into(),
                name: name.into(),
                desc: None,
                kind: lang.into(),
                ram,
                cluster: "florida-1".into(),
                domain: domain.map(Into::into),
                snapshot_size: size,
                generation_secs: None,
                history,
            }
        };
        const KB: u64 = 1024;
        const MB: u64 = 1024 * 1024;
        AccountSpec {
            id: "313397145698959364".into(),
            name: "Demo Account".into(),
            email: "demo@example.com".into(),
            locale: "pt-BR".into(),
            plan: "standard-4".into(),
            memory_mb: 4096,
            applications: vec![
                app(
                    "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
                    "Atlas Bot",
                    "javascript",
                    512,
                    8 * MB,
                    3,
                    None,
                ),
                app(
                    "1a2b3c4d5e6f708192a3b4c5d6e7f809",
                    "Loja São João",
                    "php",
                    1024,
                    40 * MB,
                    2,
                    Some("loja-sao-joao.squareweb.app"),
                ),
                app(
                    "2b3c4d5e6f708192a3b4c5d6e7f8091a",
                    "🚀 rocket-api",
                    "rust",
                    256,
                    12 * KB,
                    1,
                    None,
                ),
                app(
                    "3c4d5e6f708192a3b4c5d6e7f8091a2b",
                    "../../etc/passwd",
                    "python",
                    256,
                    3 * MB,
                    0,
                    None,
                ),
                app(
                    "4d5e6f708192a3b4c5d6e7f8091a2b3c",
                    "CON",
                    "go",
                    128,
                    600 * KB,
                    1,
                    None,
                ),
                app(
                    "5e6f708192a3b4c5d6e7f8091a2b3c4d",
                    "Meu Site: Portfólio",
                    "static",
                    128,
                    2 * MB,
                    2,
                    Some("portfolio.squareweb.app"),
                ),
                app(
                    "6f708192a3b4c5d6e7f8091a2b3c4d5e",
                    "analytics worker",
                    "java",
                    768,
                    150 * MB,
                    1,
                    None,
                ),
                app(
                    "708192a3b4c5d6e7f8091a2b3c4d5e6f",
                    "Ticket-Tool",
                    "typescript",
                    512,
                    25 * MB,
                    2,
                    None,
                ),
            ],
            databases: vec![
                app(
                    "8192a3b4c5d6e7f8091a2b3c4d5e6f70",
                    "main postgres",
                    "postgres",
                    1024,
                    200 * MB,
                    2,
                    None,
                ),
                app(
                    "92a3b4c5d6e7f8091a2b3c4d5e6f7081",
                    "cache",
                    "redis",
                    256,
                    64 * KB,
                    1,
                    None,
                ),
            ],
        }
    }

    /// The demo account grown to `n` resources (or cut to `n`) with generated apps named
    /// "demo app 0042": for measuring the window on a large account.
    pub fn demo_sized(n: usize) -> Self {
        let mut a = Self::demo();
        let base = a.applications.len() + a.databases.len();
        if n < base {
            a.databases.truncate(n.saturating_sub(a.applications.len()));
            a.applications.truncate(n);
        }
        let langs = ["javascript", "python", "rust", "go", "php", "java"];
        for i in base..n {
            a.applications.push(ResourceSpec {
                id: format!("d{i:031x}"),
                name: format!("demo app {i:04}"),
                desc: None,
                kind: langs[i % langs.len()].into(),
                ram: 128 << (i % 3),
                cluster: "florida-1".into(),
                domain: None,
                // 64 KiB to ~2 MiB: many of them download in seconds.
                snapshot_size: (64 + (i as u64 * 7919) % 1984) * 1024,
                generation_secs: None,
                history: 1 + (i % 3) as u32,
            });
        }
        a
    }
}

/// The service's limits, in simulated time.
#[derive(Debug, Clone)]
pub struct Limits {
    /// One create per this long per account (`KEEP_CALM`).
    pub account_gap: Duration,
    /// One create per this long per resource (`KEEP_CALM`); the newest SDKs say 3 min.
    pub resource_gap: Duration,
    /// From when both create windows are counted.
    pub window_rule: WindowRule,
    /// The rolling window of the daily quota.
    pub quota_window: Duration,
    /// One restore per this long per resource.
    pub restore_gap: Duration,
    /// One commit per application per this long (`KEEP_CALM`).
    pub commit_gap: Duration,
    /// One upload that creates an application per this long per account (`KEEP_CALM`).
    pub upload_gap: Duration,
    /// Authenticated API requests per minute before the key is blocked (`RATE_LIMITED`).
    pub per_minute: u32,
    /// Requests with a bad key per minute before the client is blocked (`RATE_LIMITED`).
    pub bad_keys_per_minute: u32,
    /// How long a `RATE_LIMITED` block lasts.
    pub block: Duration,
    /// `GET /apps/status` per minute (`KEEP_CALM`).
    pub status_per_minute: u32,
    /// `GET /users/snapshots` per minute (`RATE_LIMITED`, this route only).
    pub user_snapshots_per_minute: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            account_gap: limits::ACCOUNT_CREATE_GAP,
            resource_gap: limits::RESOURCE_CREATE_GAP,
            window_rule: WindowRule::Arrival,
            quota_window: limits::QUOTA_WINDOW,
            restore_gap: limits::RESTORE_GAP,
            commit_gap: limits::COMMIT_GAP,
            upload_gap: limits::UPLOAD_GAP,
            per_minute: limits::requests_per_minute("standard-4", 4096),
            bad_keys_per_minute: 10,
            block: limits::RATE_BLOCK,
            status_per_minute: 15,
            user_snapshots_per_minute: 30,
        }
    }
}

impl Limits {
    /// Shorter windows for the app's demo mode, so a demo "snapshot all" takes seconds.
    pub fn demo() -> Self {
        Self {
            account_gap: Duration::from_millis(500),
            resource_gap: Duration::from_secs(10),
            ..Self::default()
        }
    }
}

/// An account beside the first, with its own key (see [`SimConfig::with_account`]); in a
/// `--data FILE`, every account of the `accounts` list.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyedAccount {
    /// The key that opens this account and nothing else (a made-up key: the simulator is
    /// never given a real one).
    #[serde(default)]
    pub api_key: String,
    /// Requests a minute before its key is blocked; none: its plan's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_minute: Option<u32>,
    #[serde(flatten)]
    pub account: AccountSpec,
}

/// Everything that shapes one simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The first account's key.
    pub api_key: String,
    /// The first account (its per-minute cap is `limits.per_minute`).
    pub account: AccountSpec,
    /// More accounts, each with its own key, resources, quota, windows and per-minute cap.
    pub more_accounts: Vec<KeyedAccount>,
    /// Workspaces sharing applications between the accounts.
    pub workspaces: Vec<crate::WorkspaceSpec>,
    pub limits: Limits,
    /// Simulated seconds per real second.
    pub time_scale: f64,
    pub seed: u64,
    /// Simulated time every create takes to generate an archive...
    pub generation_time: Duration,
    /// ...plus the archive's size at this many bytes a second (0: size does not matter), so
    /// small snapshots take a couple of seconds and the largest pass the 202 deadline.
    pub generation_bytes_per_sec: u64,
    /// Past this, a create answers 202 `SNAPSHOT_PROCESSING` and finishes in the background.
    pub soft_deadline: Duration,
    /// How long the server holds a restore call before answering (about 60 s).
    pub restore_time: Duration,
    /// Snapshot lists are cached per resource this long.
    pub list_cache_ttl: Duration,
    /// Whether a finished create makes the cached list stale (unknown for the real API).
    pub create_invalidates_cache: bool,
    /// Whether list items carry `version_id`, `url`, `runtime` and `origin` (newer API).
    pub extended_list_fields: bool,
    /// How long signed file URLs stay valid.
    pub url_ttl: Duration,
    /// Whether a daily automatic snapshot of each resource appears as simulated days pass.
    pub daily_automatic: bool,
    pub api_port: u16,
    pub files_port: u16,
}

impl SimConfig {
    /// The documented limits, with the per-minute cap of the account's plan.
    pub fn new(api_key: impl Into<String>, account: AccountSpec) -> Self {
        let limits = Limits {
            per_minute: limits::requests_per_minute(&account.plan, account.memory_mb),
            ..Limits::default()
        };
        Self {
            api_key: api_key.into(),
            account,
            more_accounts: Vec::new(),
            workspaces: Vec::new(),
            limits,
            time_scale: 1.0,
            seed: 42,
            generation_time: Duration::from_secs(2),
            generation_bytes_per_sec: 20 * 1024 * 1024,
            soft_deadline: limits::CREATE_SOFT_DEADLINE,
            restore_time: Duration::from_secs(60),
            list_cache_ttl: Duration::from_secs(30 * 60),
            create_invalidates_cache: true,
            extended_list_fields: true,
            url_ttl: Duration::from_secs(30 * 24 * 3600),
            daily_automatic: true,
            api_port: 0,
            files_port: 0,
        }
    }

    /// The demo account with the demo limits.
    pub fn demo(api_key: impl Into<String>) -> Self {
        let mut c = Self::new(api_key, AccountSpec::demo());
        c.limits = Limits {
            per_minute: c.limits.per_minute,
            ..Limits::demo()
        };
        c.generation_time = Duration::from_millis(1500);
        c.generation_bytes_per_sec = 200 * 1024 * 1024;
        c
    }

    /// Adds an account with its own key: its resources, `/users/me`, `/users/snapshots`,
    /// daily quota, create and upload windows, per-minute cap (its plan's) and block are its
    /// own.
    pub fn with_account(mut self, api_key: impl Into<String>, account: AccountSpec) -> Self {
        self.more_accounts.push(KeyedAccount {
            api_key: api_key.into(),
            per_minute: None,
            account,
        });
        self
    }

    /// Adds a workspace.
    pub fn with_workspace(mut self, workspace: crate::WorkspaceSpec) -> Self {
        self.workspaces.push(workspace);
        self
    }

    /// Every account with its key, the first one first.
    pub fn accounts(&self) -> impl Iterator<Item = (&str, &AccountSpec)> {
        std::iter::once((self.api_key.as_str(), &self.account)).chain(
            self.more_accounts
                .iter()
                .map(|k| (k.api_key.as_str(), &k.account)),
        )
    }

    /// The account with this id.
    pub fn account_by_id(&self, id: &str) -> Option<&AccountSpec> {
        self.accounts().map(|(_, a)| a).find(|a| a.id == id)
    }

    /// The key of the account with this id.
    pub fn key_of(&self, account_id: &str) -> Option<&str> {
        self.accounts()
            .find(|(_, a)| a.id == account_id)
            .map(|(k, _)| k)
    }

    /// The `i`-th account (0: the first).
    pub(crate) fn account_at(&self, i: usize) -> &AccountSpec {
        match i {
            0 => &self.account,
            _ => &self.more_accounts[i - 1].account,
        }
    }

    /// The `i`-th account's requests a minute.
    pub(crate) fn per_minute_at(&self, i: usize) -> u32 {
        match i {
            0 => self.limits.per_minute,
            _ => {
                let k = &self.more_accounts[i - 1];
                k.per_minute.unwrap_or_else(|| {
                    limits::requests_per_minute(&k.account.plan, k.account.memory_mb)
                })
            }
        }
    }

    /// Creates answer at once whatever the size (tests that are not about timing).
    pub fn instant_creates(mut self) -> Self {
        self.generation_time = Duration::ZERO;
        self.generation_bytes_per_sec = 0;
        self
    }

    /// How long a create of `size` bytes takes, unless the resource says otherwise.
    pub fn generation_for(&self, spec: &ResourceSpec, size: u64) -> Duration {
        match spec.generation_secs {
            Some(s) => Duration::from_secs_f64(s.max(0.0)),
            None if self.generation_bytes_per_sec > 0 => {
                self.generation_time
                    + Duration::from_secs_f64(size as f64 / self.generation_bytes_per_sec as f64)
            }
            None => self.generation_time,
        }
    }
}
