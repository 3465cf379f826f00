//! The daily quota, and what the engine learned about the server. The API never says how
//! many snapshots are left, so the engine keeps a ledger of the creates it sent (recorded
//! *before* sending, so a lost answer is still counted), adds the ones it sees in lists
//! (made elsewhere) and learns from 429s; it says which figures are known and which are
//! estimated. The same file holds the creates in flight on this machine, so that no two
//! processes ever post for one resource, and a `RATE_LIMITED` block, so that a cron run
//! during the block does not call again.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub resource: String,
    /// When the create was sent (or, for `list`, when the snapshot was made).
    pub at: DateTime<Utc>,
    /// `app` (we made it) or `list` (seen in a snapshot list: made elsewhere).
    pub source: String,
    /// When its answer arrived; `None` while in flight, or when the answer was lost.
    #[serde(default)]
    pub answered_at: Option<DateTime<Utc>>,
}

/// From when the server counts the create windows: learned, never assumed twice. The
/// engine starts with `Arrival` and moves to `Answer` on the evidence of one refusal.
pub use squarecloud::limits::WindowRule;

/// What the engine learned about an account's limits, with the evidence.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Learned {
    pub rule: WindowRule,
    pub rule_evidence: Option<String>,
    /// Per-resource create windows longer than the documented one, in milliseconds.
    #[serde(default)]
    pub resource_gaps_ms: BTreeMap<String, u64>,
}

/// Per account: the creates inside the rolling window, and what the server last told us.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountLedger {
    pub entries: Vec<LedgerEntry>,
    /// Set by a `DAILY_SNAPSHOTS_LIMIT_REACHED`: the server said none is left at this time.
    pub exhausted_at: Option<DateTime<Utc>>,
    /// When lists with `origin` were last read for every resource.
    pub reconciled_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub learned: Learned,
}

/// The ledger's file in the data dir.
pub(crate) const LEDGER: &str = "ledger.json";

/// A create that some engine on this machine is serving for a resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InFlight {
    pub account: String,
    /// Which engine (process id and a random token).
    pub owner: String,
    pub pid: u32,
    pub since: DateTime<Utc>,
    /// The engine's claim token ([`crate::claim`]): alive while its lock is held, which a
    /// reused pid cannot fake. Records of older versions have none (their pid is asked).
    #[serde(default)]
    pub holder: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    pub accounts: BTreeMap<String, AccountLedger>,
    /// By resource id.
    #[serde(default)]
    pub in_flight: BTreeMap<String, InFlight>,
    /// `RATE_LIMITED` blocks, by API base URL (known before the account is).
    #[serde(default)]
    pub blocked_until: BTreeMap<String, DateTime<Utc>>,
    /// When each resource was last restored (one restore per resource per minute).
    #[serde(default)]
    pub restores: BTreeMap<String, DateTime<Utc>>,
    /// When each application was last sent a commit (one per application per 3 s).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub commits: BTreeMap<String, DateTime<Utc>>,
}

/// What the UI and the CLI show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuotaStatus {
    pub total: u32,
    pub used: u32,
    pub remaining: u32,
    /// When the oldest counted snapshot leaves the window (None: nothing is counted).
    pub next_free_at: Option<DateTime<Utc>>,
    /// `used` includes only what this app saw: snapshots made elsewhere may be missing.
    pub used_is_estimate: bool,
    /// The server refused a create for the quota and we do not know when it frees.
    pub next_free_is_estimate: bool,
}

impl Ledger {
    pub fn account(&mut self, account: &str) -> &mut AccountLedger {
        self.accounts.entry(account.to_string()).or_default()
    }

    fn prune(&mut self, account: &str, now: DateTime<Utc>, window: Duration) {
        let a = self.account(account);
        a.entries.retain(|e| now - e.at < window);
        if a.exhausted_at.is_some_and(|t| now - t >= window) {
            a.exhausted_at = None;
        }
    }

    /// A create this app is sending now: counted until the server's own answer says it was
    /// refused ([`Ledger::forget`]).
    pub fn record(&mut self, account: &str, resource: &str, at: DateTime<Utc>) {
        self.account(account).entries.push(LedgerEntry {
            resource: resource.into(),
            at,
            source: "app".into(),
            answered_at: None,
        });
    }

    /// The create recorded at `at` actually left at `left` (later: after a wait for the
    /// per-minute budget, or the scheduler); the windows count from then.
    pub fn left_at(
        &mut self,
        account: &str,
        resource: &str,
        at: DateTime<Utc>,
        left: DateTime<Utc>,
    ) {
        if let Some(e) = self
            .account(account)
            .entries
            .iter_mut()
            .find(|e| e.source == "app" && e.resource == resource && e.at == at)
        {
            e.at = left;
        }
    }

    /// The create sent at `at` was answered (200 or 202).
    pub fn answered(
        &mut self,
        account: &str,
        resource: &str,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) {
        if let Some(e) = self
            .account(account)
            .entries
            .iter_mut()
            .find(|e| e.source == "app" && e.resource == resource && e.at == at)
        {
            e.answered_at = Some(now);
        }
    }

    /// The server refused the create sent at `at` in its own words: it spent nothing.
    pub fn forget(&mut self, account: &str, resource: &str, at: DateTime<Utc>) {
        self.account(account)
            .entries
            .retain(|e| !(e.source == "app" && e.resource == resource && e.at == at));
    }

    /// The last answer of the account's creates (for the answer rule), and whether one is
    /// still unanswered (sent less than `pending_for` ago).
    pub fn last_answer(
        &self,
        account: &str,
        resource: Option<&str>,
        now: DateTime<Utc>,
        pending_for: Duration,
    ) -> (Option<DateTime<Utc>>, bool) {
        let Some(a) = self.accounts.get(account) else {
            return (None, false);
        };
        let mine = a
            .entries
            .iter()
            .filter(|e| e.source == "app" && resource.is_none_or(|r| e.resource == r));
        let mut last = None;
        let mut pending = false;
        for e in mine {
            // A lost answer is taken as arriving when the client would have given up.
            let t = e.answered_at.unwrap_or(e.at + pending_for);
            if e.answered_at.is_none() && now < e.at + pending_for {
                pending = true;
            }
            last = last.max(Some(t));
        }
        (last, pending)
    }

    /// The server refused a create for the quota.
    pub fn mark_exhausted(&mut self, account: &str, at: DateTime<Utc>) {
        self.account(account).exhausted_at = Some(at);
    }

    /// Adds manual snapshots seen in a list that no ledger entry accounts for (made from the
    /// dashboard, another machine, a bot). `items`: (resource, modified, origin).
    pub fn reconcile(
        &mut self,
        account: &str,
        items: &[(String, DateTime<Utc>, Option<String>)],
        now: DateTime<Utc>,
        window: Duration,
        complete: bool,
    ) {
        let a = self.account(account);
        for (resource, modified, origin) in items {
            if origin.as_deref() != Some("manual") || now - *modified >= window {
                continue;
            }
            // A create we made finishes within minutes of when we sent it.
            let known = a.entries.iter().any(|e| {
                e.resource == *resource && (*modified - e.at).num_seconds().abs() < 15 * 60
            });
            if !known {
                a.entries.push(LedgerEntry {
                    resource: resource.clone(),
                    at: *modified,
                    source: "list".into(),
                    answered_at: Some(*modified),
                });
            }
        }
        if complete {
            a.reconciled_at = Some(now);
        }
    }

    /// The last create of a resource (for the per-resource window) and of the account.
    pub fn last_create(&self, account: &str, resource: Option<&str>) -> Option<DateTime<Utc>> {
        self.accounts.get(account).and_then(|a| {
            a.entries
                .iter()
                .filter(|e| e.source == "app" && resource.is_none_or(|r| e.resource == r))
                .map(|e| e.at)
                .max()
        })
    }

    pub fn status(
        &mut self,
        account: &str,
        total: u32,
        now: DateTime<Utc>,
        window: Duration,
    ) -> QuotaStatus {
        self.prune(account, now, window);
        let a = self.account(account);
        let counted = a.entries.len() as u32;
        let oldest = a.entries.iter().map(|e| e.at).min();
        let exhausted = a.exhausted_at.is_some();
        let used = if exhausted {
            total.max(counted)
        } else {
            counted.min(total)
        };
        let reconciled = a
            .reconciled_at
            .is_some_and(|t| now - t < Duration::minutes(30));
        QuotaStatus {
            total,
            used,
            remaining: total.saturating_sub(used),
            next_free_at: oldest
                .map(|t| t + window)
                .or(a.exhausted_at.map(|t| t + window)),
            used_is_estimate: !(exhausted || reconciled),
            next_free_is_estimate: exhausted && counted < total,
        }
    }

    /// When the next create fits in the quota (now if one is left).
    pub fn quota_ready_at(
        &mut self,
        account: &str,
        total: u32,
        now: DateTime<Utc>,
        window: Duration,
    ) -> Option<DateTime<Utc>> {
        let s = self.status(account, total, now, window);
        if s.remaining > 0 {
            Some(now)
        } else {
            s.next_free_at
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn the_window_slides_and_frees_the_oldest() {
        let w = Duration::hours(24);
        let mut l = Ledger::default();
        for i in 0..32 {
            l.record("a", &format!("r{i}"), t(i * 60));
        }
        let s = l.status("a", 32, t(3600), w);
        assert_eq!((s.used, s.remaining), (32, 0));
        assert_eq!(s.next_free_at, Some(t(0) + w));
        assert!(s.used_is_estimate);
        assert_eq!(l.quota_ready_at("a", 32, t(3600), w), Some(t(0) + w));
        let s = l.status("a", 32, t(0) + w, w);
        assert_eq!(s.remaining, 1);
    }

    #[test]
    fn lists_add_snapshots_made_elsewhere_but_not_ours() {
        let w = Duration::hours(24);
        let mut l = Ledger::default();
        l.record("a", "r1", t(0));
        let items = vec![
            ("r1".to_string(), t(30), Some("manual".to_string())),
            ("r2".to_string(), t(100), Some("manual".to_string())),
            ("r3".to_string(), t(100), Some("automatic".to_string())),
        ];
        l.reconcile("a", &items, t(200), w, true);
        let s = l.status("a", 4, t(200), w);
        assert_eq!(s.used, 2);
        assert!(!s.used_is_estimate);
    }

    #[test]
    fn a_429_for_the_quota_means_none_left() {
        let w = Duration::hours(24);
        let mut l = Ledger::default();
        l.record("a", "r1", t(0));
        l.mark_exhausted("a", t(10));
        let s = l.status("a", 32, t(20), w);
        assert_eq!(s.remaining, 0);
        assert!(s.next_free_is_estimate && !s.used_is_estimate);
    }
}
