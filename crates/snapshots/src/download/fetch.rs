//! One snapshot from start to finish: the folder, the file that may be there already, the
//! choice between parallel ranges and one stream (with what the other left cleared away),
//! and the finish.

use super::client::{Downloader, Tries};
use super::error::DownloadError;
use super::finish::{Arrived, finish};
use super::folder;
use super::part::{file_len, read_sidecar, remove_sidecar, sidecar_path, truncate};
use super::segmented::Outcome;
use super::single::Stream;
use super::target::{DownloadTarget, Downloaded, Progress};
use std::future::Future;
use std::path::Path;
use tokio_util::sync::CancellationToken;

/// Which way the bytes came, or are to come.
enum Route {
    /// Over parallel ranges, all of them there. `check_all`: see [`Outcome::Done`].
    Parallel { check_all: bool, resumed_from: u64 },
    /// One stream, from what the `.part` holds.
    OneStream { resumed_from: u64 },
}

impl Downloader {
    /// Downloads `target`. `refresh` is asked for a fresh URL when the host rejects the one
    /// we have (expired signature); it must not spend quota (the list endpoint does not).
    pub async fn fetch<F, Fut>(
        &self,
        target: &DownloadTarget,
        mut refresh: F,
        on_progress: &mut (dyn FnMut(Progress) + Send),
        cancel: &CancellationToken,
        full_verify: bool,
    ) -> Result<Downloaded, DownloadError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<String>>,
    {
        let dir = folder::destination(target)?;
        if let Some(there) =
            folder::already_there(&dir.join(&target.file_name), target, full_verify).await?
        {
            return Ok(there);
        }
        let part = dir.join(format!("{}.part", target.file_name));
        let mut url = target.url.clone();
        let mut tries = Tries::new(&mut url, &mut refresh);
        let route = self
            .parallel_if_worth_it(target, &mut tries, &part, on_progress, cancel)
            .await?;
        let arrived = match route {
            Route::Parallel {
                check_all,
                resumed_from,
            } => Arrived {
                part,
                total: target.expected_size,
                check_whole: full_verify || check_all,
                after_restart: check_all,
                resumed_from,
            },
            Route::OneStream { resumed_from } => {
                // The single stream counts its own failures and refreshes.
                let mut tries = Tries::new(&mut url, &mut refresh);
                let streamed = Stream::new(self, target, &part, cancel, resumed_from)
                    .run(&mut tries, on_progress)
                    .await?;
                // A `.part` left by an earlier run: after a crash or a power cut its length
                // may have reached the disk before all of its bytes did (a file system that
                // journals metadata only), so the archive it completes is checked whole. So
                // is one this run spliced (see `Streamed::spliced`).
                Arrived {
                    part,
                    total: streamed.total,
                    check_whole: full_verify || resumed_from > 0 || streamed.spliced,
                    after_restart: false,
                    resumed_from,
                }
            }
        };
        finish(arrived, target, &dir).await
    }

    /// Large snapshots go over several ranged connections when the host allows it; otherwise,
    /// or when it does not, the single stream's starting point.
    async fn parallel_if_worth_it<F, Fut>(
        &self,
        target: &DownloadTarget,
        tries: &mut Tries<'_, F>,
        part: &Path,
        on_progress: &mut (dyn FnMut(Progress) + Send),
        cancel: &CancellationToken,
    ) -> Result<Route, DownloadError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<String>>,
    {
        let side = sidecar_path(part);
        let Some(size) = target.expected_size.filter(|&size| {
            self.connections > 1
                && (size >= self.split_min || std::fs::symlink_metadata(&side).is_ok())
        }) else {
            return Ok(Route::OneStream {
                resumed_from: one_stream_from(part)?,
            });
        };
        let resumed_from = read_sidecar(&side)?
            .map(|s| s.done_bytes())
            .unwrap_or_else(|| file_len(part));
        let name = &target.file_name;
        match self
            .fetch_segmented(tries, part, name, size, on_progress, cancel)
            .await?
        {
            Outcome::Done { check_all } => Ok(Route::Parallel {
                check_all,
                resumed_from,
            }),
            Outcome::NoRanges => Ok(Route::OneStream {
                resumed_from: one_stream_from(part)?,
            }),
        }
    }
}

/// Where a single stream starts in `part`: from zero when a parallel download left it (its
/// preallocated file says nothing of progress; it goes, with its sidecar), else from its end.
fn one_stream_from(part: &Path) -> Result<u64, DownloadError> {
    let side = sidecar_path(part);
    if std::fs::symlink_metadata(&side).is_ok() {
        truncate(part)?;
        remove_sidecar(&side);
    }
    Ok(file_len(part))
}
