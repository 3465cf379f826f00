//! Plans against the simulator: a simulated week, the machine off for two days in the
//! middle, claims, retention, the reserve. The plan tests that also run `sqsnap` (`run-due`
//! twice in one period and killed half way, `plan install-timer`, a bad plans file) are in
//! `crates/sqsnap/tests/with_engine/plans.rs`.

mod common;
mod s3server;

use chrono::{
    DateTime, Datelike, Duration as CDuration, Local, NaiveTime, TimeZone, Timelike, Utc,
};
use common::*;
use snapshots::plans::{PlanKind, Plans, Retention, Schedule, Scope};
use squarecloud_sim::SimConfig;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The start of the daily period `t` falls in: the last `at` (local) at or before `t`.
fn day_start(t: DateTime<Utc>, at: NaiveTime) -> DateTime<Utc> {
    let local = t.with_timezone(&Local);
    let today = Local
        .from_local_datetime(&local.date_naive().and_time(at))
        .earliest()
        .unwrap()
        .with_timezone(&Utc);
    if today <= t {
        today
    } else {
        today - CDuration::days(1)
    }
}

/// Every instant at `at` local, on `weekday` (None: every day), in (from, to].
fn instants(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    at: NaiveTime,
    weekday: Option<u32>,
) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut d = from.with_timezone(&Local).date_naive() - CDuration::days(1);
    while d <= to.with_timezone(&Local).date_naive() + CDuration::days(1) {
        let x = Local
            .from_local_datetime(&d.and_time(at))
            .earliest()
            .unwrap()
            .with_timezone(&Utc);
        if x > from && x <= to && weekday.is_none_or(|w| d.weekday().num_days_from_monday() == w) {
            out.push(x);
        }
        d += CDuration::days(1);
    }
    out
}

/// A week on a clock running 36 000× (ten simulated hours a real second): one mirror plan
/// for all five resources every hour, one daily snapshot plan for three, one weekly for
/// one; the computer is off for two days in the middle. Every snapshot the server had when
/// the mirror last looked is on disk and in the library, exactly once; the quota spent is
/// exactly one create per resource per period the plans ran in, the missed days costing one
/// catch-up; nothing is refused.
#[tokio::test]
async fn a_simulated_week_of_plans() {
    let mut c = SimConfig::new(KEY, tiny_account(5, 4096, 20_000)).instant_creates();
    c.time_scale = 36_000.0;
    let (sim, engine, dir) = start(c).await;
    let out = dir.path().join("backups");
    std::fs::create_dir(&out).unwrap();
    let three = Scope::Resources {
        ids: (0..3).map(id).collect(),
    };
    let at3 = NaiveTime::from_hms_opt(3, 0, 0).unwrap();
    let at4 = NaiveTime::from_hms_opt(4, 0, 0).unwrap();
    let t_add = sim.clock().now();
    let weekday = (t_add.with_timezone(&Local).weekday().num_days_from_monday() + 2) % 7;
    for p in [
        plan("mirror", PlanKind::Mirror, Scope::All, Schedule::Hour, &out),
        plan(
            "daily",
            PlanKind::Snapshot,
            three,
            Schedule::Day { at: at3 },
            &out,
        ),
        plan(
            "weekly",
            PlanKind::Snapshot,
            Scope::Resources { ids: vec![id(4)] },
            Schedule::Week { weekday, at: at4 },
            &out,
        ),
    ] {
        // Planned against the simulated clock: the first period is the one it is added in.
        engine
            .update_plans(|plans: &mut Plans| plans.add(p, 5, 32, t_add.with_timezone(&Local)))
            .unwrap()
            .unwrap();
    }
    let (sink, _) = collect();
    let cancel = CancellationToken::new();
    // Days 0-3 on, then off for two days, then on again until a 02:00 UTC after day 7
    // (an hour before the next automatic snapshot, so the mirror has caught up).
    let t_off = t_add + CDuration::days(3);
    let t_on = t_off + CDuration::days(2);
    let mut t_end = t_add + CDuration::days(7);
    t_end = t_end + CDuration::hours(((26 - t_end.hour()) % 24) as i64);
    // Exactly 02:00, an hour before the server's automatic snapshots at 03:00 UTC: with the
    // start's minutes kept, runs started at :49 or later ended at 02:49+, and the checks
    // below, which take simulated minutes, met the 03:00 snapshot (seen 2026-11-26).
    t_end = t_end
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .expect("a time on the hour");
    let mut runs_at = Vec::new();
    let mut calls = Vec::new();
    // When the last call that ran the mirror began.
    let mut last_mirror = None;
    let mut engine = Some(engine);
    loop {
        let now = sim.clock().now();
        if now >= t_end {
            break;
        }
        if now >= t_off && now < t_on {
            if engine.take().is_some() {
                // The computer is off: no engine, no runs.
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        if engine.is_none() {
            engine = Some(engine_on(&sim, &dir.path().join("data"), |_| {}).await);
        }
        let e = engine.as_ref().unwrap();
        calls.push(now);
        for run in e.run_due(now, sink.clone(), &cancel).await.unwrap() {
            assert!(run.ok, "{run:?}");
            if run.plan == "mirror" {
                last_mirror = Some(now);
            }
            runs_at.push((run.plan.clone(), now));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let engine = engine.unwrap();
    // What the plans saw, before the checks below send lists of their own.
    let looked_by = sim.clock().now();
    let log = sim.requests();

    // Quota: one create per planned resource per period its plan ran in. The daily plan
    // runs once in each period (from 03:00) in which the computer was on and asked what was
    // due, except the one it was added in; days off cost one catch-up, in the first period
    // it is on again. Counted from the calls, not from the clock: a period that began just
    // before the computer went off, with no call between, is one of the missed ones (seen
    // when the week started just after 03:00).
    let added = day_start(t_add, at3);
    let daily = calls
        .iter()
        .map(|t| day_start(*t, at3))
        .filter(|p| *p != added)
        .collect::<BTreeSet<_>>()
        .len();
    let daily_runs = runs_at.iter().filter(|(p, _)| p == "daily").count();
    let weekly_runs = runs_at.iter().filter(|(p, _)| p == "weekly").count();
    // The weekly plan's day comes once in the week, on day 2, while the computer is on.
    let weekly = instants(t_add, t_end, at4, Some(weekday)).len();
    assert_eq!(weekly, 1);
    assert_eq!(weekly_runs, weekly, "{runs_at:?}");
    assert_eq!(daily_runs, daily, "one run per daily period: {runs_at:?}");
    assert!(
        runs_at.iter().any(|(p, t)| p == "daily" && *t >= t_on),
        "the daily plan caught up after the days off: {runs_at:?}"
    );
    assert_eq!(accepted_creates(&sim), 3 * daily + weekly);
    assert!(
        sim.requests().iter().all(|q| q.status != 429),
        "nothing refused"
    );

    // Every snapshot the server had when the mirror last looked is on disk and in the
    // library, once; none it could not have seen. `t_end` bounds when the last run began,
    // not what it saw: a run takes simulated time (most of an hour at this scale, hours on a
    // loaded machine: one begun at 01:51 ended at 10:55), and one that lists a resource after
    // the next automatic snapshot (03:00 UTC) rightly copies it. So each resource is judged
    // by when the last mirror run listed it, from the simulator's log: its first list in
    // the call that ran the mirror last (the mirror runs first; the daily and weekly plans
    // list again after their creates, and copy only what they made). That list was made
    // after the request was logged (`at`) and before the loop ended (`looked_by`): every
    // version ready by the first is here; every one here was ready by the second. The
    // lists below run on the simulated clock too: what they see after `looked_by` is not
    // one the plans could have seen.
    let last_mirror = last_mirror.expect("the mirror ran");
    let library = engine.library();
    for i in 0..5 {
        let path = format!("/v2/apps/{}/snapshots", id(i));
        let looked = log
            .iter()
            .filter(|q| q.at >= last_mirror && q.host == squarecloud_sim::Target::Api)
            .filter(|q| q.method == "GET" && q.path == path && q.status == 200)
            .map(|q| q.at)
            .min()
            .expect("the last mirror run listed it");
        let r = engine.resource(&id(i)).unwrap();
        let listed = engine.versions(&r).await.unwrap();
        // `modified` is in whole milliseconds: listed as ready a millisecond before the
        // look, a version was ready by then.
        let had: BTreeSet<String> = listed
            .iter()
            .filter(|x| x.modified + CDuration::milliseconds(1) <= looked)
            .filter_map(|x| x.version())
            .collect();
        let could: BTreeSet<String> = listed
            .iter()
            .filter(|x| x.modified <= looked_by)
            .filter_map(|x| x.version())
            .collect();
        let entries = library.for_resource(&id(i));
        for e in &entries {
            assert!(e.path.is_file(), "resource {i}: {e:?} is not on disk");
        }
        let local: Vec<String> = entries.iter().filter_map(|e| e.version.clone()).collect();
        let local_set: BTreeSet<String> = local.iter().cloned().collect();
        assert_eq!(local.len(), local_set.len(), "no version twice");
        let missing: Vec<_> = had.difference(&local_set).collect();
        assert!(
            missing.is_empty(),
            "resource {i}: listed at {looked} and not copied: {missing:?}"
        );
        let unseen: Vec<_> = local_set.difference(&could).collect();
        assert!(
            unseen.is_empty(),
            "resource {i}: copied, not on the server by {looked_by}: {unseen:?}"
        );
    }
    let files = std::fs::read_dir(&out).unwrap().count();
    assert_eq!(files, library.entries.len());
}

/// The newest first of each of the last `days` days and `weeks` ISO weeks (UTC) among
/// `versions` (newest first): the calendar rule, written again here to check the app's.
fn calendar(versions: &[(String, DateTime<Utc>)], days: usize, weeks: usize) -> BTreeSet<String> {
    let mut keep = BTreeSet::new();
    for (count, key) in [
        (
            days,
            &(|t: &DateTime<Utc>| t.date_naive().to_string()) as &dyn Fn(&DateTime<Utc>) -> String,
        ),
        (weeks, &|t: &DateTime<Utc>| format!("{:?}", t.iso_week())),
    ] {
        let mut seen = BTreeSet::new();
        for (v, t) in versions {
            if seen.len() < count && seen.insert(key(t)) {
                keep.insert(v.clone());
            }
        }
    }
    keep
}

/// A week on the scaled clock (36 000×) with local and offsite copies: two hourly mirror
/// plans send every copy to a real S3 server on loopback (s3s-fs, or the one
/// `SQSNAP_S3_SERVER` names) as `sqsnap run-due` does, and each plan's rule is applied to
/// the local folder and to the bucket separately (keep-last-3 for two resources, the
/// calendar's 3 days and 2 weeks for the third). At the end the folder and the bucket each
/// hold exactly what the rule keeps of every version the server had, every kept copy
/// verifies (the zip's CRCs here; the object's size and SHA-256 against the server's
/// archive there), nothing was uploaded or downloaded twice, and every version dropped
/// everywhere is remembered, so the mirror never brought one back.
#[tokio::test]
async fn a_simulated_week_with_local_and_offsite_copies() {
    use snapshots::library::{LIBRARY, Library, Rule};
    use snapshots::offsite::{OffsiteConfig, S3Client, keep, sync};
    let mut c = SimConfig::new(KEY, tiny_account(3, 4096, 20_000)).instant_creates();
    c.time_scale = 36_000.0;
    let (sim, engine, dir) = start(c).await;
    let s3 = s3server::start().await;
    let out = dir.path().join("backups");
    std::fs::create_dir(&out).unwrap();
    let cfg = OffsiteConfig {
        name: "lab".into(),
        endpoint: s3.endpoint.clone(),
        region: "us-east-1".into(),
        bucket: s3server::BUCKET.into(),
        prefix: "week".into(),
        path_style: true,
        access_key_id: s3server::AK.into(),
        encrypt: false,
    };
    let client = S3Client::new(cfg, s3server::SK.into()).unwrap();
    let state = snapshots::statedir::StateDir::open(&dir.path().join("data")).unwrap();
    let last3 = Retention::Last { n: 3 };
    let cal = Retention::Calendar {
        daily: 3,
        weekly: 2,
        monthly: 0,
    };
    let t_add = sim.clock().now();
    for (name, ids, retention) in [
        ("keep3", vec![id(0), id(1)], last3.clone()),
        ("calendar", vec![id(2)], cal.clone()),
    ] {
        let mut p = plan(
            name,
            PlanKind::Mirror,
            Scope::Resources { ids },
            Schedule::Hour,
            &out,
        );
        p.retention = retention;
        p.offsite = Some("lab".into());
        engine
            .update_plans(|plans: &mut Plans| plans.add(p, 3, 32, t_add.with_timezone(&Local)))
            .unwrap()
            .unwrap();
    }
    let (sink, events) = collect();
    let cancel = CancellationToken::new();
    let mut t_end = t_add + CDuration::days(7);
    t_end = t_end + CDuration::hours(((26 - t_end.hour()) % 24) as i64);
    t_end = t_end
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .expect("a time on the hour");
    let mut offsite_deleted = 0;
    while sim.clock().now() < t_end {
        let now = sim.clock().now();
        let runs = engine.run_due(now, sink.clone(), &cancel).await.unwrap();
        if !runs.is_empty() {
            // What `sqsnap run-due` does after the plans: the destination gets what it
            // lacks, then each plan's rule is applied there, on the bucket alone.
            sync::sync(
                &client,
                &state,
                Default::default(),
                None,
                &cancel,
                &|_, _, _| {},
            )
            .await
            .unwrap();
            let plans = engine.plans().plans;
            for run in &runs {
                assert!(run.ok, "{run:?}");
                let p = plans.iter().find(|p| p.id == run.plan).unwrap();
                let ids = engine.plan_resources(p);
                let rule = Rule::Plan(p.retention.clone());
                let r = keep::prune(&client, &state, Some(&ids), &rule)
                    .await
                    .unwrap();
                assert!(r.missing.is_empty() && r.unverified.is_empty(), "{r:?}");
                offsite_deleted += r.deleted.len();
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(offsite_deleted > 0, "the bucket's rule deleted nothing");

    let library: Library = state.read(LIBRARY).unwrap();
    let mut local_files = 0;
    for (i, rule) in [(0, &last3), (1, &last3), (2, &cal)] {
        let r = engine.resource(&id(i)).unwrap();
        let mut listed: Vec<(String, DateTime<Utc>)> = engine
            .versions(&r)
            .await
            .unwrap()
            .iter()
            .filter_map(|x| Some((x.version()?, x.modified)))
            .collect();
        listed.sort_by_key(|(_, t)| std::cmp::Reverse(*t));
        // The mirror caught up: every version taken before the end is known (kept, or
        // remembered as pruned). A run that began just before the end may have seen one
        // taken after it (each simulated hour is 0.1 s here); those count too.
        let known = library.known_versions(&id(i));
        let late: Vec<_> = listed
            .iter()
            .filter(|(v, t)| *t < t_end && !known.contains(v))
            .collect();
        assert!(late.is_empty(), "resource {i}: not downloaded: {late:?}");
        listed.retain(|(v, _)| known.contains(v));
        assert!(listed.len() >= 8, "a week of daily snapshots: {listed:?}");
        let want: BTreeSet<String> = match rule {
            Retention::Last { n } => listed
                .iter()
                .take(*n as usize)
                .map(|x| x.0.clone())
                .collect(),
            _ => calendar(&listed, 3, 2),
        };
        let entries = library.for_resource(&id(i));
        // This computer: exactly the kept versions, each file whole (every CRC).
        let here: BTreeSet<String> = entries
            .iter()
            .filter(|e| e.path.is_file())
            .filter_map(|e| e.version.clone())
            .collect();
        let seen: Vec<_> = entries
            .iter()
            .map(|e| {
                (
                    e.version.clone(),
                    e.taken_at,
                    e.path.is_file(),
                    e.copies.len(),
                )
            })
            .collect();
        assert_eq!(
            here, want,
            "resource {i} on this computer: {listed:?} {seen:?}"
        );
        for e in entries.iter().filter(|e| e.path.is_file()) {
            snapshots::verify::verify_zip(&e.path, Some(e.size), true).unwrap();
            local_files += 1;
        }
        // The bucket: exactly the kept versions, each the server's archive (size and
        // SHA-256 as the bucket states them).
        let mut there = BTreeSet::new();
        for e in &entries {
            for c in e.copies.iter().filter(|c| c.kind == "s3") {
                let (_, key) = snapshots::offsite::parse_at(&c.at).unwrap();
                let head = client
                    .head(key)
                    .await
                    .unwrap()
                    .expect("a recorded copy is there");
                let v = e.version.clone().unwrap();
                let bytes = sim.archive(&id(i), &v).unwrap();
                assert_eq!(head.size, bytes.len() as u64, "{key}");
                let sum = snapshots::offsite::client::b64_sha256(&bytes);
                assert_eq!(head.sha256.as_deref(), Some(sum.as_str()), "{key}");
                // And the bytes themselves, downloaded: a server may state a checksum it
                // was given without checking it (moto does).
                assert!(s3.object(key).await.unwrap() == bytes, "{key}");
                there.insert(v);
            }
        }
        assert_eq!(there, want, "resource {i} in the bucket");
        // Every version dropped everywhere is remembered as pruned: none to download again.
        for (v, _) in listed.iter().filter(|(v, _)| !want.contains(v)) {
            let tomb = library
                .pruned
                .get(&id(i))
                .is_some_and(|t| t.contains_key(v));
            assert!(tomb, "resource {i}: {v} dropped without a tombstone");
        }
    }
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        local_files,
        "no stray file"
    );
    // Each object the bucket ever got was sent once; each version downloaded once.
    let puts: Vec<String> = s3
        .log()
        .into_iter()
        .filter(|l| l.starts_with("PUT "))
        .collect();
    let distinct: BTreeSet<&String> = puts.iter().collect();
    assert_eq!(puts.len(), distinct.len(), "uploaded twice: {puts:?}");
    let downloads = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| {
            matches!(
                e,
                snapshots::Event::Done {
                    already_present: false,
                    ..
                }
            )
        })
        .count();
    let mut server_versions = 0;
    for i in 0..3 {
        server_versions += sim.versions(&id(i)).len();
    }
    assert!(
        downloads <= server_versions,
        "{downloads} downloads of {server_versions} versions"
    );
    eprintln!(
        "week: {downloads} downloads of {server_versions} versions, {} uploads, {offsite_deleted} deleted offsite, {local_files} files here",
        puts.len()
    );
    assert_eq!(puts.len(), downloads, "each download went up once");
}

/// On a metered connection a mirror plan downloads the small snapshots and leaves the large
/// ones for a later run, saying why; once the connection is not metered they come.
#[tokio::test]
async fn a_metered_connection_postpones_large_mirrors() {
    let mut account = tiny_account(2, 4096, 20_000);
    account.applications[1].snapshot_size = 3 * 1024 * 1024;
    let (sim, engine, dir) = start(SimConfig::new(KEY, account).instant_creates()).await;
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    engine
        .update_settings(|s| s.metered_limit_mb = Some(1))
        .unwrap();
    let metered = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let m = metered.clone();
    engine.set_metered_check(std::sync::Arc::new(move || {
        m.load(std::sync::atomic::Ordering::Relaxed)
    }));
    engine
        .update_plans(|plans: &mut Plans| {
            plans
                .add(
                    plan("mirror", PlanKind::Mirror, Scope::All, Schedule::Hour, &out),
                    2,
                    32,
                    Local::now(),
                )
                .unwrap();
            plans.state.get_mut("mirror").unwrap().last_period = Some("old".into());
        })
        .unwrap();
    let (sink, events) = collect();
    let runs = engine
        .run_due(Utc::now(), sink.clone(), &CancellationToken::new())
        .await
        .unwrap();
    assert!(runs[0].ok);
    assert_eq!(runs[0].files, 1, "the small one");
    assert_eq!(runs[0].postponed.len(), 1, "{:?}", runs[0].postponed);
    assert!(runs[0].postponed[0].contains("metered"));
    assert!(events.lock().unwrap().iter().any(|e| matches!(
        e,
        snapshots::Event::Postponed { bytes, .. } if *bytes > 1024 * 1024
    )));
    // Not metered any more: the next run brings it.
    metered.store(false, std::sync::atomic::Ordering::Relaxed);
    engine
        .update_plans(|plans: &mut Plans| {
            plans.state.get_mut("mirror").unwrap().last_period = Some("older".into());
        })
        .unwrap();
    let runs = engine
        .run_due(Utc::now(), sink, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(runs[0].files, 1);
    assert!(runs[0].postponed.is_empty());
    let big = id(1);
    let newest = sim.versions(&big).last().unwrap().clone();
    let got = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("app 1"))
        .unwrap();
    assert_eq!(
        std::fs::read(got).unwrap(),
        sim.archive(&big, &newest).unwrap()
    );
}

// ---- Claims, tombstones, validation and the reserve ------------------------------------

/// Keeps the simulated clock away from 03:00 UTC (the server's automatic snapshots) and
/// midnight UTC (a new calendar day) for the next minutes: moved forward to 12:00 UTC.
fn to_noon_utc(sim: &squarecloud_sim::Simulator) {
    let secs = sim.clock().now().timestamp().rem_euclid(86_400);
    let to_noon = (12 * 3600 - secs).rem_euclid(86_400) as u64;
    sim.advance(Duration::from_secs(to_noon));
}

fn file_requests(sim: &squarecloud_sim::Simulator) -> usize {
    sim.requests()
        .iter()
        .filter(|q| q.host == squarecloud_sim::Target::Files)
        .count()
}

/// "Stop all" (the cancellation token) in the middle of a scheduled run: the run says it
/// was stopped, and the next `run_due` in this same process finishes it (it was skipped
/// for good before: the claim named this live process), without a second create for what
/// the stopped run had done.
#[tokio::test]
async fn a_stopped_run_is_finished_by_the_next_run_due() {
    let mut c = SimConfig::new(KEY, tiny_account(3, 4096, 20_000)).instant_creates();
    c.limits.account_gap = Duration::from_millis(300);
    let (sim, engine, dir) = start(c).await;
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let at = NaiveTime::from_hms_opt(0, 0, 0).unwrap();
    let p = plan(
        "nightly",
        PlanKind::Snapshot,
        Scope::All,
        Schedule::Day { at },
        &out,
    );
    due_now(&engine, p, 3, 32);
    let (sink, _) = collect();
    let cancel = CancellationToken::new();
    let stop = async {
        let t0 = std::time::Instant::now();
        while accepted_creates(&sim) < 1 {
            assert!(t0.elapsed() < Duration::from_secs(20), "no create");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        cancel.cancel();
    };
    let (runs, ()) = tokio::join!(engine.run_due(Utc::now(), sink.clone(), &cancel), stop);
    let runs = runs.unwrap();
    assert_eq!(runs.len(), 1);
    assert!(runs[0].stopped, "{runs:?}");
    let stopped_at = accepted_creates(&sim);
    assert!(stopped_at < 3, "stopped before the end: {stopped_at}");
    let plans = engine.plans();
    assert!(
        plans.state["nightly"].history.is_empty(),
        "a stop is not a failed run"
    );
    // The next look, same process, same period: the run is finished.
    let runs = engine
        .run_due(Utc::now(), sink, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(runs.len(), 1, "the stopped plan runs again");
    assert!(
        runs[0].resumed && runs[0].ok && !runs[0].stopped,
        "{runs:?}"
    );
    assert_eq!(
        accepted_creates(&sim),
        3,
        "no second create for any resource"
    );
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 3);
    let st = &engine.plans().state["nightly"];
    assert!(st.running.is_none());
    assert_eq!(st.history.len(), 1);
}

/// A claim that names this very process (as after a reboot reuses the pid, or a claim
/// from an older version) but whose lock nobody holds is taken over; one whose lock another
/// handle holds (another process) is respected until it lets go.
#[tokio::test]
async fn a_claim_is_judged_by_its_lock_not_its_pid() {
    use snapshots::plans::InProgress;
    let (sim, engine, dir) =
        start(SimConfig::new(KEY, tiny_account(1, 4096, 20_000)).instant_creates()).await;
    let data = dir.path().join("data");
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    due_now(
        &engine,
        plan("mirror", PlanKind::Mirror, Scope::All, Schedule::Hour, &out),
        1,
        32,
    );
    let claim = |holder: Option<&str>| {
        engine
            .update_plans(|plans: &mut Plans| {
                plans.state.get_mut("mirror").unwrap().running = Some(InProgress {
                    period: "old".into(),
                    started: Utc::now(),
                    pid: std::process::id(),
                    done: vec![],
                    holder: holder.map(String::from),
                });
            })
            .unwrap()
    };
    let (sink, _) = collect();
    let never = CancellationToken::new();
    let run = || engine.run_due(Utc::now(), sink.clone(), &never);

    // This process's pid, no lock file (its holder is gone): taken over.
    claim(Some(&format!("{}-00000000deadbeef", std::process::id())));
    let runs = run().await.unwrap();
    assert_eq!(
        runs.len(),
        1,
        "a stale claim with our own pid is taken over"
    );
    assert!(runs[0].resumed && runs[0].ok, "{runs:?}");
    assert_eq!(runs[0].files, 1);

    // A claim written by an older version: a pid only, ours.
    claim(None);
    let runs = run().await.unwrap();
    assert_eq!(
        runs.len(),
        1,
        "a pid-only claim naming this process is stale"
    );

    // Held through another handle, as another process holds it: respected.
    let token = "4242-0123456789abcdef";
    let lock = data.join("claims").join(format!("{token}.lock"));
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    let held = std::fs::File::create(&lock).unwrap();
    held.lock().unwrap();
    claim(Some(token));
    let before = sim.requests().len();
    let runs = run().await.unwrap();
    assert!(runs.is_empty(), "someone is on it: {runs:?}");
    assert_eq!(sim.requests().len(), before, "nothing sent");
    // It lets go (ends, is killed): the next look finishes its run.
    held.unlock().unwrap();
    drop(held);
    let runs = run().await.unwrap();
    assert_eq!(runs.len(), 1);
    assert!(runs[0].resumed);
    assert!(engine.plans().state["mirror"].running.is_none());
    // No stale lock file is left behind: what remains is held (the engine's own claim,
    // which its in-flight create records name).
    let left: Vec<_> = std::fs::read_dir(data.join("claims"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let f = std::fs::File::open(p).unwrap();
            f.try_lock().is_ok()
        })
        .collect();
    assert!(left.is_empty(), "stale lock files left behind: {left:?}");
    assert!(!lock.exists());
}

/// A mirror keeping the last 1 of 4 server versions: the first run downloads them and
/// deletes 3; the next downloads nothing and deletes nothing (it used to bring the 3 back
/// every hour, and delete them again).
#[tokio::test]
async fn a_mirror_does_not_bring_back_what_its_retention_deleted() {
    let mut account = tiny_account(1, 4096, 20_000);
    account.applications[0].history = 4;
    let (sim, engine, dir) = start(SimConfig::new(KEY, account).instant_creates()).await;
    to_noon_utc(&sim);
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let mut p = plan("mirror", PlanKind::Mirror, Scope::All, Schedule::Hour, &out);
    p.retention = Retention::Last { n: 1 };
    due_now(&engine, p, 1, 32);
    let (sink, _) = collect();
    let runs = engine
        .run_due(Utc::now(), sink.clone(), &CancellationToken::new())
        .await
        .unwrap();
    // Four, and any automatic one made as the clock moved to noon.
    let n = sim.versions(&id(0)).len() as u32;
    assert!(n >= 4);
    assert_eq!(
        (runs[0].files, runs[0].pruned),
        (n, n as usize - 1),
        "{runs:?}"
    );
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
    for _ in 0..2 {
        due_again(&engine, "mirror");
        let before = file_requests(&sim);
        let runs = engine
            .run_due(Utc::now(), sink.clone(), &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!((runs[0].files, runs[0].pruned), (0, 0), "{runs:?}");
        assert_eq!(file_requests(&sim), before, "nothing fetched again");
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
    }
    // The newest is the one kept.
    let newest = sim.versions(&id(0)).last().unwrap().clone();
    let lib = engine.library();
    assert_eq!(lib.entries.len(), 1);
    assert_eq!(lib.entries[0].version.as_deref(), Some(newest.as_str()));
}

/// The default calendar retention keeps the newest of each day: with two server snapshots
/// in one day, the older one is deleted once and not downloaded again.
#[tokio::test]
async fn a_mirror_with_calendar_retention_settles() {
    let (sim, engine, dir) =
        start(SimConfig::new(KEY, tiny_account(1, 4096, 20_000)).instant_creates()).await;
    to_noon_utc(&sim);
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    // A snapshot by hand on the day of the automatic one (03:00 UTC, now 12:00 UTC).
    let r = engine.resource(&id(0)).unwrap();
    let (sink, _) = collect();
    let made = engine
        .snapshot(
            vec![r],
            snapshots::SnapshotOptions {
                download: false,
                dest: None,
                wait_for_quota: false,
            },
            sink.clone(),
            &CancellationToken::new(),
        )
        .await;
    assert!(made[0].outcome.is_ok(), "{:?}", made[0].outcome);
    let mut p = plan("mirror", PlanKind::Mirror, Scope::All, Schedule::Hour, &out);
    p.retention = Retention::default();
    due_now(&engine, p, 1, 32);
    let runs = engine
        .run_due(Utc::now(), sink.clone(), &CancellationToken::new())
        .await
        .unwrap();
    assert!(runs[0].files >= 2 && runs[0].pruned >= 1, "{runs:?}");
    let kept = std::fs::read_dir(&out).unwrap().count();
    due_again(&engine, "mirror");
    let before = file_requests(&sim);
    let runs = engine
        .run_due(Utc::now(), sink, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!((runs[0].files, runs[0].pruned), (0, 0), "{runs:?}");
    assert_eq!(file_requests(&sim), before, "nothing fetched again");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), kept);
}
