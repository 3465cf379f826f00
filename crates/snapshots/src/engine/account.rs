//! The account room: who the key belongs to, its applications and databases, and what their
//! snapshot lists have shown (the newest snapshot of each, the largest). Every listing goes
//! through here, so what it teaches is learnt in one place.

use super::types::{EngineError, ResourceRef, WorkspaceRef};
use crate::pacer::{Latency, Limits, chrono_d, sleep_until};
use chrono::{DateTime, Utc};
use squarecloud::{ApiError, Client, ErrorCode, Me, ResourceKind, SnapshotItem, Workspace};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// When a resource's newest server snapshot was learnt, and when it was taken (`None`: none).
type Learnt = (Instant, Option<DateTime<Utc>>);

/// How long what [`crate::Engine::newest_known`] holds is kept before a refresh asks again.
/// The service caches its listings for 30 minutes; a create or a listing of one resource by
/// this engine updates its entry at once.
pub const NEWEST_MAX_AGE: Duration = Duration::from_secs(5 * 60);
/// One-resource listings a refresh runs at once when the account-wide one is not offered.
const NEWEST_PARALLEL: usize = 4;
/// How far the server's clock may be behind ours when it stamps a new snapshot.
const CLOCK_SKEW: Duration = Duration::from_secs(120);

/// The account, as the key sees it, and what its lists taught.
pub(super) struct Account {
    client: Client,
    me: RwLock<Me>,
    /// The applications other accounts share with this one through workspaces, as the last
    /// refresh read them.
    shared: RwLock<Vec<ResourceRef>>,
    /// Why the last refresh could not read the workspaces (`None`: it could).
    workspaces_error: RwLock<Option<String>>,
    /// How often a watch looks at a list, and for how long.
    limits: Limits,
    /// Round trips of list calls: the margin the queue leaves before each create.
    latency: Latency,
    /// When each resource's newest snapshot on the server was taken (`None`: it has none),
    /// and when that was learnt.
    newest: Mutex<HashMap<String, Learnt>>,
    /// The account-wide listing answered 402 (a free plan): not asked again.
    no_account_listing: AtomicBool,
    /// The largest snapshot of each resource its lists have shown, in bytes.
    largest: Mutex<HashMap<String, u64>>,
}

impl Account {
    pub(super) fn new(client: Client, me: Me, limits: Limits) -> Self {
        Self {
            client,
            me: RwLock::new(me),
            shared: RwLock::new(Vec::new()),
            workspaces_error: RwLock::new(None),
            limits,
            latency: Latency::default(),
            newest: Mutex::new(HashMap::new()),
            no_account_listing: AtomicBool::new(false),
            largest: Mutex::new(HashMap::new()),
        }
    }

    pub(super) fn client(&self) -> &Client {
        &self.client
    }

    pub(super) fn latency(&self) -> &Latency {
        &self.latency
    }

    pub(super) fn me(&self) -> Me {
        self.me.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(super) fn id(&self) -> String {
        self.me
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .user
            .id
            .clone()
    }

    pub(super) fn daily_quota(&self) -> u32 {
        let me = self.me.read().unwrap_or_else(|e| e.into_inner());
        me.user.plan.daily_snapshot_quota()
    }

    pub(super) async fn refresh(&self) -> Result<Me, EngineError> {
        let me = self.client.me().await.map_err(EngineError::from_api)?;
        *self.me.write().unwrap_or_else(|e| e.into_inner()) = me.clone();
        self.refresh_shared(&me).await;
        Ok(me)
    }

    /// Reads the workspaces' applications. A failure keeps the account's own list (and
    /// the shared ones last read): it is said once, until a read succeeds again.
    pub(super) async fn refresh_shared(&self, me: &Me) {
        let read = self.client.workspaces().await;
        let mut error = self
            .workspaces_error
            .write()
            .unwrap_or_else(|e| e.into_inner());
        match read {
            Ok(list) => {
                *self.shared.write().unwrap_or_else(|e| e.into_inner()) = shared_apps(me, &list);
                *error = None;
            }
            Err(e) if e.is_account_block() => {}
            Err(e) => {
                let why = format!(
                    "The workspaces shared with this account could not be read ({e}); their applications are left out of the list until the next refresh. The account's own applications and databases are listed as usual."
                );
                if error.is_none() {
                    eprintln!("{why}");
                }
                *error = Some(why);
            }
        }
    }

    /// Why the last refresh could not read the workspaces (`None`: it could).
    pub(super) fn workspaces_error(&self) -> Option<String> {
        self.workspaces_error
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Every application and database of the account.
    pub(super) fn resources(&self) -> Vec<ResourceRef> {
        let me = self.me();
        let shared = self
            .shared
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        me.applications
            .iter()
            .map(|a| ResourceRef::own(ResourceKind::App, &a.id, &a.name))
            .chain(
                me.databases
                    .iter()
                    .map(|d| ResourceRef::own(ResourceKind::Database, &d.id, &d.name)),
            )
            .chain(
                shared
                    .into_iter()
                    .filter(|s| !me.applications.iter().any(|a| a.id == s.id)),
            )
            .collect()
    }

    pub(super) fn resource(&self, id: &str) -> Result<ResourceRef, EngineError> {
        self.resources()
            .into_iter()
            .find(|r| r.id == id)
            .ok_or_else(|| EngineError::NotFound(id.to_string()))
    }

    /// A resource's server snapshots, newest first. Costs no quota.
    pub(super) async fn versions(&self, r: &ResourceRef) -> Result<Vec<SnapshotItem>, EngineError> {
        let started = Instant::now();
        let mut list = self
            .client
            .list_snapshots(r.kind, &r.id)
            .await
            .map_err(EngineError::from_api)?;
        self.latency.observe(started.elapsed());
        list.sort_by_key(|i| std::cmp::Reverse(i.modified));
        self.learn_newest(&r.id, list.first().map(|i| i.modified));
        self.learn_largest(&r.id, list.iter().map(|i| i.size).max());
        Ok(list)
    }

    /// A list as the server gives it (no sort, no latency sample), learning from it: what
    /// reconciling the quota reads.
    pub(super) async fn list_learning(
        &self,
        r: &ResourceRef,
    ) -> Result<Vec<SnapshotItem>, EngineError> {
        let list = self
            .client
            .list_snapshots(r.kind, &r.id)
            .await
            .map_err(EngineError::from_api)?;
        self.learn_newest(&r.id, list.iter().map(|i| i.modified).max());
        self.learn_largest(&r.id, list.iter().map(|i| i.size).max());
        Ok(list)
    }

    fn learn_largest(&self, id: &str, size: Option<u64>) {
        if let Some(size) = size {
            let mut m = self.largest.lock().unwrap_or_else(|e| e.into_inner());
            let e = m.entry(id.to_string()).or_default();
            *e = (*e).max(size);
        }
    }

    /// The largest snapshot of `id` its lists have shown (0: none seen).
    pub(super) fn largest_listed(&self, id: &str) -> u64 {
        self.largest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .copied()
            .unwrap_or(0)
    }

    fn learn_newest(&self, id: &str, newest: Option<DateTime<Utc>>) {
        self.newest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), (Instant::now(), newest));
    }

    /// When each resource's newest snapshot on the server was taken, for the resources
    /// learnt of (`None`: the server has none). No request is sent.
    pub(super) fn newest_known(&self) -> HashMap<String, Option<DateTime<Utc>>> {
        self.newest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(id, (_, t))| (id.clone(), *t))
            .collect()
    }

    /// Learns the newest server snapshot of every resource not learnt in the last
    /// `max_age`. Two account-wide listings (applications, databases) when the plan offers
    /// them; otherwise one listing per resource, a few at a time, so 1,000 resources take
    /// their share of the per-minute budget without holding up anything else for long.
    /// Returns whether anything changed. Costs no quota.
    pub(super) async fn refresh_newest(&self, max_age: Duration) -> Result<bool, EngineError> {
        let before = self.newest_known();
        let stale: Vec<ResourceRef> = {
            let known = self.newest.lock().unwrap_or_else(|e| e.into_inner());
            self.resources()
                .into_iter()
                .filter(|r| {
                    known
                        .get(&r.id)
                        .is_none_or(|(at, _)| at.elapsed() >= max_age)
                })
                .collect()
        };
        if stale.is_empty() {
            return Ok(false);
        }
        let mut left = stale;
        if !self.no_account_listing.load(Ordering::Relaxed) {
            match self.newest_account_wide(&left).await {
                Ok(()) => left.clear(),
                // A free plan (402): remembered. It, or the route's own limit: one listing
                // per resource.
                Err(e)
                    if matches!(e.code(), Some(ErrorCode::UpgradeRequired))
                        || e.status() == Some(402) =>
                {
                    self.no_account_listing.store(true, Ordering::Relaxed);
                }
                Err(e) if e.is_transient() || e.status() == Some(429) => {}
                Err(e) => return Err(EngineError::from_api(e)),
            }
        }
        for some in left.chunks(NEWEST_PARALLEL) {
            for r in futures_util::future::join_all(some.iter().map(|r| self.versions(r))).await {
                r?;
            }
        }
        Ok(self.newest_known() != before)
    }

    /// Both account-wide listings, grouped by resource: an item belongs to the resource
    /// whose id its `name` is, or starts with followed by `_` (`<id>_<origin>`).
    async fn newest_account_wide(&self, wanted: &[ResourceRef]) -> Result<(), ApiError> {
        let mut items = Vec::new();
        for kind in [ResourceKind::App, ResourceKind::Database] {
            if wanted.iter().any(|r| r.kind == kind) {
                items.extend(self.client.user_snapshots(kind).await?);
            }
        }
        for r in wanted {
            let newest = items
                .iter()
                .filter(|i| {
                    i.name
                        .strip_prefix(r.id.as_str())
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with('_'))
                })
                .map(|i| i.modified)
                .max();
            self.learn_newest(&r.id, newest);
        }
        Ok(())
    }

    /// Where the host serves `item` of `r` from.
    pub(super) fn download_url(&self, r: &ResourceRef, item: &SnapshotItem) -> String {
        item.download_url(self.client.files_base(), r.kind, &self.id())
    }

    /// Watches the list (never posting again) for the snapshot a create sent at `since`
    /// made: a version not in `before`, not an automatic one, made after `since`.
    pub(super) async fn await_new_version(
        &self,
        r: &ResourceRef,
        before: Option<&HashSet<String>>,
        since: DateTime<Utc>,
        cancel: &CancellationToken,
    ) -> Result<Option<SnapshotItem>, EngineError> {
        self.await_new_version_until(r, before, since, self.watch_deadline(), cancel)
            .await
    }

    /// When a watch of the list that starts now gives up.
    pub(super) fn watch_deadline(&self) -> DateTime<Utc> {
        Utc::now() + chrono_d(self.limits.poll_total)
    }

    /// [`Account::await_new_version`], giving up at `deadline`.
    pub(super) async fn await_new_version_until(
        &self,
        r: &ResourceRef,
        before: Option<&HashSet<String>>,
        since: DateTime<Utc>,
        deadline: DateTime<Utc>,
        cancel: &CancellationToken,
    ) -> Result<Option<SnapshotItem>, EngineError> {
        let l = &self.limits;
        let mut delay = l.poll_initial;
        loop {
            match self.versions(r).await {
                Ok(list) => {
                    if let Some(item) = new_version(&list, before, since) {
                        return Ok(Some(item));
                    }
                }
                Err(EngineError::Api(e)) if e.is_transient() => {}
                Err(e) => return Err(e),
            }
            if Utc::now() > deadline {
                return Ok(None);
            }
            // One more look at the deadline, not a sleep past it.
            if !sleep_until((Utc::now() + chrono_d(delay)).min(deadline), cancel).await {
                return Err(EngineError::Cancelled);
            }
            delay = (delay * 2).min(l.poll_max);
        }
    }
}

/// The applications the workspaces share with the account `me`, each once (through the
/// workspace where its role is strongest), leaving out the account's own.
fn shared_apps(me: &Me, list: &[Workspace]) -> Vec<ResourceRef> {
    let mut out: Vec<ResourceRef> = Vec::new();
    for w in list {
        let Some(role) = w.group_of(&me.user.id) else {
            continue;
        };
        for a in &w.applications {
            if me.applications.iter().any(|o| o.id == a.id) {
                continue;
            }
            let r = ResourceRef {
                kind: ResourceKind::App,
                id: a.id.clone(),
                name: a.name.clone(),
                workspace: Some(WorkspaceRef {
                    id: w.id.clone(),
                    name: w.name.clone(),
                    role,
                    may_snapshot: role.may_snapshot(),
                }),
            };
            match out.iter_mut().find(|o| o.id == r.id) {
                Some(o) if o.workspace.as_ref().is_some_and(|ow| ow.role < role) => *o = r,
                Some(_) => {}
                None => out.push(r),
            }
        }
    }
    out
}

/// The snapshot a create sent at `since` made, from a list: not one seen before, not made by
/// the daily automatic run, and not made before the create was sent. The earliest such one:
/// anything later is another create, not ours.
pub(super) fn new_version(
    list: &[SnapshotItem],
    before: Option<&HashSet<String>>,
    since: DateTime<Utc>,
) -> Option<SnapshotItem> {
    list.iter()
        .filter(|i| before.is_none_or(|b| !b.contains(&version_key(i))))
        .filter(|i| i.origin.as_deref() != Some("automatic"))
        .filter(|i| i.modified >= since - chrono_d(CLOCK_SKEW))
        .min_by_key(|i| i.modified)
        .cloned()
}

/// A listed snapshot's identity: its version, or its name and time when it has none.
pub(super) fn version_key(i: &SnapshotItem) -> String {
    i.version()
        .unwrap_or_else(|| format!("{}@{}", i.name, i.modified.timestamp_millis()))
}
