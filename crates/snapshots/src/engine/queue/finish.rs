//! The download side of the queue: finds the snapshot a create made (by its answer's URL,
//! by watching the list, or by waiting for the other process that serves the resource) and
//! downloads that one, never merely the newest listed.

use super::{Fetch, Queue};
use crate::download::{DownloadTarget, Downloaded};
use crate::engine::account::new_version;
use crate::engine::library::Listed;
use crate::engine::types::{
    EngineError, Event, EventSink, JobOutcome, JobResult, ResourceRef, SnapshotOptions,
};
use crate::names::snapshot_file_name;
use crate::pacer::{chrono_d, sleep_until};
use chrono::{DateTime, Utc};
use squarecloud::SnapshotItem;
use std::collections::HashSet;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What the download side found of one job: the resource, the snapshot its create made (or
/// why not), and whether it joined another process's create.
type Found = (ResourceRef, Result<SnapshotItem, EngineError>, bool);

impl Queue<'_> {
    /// The download side of one job. This engine's in-flight record of the resource lives
    /// until here: a process killed before its download ends leaves it, and the next one
    /// adopts that snapshot instead of taking another.
    pub(super) async fn finish(
        &self,
        f: Fetch,
        opts: &SnapshotOptions,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> JobResult {
        let id = match &f {
            Fetch::Url { r, .. } | Fetch::Watch { r, .. } | Fetch::Elsewhere { r, .. } => {
                r.id.clone()
            }
        };
        let res = self.finish_inner(f, opts, events, cancel).await;
        self.release(&id).await;
        res
    }

    /// What `finish` does between taking the job and releasing its record.
    async fn finish_inner(
        &self,
        f: Fetch,
        opts: &SnapshotOptions,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> JobResult {
        let (r, found, joined) = match f {
            Fetch::Url {
                r,
                url,
                taken_at,
                before,
                since,
            } => {
                // One look at the list: when it already shows the new version, the file is
                // named by the snapshot's own time and checked against its listed size, as
                // any other process that joined will name it.
                if let Ok(list) = self.account.versions(&r).await
                    && let Some(item) = new_version(&list, before.as_ref(), since)
                {
                    (r, Ok(item), false)
                } else {
                    let fresh = Fresh {
                        url,
                        taken_at,
                        before,
                        since,
                    };
                    return self.download_fresh(r, fresh, opts, &events, cancel).await;
                }
            }
            Fetch::Watch {
                r,
                before,
                since,
                answer_lost,
            } => {
                let found = self.watch(&r, before, since, answer_lost, cancel).await;
                (r, found, false)
            }
            Fetch::Elsewhere { r, owner, since } => {
                let found = self.await_other_process(&r, &owner, since, cancel).await;
                (r, found, true)
            }
        };
        self.download_found((r, found, joined), opts, events, cancel)
            .await
    }

    /// Watches the list for the snapshot a slow create (or one whose answer was lost) made.
    /// A watch of its own, so the user can stop waiting for this one alone.
    async fn watch(
        &self,
        r: &ResourceRef,
        before: Option<HashSet<String>>,
        since: DateTime<Utc>,
        answer_lost: bool,
        cancel: &CancellationToken,
    ) -> Result<SnapshotItem, EngineError> {
        let watch = cancel.child_token();
        self.line.watch(&r.id, watch.clone());
        let found = self
            .account
            .await_new_version(r, before.as_ref(), since, &watch)
            .await;
        self.line.unwatch(&r.id);
        match found {
            Ok(Some(item)) => Ok(item),
            Ok(None) if answer_lost => Err(EngineError::AnswerLost),
            Ok(None) => Err(EngineError::ProcessingTimeout),
            Err(EngineError::Cancelled) if !cancel.is_cancelled() => {
                Err(EngineError::StoppedWaiting)
            }
            Err(e) => Err(e),
        }
    }

    /// Downloads the listed snapshot a job found, when asked to.
    async fn download_found(
        &self,
        (r, found, joined): Found,
        opts: &SnapshotOptions,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> JobResult {
        let item = match found {
            Ok(item) => item,
            Err(e) => {
                return JobResult {
                    resource: r,
                    outcome: Err(e),
                };
            }
        };
        events(Event::Created {
            resource: r.id.clone(),
            taken_at: item.modified,
        });
        let outcome = if !opts.download {
            Ok(None)
        } else if !self.line.wait_while_paused(&events, cancel).await {
            Err(EngineError::Cancelled)
        } else {
            match self.shelf.checked_dest(&r, opts.dest.as_deref()) {
                Ok(dir) => self
                    .shelf
                    .fetch_item(self.account, &r, &dir, &item, events.clone(), cancel)
                    .await
                    .map(Some),
                Err(e) => Err(e),
            }
        };
        JobResult {
            resource: r,
            outcome: outcome.map(|download| JobOutcome {
                taken_at: item.modified,
                download,
                joined,
            }),
        }
    }

    /// The job of a create that answered with a URL the list does not show yet: its
    /// outcome, downloading it when asked to.
    async fn download_fresh(
        &self,
        r: ResourceRef,
        fresh: Fresh,
        opts: &SnapshotOptions,
        events: &EventSink,
        cancel: &CancellationToken,
    ) -> JobResult {
        let taken_at = fresh.taken_at;
        let outcome = if opts.download {
            self.download_created(&r, fresh, opts, events, cancel)
                .await
                .map(Some)
        } else {
            Ok(None)
        };
        JobResult {
            resource: r,
            outcome: outcome.map(|download| JobOutcome {
                taken_at,
                download,
                joined: false,
            }),
        }
    }

    /// Downloads what a create answered with. If the host refuses its URL, a fresh one comes
    /// from the list for *this* snapshot only (waiting for the list to show it); never the
    /// newest listed one, which may be an older snapshot.
    async fn download_created(
        &self,
        r: &ResourceRef,
        fresh: Fresh,
        opts: &SnapshotOptions,
        events: &EventSink,
        cancel: &CancellationToken,
    ) -> Result<Downloaded, EngineError> {
        if !self.line.wait_while_paused(events, cancel).await {
            return Err(EngineError::Cancelled);
        }
        let dir = self.shelf.checked_dest(r, opts.dest.as_deref())?;
        let Fresh {
            url,
            taken_at,
            before,
            since,
        } = fresh;
        let refresh = || {
            let before = before.clone();
            async move {
                let item = self
                    .account
                    .await_new_version(r, before.as_ref(), since, cancel)
                    .await
                    .ok()
                    .flatten()?;
                Some(self.account.download_url(r, &item))
            }
        };
        let target = DownloadTarget {
            url,
            dir,
            file_name: snapshot_file_name(&r.name, &r.id, taken_at),
            expected_size: None,
            max_size: Some(self.shelf.fresh_size_cap(self.account, &r.id)),
        };
        let listed = Listed {
            version: None,
            taken_at,
        };
        self.shelf
            .fetch(r, target, listed, refresh, events.clone(), cancel)
            .await
    }

    /// Waits for another process's create of `r` to end, then finds what it made.
    async fn await_other_process(
        &self,
        r: &ResourceRef,
        owner: &str,
        since: DateTime<Utc>,
        cancel: &CancellationToken,
    ) -> Result<SnapshotItem, EngineError> {
        let l = &self.line.limits;
        let deadline = Utc::now() + chrono_d(l.create_timeout + l.poll_total);
        let step = l.poll_initial.max(Duration::from_millis(50));
        loop {
            let still = self
                .quota
                .ledger_off()
                .await
                .in_flight
                .get(&r.id)
                .is_some_and(|f| f.owner == owner && f.since == since);
            if !still {
                break;
            }
            if Utc::now() > deadline {
                return Err(EngineError::Busy { since });
            }
            if !sleep_until(Utc::now() + chrono_d(step), cancel).await {
                return Err(EngineError::Cancelled);
            }
        }
        self.account
            .await_new_version(r, None, since, cancel)
            .await?
            .ok_or(EngineError::ProcessingTimeout)
    }
}

/// What a create that answered with a URL gave: the URL, when it was answered, and what
/// finds the same snapshot in the list (the versions before it, when it was sent).
struct Fresh {
    url: String,
    taken_at: DateTime<Utc>,
    before: Option<HashSet<String>>,
    since: DateTime<Utc>,
}
