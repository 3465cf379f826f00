//! The quota room: the ledger every process on this data dir writes (creates sent, their
//! answers, in-flight records, a `RATE_LIMITED` block), the quota it adds up to, and
//! reconciling it with what the server lists.

use super::account::Account;
use super::types::{EngineConfig, EngineError, state_error};
use crate::ledger::{LEDGER, Ledger, QuotaStatus};
use crate::pacer::{Limits, chrono_d};
use crate::statedir::StateDir;
use chrono::{DateTime, Utc};
use std::path::PathBuf;
use std::sync::Arc;

/// The ledger on disk, and the windows it is read with.
pub(super) struct Quota {
    state: Arc<StateDir>,
    data_dir: PathBuf,
    /// The API the engine talks to: a block is recorded for it.
    api_url: String,
    limits: Limits,
}

impl Quota {
    pub(super) fn new(state: Arc<StateDir>, cfg: &EngineConfig) -> Self {
        Self {
            state,
            data_dir: cfg.data_dir.clone(),
            api_url: cfg.api_url.clone(),
            limits: cfg.limits.clone(),
        }
    }

    /// Refuses to start while a `RATE_LIMITED` block recorded by any process is in force.
    pub(super) fn check_block(state: &StateDir, cfg: &EngineConfig) -> Result<(), EngineError> {
        let ledger: Ledger = state
            .read(LEDGER)
            .map_err(|e| state_error(&cfg.data_dir, e))?;
        match ledger.blocked_until.get(&cfg.api_url) {
            Some(until) if *until > Utc::now() => Err(EngineError::RateLimited { until: *until }),
            _ => Ok(()),
        }
    }

    /// Records a block met while connecting, for every process; returns the error to give.
    pub(super) fn record_block_at_start(state: &StateDir, cfg: &EngineConfig) -> EngineError {
        let until = Utc::now() + chrono_d(cfg.limits.rate_block);
        let url = cfg.api_url.clone();
        let _ = state.update(LEDGER, |l: &mut Ledger| {
            l.blocked_until.insert(url, until);
        });
        EngineError::RateLimited { until }
    }

    /// The ledger as the other processes left it.
    pub(super) fn ledger(&self) -> Ledger {
        self.state.read(LEDGER).unwrap_or_default()
    }

    /// Reloads the ledger under the lock, changes it and writes it.
    pub(super) fn update_ledger<R>(
        &self,
        f: impl FnOnce(&mut Ledger) -> R,
    ) -> Result<R, EngineError> {
        self.state
            .update(LEDGER, f)
            .map_err(|e| state_error(&self.data_dir.join(LEDGER), e))
    }

    /// `update_ledger` on a blocking thread, for the create loop and the work around it. A
    /// write ends with an fsync, and on a runtime thread it would hold back what else runs
    /// there: the connection task writing a create that just left, which would then reach
    /// the server later than recorded, and the next create, paced from that record, too
    /// close to it.
    pub(super) async fn update_ledger_off<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Ledger) -> R + Send + 'static,
    ) -> Result<R, EngineError> {
        let state = self.state.clone();
        let path = self.data_dir.join(LEDGER);
        match tokio::task::spawn_blocking(move || state.update(LEDGER, f)).await {
            Ok(r) => r.map_err(|e| state_error(&path, e)),
            Err(e) => Err(state_error(&path, std::io::Error::other(e))),
        }
    }

    /// `ledger` on a blocking thread: the read waits for the state lock, which another
    /// process may hold while it writes.
    pub(super) async fn ledger_off(&self) -> Ledger {
        let state = self.state.clone();
        tokio::task::spawn_blocking(move || state.read(LEDGER).unwrap_or_default())
            .await
            .unwrap_or_default()
    }

    pub(super) fn status(&self, account: &Account) -> QuotaStatus {
        self.status_in(account, self.ledger())
    }

    /// `status` with the ledger read on a blocking thread (see `ledger_off`).
    pub(super) async fn status_off(&self, account: &Account) -> QuotaStatus {
        self.status_in(account, self.ledger_off().await)
    }

    fn status_in(&self, account: &Account, mut ledger: Ledger) -> QuotaStatus {
        ledger.status(
            &account.id(),
            account.daily_quota(),
            Utc::now(),
            chrono_d(self.limits.quota_window),
        )
    }

    /// Reads every resource's list (no quota spent) and counts manual snapshots made
    /// elsewhere, so `used` becomes known rather than estimated.
    pub(super) async fn reconcile(&self, account: &Account) -> Result<QuotaStatus, EngineError> {
        let mut items = Vec::new();
        let mut complete = true;
        for r in account.resources() {
            let list = account.list_learning(&r).await?;
            if list.iter().any(|i| i.origin.is_none()) {
                complete = false; // an older API without `origin`: cannot tell
            }
            items.extend(
                list.into_iter()
                    .map(|i| (r.id.clone(), i.modified, i.origin)),
            );
        }
        let acct = account.id();
        let window = chrono_d(self.limits.quota_window);
        self.update_ledger(|l| l.reconcile(&acct, &items, Utc::now(), window, complete))?;
        Ok(self.status(account))
    }

    /// Records a `RATE_LIMITED` block for every process (a cron run during it must not call).
    pub(super) async fn persist_block(&self) -> DateTime<Utc> {
        let until = Utc::now() + chrono_d(self.limits.rate_block);
        let api = self.api_url.clone();
        let _ = self
            .update_ledger_off(move |x| {
                let t = x.blocked_until.entry(api).or_insert(until);
                *t = (*t).max(until);
            })
            .await;
        until
    }

    /// Until when the recorded block of this engine's API holds (now when none is).
    pub(super) async fn blocked_until(&self) -> DateTime<Utc> {
        self.ledger_off()
            .await
            .blocked_until
            .get(&self.api_url)
            .copied()
            .unwrap_or_else(Utc::now)
    }

    /// The API this engine's blocks are recorded for.
    pub(super) fn api_url(&self) -> &str {
        &self.api_url
    }
}
