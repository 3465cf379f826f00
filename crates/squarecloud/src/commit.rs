//! `POST /apps/{id}/commit`: a zip uploaded into an application (multipart/form-data, the
//! zip in field `file`, `?restart=true|false`); its files are added to the application's,
//! replacing the same paths (shared/squarecloud-api.md §10). The file is streamed from disk,
//! never read whole into memory. A commit changes the application, so it is never sent
//! twice by this client: an error for which [`ApiError::answer_may_be_lost`] holds means
//! the outcome is unknown, and only the caller (having checked the application) may try
//! again.

use crate::{ApiError, Client, USER_AGENT, UploadedApp, limits, parse_json, seg, success_response};
use futures_util::stream;
use reqwest::{Method, header};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// The slowest upload a commit's timeout allows for: 32 KiB a second (a poor mobile
/// uplink); 100 MB then takes about 50 minutes.
pub const COMMIT_MIN_RATE: u64 = 32 * 1024;

/// Beside the upload itself, what a commit may take: the connection, and the server
/// unpacking the zip before it answers.
const COMMIT_ANSWER_TIME: Duration = Duration::from_secs(120);

/// Pieces the file is read and sent in.
const CHUNK: usize = 256 * 1024;

/// Told the bytes of the file sent so far and its size, as the upload goes.
pub type CommitProgress = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// How long a commit of `size` bytes may take in all before it is given up on (and its
/// outcome is unknown): [`COMMIT_ANSWER_TIME`] plus the upload at [`COMMIT_MIN_RATE`].
pub fn commit_timeout(size: u64) -> Duration {
    COMMIT_ANSWER_TIME + Duration::from_secs(size.div_ceil(COMMIT_MIN_RATE))
}

impl Client {
    /// Uploads the zip at `file` into application `app_id` (restarting it after when
    /// `restart`). A file over [`limits::UPLOAD_MAX_BYTES`] is refused here, before anything
    /// is sent, as the server would refuse it (413 `FILE_TOO_LARGE`).
    pub async fn commit(&self, app_id: &str, file: &Path, restart: bool) -> Result<(), ApiError> {
        self.commit_with_progress(app_id, file, restart, Arc::new(|_, _| {}))
            .await
    }

    /// [`Client::commit`], telling `progress` how much of the file has been sent.
    pub async fn commit_with_progress(
        &self,
        app_id: &str,
        file: &Path,
        restart: bool,
        progress: CommitProgress,
    ) -> Result<(), ApiError> {
        let (name, size, body) = zip_body(file, "put-back.zip", progress).await?;
        self.send_commit(app_id, name, size, body, restart).await
    }

    /// [`Client::commit_with_progress`] of a zip of `size` bytes read from `reader` (a
    /// sealed copy as it is decrypted, say) and sent as `name`. Read on a blocking thread a
    /// piece at a time, never whole; a read error ends the upload unfinished (and the
    /// server applies nothing of a cut upload). A `reader` that gives other than `size`
    /// bytes fails the same way.
    pub async fn commit_reader(
        &self,
        app_id: &str,
        name: String,
        size: u64,
        reader: Box<dyn std::io::Read + Send>,
        restart: bool,
        progress: CommitProgress,
    ) -> Result<(), ApiError> {
        if size > limits::UPLOAD_MAX_BYTES {
            return Err(too_large(size));
        }
        let body = reader_stream(reader, size, progress);
        self.send_commit(app_id, name, size, body, restart).await
    }

    async fn send_commit(
        &self,
        app_id: &str,
        name: String,
        size: u64,
        body: reqwest::Body,
        restart: bool,
    ) -> Result<(), ApiError> {
        let path = format!("/apps/{}/commit", seg(app_id));
        let query = format!("?restart={restart}");
        self.send_zip(&path, &query, name, size, body)
            .await
            .map(|_| ())
    }

    /// `POST /apps`: a new application made from the zip at `file` (whose root holds its
    /// configuration, `squarecloud.app`), streamed from disk. As for a commit, a file over
    /// [`limits::UPLOAD_MAX_BYTES`] is refused here, and an answer that may be lost is never
    /// followed by a second upload from this client.
    pub async fn upload_app(
        &self,
        file: &Path,
        progress: CommitProgress,
    ) -> Result<UploadedApp, ApiError> {
        let (name, size, body) = zip_body(file, "app.zip", progress).await?;
        self.send_upload(name, size, body).await
    }

    /// [`Client::upload_app`] of a zip of `size` bytes read from `reader` (a sealed copy as
    /// it is decrypted), sent as `name`.
    pub async fn upload_app_reader(
        &self,
        name: String,
        size: u64,
        reader: Box<dyn std::io::Read + Send>,
        progress: CommitProgress,
    ) -> Result<UploadedApp, ApiError> {
        if size > limits::UPLOAD_MAX_BYTES {
            return Err(too_large(size));
        }
        let body = reader_stream(reader, size, progress);
        self.send_upload(name, size, body).await
    }

    async fn send_upload(
        &self,
        name: String,
        size: u64,
        body: reqwest::Body,
    ) -> Result<UploadedApp, ApiError> {
        let v = self.send_zip("/apps", "", name, size, body).await?;
        // A success whose fields cannot be read: the application was made all the same.
        serde_json::from_value(v).map_err(|e| ApiError::Decode {
            status: 200,
            detail: format!("an upload's answer: {e}"),
        })
    }

    /// A zip sent as the form's `file` to `path` (+ `query`): the answer's `response`.
    async fn send_zip(
        &self,
        path: &str,
        query: &str,
        name: String,
        size: u64,
        body: reqwest::Body,
    ) -> Result<serde_json::Value, ApiError> {
        let part = reqwest::multipart::Part::stream_with_length(body, size)
            .file_name(name)
            .mime_str("application/zip")
            .map_err(|e| ApiError::LocalFile(e.to_string()))?;
        let form = reqwest::multipart::Form::new().part("file", part);
        self.wait_turn().await?;
        let resp = self
            .http
            .request(Method::POST, format!("{}{path}{query}", self.base))
            .header(header::AUTHORIZATION, self.key.expose_secret())
            .header(header::ACCEPT, "application/json")
            .header(header::USER_AGENT, USER_AGENT)
            .timeout(commit_timeout(size))
            .multipart(form)
            .send()
            .await
            .map_err(ApiError::from_reqwest)?;
        let (status, body, ct) = self.answer(resp, path).await?;
        let v = parse_json(status, &body, ct.as_deref())?;
        success_response(status, v)
    }
}

/// The zip at `file` as a form part's name (its file name, else `fallback`), size and body
/// stream; one over the upload limit is refused here, before anything is sent.
async fn zip_body(
    file: &Path,
    fallback: &str,
    progress: CommitProgress,
) -> Result<(String, u64, reqwest::Body), ApiError> {
    let local = |e: std::io::Error| ApiError::LocalFile(format!("{}: {e}", file.display()));
    let f = tokio::fs::File::open(file).await.map_err(local)?;
    let size = f.metadata().await.map_err(local)?.len();
    if size > limits::UPLOAD_MAX_BYTES {
        return Err(too_large(size));
    }
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| fallback.into());
    Ok((name, size, read_stream(f, size, progress)))
}

/// The refusal of a file over the upload limit, before anything is sent, as the server
/// would answer it (413 `FILE_TOO_LARGE`).
fn too_large(size: u64) -> ApiError {
    ApiError::Api {
        status: 413,
        code: crate::ErrorCode::FileTooLarge,
        raw: "FILE_TOO_LARGE".into(),
        message: Some(format!(
            "not sent: the file is {size} bytes, over the {} bytes Square Cloud takes",
            limits::UPLOAD_MAX_BYTES
        )),
    }
}

/// A blocking reader as a body stream: a thread reads pieces into a channel of two, so at
/// most a few pieces are held; a short read (fewer bytes than `size`) is an error.
fn reader_stream(
    mut reader: Box<dyn std::io::Read + Send>,
    size: u64,
    progress: CommitProgress,
) -> reqwest::Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(2);
    tokio::task::spawn_blocking(move || {
        let mut sent = 0u64;
        loop {
            let mut buf = vec![0u8; CHUNK];
            let piece = match reader.read(&mut buf) {
                Ok(0) if sent == size => return,
                Ok(0) => Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("the copy ended after {sent} of {size} bytes"),
                )),
                Ok(n) if sent + n as u64 > size => Err(std::io::Error::other(format!(
                    "the copy is longer than the {size} bytes it was checked at"
                ))),
                Ok(n) => {
                    buf.truncate(n);
                    sent += n as u64;
                    progress(sent, size);
                    Ok(buf)
                }
                Err(e) => Err(e),
            };
            let stop = piece.is_err();
            if tx.blocking_send(piece).is_err() || stop {
                return;
            }
        }
    });
    let pieces = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|p| (p, rx)) });
    reqwest::Body::wrap_stream(pieces)
}

/// The file as a body stream, read a piece at a time, each piece told to `progress`.
fn read_stream(f: tokio::fs::File, size: u64, progress: CommitProgress) -> reqwest::Body {
    let pieces = stream::unfold((f, 0u64), move |(mut f, sent)| {
        let progress = progress.clone();
        async move {
            let mut buf = vec![0u8; CHUNK];
            match f.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    let sent = sent + n as u64;
                    progress(sent, size);
                    Some((Ok::<_, std::io::Error>(buf), (f, sent)))
                }
                Err(e) => Some((Err(e), (f, sent))),
            }
        }
    });
    reqwest::Body::wrap_stream(pieces)
}
