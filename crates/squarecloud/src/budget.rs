//! A per-minute request budget: every call waits until the last minute holds fewer calls
//! than the plan's cap, so a long session never meets `RATE_LIMITED` (a 30-minute block).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// Where the calls and blocks of every process that uses one key are kept (the app and
/// `sqsnap` from cron each have a budget of their own: without this, each would fill the
/// server's minute on its own, and together they would meet its 30-minute block).
/// Implementations keep wall-clock times, which every process shares.
pub trait SharedCalls: Send + Sync + std::fmt::Debug {
    /// Takes a place for one call now: `Ok(None)` when fewer than `cap` calls of any process
    /// were made in the `window` before now (the call is then recorded), else how long until
    /// the oldest leaves the window (nothing is recorded).
    fn take(&self, cap: u32, window: Duration) -> std::io::Result<Option<Duration>>;
    /// Records that the key is blocked until `until`.
    fn block(&self, until: SystemTime);
    /// The block in force that any process recorded, if any.
    fn blocked_until(&self) -> Option<SystemTime>;
    /// Keeps the cap a process learned from the account's plan, for the next processes.
    fn learn_cap(&self, _cap: u32) {}
    /// The cap the last process that knew the plan learned: what a process that does not
    /// know it yet (its first call is the one that asks) counts with, rather than the
    /// smallest plan's. Without it, a script running sqsnap a dozen times in a minute on a
    /// larger plan waited a minute for nothing once the smallest plan's 60 calls were made.
    fn learned_cap(&self) -> Option<u32> {
        None
    }
}

/// Counts calls over a sliding window, the way the server counts them.
#[derive(Debug)]
pub struct RequestBudget {
    per_window: AtomicU32,
    /// Whether `per_window` is the plan's (set once the plan is known), not the assumed one.
    known: std::sync::atomic::AtomicBool,
    window: Duration,
    sent: Mutex<VecDeque<Instant>>,
    /// Set by a `RATE_LIMITED` answer: until then no call is sent at all.
    blocked_until: Mutex<Option<Instant>>,
    /// The other processes' calls and blocks, when they are shared.
    shared: Option<std::sync::Arc<dyn SharedCalls>>,
}

impl RequestBudget {
    /// `per_minute` calls in any 60 s.
    pub fn new(per_minute: u32) -> Self {
        Self::with_window(per_minute, Duration::from_secs(60))
    }

    /// `per_window` calls in any `window` (a scaled clock shortens the minute).
    pub fn with_window(per_window: u32, window: Duration) -> Self {
        Self {
            per_window: AtomicU32::new(per_window.max(1)),
            known: std::sync::atomic::AtomicBool::new(false),
            window,
            sent: Mutex::new(VecDeque::new()),
            blocked_until: Mutex::new(None),
            shared: None,
        }
    }

    /// Counts the calls and blocks of every process through `shared` as well.
    pub fn with_shared(mut self, shared: std::sync::Arc<dyn SharedCalls>) -> Self {
        self.shared = Some(shared);
        self
    }

    /// The account is blocked for `d`: every later call fails at once, unsent, in this
    /// process and (when shared) in every other.
    pub fn block_for(&self, d: Duration) {
        *self.blocked_until.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + d);
        if let Some(s) = &self.shared {
            s.block(SystemTime::now() + d);
        }
    }

    /// Whether a block is in force, met here or by another process.
    pub fn is_blocked(&self) -> bool {
        self.blocked_until
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|t| t > Instant::now())
            || self
                .shared
                .as_ref()
                .and_then(|s| s.blocked_until())
                .is_some_and(|t| t > SystemTime::now())
    }

    /// Changes the cap (once the plan is known).
    pub fn set_per_window(&self, n: u32) {
        self.per_window.store(n.max(1), Ordering::Relaxed);
        self.known.store(true, Ordering::Relaxed);
        if let Some(s) = &self.shared {
            s.learn_cap(n.max(1));
        }
    }

    pub fn per_window(&self) -> u32 {
        self.per_window.load(Ordering::Relaxed)
    }

    /// Waits for a free place in the window and takes it: in the shared record when there
    /// is one (which counts every process), else in this process's own.
    pub async fn acquire(&self) {
        if let Some(s) = &self.shared {
            loop {
                let cap = if self.known.load(Ordering::Relaxed) {
                    self.per_window()
                } else {
                    s.learned_cap().unwrap_or_else(|| self.per_window())
                };
                match s.take(cap, self.window) {
                    Ok(None) => return,
                    Ok(Some(wait)) => tokio::time::sleep(wait + Duration::from_millis(1)).await,
                    // The record cannot be read or written: this process's count alone.
                    Err(_) => break,
                }
            }
        }
        loop {
            let wait = {
                let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                while sent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= self.window)
                {
                    sent.pop_front();
                }
                if sent.len() < self.per_window() as usize {
                    sent.push_back(now);
                    return;
                }
                let oldest = *sent.front().expect("the window is full");
                (oldest + self.window).saturating_duration_since(now) + Duration::from_millis(1)
            };
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_call_past_the_cap_waits_for_the_oldest_to_leave_the_window() {
        let b = RequestBudget::with_window(3, Duration::from_millis(300));
        let t0 = Instant::now();
        for _ in 0..3 {
            b.acquire().await;
        }
        assert!(t0.elapsed() < Duration::from_millis(100));
        b.acquire().await;
        assert!(t0.elapsed() >= Duration::from_millis(300));
    }

    /// Calls of every process in one list, as the data dir's record keeps them.
    #[derive(Debug, Default)]
    struct Shared {
        sent: Mutex<Vec<Instant>>,
        cap: Mutex<Option<u32>>,
    }

    impl SharedCalls for Shared {
        fn take(&self, cap: u32, window: Duration) -> std::io::Result<Option<Duration>> {
            let mut sent = self.sent.lock().unwrap();
            sent.retain(|t| t.elapsed() < window);
            if sent.len() < cap as usize {
                sent.push(Instant::now());
                return Ok(None);
            }
            Ok(Some(window.saturating_sub(sent[0].elapsed())))
        }
        fn block(&self, _until: SystemTime) {}
        fn blocked_until(&self) -> Option<SystemTime> {
            None
        }
        fn learn_cap(&self, cap: u32) {
            *self.cap.lock().unwrap() = Some(cap);
        }
        fn learned_cap(&self) -> Option<u32> {
            *self.cap.lock().unwrap()
        }
    }

    #[tokio::test]
    async fn a_process_that_does_not_know_the_plan_yet_counts_with_the_cap_another_learned() {
        let shared = std::sync::Arc::new(Shared::default());
        let window = Duration::from_secs(60);
        // The first process learns a cap of 6 and makes 4 calls.
        let first = RequestBudget::with_window(2, window).with_shared(shared.clone());
        first.set_per_window(6);
        for _ in 0..4 {
            first.acquire().await;
        }
        // The next one, before it knows the plan, is not held by the assumed cap of 2.
        let next = RequestBudget::with_window(2, window).with_shared(shared.clone());
        let t0 = Instant::now();
        next.acquire().await;
        next.acquire().await;
        assert!(t0.elapsed() < Duration::from_secs(5));
        assert_eq!(shared.sent.lock().unwrap().len(), 6);
        // At the learned cap it waits, as the server would refuse.
        let waited = tokio::time::timeout(Duration::from_millis(200), next.acquire()).await;
        assert!(waited.is_err(), "a seventh call in the minute went");
    }
}
