//! One stream: the file front to back over one connection, resumed with `Range` after a
//! cut. Small snapshots, a single connection, or a host that ignores ranges take it. Memory
//! use is one chunk, whatever the size.

use super::answer::{Action, describe, judge_response, s3_message, web_page};
use super::client::{Downloader, Tries};
use super::error::{DownloadError, disk_error};
use super::pacing::{Floor, Meter};
use super::part::{file_len, open_part, remove_sidecar, sidecar_path, truncate};
use super::target::{DownloadTarget, Progress};
use super::writeback::Writeback;
use futures_util::StreamExt;
use reqwest::header;
use std::future::Future;
use std::path::Path;
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

/// What the stream brought.
pub(super) struct Streamed {
    /// The size the host gave, or the length that arrived.
    pub total: Option<u64>,
    /// This run appended one answer to another's bytes. The host's first answer may not have
    /// been the file at all (a 200 of a few bytes of something else, then cut), and the usual
    /// check (the length and the central directory, at the end) says nothing of the start:
    /// such a file is checked whole.
    pub spliced: bool,
}

/// One stream's state across its attempts.
pub(super) struct Stream<'a> {
    dl: &'a Downloader,
    target: &'a DownloadTarget,
    part: &'a Path,
    cancel: &'a CancellationToken,
    etag: Option<String>,
    total: Option<u64>,
    /// The furthest the file has got: an attempt that only gets back there (a host that
    /// restarts from 0 and cuts at the same place) is not progress, so it cannot loop.
    furthest: u64,
    spliced: bool,
    meter: Meter,
}

impl<'a> Stream<'a> {
    /// A stream into `part`, which holds `resumed_from` bytes of an earlier attempt.
    pub fn new(
        dl: &'a Downloader,
        target: &'a DownloadTarget,
        part: &'a Path,
        cancel: &'a CancellationToken,
        resumed_from: u64,
    ) -> Self {
        Stream {
            dl,
            target,
            part,
            cancel,
            etag: None,
            total: target.expected_size,
            furthest: resumed_from,
            spliced: false,
            meter: Meter::new(resumed_from),
        }
    }

    /// Asks, and writes what comes, until the file is whole or the download fails.
    pub async fn run<F, Fut>(
        mut self,
        tries: &mut Tries<'_, F>,
        on_progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<Streamed, DownloadError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<String>>,
    {
        loop {
            squarecloud::check_url(tries.url).map_err(|e| DownloadError::Insecure(e.0))?;
            if self.cancel.is_cancelled() {
                return Err(self.cancelled(file_len(self.part)));
            }
            let offset = file_len(self.part);
            if self.total.is_some_and(|t| t == offset && t > 0) {
                break;
            }
            let Some(resp) = self.ask(tries, offset).await? else {
                continue;
            };
            if let Some(content_type) = web_page(&resp) {
                return Err(DownloadError::WebPage { content_type });
            }
            let start = match judge_response(&resp, offset) {
                Action::Whole { length } => {
                    // Square Cloud's list promised a size: a shorter body is a cut, resumed
                    // below, not the whole file. Without a promise, this answer's length.
                    self.total = self.target.expected_size.or(length).or(self.total);
                    0
                }
                Action::Append { start, total } => {
                    self.spliced |= start > 0;
                    self.total = total.or(self.total);
                    start
                }
                Action::Complete { total } => {
                    self.total = Some(total);
                    break;
                }
                Action::RestartFromZero { detail, forget_tag } => {
                    // Rather than splice. A host that keeps doing it spends the attempts like
                    // any failure.
                    truncate(self.part)?;
                    if forget_tag {
                        self.etag = None;
                    }
                    tries.failed(self.dl, &detail, self.cancel).await?;
                    continue;
                }
                Action::Retry { detail } => {
                    tries.failed(self.dl, &detail, self.cancel).await?;
                    continue;
                }
                Action::RefreshUrl => {
                    let status = resp.status().as_u16();
                    let detail = s3_message(resp).await;
                    if tries.fresh_url().await {
                        continue;
                    }
                    return Err(DownloadError::Rejected { status, detail });
                }
                Action::Fail => {
                    let status = resp.status().as_u16();
                    let detail = s3_message(resp).await;
                    return Err(DownloadError::Rejected { status, detail });
                }
            };
            if self.receive(tries, resp, start, on_progress).await? {
                break;
            }
        }
        Ok(Streamed {
            total: self.total,
            spliced: self.spliced,
        })
    }

    /// Asks for the file from `offset` on; None when there is no answer to read (a failure,
    /// waited out, or a stop).
    async fn ask<F, Fut>(
        &self,
        tries: &mut Tries<'_, F>,
        offset: u64,
    ) -> Result<Option<reqwest::Response>, DownloadError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<String>>,
    {
        let mut req = self.dl.http.get(tries.url.as_str());
        if offset > 0 {
            req = req.header(header::RANGE, format!("bytes={offset}-"));
            if let Some(tag) = &self.etag {
                req = req.header(header::IF_RANGE, tag);
            }
        }
        let sent = tokio::select! {
            r = self.dl.send(req) => r,
            _ = self.cancel.cancelled() => return Ok(None),
        };
        match sent {
            Ok(r) => Ok(Some(r)),
            Err(detail) => {
                tries.failed(self.dl, &detail, self.cancel).await?;
                Ok(None)
            }
        }
    }

    /// Writes one answer's body from `start`; true once the file is whole.
    async fn receive<F, Fut>(
        &mut self,
        tries: &mut Tries<'_, F>,
        resp: reqwest::Response,
        start: u64,
        on_progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<bool, DownloadError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<String>>,
    {
        if let Some(tag) = resp
            .headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
        {
            self.etag = Some(tag.to_string());
        }
        // A size said up front past the bound: refused before anything is written.
        if let Some(limit) = self.target.max_size
            && self.total.is_some_and(|t| t > limit)
        {
            return Err(self.oversize(limit));
        }
        let (written, outcome) = self.write_body(resp, start, on_progress).await?;
        if written > self.furthest {
            self.furthest = written;
            tries.failures = 0;
        }
        match outcome {
            Ok(()) if self.total.is_none_or(|t| written >= t) => {
                self.total = Some(written);
                on_progress(self.meter.force(written, self.total));
                Ok(true)
            }
            Ok(()) => {
                let detail = "the connection closed early";
                tries.failed(self.dl, detail, self.cancel).await?;
                Ok(false)
            }
            Err(_) if self.cancel.is_cancelled() => Err(self.cancelled(written)),
            Err(detail) => {
                tries.failed(self.dl, &detail, self.cancel).await?;
                Ok(false)
            }
        }
    }

    /// Appends `resp`'s body to the `.part` (emptied first when `start` is 0: a 200 is the
    /// whole file, whatever was there) and syncs it. Returns the bytes in the `.part` then,
    /// and how the body ended: whole, or cut (the cause in words).
    async fn write_body(
        &mut self,
        resp: reqwest::Response,
        start: u64,
        on_progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<(u64, Result<(), String>), DownloadError> {
        let (mut file, second) = open_part(self.part, start == 0)?;
        let mut written = start;
        self.meter.reset_to(written);
        let mut stream = resp.bytes_stream();
        let mut floor = Floor::new(written, self.dl.floor_bytes_per_sec, self.dl.floor_window);
        let writeback = Writeback::new(second, written);
        let outcome: Result<(), String> = loop {
            let next = tokio::select! {
                n = tokio::time::timeout(self.dl.read_idle, stream.next()) => n,
                _ = self.cancel.cancelled() => break Err("cancelled".into()),
            };
            match next {
                Ok(Some(Ok(chunk))) => {
                    if let Some(limit) = &self.dl.limit {
                        limit.take(chunk.len()).await;
                    }
                    if let Some(limit) = self.target.max_size
                        && written + chunk.len() as u64 > limit
                    {
                        drop(file);
                        return Err(self.oversize(limit));
                    }
                    if let Err(e) = file.write_all(&chunk).await {
                        let _ = file.flush().await;
                        return Err(disk_error(self.part, e, written));
                    }
                    written += chunk.len() as u64;
                    writeback.landed(written);
                    if let Some(p) = self.meter.tick(written, self.total) {
                        on_progress(p);
                    }
                }
                Ok(Some(Err(e))) => break Err(describe(e)),
                Ok(None) => break Ok(()),
                Err(_) => break Err("the connection went silent".into()),
            }
            if floor.too_slow(written) {
                break Err("the connection slowed to a drip".into());
            }
        };
        if let Err(e) = file.flush().await.and(file.sync_all().await) {
            return Err(disk_error(self.part, e, written));
        }
        Ok((written, outcome))
    }

    /// Past the most that may arrive: the `.part` goes, so the folder is as it was.
    fn oversize(&self, limit: u64) -> DownloadError {
        crate::ownfile::remove_own(self.part);
        remove_sidecar(&sidecar_path(self.part));
        DownloadError::Oversize { limit }
    }

    fn cancelled(&self, bytes: u64) -> DownloadError {
        DownloadError::Cancelled {
            part: self.part.to_path_buf(),
            bytes,
        }
    }
}
