//! A typed client for the Square Cloud API v2: the account, applications, databases and
//! their snapshots. It knows HTTP and JSON only: no disk, no GUI, no retries (the caller
//! decides when to try again). The key travels in the `Authorization` header and nowhere else.

mod code;
mod error;
mod key;
pub mod models;

pub use code::ErrorCode;
pub use error::ApiError;
pub use key::ApiKey;
pub use models::*;

use reqwest::{Method, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;
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
}

impl Client {
    /// A client for `base_url` (ending in `/v2`) with a fresh HTTP client.
    pub fn new(base_url: &str, key: ApiKey) -> Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ApiError::InvalidUrl(e.to_string()))?;
        Self::with_http(base_url, key, http)
    }

    /// A client that shares an existing `reqwest::Client` (which should set [`USER_AGENT`]).
    pub fn with_http(base_url: &str, key: ApiKey, http: reqwest::Client) -> Result<Self, ApiError> {
        let parsed = url::Url::parse(base_url).map_err(|e| ApiError::InvalidUrl(e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ApiError::InvalidUrl(format!("{base_url}: not http(s)")));
        }
        Ok(Self {
            http,
            base: base_url.trim_end_matches('/').to_string(),
            files_base: DEFAULT_FILES_URL.to_string(),
            key,
            timeout: Duration::from_secs(30),
            create_timeout: Duration::from_secs(150),
        })
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

    /// `GET /apps/status`: every application's running state.
    pub async fn apps_status(&self) -> Result<Vec<AppStatusItem>, ApiError> {
        self.get("/apps/status").await
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
        let path = format!("/{}/{}/snapshots", kind.api_segment(), seg(id));
        let (status, body, ct) = self
            .send(Method::POST, &path, None, self.create_timeout)
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
            .send(Method::POST, &path, Some(body), self.timeout)
            .await?;
        let v = parse_json(status, &bytes, ct.as_deref())?;
        success_response(status, v).map(|_| ())
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let (status, body, ct) = self.send(Method::GET, path, None, self.timeout).await?;
        let v = parse_json(status, &body, ct.as_deref())?;
        let response = success_response(status, v)?;
        decode(status, response)
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        json: Option<Value>,
        timeout: Duration,
    ) -> Result<(StatusCode, Vec<u8>, Option<String>), ApiError> {
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
        let mut resp = req.send().await.map_err(ApiError::from_reqwest)?;
        let status = resp.status();
        let ct = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(ApiError::from_reqwest)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(ApiError::Unexpected {
                    status: status.as_u16(),
                    content_type: ct,
                    snippet: "answer larger than 16 MiB".into(),
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body, ct))
    }
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
