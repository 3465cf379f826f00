//! Injected faults, applied: what each fault taken for a request does to the API's answer
//! or the file host's. A fault that replaces the answer comes back as `Err(response)`; the
//! others are gathered for the handler or the body stream to act on.

use super::respond::{html, redirect, s3_error};
use super::state::Shared;
use super::stream::StreamFaults;
use crate::faults::{self, FaultKind, Target};
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::time::Duration;

/// The `StaleList` fault, carried from the gate to the list handler.
#[derive(Debug, Clone, Copy)]
pub(super) struct StaleList(pub(super) Duration);

/// What the API's faults leave for after the handler has answered.
#[derive(Default)]
pub(super) struct ApiFaults {
    /// Cut the answer's body after this many bytes.
    pub(super) reset_after: Option<u64>,
    pub(super) stale: Option<StaleList>,
}

/// A 5xx page as the CDN in front of either host sends it.
fn server_error_html(status: u16) -> Response {
    let s = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    html(
        s,
        &format!("{} {}", s.as_u16(), s.canonical_reason().unwrap_or("")),
    )
}

/// Takes the API faults matching this request and applies the ones that act before the
/// handler (stalls, error pages, broken JSON, redirects).
pub(super) async fn api(shared: &Shared, method: &str, path: &str) -> Result<ApiFaults, Response> {
    let injected = faults::take(&mut shared.lock().faults, Target::Api, method, path);
    let mut out = ApiFaults::default();
    for f in &injected {
        match f {
            FaultKind::Stall { seconds, .. } => {
                tokio::time::sleep(Duration::from_secs_f64(*seconds)).await
            }
            FaultKind::ServerErrorHtml { status } => return Err(server_error_html(*status)),
            FaultKind::Forbidden403Html => {
                return Err(html(StatusCode::FORBIDDEN, "Attention Required!"));
            }
            FaultKind::MalformedJson => {
                return Err((
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    "{\"status\":\"success\",\"response\":{\"user\":{\"id\":",
                )
                    .into_response());
            }
            FaultKind::ResetAfter { bytes } => out.reset_after = Some(*bytes),
            FaultKind::Redirect { location } => return Err(redirect(location)),
            FaultKind::StaleList { newer_than_secs } => {
                out.stale = Some(StaleList(Duration::from_secs_f64(newer_than_secs.max(0.0))))
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The answer with its body cut after `n` bytes and the connection reset, while its
/// Content-Length still promises the whole body.
pub(super) async fn reset_after(resp: Response, n: u64) -> Response {
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

/// What the file host's faults leave for the answer: the body stream's faults, and how
/// the range and the length are bent.
#[derive(Default)]
pub(super) struct FileFaults {
    pub(super) stream: StreamFaults,
    pub(super) ignore_range: bool,
    /// A whole-file answer ends after this many bytes.
    pub(super) truncate: Option<u64>,
    /// Content-Length is off by this many bytes.
    pub(super) wrong_length: Option<i64>,
}

/// A body of `n` bytes of `fill`, in 64 KiB chunks, with no length announced.
fn chunked(n: u64, fill: u8) -> Body {
    let chunks = futures_util::stream::iter((0..n.div_ceil(65536)).map(move |i| {
        let len = (n - i * 65536).min(65536) as usize;
        Ok::<_, std::io::Error>(Bytes::from(vec![fill; len]))
    }));
    Body::from_stream(chunks)
}

/// Takes the file host's faults matching this request and applies the ones that replace
/// the answer; a `Distant` fault waits out the new connection's handshake here.
pub(super) async fn files(
    shared: &Shared,
    peer: std::net::SocketAddr,
    path: &str,
) -> Result<FileFaults, Response> {
    let injected = faults::take(&mut shared.lock().faults, Target::Files, "GET", path);
    let mut out = FileFaults::default();
    for f in &injected {
        match f {
            FaultKind::ServerErrorHtml { status } => return Err(server_error_html(*status)),
            FaultKind::Forbidden403Html => {
                return Err(html(StatusCode::FORBIDDEN, "Attention Required!"));
            }
            FaultKind::ExpiredSignature => {
                return Err(s3_error(
                    StatusCode::FORBIDDEN,
                    "AccessDenied",
                    "Request has expired",
                ));
            }
            FaultKind::ResetAfter { bytes } => out.stream.reset_after = Some(*bytes),
            FaultKind::Stall {
                after_bytes,
                seconds,
            } => out.stream.stall = Some((*after_bytes, *seconds)),
            FaultKind::Bandwidth { bytes_per_sec } => out.stream.bandwidth = Some(*bytes_per_sec),
            FaultKind::Distant { rtt_ms } => {
                let rtt = Duration::from_millis(*rtt_ms);
                let (conn, new) = shared.connection(peer);
                tokio::time::sleep(rtt * if new { 3 } else { 1 }).await;
                out.stream.distant = Some((rtt, conn));
            }
            FaultKind::IgnoreRange => out.ignore_range = true,
            FaultKind::HugeErrorBody { bytes } => {
                // A 403 whose body never seems to end: clients must cap what they read.
                return Err((
                    StatusCode::FORBIDDEN,
                    [(header::CONTENT_TYPE, "application/xml")],
                    chunked(*bytes, b'x'),
                )
                    .into_response());
            }
            FaultKind::Redirect { location } => return Err(redirect(location)),
            FaultKind::Truncate { bytes } => out.truncate = Some(*bytes),
            FaultKind::HtmlInsteadOfFile => {
                return Err((
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    "<!doctype html><html><head><title>Sign in to continue</title></head>\
                     <body><form action=\"/login\"><input name=\"user\"></form></body></html>",
                )
                    .into_response());
            }
            FaultKind::WrongLength { delta } => out.wrong_length = Some(*delta),
            FaultKind::Chunked { bytes } => {
                return Err((
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/zip")],
                    chunked(*bytes, 0),
                )
                    .into_response());
            }
            FaultKind::BadPartial {
                status,
                content_range,
                body_bytes,
            } => {
                let s = StatusCode::from_u16(*status).unwrap_or(StatusCode::PARTIAL_CONTENT);
                return Err((
                    s,
                    [
                        (header::CONTENT_TYPE, "application/zip"),
                        (header::CONTENT_RANGE, content_range.as_str()),
                    ],
                    vec![0u8; (*body_bytes).min(1 << 20) as usize],
                )
                    .into_response());
            }
            FaultKind::MalformedJson | FaultKind::StaleList { .. } => {}
        }
    }
    Ok(out)
}
