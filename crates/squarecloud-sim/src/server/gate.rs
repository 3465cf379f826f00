//! The API's gate, before any route: it records the request, applies injected faults, and
//! judges the IP block, the key and the per-minute cap as the real API does.

use super::injected::{self, StaleList};
use super::respond::envelope_err;
use super::state::{Shared, cd, in_window, record, set_status};
use crate::faults::Target;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use std::time::Duration;

pub(super) async fn api_gate(
    State(shared): State<Arc<Shared>>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/_sim") {
        return next.run(req).await;
    }
    let idx = record(&shared, Target::Api, &req);
    let resp = gate_inner(&shared, &path, req, next).await;
    set_status(&shared, idx, resp.status());
    resp
}

async fn gate_inner(shared: &Arc<Shared>, path: &str, mut req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let applied = match injected::api(shared, &method, path).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    if let Some(st) = applied.stale {
        req.extensions_mut().insert::<StaleList>(st);
    }
    if let Some(refused) = refusal(shared, path, &req) {
        return refused;
    }
    let resp = next.run(req).await;
    match applied.reset_after {
        Some(n) => injected::reset_after(resp, n).await,
        None => resp,
    }
}

/// The block, the key and the per-minute cap: the refusal, if they refuse. Bad keys count
/// toward a block of the address; the service status needs no key.
fn refusal(shared: &Shared, path: &str, req: &Request) -> Option<Response> {
    let now = shared.clock.now();
    let limits = &shared.config.limits;
    let mut st = shared.lock();
    if st.blocked_until.is_some_and(|t| t > now) {
        return Some(envelope_err(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"));
    }
    if path == "/v2/service/status" {
        return None;
    }
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
            return Some(envelope_err(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"));
        }
        return Some(envelope_err(StatusCode::UNAUTHORIZED, "ACCESS_DENIED"));
    }
    st.requests.push_back(now);
    if in_window(&mut st.requests, now, Duration::from_secs(60)) > limits.per_minute as usize {
        st.blocked_until = Some(now + cd(limits.block));
        return Some(envelope_err(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"));
    }
    None
}
