//! The downloader itself: its HTTP client, its settings (connections, timeouts, floor, rate
//! limit, retries) and how it waits between failed attempts. The transfers are in
//! `fetch.rs`, `single.rs` and `segmented/`.

use super::answer::{UrlRefreshes, describe};
use super::error::DownloadError;
use super::pacing::RateLimit;
use crate::settings::{DEFAULT_CONNECTIONS, MAX_CONNECTIONS};
use rand::Rng;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The download engine. Holds its own HTTP client with no total timeout (files are large),
/// a connect timeout, a read-idle timeout and a throughput floor: a connection that drips
/// slower than the floor over a whole window is treated as stalled and resumed.
#[derive(Debug, Clone)]
pub struct Downloader {
    pub(super) http: reqwest::Client,
    pub(super) read_idle: Duration,
    pub(super) max_failures: u32,
    pub(super) backoff: Duration,
    pub(super) floor_bytes_per_sec: u64,
    pub(super) floor_window: Duration,
    /// Most connections for one snapshot (1: a single stream).
    pub(super) connections: usize,
    /// Snapshots smaller than this use one stream.
    pub(super) split_min: u64,
    /// A total rate shared by every connection holding it.
    pub(super) limit: Option<Arc<RateLimit>>,
}
/// The size from which a snapshot is split over several connections.
pub const SPLIT_MIN: u64 = 32 * 1024 * 1024;

/// The most idle connections the downloader keeps open to one host, for the next download
/// to reuse: one snapshot's connections at most. Every connection keeps the read buffer it
/// grew to (hundreds of KiB after a snapshot), and without a cap the pool kept every one a
/// burst of downloads opened (a hundred downloads waiting for the API's minute, then
/// started together) until it had been idle for 90 s.
pub const IDLE_PER_HOST: usize = MAX_CONNECTIONS;

impl Downloader {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .user_agent(squarecloud::USER_AGENT)
            .connect_timeout(Duration::from_secs(15))
            .redirect(squarecloud::redirect_policy())
            .pool_max_idle_per_host(IDLE_PER_HOST)
            .build()
            .expect("an HTTP client with default TLS settings");
        Self {
            http,
            read_idle: Duration::from_secs(30),
            max_failures: 6,
            backoff: Duration::from_millis(500),
            floor_bytes_per_sec: 1024,
            floor_window: Duration::from_secs(60),
            connections: DEFAULT_CONNECTIONS,
            split_min: SPLIT_MIN,
            limit: None,
        }
    }

    /// Up to `n` connections (1 to 8) per snapshot of `split_min` bytes or more.
    pub fn with_connections(mut self, n: usize, split_min: u64) -> Self {
        self.connections = n.clamp(1, MAX_CONNECTIONS);
        self.split_min = split_min;
        self
    }

    /// Up to `n` connections (1 to 8) per large snapshot.
    pub fn with_connection_count(mut self, n: usize) -> Self {
        self.connections = n.clamp(1, MAX_CONNECTIONS);
        self
    }

    /// A total rate for every download made through this downloader and its clones.
    pub fn with_limit(mut self, limit: Option<Arc<RateLimit>>) -> Self {
        self.limit = limit;
        self
    }

    /// Below `bytes_per_sec` over a whole `window`, a connection counts as stalled.
    pub fn with_floor(mut self, bytes_per_sec: u64, window: Duration) -> Self {
        self.floor_bytes_per_sec = bytes_per_sec;
        self.floor_window = window;
        self
    }

    /// How long a connection may stay silent before it is dropped and resumed.
    pub fn with_read_idle(mut self, d: Duration) -> Self {
        self.read_idle = d;
        self
    }

    /// Consecutive failures (without progress) before giving up, and the first backoff.
    pub fn with_retries(mut self, max_failures: u32, backoff: Duration) -> Self {
        self.max_failures = max_failures;
        self.backoff = backoff;
        self
    }

    /// Sends a request; no answer within the read-idle time is a failure too. The error is
    /// the cause in words.
    pub(super) async fn send(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, String> {
        match tokio::time::timeout(self.read_idle, req.send()).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(describe(e)),
            Err(_) => Err("no answer in time".into()),
        }
    }

    /// Exponential, jittered, at most a minute.
    pub(super) fn backoff_for(&self, failures: u32) -> Duration {
        let base = self.backoff.as_secs_f64() * 2f64.powi(failures.saturating_sub(1).min(6) as i32);
        let jitter = rand::rng().random_range(0.5..1.5);
        Duration::from_secs_f64((base * jitter).min(60.0))
    }

    async fn pause(&self, failures: u32, cancel: &CancellationToken) {
        let d = self.backoff_for(failures);
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = cancel.cancelled() => {}
        }
    }

    /// One more failure in a row: past the most allowed, the download fails with `detail`;
    /// else a backoff, cut short by a stop.
    pub(super) async fn give_up_or_wait(
        &self,
        failures: u32,
        detail: &str,
        cancel: &CancellationToken,
    ) -> Result<(), DownloadError> {
        if failures >= self.max_failures {
            return Err(DownloadError::Network {
                detail: detail.to_string(),
                attempts: failures,
            });
        }
        // Cancelled while waiting: the caller's loop sees the token and reports it.
        self.pause(failures, cancel).await;
        Ok(())
    }
}

impl Default for Downloader {
    fn default() -> Self {
        Self::new()
    }
}

/// One transfer's tries: the signed URL it asks (replaced by a fresh one when the host refuses
/// it), how it gets a fresh one, and the failures in a row so far.
pub(super) struct Tries<'a, F> {
    pub url: &'a mut String,
    refresh: &'a mut F,
    refreshes: UrlRefreshes,
    pub failures: u32,
}

impl<'a, F, Fut> Tries<'a, F>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<String>>,
{
    pub fn new(url: &'a mut String, refresh: &'a mut F) -> Self {
        Tries {
            url,
            refresh,
            refreshes: UrlRefreshes::default(),
            failures: 0,
        }
    }

    /// Replaces the URL with a fresh one; false when none comes (or two came already).
    pub async fn fresh_url(&mut self) -> bool {
        match self.refreshes.fresh(self.refresh).await {
            Some(fresh) => {
                *self.url = fresh;
                true
            }
            None => false,
        }
    }

    /// One more failure: see [`Downloader::give_up_or_wait`].
    pub async fn failed(
        &mut self,
        dl: &Downloader,
        detail: &str,
        cancel: &CancellationToken,
    ) -> Result<(), DownloadError> {
        self.failures += 1;
        dl.give_up_or_wait(self.failures, detail, cancel).await
    }
}
