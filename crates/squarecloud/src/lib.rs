//! A typed client for the Square Cloud API v2: the account, applications, databases and
//! their snapshots, and the workspaces that share applications with the account. It knows HTTP and JSON only: no disk, no GUI. Idempotent reads are
//! retried a few times on network trouble and gateway pages; a create never is (the caller
//! decides, since a lost answer may still have spent quota), nor is a commit (an upload that
//! changes an application's files). Every call waits its turn under
//! a per-minute budget. The key travels in the `Authorization` header and nowhere else, and
//! only over https (plain http is allowed to this computer only, for the simulator).

pub mod appconfig;
mod budget;
mod code;
mod commit;
mod error;
mod key;
pub mod limits;
pub mod models;
mod urls;
mod workspaces;

pub use budget::{RequestBudget, SharedCalls};
pub use urls::{InsecureUrl, check_hop, check_url, redirect_policy};

pub use code::ErrorCode;
pub use commit::{COMMIT_MIN_RATE, CommitProgress, commit_timeout};
pub use error::ApiError;
pub use key::ApiKey;
pub use models::*;
pub use workspaces::{Workspace, WorkspaceGroup, WorkspaceMember};

use reqwest::{Method, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// The public API.
pub const DEFAULT_API_URL: &str = "https://api.squarecloud.app/v2";
/// The public snapshot file host, used to build URLs when a list item has no `url`.
pub const DEFAULT_FILES_URL: &str = "https://snapshots.squarecloud.app";
/// `square-snapshots/<version>`.
pub const USER_AGENT: &str = concat!("square-snapshots/", env!("CARGO_PKG_VERSION"));

/// Limits how much of a JSON answer is read: the API's answers are small.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// A client bound to one API base URL and one key.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    files_base: String,
    key: ApiKey,
    timeout: Duration,
    create_timeout: Duration,
    restore_timeout: Duration,
    retries: u32,
    retry_backoff: Duration,
    budget: Arc<RequestBudget>,
    rate_block: Duration,
}

/// The most idle connections a fresh client keeps open to the API, for later calls to
/// reuse. Calls that waited for the per-minute budget leave together and open a connection
/// each; without a cap the pool kept all of them, each with its read buffer, until they had
/// been idle for 90 s.
const IDLE_PER_HOST: usize = 8;

impl Client {
    /// A client for `base_url` (ending in `/v2`) with a fresh HTTP client.
    pub fn new(base_url: &str, key: ApiKey) -> Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(10))
            .redirect(redirect_policy())
            .pool_max_idle_per_host(IDLE_PER_HOST)
            .build()
            .map_err(|e| ApiError::InvalidUrl(e.to_string()))?;
        Self::with_http(base_url, key, http)
    }

    /// A client that shares an existing `reqwest::Client` (which should set [`USER_AGENT`] and
    /// [`redirect_policy`]). The URL must be https, or http to this computer: the key must
    /// never travel in clear.
    pub fn with_http(base_url: &str, key: ApiKey, http: reqwest::Client) -> Result<Self, ApiError> {
        check_url(base_url).map_err(|e| ApiError::InvalidUrl(e.to_string()))?;
        Ok(Self {
            http,
            base: base_url.trim_end_matches('/').to_string(),
            files_base: DEFAULT_FILES_URL.to_string(),
            key,
            timeout: Duration::from_secs(30),
            create_timeout: Duration::from_secs(150),
            restore_timeout: limits::RESTORE_TIMEOUT,
            retries: 3,
            retry_backoff: Duration::from_millis(500),
            budget: Arc::new(RequestBudget::new(limits::requests_per_minute("", 0))),
            rate_block: limits::RATE_BLOCK,
        })
    }

    /// How often an idempotent read is tried again on network trouble or a gateway page, and
    /// the first pause (doubled each time, with jitter).
    pub fn with_retries(mut self, retries: u32, first_backoff: Duration) -> Self {
        self.retries = retries;
        self.retry_backoff = first_backoff;
        self
    }

    /// Shares a per-minute budget (clones of a client share theirs already).
    pub fn with_budget(mut self, budget: Arc<RequestBudget>) -> Self {
        self.budget = budget;
        self
    }

    /// The per-minute budget every call of this client waits its turn in.
    pub fn budget(&self) -> &Arc<RequestBudget> {
        &self.budget
    }

    /// Where list items without a `url` are downloaded from.
    pub fn with_files_base(mut self, files_base: &str) -> Self {
        self.files_base = files_base.trim_end_matches('/').to_string();
        self
    }

    /// The timeout of ordinary JSON calls (30 s by default).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The timeout of a create, which the server may hold for its 90 s soft deadline
    /// (150 s by default).
    pub fn with_create_timeout(mut self, timeout: Duration) -> Self {
        self.create_timeout = timeout;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn files_base(&self) -> &str {
        &self.files_base
    }

    pub fn key(&self) -> &ApiKey {
        &self.key
    }

    /// `GET /users/me`: the user, the plan and every application and database.
    pub async fn me(&self) -> Result<Me, ApiError> {
        self.get("/users/me").await
    }

    /// `GET /apps/{id}`.
    pub async fn app(&self, id: &str) -> Result<AppSummary, ApiError> {
        self.get(&format!("/apps/{}", seg(id))).await
    }

    /// `GET /databases/{id}`.
    pub async fn database(&self, id: &str) -> Result<DatabaseSummary, ApiError> {
        self.get(&format!("/databases/{}", seg(id))).await
    }

    /// `GET /apps/status`: every application's running state (a workspace's:
    /// [`Client::apps_status_in`]).
    pub async fn apps_status(&self) -> Result<Vec<AppStatusItem>, ApiError> {
        self.apps_status_in(None).await
    }

    /// `GET /service/status` (not enveloped).
    pub async fn service_status(&self) -> Result<ServiceStatus, ApiError> {
        let (status, body, ct) = self
            .send(Method::GET, "/service/status", None, self.timeout)
            .await?;
        let v = parse_json(status, &body, ct.as_deref())?;
        if !status.is_success() {
            return Err(envelope_error(status, &v));
        }
        serde_json::from_value(v).map_err(|e| ApiError::Decode {
            status: status.as_u16(),
            detail: e.to_string(),
        })
    }

    /// `GET /{apps|databases}/{id}/snapshots`. Cached by the server for up to 30 minutes.
    pub async fn list_snapshots(
        &self,
        kind: ResourceKind,
        id: &str,
    ) -> Result<Vec<SnapshotItem>, ApiError> {
        self.get(&format!("/{}/{}/snapshots", kind.api_segment(), seg(id)))
            .await
    }

    /// `GET /users/snapshots?scope=`: every snapshot of one kind (paid plans; else 402).
    pub async fn user_snapshots(&self, kind: ResourceKind) -> Result<Vec<SnapshotItem>, ApiError> {
        self.get(&format!("/users/snapshots?scope={}", kind.scope()))
            .await
    }

    /// `POST /{apps|databases}/{id}/snapshots`. Spends one of the day's snapshots.
    /// A 202 `SNAPSHOT_PROCESSING` is [`CreateOutcome::Processing`], not an error.
    pub async fn create_snapshot(
        &self,
        kind: ResourceKind,
        id: &str,
    ) -> Result<CreateOutcome, ApiError> {
        self.create_snapshot_noting(kind, id, || {}).await
    }

    /// [`Client::create_snapshot`], calling `leaving` at the moment the request is handed to
    /// the network (after any wait for the per-minute budget): the time the server's windows
    /// count from, as nearly as the client can know it.
    pub async fn create_snapshot_noting(
        &self,
        kind: ResourceKind,
        id: &str,
        leaving: impl FnOnce() + Send,
    ) -> Result<CreateOutcome, ApiError> {
        let path = format!("/{}/{}/snapshots", kind.api_segment(), seg(id));
        let (status, body, ct) = self
            .send_noting(Method::POST, &path, None, self.create_timeout, leaving)
            .await?;
        let v = parse_json(status, &body, ct.as_deref())?;
        if status == StatusCode::ACCEPTED {
            return Ok(CreateOutcome::Processing);
        }
        let response = success_response(status, v)?;
        decode(status, response).map(CreateOutcome::Ready)
    }

    /// `POST /{apps|databases}/{id}/snapshots/restore`.
    pub async fn restore_snapshot(
        &self,
        kind: ResourceKind,
        id: &str,
        snapshot_id: &str,
        version_id: &str,
    ) -> Result<(), ApiError> {
        let path = format!("/{}/{}/snapshots/restore", kind.api_segment(), seg(id));
        let body = serde_json::json!({"snapshotId": snapshot_id, "versionId": version_id});
        let (status, bytes, ct) = self
            .send(Method::POST, &path, Some(body), self.restore_timeout)
            .await?;
        let v = parse_json(status, &bytes, ct.as_deref())?;
        success_response(status, v).map(|_| ())
    }

    /// A GET, tried again (bounded, jittered backoff) while the failure is one that passes:
    /// no connection, no answer in time, a 5xx or a gateway's HTML page.
    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let mut attempt = 0u32;
        loop {
            let answer = async {
                let (status, body, ct) = self.send(Method::GET, path, None, self.timeout).await?;
                let v = parse_json(status, &body, ct.as_deref())?;
                let response = success_response(status, v)?;
                decode(status, response)
            }
            .await;
            match answer {
                Err(e) if e.is_transient() && attempt < self.retries => {
                    attempt += 1;
                    tokio::time::sleep(backoff(self.retry_backoff, attempt)).await;
                }
                other => return other,
            }
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        json: Option<Value>,
        timeout: Duration,
    ) -> Result<(StatusCode, Vec<u8>, Option<String>), ApiError> {
        self.send_noting(method, path, json, timeout, || {}).await
    }

    async fn send_noting(
        &self,
        method: Method,
        path: &str,
        json: Option<Value>,
        timeout: Duration,
        leaving: impl FnOnce() + Send,
    ) -> Result<(StatusCode, Vec<u8>, Option<String>), ApiError> {
        self.wait_turn().await?;
        leaving();
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .header(header::AUTHORIZATION, self.key.expose_secret())
            .header(header::ACCEPT, "application/json")
            .header(header::USER_AGENT, USER_AGENT)
            .timeout(timeout);
        if let Some(j) = json {
            req = req.json(&j);
        }
        let resp = req.send().await.map_err(ApiError::from_reqwest)?;
        self.answer(resp, path).await
    }

    /// Whether a call may go now: refused during a block, else after its turn in the
    /// per-minute budget.
    async fn wait_turn(&self) -> Result<(), ApiError> {
        if self.budget.is_blocked() {
            return Err(blocked_error());
        }
        self.budget.acquire().await;
        Ok(())
    }

    /// An answer read whole (within [`MAX_BODY`]); a `RATE_LIMITED` one blocks the client.
    async fn answer(
        &self,
        mut resp: reqwest::Response,
        path: &str,
    ) -> Result<(StatusCode, Vec<u8>, Option<String>), ApiError> {
        let status = resp.status();
        let ct = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(ApiError::from_reqwest)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(ApiError::TooLarge {
                    status: status.as_u16(),
                    limit: MAX_BODY,
                });
            }
            body.extend_from_slice(&chunk);
        }
        // `/users/snapshots` answers its own limit with the same `RATE_LIMITED` code: that
        // one stops only itself (the caller falls back to one list per resource).
        if status == StatusCode::TOO_MANY_REQUESTS
            && !path.starts_with("/users/snapshots")
            && let Ok(v) = serde_json::from_slice::<Value>(&body)
            && envelope_error(status, &v).is_account_block()
        {
            // Every call of this client stops: more would only lengthen the block.
            self.budget.block_for(self.rate_block);
        }
        Ok((status, body, ct))
    }

    /// How long a `RATE_LIMITED` block stops every call (30 minutes by default).
    pub fn with_rate_block(mut self, d: Duration) -> Self {
        self.rate_block = d;
        self
    }
}

/// What a call refused locally during a block says.
fn blocked_error() -> ApiError {
    ApiError::Api {
        status: 429,
        code: ErrorCode::RateLimited,
        raw: "RATE_LIMITED".into(),
        message: Some("not sent: Square Cloud blocked this key a moment ago".into()),
    }
}

/// `first × 2^(attempt-1)`, times a random factor in [0.5, 1.5), at most 30 s.
fn backoff(first: Duration, attempt: u32) -> Duration {
    use rand::Rng;
    let base = first.as_secs_f64() * 2f64.powi(attempt.saturating_sub(1).min(8) as i32);
    Duration::from_secs_f64((base * rand::rng().random_range(0.5..1.5)).min(30.0))
}

/// Percent-encodes one path segment (ids come from the API, but never trust them raw).
fn seg(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.is_empty() {
        "(empty body)".into()
    } else {
        flat
    }
}

/// Parses a body as JSON; anything else (HTML, text, nothing) is [`ApiError::Unexpected`].
pub fn parse_json(
    status: StatusCode,
    body: &[u8],
    content_type: Option<&str>,
) -> Result<Value, ApiError> {
    serde_json::from_slice::<Value>(body).map_err(|e| {
        let looks_json = content_type.is_some_and(|c| c.contains("json"))
            || body.first().is_some_and(|b| *b == b'{' || *b == b'[');
        if looks_json {
            ApiError::Decode {
                status: status.as_u16(),
                detail: e.to_string(),
            }
        } else {
            ApiError::Unexpected {
                status: status.as_u16(),
                content_type: content_type.map(str::to_string),
                snippet: snippet(body),
            }
        }
    })
}

fn envelope_error(status: StatusCode, v: &Value) -> ApiError {
    match v.get("code").and_then(Value::as_str) {
        Some(code) => ApiError::Api {
            status: status.as_u16(),
            code: ErrorCode::parse(code),
            raw: code.to_string(),
            message: v
                .get("message")
                .and_then(Value::as_str)
                .filter(|m| !m.is_empty())
                .map(str::to_string),
        },
        None => ApiError::Decode {
            status: status.as_u16(),
            detail: "error answer without a code".into(),
        },
    }
}

/// Unwraps `{"status":"success","response":...}`; an error envelope or a non-2xx status is
/// an [`ApiError`].
pub fn success_response(status: StatusCode, v: Value) -> Result<Value, ApiError> {
    let ok = v.get("status").and_then(Value::as_str) == Some("success");
    if !status.is_success() || !ok {
        if v.get("code").is_some() {
            return Err(envelope_error(status, &v));
        }
        return Err(ApiError::Decode {
            status: status.as_u16(),
            detail: format!("no success envelope (status field: {:?})", v.get("status")),
        });
    }
    Ok(v.get("response").cloned().unwrap_or(Value::Null))
}

fn decode<T: DeserializeOwned>(status: StatusCode, v: Value) -> Result<T, ApiError> {
    serde_json::from_value(v).map_err(|e| ApiError::Decode {
        status: status.as_u16(),
        detail: e.to_string(),
    })
}

/// Decodes a whole answer into `T`, as the client does: for tests and fuzzing of the decoders.
pub fn decode_answer<T: DeserializeOwned>(
    status: u16,
    body: &[u8],
    content_type: Option<&str>,
) -> Result<T, ApiError> {
    let status = StatusCode::from_u16(status).map_err(|e| ApiError::Decode {
        status,
        detail: e.to_string(),
    })?;
    let v = parse_json(status, body, content_type)?;
    decode(status, success_response(status, v)?)
}
