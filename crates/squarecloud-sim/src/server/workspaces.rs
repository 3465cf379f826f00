//! Workspaces (shared/squarecloud-api.md §10; crate::workspace says what is confirmed and
//! what inferred): `GET /v2/workspaces` lists the ones the asking account owns or is a
//! member of, `GET /v2/workspaces/{id}` describes one (404 `WORKSPACE_NOT_FOUND` for one it
//! is not in, as for one that does not exist), and `GET /v2/apps/status?workspaceId=` gives
//! the status of a workspace's applications (without it, of the account's own).

use super::access::{Caller, workspaces_of};
use super::respond::{envelope_err, envelope_ok, iso, set_opt};
use super::state::{Kind, Shared, State0, in_window};
use crate::workspace::{WorkspaceGroup, WorkspaceSpec};
use axum::Router;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v2/workspaces", get(list))
        .route("/v2/workspaces/{id}", get(one))
}

/// A workspace as the API describes it: its owner first among the members (with the
/// workspace's creation time as `joinedAt`, as api-types says) when the spec does not name
/// it; its applications as they are now, `desc` always present (maybe `null`).
fn describe(shared: &Shared, st: &State0, w: &WorkspaceSpec) -> Value {
    let mut members: Vec<Value> = Vec::new();
    if !w.members.iter().any(|m| m.id == w.owner) {
        let name = shared
            .config
            .account_by_id(&w.owner)
            .map(|a| a.name.clone());
        members.push(json!({"id": w.owner, "name": name,
            "group": WorkspaceGroup::Owner.as_str(), "joinedAt": iso(w.created_at)}));
    }
    members.extend(w.members.iter().map(|m| {
        json!({"id": m.id, "name": m.name, "group": m.group.as_str(),
               "joinedAt": iso(m.joined_at)})
    }));
    let applications: Vec<Value> = w
        .applications
        .iter()
        .filter_map(|id| {
            st.resources
                .iter()
                .find(|r| r.kind == Kind::App && &r.spec.id == id)
        })
        .map(|r| {
            let mut v = json!({"id": r.spec.id, "name": r.spec.name, "desc": r.spec.desc,
                               "ram": r.spec.ram, "lang": r.spec.kind});
            set_opt(&mut v, "domain", &r.spec.domain);
            v
        })
        .collect();
    json!({
        "id": w.id, "name": w.name, "owner": w.owner, "members": members,
        "applications": applications, "createdAt": iso(w.created_at),
    })
}

async fn list(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(who)): Extension<Caller>,
) -> Response {
    let st = shared.lock();
    let all = workspaces_of(&shared, who)
        .into_iter()
        .map(|w| describe(&shared, &st, w))
        .collect();
    envelope_ok(Value::Array(all))
}

async fn one(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(who)): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let st = shared.lock();
    match workspaces_of(&shared, who).into_iter().find(|w| w.id == id) {
        Some(w) => envelope_ok(describe(&shared, &st, w)),
        None => envelope_err(StatusCode::NOT_FOUND, "WORKSPACE_NOT_FOUND"),
    }
}

#[derive(Deserialize)]
pub(super) struct StatusQuery {
    #[serde(rename = "workspaceId")]
    workspace_id: Option<String>,
}

/// `GET /v2/apps/status[?workspaceId=]`: 15 a minute per account (`KEEP_CALM`); the
/// account's own applications, or a workspace's it is in (404 `WORKSPACE_NOT_FOUND` else).
pub(super) async fn apps_status(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(who)): Extension<Caller>,
    Query(q): Query<StatusQuery>,
) -> Response {
    let now = shared.clock.now();
    let mut st = shared.lock();
    let calls = &mut st.accounts[who].status_calls;
    calls.push_back(now);
    if in_window(calls, now, Duration::from_secs(60))
        > shared.config.limits.status_per_minute as usize
    {
        return envelope_err(StatusCode::TOO_MANY_REQUESTS, "KEEP_CALM");
    }
    let apps: Vec<usize> = match q.workspace_id.as_deref() {
        None => (0..st.resources.len())
            .filter(|&i| st.resources[i].kind == Kind::App && st.resources[i].owner == who)
            .collect(),
        Some(id) => {
            let Some(w) = workspaces_of(&shared, who).into_iter().find(|w| w.id == id) else {
                return envelope_err(StatusCode::NOT_FOUND, "WORKSPACE_NOT_FOUND");
            };
            w.applications
                .iter()
                .filter_map(|a| {
                    st.resources
                        .iter()
                        .position(|r| r.kind == Kind::App && &r.spec.id == a)
                })
                .collect()
        }
    };
    let items = apps.into_iter().map(|i| app_status_value(&st, i)).collect();
    envelope_ok(Value::Array(items))
}

/// One application's entry of `/apps/status`: every fifth of its owner's applications is
/// stopped, whichever list it appears in.
fn app_status_value(st: &State0, i: usize) -> Value {
    let r = &st.resources[i];
    let n = 1 + st.resources[..i]
        .iter()
        .filter(|o| o.kind == Kind::App && o.owner == r.owner)
        .count();
    let running = !n.is_multiple_of(5);
    if running {
        json!({"id": r.spec.id, "running": true, "cpu": "0.42%", "ram": format!("{}MB", r.spec.ram / 4)})
    } else {
        json!({"id": r.spec.id, "running": false})
    }
}
