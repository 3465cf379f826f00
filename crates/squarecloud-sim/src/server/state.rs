//! What the simulator remembers between requests: the accounts' resources and their
//! versions, the windows and counters the limits are judged on (each account's own, each
//! resource's own), the faults still to apply, and the log of every request.

use crate::appconfig;
use crate::clock::SimClock;
use crate::faults::{FaultSpec, Target};
use crate::model::{ResourceSpec, SimConfig};
use crate::zipgen::{AppFiles, VirtualZip};
use axum::extract::{ConnectInfo, Request};
use axum::http::{StatusCode, header};
use base64::Engine as _;
use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, TimeZone, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type HmacSha256 = Hmac<Sha256>;

/// One request as the simulator saw it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub at: DateTime<Utc>,
    pub host: Target,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Names (lower case) of the headers present.
    pub headers: Vec<String>,
    pub range: Option<String>,
    pub status: u16,
    /// The client's port on the file host (which connection carried it); none on the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<u16>,
    /// The id of the account whose key the request carried (never the key itself); none
    /// for no key, a key of no account, and on the file host (its URLs carry no key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    App,
    Database,
}

impl Kind {
    pub(crate) fn scope(self) -> &'static str {
        match self {
            Kind::App => "applications",
            Kind::Database => "databases",
        }
    }
    pub(crate) fn not_found(self) -> &'static str {
        match self {
            Kind::App => "APP_NOT_FOUND",
            Kind::Database => "DATABASE_NOT_FOUND",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Version {
    pub(crate) id: String,
    pub(crate) ready_at: DateTime<Utc>,
    pub(crate) size: u64,
    pub(crate) origin: &'static str,
    /// The application's files when the snapshot was taken (what commits had put there).
    pub(crate) files: Arc<AppFiles>,
}

#[derive(Debug)]
pub(crate) struct Res {
    pub(crate) spec: ResourceSpec,
    pub(crate) kind: Kind,
    /// The account it belongs to (its index in the config's accounts).
    pub(crate) owner: usize,
    pub(crate) versions: Vec<Version>,
    pub(crate) last_create: Option<DateTime<Utc>>,
    /// When the last create was (or will be) answered.
    pub(crate) last_answer: Option<DateTime<Utc>>,
    pub(crate) last_restore: Option<DateTime<Utc>>,
    /// While a restore runs: until when.
    pub(crate) restoring_until: Option<DateTime<Utc>>,
    /// The version the resource was last restored to.
    pub(crate) restored_to: Option<String>,
    pub(crate) cache: Option<(DateTime<Utc>, Vec<Value>)>,
    /// When new versions become ready, each making a list cached before it stale (with
    /// `create_invalidates_cache`). All are kept: a daily automatic copy made while a
    /// create is prepared must not hide that create's copy behind the cache.
    pub(crate) invalidate_at: Vec<DateTime<Utc>>,
    /// When the last daily automatic snapshot was made.
    pub(crate) last_automatic: DateTime<Utc>,
    /// The files commits put in the application (add and replace, never delete).
    pub(crate) files: Arc<AppFiles>,
    /// When the last commit to it arrived (one per `commit_gap`).
    pub(crate) last_commit: Option<DateTime<Utc>>,
    /// Commits that asked for a restart (`?restart=true`).
    pub(crate) restarts: u32,
    /// What an application the simulator starts with holds before any commit: its
    /// configuration file and main file (`appconfig::generated`; none for a database or an
    /// application created by an upload, whose files are all in `files`).
    pub(crate) generated: Arc<AppFiles>,
}

impl Res {
    /// The size of a snapshot `version` taken now (with the application's files).
    pub(crate) fn archive_len(&self, version: &str) -> u64 {
        let s = &self.spec;
        let files = self.snapshot_files(&self.files);
        VirtualZip::len_for_files(&s.id, version, &s.name, s.snapshot_size, &files)
    }

    /// The archive served for one of its versions.
    pub(crate) fn archive(&self, v: &Version) -> VirtualZip {
        let s = &self.spec;
        let files = self.snapshot_files(&v.files);
        VirtualZip::with_files(&s.id, &v.id, &s.name, s.snapshot_size, &files)
    }

    /// The files a snapshot holds: the generated ones, then `files` (commits' and an
    /// upload's) over them.
    fn snapshot_files(&self, files: &AppFiles) -> AppFiles {
        let mut all = (*self.generated).clone();
        all.extend(files.iter().map(|(k, v)| (k.clone(), v.clone())));
        all
    }

    /// A resource as the simulator starts with it, or as an upload creates it: no versions
    /// and no history yet.
    pub(crate) fn new(spec: ResourceSpec, kind: Kind, owner: usize, now: DateTime<Utc>) -> Self {
        let generated = match kind {
            Kind::App => appconfig::generated(&spec.name, &spec.kind, spec.ram),
            Kind::Database => AppFiles::new(),
        };
        Self {
            spec,
            kind,
            owner,
            versions: Vec::new(),
            last_create: None,
            last_answer: None,
            last_restore: None,
            restoring_until: None,
            restored_to: None,
            cache: None,
            invalidate_at: Vec::new(),
            last_automatic: now,
            files: Arc::default(),
            last_commit: None,
            restarts: 0,
            generated: Arc::new(generated),
        }
    }

    /// The archive's base name on the file host: the id, suffixed by the engine for databases.
    pub(crate) fn file_name(&self) -> String {
        match self.kind {
            Kind::App => self.spec.id.clone(),
            Kind::Database => format!("{}_{}", self.spec.id, self.spec.kind),
        }
    }
}

/// What one account's limits are judged on.
#[derive(Debug, Default)]
pub(crate) struct AccountState {
    /// Creates within the quota's rolling window (each spends the asking account's).
    pub(crate) creates: VecDeque<DateTime<Utc>>,
    pub(crate) last_account_create: Option<DateTime<Utc>>,
    pub(crate) last_account_answer: Option<DateTime<Utc>>,
    /// When the last upload that creates an application arrived (one per `upload_gap`).
    pub(crate) last_upload: Option<DateTime<Utc>>,
    /// Requests with its key in the last minute (the per-minute cap).
    pub(crate) requests: VecDeque<DateTime<Utc>>,
    pub(crate) status_calls: VecDeque<DateTime<Utc>>,
    pub(crate) user_snapshot_calls: VecDeque<DateTime<Utc>>,
    /// Its key's `RATE_LIMITED` block.
    pub(crate) blocked_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Default)]
pub(crate) struct State0 {
    pub resources: Vec<Res>,
    /// Each account's, in the config's order.
    pub(crate) accounts: Vec<AccountState>,
    /// Requests with a bad key in the last minute, from any client (the address's block).
    pub(crate) bad_keys: VecDeque<DateTime<Utc>>,
    /// The address's block, after too many bad keys: every key is refused.
    pub(crate) ip_blocked_until: Option<DateTime<Utc>>,
    pub(crate) counter: u64,
    pub faults: Vec<FaultSpec>,
    pub log: Vec<RecordedRequest>,
}

pub(crate) struct Shared {
    pub(crate) config: SimConfig,
    pub(crate) clock: SimClock,
    pub(crate) files_base: String,
    pub(crate) secret: Vec<u8>,
    pub(crate) state: Mutex<State0>,
    /// Body bytes the file host has sent, over every request.
    pub(crate) served: Arc<std::sync::atomic::AtomicU64>,
    /// Body bytes each connection to the file host has sent (a distant host's TCP window).
    pub(crate) conns: Mutex<HashMap<std::net::SocketAddr, Arc<std::sync::atomic::AtomicU64>>>,
}

pub(crate) fn cd(d: Duration) -> ChronoDuration {
    ChronoDuration::from_std(d).unwrap_or(ChronoDuration::MAX)
}

/// Counts entries within `window` of `now` after dropping older ones.
pub(crate) fn in_window(
    q: &mut VecDeque<DateTime<Utc>>,
    now: DateTime<Utc>,
    window: Duration,
) -> usize {
    while q.front().is_some_and(|t| now - *t >= cd(window)) {
        q.pop_front();
    }
    q.len()
}

impl Shared {
    pub(crate) fn new(config: SimConfig, files_base: String) -> Self {
        let clock = SimClock::new(config.time_scale);
        let secret = Sha256::digest(format!("squarecloud-sim/{}", config.seed)).to_vec();
        let now = clock.now();
        let day = Utc
            .timestamp_opt(now.timestamp() - now.timestamp().rem_euclid(86_400), 0)
            .single()
            .unwrap_or(now);
        let mut base = day + ChronoDuration::hours(3);
        if base > now {
            base -= ChronoDuration::days(1);
        }
        let mut state = State0::default();
        let specs = config.accounts().enumerate().flat_map(|(owner, (_, a))| {
            a.applications
                .iter()
                .map(move |s| (s, Kind::App, owner))
                .chain(a.databases.iter().map(move |s| (s, Kind::Database, owner)))
        });
        for (spec, kind, owner) in specs {
            let mut res = Res::new(spec.clone(), kind, owner, base);
            for i in (0..spec.history).rev() {
                let id = version_id(&secret, &spec.id, state.counter);
                state.counter += 1;
                let size = res.archive_len(&id);
                res.versions.push(Version {
                    id,
                    ready_at: base - ChronoDuration::days(i as i64),
                    size,
                    origin: "automatic",
                    files: Arc::default(),
                });
            }
            state.resources.push(res);
        }
        state.accounts = config.accounts().map(|_| AccountState::default()).collect();
        Self {
            config,
            clock,
            files_base,
            secret,
            state: Mutex::new(state),
            served: Arc::default(),
            conns: Mutex::default(),
        }
    }

    /// The bytes `peer`'s connection has sent, and whether this is its first request.
    pub(crate) fn connection(
        &self,
        peer: std::net::SocketAddr,
    ) -> (Arc<std::sync::atomic::AtomicU64>, bool) {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        // Ports are reused: an old connection's entry is dropped long before that matters.
        if conns.len() > 10_000 {
            conns.clear();
        }
        let new = !conns.contains_key(&peer);
        (conns.entry(peer).or_default().clone(), new)
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, State0> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn signature(&self, path: &str, expires: i64, version: &str) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("hmac key");
        mac.update(format!("GET\n{path}\n{expires}\n{version}").as_bytes());
        base64::engine::general_purpose::STANDARD.encode(&mac.finalize().into_bytes()[..20])
    }

    /// The signed query string for a file, as the API's `key` field carries it.
    pub(crate) fn signed_key(&self, path: &str, version: Option<&str>) -> String {
        let expires = (self.clock.now() + cd(self.config.url_ttl)).timestamp();
        let sig = self.signature(path, expires, version.unwrap_or(""));
        let sig: String = url::form_urlencoded::byte_serialize(sig.as_bytes()).collect();
        let mut key = format!("AWSAccessKeyId=SQSIMEXAMPLEKEYID&Expires={expires}&Signature={sig}");
        if let Some(v) = version {
            key.push_str("&versionId=");
            key.push_str(v);
        }
        key
    }

    pub(crate) fn file_path(&self, res: &Res) -> String {
        // The owner's id, for a shared application too: its files are the owner's
        // (inferred; no source says whose id a member's URL carries).
        format!(
            "/{}/{}/{}.zip",
            res.kind.scope(),
            self.config.account_at(res.owner).id,
            res.file_name()
        )
    }

    pub(crate) fn list_item(&self, res: &Res, v: &Version) -> Value {
        let path = self.file_path(res);
        let key = self.signed_key(&path, Some(&v.id));
        let mut item = json!({
            "name": res.file_name(),
            "size": v.size,
            "modified": v.ready_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "key": key,
        });
        if self.config.extended_list_fields {
            item["version_id"] = json!(v.id);
            item["url"] = json!(format!("{}{}?{}", self.files_base, path, key));
            item["runtime"] = json!(res.spec.kind);
            item["origin"] = json!(v.origin);
        }
        item
    }

    /// Square Cloud makes an automatic snapshot of every resource each day (at 03:00 UTC
    /// here): the ones due since the last look are made now, as simulated days pass.
    fn make_automatic(&self, st: &mut State0, idx: usize, now: DateTime<Utc>) {
        while st.resources[idx].last_automatic + ChronoDuration::days(1) <= now {
            let at = st.resources[idx].last_automatic + ChronoDuration::days(1);
            let counter = st.counter;
            st.counter += 1;
            let res = &mut st.resources[idx];
            let id = version_id(&self.secret, &res.spec.id, counter);
            let size = res.archive_len(&id);
            res.versions.push(Version {
                id,
                ready_at: at,
                size,
                origin: "automatic",
                files: res.files.clone(),
            });
            res.last_automatic = at;
            res.invalidate_at.push(at);
        }
    }

    /// The list of one resource's snapshots, newest first, through the per-resource cache.
    pub(crate) fn list(&self, st: &mut State0, idx: usize, now: DateTime<Utc>) -> Vec<Value> {
        if self.config.daily_automatic {
            self.make_automatic(st, idx, now);
        }
        let ttl = cd(self.config.list_cache_ttl);
        let res = &st.resources[idx];
        if let Some((filled, items)) = &res.cache {
            let stale = self.config.create_invalidates_cache
                && res.invalidate_at.iter().any(|t| *filled < *t && *t <= now);
            if now - *filled < ttl && !stale {
                return items.clone();
            }
        }
        let mut ready: Vec<&Version> = res.versions.iter().filter(|v| v.ready_at <= now).collect();
        ready.sort_by_key(|v| std::cmp::Reverse(v.ready_at));
        let items: Vec<Value> = ready.iter().map(|v| self.list_item(res, v)).collect();
        let res = &mut st.resources[idx];
        res.cache = Some((now, items.clone()));
        res.invalidate_at.retain(|t| *t > now);
        items
    }
}

pub(crate) fn version_id(secret: &[u8], resource: &str, n: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    let digest = Sha256::digest([secret, resource.as_bytes(), &n.to_le_bytes()].concat());
    digest
        .iter()
        .take(32)
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect()
}
// ---------- the API gate: record, faults, IP block, auth, per-minute cap ----------

pub(crate) fn record(shared: &Shared, host: Target, req: &Request) -> usize {
    let mut st = shared.lock();
    st.log.push(RecordedRequest {
        at: shared.clock.now(),
        host,
        method: req.method().to_string(),
        path: req.uri().path().to_string(),
        query: req.uri().query().map(str::to_string),
        headers: req
            .headers()
            .keys()
            .map(|k| k.as_str().to_string())
            .collect(),
        range: req
            .headers()
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        status: 0,
        connection: req
            .extensions()
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.port()),
        account: None,
    });
    st.log.len() - 1
}

/// Names the account whose key a recorded request carried.
pub(crate) fn set_account(shared: &Shared, idx: usize, account: usize) {
    let id = shared.config.account_at(account).id.clone();
    if let Some(r) = shared.lock().log.get_mut(idx) {
        r.account = Some(id);
    }
}

pub(crate) fn set_status(shared: &Shared, idx: usize, status: StatusCode) {
    if let Some(r) = shared.lock().log.get_mut(idx) {
        r.status = status.as_u16();
    }
}
