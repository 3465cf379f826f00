//! Parallel ranged downloads: one preallocated `.part`, segments written at their offsets
//! over up to N connections, added one step at a time while the total rate grows. The
//! sidecar (see `part.rs`) records the finished ranges, so a crash or `kill -9` resumes every
//! unfinished segment. A host that ignores `Range` gets the single stream of `single.rs`.

mod connection;
mod shared;
mod transfer;

use self::shared::FIRST_REQUEST;
use self::shared::Shared;
use self::transfer::Transfer;
use crate::download::answer::{Action, judge_response, s3_message};
use crate::download::client::{Downloader, Tries};
use crate::download::error::{DownloadError, disk_error};
use crate::download::folder::reserve_room;
use crate::download::part::{Sidecar, gaps, remove_sidecar, sidecar_path, store_sidecar};
use crate::download::target::Progress;
use reqwest::header;
use std::fs::File;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How the segmented path ended.
pub(super) enum Outcome {
    /// `check_all`: it resumed ranges recorded before the system restarted (or by a version
    /// that did not say when): every entry's CRC must be checked.
    Done { check_all: bool },
    /// The host answered a ranged request with the whole file: use one stream.
    NoRanges,
}

impl Downloader {
    /// Fills `part` (`total` bytes of `file_name`) over up to `self.connections` ranged
    /// connections. `tries.url` is updated when a fresh one had to be fetched.
    pub(super) async fn fetch_segmented<F, Fut>(
        &self,
        tries: &mut Tries<'_, F>,
        part: &Path,
        file_name: &str,
        total: u64,
        on_progress: &mut (dyn FnMut(Progress) + Send),
        cancel: &CancellationToken,
    ) -> Result<Outcome, DownloadError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<String>>,
    {
        let side = sidecar_path(part);
        // What an earlier attempt finished: the sidecar, or a single stream's `.part`.
        let (mut record, check_all) = Sidecar::resume(part, &side, file_name, total)?;
        let mut queue = gaps(&record.done, total);
        let Some((first_a, first_b)) = queue.pop_front() else {
            return Ok(Outcome::Done { check_all });
        };
        // The first connection asks for the start of the first gap.
        let first_upto = first_b.min(first_a + FIRST_REQUEST);
        let Some((probe, probe_took)) = self
            .probe(tries, part, &record, (first_a, first_upto), cancel)
            .await?
        else {
            return Ok(Outcome::NoRanges);
        };
        let h = |n: header::HeaderName| {
            probe
                .headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        record.etag = h(header::ETAG).or(record.etag);
        record.last_modified = h(header::LAST_MODIFIED).or(record.last_modified);

        let Prepared {
            file,
            sidecar,
            already,
        } = prepare(part, &record)?;
        let shared = Arc::new(Shared::new(
            file, side, record, sidecar, already, probe_took,
        ));
        let first = shared.add_seg(first_a, first_b);
        first.asked.store(first_upto, Ordering::Release);
        let url = tries.url.clone();
        Transfer::new(
            self,
            shared,
            part,
            cancel,
            &url,
            queue,
            (first, probe, probe_took),
        )
        .run(tries, on_progress)
        .await?;
        Ok(Outcome::Done { check_all })
    }

    /// The first ranged request, for `[a, upto)`: does the host do ranges, and is it the same
    /// file? Its answer and how long it took; None when one stream must decide (and explain).
    async fn probe<F, Fut>(
        &self,
        tries: &mut Tries<'_, F>,
        part: &Path,
        record: &Sidecar,
        (a, upto): (u64, u64),
        cancel: &CancellationToken,
    ) -> Result<Option<(reqwest::Response, Duration)>, DownloadError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<String>>,
    {
        loop {
            squarecloud::check_url(tries.url).map_err(|e| DownloadError::Insecure(e.0))?;
            if cancel.is_cancelled() {
                return Err(DownloadError::Cancelled {
                    part: part.to_path_buf(),
                    bytes: record.done.iter().map(|r| r.1 - r.0).sum(),
                });
            }
            let mut req = self
                .http
                .get(tries.url.as_str())
                .header(header::RANGE, format!("bytes={a}-{}", upto - 1));
            if let Some(tag) = &record.etag {
                req = req.header(header::IF_RANGE, tag);
            }
            let asked = Instant::now();
            let resp = match self.send(req).await {
                Ok(r) => r,
                Err(detail) => {
                    tries.failed(self, &detail, cancel).await?;
                    continue;
                }
            };
            match judge_response(&resp, a) {
                Action::Append { total, .. } if total == Some(record.total) => {
                    return Ok(Some((resp, asked.elapsed())));
                }
                Action::RefreshUrl => {
                    let status = resp.status().as_u16();
                    let detail = s3_message(resp).await;
                    if !tries.fresh_url().await {
                        return Err(DownloadError::Rejected { status, detail });
                    }
                }
                Action::Retry { detail } => tries.failed(self, &detail, cancel).await?,
                // Another size, a range we did not ask for, the whole file, or anything
                // else: the single stream knows how to explain it.
                _ => return Ok(None),
            }
        }
    }
}

/// The `.part` made ready for the connections.
struct Prepared {
    file: File,
    /// The sidecar, open as just written, with its length.
    sidecar: Option<(File, usize)>,
    /// Bytes already done.
    already: u64,
}

/// The `.part`, preallocated to its final size for every connection to write at its offset,
/// with the sidecar saved first. A refusal before anything was fetched leaves the folder as
/// it was.
fn prepare(part: &Path, record: &Sidecar) -> Result<Prepared, DownloadError> {
    let (side, total) = (sidecar_path(part), record.total);
    let file = crate::ownfile::open_or_create(part, crate::ownfile::Access::Write)
        .map_err(|e| disk_error(part, e, 0))?;
    let already: u64 = record.done.iter().map(|r| r.1 - r.0).sum();
    // The sidecar before the length: a `.part` of full length without one would read, after
    // a kill here, as a file one stream had finished.
    let mut sidecar = None;
    if let Err(e) = serde_json::to_vec(record)
        .map_err(std::io::Error::other)
        .and_then(|b| store_sidecar(&mut sidecar, &side, b))
    {
        if already == 0 && file.metadata().is_ok_and(|m| m.len() == 0) {
            drop(file);
            crate::ownfile::remove_own(part);
        }
        return Err(disk_error(&side, e, already));
    }
    if file.metadata().map(|m| m.len()).unwrap_or(0) != total {
        file.set_len(total)
            .map_err(|e| disk_error(part, e, already))?;
    }
    if let Err(e) = reserve_room(&file, total) {
        if already > 0 {
            return Err(disk_error(part, e, already));
        }
        // Nothing fetched yet: nothing to keep either.
        drop(file);
        crate::ownfile::remove_own(part);
        remove_sidecar(&side);
        return Err(DownloadError::NoRoom {
            dir: part.parent().unwrap_or(part).to_path_buf(),
            needed: total,
        });
    }
    Ok(Prepared {
        file,
        sidecar,
        already,
    })
}
