//! The engine's test helpers: a simulator and an engine paced to it, the events an engine
//! sent, and faults by name. Shared with `crates/sqsnap/tests` through a `#[path]` module.

#![allow(dead_code)]

use snapshots::download::{Downloaded, Downloader};
use snapshots::squarecloud::ApiKey;
use snapshots::{
    Engine, EngineConfig, EngineError, Event, EventSink, Limits, ResourceRef, SnapshotOptions,
};
use squarecloud_sim::{AccountSpec, ResourceSpec, SimConfig, Simulator};
use std::path::{Path, PathBuf};
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
    start_in(config, |_, data| data.to_path_buf(), f).await
}

/// [`start_with`], the engine's state in `dir(sim, tempdir/data)`.
pub async fn start_in(
    config: SimConfig,
    dir: impl FnOnce(&Simulator, &std::path::Path) -> std::path::PathBuf,
    f: impl FnOnce(&mut Limits),
) -> (Simulator, Engine, tempfile::TempDir) {
    let sim = Simulator::start(config).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let engine = engine_on(&sim, &dir(&sim, &data.path().join("data")), f).await;
    (sim, engine, data)
}

/// The engine's limits for `sim`: the demo's mapping, so tests pace as the demo does.
pub use snapshots::demo::limits_of;

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

// ---- Helpers several suites share (the engine's here, and `sqsnap`'s beside it) ----------

/// The id of the `i`th resource of [`tiny_account`].
pub fn id(i: usize) -> String {
    format!("{i:032x}")
}

/// One application whose snapshots are `size` bytes; creates answer at once.
pub fn one_app(size: u64) -> SimConfig {
    SimConfig::new(KEY, tiny_account(1, 4096, size)).instant_creates()
}

/// A plan that keeps everything, into `dest`.
pub fn plan(
    name: &str,
    kind: snapshots::plans::PlanKind,
    scope: snapshots::plans::Scope,
    schedule: snapshots::plans::Schedule,
    dest: &std::path::Path,
) -> snapshots::plans::Plan {
    snapshots::plans::Plan {
        id: name.into(),
        kind,
        scope,
        schedule,
        retention: snapshots::plans::Retention::Everything,
        dest: Some(dest.to_path_buf()),
        offsite: None,
        offsite_only: false,
    }
}

/// A plan for every resource, due now (its last period is an old one).
pub fn due_now(engine: &Engine, p: snapshots::plans::Plan, resources: usize, quota: u32) {
    let id = p.id.clone();
    engine
        .update_plans(|plans: &mut snapshots::plans::Plans| {
            plans
                .add(p, resources, quota, chrono::Local::now())
                .unwrap();
            plans.state.get_mut(&id).unwrap().last_period = Some("old".into());
        })
        .unwrap();
}

/// Makes a plan due again (as the next period would).
pub fn due_again(engine: &Engine, id: &str) {
    engine
        .update_plans(|plans: &mut snapshots::plans::Plans| {
            let st = plans.state.get_mut(id).unwrap();
            st.last_period = Some(format!("{}-again", st.last_period.clone().unwrap()));
        })
        .unwrap();
}

/// The names in `dir`, sorted.
pub fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// The archives in `dir`, sorted.
pub fn zips(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "zip"))
        .collect();
    v.sort();
    v
}

/// The permission bits of `p` itself (a link is not followed). Unix only: Windows keeps no
/// mode bits.
#[cfg(unix)]
pub fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(p).unwrap().mode() & 0o777
}

/// A folder of its own under `root`.
pub fn folder(root: &std::path::Path, name: &str) -> std::path::PathBuf {
    let d = root.join(name);
    std::fs::create_dir(&d).unwrap();
    d
}

/// Every file connection capped at `bytes_per_sec`, as a distant or throttling host does.
pub fn cap_each(sim: &Simulator, bytes_per_sec: u64) {
    use squarecloud_sim::{FaultKind, FaultSpec, Target};
    sim.inject(FaultSpec::new(Target::Files, FaultKind::Bandwidth { bytes_per_sec }).times(None));
}

/// Every regular file under `dir`, at any depth, links not followed; none when `dir` does
/// not exist.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(walkdir::DirEntry::into_path)
        .collect()
}
