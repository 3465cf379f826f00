//! The shapes of the answers: the API's JSON envelopes, the CDN's HTML error pages and the
//! storage host's XML errors, as each of the real hosts sends them.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

pub(super) fn envelope_ok(v: Value) -> Response {
    Json(json!({"status": "success", "response": v})).into_response()
}

/// An error envelope. Like the real API, some codes come with a human `message` and
/// others without one.
pub(super) fn envelope_err(status: StatusCode, code: &str) -> Response {
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
pub(super) fn set_opt(v: &mut Value, key: &str, value: &Option<String>) {
    if let Some(x) = value {
        v[key] = json!(x);
    }
}

/// A 302 to `location` (either host, as a `Redirect` fault).
pub(super) fn redirect(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location)], "").into_response()
}

pub(super) fn html(status: StatusCode, title: &str) -> Response {
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

pub(super) fn s3_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    (status, [(header::CONTENT_TYPE, "application/xml")], body).into_response()
}
pub(super) fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}
