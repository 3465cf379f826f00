#![allow(dead_code)]

use snapshots::download::{Downloaded, Downloader};
use snapshots::squarecloud::ApiKey;
use snapshots::{
    Engine, EngineConfig, EngineError, Event, EventSink, Limits, ResourceRef, ServerWindows,
    SnapshotOptions,
};
use squarecloud_sim::{AccountSpec, ResourceSpec, SimConfig, Simulator};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const KEY: &str = "313397145698959364-test-key";

pub fn tiny_account(n: usize, memory_mb: u64, size: u64) -> AccountSpec {
    let mut a = AccountSpec::demo();
    a.memory_mb = memory_mb;
    a.databases.clear();
    a.applications = (0..n)
        .map(|i| ResourceSpec {
            id: format!("{i:032x}"),
            name: format!("app {i}"),
            desc: None,
            kind: "javascript".into(),
            ram: 128,
            cluster: "c".into(),
            domain: None,
            snapshot_size: size,
            generation_secs: None,
            history: 1,
        })
        .collect();
    a
}

pub async fn start(config: SimConfig) -> (Simulator, Engine, tempfile::TempDir) {
    start_with(config, |_| {}).await
}

/// Starts a simulator and an engine whose limits match it, then adjusted by `f`.
pub async fn start_with(
    config: SimConfig,
    f: impl FnOnce(&mut Limits),
) -> (Simulator, Engine, tempfile::TempDir) {
    let sim = Simulator::start(config).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let engine = engine_on(&sim, &data.path().join("data"), f).await;
    (sim, engine, data)
}

/// The engine's limits for `sim`: its windows, on its clock.
pub fn limits_of(sim: &Simulator) -> Limits {
    let l = &sim.config().limits;
    Limits::scaled(
        ServerWindows {
            account_gap: l.account_gap,
            resource_gap: l.resource_gap,
            quota_window: l.quota_window,
            rate_block: l.block,
            restore_gap: l.restore_gap,
        },
        sim.config().time_scale,
    )
}

/// An engine on `sim` keeping its state in `data`.
pub async fn engine_on(
    sim: &Simulator,
    data: &std::path::Path,
    f: impl FnOnce(&mut Limits),
) -> Engine {
    let mut cfg = EngineConfig::new(sim.api_url(), data);
    cfg.files_url = Some(sim.files_url());
    cfg.limits = limits_of(sim);
    f(&mut cfg.limits);
    Engine::connect(cfg, ApiKey::new(sim.config().api_key.clone()).unwrap())
        .await
        .unwrap()
        .with_downloader(
            Downloader::new()
                .with_read_idle(Duration::from_millis(500))
                .with_retries(6, Duration::from_millis(20)),
        )
}

/// The creates the server accepted (200 or 202).
pub fn accepted_creates(sim: &Simulator) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.method == "POST" && (r.status == 200 || r.status == 202))
        .count()
}

pub fn collect() -> (EventSink, Arc<Mutex<Vec<Event>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let e2 = events.clone();
    (Arc::new(move |e| e2.lock().unwrap().push(e)), events)
}

/// Snapshot options that download into `dir` and do not wait for the quota.
pub fn download_to(dir: &std::path::Path) -> SnapshotOptions {
    SnapshotOptions {
        download: true,
        dest: Some(dir.to_path_buf()),
        wait_for_quota: false,
    }
}

/// The newest snapshot of `r` downloaded into `dest`, events dropped.
pub async fn download_latest(
    engine: &Engine,
    r: &ResourceRef,
    dest: &std::path::Path,
) -> Result<Downloaded, EngineError> {
    let (sink, _) = collect();
    engine
        .download(
            r,
            None,
            Some(dest),
            sink,
            &tokio_util::sync::CancellationToken::new(),
        )
        .await
}
