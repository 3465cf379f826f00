//! The Square Cloud API's routes (`/v2/...`): the account, applications and databases,
//! and snapshot list, create and restore with the real API's envelopes, codes and limits.
//! Each route answers as the account whose key the request carries ([`Caller`]): its own
//! resources, and the applications shared with it in a workspace (`access`).

use super::access::{self, Caller, Right};
use super::control;
use super::gate;
use super::injected::StaleList;
use super::respond::{envelope_err, envelope_ok, iso, set_opt};
use super::state::{Kind, Res, Shared, State0, Version, cd, in_window, version_id};
use crate::model::WindowRule;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{Duration as ChronoDuration, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The account's own resources (not the ones shared with it).
fn own(st: &State0, who: usize) -> impl Iterator<Item = &Res> {
    st.resources.iter().filter(move |r| r.owner == who)
}

async fn users_me(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(who)): Extension<Caller>,
) -> Response {
    let a = shared.config.account_at(who);
    let st = shared.lock();
    let created = iso(Utc
        .timestamp_opt(1_682_935_200, 0)
        .single()
        .unwrap_or_default());
    let used: u64 = own(&st, who).map(|r| r.spec.ram).sum();
    let apps: Vec<Value> = own(&st, who)
        .filter(|r| r.kind == Kind::App)
        .map(|r| {
            let mut v = json!({"id": r.spec.id, "name": r.spec.name, "ram": r.spec.ram,
                   "lang": r.spec.kind, "cluster": r.spec.cluster, "created_at": created});
            set_opt(&mut v, "desc", &r.spec.desc);
            set_opt(&mut v, "domain", &r.spec.domain);
            v
        })
        .collect();
    let dbs: Vec<Value> = own(&st, who)
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

async fn app_info(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(who)): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let st = shared.lock();
    let i = match access::allowed(&shared, &st, who, Kind::App, &id, Right::Read) {
        Ok(i) => i,
        Err(refused) => return refused.answer(),
    };
    let owner = &shared.config.account_at(st.resources[i].owner).id;
    let r = &st.resources[i].spec;
    let mut v = json!({
        "id": r.id, "name": r.name, "owner": owner,
        "cluster": r.cluster, "ram": r.ram, "language": r.kind,
        "created_at": "2023-05-01T10:00:00.000Z"
    });
    set_opt(&mut v, "desc", &r.desc);
    set_opt(&mut v, "domain", &r.domain);
    envelope_ok(v)
}

async fn database_info(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(who)): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let st = shared.lock();
    let i = match access::allowed(&shared, &st, who, Kind::Database, &id, Right::Read) {
        Ok(i) => i,
        Err(refused) => return refused.answer(),
    };
    let r = &st.resources[i].spec;
    envelope_ok(json!({
        "id": r.id, "name": r.name, "cluster": r.cluster, "ram": r.ram, "type": r.kind,
        "created_at": "2023-05-01T10:00:00.000Z"
    }))
}

async fn app_status(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(who)): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let st = shared.lock();
    let i = match access::allowed(&shared, &st, who, Kind::App, &id, Right::Read) {
        Ok(i) => i,
        Err(refused) => return refused.answer(),
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

async fn list_snapshots(
    shared: Arc<Shared>,
    kind: Kind,
    who: usize,
    id: String,
    req: Request,
) -> Response {
    let now = shared.clock.now();
    let mut st = shared.lock();
    let i = match access::allowed(&shared, &st, who, kind, &id, Right::Read) {
        Ok(i) => i,
        Err(refused) => return refused.answer(),
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

/// A create: the asking account's window and daily quota (a member's create of a shared
/// application spends the member's, as the issue says; inferred), the resource's own window.
async fn create_snapshot(shared: Arc<Shared>, kind: Kind, who: usize, id: String) -> Response {
    let now = shared.clock.now();
    let limits = &shared.config.limits;
    let (generation, path) = {
        let mut st = shared.lock();
        let i = match access::allowed(&shared, &st, who, kind, &id, Right::Snapshot) {
            Ok(i) => i,
            Err(refused) => return refused.answer(),
        };
        let (account_last, resource_last) = match limits.window_rule {
            WindowRule::Arrival => (
                st.accounts[who].last_account_create,
                st.resources[i].last_create,
            ),
            WindowRule::Answer => (
                st.accounts[who].last_account_answer,
                st.resources[i].last_answer,
            ),
        };
        if account_last.is_some_and(|t| now - t < cd(limits.account_gap)) {
            return envelope_err(StatusCode::TOO_MANY_REQUESTS, "KEEP_CALM");
        }
        if resource_last.is_some_and(|t| now - t < cd(limits.resource_gap)) {
            return envelope_err(StatusCode::TOO_MANY_REQUESTS, "KEEP_CALM");
        }
        let quota = shared.config.account_at(who).daily_quota() as usize;
        let account = &mut st.accounts[who];
        let used = in_window(&mut account.creates, now, limits.quota_window);
        if used >= quota {
            return envelope_err(
                StatusCode::TOO_MANY_REQUESTS,
                "DAILY_SNAPSHOTS_LIMIT_REACHED",
            );
        }
        account.creates.push_back(now);
        account.last_account_create = Some(now);
        let counter = st.counter;
        st.counter += 1;
        let res = &mut st.resources[i];
        res.last_create = Some(now);
        let vid = version_id(&shared.secret, &res.spec.id, counter);
        let size = res.archive_len(&vid);
        let generation = shared.config.generation_for(&res.spec, size);
        let ready_at = now + cd(generation);
        let answer_at = now + cd(generation.min(shared.config.soft_deadline));
        res.last_answer = Some(answer_at);
        st.accounts[who].last_account_answer = Some(answer_at);
        let res = &mut st.resources[i];
        res.versions.push(Version {
            id: vid,
            ready_at,
            size,
            origin: "manual",
            files: res.files.clone(),
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

async fn restore_snapshot(
    shared: Arc<Shared>,
    kind: Kind,
    who: usize,
    id: String,
    body: Bytes,
) -> Response {
    let now = shared.clock.now();
    let Ok(body) = serde_json::from_slice::<RestoreBody>(&body) else {
        return envelope_err(StatusCode::BAD_REQUEST, "INVALID_JSON_BODY");
    };
    let (Some(snapshot_id), Some(version_id)) = (body.snapshot_id, body.version_id) else {
        return envelope_err(StatusCode::BAD_REQUEST, "MISSING_PARAMETERS");
    };
    let hold = {
        let mut st = shared.lock();
        let i = match access::allowed(&shared, &st, who, kind, &id, Right::Snapshot) {
            Ok(i) => i,
            Err(refused) => return refused.answer(),
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

/// The asking account's own resources' snapshots (not the ones shared with it: inferred).
async fn user_snapshots(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(who)): Extension<Caller>,
    Query(q): Query<ScopeQuery>,
) -> Response {
    if shared.config.account_at(who).plan == "free" {
        return envelope_err(StatusCode::PAYMENT_REQUIRED, "UPGRADE_REQUIRED");
    }
    let kind = match q.scope.as_deref().unwrap_or("applications") {
        "applications" => Kind::App,
        "databases" => Kind::Database,
        _ => return envelope_err(StatusCode::BAD_REQUEST, "INVALID_SCOPE"),
    };
    let now = shared.clock.now();
    let mut st = shared.lock();
    let calls = &mut st.accounts[who].user_snapshot_calls;
    calls.push_back(now);
    if in_window(calls, now, Duration::from_secs(60))
        > shared.config.limits.user_snapshots_per_minute as usize
    {
        return envelope_err(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED");
    }
    let mut all = Vec::new();
    for i in 0..st.resources.len() {
        if st.resources[i].kind == kind && st.resources[i].owner == who {
            all.extend(shared.list(&mut st, i, now));
        }
    }
    envelope_ok(Value::Array(all))
}

async fn not_found() -> Response {
    envelope_err(StatusCode::NOT_FOUND, "ROUTE_NOT_FOUND")
}
pub(crate) fn api_router(shared: Arc<Shared>) -> Router {
    let s = |k| {
        let a = shared.clone();
        let b = shared.clone();
        let c = shared.clone();
        (
            get(
                move |Extension(Caller(who)): Extension<Caller>,
                      Path(id): Path<String>,
                      req: Request| list_snapshots(a, k, who, id, req),
            )
            .post(
                move |Extension(Caller(who)): Extension<Caller>, Path(id): Path<String>| {
                    create_snapshot(b, k, who, id)
                },
            ),
            post(
                move |Extension(Caller(who)): Extension<Caller>,
                      Path(id): Path<String>,
                      body: Bytes| restore_snapshot(c, k, who, id, body),
            ),
        )
    };
    let (apps_snap, apps_restore) = s(Kind::App);
    let (db_snap, db_restore) = s(Kind::Database);
    Router::new()
        .route("/v2/users/me", get(users_me))
        .route("/v2/users/snapshots", get(user_snapshots))
        .route("/v2/service/status", get(service_status))
        .route("/v2/apps/status", get(super::workspaces::apps_status))
        .route("/v2/apps/{id}", get(app_info))
        .route("/v2/apps/{id}/status", get(app_status))
        .route("/v2/apps/{id}/snapshots", apps_snap)
        .route("/v2/apps/{id}/snapshots/restore", apps_restore)
        .route("/v2/databases/{id}", get(database_info))
        .route("/v2/databases/{id}/snapshots", db_snap)
        .route("/v2/databases/{id}/snapshots/restore", db_restore)
        .merge(control::routes())
        .merge(super::commit::routes())
        .merge(super::upload::routes())
        .merge(super::workspaces::routes())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            gate::api_gate,
        ))
        .with_state(shared)
}
