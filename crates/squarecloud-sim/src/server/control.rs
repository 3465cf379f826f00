//! The simulator's own control API (`/_sim/...`): what tests and the CLI use to read the
//! request log, inject faults, read the bytes served and move the clock.

use super::respond::iso;
use super::state::Shared;
use crate::faults::FaultSpec;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

async fn requests(State(shared): State<Arc<Shared>>, method: Method) -> Response {
    let mut st = shared.lock();
    if method == Method::DELETE {
        st.log.clear();
        return StatusCode::NO_CONTENT.into_response();
    }
    Json(st.log.clone()).into_response()
}

async fn faults(State(shared): State<Arc<Shared>>, method: Method, body: Bytes) -> Response {
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
async fn served(State(shared): State<Arc<Shared>>) -> Response {
    Json(json!({"bytes": shared.served.load(std::sync::atomic::Ordering::Relaxed)})).into_response()
}

#[derive(Deserialize)]
struct Advance {
    seconds: f64,
}

async fn advance(State(shared): State<Arc<Shared>>, Json(a): Json<Advance>) -> Response {
    shared
        .clock
        .advance(Duration::from_secs_f64(a.seconds.max(0.0)));
    Json(json!({"now": iso(shared.clock.now())})).into_response()
}

/// The control routes, under the API's host; its gate lets them through unrecorded.
pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sim/requests", get(requests).delete(requests))
        .route("/_sim/faults", post(faults).delete(faults))
        .route("/_sim/clock/advance", post(advance))
        .route("/_sim/served", get(served))
}
