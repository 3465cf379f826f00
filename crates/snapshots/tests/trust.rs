//! Trust: the quota is never spent twice, a backup is never mislabelled, nothing hangs.
//! Each test names the item of the trust issue it covers.

mod common;

use common::*;
use snapshots::download::Downloader;
use snapshots::ledger::{Ledger, WindowRule};
use snapshots::{EngineError, Event, SnapshotOptions};
use squarecloud_sim::{AccountSpec, FaultKind, FaultSpec, SimConfig, Target};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const ATLAS: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

fn demo() -> SimConfig {
    SimConfig::new(KEY, AccountSpec::demo()).instant_creates()
}

fn zips(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "zip"))
        .collect();
    v.sort();
    v
}

fn ledger_of(data: &std::path::Path) -> Ledger {
    serde_json::from_slice(&std::fs::read(data.join("data/ledger.json")).unwrap()).unwrap()
}

/// 1. The server accepts a create, then the answer is lost: exactly one accepted create, and
/// the new snapshot (found through the list) is on disk.
#[tokio::test]
async fn a_lost_answer_never_spends_the_quota_twice() {
    let (sim, engine, dir) = start(demo()).await;
    sim.inject(
        FaultSpec::new(Target::Api, FaultKind::ResetAfter { bytes: 5 })
            .on_path("/snapshots")
            .on_method("POST"),
    );
    let r = engine.resource(ATLAS).unwrap();
    let (sink, events) = collect();
    let res = engine
        .snapshot(
            vec![r],
            download_to(dir.path()),
            sink,
            &CancellationToken::new(),
        )
        .await;
    let out = res[0].outcome.as_ref().unwrap();
    let posts = sim.requests().iter().filter(|q| q.method == "POST").count();
    assert_eq!(posts, 1, "one requested snapshot, one POST");
    let newest = sim.created_versions(ATLAS).last().unwrap().clone();
    let file = &out.download.as_ref().unwrap().path;
    assert_eq!(
        std::fs::read(file).unwrap(),
        sim.archive(ATLAS, &newest).unwrap()
    );
    assert!(events.lock().unwrap().iter().any(|e| matches!(
        e,
        Event::Processing {
            answer_lost: true,
            ..
        }
    )));
    // Still counted once in the quota.
    assert_eq!(engine.quota().used, 1);
}

/// 2. The create's URL is refused and the list is stale: the engine waits for the new
/// version to be listed; it never saves the previous snapshot under the new one's name.
#[tokio::test]
async fn a_stale_list_never_puts_an_older_archive_under_a_new_name() {
    let (sim, engine, dir) = start(demo()).await;
    let older = sim.versions(ATLAS);
    sim.inject(FaultSpec::new(Target::Files, FaultKind::ExpiredSignature));
    sim.inject(
        FaultSpec::new(
            Target::Api,
            FaultKind::StaleList {
                newer_than_secs: 1.5,
            },
        )
        .on_path("/snapshots")
        .on_method("GET")
        .times(Some(3)),
    );
    let r = engine.resource(ATLAS).unwrap();
    let (sink, _) = collect();
    let res = engine
        .snapshot(
            vec![r],
            download_to(dir.path()),
            sink,
            &CancellationToken::new(),
        )
        .await;
    let out = res[0].outcome.as_ref().unwrap();
    let newest = sim.created_versions(ATLAS).last().unwrap().clone();
    assert!(!older.contains(&newest));
    let bytes = std::fs::read(&out.download.as_ref().unwrap().path).unwrap();
    assert_eq!(bytes, sim.archive(ATLAS, &newest).unwrap());
    for old in older {
        assert_ne!(bytes, sim.archive(ATLAS, &old).unwrap());
    }
}

/// 2. A list that never shows the new version: a clear error and no file, not an old one.
#[tokio::test]
async fn a_list_that_never_shows_the_new_snapshot_is_a_clear_error() {
    let (sim, engine, dir) = start_with(demo(), |l| {
        l.poll_total = Duration::from_millis(600);
        l.poll_initial = Duration::from_millis(50);
    })
    .await;
    sim.inject(FaultSpec::new(Target::Files, FaultKind::ExpiredSignature).times(None));
    sim.inject(
        FaultSpec::new(
            Target::Api,
            FaultKind::StaleList {
                newer_than_secs: 3600.0,
            },
        )
        .on_method("GET")
        .on_path("/snapshots")
        .times(None),
    );
    let r = engine.resource(ATLAS).unwrap();
    let (sink, _) = collect();
    let res = engine
        .snapshot(
            vec![r],
            download_to(dir.path()),
            sink,
            &CancellationToken::new(),
        )
        .await;
    let e = res[0].outcome.as_ref().unwrap_err();
    assert_eq!(e.code(), "rejected", "{e}");
    assert!(
        zips(dir.path()).is_empty(),
        "no older archive under the new name"
    );
}

/// 3. A folder that does not exist is found before anything is sent.
#[tokio::test]
async fn a_missing_folder_spends_no_quota() {
    let (sim, engine, dir) = start(demo()).await;
    let r = engine.resource(ATLAS).unwrap();
    let (sink, _) = collect();
    let res = engine
        .snapshot(
            vec![r],
            download_to(&dir.path().join("missing")),
            sink,
            &CancellationToken::new(),
        )
        .await;
    assert_eq!(res[0].outcome.as_ref().unwrap_err().code(), "folder");
    assert!(sim.requests().iter().all(|q| q.method != "POST"));
}

/// 5. The same resource asked for twice at once in one engine: one create, both answered.
#[tokio::test]
async fn a_second_request_joins_the_job_already_running() {
    let mut c = demo();
    c.generation_time = Duration::from_millis(500);
    let (sim, engine, dir) = start(c).await;
    let r = engine.resource(ATLAS).unwrap();
    let (sink, _) = collect();
    let cancel = CancellationToken::new();
    let (a, b) = tokio::join!(
        engine.snapshot(
            vec![r.clone()],
            download_to(dir.path()),
            sink.clone(),
            &cancel
        ),
        async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            engine
                .snapshot(
                    vec![r.clone()],
                    download_to(dir.path()),
                    sink.clone(),
                    &cancel,
                )
                .await
        }
    );
    assert_eq!(accepted_creates(&sim), 1);
    assert!(a[0].outcome.is_ok() && b[0].outcome.as_ref().unwrap().joined);
    assert_eq!(zips(dir.path()).len(), 1);
}

/// 5. Two engines (as the app and a cron run) on one data dir: one create; the second
/// waits for the first and downloads what it made, into the same file.
#[tokio::test]
async fn two_engines_on_one_data_dir_send_one_create() {
    let mut c = demo();
    c.generation_time = Duration::from_millis(800);
    let (sim, first, dir) = start(c).await;
    let second = engine_on(&sim, &dir.path().join("data"), |_| {}).await;
    let r = first.resource(ATLAS).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let (sink, _) = collect();
    let (sink2, events2) = collect();
    let cancel = CancellationToken::new();
    let (a, b) = tokio::join!(
        first.snapshot(vec![r.clone()], download_to(&out), sink, &cancel),
        async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            second
                .snapshot(vec![r.clone()], download_to(&out), sink2, &cancel)
                .await
        }
    );
    assert_eq!(accepted_creates(&sim), 1);
    assert!(a[0].outcome.is_ok(), "{:?}", a[0].outcome);
    assert!(b[0].outcome.as_ref().unwrap().joined, "{:?}", b[0].outcome);
    assert!(
        events2
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::Joined { .. }))
    );
    assert_eq!(zips(&out).len(), 1, "one file, no second copy");
    assert!(
        !std::fs::read_dir(&out).unwrap().any(|e| e
            .unwrap()
            .path()
            .to_string_lossy()
            .ends_with(".part"))
    );
    assert_eq!(
        ledger_of(dir.path())
            .accounts
            .values()
            .next()
            .unwrap()
            .entries
            .len(),
        1
    );
}

/// 9. An error page that never ends is capped; a drip below the floor is resumed.
#[tokio::test]
async fn endless_error_bodies_and_drips_do_not_hang() {
    let (sim, engine, dir) = start(demo()).await;
    let r = engine.resource(ATLAS).unwrap();
    sim.inject(
        FaultSpec::new(
            Target::Files,
            FaultKind::HugeErrorBody {
                bytes: 50 * 1024 * 1024 * 1024,
            },
        )
        .times(None),
    );
    let (sink, _) = collect();
    let e = tokio::time::timeout(
        Duration::from_secs(30),
        engine.download(
            &r,
            None,
            Some(dir.path()),
            sink.clone(),
            &CancellationToken::new(),
        ),
    )
    .await
    .expect("a capped error body")
    .unwrap_err();
    assert!(e.to_string().len() < 2000, "{e}");

    // A fresh simulator for the drip, so no fault of the first half is left over.
    let sim2 = squarecloud_sim::Simulator::start(demo()).await.unwrap();
    let engine2 = engine_on(&sim2, &dir.path().join("data2"), |_| {})
        .await
        .with_downloader(
            Downloader::new()
                .with_read_idle(Duration::from_secs(5))
                .with_retries(6, Duration::from_millis(20))
                .with_floor(100_000, Duration::from_millis(500)),
        );
    // 2 KB a second: never silent long enough for the idle timeout, far below the floor.
    sim2.inject(FaultSpec::new(
        Target::Files,
        FaultKind::Bandwidth {
            bytes_per_sec: 2_000,
        },
    ));
    let out = dir.path().join("drip");
    std::fs::create_dir(&out).unwrap();
    let d = engine2
        .download(&r, None, Some(&out), sink, &CancellationToken::new())
        .await
        .unwrap();
    let newest = sim2.versions(ATLAS).last().unwrap().clone();
    assert_eq!(
        std::fs::read(&d.path).unwrap(),
        sim2.archive(ATLAS, &newest).unwrap()
    );
    let ranged = sim2
        .requests()
        .iter()
        .filter(|q| q.host == Target::Files && q.range.is_some())
        .count();
    assert!(ranged >= 1, "the drip was resumed with Range");
}

/// 8. A redirect to plain http off this computer is refused.
#[tokio::test]
async fn redirects_are_checked_at_every_hop() {
    let (sim, engine, dir) = start(demo()).await;
    let r = engine.resource(ATLAS).unwrap();
    let (sink, _) = collect();
    let stolen = || FaultKind::Redirect {
        location: "http://192.0.2.7/stolen.zip".into(),
    };
    // One refused hop is one failed attempt; the next (no fault) brings the right file.
    sim.inject(FaultSpec::new(Target::Files, stolen()));
    let d = engine
        .download(
            &r,
            None,
            Some(dir.path()),
            sink.clone(),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    let newest = sim.versions(ATLAS).last().unwrap().clone();
    assert_eq!(
        std::fs::read(&d.path).unwrap(),
        sim.archive(ATLAS, &newest).unwrap()
    );
    // A host that always redirects there: the downloader's own client refuses the hop
    // (never connecting to it), and the error says why.
    sim.inject(FaultSpec::new(Target::Files, stolen()).times(None));
    let out = dir.path().join("again");
    std::fs::create_dir(&out).unwrap();
    let e = engine
        .download(&r, None, Some(&out), sink, &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("refusing http://192.0.2.7"), "{e}");
    assert!(zips(&out).is_empty());
}

/// 12. A host that sends fewer bytes than the list promised, with a Content-Length that
/// matches what it sent: the rest is asked for with Range. One that never sends the rest is
/// a clear error, never a success, and nothing is under the final name.
#[tokio::test]
async fn a_short_file_is_resumed_or_a_clear_error_never_a_success() {
    let (sim, engine, dir) = start(demo()).await;
    sim.inject(FaultSpec::new(Target::Files, FaultKind::Truncate { bytes: 100_000 }).times(None));
    let r = engine.resource(ATLAS).unwrap();
    let d = download_latest(&engine, &r, dir.path()).await.unwrap();
    let newest = sim.versions(ATLAS).last().unwrap().clone();
    assert_eq!(
        std::fs::read(&d.path).unwrap(),
        sim.archive(ATLAS, &newest).unwrap()
    );
    let ranges: Vec<_> = sim.requests().into_iter().filter_map(|q| q.range).collect();
    assert_eq!(ranges, ["bytes=100000-"]);

    // Range ignored too: every answer is the same short start; the attempts run out.
    let out = dir.path().join("second");
    std::fs::create_dir(&out).unwrap();
    sim.inject(FaultSpec::new(Target::Files, FaultKind::IgnoreRange).times(None));
    let e = download_latest(&engine, &r, &out).await.unwrap_err();
    assert!(e.to_string().contains("closed early"), "{e}");
    assert!(zips(&out).is_empty());
}

/// 12b. A web page served with 200 in place of the archive (a captive portal) is said to
/// be one, at once, and nothing is saved.
#[tokio::test]
async fn a_web_page_instead_of_the_archive_is_named_and_not_saved() {
    let (sim, engine, dir) = start(demo()).await;
    sim.inject(FaultSpec::new(Target::Files, FaultKind::HtmlInsteadOfFile).times(None));
    let r = engine.resource(ATLAS).unwrap();
    let e = download_latest(&engine, &r, dir.path()).await.unwrap_err();
    assert!(e.to_string().contains("web page"), "{e}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "only the data dir"
    );
    let gets = sim
        .requests()
        .iter()
        .filter(|q| q.host == Target::Files)
        .count();
    assert_eq!(gets, 1, "no retries of a page");
}

/// 13. A damaged file already under the final name does not block the download, and is not
/// claimed to have been deleted.
#[tokio::test]
async fn a_damaged_file_under_the_final_name_does_not_block_retries() {
    let (sim, engine, dir) = start(demo()).await;
    let r = engine.resource(ATLAS).unwrap();
    let item = engine.versions(&r).await.unwrap()[0].clone();
    let name = snapshots::names::snapshot_file_name(&r.name, &r.id, item.modified);
    let blocker = dir.path().join(&name);
    std::fs::write(&blocker, vec![b'x'; item.size as usize]).unwrap();
    let d = download_latest(&engine, &r, dir.path()).await.unwrap();
    assert_ne!(d.path, blocker);
    let newest = sim.versions(ATLAS).last().unwrap().clone();
    assert_eq!(
        std::fs::read(&d.path).unwrap(),
        sim.archive(ATLAS, &newest).unwrap()
    );
    assert!(blocker.exists(), "left as it was");
}

/// 15. A RATE_LIMITED block is persisted: the next engine (a cron run) sends nothing.
#[tokio::test]
async fn a_rate_limited_block_outlives_the_process() {
    let mut c = SimConfig::new(KEY, tiny_account(3, 4096, 5_000)).instant_creates();
    c.limits.account_gap = Duration::from_millis(10);
    c.limits.per_minute = 5; // connect + 3 lists + 1 create; the next create is blocked
    let (sim, engine, dir) = start(c).await;
    let (sink, _) = collect();
    engine
        .snapshot(
            engine.resources(),
            SnapshotOptions::default(),
            sink,
            &CancellationToken::new(),
        )
        .await;
    assert!(sim.requests().iter().any(|q| q.status == 429));
    let before = sim.requests().len();
    drop(engine);
    let mut cfg = snapshots::EngineConfig::new(sim.api_url(), dir.path().join("data"));
    cfg.files_url = Some(sim.files_url());
    let e = snapshots::Engine::connect(cfg, snapshots::squarecloud::ApiKey::new(KEY).unwrap())
        .await
        .err()
        .unwrap();
    assert!(matches!(e, EngineError::RateLimited { .. }), "{e}");
    assert_eq!(
        sim.requests().len(),
        before,
        "nothing sent during the block"
    );
}

/// 18. A KEEP_CALM for a resource whose window looked open lengthens that resource's
/// window, persisted; the next create waits for it.
#[tokio::test]
async fn a_longer_resource_window_is_learned_and_kept() {
    let mut c = demo();
    c.time_scale = 120.0;
    c.limits.resource_gap = Duration::from_secs(300);
    // The engine assumes the documented 180 s.
    let (sim, engine, dir) = start_with(c, |l| {
        l.resource_gap = Duration::from_secs_f64(180.0 / 120.0);
    })
    .await;
    let r = engine.resource(ATLAS).unwrap();
    let (sink, events) = collect();
    let cancel = CancellationToken::new();
    for _ in 0..2 {
        let res = engine
            .snapshot(
                vec![r.clone()],
                SnapshotOptions::default(),
                sink.clone(),
                &cancel,
            )
            .await;
        assert!(res[0].outcome.is_ok(), "{:?}", res[0].outcome);
    }
    let refused = sim.requests().iter().filter(|q| q.status == 429).count();
    assert_eq!(refused, 1, "one refusal to learn it");
    let ledger = ledger_of(dir.path());
    let learned = &ledger.accounts.values().next().unwrap().learned;
    // Twice the assumed window (180 s, that is 1.5 s on this clock): 360 s.
    assert_eq!(learned.resource_gaps_ms.get(ATLAS), Some(&3000));
    assert!(
        events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::Learned { .. }))
    );
}

/// 19. The engine paces every call under the plan's per-minute cap.
#[tokio::test]
async fn many_reads_never_meet_the_per_minute_cap() {
    let mut account = AccountSpec::demo();
    account.plan = "hobby-2".into(); // 60 a minute
    let mut c = SimConfig::new(KEY, account).instant_creates();
    c.time_scale = 60.0; // a minute is a second
    let (sim, engine, _dir) = start(c).await;
    let r = engine.resource(ATLAS).unwrap();
    for _ in 0..120 {
        engine.versions(&r).await.unwrap();
    }
    assert!(sim.requests().iter().all(|q| q.status != 429));
}

/// Issue 12: creates in flight together. Arrival rule: nothing refused, the ledger and the
/// meter count what the server counted, and the run takes less than half of one create at a
/// time (about 6× the bound). How close it comes to (n − 1) × 5 s + the last create's
/// generation (within 5 %) is measured by `make bench` at 5×, not asserted here: on this 20×
/// clock the bound is under 5 real seconds, and a loaded machine's 3 s stalls (seen once:
/// 160 s against 97 s) would fail a run that pipelined as it should.
#[tokio::test]
async fn snapshot_all_pipelines_creates_under_the_arrival_rule() {
    let (makespan, bound, refused, ledger, accepted) =
        pipelined_run(squarecloud_sim::WindowRule::Arrival).await;
    assert_eq!(refused, 0);
    // One at a time: each create waits for the one before it, and for its 5 s window.
    let one_at_a_time: f64 = generation_times().iter().map(|g| g.max(5.0)).sum();
    assert!(
        makespan <= one_at_a_time / 2.0,
        "{makespan:.1} s (bound {bound:.1} s) vs one at a time {one_at_a_time:.1} s"
    );
    assert_eq!(ledger, accepted);
    assert_eq!(accepted, 20);
}

/// Issue 12: a server that counts from the answer costs one refused request to learn.
#[tokio::test]
async fn snapshot_all_learns_the_answer_rule_with_one_refusal() {
    let (makespan, bound, refused, ledger, accepted) =
        pipelined_run(squarecloud_sim::WindowRule::Answer).await;
    assert!(refused <= 1, "{refused} refused");
    assert!(
        makespan <= bound * 1.5,
        "{makespan:.1} s vs bound {bound:.1} s"
    );
    assert_eq!(ledger, accepted);
    assert_eq!(accepted, 20);
}

/// The 20 resources' generation times in sim seconds: 2 s plus up to 57 s by size, in a
/// shuffled order.
fn generation_times() -> Vec<f64> {
    (0..20)
        .map(|i| 2.0 + ((i * 37) % 20) as f64 * 3.0)
        .collect()
}

/// 20 resources with generation times from 2 to 59 s (by size), on a clock 20× real time.
/// Returns (makespan, bound, refused, ledger count, accepted count), times in sim seconds.
async fn pipelined_run(rule: squarecloud_sim::WindowRule) -> (f64, f64, usize, usize, usize) {
    const RATE: u64 = 1024 * 1024;
    let mut account = tiny_account(20, 16384, 0);
    let gens = generation_times();
    for (a, g) in account.applications.iter_mut().zip(&gens) {
        a.snapshot_size = (*g as u64 - 2) * RATE + 1000;
    }
    let mut c = SimConfig::new(KEY, account);
    c.time_scale = 20.0;
    c.generation_time = Duration::from_secs(2);
    c.generation_bytes_per_sec = RATE;
    c.limits.window_rule = rule;
    let (sim, engine, dir) = start(c).await;
    let scale = sim.config().time_scale;
    let (sink, _) = collect();
    let t0 = std::time::Instant::now();
    let res = engine
        .snapshot(
            engine.resources(),
            SnapshotOptions::default(),
            sink,
            &CancellationToken::new(),
        )
        .await;
    let makespan = t0.elapsed().as_secs_f64() * scale;
    assert!(res.iter().all(|r| r.outcome.is_ok()), "{res:?}");
    let n = gens.len() as f64;
    let bound = match rule {
        // Longest first is the best order: the last create is the quickest one.
        squarecloud_sim::WindowRule::Arrival => {
            (n - 1.0) * 5.0 + gens.iter().cloned().fold(f64::MAX, f64::min)
        }
        squarecloud_sim::WindowRule::Answer => (n - 1.0) * 5.0 + gens.iter().sum::<f64>(),
    };
    let refused = sim
        .requests()
        .iter()
        .filter(|q| q.method == "POST" && q.status == 429)
        .count();
    let ledger = ledger_of(dir.path());
    let counted = ledger.accounts.values().map(|a| a.entries.len()).sum();
    if rule == squarecloud_sim::WindowRule::Answer {
        let learned = &ledger.accounts.values().next().unwrap().learned;
        assert_eq!(learned.rule, WindowRule::Answer);
        assert!(learned.rule_evidence.is_some());
    }
    // The quota meter shows what the server counted, exactly.
    assert_eq!(engine.quota().used as usize, accepted_creates(&sim));
    (makespan, bound, refused, counted, accepted_creates(&sim))
}
