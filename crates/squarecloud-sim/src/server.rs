//! The HTTP side: the API (`/v2/...`), the control API (`/_sim/...`) and the file host.

use crate::clock::SimClock;
use crate::faults::{self, FaultKind, FaultSpec, Target};
use crate::model::{ResourceSpec, SimConfig, WindowRule};
use crate::zipgen::VirtualZip;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, TimeZone, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    App,
    Database,
}

impl Kind {
    fn scope(self) -> &'static str {
        match self {
            Kind::App => "applications",
            Kind::Database => "databases",
        }
    }
    fn not_found(self) -> &'static str {
        match self {
            Kind::App => "APP_NOT_FOUND",
            Kind::Database => "DATABASE_NOT_FOUND",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Version {
    pub id: String,
    pub ready_at: DateTime<Utc>,
    pub size: u64,
    pub origin: &'static str,
}

#[derive(Debug)]
pub(crate) struct Res {
    pub spec: ResourceSpec,
    pub kind: Kind,
    pub versions: Vec<Version>,
    last_create: Option<DateTime<Utc>>,
    /// When the last create was (or will be) answered.
    last_answer: Option<DateTime<Utc>>,
    last_restore: Option<DateTime<Utc>>,
    /// While a restore runs: until when.
    restoring_until: Option<DateTime<Utc>>,
    /// The version the resource was last restored to.
    pub restored_to: Option<String>,
    cache: Option<(DateTime<Utc>, Vec<Value>)>,
    /// When new versions become ready, each making a list cached before it stale (with
    /// `create_invalidates_cache`). All are kept: a daily automatic copy made while a
    /// create is prepared must not hide that create's copy behind the cache.
    invalidate_at: Vec<DateTime<Utc>>,
    /// When the last daily automatic snapshot was made.
    last_automatic: DateTime<Utc>,
}

impl Res {
    /// The archive's base name on the file host: the id, suffixed by the engine for databases.
    fn file_name(&self) -> String {
        match self.kind {
            Kind::App => self.spec.id.clone(),
            Kind::Database => format!("{}_{}", self.spec.id, self.spec.kind),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct State0 {
    pub resources: Vec<Res>,
    creates: VecDeque<DateTime<Utc>>,
    last_account_create: Option<DateTime<Utc>>,
    last_account_answer: Option<DateTime<Utc>>,
    requests: VecDeque<DateTime<Utc>>,
    bad_keys: VecDeque<DateTime<Utc>>,
    status_calls: VecDeque<DateTime<Utc>>,
    user_snapshot_calls: VecDeque<DateTime<Utc>>,
    blocked_until: Option<DateTime<Utc>>,
    counter: u64,
    pub faults: Vec<FaultSpec>,
    pub log: Vec<RecordedRequest>,
}

pub(crate) struct Shared {
    pub config: SimConfig,
    pub clock: SimClock,
    pub files_base: String,
    secret: Vec<u8>,
    pub state: Mutex<State0>,
    /// Body bytes the file host has sent, over every request.
    pub served: Arc<std::sync::atomic::AtomicU64>,
    /// Body bytes each connection to the file host has sent (a distant host's TCP window).
    conns: Mutex<HashMap<std::net::SocketAddr, Arc<std::sync::atomic::AtomicU64>>>,
}

fn cd(d: Duration) -> ChronoDuration {
    ChronoDuration::from_std(d).unwrap_or(ChronoDuration::MAX)
}

/// Counts entries within `window` of `now` after dropping older ones.
fn in_window(q: &mut VecDeque<DateTime<Utc>>, now: DateTime<Utc>, window: Duration) -> usize {
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
        let specs = config
            .account
            .applications
            .iter()
            .map(|s| (s, Kind::App))
            .chain(config.account.databases.iter().map(|s| (s, Kind::Database)));
        for (spec, kind) in specs {
            let mut res = Res {
                spec: spec.clone(),
                kind,
                versions: Vec::new(),
                last_create: None,
                last_answer: None,
                last_restore: None,
                restoring_until: None,
                restored_to: None,
                cache: None,
                invalidate_at: Vec::new(),
                last_automatic: base,
            };
            for i in (0..spec.history).rev() {
                let id = version_id(&secret, &spec.id, state.counter);
                state.counter += 1;
                let size = VirtualZip::len_for(&spec.id, &id, &spec.name, spec.snapshot_size);
                res.versions.push(Version {
                    id,
                    ready_at: base - ChronoDuration::days(i as i64),
                    size,
                    origin: "automatic",
                });
            }
            state.resources.push(res);
        }
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
    fn connection(&self, peer: std::net::SocketAddr) -> (Arc<std::sync::atomic::AtomicU64>, bool) {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        // Ports are reused: an old connection's entry is dropped long before that matters.
        if conns.len() > 10_000 {
            conns.clear();
        }
        let new = !conns.contains_key(&peer);
        (conns.entry(peer).or_default().clone(), new)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State0> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn signature(&self, path: &str, expires: i64, version: &str) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("hmac key");
        mac.update(format!("GET\n{path}\n{expires}\n{version}").as_bytes());
        base64::engine::general_purpose::STANDARD.encode(&mac.finalize().into_bytes()[..20])
    }

    /// The signed query string for a file, as the API's `key` field carries it.
    fn signed_key(&self, path: &str, version: Option<&str>) -> String {
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

    fn file_path(&self, res: &Res) -> String {
        format!(
            "/{}/{}/{}.zip",
            res.kind.scope(),
            self.config.account.id,
            res.file_name()
        )
    }

    fn list_item(&self, res: &Res, v: &Version) -> Value {
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
            let size =
                VirtualZip::len_for(&res.spec.id, &id, &res.spec.name, res.spec.snapshot_size);
            res.versions.push(Version {
                id,
                ready_at: at,
                size,
                origin: "automatic",
            });
            res.last_automatic = at;
            res.invalidate_at.push(at);
        }
    }

    /// The list of one resource's snapshots, newest first, through the per-resource cache.
    fn list(&self, st: &mut State0, idx: usize, now: DateTime<Utc>) -> Vec<Value> {
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

fn version_id(secret: &[u8], resource: &str, n: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    let digest = Sha256::digest([secret, resource.as_bytes(), &n.to_le_bytes()].concat());
    digest
        .iter()
        .take(32)
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect()
}

// ---------- responses ----------

fn envelope_ok(v: Value) -> Response {
    Json(json!({"status": "success", "response": v})).into_response()
}

/// An error envelope. Like the real API, some codes come with a human `message` and
/// others without one.
fn envelope_err(status: StatusCode, code: &str) -> Response {
    let message = match code {
        "KEEP_CALM" => Some("Slow down: wait a little before creating another snapshot."),
        "DAILY_SNAPSHOTS_LIMIT_REACHED" => Some("You reached the daily snapshot limit."),
        "RATE_LIMITED" => Some("Too many requests. Try again in 30 minutes."),
        _ => None,
    };
    let mut body = json!({"status": "error", "code": code});
    if let Some(m) = message {
        body["message"] = json!(m);
    }
    (status, Json(body)).into_response()
}

/// Puts a field in only when it is set: the API leaves unset optional fields out.
fn set_opt(v: &mut Value, key: &str, value: &Option<String>) {
    if let Some(x) = value {
        v[key] = json!(x);
    }
}

/// A 302 to `location` (either host, as a `Redirect` fault).
fn redirect(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location)], "").into_response()
}

fn html(status: StatusCode, title: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1>\
         <p>cloudflare</p></body></html>"
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=UTF-8")],
        body,
    )
        .into_response()
}

fn s3_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    (status, [(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

// ---------- the API gate: record, faults, IP block, auth, per-minute cap ----------

fn record(shared: &Shared, host: Target, req: &Request) -> usize {
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
    });
    st.log.len() - 1
}

fn set_status(shared: &Shared, idx: usize, status: StatusCode) {
    if let Some(r) = shared.lock().log.get_mut(idx) {
        r.status = status.as_u16();
    }
}

async fn api_gate(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/_sim") {
        return next.run(req).await;
    }
    let idx = record(&shared, Target::Api, &req);
    let resp = gate_inner(&shared, &path, req, next).await;
    set_status(&shared, idx, resp.status());
    resp
}

async fn gate_inner(shared: &Arc<Shared>, path: &str, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let injected = faults::take(&mut shared.lock().faults, Target::Api, &method, path);
    let mut reset_after = None;
    let mut stale = None;
    for f in &injected {
        match f {
            FaultKind::Stall { seconds, .. } => {
                tokio::time::sleep(Duration::from_secs_f64(*seconds)).await
            }
            FaultKind::ServerErrorHtml { status } => {
                let s = StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY);
                return html(
                    s,
                    &format!("{} {}", s.as_u16(), s.canonical_reason().unwrap_or("")),
                );
            }
            FaultKind::Forbidden403Html => {
                return html(StatusCode::FORBIDDEN, "Attention Required!");
            }
            FaultKind::MalformedJson => {
                return (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    "{\"status\":\"success\",\"response\":{\"user\":{\"id\":",
                )
                    .into_response();
            }
            FaultKind::ResetAfter { bytes } => reset_after = Some(*bytes),
            FaultKind::Redirect { location } => return redirect(location),
            FaultKind::StaleList { newer_than_secs } => {
                stale = Some(StaleList(Duration::from_secs_f64(newer_than_secs.max(0.0))))
            }
            _ => {}
        }
    }
    let mut req = req;
    if let Some(st) = stale {
        req.extensions_mut().insert(st);
    }
    let now = shared.clock.now();
    let limits = &shared.config.limits;
    {
        let mut st = shared.lock();
        if st.blocked_until.is_some_and(|t| t > now) {
            return envelope_err(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED");
        }
        if path != "/v2/service/status" {
            let good = req
                .headers()
                .get(header::AUTHORIZATION)
                .is_some_and(|v| v.as_bytes() == shared.config.api_key.as_bytes());
            if !good {
                st.bad_keys.push_back(now);
                if in_window(&mut st.bad_keys, now, Duration::from_secs(60))
                    > limits.bad_keys_per_minute as usize
                {
                    st.blocked_until = Some(now + cd(limits.block));
                    return envelope_err(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED");
                }
                return envelope_err(StatusCode::UNAUTHORIZED, "ACCESS_DENIED");
            }
            st.requests.push_back(now);
            if in_window(&mut st.requests, now, Duration::from_secs(60))
                > limits.per_minute as usize
            {
                st.blocked_until = Some(now + cd(limits.block));
                return envelope_err(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED");
            }
        }
    }
    let resp = next.run(req).await;
    match reset_after {
        Some(n) => {
            let (parts, body) = resp.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let cut = bytes.slice(..(n as usize).min(bytes.len()));
            let stream = futures_util::stream::iter(vec![
                Ok(cut),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected reset",
                )),
            ]);
            let mut resp = Response::from_parts(parts, Body::from_stream(stream));
            resp.headers_mut().insert(
                header::CONTENT_LENGTH,
                HeaderValue::from(bytes.len() as u64),
            );
            resp
        }
        None => resp,
    }
}

// ---------- API handlers ----------

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

async fn users_me(State(shared): State<Arc<Shared>>) -> Response {
    let a = &shared.config.account;
    let st = shared.lock();
    let created = iso(Utc
        .timestamp_opt(1_682_935_200, 0)
        .single()
        .unwrap_or_default());
    let used: u64 = st.resources.iter().map(|r| r.spec.ram).sum();
    let apps: Vec<Value> = st
        .resources
        .iter()
        .filter(|r| r.kind == Kind::App)
        .map(|r| {
            let mut v = json!({"id": r.spec.id, "name": r.spec.name, "ram": r.spec.ram,
                   "lang": r.spec.kind, "cluster": r.spec.cluster, "created_at": created});
            set_opt(&mut v, "desc", &r.spec.desc);
            set_opt(&mut v, "domain", &r.spec.domain);
            v
        })
        .collect();
    let dbs: Vec<Value> = st
        .resources
        .iter()
        .filter(|r| r.kind == Kind::Database)
        .map(|r| {
            json!({"id": r.spec.id, "name": r.spec.name, "ram": r.spec.ram, "type": r.spec.kind,
                   "cluster": r.spec.cluster, "created_at": created})
        })
        .collect();
    let expires = (shared.clock.now() + ChronoDuration::days(30)).timestamp_millis();
    envelope_ok(json!({
        "user": {
            "id": a.id, "name": a.name, "email": a.email, "locale": a.locale, "created_at": created,
            "plan": {
                "name": a.plan,
                "memory": {"limit": a.memory_mb, "available": a.memory_mb.saturating_sub(used), "used": used},
                "duration": if a.plan == "free" { Value::Null } else { json!(expires) },
            }
        },
        "applications": apps,
        "databases": dbs,
    }))
}

fn find(st: &State0, kind: Kind, id: &str) -> Option<usize> {
    st.resources
        .iter()
        .position(|r| r.kind == kind && r.spec.id == id)
}

async fn app_info(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let st = shared.lock();
    let Some(i) = find(&st, Kind::App, &id) else {
        return envelope_err(StatusCode::NOT_FOUND, "APP_NOT_FOUND");
    };
    let r = &st.resources[i].spec;
    let mut v = json!({
        "id": r.id, "name": r.name, "owner": shared.config.account.id,
        "cluster": r.cluster, "ram": r.ram, "language": r.kind,
        "created_at": "2023-05-01T10:00:00.000Z"
    });
    set_opt(&mut v, "desc", &r.desc);
    set_opt(&mut v, "domain", &r.domain);
    envelope_ok(v)
}

async fn database_info(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let st = shared.lock();
    let Some(i) = find(&st, Kind::Database, &id) else {
        return envelope_err(StatusCode::NOT_FOUND, "DATABASE_NOT_FOUND");
    };
    let r = &st.resources[i].spec;
    envelope_ok(json!({
        "id": r.id, "name": r.name, "cluster": r.cluster, "ram": r.ram, "type": r.kind,
        "created_at": "2023-05-01T10:00:00.000Z"
    }))
}

fn app_status_value(r: &Res, n: usize) -> Value {
    let running = !n.is_multiple_of(5);
    if running {
        json!({"id": r.spec.id, "running": true, "cpu": "0.42%", "ram": format!("{}MB", r.spec.ram / 4)})
    } else {
        json!({"id": r.spec.id, "running": false})
    }
}

async fn apps_status(State(shared): State<Arc<Shared>>) -> Response {
    let now = shared.clock.now();
    let mut st = shared.lock();
    st.status_calls.push_back(now);
    if in_window(&mut st.status_calls, now, Duration::from_secs(60))
        > shared.config.limits.status_per_minute as usize
    {
        return envelope_err(StatusCode::TOO_MANY_REQUESTS, "KEEP_CALM");
    }
    let items: Vec<Value> = st
        .resources
        .iter()
        .filter(|r| r.kind == Kind::App)
        .enumerate()
        .map(|(n, r)| app_status_value(r, n + 1))
        .collect();
    envelope_ok(Value::Array(items))
}

async fn app_status(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let st = shared.lock();
    let Some(i) = find(&st, Kind::App, &id) else {
        return envelope_err(StatusCode::NOT_FOUND, "APP_NOT_FOUND");
    };
    let r = &st.resources[i];
    envelope_ok(json!({
        "cpu": "0.42%", "ram": format!("{}/{}MB", r.spec.ram / 4, r.spec.ram), "status": "running",
        "running": true, "storage": "14.2MB",
        "network": {"total": "1.2 MB ↑ 300 KB ↓", "now": "4 KB ↑ 1 KB ↓"},
        "uptime": shared.clock.now().timestamp_millis() - 3_600_000
    }))
}

async fn service_status() -> Response {
    Json(json!({"status": "online", "message": "All systems operational"})).into_response()
}

/// The `StaleList` fault, carried from the gate to the list handler.
#[derive(Debug, Clone, Copy)]
struct StaleList(Duration);

async fn list_snapshots(shared: Arc<Shared>, kind: Kind, id: String, req: Request) -> Response {
    let now = shared.clock.now();
    let mut st = shared.lock();
    let Some(i) = find(&st, kind, &id) else {
        return envelope_err(StatusCode::NOT_FOUND, kind.not_found());
    };
    if let Some(StaleList(age)) = req.extensions().get::<StaleList>().copied() {
        // A list filled before the newest versions were made.
        let res = &st.resources[i];
        let mut old: Vec<&Version> = res
            .versions
            .iter()
            .filter(|v| v.ready_at <= now - cd(age))
            .collect();
        old.sort_by_key(|v| std::cmp::Reverse(v.ready_at));
        let items = old.iter().map(|v| shared.list_item(res, v)).collect();
        return envelope_ok(Value::Array(items));
    }
    let items = shared.list(&mut st, i, now);
    envelope_ok(Value::Array(items))
}

async fn create_snapshot(shared: Arc<Shared>, kind: Kind, id: String) -> Response {
    let now = shared.clock.now();
    let limits = &shared.config.limits;
    let (generation, path) = {
        let mut st = shared.lock();
        let Some(i) = find(&st, kind, &id) else {
            return envelope_err(StatusCode::NOT_FOUND, kind.not_found());
        };
        let (account_last, resource_last) = match limits.window_rule {
            WindowRule::Arrival => (st.last_account_create, st.resources[i].last_create),
            WindowRule::Answer => (st.last_account_answer, st.resources[i].last_answer),
        };
        if account_last.is_some_and(|t| now - t < cd(limits.account_gap)) {
            return envelope_err(StatusCode::TOO_MANY_REQUESTS, "KEEP_CALM");
        }
        if resource_last.is_some_and(|t| now - t < cd(limits.resource_gap)) {
            return envelope_err(StatusCode::TOO_MANY_REQUESTS, "KEEP_CALM");
        }
        let quota = shared.config.account.daily_quota() as usize;
        let used = in_window(&mut st.creates, now, limits.quota_window);
        if used >= quota {
            return envelope_err(
                StatusCode::TOO_MANY_REQUESTS,
                "DAILY_SNAPSHOTS_LIMIT_REACHED",
            );
        }
        st.creates.push_back(now);
        st.last_account_create = Some(now);
        let counter = st.counter;
        st.counter += 1;
        let res = &mut st.resources[i];
        res.last_create = Some(now);
        let vid = version_id(&shared.secret, &res.spec.id, counter);
        let size =
            VirtualZip::new(&res.spec.id, &vid, &res.spec.name, res.spec.snapshot_size).len();
        let generation = shared.config.generation_for(&res.spec, size);
        let ready_at = now + cd(generation);
        let answer_at = now + cd(generation.min(shared.config.soft_deadline));
        res.last_answer = Some(answer_at);
        st.last_account_answer = Some(answer_at);
        let res = &mut st.resources[i];
        res.versions.push(Version {
            id: vid,
            ready_at,
            size,
            origin: "manual",
        });
        res.invalidate_at.push(ready_at);
        let path = shared.file_path(res);
        (generation, path)
    };
    if generation > shared.config.soft_deadline {
        tokio::time::sleep(shared.clock.real(shared.config.soft_deadline)).await;
        return envelope_err(StatusCode::ACCEPTED, "SNAPSHOT_PROCESSING");
    }
    tokio::time::sleep(shared.clock.real(generation)).await;
    let key = shared.signed_key(&path, None);
    envelope_ok(json!({"url": format!("{}{}?{}", shared.files_base, path, key), "key": key}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RestoreBody {
    snapshot_id: Option<String>,
    version_id: Option<String>,
}

async fn restore_snapshot(shared: Arc<Shared>, kind: Kind, id: String, body: Bytes) -> Response {
    let now = shared.clock.now();
    let Ok(body) = serde_json::from_slice::<RestoreBody>(&body) else {
        return envelope_err(StatusCode::BAD_REQUEST, "INVALID_JSON_BODY");
    };
    let (Some(snapshot_id), Some(version_id)) = (body.snapshot_id, body.version_id) else {
        return envelope_err(StatusCode::BAD_REQUEST, "MISSING_PARAMETERS");
    };
    let hold = {
        let mut st = shared.lock();
        let Some(i) = find(&st, kind, &id) else {
            return envelope_err(StatusCode::NOT_FOUND, kind.not_found());
        };
        let res = &mut st.resources[i];
        if snapshot_id != res.file_name() {
            return envelope_err(StatusCode::BAD_REQUEST, "INVALID_SNAPSHOT_ID");
        }
        let well_formed = !version_id.is_empty()
            && version_id.len() <= 128
            && version_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
        if !well_formed {
            return envelope_err(StatusCode::BAD_REQUEST, "INVALID_VERSION_ID");
        }
        if !res
            .versions
            .iter()
            .any(|v| v.id == version_id && v.ready_at <= now)
        {
            return envelope_err(StatusCode::NOT_FOUND, "SNAPSHOT_NOT_FOUND");
        }
        if res.restoring_until.is_some_and(|t| t > now) {
            return envelope_err(StatusCode::CONFLICT, "RESTORE_IN_PROGRESS");
        }
        if res
            .last_restore
            .is_some_and(|t| now - t < cd(shared.config.limits.restore_gap))
        {
            return envelope_err(StatusCode::TOO_MANY_REQUESTS, "KEEP_CALM");
        }
        res.last_restore = Some(now);
        res.restoring_until = Some(now + cd(shared.config.restore_time));
        res.restored_to = Some(version_id.clone());
        shared.config.restore_time
    };
    // The server holds the call while it puts the files back.
    tokio::time::sleep(shared.clock.real(hold)).await;
    Json(json!({"status": "success"})).into_response()
}

#[derive(Deserialize)]
struct ScopeQuery {
    scope: Option<String>,
}

async fn user_snapshots(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<ScopeQuery>,
) -> Response {
    if shared.config.account.plan == "free" {
        return envelope_err(StatusCode::PAYMENT_REQUIRED, "UPGRADE_REQUIRED");
    }
    let kind = match q.scope.as_deref().unwrap_or("applications") {
        "applications" => Kind::App,
        "databases" => Kind::Database,
        _ => return envelope_err(StatusCode::BAD_REQUEST, "INVALID_SCOPE"),
    };
    let now = shared.clock.now();
    let mut st = shared.lock();
    st.user_snapshot_calls.push_back(now);
    if in_window(&mut st.user_snapshot_calls, now, Duration::from_secs(60))
        > shared.config.limits.user_snapshots_per_minute as usize
    {
        return envelope_err(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED");
    }
    let mut all = Vec::new();
    for i in 0..st.resources.len() {
        if st.resources[i].kind == kind {
            all.extend(shared.list(&mut st, i, now));
        }
    }
    envelope_ok(Value::Array(all))
}

async fn not_found() -> Response {
    envelope_err(StatusCode::NOT_FOUND, "ROUTE_NOT_FOUND")
}

// ---------- control API ----------

async fn ctl_requests(State(shared): State<Arc<Shared>>, method: Method) -> Response {
    let mut st = shared.lock();
    if method == Method::DELETE {
        st.log.clear();
        return StatusCode::NO_CONTENT.into_response();
    }
    Json(st.log.clone()).into_response()
}

async fn ctl_faults(State(shared): State<Arc<Shared>>, method: Method, body: Bytes) -> Response {
    let mut st = shared.lock();
    if method == Method::DELETE {
        st.faults.clear();
        return StatusCode::NO_CONTENT.into_response();
    }
    match serde_json::from_slice::<FaultSpec>(&body) {
        Ok(f) => {
            st.faults.push(f);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

/// Body bytes the file host has sent, over every request (benchmarks count re-sent bytes).
async fn ctl_served(State(shared): State<Arc<Shared>>) -> Response {
    Json(json!({"bytes": shared.served.load(std::sync::atomic::Ordering::Relaxed)})).into_response()
}

#[derive(Deserialize)]
struct Advance {
    seconds: f64,
}

async fn ctl_advance(State(shared): State<Arc<Shared>>, Json(a): Json<Advance>) -> Response {
    shared
        .clock
        .advance(Duration::from_secs_f64(a.seconds.max(0.0)));
    Json(json!({"now": iso(shared.clock.now())})).into_response()
}

pub(crate) fn api_router(shared: Arc<Shared>) -> Router {
    let s = |k| {
        let a = shared.clone();
        let b = shared.clone();
        let c = shared.clone();
        (
            get(move |Path(id): Path<String>, req: Request| list_snapshots(a, k, id, req))
                .post(move |Path(id): Path<String>| create_snapshot(b, k, id)),
            post(move |Path(id): Path<String>, body: Bytes| restore_snapshot(c, k, id, body)),
        )
    };
    let (apps_snap, apps_restore) = s(Kind::App);
    let (db_snap, db_restore) = s(Kind::Database);
    Router::new()
        .route("/v2/users/me", get(users_me))
        .route("/v2/users/snapshots", get(user_snapshots))
        .route("/v2/service/status", get(service_status))
        .route("/v2/apps/status", get(apps_status))
        .route("/v2/apps/{id}", get(app_info))
        .route("/v2/apps/{id}/status", get(app_status))
        .route("/v2/apps/{id}/snapshots", apps_snap)
        .route("/v2/apps/{id}/snapshots/restore", apps_restore)
        .route("/v2/databases/{id}", get(database_info))
        .route("/v2/databases/{id}/snapshots", db_snap)
        .route("/v2/databases/{id}/snapshots/restore", db_restore)
        .route("/_sim/requests", get(ctl_requests).delete(ctl_requests))
        .route("/_sim/faults", post(ctl_faults).delete(ctl_faults))
        .route("/_sim/clock/advance", post(ctl_advance))
        .route("/_sim/served", get(ctl_served))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(shared.clone(), api_gate))
        .with_state(shared)
}

// ---------- the file host ----------

/// Parses a single `bytes=` range into an inclusive (start, end); `Err` means unsatisfiable.
fn parse_range(h: &str, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None); // several ranges: serve the whole file, as S3 does
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().map_err(|_| ())?;
            if n == 0 {
                return Err(());
            }
            (len.saturating_sub(n), len.saturating_sub(1))
        }
        (s, "") => (s.parse().map_err(|_| ())?, len.saturating_sub(1)),
        (s, e) => {
            let (s, e): (u64, u64) = (s.parse().map_err(|_| ())?, e.parse().map_err(|_| ())?);
            if e < s {
                return Err(());
            }
            (s, e.min(len.saturating_sub(1)))
        }
    };
    if start >= len {
        return Err(());
    }
    Ok(Some((start, end)))
}

#[derive(Default, Clone)]
struct StreamFaults {
    reset_after: Option<u64>,
    stall: Option<(u64, f64)>,
    bandwidth: Option<u64>,
    /// A distant host's round trip, and the bytes the connection has sent (its window).
    distant: Option<(Duration, Arc<std::sync::atomic::AtomicU64>)>,
}

/// TCP's initial window: 10 segments of a 1500-byte path.
const INITIAL_WINDOW: u64 = 10 * 1448;

/// The slow-start round trip (from 0) in which a connection sends its `n`th byte (n ≥ 1):
/// the window starts at [`INITIAL_WINDOW`] and doubles each round trip.
fn slow_start_round(n: u64) -> u32 {
    let mut k = 0;
    while k < 40 && sent_by_round(k) < n {
        k += 1;
    }
    k
}

/// Bytes a connection has sent by the end of slow-start round `k`.
fn sent_by_round(k: u32) -> u64 {
    INITIAL_WINDOW.saturating_mul((1u64 << (k + 1)) - 1)
}

fn body_stream(
    zip: VirtualZip,
    start: u64,
    end_excl: u64,
    f: StreamFaults,
    served: Arc<std::sync::atomic::AtomicU64>,
) -> Body {
    struct S {
        zip: VirtualZip,
        pos: u64,
        end: u64,
        sent: u64,
        stalled: bool,
        failed: bool,
        began: Instant,
        /// A distant host's slow-start round trip at this answer's first byte.
        first_round: u32,
        f: StreamFaults,
    }
    let chunk = match f.bandwidth {
        Some(bw) => ((bw / 20).clamp(1024, 64 * 1024)) as usize,
        None => 64 * 1024,
    };
    let s = S {
        zip,
        pos: start,
        end: end_excl,
        sent: 0,
        stalled: false,
        failed: false,
        began: Instant::now(),
        first_round: f.distant.as_ref().map_or(0, |(_, conn)| {
            slow_start_round(conn.load(std::sync::atomic::Ordering::Relaxed) + 1)
        }),
        f,
    };
    let stream = futures_util::stream::unfold(s, move |mut s| {
        let served = served.clone();
        async move {
            if s.failed || s.pos >= s.end {
                return None;
            }
            if let Some((after, secs)) = s.f.stall
                && !s.stalled
                && s.sent >= after
            {
                s.stalled = true;
                tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            }
            if let Some(limit) = s.f.reset_after
                && s.sent >= limit
            {
                // Let the bytes already written reach the client before the cut, as on a real
                // connection that dies mid-transfer.
                tokio::time::sleep(Duration::from_millis(30)).await;
                s.failed = true;
                let e = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "injected reset");
                return Some((Err(e), s));
            }
            let mut want = ((s.end - s.pos) as usize).min(chunk);
            if let Some(limit) = s.f.reset_after {
                want = want.min((limit - s.sent) as usize);
            }
            if let Some((after, _)) = s.f.stall
                && !s.stalled
            {
                want = want.min((after - s.sent) as usize).max(1);
            }
            // A distant host's chunk stays within one round trip of slow start.
            if let Some((_, conn)) = &s.f.distant {
                let at = conn.load(std::sync::atomic::Ordering::Relaxed);
                let round_end = sent_by_round(slow_start_round(at + 1));
                want = want.min((round_end - at).max(1) as usize);
            }
            let mut buf = vec![0u8; want];
            let n = s.zip.read_at(s.pos, &mut buf);
            buf.truncate(n);
            s.pos += n as u64;
            s.sent += n as u64;
            if let Some((rtt, conn)) = &s.f.distant {
                let before = conn.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
                let round = slow_start_round(before + n as u64);
                let due = *rtt * round.saturating_sub(s.first_round);
                let elapsed = s.began.elapsed();
                if due > elapsed {
                    tokio::time::sleep(due - elapsed).await;
                }
            }
            if let Some(bw) = s.f.bandwidth {
                let due = Duration::from_secs_f64(s.sent as f64 / bw.max(1) as f64);
                let elapsed = s.began.elapsed();
                if due > elapsed {
                    tokio::time::sleep(due - elapsed).await;
                }
            }
            served.fetch_add(buf.len() as u64, std::sync::atomic::Ordering::Relaxed);
            Some((Ok::<_, std::io::Error>(Bytes::from(buf)), s))
        }
    });
    Body::from_stream(stream)
}

fn etag(resource: &str, version: &str) -> String {
    let d = Sha256::digest(format!("{resource}/{version}"));
    format!("\"{}\"", hex::encode(&d[..16]))
}

async fn serve_file(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Path((scope, account, file)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    req: Request,
) -> Response {
    let idx = record(&shared, Target::Files, &req);
    let path = req.uri().path().to_string();
    let resp = serve_file_inner(&shared, peer, &path, &scope, &account, &file, &q, &headers).await;
    set_status(&shared, idx, resp.status());
    resp
}

#[allow(clippy::too_many_arguments)]
async fn serve_file_inner(
    shared: &Shared,
    peer: std::net::SocketAddr,
    path: &str,
    scope: &str,
    account: &str,
    file: &str,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Response {
    let injected = faults::take(&mut shared.lock().faults, Target::Files, "GET", path);
    let mut sf = StreamFaults::default();
    let mut ignore_range = false;
    let mut truncate = None;
    let mut wrong_length = None;
    for f in &injected {
        match f {
            FaultKind::ServerErrorHtml { status } => {
                let s = StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY);
                return html(
                    s,
                    &format!("{} {}", s.as_u16(), s.canonical_reason().unwrap_or("")),
                );
            }
            FaultKind::Forbidden403Html => {
                return html(StatusCode::FORBIDDEN, "Attention Required!");
            }
            FaultKind::ExpiredSignature => {
                return s3_error(StatusCode::FORBIDDEN, "AccessDenied", "Request has expired");
            }
            FaultKind::ResetAfter { bytes } => sf.reset_after = Some(*bytes),
            FaultKind::Stall {
                after_bytes,
                seconds,
            } => sf.stall = Some((*after_bytes, *seconds)),
            FaultKind::Bandwidth { bytes_per_sec } => sf.bandwidth = Some(*bytes_per_sec),
            FaultKind::Distant { rtt_ms } => {
                let rtt = Duration::from_millis(*rtt_ms);
                let (conn, new) = shared.connection(peer);
                tokio::time::sleep(rtt * if new { 3 } else { 1 }).await;
                sf.distant = Some((rtt, conn));
            }
            FaultKind::IgnoreRange => ignore_range = true,
            FaultKind::HugeErrorBody { bytes } => {
                // A 403 whose body never seems to end: clients must cap what they read.
                let n = *bytes;
                let chunks = futures_util::stream::iter((0..n.div_ceil(65536)).map(move |i| {
                    let len = (n - i * 65536).min(65536) as usize;
                    Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; len]))
                }));
                return (
                    StatusCode::FORBIDDEN,
                    [(header::CONTENT_TYPE, "application/xml")],
                    Body::from_stream(chunks),
                )
                    .into_response();
            }
            FaultKind::Redirect { location } => return redirect(location),
            FaultKind::Truncate { bytes } => truncate = Some(*bytes),
            FaultKind::HtmlInsteadOfFile => {
                return (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    "<!doctype html><html><head><title>Sign in to continue</title></head>\
                     <body><form action=\"/login\"><input name=\"user\"></form></body></html>",
                )
                    .into_response();
            }
            FaultKind::WrongLength { delta } => wrong_length = Some(*delta),
            FaultKind::Chunked { bytes } => {
                let n = *bytes;
                let chunks = futures_util::stream::iter((0..n.div_ceil(65536)).map(move |i| {
                    let len = (n - i * 65536).min(65536) as usize;
                    Ok::<_, std::io::Error>(Bytes::from(vec![0u8; len]))
                }));
                return (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/zip")],
                    Body::from_stream(chunks),
                )
                    .into_response();
            }
            FaultKind::BadPartial {
                status,
                content_range,
                body_bytes,
            } => {
                let s = StatusCode::from_u16(*status).unwrap_or(StatusCode::PARTIAL_CONTENT);
                return (
                    s,
                    [
                        (header::CONTENT_TYPE, "application/zip"),
                        (header::CONTENT_RANGE, content_range.as_str()),
                    ],
                    vec![0u8; (*body_bytes).min(1 << 20) as usize],
                )
                    .into_response();
            }
            FaultKind::MalformedJson | FaultKind::StaleList { .. } => {}
        }
    }
    let (Some(expires), Some(sig)) = (q.get("Expires"), q.get("Signature")) else {
        return s3_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
        );
    };
    let version = q.get("versionId").map(String::as_str);
    let Ok(expires) = expires.parse::<i64>() else {
        return s3_error(StatusCode::FORBIDDEN, "AccessDenied", "Invalid date");
    };
    if shared.signature(path, expires, version.unwrap_or("")) != *sig {
        return s3_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        );
    }
    if shared.clock.now().timestamp() > expires {
        return s3_error(StatusCode::FORBIDDEN, "AccessDenied", "Request has expired");
    }
    let now = shared.clock.now();
    let found = {
        let st = shared.lock();
        let name = file.strip_suffix(".zip").unwrap_or(file);
        st.resources
            .iter()
            .find(|r| {
                r.kind.scope() == scope
                    && r.file_name() == name
                    && account == shared.config.account.id
            })
            .and_then(|r| {
                let mut ready = r.versions.iter().filter(|v| v.ready_at <= now);
                let v = match version {
                    Some(id) => ready.rfind(|v| v.id == id),
                    None => ready.max_by_key(|v| v.ready_at),
                };
                v.map(|v| {
                    (
                        r.spec.id.clone(),
                        r.spec.name.clone(),
                        r.spec.snapshot_size,
                        v.clone(),
                    )
                })
            })
    };
    let Some((rid, rname, target, v)) = found else {
        return s3_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        );
    };
    let zip = VirtualZip::new(&rid, &v.id, &rname, target);
    let len = zip.len();
    let tag = etag(&rid, &v.id);
    let if_range_ok = headers
        .get(header::IF_RANGE)
        .and_then(|h| h.to_str().ok())
        .is_none_or(|h| h == tag);
    let range = match headers.get(header::RANGE).and_then(|h| h.to_str().ok()) {
        Some(h) if !ignore_range && if_range_ok => match parse_range(h, len) {
            Ok(r) => r,
            Err(()) => {
                return (
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    [(header::CONTENT_RANGE, format!("bytes */{len}"))],
                )
                    .into_response();
            }
        },
        _ => None,
    };
    let (status, start, end) = match range {
        Some((s, e)) => (StatusCode::PARTIAL_CONTENT, s, e + 1),
        None => (StatusCode::OK, 0, len),
    };
    // A short body that looks complete: whole-file answers only.
    let end = match truncate {
        Some(n) if status == StatusCode::OK => end.min(n),
        _ => end,
    };
    // A lying Content-Length: the body is cut to a short one; a long one is promised but
    // the body ends first (the connection closes under the reader).
    let declared = match wrong_length {
        Some(d) => (end - start).saturating_add_signed(d).max(1),
        None => end - start,
    };
    let end = end.min(start + declared);
    let mut resp = Response::new(body_stream(zip, start, end, sf, shared.served.clone()));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(declared));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) =
        HeaderValue::from_str(&v.ready_at.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
    {
        h.insert(header::LAST_MODIFIED, v);
    }
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{len}", end - 1))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    resp
}

pub(crate) fn files_router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{scope}/{account}/{file}", get(serve_file))
        .fallback(|| async {
            s3_error(
                StatusCode::NOT_FOUND,
                "NoSuchKey",
                "The specified key does not exist.",
            )
        })
        .with_state(shared)
}

#[cfg(test)]
mod tests {
    use super::{parse_range, slow_start_round};

    #[test]
    fn slow_start_doubles_from_ten_segments() {
        assert_eq!(slow_start_round(1), 0);
        assert_eq!(slow_start_round(14_480), 0);
        assert_eq!(slow_start_round(14_481), 1);
        assert_eq!(slow_start_round(3 * 14_480), 1);
        assert_eq!(slow_start_round(3 * 14_480 + 1), 2);
        assert_eq!(slow_start_round(1 << 20), 6);
        assert_eq!(slow_start_round(u64::MAX), 40);
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Ok(Some((0, 9))));
        assert_eq!(parse_range("bytes=90-", 100), Ok(Some((90, 99))));
        assert_eq!(parse_range("bytes=-10", 100), Ok(Some((90, 99))));
        assert_eq!(parse_range("bytes=50-500", 100), Ok(Some((50, 99))));
        assert_eq!(parse_range("bytes=100-", 100), Err(()));
        assert_eq!(parse_range("bytes=9-3", 100), Err(()));
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(parse_range("items=0-1", 100), Ok(None));
    }
}
