//! Trust, second pass: what a careful attacker on the same computer or an unkind host finds.
//! Each test names the item of the issue it covers; each fails on a4040b1.
//! The items checked through `sqsnap` are in `crates/sqsnap/tests/with_engine/trust2.rs`.

mod common;

use common::*;
use snapshots::download::Downloader;
use snapshots::squarecloud::ApiKey;
use snapshots::{Engine, EngineConfig, EngineError};
use squarecloud_sim::{FaultKind, FaultSpec, SimConfig, Simulator, Target};
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const APP: &str = "00000000000000000000000000000000";
const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// An engine on `sim` in `data`, with `dl` as its downloader and `floor` as the least bound
/// of a fresh snapshot's size.
async fn engine(sim: &Simulator, data: &Path, dl: Downloader, floor: u64) -> Engine {
    let mut cfg = EngineConfig::new(sim.api_url(), data);
    cfg.files_url = Some(sim.files_url());
    cfg.limits = limits_of(sim);
    cfg.fresh_size_floor = floor;
    Engine::connect(cfg, ApiKey::new(KEY).unwrap())
        .await
        .unwrap()
        .with_downloader(dl)
}

fn quick() -> Downloader {
    Downloader::new()
        .with_read_idle(Duration::from_millis(500))
        .with_retries(6, Duration::from_millis(20))
}

/// Several connections from 64 KiB up.
fn split() -> Downloader {
    quick().with_connections(4, 64 * KIB)
}

fn file_gets(sim: &Simulator) -> usize {
    sim.requests()
        .iter()
        .filter(|q| q.host == Target::Files && q.method == "GET")
        .count()
}

/// 4. A file host that answers every request with a part it was not asked for (or a 416)
/// made the single stream start over forever (21,564 requests in 5 s). Every retry now
/// spends the same bounded budget, with backoff; the folder keeps nothing.
#[tokio::test]
async fn item4_a_bad_partial_answer_spends_attempts_and_ends() {
    let sim = Simulator::start(one_app(200 * KIB)).await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let cases = [
        (206, "bytes 5-9/100", 5),
        (206, "bytes 0-9/100", 10),
        (416, "bytes */100", 0),
        (206, "nonsense", 10),
    ];
    for (i, (status, range, body)) in cases.into_iter().enumerate() {
        for (how, dl) in [("one stream", quick()), ("ranged", split())] {
            let e = engine(&sim, &root.path().join(format!("data{i}{how}")), dl, MIB).await;
            let out = folder(root.path(), &format!("out{i}{how}"));
            sim.clear_faults();
            sim.inject(
                FaultSpec::new(
                    Target::Files,
                    FaultKind::BadPartial {
                        status,
                        content_range: range.into(),
                        body_bytes: body,
                    },
                )
                .times(None),
            );
            let before = file_gets(&sim);
            let began = Instant::now();
            let r = e.resource(APP).unwrap();
            let err = download_latest(&e, &r, &out).await;
            let gets = file_gets(&sim) - before;
            assert!(err.is_err(), "{status} {range} {how}: {err:?}");
            assert!(
                gets <= 8,
                "{status} {range} {how}: {gets} requests for one download"
            );
            assert!(began.elapsed() < Duration::from_secs(30));
            assert!(
                listing(&out).iter().all(|n| !n.ends_with(".zip")),
                "{:?}",
                listing(&out)
            );
        }
    }
}

/// 6. Backups hold source code, `.env` files and database dumps: the archive, a `.part` and
/// its sidecar left by a stopped download, and the data dir with its state are the user's
/// alone, whatever the umask.
#[tokio::test]
async fn item6_backups_and_state_are_readable_by_their_owner_alone() {
    let sim = Simulator::start(one_app(2 * MIB)).await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let e = engine(&sim, &data, split(), MIB).await;
    let r = e.resource(APP).unwrap();
    let out = folder(root.path(), "out");
    let d = download_latest(&e, &r, &out).await.unwrap();
    assert_eq!(mode(&d.path), 0o600, "{}", d.path.display());
    assert_eq!(mode(&data), 0o700);
    for f in listing(&data) {
        let p = data.join(&f);
        if p.is_file() {
            assert_eq!(mode(&p), 0o600, "{f}");
        }
    }
    // A download stopped half way: its .part and sidecar.
    let stopped = folder(root.path(), "stopped");
    sim.inject(
        FaultSpec::new(
            Target::Files,
            FaultKind::Bandwidth {
                bytes_per_sec: 256 * KIB,
            },
        )
        .times(None),
    );
    // Stopped once bytes have arrived, however slow the machine is to get there.
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    let sink: snapshots::EventSink = std::sync::Arc::new(move |ev| {
        if let snapshots::Event::Downloading { progress, .. } = ev
            && progress.bytes > 0
        {
            c2.cancel();
        }
    });
    let res = e.download(&r, None, Some(&stopped), sink, &cancel).await;
    assert!(res.is_err(), "{res:?}");
    let names = listing(&stopped);
    assert!(
        names.iter().any(|n| n.ends_with(".part")),
        "{names:?} {res:?}"
    );
    assert!(names.iter().any(|n| n.ends_with(".part.json")), "{names:?}");
    for n in names {
        assert_eq!(mode(&stopped.join(&n)), 0o600, "{n}");
    }
}

/// The archive's name in a folder, learnt by downloading it once elsewhere.
async fn archive_name(e: &Engine, root: &Path) -> String {
    let r = e.resource(APP).unwrap();
    let learn = folder(root, "learn");
    let d = download_latest(e, &r, &learn).await.unwrap();
    d.path.file_name().unwrap().to_str().unwrap().to_string()
}

/// 7. Names the engine writes are predictable (`<name>_<id>_<time>.zip`), so someone who
/// can write in the folder can plant them. A link or someone else's file under the `.part`
/// or the sidecar's name is refused with a clear error and never written through; one under
/// the sidecar's temporary name or the final name is left alone.
#[tokio::test]
async fn item7_planted_names_are_never_written_through() {
    let sim = Simulator::start(one_app(512 * KIB)).await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let e = engine(&sim, &root.path().join("data"), split(), MIB).await;
    let name = archive_name(&e, root.path()).await;
    let victim = root.path().join("victim");
    let precious = b"someone else's file".to_vec();
    let r = e.resource(APP).unwrap();
    // SAFETY: no preconditions.
    let root_user = unsafe { libc::geteuid() } == 0;

    type Plant = fn(&Path, &Path, &str);
    let refused: Vec<(&str, Plant, &str)> = vec![
        (
            ".part as a link",
            |dir, victim, name| symlink(victim, dir.join(format!("{name}.part"))).unwrap(),
            "symbolic link",
        ),
        (
            ".part as a hard link",
            |dir, victim, name| {
                std::fs::hard_link(victim, dir.join(format!("{name}.part"))).unwrap()
            },
            "another name",
        ),
        (
            "sidecar as a link",
            |dir, victim, name| symlink(victim, dir.join(format!("{name}.part.json"))).unwrap(),
            "symbolic link",
        ),
        (
            "sidecar's temporary file as a link",
            |dir, victim, name| symlink(victim, dir.join(format!("{name}.part.json.tmp"))).unwrap(),
            "symbolic link",
        ),
    ];
    for (i, (what, plant, why)) in refused.into_iter().enumerate() {
        std::fs::write(&victim, &precious).unwrap();
        let dir = folder(root.path(), &format!("refused{i}"));
        plant(&dir, &victim, &name);
        let before = listing(&dir);
        let err = download_latest(&e, &r, &dir).await.unwrap_err();
        assert_eq!(err.code(), "folder", "{what}: {err}");
        let text = err.to_string();
        assert!(
            text.contains(why) && text.contains("nothing was written"),
            "{what}: {text}"
        );
        assert_eq!(std::fs::read(&victim).unwrap(), precious, "{what}");
        assert_eq!(listing(&dir), before, "{what}: the folder is as it was");
    }
    if root_user {
        let dir = folder(root.path(), "theirs");
        let theirs = dir.join(format!("{name}.part"));
        std::fs::write(&theirs, b"theirs").unwrap();
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
        let err = download_latest(&e, &r, &dir).await.unwrap_err();
        assert!(err.to_string().contains("another user"), "{err}");
        assert_eq!(std::fs::read(&theirs).unwrap(), b"theirs");
    }

    // Left alone, and the download still lands, under a name of its own.
    let tolerated: Vec<(&str, Plant)> = vec![
        ("final name as a link", |dir, victim, name| {
            symlink(victim, dir.join(name)).unwrap()
        }),
        ("final name as a dangling link", |dir, _, name| {
            symlink(dir.join("nowhere"), dir.join(name)).unwrap()
        }),
    ];
    for (i, (what, plant)) in tolerated.into_iter().enumerate() {
        std::fs::write(&victim, &precious).unwrap();
        let dir = folder(root.path(), &format!("tolerated{i}"));
        plant(&dir, &victim, &name);
        let d = download_latest(&e, &r, &dir).await.unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), precious, "{what}");
        assert!(!dir.join("nowhere").exists(), "{what}");
        assert!(
            !std::fs::symlink_metadata(&d.path).unwrap().is_symlink(),
            "{what}"
        );
        assert_eq!(mode(&d.path), 0o600, "{what}");
    }
}

/// 13. A freshly created snapshot has no listed size. A host that keeps sending (a chunked
/// answer without end) is stopped at a bound learnt from the resource's sizes, and the
/// folder is left as it was: nothing under any name.
#[tokio::test]
async fn item13_an_endless_answer_for_a_fresh_snapshot_is_stopped() {
    let sim = Simulator::start(one_app(100 * KIB)).await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let e = engine(&sim, &root.path().join("data"), quick(), MIB).await;
    let r = e.resource(APP).unwrap();
    // Four times the largest seen (100 KiB) is under the floor: the floor (1 MiB) holds.
    e.versions(&r).await.unwrap();
    assert_eq!(e.fresh_size_cap(APP), MIB);
    let out = folder(root.path(), "out");
    sim.inject(FaultSpec::new(Target::Files, FaultKind::Chunked { bytes: 64 * MIB }).times(None));
    // A list that does not show the new snapshot yet: the create's own URL is fetched, with
    // no size to hold it to.
    sim.inject(
        FaultSpec::new(
            Target::Api,
            FaultKind::StaleList {
                newer_than_secs: 3600.0,
            },
        )
        .on_method("GET")
        .times(None),
    );
    let (sink, _) = collect();
    let res = e
        .snapshot(vec![r], download_to(&out), sink, &CancellationToken::new())
        .await;
    let err = res[0].outcome.as_ref().unwrap_err();
    assert!(
        matches!(err, EngineError::Download(_))
            && err.to_string().contains("kept sending past 1.0 MiB"),
        "{err}"
    );
    assert!(listing(&out).is_empty(), "{:?}", listing(&out));
}

/// 14. Two processes on one data dir each kept 75 % of the plan's per-minute cap: together
/// 150 %, two 429s and a 30-minute block. Their calls are now counted in one record.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn item14_two_processes_share_one_per_minute_budget() {
    let mut account = squarecloud_sim::AccountSpec::demo();
    account.plan = "hobby-2".into(); // 60 a minute
    let mut c = SimConfig::new(KEY, account).instant_creates();
    // A minute is 3 s: a loaded machine delaying a request by a few hundred milliseconds
    // does not crowd one server minute (on the real one's 60 s such delays do not count).
    c.time_scale = 20.0;
    let sim = Simulator::start(c).await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let a = engine(&sim, &data, quick(), MIB).await;
    let b = engine(&sim, &data, quick(), MIB).await;
    let r = a.resources()[0].clone();
    let began = Instant::now();
    let run = |e: Engine, r: snapshots::ResourceRef| async move {
        for _ in 0..50 {
            e.versions(&r).await.unwrap();
        }
    };
    tokio::join!(run(a, r.clone()), run(b, r));
    let refused = sim.requests().iter().filter(|q| q.status == 429).count();
    assert_eq!(refused, 0, "no call was refused");
    // 100 calls at 45 a (scaled) minute take over two of them.
    assert!(
        began.elapsed() >= Duration::from_secs(6),
        "{:?}",
        began.elapsed()
    );
}

/// 15. A block met by a list (not a create) was not recorded: the next process called the
/// API during it. Any call that meets it now stops every process, this one's siblings and
/// the next to start, without sending anything.
#[tokio::test]
async fn item15_a_block_met_by_any_call_stops_every_process() {
    let mut c = SimConfig::new(KEY, tiny_account(1, 4096, 5_000)).instant_creates();
    c.limits.per_minute = 4; // connect, connect, two lists; the third list is blocked
    let sim = Simulator::start(c).await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let a = engine(&sim, &data, quick(), MIB).await;
    let b = engine(&sim, &data, quick(), MIB).await;
    let r = a.resource(APP).unwrap();
    let mut blocked = false;
    for _ in 0..4 {
        match a.versions(&r).await {
            Ok(_) => {}
            Err(e) => {
                assert!(matches!(e, EngineError::RateLimited { .. }), "{e}");
                blocked = true;
                break;
            }
        }
    }
    assert!(blocked, "the simulator's cap was met");
    let sent = sim.requests().len();
    // The sibling process refuses at once, unsent.
    assert!(b.versions(&r).await.is_err());
    assert!(
        b.download(
            &r,
            None,
            Some(root.path()),
            collect().0,
            &CancellationToken::new()
        )
        .await
        .is_err()
    );
    // So does the next process to start.
    let mut cfg = EngineConfig::new(sim.api_url(), &data);
    cfg.files_url = Some(sim.files_url());
    let e = Engine::connect(cfg, ApiKey::new(KEY).unwrap())
        .await
        .err()
        .unwrap();
    assert!(matches!(e, EngineError::RateLimited { .. }), "{e}");
    assert_eq!(sim.requests().len(), sent, "nothing sent during the block");
}

/// 5. A create whose answer was lost is never sent again, and its list is watched for up
/// to 35 minutes: the event says until when, and the user can stop waiting for that one
/// resource alone (the window's Stop waiting), which ends its job at once, sending nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item5_a_lost_answer_says_until_when_and_can_be_stopped() {
    let sim = Simulator::start(one_app(5_000)).await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let mut cfg = EngineConfig::new(sim.api_url(), root.path().join("data"));
    cfg.files_url = Some(sim.files_url());
    cfg.limits = limits_of(&sim);
    cfg.limits.poll_total = Duration::from_secs(35 * 60);
    let e = std::sync::Arc::new(
        Engine::connect(cfg, ApiKey::new(KEY).unwrap())
            .await
            .unwrap()
            .with_downloader(quick()),
    );
    sim.inject(
        FaultSpec::new(Target::Api, FaultKind::ResetAfter { bytes: 5 })
            .on_path("/snapshots")
            .on_method("POST"),
    );
    // The list never shows it (as a list cached for 30 minutes does not).
    sim.inject(
        FaultSpec::new(
            Target::Api,
            FaultKind::StaleList {
                newer_than_secs: 36_000.0,
            },
        )
        .on_method("GET")
        .times(None),
    );
    let r = e.resource(APP).unwrap();
    let (sink, events) = collect();
    let out = folder(root.path(), "out");
    let job = {
        let (e, out) = (e.clone(), out.clone());
        tokio::spawn(async move {
            e.snapshot(vec![r], download_to(&out), sink, &CancellationToken::new())
                .await
        })
    };
    let began = Instant::now();
    let until = loop {
        let seen = events.lock().unwrap().iter().find_map(|ev| match ev {
            snapshots::Event::Processing {
                answer_lost: true,
                until,
                ..
            } => Some(*until),
            _ => None,
        });
        if let Some(u) = seen {
            break u;
        }
        assert!(
            began.elapsed() < Duration::from_secs(20),
            "no processing event"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let ahead = until - chrono::Utc::now();
    assert!(
        ahead > chrono::Duration::minutes(34) && ahead <= chrono::Duration::minutes(35),
        "{ahead}"
    );
    // Stop waiting: the watch may not have registered yet when the event arrives.
    while !e.stop_waiting(APP) {
        assert!(began.elapsed() < Duration::from_secs(20));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let res = tokio::time::timeout(Duration::from_secs(10), job)
        .await
        .expect("stopping ends the job at once")
        .unwrap();
    let err = res[0].outcome.as_ref().unwrap_err();
    assert!(matches!(err, EngineError::StoppedWaiting), "{err}");
    assert!(err.to_string().contains("No second snapshot was requested"));
    assert_eq!(accepted_creates(&sim), 1, "never sent again");
    assert!(!e.stop_waiting(APP), "nothing left to stop");
}

/// 1 (the same flaw in creates). An in-flight create record named its engine by pid: a
/// record left by a process that is gone, whose pid is now someone else's (here: this very
/// process's), made every later run wait for a create that nobody serves. Records now name
/// the engine's claim lock, which dies with it.
#[tokio::test]
async fn item1_an_in_flight_record_of_a_gone_engine_is_not_waited_for() {
    // A resource window of 3 s: a gone engine's create is looked for that long at most.
    let mut c = one_app(5_000);
    c.time_scale = 60.0;
    let sim = Simulator::start(c).await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let e = engine(&sim, &data, quick(), MIB).await;
    let state = snapshots::statedir::StateDir::open(&data).unwrap();
    state
        .update("ledger.json", |l: &mut snapshots::ledger::Ledger| {
            l.in_flight.insert(
                APP.into(),
                snapshots::ledger::InFlight {
                    account: "gone".into(),
                    owner: "4242-00000000deadbeef".into(),
                    // A live pid: the old check took this for a running engine.
                    pid: std::process::id(),
                    since: chrono::Utc::now(),
                    holder: Some("4242-00000000deadbeef".into()),
                },
            );
        })
        .unwrap();
    let r = e.resource(APP).unwrap();
    let out = folder(root.path(), "out");
    let (sink, events) = collect();
    let res = tokio::time::timeout(
        Duration::from_secs(60),
        e.snapshot(vec![r], download_to(&out), sink, &CancellationToken::new()),
    )
    .await
    .expect("not held by a record nobody serves");
    assert!(res[0].outcome.is_ok(), "{:?}", res[0].outcome);
    assert!(
        !events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, snapshots::Event::Joined { .. })),
        "it did not wait for the gone engine"
    );
    assert_eq!(accepted_creates(&sim), 1);
}

/// 17. A sidecar is read from disk, where a range may be reversed, overlap another or lie
/// past the end: its ranges were summed unchecked (a panic in debug builds, a wrap in
/// release). They are merged first, and the download finishes byte-identical.
#[tokio::test]
async fn item17_a_garbled_sidecar_neither_panics_nor_wraps() {
    let size = 512 * KIB;
    let sim = Simulator::start(one_app(size)).await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let e = engine(&sim, &root.path().join("data"), split(), MIB).await;
    let name = archive_name(&e, root.path()).await;
    let r = e.resource(APP).unwrap();
    for (i, done) in [
        serde_json::json!([[10, 5]]),
        serde_json::json!([[0, 100], [50, 200], [100, 150]]),
        serde_json::json!([[0, u64::MAX], [u64::MAX - 1, u64::MAX]]),
    ]
    .into_iter()
    .enumerate()
    {
        let dir = folder(root.path(), &format!("garbled{i}"));
        std::fs::write(dir.join(format!("{name}.part")), vec![0u8; 300]).unwrap();
        let side = serde_json::json!({"file": name, "total": size, "etag": null,
            "last_modified": null, "done": done});
        std::fs::write(dir.join(format!("{name}.part.json")), side.to_string()).unwrap();
        // Ranges said done that hold zeros fail the whole-file check made after such a
        // resume (the file is deleted, the error says so); the next try starts clean.
        let d = match download_latest(&e, &r, &dir).await {
            Ok(d) => d,
            Err(err) => {
                assert_eq!(err.code(), "verify", "{done}: {err}");
                assert!(listing(&dir).iter().all(|n| !n.ends_with(".zip")));
                download_latest(&e, &r, &dir).await.unwrap()
            }
        };
        let newest = sim.versions(APP).last().unwrap().clone();
        assert_eq!(
            std::fs::read(&d.path).unwrap(),
            sim.archive(APP, &newest).unwrap(),
            "{done}"
        );
    }
}
