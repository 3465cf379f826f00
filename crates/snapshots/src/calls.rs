//! The API calls and rate-limit blocks of every process that shares the data dir (the app,
//! `sqsnap` from cron or a timer), so their per-minute budget is one, and a block met by
//! any call of any of them stops them all.

use crate::ledger::Ledger;
use crate::statedir::StateDir;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The file, in the data dir.
pub(crate) const CALLS: &str = "calls.json";

#[derive(Debug, Default, Serialize, Deserialize)]
struct Calls {
    /// By API base URL (one account's).
    #[serde(default)]
    by_api: BTreeMap<String, ApiCalls>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct ApiCalls {
    /// When each recent call was sent, in milliseconds since the epoch.
    #[serde(default)]
    sent: Vec<i64>,
    /// A block in force until then, in milliseconds since the epoch.
    #[serde(default)]
    blocked_until: Option<i64>,
    /// The per-minute cap the last process that knew the account's plan counted with.
    #[serde(default)]
    cap: Option<u32>,
}

fn millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis().min(i64::MAX as u128) as i64,
        Err(e) => -(e.duration().as_millis().min(i64::MAX as u128) as i64),
    }
}

/// One API's calls and blocks in the data dir.
#[derive(Debug)]
pub(crate) struct SharedCallLog {
    state: Arc<StateDir>,
    api: String,
}

impl SharedCallLog {
    pub(crate) fn new(state: Arc<StateDir>, api: String) -> Self {
        Self { state, api }
    }
}

impl squarecloud::SharedCalls for SharedCallLog {
    fn take(&self, cap: u32, window: Duration) -> std::io::Result<Option<Duration>> {
        let w = window.as_millis().min(i64::MAX as u128) as i64;
        self.state.update_light(CALLS, |c: &mut Calls| {
            // Read under the lock: a time read before it could be older than calls another
            // process recorded while this one waited, which would then look "from the
            // future" and be dropped, and the window would undercount.
            let now = millis(SystemTime::now());
            let e = c.by_api.entry(self.api.clone()).or_default();
            // Calls that left the window; and any "from the future" (the clock was set
            // back), which would otherwise hold every call until that time comes.
            e.sent.retain(|t| *t > now.saturating_sub(w) && *t <= now);
            if e.sent.len() < cap as usize {
                e.sent.push(now);
                return None;
            }
            let oldest = e.sent.iter().min().copied().unwrap_or(now);
            Some(Duration::from_millis(
                (oldest.saturating_add(w) - now).max(1) as u64,
            ))
        })
    }

    fn block(&self, until: SystemTime) {
        let t = millis(until);
        let _ = self.state.update(CALLS, |c: &mut Calls| {
            let e = c.by_api.entry(self.api.clone()).or_default();
            e.blocked_until = Some(e.blocked_until.unwrap_or(t).max(t));
        });
        // The ledger's record is what a new process checks before its first call.
        let until: chrono::DateTime<chrono::Utc> = until.into();
        let _ = self.state.update(crate::ledger::LEDGER, |l: &mut Ledger| {
            let b = l.blocked_until.entry(self.api.clone()).or_insert(until);
            *b = (*b).max(until);
        });
    }

    fn learn_cap(&self, cap: u32) {
        if self.learned_cap() == Some(cap) {
            return;
        }
        let _ = self.state.update_light(CALLS, |c: &mut Calls| {
            c.by_api.entry(self.api.clone()).or_default().cap = Some(cap);
        });
    }

    fn learned_cap(&self) -> Option<u32> {
        let c: Calls = self.state.read(CALLS).ok()?;
        c.by_api.get(&self.api)?.cap
    }

    fn blocked_until(&self) -> Option<SystemTime> {
        let c: Calls = self.state.read(CALLS).ok()?;
        let t = c.by_api.get(&self.api)?.blocked_until?;
        u64::try_from(t)
            .ok()
            .map(|ms| UNIX_EPOCH + Duration::from_millis(ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use squarecloud::SharedCalls;

    /// The cap one process learned from the plan is what another reads, per API.
    #[test]
    fn a_learned_cap_is_kept_for_the_next_process() {
        let d = tempfile::tempdir().unwrap();
        let a = SharedCallLog::new(Arc::new(StateDir::open(d.path()).unwrap()), "api".into());
        assert_eq!(a.learned_cap(), None);
        a.learn_cap(120);
        let b = SharedCallLog::new(Arc::new(StateDir::open(d.path()).unwrap()), "api".into());
        let other = SharedCallLog::new(Arc::new(StateDir::open(d.path()).unwrap()), "x".into());
        assert_eq!(b.learned_cap(), Some(120));
        assert_eq!(other.learned_cap(), None);
        b.learn_cap(60);
        assert_eq!(
            a.learned_cap(),
            Some(60),
            "a plan made smaller is learned too"
        );
    }

    /// Two handles (as two processes have) share one window: together they get `cap`
    /// places, then wait for the oldest to leave; a block set by one is seen by the other.
    #[test]
    fn two_processes_share_one_window_and_one_block() {
        let d = tempfile::tempdir().unwrap();
        let a = SharedCallLog::new(Arc::new(StateDir::open(d.path()).unwrap()), "api".into());
        let b = SharedCallLog::new(Arc::new(StateDir::open(d.path()).unwrap()), "api".into());
        let other = SharedCallLog::new(Arc::new(StateDir::open(d.path()).unwrap()), "x".into());
        let w = Duration::from_secs(60);
        for i in 0..4 {
            let log = if i % 2 == 0 { &a } else { &b };
            assert_eq!(log.take(4, w).unwrap(), None);
        }
        let wait = b.take(4, w).unwrap().expect("the window is full");
        assert!(wait > Duration::from_secs(59) && wait <= w, "{wait:?}");
        assert_eq!(other.take(4, w).unwrap(), None, "another API counts apart");
        assert!(b.blocked_until().is_none());
        let until = SystemTime::now() + Duration::from_secs(1800);
        a.block(until);
        let seen = b.blocked_until().unwrap();
        assert!(seen.duration_since(until).unwrap_or_default() < Duration::from_millis(1));
        assert!(other.blocked_until().is_none());
    }
}
