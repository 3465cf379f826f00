//! Putting a resource back to one of its server snapshots. By default a snapshot of the
//! current state is taken first (through the same queue, so it spends one quota slot and
//! respects every window), and the restore goes only once that snapshot exists. The server
//! holds the call about a minute; one restore per resource per minute. The snapshot taken
//! first is shared with putting back a copy (`engine/putback.rs`).

use crate::engine::{Engine, EngineError, EventSink, JobOutcome, ResourceRef, SnapshotOptions};
use crate::pacer::{chrono_d, sleep_until};
use chrono::{DateTime, Utc};
use squarecloud::{ErrorCode, SnapshotItem};
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

/// What `restore` should do.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Take a snapshot of the current state first (spends one quota slot).
    pub snapshot_first: bool,
    /// Download that snapshot too, to this folder (or the resource's, when set).
    pub download_first_to: Option<PathBuf>,
}

/// How a restore went.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The version the resource was put back to, and when it was taken.
    pub version: String,
    pub version_taken_at: DateTime<Utc>,
    /// The snapshot taken just before, when asked for.
    pub safety: Option<JobOutcome>,
}

impl Engine {
    /// A snapshot of `r`'s current state through the queue (one quota slot, every window
    /// kept), downloaded to `download_to` or the resource's folder when one is set: what a
    /// restore and a put back take first, so that they can be undone. Its failure stops
    /// them: nothing is replaced without the safety copy that was asked for.
    pub(crate) async fn snapshot_first(
        &self,
        r: &ResourceRef,
        download_to: Option<PathBuf>,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> Result<JobOutcome, EngineError> {
        let download = download_to.is_some() || self.dest_for(r, None).is_ok();
        let snap = SnapshotOptions {
            download,
            dest: download_to,
            wait_for_quota: false,
        };
        let mut res = self.snapshot(vec![r.clone()], snap, events, cancel).await;
        res.remove(0).outcome
    }

    /// Restores `r` to the server snapshot `version`.
    pub async fn restore(
        &self,
        r: &ResourceRef,
        version: &str,
        opts: RestoreOptions,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> Result<Restored, EngineError> {
        r.check_may_snapshot()?;
        let item: SnapshotItem = self
            .versions(r)
            .await?
            .into_iter()
            .find(|i| i.version().as_deref() == Some(version))
            .ok_or_else(|| EngineError::NoSnapshot(format!("{} at version {version}", r.name)))?;
        let safety = if opts.snapshot_first {
            Some(
                self.snapshot_first(r, opts.download_first_to.clone(), events, cancel)
                    .await?,
            )
        } else {
            None
        };
        // One restore per resource per minute, on every process's clock.
        let gap = chrono_d(self.limits().restore_gap);
        let id = r.id.clone();
        let last = self.ledger().restores.get(&id).copied();
        if let Some(t) = last
            && !sleep_until(t + gap, cancel).await
        {
            return Err(EngineError::Cancelled);
        }
        let now = Utc::now();
        self.update_ledger(|l| {
            l.restores.insert(id.clone(), now);
        })?;
        match self
            .client()
            .restore_snapshot(r.kind, &r.id, &item.name, version)
            .await
        {
            Ok(()) => Ok(Restored {
                version: version.to_string(),
                version_taken_at: item.modified,
                safety,
            }),
            Err(e) if e.answer_may_be_lost() => Err(EngineError::RestoreUnknown),
            Err(e) => match e.code() {
                Some(ErrorCode::RestoreInProgress) => Err(EngineError::RestoreInProgress),
                _ => Err(EngineError::from_api(e)),
            },
        }
    }
}
