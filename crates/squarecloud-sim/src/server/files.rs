//! The snapshot file host: signed, expiring URLs, `Range` and `If-Range`, ETags, and real
//! zip bodies streamed from a description, as the storage host behind the API serves them.

use super::injected::{self, FileFaults};
use super::respond::s3_error;
use super::state::{Shared, Version, record, set_status};
use super::stream::body_stream;
use crate::faults::Target;
use crate::zipgen::VirtualZip;
use axum::Router;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;

/// Parses a single `bytes=` range into an inclusive (start, end); `Err` means unsatisfiable.
fn parse_range(h: &str, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None); // several ranges: serve the whole file, as S3 does
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().map_err(|_| ())?;
            if n == 0 {
                return Err(());
            }
            (len.saturating_sub(n), len.saturating_sub(1))
        }
        (s, "") => (s.parse().map_err(|_| ())?, len.saturating_sub(1)),
        (s, e) => {
            let (s, e): (u64, u64) = (s.parse().map_err(|_| ())?, e.parse().map_err(|_| ())?);
            if e < s {
                return Err(());
            }
            (s, e.min(len.saturating_sub(1)))
        }
    };
    if start >= len {
        return Err(());
    }
    Ok(Some((start, end)))
}

fn etag(resource: &str, version: &str) -> String {
    let d = Sha256::digest(format!("{resource}/{version}"));
    format!("\"{}\"", hex::encode(&d[..16]))
}

/// Where a request points on the host: `/{scope}/{account}/{file}`.
struct Location<'a> {
    path: &'a str,
    scope: &'a str,
    account: &'a str,
    file: &'a str,
}

async fn serve_file(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Path((scope, account, file)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    req: Request,
) -> Response {
    let idx = record(&shared, Target::Files, &req);
    let path = req.uri().path().to_string();
    let at = Location {
        path: &path,
        scope: &scope,
        account: &account,
        file: &file,
    };
    let resp = serve_file_inner(&shared, peer, &at, &q, &headers).await;
    set_status(&shared, idx, resp.status());
    resp
}

async fn serve_file_inner(
    shared: &Shared,
    peer: std::net::SocketAddr,
    at: &Location<'_>,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Response {
    let faults = match injected::files(shared, peer, at.path).await {
        Ok(f) => f,
        Err(resp) => return resp,
    };
    if let Some(refused) = signature_refusal(shared, at.path, q) {
        return refused;
    }
    let version = q.get("versionId").map(String::as_str);
    let Some(found) = find_version(shared, at, version) else {
        return s3_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        );
    };
    answer(shared, found, headers, faults)
}

/// The URL's signature and expiry, checked as the storage host does: the refusal, if they
/// do not hold.
fn signature_refusal(shared: &Shared, path: &str, q: &HashMap<String, String>) -> Option<Response> {
    let (Some(expires), Some(sig)) = (q.get("Expires"), q.get("Signature")) else {
        return Some(s3_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
        ));
    };
    let version = q.get("versionId").map(String::as_str);
    let Ok(expires) = expires.parse::<i64>() else {
        return Some(s3_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Invalid date",
        ));
    };
    if shared.signature(path, expires, version.unwrap_or("")) != *sig {
        return Some(s3_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        ));
    }
    if shared.clock.now().timestamp() > expires {
        return Some(s3_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Request has expired",
        ));
    }
    None
}

/// The ready version a request asks for (the named one, else the newest) and the archive
/// it is served from.
struct Found {
    zip: VirtualZip,
    tag: String,
    version: Version,
}

fn find_version(shared: &Shared, at: &Location<'_>, version: Option<&str>) -> Option<Found> {
    let now = shared.clock.now();
    let st = shared.lock();
    let name = at.file.strip_suffix(".zip").unwrap_or(at.file);
    let r = st.resources.iter().find(|r| {
        r.kind.scope() == at.scope
            && r.file_name() == name
            && at.account == shared.config.account_at(r.owner).id
    })?;
    let mut ready = r.versions.iter().filter(|v| v.ready_at <= now);
    let v = match version {
        Some(id) => ready.rfind(|v| v.id == id),
        None => ready.max_by_key(|v| v.ready_at),
    }?;
    Some(Found {
        zip: r.archive(v),
        tag: etag(&r.spec.id, &v.id),
        version: v.clone(),
    })
}

/// The file, whole or the range asked for (when `If-Range` still matches), with the
/// length and body bent as the faults say.
fn answer(shared: &Shared, found: Found, headers: &HeaderMap, faults: FileFaults) -> Response {
    let Found { zip, tag, version } = found;
    let len = zip.len();
    let if_range_ok = headers
        .get(header::IF_RANGE)
        .and_then(|h| h.to_str().ok())
        .is_none_or(|h| h == tag);
    let range = match headers.get(header::RANGE).and_then(|h| h.to_str().ok()) {
        Some(h) if !faults.ignore_range && if_range_ok => match parse_range(h, len) {
            Ok(r) => r,
            Err(()) => {
                return (
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    [(header::CONTENT_RANGE, format!("bytes */{len}"))],
                )
                    .into_response();
            }
        },
        _ => None,
    };
    let (status, start, end) = match range {
        Some((s, e)) => (StatusCode::PARTIAL_CONTENT, s, e + 1),
        None => (StatusCode::OK, 0, len),
    };
    // A short body that looks complete: whole-file answers only.
    let end = match faults.truncate {
        Some(n) if status == StatusCode::OK => end.min(n),
        _ => end,
    };
    // A lying Content-Length: the body is cut to a short one; a long one is promised but
    // the body ends first (the connection closes under the reader).
    let declared = match faults.wrong_length {
        Some(d) => (end - start).saturating_add_signed(d).max(1),
        None => end - start,
    };
    let end = end.min(start + declared);
    let body = body_stream(zip, start, end, faults.stream, shared.served.clone());
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(declared));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    let modified = version.ready_at.format("%a, %d %b %Y %H:%M:%S GMT");
    if let Ok(v) = HeaderValue::from_str(&modified.to_string()) {
        h.insert(header::LAST_MODIFIED, v);
    }
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{len}", end - 1))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    resp
}

pub(crate) fn files_router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{scope}/{account}/{file}", get(serve_file))
        .fallback(|| async {
            s3_error(
                StatusCode::NOT_FOUND,
                "NoSuchKey",
                "The specified key does not exist.",
            )
        })
        .with_state(shared)
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Ok(Some((0, 9))));
        assert_eq!(parse_range("bytes=90-", 100), Ok(Some((90, 99))));
        assert_eq!(parse_range("bytes=-10", 100), Ok(Some((90, 99))));
        assert_eq!(parse_range("bytes=50-500", 100), Ok(Some((50, 99))));
        assert_eq!(parse_range("bytes=100-", 100), Err(()));
        assert_eq!(parse_range("bytes=9-3", 100), Err(()));
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(parse_range("items=0-1", 100), Ok(None));
    }
}
