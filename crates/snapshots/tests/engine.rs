//! The engine against the simulator, with faults injected.

mod common;

use common::*;
use snapshots::download::DownloadError;
use snapshots::{EngineError, Event, SnapshotOptions};
use squarecloud_sim::{AccountSpec, FaultKind, FaultSpec, SimConfig, Target};
use std::collections::HashSet;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const ATLAS: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

fn demo_config() -> SimConfig {
    let mut c = SimConfig::new(KEY, AccountSpec::demo());
    c.generation_time = Duration::ZERO;
    c
}

fn zips_in(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

/// For every fault kind, the file is byte-identical to what the simulator served.
#[tokio::test]
async fn every_recoverable_fault_ends_in_a_byte_identical_file() {
    let faults = vec![
        vec![FaultKind::ResetAfter { bytes: 3_000_000 }],
        vec![
            FaultKind::ResetAfter { bytes: 1_000_000 },
            FaultKind::ResetAfter { bytes: 2_000_000 },
        ],
        vec![FaultKind::Stall {
            after_bytes: 500_000,
            seconds: 2.0,
        }],
        vec![FaultKind::Bandwidth {
            bytes_per_sec: 40_000_000,
        }],
        vec![
            FaultKind::ResetAfter { bytes: 2_000_000 },
            FaultKind::IgnoreRange,
        ],
        vec![FaultKind::ExpiredSignature],
        vec![
            FaultKind::ServerErrorHtml { status: 503 },
            FaultKind::ServerErrorHtml { status: 502 },
        ],
        vec![FaultKind::Forbidden403Html],
    ];
    for kinds in faults {
        let (sim, engine, dir) = start(demo_config()).await;
        let r = engine.resource(ATLAS).unwrap();
        let newest = sim.versions(ATLAS).last().unwrap().clone();
        let expected = sim.archive(ATLAS, &newest).unwrap();
        let (sink, _events) = collect();
        let cancel = CancellationToken::new();
        let dl_task = engine.download(&r, None, Some(dir.path()), sink, &cancel);
        // Fault i goes to file request i: each one is queued once the one before was seen.
        let file_requests = || {
            sim.requests()
                .iter()
                .filter(|q| q.host == Target::Files)
                .count()
        };
        let inject_in_turn = async {
            for (i, k) in kinds.iter().enumerate() {
                while file_requests() < i {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                sim.inject(FaultSpec::new(Target::Files, k.clone()));
            }
        };
        let (res, ()) = tokio::join!(dl_task, inject_in_turn);
        let done = res.unwrap_or_else(|e| panic!("{kinds:?}: {e}"));
        assert_eq!(std::fs::read(&done.path).unwrap(), expected, "{kinds:?}");
        assert_eq!(
            zips_in(dir.path()),
            vec![done.path.clone()],
            "{kinds:?}: stray files"
        );
        let files: Vec<_> = sim
            .requests()
            .into_iter()
            .filter(|q| q.host == Target::Files)
            .collect();
        if !matches!(kinds[0], FaultKind::Bandwidth { .. }) {
            assert!(
                files.len() >= 2,
                "{kinds:?}: the fault should have forced a retry"
            );
        }
        assert!(
            files
                .iter()
                .all(|q| !q.headers.iter().any(|h| h == "authorization"))
        );
        if matches!(kinds[0], FaultKind::ResetAfter { .. }) && kinds.len() == 1 {
            assert_eq!(
                files[1].range.as_deref(),
                Some("bytes=3000000-"),
                "resumes where it stopped"
            );
        }
    }
}

#[tokio::test]
async fn an_unrecoverable_fault_is_a_clear_error_and_nothing_is_under_the_final_name() {
    let (sim, engine, dir) = start(demo_config()).await;
    let r = engine.resource(ATLAS).unwrap();
    sim.inject(FaultSpec::new(Target::Files, FaultKind::ExpiredSignature).times(None));
    let (sink, _) = collect();
    let e = engine
        .download(
            &r,
            None,
            Some(dir.path()),
            sink.clone(),
            &CancellationToken::new(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            EngineError::Download(DownloadError::Rejected { status: 403, .. })
        ),
        "{e}"
    );
    assert!(e.to_string().contains("Request has expired"));
    assert!(
        zips_in(dir.path())
            .iter()
            .all(|p| !p.to_string_lossy().ends_with(".zip"))
    );

    // A folder that vanished.
    let gone = dir.path().join("gone");
    let e = engine
        .download(&r, None, Some(&gone), sink, &CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "folder");
    assert!(e.to_string().contains("does not exist"));
}

#[tokio::test]
async fn a_part_file_is_resumed_with_range_and_not_fetched_again() {
    let (sim, engine, dir) = start(demo_config()).await;
    let r = engine.resource(ATLAS).unwrap();
    let (sink, _) = collect();
    let first = engine
        .download(
            &r,
            None,
            Some(dir.path()),
            sink.clone(),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    let full = std::fs::read(&first.path).unwrap();
    // Pretend an earlier run died after 5 MB.
    let part = format!("{}.part", first.path.display());
    std::fs::write(&part, &full[..5_000_000]).unwrap();
    std::fs::remove_file(&first.path).unwrap();
    sim.clear_requests();
    let again = engine
        .download(&r, None, Some(dir.path()), sink, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(again.resumed_from, 5_000_000);
    assert_eq!(std::fs::read(&again.path).unwrap(), full);
    let files: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|q| q.host == Target::Files)
        .collect();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].range.as_deref(), Some("bytes=5000000-"));
}

#[tokio::test]
async fn a_corrupt_download_fails_verification_and_is_removed() {
    let (_sim, engine, dir) = start(demo_config()).await;
    let r = engine.resource(ATLAS).unwrap();
    let (sink, _) = collect();
    let first = engine
        .download(
            &r,
            None,
            Some(dir.path()),
            sink.clone(),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    // A .part whose bytes are wrong but whose length is complete: the check must catch it.
    let part = format!("{}.part", first.path.display());
    std::fs::write(&part, vec![0u8; first.size as usize]).unwrap();
    std::fs::remove_file(&first.path).unwrap();
    let e = engine
        .download(&r, None, Some(dir.path()), sink, &CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "verify");
    assert!(zips_in(dir.path()).is_empty());
}

#[tokio::test]
async fn snapshot_all_of_20_sends_no_refused_request_and_ends_near_the_lower_bound() {
    let mut c = SimConfig::new(KEY, tiny_account(20, 4096, 20_000));
    c.generation_time = Duration::ZERO;
    c.limits.account_gap = Duration::from_millis(200);
    let (sim, engine, dir) = start(c).await;
    let (sink, events) = collect();
    let targets = engine.resources();
    let opts = SnapshotOptions {
        download: true,
        dest: Some(dir.path().to_path_buf()),
        wait_for_quota: false,
    };
    let results = engine
        .snapshot(targets, opts, sink, &CancellationToken::new())
        .await;
    assert_eq!(results.len(), 20);
    assert!(results.iter().all(|r| r.outcome.is_ok()), "{results:?}");
    let creates: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|q| q.method == "POST")
        .collect();
    let statuses: Vec<_> = creates.iter().map(|q| (q.path.clone(), q.status)).collect();
    assert_eq!(creates.len(), 20, "{statuses:?}");
    assert!(
        creates.iter().all(|q| q.status == 200),
        "a create was refused"
    );
    assert!(sim.requests().iter().all(|q| q.status != 429));
    let span = (creates[19].at - creates[0].at).to_std().unwrap();
    let bound = Duration::from_millis(200) * 19;
    assert!(span >= bound, "faster than the server allows: {span:?}");
    // A sanity bound only: the pace itself (within 5% of the bound) is measured by
    // `make bench` (docs/benchmarks.md); a timed test would flake on a loaded machine.
    assert!(
        span.as_secs_f64() <= bound.as_secs_f64() * 2.0,
        "{span:?} is more than twice {bound:?}"
    );
    assert_eq!(zips_in(dir.path()).len(), 20);
    let ev = events.lock().unwrap();
    assert!(ev.iter().any(|e| matches!(e, Event::Waiting { .. })));
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, Event::Done { .. }))
            .count(),
        20
    );
}

#[tokio::test]
async fn a_quota_day_on_a_scaled_clock() {
    // 6 000 simulated seconds per real second: 24 h = 14.4 s; 512 MB plan = 4 a day.
    let mut c = SimConfig::new(KEY, tiny_account(5, 512, 5_000));
    c.time_scale = 6000.0;
    c.generation_time = Duration::ZERO;
    let (sim, engine, _dir) = start(c).await;
    let (sink, events) = collect();
    let opts = SnapshotOptions::default();
    let results = engine
        .snapshot(
            engine.resources(),
            opts.clone(),
            sink.clone(),
            &CancellationToken::new(),
        )
        .await;
    let ok = results.iter().filter(|r| r.outcome.is_ok()).count();
    assert_eq!(ok, 4);
    let refused = results.iter().find(|r| r.outcome.is_err()).unwrap();
    let Err(EngineError::Quota { until: Some(until) }) = &refused.outcome else {
        panic!("{refused:?}")
    };
    assert!(
        events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::PausedForQuota { .. }))
    );
    let q = engine.quota();
    assert_eq!((q.used, q.remaining, q.total), (4, 0, 4));
    assert!(
        sim.requests().iter().all(|r| r.status != 429),
        "no create the server would refuse"
    );
    // With --wait the queue sleeps until the window slides, then finishes.
    let last = vec![refused.resource.clone()];
    let waiting = SnapshotOptions {
        wait_for_quota: true,
        ..opts
    };
    let results = engine
        .snapshot(last, waiting, sink, &CancellationToken::new())
        .await;
    assert!(results[0].outcome.is_ok(), "{:?}", results[0].outcome);
    assert!(chrono::Utc::now() >= *until);
    assert!(sim.requests().iter().all(|r| r.status != 429));
}

#[tokio::test]
async fn a_202_is_polled_on_the_list_and_never_posted_again() {
    let mut c = demo_config();
    c.time_scale = 300.0;
    c.generation_time = Duration::from_secs(150); // past the 90 s soft deadline
    let (sim, engine, dir) = start(c).await;
    let r = engine.resource(ATLAS).unwrap();
    let (sink, events) = collect();
    let opts = SnapshotOptions {
        download: true,
        dest: Some(dir.path().to_path_buf()),
        wait_for_quota: false,
    };
    let results = engine
        .snapshot(vec![r], opts, sink, &CancellationToken::new())
        .await;
    let out = results[0].outcome.as_ref().unwrap();
    let d = out.download.as_ref().unwrap();
    let newest = sim.created_versions(ATLAS).last().unwrap().clone();
    assert_eq!(
        std::fs::read(&d.path).unwrap(),
        sim.archive(ATLAS, &newest).unwrap()
    );
    assert_eq!(
        sim.requests().iter().filter(|q| q.method == "POST").count(),
        1
    );
    assert!(
        events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::Processing { .. }))
    );
}

#[tokio::test]
async fn rate_limited_stops_every_call() {
    let mut c = SimConfig::new(KEY, tiny_account(4, 4096, 5_000));
    c.generation_time = Duration::ZERO;
    c.limits.account_gap = Duration::from_millis(10);
    // connect (1) + four lists + one create, then the next create is blocked
    c.limits.per_minute = 6;
    let (sim, engine, _dir) = start(c).await;
    let (sink, events) = collect();
    let results = engine
        .snapshot(
            engine.resources(),
            SnapshotOptions::default(),
            sink,
            &CancellationToken::new(),
        )
        .await;
    let rate = results
        .iter()
        .filter(|r| matches!(r.outcome, Err(EngineError::RateLimited { .. })))
        .count();
    assert!(rate >= 1, "{results:?}");
    // Nothing is sent once the block is known. Calls already on their way when it began
    // (lists go four at a time) are refused with it: each at most once, never retried.
    let after_block: Vec<String> = sim
        .requests()
        .iter()
        .skip_while(|q| q.status != 429)
        .map(|q| format!("{} {}", q.method, q.path))
        .collect();
    let distinct: HashSet<&String> = after_block.iter().collect();
    assert!(
        after_block.len() <= 4 && distinct.len() == after_block.len(),
        "calls after the block: {after_block:?}"
    );
    assert!(
        events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::RateLimited { .. }))
    );
}

#[tokio::test]
async fn a_wrong_key_is_an_auth_error() {
    let sim = squarecloud_sim::Simulator::start(demo_config())
        .await
        .unwrap();
    let cfg = snapshots::EngineConfig::new(sim.api_url(), tempfile::tempdir().unwrap().path());
    let e = snapshots::Engine::connect(cfg, snapshots::squarecloud::ApiKey::new("wrong").unwrap())
        .await
        .err()
        .unwrap();
    assert_eq!(e.code(), "auth");
    assert!(e.to_string().contains("refused"));
}

#[tokio::test]
async fn a_corrupt_settings_file_is_kept_aside_and_the_engine_starts_clean() {
    let sim = squarecloud_sim::Simulator::start(demo_config())
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("settings.json"), b"\x00garbage").unwrap();
    let cfg = snapshots::EngineConfig::new(sim.api_url(), data.path());
    let engine = snapshots::Engine::connect(cfg, snapshots::squarecloud::ApiKey::new(KEY).unwrap())
        .await
        .unwrap();
    assert_eq!(engine.recovered().len(), 1);
    assert!(engine.recovered()[0].kept_as.exists());
    assert_eq!(engine.settings(), snapshots::settings::Settings::default());
}

#[tokio::test]
async fn a_paused_queue_sends_nothing_until_resumed() {
    let mut c = SimConfig::new(KEY, tiny_account(3, 4096, 5_000));
    c.generation_time = Duration::ZERO;
    c.limits.account_gap = Duration::from_millis(20);
    let (sim, engine, _dir) = start(c).await;
    let engine = std::sync::Arc::new(engine);
    engine.set_paused(true);
    let (sink, events) = collect();
    let e2 = engine.clone();
    let run = tokio::spawn(async move {
        e2.snapshot(
            e2.resources(),
            SnapshotOptions::default(),
            sink,
            &CancellationToken::new(),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        sim.requests().iter().filter(|q| q.method == "POST").count(),
        0,
        "a create went out while paused"
    );
    assert!(events.lock().unwrap().contains(&Event::Paused));
    engine.set_paused(false);
    let results = run.await.unwrap();
    assert!(results.iter().all(|r| r.outcome.is_ok()), "{results:?}");
    assert_eq!(
        sim.requests().iter().filter(|q| q.method == "POST").count(),
        3
    );
    assert!(events.lock().unwrap().contains(&Event::Resumed));
}

#[tokio::test]
async fn no_network_says_what_to_do() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = snapshots::EngineConfig::new(
        format!("http://127.0.0.1:{port}/v2"),
        tempfile::tempdir().unwrap().path(),
    );
    let e = snapshots::Engine::connect(cfg, snapshots::squarecloud::ApiKey::new(KEY).unwrap())
        .await
        .err()
        .unwrap();
    assert_eq!(e.code(), "network");
    let text = e.to_string();
    assert!(
        text.contains("could not reach Square Cloud")
            && text.contains("Check your internet connection"),
        "{text}"
    );
    assert!(!text.contains(KEY));
}

/// API paths asked for since the log was last cleared.
fn api_paths(sim: &squarecloud_sim::Simulator) -> Vec<String> {
    sim.requests()
        .into_iter()
        .filter(|r| r.host == Target::Api)
        .map(|r| r.path)
        .collect()
}

/// A simulator of `n` small apps on `plan` ("free" has no account-wide listing).
fn on_plan(n: usize, plan: &str) -> SimConfig {
    let mut a = tiny_account(n, 4096, 1000);
    a.plan = plan.into();
    SimConfig::new(KEY, a)
}

#[tokio::test]
async fn newest_snapshots_of_every_resource_take_one_account_wide_listing_on_a_paid_plan() {
    let (sim, engine, _d) = start(on_plan(30, "standard-4")).await;
    sim.clear_requests();
    assert!(engine.refresh_newest(Duration::ZERO).await.unwrap());
    let paths = api_paths(&sim);
    assert_eq!(paths, ["/v2/users/snapshots"], "{paths:?}");
    let known = engine.newest_known();
    assert_eq!(known.len(), 30);
    // The same answer one listing per resource gives.
    for r in engine.resources().iter().take(3) {
        let newest = engine
            .versions(r)
            .await
            .unwrap()
            .first()
            .map(|i| i.modified);
        assert!(newest.is_some());
        assert_eq!(known[&r.id], newest, "{}", r.name);
    }
    // Learnt a moment ago: nothing is sent.
    sim.clear_requests();
    assert!(
        !engine
            .refresh_newest(Duration::from_secs(300))
            .await
            .unwrap()
    );
    assert_eq!(api_paths(&sim), Vec::<String>::new());
}

#[tokio::test]
async fn without_the_account_wide_listing_each_resource_is_listed_once_and_it_is_not_asked_again() {
    let (sim, engine, _d) = start(on_plan(6, "free")).await;
    sim.clear_requests();
    engine.refresh_newest(Duration::ZERO).await.unwrap();
    let paths = api_paths(&sim);
    assert_eq!(paths[0], "/v2/users/snapshots");
    assert_eq!(paths.len(), 7, "{paths:?}");
    assert_eq!(engine.newest_known().len(), 6);
    // The 402 is remembered: the next refresh lists per resource straight away.
    sim.clear_requests();
    engine.refresh_newest(Duration::ZERO).await.unwrap();
    let paths = api_paths(&sim);
    assert_eq!(paths.len(), 6, "{paths:?}");
    assert!(
        paths.iter().all(|p| p.starts_with("/v2/apps/")),
        "{paths:?}"
    );
}

#[tokio::test]
async fn the_account_listings_own_rate_limit_does_not_stop_the_other_calls() {
    let mut c = on_plan(3, "standard-4");
    // Its own limit answers 429 RATE_LIMITED from the first call: the same code that,
    // on any other route, blocks the whole account for 30 minutes.
    c.limits.user_snapshots_per_minute = 0;
    let (sim, engine, _d) = start(c).await;
    sim.clear_requests();
    engine.refresh_newest(Duration::ZERO).await.unwrap();
    let paths = api_paths(&sim);
    assert_eq!(
        paths.len(),
        4,
        "one refused account listing, then one per resource: {paths:?}"
    );
    assert_eq!(engine.newest_known().len(), 3);
    engine.refresh().await.expect("the account is not blocked");
}

/// A folder that exists but cannot be written to, for one test. As root (CI), permission
/// bits are ignored, so it is a read-only tmpfs mounted there; otherwise the folder's mode
/// is 0555. `None`, saying why, when neither can be had (root without the right to mount).
struct ReadOnlyFolder {
    dir: tempfile::TempDir,
    mounted: bool,
}

impl ReadOnlyFolder {
    fn new() -> Option<Self> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // SAFETY: no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        if !root {
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
            return Some(Self {
                dir,
                mounted: false,
            });
        }
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!(
                "skipped: root, but mounting a read-only tmpfs failed (no CAP_SYS_ADMIN here?)"
            );
            return None;
        }
        Some(Self { dir, mounted: true })
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for ReadOnlyFolder {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        if self.mounted {
            let _ = std::process::Command::new("umount")
                .arg(self.dir.path())
                .status();
        } else {
            let _ =
                std::fs::set_permissions(self.dir.path(), std::fs::Permissions::from_mode(0o755));
        }
    }
}

/// A destination that exists but cannot be written to is found before any create is sent:
/// chosen for this snapshot, or the folder in the settings (as the window and the tray
/// use), for one resource or several. The error says the folder cannot be written to.
#[tokio::test]
async fn a_folder_that_cannot_be_written_to_spends_no_quota() {
    let Some(ro) = ReadOnlyFolder::new() else {
        return;
    };
    assert!(
        std::fs::File::create(ro.path().join("x")).is_err(),
        "the folder should refuse files"
    );
    let (sim, engine, _dir) = start(demo_config()).await;
    let r = engine.resource(ATLAS).unwrap();
    let (sink, _) = collect();
    let cancel = CancellationToken::new();
    let said_why = |res: &[snapshots::JobResult]| {
        for j in res {
            let e = j.outcome.as_ref().unwrap_err();
            assert_eq!(e.code(), "folder", "{e}");
            let text = e.to_string();
            assert!(
                text.contains("cannot be written to")
                    && text.contains(&*ro.path().to_string_lossy()),
                "{text}"
            );
        }
    };

    // Chosen for this snapshot.
    let res = engine
        .snapshot(
            vec![r.clone()],
            download_to(ro.path()),
            sink.clone(),
            &cancel,
        )
        .await;
    said_why(&res);

    // The default folder of the settings, for everything at once.
    engine
        .update_settings(|s| s.default_dest = Some(ro.path().to_path_buf()))
        .unwrap();
    let opts = SnapshotOptions {
        download: true,
        dest: None,
        wait_for_quota: false,
    };
    let all = engine.resources();
    let res = engine.snapshot(all.clone(), opts, sink, &cancel).await;
    assert_eq!(res.len(), all.len());
    said_why(&res);

    let posts: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|q| q.method == "POST")
        .map(|q| q.path)
        .collect();
    assert!(posts.is_empty(), "creates were sent: {posts:?}");
    assert_eq!(engine.quota().used, 0, "no quota spent");
    assert_eq!(
        std::fs::read_dir(ro.path()).unwrap().count(),
        0,
        "nothing was left in the folder"
    );
}

/// The app keeps each download until it ends: stopped in the middle (a quit, a logout), it
/// is recorded; the next engine on the same state goes on with it from its `.part` (with
/// `Range`, never from byte 0) into the same folder, and ends byte-identical with the record
/// gone. A stop the user asks for forgets it; a snapshot no longer listed is forgotten.
#[tokio::test]
async fn an_unfinished_download_is_gone_on_with_at_the_next_start() {
    use snapshots::library::unfinished::{UNFINISHED, Unfinished};
    use snapshots::statedir::StateDir;
    let size = 3_000_000;
    let (sim, engine, dir) = start(one_app(size)).await;
    let data = dir.path().join("data");
    let out = folder(dir.path(), "Backups");
    engine.keep_unfinished(true);
    let r = engine.resource(&id(0)).unwrap();
    // Make a snapshot to fetch, then fetch it slowly and stop in the middle.
    let (sink, _) = collect();
    engine
        .snapshot(
            vec![r.clone()],
            SnapshotOptions::default(),
            sink,
            &CancellationToken::new(),
        )
        .await;
    cap_each(&sim, 500_000);
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        stop.cancel();
    });
    let (sink, _) = collect();
    let cut = engine.download(&r, None, Some(&out), sink, &cancel).await;
    assert_eq!(
        cut.as_ref().map_err(EngineError::code).err(),
        Some("cancelled"),
        "{cut:?}"
    );
    let recorded: Unfinished = StateDir::open(&data).unwrap().read(UNFINISHED).unwrap();
    assert_eq!(recorded.downloads.len(), 1);
    assert_eq!(recorded.downloads[0].dir, out);
    drop(engine);

    // The next start: full speed, from where it stopped.
    sim.clear_faults();
    let from = sim.requests().len();
    let again = engine_on(&sim, &data, |_| {}).await;
    again.keep_unfinished(true);
    let (sink, _) = collect();
    let done = again
        .resume_unfinished(sink, &CancellationToken::new())
        .await;
    assert_eq!(done.len(), 1);
    let file = done[0].1.as_ref().unwrap().path.clone();
    assert!(file.starts_with(&out));
    let ranges: Vec<_> = sim.requests()[from..]
        .iter()
        .filter(|q| q.host == squarecloud_sim::Target::Files)
        .map(|q| q.range.clone())
        .collect();
    assert!(
        !ranges.is_empty()
            && ranges
                .iter()
                .all(|r| r.as_deref().is_some_and(|r| !r.starts_with("bytes=0-"))),
        "not gone on with from the .part: {ranges:?}"
    );
    assert_eq!(std::fs::metadata(&file).unwrap().len(), size);
    snapshots::verify::verify_zip(&file, Some(size), true).unwrap();
    let left: Unfinished = StateDir::open(&data).unwrap().read(UNFINISHED).unwrap();
    assert!(left.downloads.is_empty(), "{left:?}");

    // A user's stop forgets; a snapshot the server no longer lists is forgotten.
    StateDir::open(&data)
        .unwrap()
        .update(UNFINISHED, |u: &mut Unfinished| {
            let mut d = recorded.downloads[0].clone();
            d.version = "gone".into();
            u.start(d);
        })
        .unwrap();
    let (sink, _) = collect();
    let done = again
        .resume_unfinished(sink, &CancellationToken::new())
        .await;
    assert!(done[0].1.is_err());
    let left: Unfinished = StateDir::open(&data).unwrap().read(UNFINISHED).unwrap();
    assert!(left.downloads.is_empty(), "{left:?}");
    StateDir::open(&data)
        .unwrap()
        .update(UNFINISHED, |u: &mut Unfinished| {
            u.start(recorded.downloads[0].clone())
        })
        .unwrap();
    again.forget_unfinished().unwrap();
    let left: Unfinished = StateDir::open(&data).unwrap().read(UNFINISHED).unwrap();
    assert!(left.downloads.is_empty());
}
