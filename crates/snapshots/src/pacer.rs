//! When a create may be sent: the account window, the resource window (both counted from
//! the request's arrival, or from its answer once the server showed that it counts that
//! way), the daily quota, and a margin measured from the network rather than guessed.

use crate::ledger::{Ledger, WindowRule};
use chrono::{DateTime, Utc};
use squarecloud::limits;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The server's limits as the engine respects them.
#[derive(Debug, Clone)]
pub struct Limits {
    /// One create per this long per account (5 s documented).
    pub account_gap: Duration,
    /// One create per this long per resource (180 s in the newest SDKs); a `KEEP_CALM` for a
    /// resource whose window was thought open lengthens that resource's own.
    pub resource_gap: Duration,
    /// The rolling quota window (24 h).
    pub quota_window: Duration,
    /// How often a `KEEP_CALM` is retried before the job fails.
    pub keep_calm_retries: u32,
    /// Polling the list after a 202 or a lost answer: first delay, longest delay, give up after.
    pub poll_initial: Duration,
    pub poll_max: Duration,
    pub poll_total: Duration,
    /// How long a `RATE_LIMITED` block is assumed to last (about 30 minutes).
    pub rate_block: Duration,
    /// The server's minute, for the per-minute request budget.
    pub minute: Duration,
    /// How long a create may go unanswered before the client gives up on it.
    pub create_timeout: Duration,
    /// One restore per resource per this long.
    pub restore_gap: Duration,
    /// One commit (a put back) per application per this long.
    pub commit_gap: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            account_gap: limits::ACCOUNT_CREATE_GAP,
            resource_gap: limits::RESOURCE_CREATE_GAP,
            quota_window: limits::QUOTA_WINDOW,
            keep_calm_retries: 5,
            poll_initial: Duration::from_secs(2),
            poll_max: Duration::from_secs(60),
            // The list may be cached for 30 minutes: wait a little longer than that.
            poll_total: Duration::from_secs(35 * 60),
            rate_block: limits::RATE_BLOCK,
            minute: Duration::from_secs(60),
            create_timeout: Duration::from_secs(150),
            restore_gap: limits::RESTORE_GAP,
            commit_gap: limits::COMMIT_GAP,
        }
    }
}

/// The windows a server enforces, measured on its own clock: what [`Limits::scaled`] builds
/// the engine's limits from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServerWindows {
    /// One create per this long per account.
    pub account_gap: Duration,
    /// One create per this long per resource.
    pub resource_gap: Duration,
    /// The rolling quota window.
    pub quota_window: Duration,
    /// How long a `RATE_LIMITED` block lasts.
    pub rate_block: Duration,
    /// One restore per resource per this long.
    pub restore_gap: Duration,
    /// One commit per application per this long.
    pub commit_gap: Duration,
}

impl Limits {
    /// The limits for a server that enforces `server` on a clock running `time_scale` times
    /// faster than real time (a simulator; 1.0 is real time). The server's minute and the
    /// engine's own timeouts and polling shrink with it, within floors that keep a fast
    /// clock workable.
    pub fn scaled(server: ServerWindows, time_scale: f64) -> Self {
        let s = |d: Duration| Duration::from_secs_f64(d.as_secs_f64() / time_scale);
        Self {
            account_gap: s(server.account_gap),
            resource_gap: s(server.resource_gap),
            quota_window: s(server.quota_window),
            rate_block: s(server.rate_block),
            minute: s(Duration::from_secs(60)),
            restore_gap: s(server.restore_gap),
            commit_gap: s(server.commit_gap),
            create_timeout: s(Duration::from_secs(150)).max(Duration::from_secs(2)),
            poll_initial: Duration::from_millis(200).min(s(Duration::from_secs(2))),
            poll_max: s(Duration::from_secs(60)).max(Duration::from_millis(50)),
            poll_total: s(Duration::from_secs(35 * 60)).max(Duration::from_secs(2)),
            ..Self::default()
        }
    }
}

/// A window plus a small safety margin (1%, 2 ms to 250 ms): the server measures with its own
/// clock, and a create that arrives a hair early is refused.
pub(crate) fn padded(d: Duration) -> chrono::Duration {
    chrono_d(d + (d / 100).clamp(Duration::from_millis(2), Duration::from_millis(250)))
}

pub(crate) fn chrono_d(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Sleeps until `t`; false when cancelled first.
pub(crate) async fn sleep_until(t: DateTime<Utc>, cancel: &CancellationToken) -> bool {
    let d = (t - Utc::now()).to_std().unwrap_or_default();
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = cancel.cancelled() => false,
    }
}

/// Why a create waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitReason {
    AccountWindow,
    ResourceWindow,
    KeepCalm,
    Retry,
}

/// Round trips of recent small requests: how early or late a request may arrive.
#[derive(Debug)]
pub(crate) struct Latency {
    rtts: Mutex<VecDeque<Duration>>,
    /// The least margin, widened each time the server refuses a create that the windows
    /// said was due: a busy machine or network can hold one request back and not the next.
    floor: Mutex<Duration>,
}

/// The least margin before any refusal: scheduling jitter on a loaded machine reaches
/// tens of milliseconds even when round trips are under one.
pub(crate) const MARGIN_FLOOR: Duration = Duration::from_millis(20);
const MARGIN_CEILING: Duration = Duration::from_secs(2);

impl Default for Latency {
    fn default() -> Self {
        Self {
            rtts: Mutex::default(),
            floor: Mutex::new(MARGIN_FLOOR),
        }
    }
}

impl Latency {
    pub(crate) fn observe(&self, rtt: Duration) {
        let mut q = self.rtts.lock().unwrap_or_else(|e| e.into_inner());
        q.push_back(rtt);
        if q.len() > 16 {
            q.pop_front();
        }
    }

    /// Two requests that leave `gap` apart arrive at most the spread of their one-way
    /// delays closer together. A pipelined create usually opens a new connection (the
    /// previous one still waits for its answer) while another may reuse an idle one, so the
    /// spread can reach a connect and a TLS handshake: three times the longest recent round
    /// trip, never under the floor, never over 2 s.
    pub(crate) fn margin(&self) -> Duration {
        let q = self.rtts.lock().unwrap_or_else(|e| e.into_inner());
        let floor = *self.floor.lock().unwrap_or_else(|e| e.into_inner());
        (q.iter().max().copied().unwrap_or(Duration::from_millis(50)) * 3)
            .clamp(floor, MARGIN_CEILING)
    }

    /// A create sent when the windows said it was due was refused all the same: the spread
    /// of delays is wider than measured. Doubles the floor (up to 2 s) and returns it.
    pub(crate) fn widen(&self) -> Duration {
        let mut f = self.floor.lock().unwrap_or_else(|e| e.into_inner());
        *f = (*f * 2).min(MARGIN_CEILING);
        *f
    }
}

/// The earliest time a create for `resource` fits every window, by what `ledger` knows.
pub(crate) fn ready_at(
    ledger: &Ledger,
    account: &str,
    resource: &str,
    limits: &Limits,
    margin: Duration,
    now: DateTime<Utc>,
) -> (DateTime<Utc>, WaitReason) {
    let a = ledger.accounts.get(account);
    let learned = a.map(|a| a.learned.clone()).unwrap_or_default();
    let resource_gap = learned
        .resource_gaps_ms
        .get(resource)
        .map(|ms| Duration::from_millis(*ms).max(limits.resource_gap))
        .unwrap_or(limits.resource_gap);
    let pending = chrono_d(limits.create_timeout);
    let last_sent = |r: Option<&str>| ledger.last_create(account, r);
    let mut t = (now, WaitReason::AccountWindow);
    let (acct_from, res_from) = match learned.rule {
        WindowRule::Arrival => (last_sent(None), last_sent(Some(resource))),
        WindowRule::Answer => {
            let (acct, acct_pending) = ledger.last_answer(account, None, now, pending);
            let (res, _) = ledger.last_answer(account, Some(resource), now, pending);
            if acct_pending {
                // Not before the create in flight is answered; the caller wakes on answers.
                t.0 = t.0.max(now + pending);
            }
            (acct, res)
        }
    };
    if let Some(last) = acct_from {
        t.0 =
            t.0.max(last + padded(limits.account_gap) + chrono_d(margin));
    }
    if let Some(last) = res_from {
        let ready = last + padded(resource_gap) + chrono_d(margin);
        if ready > t.0 {
            t = (ready, WaitReason::ResourceWindow);
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn the_margin_follows_round_trips_and_widens_after_an_early_refusal() {
        let l = Latency::default();
        assert_eq!(
            l.margin(),
            Duration::from_millis(150),
            "unmeasured: 3 × 50 ms"
        );
        l.observe(Duration::from_micros(300));
        assert_eq!(l.margin(), MARGIN_FLOOR);
        l.observe(Duration::from_millis(40));
        assert_eq!(l.margin(), Duration::from_millis(120));
        assert_eq!(l.widen(), MARGIN_FLOOR * 2);
        assert_eq!(l.widen(), MARGIN_FLOOR * 4);
        assert_eq!(l.margin(), Duration::from_millis(120));
        for _ in 0..10 {
            l.widen();
        }
        assert_eq!(l.margin(), MARGIN_CEILING);
    }

    #[test]
    fn arrival_rule_counts_from_the_send_and_answer_rule_from_the_answer() {
        let l = Limits::default();
        let mut ledger = Ledger::default();
        ledger.record("a", "r1", t(0));
        let m = Duration::from_millis(10);
        let (at, why) = ready_at(&ledger, "a", "r2", &l, m, t(1));
        assert_eq!(why, WaitReason::AccountWindow);
        assert!(at > t(5) && at < t(6), "{at}");
        // Under the answer rule, nothing goes while r1 is unanswered...
        ledger.account("a").learned.rule = WindowRule::Answer;
        let (at, _) = ready_at(&ledger, "a", "r2", &l, m, t(1));
        assert!(at > t(100), "{at}");
        // ...and once it is, the window counts from the answer.
        ledger.answered("a", "r1", t(0), t(40));
        let (at, _) = ready_at(&ledger, "a", "r2", &l, m, t(41));
        assert!(at > t(45) && at < t(46), "{at}");
        // The resource's own window, lengthened by what was learned.
        ledger
            .account("a")
            .learned
            .resource_gaps_ms
            .insert("r1".into(), 600_000);
        let (at, why) = ready_at(&ledger, "a", "r1", &l, m, t(41));
        assert_eq!(why, WaitReason::ResourceWindow);
        assert!(at > t(640), "{at}");
    }
}
