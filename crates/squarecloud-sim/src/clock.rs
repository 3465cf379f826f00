//! A clock that tests can scale and advance, so a 24 h quota window can run in a second.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Simulated wall clock: `origin + real_elapsed * scale + advanced`.
#[derive(Debug)]
pub struct SimClock {
    origin_real: Instant,
    origin_sim: DateTime<Utc>,
    scale: f64,
    advanced: Mutex<ChronoDuration>,
}

impl SimClock {
    /// `scale` = simulated seconds per real second (1.0 = real time).
    pub fn new(scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        Self {
            origin_real: Instant::now(),
            origin_sim: Utc::now(),
            scale,
            advanced: Mutex::new(ChronoDuration::zero()),
        }
    }

    pub fn scale(&self) -> f64 {
        self.scale
    }

    pub fn now(&self) -> DateTime<Utc> {
        let real = self.origin_real.elapsed().as_secs_f64() * self.scale;
        let advanced = *self.advanced.lock().expect("clock lock");
        self.origin_sim + ChronoDuration::microseconds((real * 1e6) as i64) + advanced
    }

    /// Jump the simulated clock forward (tests only need forward).
    pub fn advance(&self, by: Duration) {
        let mut a = self.advanced.lock().expect("clock lock");
        *a += ChronoDuration::from_std(by).unwrap_or_else(|_| ChronoDuration::zero());
    }

    /// How long to really sleep for `sim` of simulated time.
    pub fn real(&self, sim: Duration) -> Duration {
        Duration::from_secs_f64(sim.as_secs_f64() / self.scale)
    }
}
