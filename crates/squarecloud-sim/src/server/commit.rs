//! `POST /v2/apps/{id}/commit`: a zip uploaded as `multipart/form-data` (field `file`,
//! optional `?restart=true`) whose files are added to the application's, replacing the same
//! paths and deleting nothing (whether the real API deletes the rest is unknown: add and
//! replace is the safe reading, shared/squarecloud-api.md §10). Later snapshots of the
//! application hold them. The rules: an unknown application (a database too: they have no
//! commit; one of another account, unless shared with the asking one) is 404
//! `APP_NOT_FOUND`; a member whose workspace group may not commit (`manager`, `view`:
//! inferred) gets 403 `PERMISSION_DENIED`; one commit per application per `commit_gap` (429
//! `KEEP_CALM`); a file over 100,000,000 bytes is 413 `FILE_TOO_LARGE`; a file that is not a
//! whole zip is 400 `INVALID_FILE`. The key, the block, the per-minute cap, the request log
//! and injected faults are the gate's, as for every route.

use super::access::{self, Caller, Right};
use super::respond::envelope_err;
use super::state::{Kind, Shared, cd};
use crate::zipgen::AppFiles;
use axum::extract::{Extension, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use squarecloud::limits::UPLOAD_MAX_BYTES;
use std::io::Read;
use std::sync::Arc;

/// What is read of a refused request's body before answering, so that the client, still
/// sending, reads the answer rather than a reset (as a proxy that buffers uploads does).
const DRAIN_MAX: u64 = UPLOAD_MAX_BYTES + (1 << 20);

#[derive(Deserialize)]
pub(super) struct CommitQuery {
    restart: Option<String>,
}

/// The route, with no body limit of its own: [`read_file`] counts the file's bytes.
pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new().route(
        "/v2/apps/{id}/commit",
        axum::routing::post(commit).layer(axum::extract::DefaultBodyLimit::disable()),
    )
}

async fn commit(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(who)): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<CommitQuery>,
    req: Request,
) -> Response {
    let now = shared.clock.now();
    let refused = {
        let mut st = shared.lock();
        match access::allowed(&shared, &st, who, Kind::App, &id, Right::Commit)
            .map(|i| &mut st.resources[i])
        {
            Err(refused) => Some(refused.answer()),
            Ok(r)
                if r.last_commit
                    .is_some_and(|t| now - t < cd(shared.config.limits.commit_gap)) =>
            {
                Some(envelope_err(StatusCode::TOO_MANY_REQUESTS, "KEEP_CALM"))
            }
            Ok(r) => {
                // The window counts from arrival, whatever becomes of the upload.
                r.last_commit = Some(now);
                None
            }
        }
    };
    if let Some(refused) = refused {
        drain(req).await;
        return refused;
    }
    let zip = match read_file(req).await {
        Ok(z) => z,
        Err(refused) => return refused,
    };
    let Ok(Ok(files)) = tokio::task::spawn_blocking(move || unzip(&zip)).await else {
        return envelope_err(StatusCode::BAD_REQUEST, "INVALID_FILE");
    };
    let mut st = shared.lock();
    if let Some(r) = st.resources.iter_mut().find(|r| r.spec.id == id) {
        let all = Arc::make_mut(&mut r.files);
        all.extend(files);
        if q.restart.as_deref() == Some("true") {
            r.restarts += 1;
        }
    }
    Json(json!({"status": "success"})).into_response()
}

/// Reads (and forgets) what is left of a refused request's body, up to [`DRAIN_MAX`].
pub(super) async fn drain(req: Request) {
    let mut body = req.into_body().into_data_stream();
    let mut read = 0u64;
    while let Some(Ok(chunk)) = body.next().await {
        read += chunk.len() as u64;
        if read > DRAIN_MAX {
            break;
        }
    }
}

/// The form's `file` part, whole: 413 past [`UPLOAD_MAX_BYTES`] (the rest is read and
/// dropped), 400 when the body is not a form with one.
pub(super) async fn read_file(req: Request) -> Result<Vec<u8>, Response> {
    let mut form = Multipart::from_request(req, &())
        .await
        .map_err(|_| envelope_err(StatusCode::BAD_REQUEST, "INVALID_CONTENT_TYPE"))?;
    let mut file: Option<Vec<u8>> = None;
    let mut too_large = false;
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(_) => return Err(envelope_err(StatusCode::BAD_REQUEST, "INVALID_FILE")),
        };
        if field.name() != Some("file") || file.is_some() || too_large {
            continue;
        }
        let mut bytes = Vec::new();
        let mut field = field;
        loop {
            match field.chunk().await {
                Ok(Some(c)) if !too_large => {
                    if (bytes.len() + c.len()) as u64 > UPLOAD_MAX_BYTES {
                        too_large = true;
                        bytes = Vec::new();
                    } else {
                        bytes.extend_from_slice(&c);
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => return Err(envelope_err(StatusCode::BAD_REQUEST, "INVALID_FILE")),
            }
        }
        if !too_large {
            file = Some(bytes);
        }
    }
    if too_large {
        return Err(envelope_err(
            StatusCode::PAYLOAD_TOO_LARGE,
            "FILE_TOO_LARGE",
        ));
    }
    file.ok_or_else(|| envelope_err(StatusCode::BAD_REQUEST, "MISSING_PARAMETERS"))
}

/// Every file of a whole zip (each entry read, so each CRC checked), by path; folders are
/// skipped. A path that would leave the application's folder makes the zip invalid.
pub(super) fn unzip(bytes: &[u8]) -> Result<AppFiles, ()> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|_| ())?;
    let mut files = AppFiles::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|_| ())?;
        if entry.is_dir() {
            continue;
        }
        let Some(path) = entry.enclosed_name() else {
            return Err(());
        };
        let path = path.to_string_lossy().replace('\\', "/");
        let mut body = Vec::new();
        entry.read_to_end(&mut body).map_err(|_| ())?;
        files.insert(path, Arc::new(body));
    }
    Ok(files)
}
