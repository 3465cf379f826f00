//! Typed shapes of the API's answers. Unknown fields are ignored; fields that old or new
//! API generations lack are optional.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `GET /v2/users/me`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Me {
    pub user: User,
    #[serde(default)]
    pub applications: Vec<AppSummary>,
    #[serde(default)]
    pub databases: Vec<DatabaseSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub locale: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    pub plan: Plan,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub name: String,
    pub memory: PlanMemory,
    /// Despite the name: the plan's expiry as Unix milliseconds; `None` when it never expires.
    #[serde(default)]
    pub duration: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanMemory {
    /// MB.
    pub limit: u64,
    #[serde(default)]
    pub available: Option<u64>,
    #[serde(default)]
    pub used: Option<u64>,
}

impl Plan {
    /// Snapshots per rolling 24 h: `(plan memory MB / 256) * 2`.
    pub fn daily_snapshot_quota(&self) -> u32 {
        (self.memory.limit / 256 * 2).min(u32::MAX as u64) as u32
    }

    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.duration.and_then(DateTime::from_timestamp_millis)
    }
}

/// An application as `/users/me` lists it (`lang`) or `/apps/{id}` describes it (`language`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppSummary {
    pub id: String,
    /// Older API generations called it `tag`.
    #[serde(alias = "tag")]
    pub name: String,
    #[serde(default)]
    pub desc: Option<String>,
    #[serde(default)]
    pub ram: u64,
    #[serde(default, alias = "language")]
    pub lang: Option<String>,
    #[serde(default)]
    pub cluster: Option<String>,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub custom: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatabaseSummary {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub ram: u64,
    /// The engine: `postgres`, `mongo`, `mysql`, `redis`, ...
    #[serde(default, rename = "type")]
    pub engine: Option<String>,
    #[serde(default)]
    pub cluster: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
}

/// One entry of `GET /v2/apps/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppStatusItem {
    pub id: String,
    #[serde(default)]
    pub running: bool,
    #[serde(default)]
    pub cpu: Option<String>,
    #[serde(default)]
    pub ram: Option<String>,
}

/// `GET /v2/service/status` (not enveloped).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceStatus {
    pub status: String,
    #[serde(default)]
    pub message: Option<String>,
}

/// Applications or databases: the two kinds of resource that have snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourceKind {
    App,
    Database,
}

impl ResourceKind {
    /// The path segment of the API (`apps`, `databases`).
    pub fn api_segment(self) -> &'static str {
        match self {
            ResourceKind::App => "apps",
            ResourceKind::Database => "databases",
        }
    }

    /// The scope of `/users/snapshots` and the file host's first path segment.
    pub fn scope(self) -> &'static str {
        match self {
            ResourceKind::App => "applications",
            ResourceKind::Database => "databases",
        }
    }
}

/// One snapshot version in a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotItem {
    /// The archive's base name (the resource id, possibly suffixed); `snapshotId` to restore.
    pub name: String,
    pub size: u64,
    pub modified: DateTime<Utc>,
    /// The presigned query string; in lists it carries `versionId`.
    pub key: String,
    #[serde(default)]
    pub version_id: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub runtime: Option<String>,
    #[serde(default)]
    pub origin: Option<String>,
}

impl SnapshotItem {
    /// `version_id`, or the `versionId` parameter of `key` for older answers.
    pub fn version(&self) -> Option<String> {
        self.version_id
            .clone()
            .or_else(|| version_from_key(&self.key))
    }

    /// `url`, or the documented URL built from the file host, the account id and `key`.
    pub fn download_url(&self, files_base: &str, kind: ResourceKind, account_id: &str) -> String {
        match &self.url {
            Some(u) => u.clone(),
            None => file_url(files_base, kind, account_id, &self.name, &self.key),
        }
    }
}

/// The `versionId` parameter of a presigned query string.
pub fn version_from_key(key: &str) -> Option<String> {
    url::form_urlencoded::parse(key.trim_start_matches('?').as_bytes())
        .find(|(k, _)| k == "versionId")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

/// `<files_base>/<scope>/<accountId>/<name>.zip?<key>`, as the docs describe it.
pub fn file_url(
    files_base: &str,
    kind: ResourceKind,
    account_id: &str,
    name: &str,
    key: &str,
) -> String {
    let enc = |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    format!(
        "{}/{}/{}/{}.zip?{}",
        files_base.trim_end_matches('/'),
        kind.scope(),
        enc(account_id),
        enc(name),
        key.trim_start_matches('?')
    )
}

/// The answer of a create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedSnapshot {
    pub url: String,
    pub key: String,
}

/// What a create ended in.
#[derive(Debug, Clone, PartialEq)]
pub enum CreateOutcome {
    /// 200: the archive is ready at this URL.
    Ready(CreatedSnapshot),
    /// 202 `SNAPSHOT_PROCESSING`: it will appear in the list; poll the list, never POST again.
    Processing,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_parsed_from_key_when_absent() {
        let item: SnapshotItem = serde_json::from_str(
            r#"{"name":"abc","size":1,"modified":"2025-12-01T08:00:05.123Z",
                "key":"AWSAccessKeyId=X&Expires=1&Signature=a%3D&versionId=3HL4k-_x"}"#,
        )
        .unwrap();
        assert_eq!(item.version().as_deref(), Some("3HL4k-_x"));
        assert_eq!(
            item.download_url(
                "https://snapshots.squarecloud.app",
                ResourceKind::Database,
                "42"
            ),
            "https://snapshots.squarecloud.app/databases/42/abc.zip?AWSAccessKeyId=X&Expires=1&Signature=a%3D&versionId=3HL4k-_x"
        );
    }

    #[test]
    fn lang_and_language_are_the_same_field() {
        let a: AppSummary =
            serde_json::from_str(r#"{"id":"1","name":"x","language":"rust","extra":[1]}"#).unwrap();
        let b: AppSummary = serde_json::from_str(r#"{"id":"1","name":"x","lang":"rust"}"#).unwrap();
        assert_eq!(a.lang, b.lang);
    }
}

/// The answer to an upload that made an application (`POST /apps`; shared/squarecloud-api.md
/// §10): its new id, its name (`tag`), memory and language.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct UploadedApp {
    pub id: String,
    pub tag: String,
    #[serde(default)]
    pub ram: u64,
    #[serde(default)]
    pub language: Option<UploadedLanguage>,
}

/// The language an uploaded application runs with.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct UploadedLanguage {
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
}
