//! Pacing: how fast bytes may come and how fast they do. A rate limit shared by every
//! connection, a throughput floor under which a connection counts as stalled, the progress
//! meter, and the ramp that decides how many connections one snapshot is worth.

use super::target::Progress;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The rate is measured over windows this long at least; on a distant host, over the
/// quickest answer seen (a round trip or more), up to `RAMP_WINDOW_MAX`.
pub(super) const RAMP_STEP: Duration = Duration::from_millis(50);
pub(super) const RAMP_WINDOW_MAX: Duration = Duration::from_secs(1);
/// A new connection is kept up only if the total rate grew by this much.
const RAMP_GAIN: f64 = 1.2;
/// A step that has not yet grown by `RAMP_GAIN` is judged once its rate stops growing: a
/// window less than this factor over the one before. Far away, a new connection starts in
/// TCP's slow start and needs several round trips to reach its pace.
const RAMP_PLATEAU: f64 = 1.1;

/// A total rate limit shared by every connection of every transfer that holds it.
#[derive(Debug)]
pub struct RateLimit {
    bytes_per_sec: u64,
    next: Mutex<Instant>,
}

impl RateLimit {
    pub fn new(bytes_per_sec: u64) -> Self {
        Self {
            bytes_per_sec: bytes_per_sec.max(1),
            next: Mutex::new(Instant::now()),
        }
    }

    pub fn bytes_per_sec(&self) -> u64 {
        self.bytes_per_sec
    }

    /// Waits for `n` bytes' turn: each chunk takes its slot of time after the previous one.
    pub async fn take(&self, n: usize) {
        let start = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            // An idle limiter saves up at most a quarter second of burst.
            let start = (*next).max(now.checked_sub(Duration::from_millis(250)).unwrap_or(now));
            *next = start + Duration::from_secs_f64(n as f64 / self.bytes_per_sec as f64);
            start
        };
        tokio::time::sleep_until(start.into()).await;
    }
}

/// The throughput floor: too slow when, over a whole window, fewer bytes than the floor
/// allows have arrived (a drip of one byte every few seconds never trips an idle timeout).
pub(super) struct Floor {
    start: Instant,
    start_bytes: u64,
    bytes_per_sec: u64,
    window: Duration,
}

impl Floor {
    pub(super) fn new(bytes: u64, bytes_per_sec: u64, window: Duration) -> Self {
        Self {
            start: Instant::now(),
            start_bytes: bytes,
            bytes_per_sec,
            window,
        }
    }

    pub(super) fn too_slow(&mut self, bytes: u64) -> bool {
        let elapsed = self.start.elapsed();
        if elapsed < self.window {
            return false;
        }
        let slow =
            (bytes - self.start_bytes) as f64 / elapsed.as_secs_f64() < self.bytes_per_sec as f64;
        // The next window starts now.
        self.start = Instant::now();
        self.start_bytes = bytes;
        slow
    }
}

/// Throttles progress to about four reports a second and smooths the speed.
pub(super) struct Meter {
    last: Instant,
    last_bytes: u64,
    speed: f64,
}

impl Meter {
    pub(super) fn new(bytes: u64) -> Self {
        Self {
            last: Instant::now(),
            last_bytes: bytes,
            speed: 0.0,
        }
    }

    pub(super) fn reset_to(&mut self, bytes: u64) {
        self.last = Instant::now();
        self.last_bytes = bytes;
    }

    pub(super) fn tick(&mut self, bytes: u64, total: Option<u64>) -> Option<Progress> {
        let dt = self.last.elapsed().as_secs_f64();
        if dt < 0.25 {
            return None;
        }
        Some(self.force(bytes, total))
    }

    pub(super) fn force(&mut self, bytes: u64, total: Option<u64>) -> Progress {
        let dt = self.last.elapsed().as_secs_f64().max(1e-3);
        let now_speed = bytes.saturating_sub(self.last_bytes) as f64 / dt;
        self.speed = if self.speed == 0.0 {
            now_speed
        } else {
            0.7 * self.speed + 0.3 * now_speed
        };
        self.last = Instant::now();
        self.last_bytes = bytes;
        Progress {
            bytes,
            total,
            bytes_per_sec: self.speed,
            eta_secs: total
                .filter(|_| self.speed > 0.0)
                .map(|t| t.saturating_sub(bytes) as f64 / self.speed),
        }
    }
}

/// The connection ramp: one connection first, then double while each step raises the total
/// rate by `RAMP_GAIN`; stop adding at the first step that does not, or at the maximum.
#[derive(Debug)]
pub(super) struct Ramp {
    pub target: usize,
    max: usize,
    open: bool,
    last_rate: Option<f64>,
    /// The current step's last window.
    window_rate: Option<f64>,
}

impl Ramp {
    pub fn new(max: usize) -> Self {
        Self {
            target: 1,
            max,
            open: max > 1,
            last_rate: None,
            window_rate: None,
        }
    }

    /// The total rate over one window of the current step; returns how many connections to
    /// run now. The step is judged (see [`Ramp::step`]) at once when it is the first or has
    /// grown enough, else when its rate has stopped growing.
    pub fn window(&mut self, rate: f64) -> usize {
        if !self.open {
            return self.target;
        }
        let judge = match (self.last_rate, self.window_rate) {
            (Some(last), Some(prev)) => rate >= last * RAMP_GAIN || rate < prev * RAMP_PLATEAU,
            (Some(last), None) => rate >= last * RAMP_GAIN,
            (None, _) => true,
        };
        if !judge {
            self.window_rate = Some(rate);
            return self.target;
        }
        self.window_rate = None;
        self.step(rate)
    }

    /// A distant host: every connection allowed starts now, the ramp closed. There a new
    /// connection costs three round trips before its first byte and then many more in TCP's
    /// slow start, which is where most of a snapshot's time goes: each connection widens
    /// the window the transfer grows in, so they help whatever the host's cap, and a ramp
    /// that measures before it adds pays a new connection's start once per step. False when
    /// one is the most, or the ramp has already moved.
    pub fn all_now(&mut self) -> bool {
        if !self.open || self.last_rate.is_some() {
            return false;
        }
        self.target = self.max;
        self.open = false;
        true
    }

    /// The total rate over the last step; returns how many connections to run now.
    fn step(&mut self, rate: f64) -> usize {
        if self.open {
            match self.last_rate {
                Some(prev) if rate < prev * RAMP_GAIN => self.open = false,
                _ if self.target >= self.max => self.open = false,
                _ => {
                    self.last_rate = Some(rate);
                    self.target = (self.target * 2).min(self.max);
                }
            }
        }
        self.target
    }

    pub fn is_open(&self) -> bool {
        self.open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_is_judged_once_it_grew_enough_or_stopped_growing() {
        let mut r = Ramp::new(4);
        // The first window sets the baseline and doubles.
        assert_eq!(r.window(1e6), 2);
        // Slow start: growing by 10 % or more a window, not yet by 20 %: not judged yet.
        assert_eq!(r.window(1.05e6), 2);
        assert_eq!(r.window(1.17e6), 2);
        // Then 20 % over the last step: judged at once, doubled; at the most, it stops.
        assert_eq!(r.window(2e6), 4);
        assert_eq!(r.window(4e6), 4);
        assert!(!r.is_open());

        // Two windows within 10 % of each other and no gain: judged, and the ramp stops.
        let mut r = Ramp::new(8);
        assert_eq!(r.window(700e6), 2);
        assert_eq!(r.window(650e6), 2);
        assert_eq!(r.window(660e6), 2);
        assert!(!r.is_open());
    }

    #[test]
    fn far_away_every_connection_starts_at_once() {
        let mut r = Ramp::new(4);
        assert!(r.all_now());
        assert_eq!(r.target, 4);
        // Closed: nothing the windows say moves it.
        assert!(!r.is_open());
        assert_eq!(r.window(1e6), 4);
        assert_eq!(r.window(1e3), 4);
        // One connection asked for: nothing to start; a ramp that has moved stays as it is.
        assert!(!Ramp::new(1).all_now());
        let mut r = Ramp::new(8);
        assert_eq!(r.window(1e6), 2);
        assert!(!r.all_now());
        assert_eq!(r.target, 2);
    }

    #[test]
    fn the_ramp_doubles_while_the_rate_grows_and_stops_when_it_does_not() {
        // A host that caps each connection: every step doubles the rate.
        let mut r = Ramp::new(4);
        assert_eq!(r.step(20e6), 2);
        assert_eq!(r.step(40e6), 4);
        assert_eq!(r.step(80e6), 4);
        assert!(!r.is_open());
        // A host with no cap: a second connection adds nothing, so no third.
        let mut r = Ramp::new(8);
        assert_eq!(r.step(700e6), 2);
        assert_eq!(r.step(720e6), 2);
        assert!(!r.is_open());
        assert_eq!(r.step(2e9), 2);
        // One connection asked for: never more.
        let mut r = Ramp::new(1);
        assert_eq!(r.step(1e6), 1);
    }

    #[tokio::test]
    async fn the_limit_holds_the_rate() {
        let l = RateLimit::new(1_000_000);
        let t = Instant::now();
        for _ in 0..20 {
            l.take(50_000).await;
        }
        // 1 MB at 1 MB/s, less the quarter second of burst allowed at the start.
        assert!(
            t.elapsed() >= Duration::from_millis(700),
            "{:?}",
            t.elapsed()
        );
    }
}
