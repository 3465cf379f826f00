//! What a plan run does to each resource: keeps the reserve of snapshots for the user's
//! own clicks, adopts what a killed run had sent, mirrors the versions not on disk yet, and
//! applies the plan's retention.

use super::Runner;
use crate::download::Downloaded;
use crate::engine::library::{Library, PruneReport};
use crate::engine::plans::model::Plan;
use crate::engine::types::{EngineError, Event, EventSink, ResourceRef};
use crate::names::printable;
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;

impl Runner<'_> {
    /// Splits a snapshot plan's targets into those the quota left today can take while
    /// keeping the reserve for snapshots by hand, and those that wait for a later run, with
    /// why in words. The resources whose newest copy here is oldest go first, so the same
    /// ones do not wait every time.
    pub(super) fn within_reserve(
        &self,
        mut targets: Vec<ResourceRef>,
    ) -> (Vec<ResourceRef>, Vec<ResourceRef>, Option<String>) {
        let reserve = self.store.plans().reserve;
        let q = self.quota.status(self.account);
        let room = q.remaining.saturating_sub(reserve) as usize;
        if targets.len() <= room {
            return (targets, Vec::new(), None);
        }
        let library = self.shelf.library();
        targets.sort_by_key(|r| library.for_resource(&r.id).first().map(|e| e.taken_at));
        let wait = targets.split_off(room);
        let names: Vec<String> = wait.iter().take(5).map(|r| printable(&r.name)).collect();
        let more = if wait.len() > names.len() {
            format!(" and {} more", wait.len() - names.len())
        } else {
            String::new()
        };
        let why = format!(
            "{} of {} resources ({}{more}) were not snapshotted, to keep the reserve: {} of the {} snapshots a day {} left and {reserve} {} kept for snapshots you take by hand. Their earlier backups are untouched; they are taken in the plan's next run that fits. To take them sooner, lower the reserve or take fewer resources in the plan.",
            wait.len(),
            wait.len() + targets.len(),
            names.join(", "),
            q.remaining,
            q.total,
            if q.remaining == 1 { "is" } else { "are" },
            if reserve == 1 { "is" } else { "are" },
        );
        (targets, wait, Some(why))
    }

    /// If this machine sent a create for `r` since `began` (the ledger says so), finds and
    /// downloads that snapshot; `None` when nothing was sent.
    pub(super) async fn adopt_sent_since(
        &self,
        r: &ResourceRef,
        began: DateTime<Utc>,
        dest: Option<&Path>,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> Option<Result<Downloaded, EngineError>> {
        let acct = self.account.id();
        let sent = self
            .quota
            .ledger()
            .accounts
            .get(&acct)?
            .entries
            .iter()
            .filter(|e| e.source == "app" && e.resource == r.id && e.at >= began)
            .map(|e| e.at)
            .min()?;
        Some(
            async {
                let dir = self.shelf.checked_dest(r, dest)?;
                let item = self
                    .account
                    .await_new_version(r, None, sent, cancel)
                    .await?
                    .ok_or(EngineError::AnswerLost)?;
                self.shelf
                    .fetch_item(self.account, r, &dir, &item, events, cancel)
                    .await
            }
            .await,
        )
    }

    /// Downloads every listed version of `r` that the library neither has nor deleted on
    /// purpose (a prune's tombstone: retention and the mirror agree); on a metered
    /// connection, those above the setting's size wait for the next run.
    pub(super) async fn mirror_one(
        &self,
        r: &ResourceRef,
        dest: Option<&Path>,
        events: EventSink,
        cancel: &CancellationToken,
    ) -> Result<(u32, u64, Vec<String>), EngineError> {
        let limit = self
            .shelf
            .settings()
            .metered_limit_mb
            .map(|mb| mb * 1024 * 1024)
            .filter(|_| self.shelf.is_metered());
        let mut later = Vec::new();
        let dir = self.shelf.checked_dest(r, dest)?;
        let list = self.account.versions(r).await?;
        let listed: HashSet<String> = list.iter().filter_map(|i| i.version()).collect();
        // Tombstones of versions the server no longer lists can go: it will not offer them.
        let have = self.shelf.update_library(|lib: &mut Library| {
            lib.forget_pruned_except(&r.id, &listed);
            lib.known_versions(&r.id)
        })?;
        let mut got = (0, 0, Vec::new());
        for item in list {
            let Some(v) = item.version() else { continue };
            if have.contains(&v) {
                continue;
            }
            if let Some(limit) = limit
                && item.size > limit
            {
                let reason = format!(
                    "{} ({} MB) waits for a connection that is not metered",
                    printable(&r.name),
                    item.size / (1024 * 1024)
                );
                events(Event::Postponed {
                    resource: r.id.clone(),
                    reason: reason.clone(),
                    bytes: item.size,
                });
                later.push(reason);
                continue;
            }
            let d = self
                .shelf
                .fetch_item(self.account, r, &dir, &item, events.clone(), cancel)
                .await?;
            if !d.already_present {
                got.0 += 1;
                got.1 += d.size;
            }
        }
        got.2 = later;
        Ok(got)
    }

    /// The ids of the resources the plan covers now.
    pub(in crate::engine) fn plan_resources(&self, plan: &Plan) -> Vec<String> {
        self.plan_targets(plan, &[])
            .into_iter()
            .map(|r| r.id)
            .collect()
    }

    /// The files the plan's next prune would delete, with their sizes.
    pub(in crate::engine) fn retention_preview(&self, plan: &Plan) -> Vec<(PathBuf, u64)> {
        let ids = self.plan_resources(plan);
        self.shelf.library().drops_by(&ids, &plan.retention)
    }

    /// Applies a plan's retention to its resources' files (never the newest verified copy).
    pub(super) fn apply_retention(&self, plan: &Plan) -> Result<PruneReport, EngineError> {
        let ids = self.plan_resources(plan);
        let retention = plan.retention.clone();
        self.shelf
            .prune_with(|lib: &mut Library| lib.prune_by(&ids, &retention))
    }
}
