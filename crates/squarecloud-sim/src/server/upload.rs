//! `POST /v2/apps`: a zip uploaded as `multipart/form-data` (field `file`) that becomes a new
//! application of the asking account (shared/squarecloud-api.md §10: the answer's fields are
//! confirmed; a third-party restorer re-uploads snapshot zips this way). Its root must hold
//! a configuration (`appconfig`): without one, or with a fault in it, the answer is 400
//! with the fault's code. The rules: one upload per account per `upload_gap` (429
//! `KEEP_CALM`), a file over 100,000,000 bytes is 413 `FILE_TOO_LARGE`, a file that is not
//! a whole zip is 400 `INVALID_FILE`, and memory past what the plan has free is 400
//! `INSUFFICIENT_MEMORY` (inferred). The new application's files are the zip's; it is
//! listed by `/users/me`, counts against the plan's memory, and its snapshots hold them.

use super::access::Caller;
use super::commit::{drain, read_file, unzip};
use super::respond::{envelope_err, envelope_ok};
use super::state::{Kind, Res, Shared, cd};
use crate::appconfig;
use crate::model::ResourceSpec;
use axum::Router;
use axum::extract::{Extension, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The route, with no body limit of its own: [`read_file`] counts the file's bytes.
pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new().route(
        "/v2/apps",
        axum::routing::post(upload).layer(axum::extract::DefaultBodyLimit::disable()),
    )
}

async fn upload(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(who)): Extension<Caller>,
    req: Request,
) -> Response {
    let now = shared.clock.now();
    let refused = {
        let mut st = shared.lock();
        let account = &mut st.accounts[who];
        if account
            .last_upload
            .is_some_and(|t| now - t < cd(shared.config.limits.upload_gap))
        {
            true
        } else {
            // The window counts from arrival, whatever becomes of the upload.
            account.last_upload = Some(now);
            false
        }
    };
    if refused {
        drain(req).await;
        return envelope_err(StatusCode::TOO_MANY_REQUESTS, "KEEP_CALM");
    }
    let zip = match read_file(req).await {
        Ok(z) => z,
        Err(refused) => return refused,
    };
    let Ok(Ok(files)) = tokio::task::spawn_blocking(move || unzip(&zip)).await else {
        return envelope_err(StatusCode::BAD_REQUEST, "INVALID_FILE");
    };
    let config = match appconfig::read(&files) {
        Ok(c) => c,
        Err(code) => return envelope_err(StatusCode::BAD_REQUEST, code),
    };
    let mut st = shared.lock();
    let account = shared.config.account_at(who);
    let used: u64 = st
        .resources
        .iter()
        .filter(|r| r.owner == who)
        .map(|r| r.spec.ram)
        .sum();
    if used + config.memory > account.memory_mb {
        return envelope_err(StatusCode::BAD_REQUEST, "INSUFFICIENT_MEMORY");
    }
    // A new id: 32 hex characters, from the account, the upload's order and its time.
    let n = st.counter;
    st.counter += 1;
    let seed = format!(
        "upload/{}/{n}/{}",
        account.id,
        now.timestamp_nanos_opt().unwrap_or_default()
    );
    let id = hex::encode(&Sha256::digest([&shared.secret, seed.as_bytes()].concat())[..16]);
    let size: u64 = files.values().map(|b| b.len() as u64).sum();
    let spec = ResourceSpec {
        id: id.clone(),
        name: config.display_name.clone(),
        desc: config.description.clone(),
        kind: config.language().into(),
        ram: config.memory,
        cluster: "florida-1".into(),
        domain: config
            .subdomain
            .as_ref()
            .map(|s| format!("{s}.squareweb.app")),
        snapshot_size: size,
        generation_secs: None,
        history: 0,
    };
    let mut res = Res::new(spec, Kind::App, who, now);
    // Its files are the upload's, all of them; nothing is generated beside them.
    res.generated = Arc::default();
    res.files = Arc::new(files);
    st.resources.push(res);
    envelope_ok(json!({
        "id": id,
        "tag": config.display_name,
        "description": config.description,
        "subdomain": config.subdomain,
        "avatar": "https://cdn.squarecloud.app/png/logo.png",
        "ram": config.memory,
        "cpu": (config.memory / 1024).max(1),
        "language": {"name": config.language(), "version": config.version},
    }))
}
