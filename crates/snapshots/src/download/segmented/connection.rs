//! One connection of a parallel download: asks for its range a part at a time and writes
//! what arrives at its offset, until its end (which a split may bring down while it runs).

use super::shared::{MAX_REQUEST, Seg, Shared};
use crate::download::answer::{Action, describe, judge_response, s3_message};
use crate::download::client::Downloader;
use crate::download::error::{DownloadError, disk_error};
use crate::download::pacing::Floor;
use crate::download::part::write_at;
use futures_util::StreamExt;
use reqwest::{StatusCode, header};
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// Why a connection ended early.
pub(super) enum WorkerError {
    /// Worth another try (network, timeout, 5xx, a drip).
    Net(String),
    /// The signed URL was refused: get a fresh one.
    Expired(u16, String),
    Disk(DownloadError),
}

/// Where one answer's body left its connection.
enum Filled {
    /// The range is done, or the rest of it went to another connection.
    Done,
    /// This answer is complete: ask for the next part.
    More,
}

/// Counts a connection as started when dropped: answered, failed or cancelled.
struct Answered<'a>(&'a Shared);

impl Drop for Answered<'_> {
    fn drop(&mut self) {
        if self.0.starting.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.all_answered.notify_one();
        }
    }
}

impl Downloader {
    /// One connection: requests `[pos, end)` (unless handed the probe's answer) and writes
    /// what arrives at its offset until `end`, which may shrink while it runs.
    pub(super) async fn fill(
        &self,
        seg: &Seg,
        resp: Option<reqwest::Response>,
        shared: &Shared,
        url: &Mutex<String>,
        cancel: &CancellationToken,
    ) -> Result<(), WorkerError> {
        // Only a connection the main loop counted as starting (not the probe's) reports its
        // first answer (`then`, not `then_some`: a guard built for nothing counts down).
        let mut answered = resp.is_none().then(|| Answered(shared));
        let mut handed = resp;
        let mut ask = shared.first_request();
        loop {
            let resp = match handed.take() {
                Some(r) => r,
                None => {
                    let (pos, end) = (
                        seg.pos.load(Ordering::Acquire),
                        seg.end.load(Ordering::Acquire),
                    );
                    if pos >= end {
                        return Ok(());
                    }
                    let upto = end.min(pos + ask);
                    ask = (ask * 2).min(MAX_REQUEST);
                    seg.asked.fetch_max(upto, Ordering::AcqRel);
                    let r = self.ask_range(pos, upto, shared, url, cancel).await;
                    answered.take();
                    r?
                }
            };
            match self.write_answer(seg, resp, shared, cancel).await? {
                Filled::Done => return Ok(()),
                Filled::More => {}
            }
        }
    }

    /// Writes one answer's body at the connection's position, up to what it asked for (or
    /// `end`, if a split came down to it).
    async fn write_answer(
        &self,
        seg: &Seg,
        resp: reqwest::Response,
        shared: &Shared,
        cancel: &CancellationToken,
    ) -> Result<Filled, WorkerError> {
        let upto = seg.asked.load(Ordering::Acquire);
        let mut stream = resp.bytes_stream();
        let mut floor = Floor::new(
            seg.pos.load(Ordering::Acquire),
            self.floor_bytes_per_sec,
            self.floor_window,
        );
        loop {
            let next = tokio::select! {
                n = tokio::time::timeout(self.read_idle, stream.next()) => n,
                _ = cancel.cancelled() => return Err(WorkerError::Net("cancelled".into())),
            };
            let chunk = match next {
                Ok(Some(Ok(c))) => c,
                Ok(Some(Err(e))) => return Err(WorkerError::Net(describe(e))),
                Ok(None) => {
                    let pos = seg.pos.load(Ordering::Acquire);
                    if pos >= seg.end.load(Ordering::Acquire) {
                        return Ok(Filled::Done);
                    }
                    if pos >= upto {
                        return Ok(Filled::More);
                    }
                    return Err(WorkerError::Net("the connection closed early".into()));
                }
                Err(_) => return Err(WorkerError::Net("the connection went silent".into())),
            };
            if let Some(limit) = &self.limit {
                limit.take(chunk.len()).await;
            }
            let pos = seg.pos.load(Ordering::Acquire);
            let end = seg.end.load(Ordering::Acquire).min(upto);
            let n = (chunk.len() as u64).min(end.saturating_sub(pos)) as usize;
            if n > 0 {
                // Into the page cache before it is counted: a crash keeps what was counted.
                write_at(&shared.file, &chunk[..n], pos).map_err(|e| {
                    // The `.part` (the sidecar's name without `.json`) and what is on disk in
                    // all, not this write's offset.
                    let part = shared.side.with_extension("");
                    let done = shared.done.load(Ordering::Acquire);
                    WorkerError::Disk(disk_error(&part, e, done))
                })?;
                seg.pos.store(pos + n as u64, Ordering::Release);
                shared.landed(n as u64);
            }
            if pos + n as u64 >= seg.end.load(Ordering::Acquire) {
                // Done, or the rest went to another connection.
                return Ok(Filled::Done);
            }
            if floor.too_slow(pos + n as u64) {
                return Err(WorkerError::Net("the connection slowed to a drip".into()));
            }
        }
    }

    /// Asks for `[pos, upto)`; the answer must be that range.
    async fn ask_range(
        &self,
        pos: u64,
        upto: u64,
        shared: &Shared,
        url: &Mutex<String>,
        cancel: &CancellationToken,
    ) -> Result<reqwest::Response, WorkerError> {
        let u = url.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut req = self
            .http
            .get(u)
            .header(header::RANGE, format!("bytes={pos}-{}", upto - 1));
        let tag = shared
            .record
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .etag
            .clone();
        if let Some(tag) = tag {
            req = req.header(header::IF_RANGE, tag);
        }
        let asked = Instant::now();
        let r = tokio::select! {
            r = self.send(req) => r.map_err(WorkerError::Net)?,
            _ = cancel.cancelled() => return Err(WorkerError::Net("cancelled".into())),
        };
        shared.answered_in(asked.elapsed());
        let status = r.status();
        match judge_response(&r, pos) {
            Action::Append { .. } => Ok(r),
            Action::RestartFromZero { .. } if status == StatusCode::PARTIAL_CONTENT => {
                Err(WorkerError::Net("the host sent another range".into()))
            }
            Action::RefreshUrl => Err(WorkerError::Expired(status.as_u16(), s3_message(r).await)),
            // Mid-transfer, anything else is worth another try.
            _ => Err(WorkerError::Net(format!("HTTP {}", status.as_u16()))),
        }
    }
}
