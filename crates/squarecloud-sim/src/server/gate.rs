//! The API's gate, before any route: it records the request, applies injected faults, tells
//! whose key it carries (the account, handed to the route as a [`Caller`] and named in the
//! log), and judges the address's block, the key, and that account's block and per-minute
//! cap as the real API does.

use super::access::Caller;
use super::injected::{self, StaleList};
use super::respond::envelope_err;
use super::state::{Shared, cd, in_window, record, set_account, set_status};
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
    let caller = caller_of(&shared, &req);
    if let Some(c) = caller {
        set_account(&shared, idx, c);
    }
    let resp = gate_inner(&shared, &path, caller, req, next).await;
    set_status(&shared, idx, resp.status());
    resp
}

/// The account whose key the request carries.
fn caller_of(shared: &Shared, req: &Request) -> Option<usize> {
    let key = req.headers().get(header::AUTHORIZATION)?.as_bytes();
    shared
        .config
        .accounts()
        .position(|(k, _)| k.as_bytes() == key)
}

async fn gate_inner(
    shared: &Arc<Shared>,
    path: &str,
    caller: Option<usize>,
    mut req: Request,
    next: Next,
) -> Response {
    let method = req.method().to_string();
    let applied = match injected::api(shared, &method, path).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    if let Some(st) = applied.stale {
        req.extensions_mut().insert::<StaleList>(st);
    }
    if let Some(refused) = refusal(shared, path, caller) {
        return refused;
    }
    if let Some(c) = caller {
        req.extensions_mut().insert(Caller(c));
    }
    let resp = next.run(req).await;
    match applied.reset_after {
        Some(n) => injected::reset_after(resp, n).await,
        None => resp,
    }
}

/// The blocks, the key and the per-minute cap: the refusal, if they refuse. Bad keys count
/// toward a block of the address (every key refused); too many requests with one key block
/// that account alone. The service status needs no key.
fn refusal(shared: &Shared, path: &str, caller: Option<usize>) -> Option<Response> {
    let now = shared.clock.now();
    let limits = &shared.config.limits;
    let mut st = shared.lock();
    let blocked = |until: Option<chrono::DateTime<chrono::Utc>>| until.is_some_and(|t| t > now);
    if blocked(st.ip_blocked_until) || caller.is_some_and(|c| blocked(st.accounts[c].blocked_until))
    {
        return Some(envelope_err(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"));
    }
    if path == "/v2/service/status" {
        return None;
    }
    let Some(who) = caller else {
        st.bad_keys.push_back(now);
        if in_window(&mut st.bad_keys, now, Duration::from_secs(60))
            > limits.bad_keys_per_minute as usize
        {
            st.ip_blocked_until = Some(now + cd(limits.block));
            return Some(envelope_err(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"));
        }
        return Some(envelope_err(StatusCode::UNAUTHORIZED, "ACCESS_DENIED"));
    };
    let cap = shared.config.per_minute_at(who) as usize;
    let account = &mut st.accounts[who];
    account.requests.push_back(now);
    if in_window(&mut account.requests, now, Duration::from_secs(60)) > cap {
        account.blocked_until = Some(now + cd(limits.block));
        return Some(envelope_err(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"));
    }
    None
}
