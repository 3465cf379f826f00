//! Plans against the simulator: a simulated week, the machine off for two days in the
//! middle, `run-due` twice in one period, and a `sqsnap run-due` killed half way.

mod common;

use chrono::{
    DateTime, Datelike, Duration as CDuration, Local, NaiveTime, TimeZone, Timelike, Utc,
};
use common::*;
use snapshots::plans::{Plan, PlanKind, Plans, Retention, Schedule, Scope};
use squarecloud_sim::SimConfig;
use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn id(i: usize) -> String {
    format!("{i:032x}")
}

fn plan(
    name: &str,
    kind: PlanKind,
    scope: Scope,
    schedule: Schedule,
    dest: &std::path::Path,
) -> Plan {
    Plan {
        id: name.into(),
        kind,
        scope,
        schedule,
        retention: Retention::Everything,
        dest: Some(dest.to_path_buf()),
    }
}

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
/// one; the computer is off for two days in the middle. Every snapshot the server has at
/// the end is on disk and in the library, exactly once; the quota spent is exactly one
/// create per resource per period the plans ran in, the missed days costing one catch-up;
/// nothing is refused.
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
            runs_at.push((run.plan.clone(), now));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let engine = engine.unwrap();

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

    // Every snapshot the server had at the end is on disk and in the library, once. These
    // lists run on the simulated clock too (about a minute of it each at this scale): a
    // daily automatic snapshot made while they run is not one the mirror could have seen.
    let library = engine.library();
    for i in 0..5 {
        let r = engine.resource(&id(i)).unwrap();
        let server: BTreeSet<String> = engine
            .versions(&r)
            .await
            .unwrap()
            .iter()
            .filter(|x| x.modified < t_end)
            .filter_map(|x| x.version())
            .collect();
        let local: Vec<String> = library
            .for_resource(&id(i))
            .iter()
            .filter_map(|e| e.version.clone())
            .collect();
        let local_set: BTreeSet<String> = local.iter().cloned().collect();
        assert_eq!(local.len(), local_set.len(), "no version twice");
        assert_eq!(server, local_set, "resource {i}");
    }
    let files = std::fs::read_dir(&out).unwrap().count();
    assert_eq!(files, library.entries.len());
}

/// `sqsnap run-due` twice in one period: the second spends nothing. And a run killed
/// half way is finished by the next one without a second create for what it had sent.
#[tokio::test]
async fn run_due_is_once_per_period_and_a_killed_run_resumes() {
    let mut c = SimConfig::new(KEY, tiny_account(3, 4096, 20_000)).instant_creates();
    c.limits.account_gap = Duration::from_millis(300);
    let (sim, engine, dir) = start(c).await;
    let data = dir.path().join("data");
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    // A daily snapshot plan for all three, due now (it last ran in an older period).
    let at = NaiveTime::from_hms_opt(0, 0, 0).unwrap();
    engine
        .update_plans(|plans: &mut Plans| {
            plans
                .add(
                    plan(
                        "nightly",
                        PlanKind::Snapshot,
                        Scope::All,
                        Schedule::Day { at },
                        &out,
                    ),
                    3,
                    32,
                    Local::now(),
                )
                .unwrap();
            plans.state.get_mut("nightly").unwrap().last_period = Some("2000-01-01".into());
        })
        .unwrap();
    let sqsnap = |args: &[&str]| {
        let mut c = common::sqsnap(&sim, &data, KEY, args);
        c.stdout(Stdio::null()).stderr(Stdio::null());
        c
    };
    // The first run is killed once its first create was accepted (its next waits 5 s).
    let mut child = sqsnap(&["run-due"]).spawn().unwrap();
    let t0 = std::time::Instant::now();
    while accepted_creates(&sim) < 1 {
        assert!(t0.elapsed() < Duration::from_secs(20), "no create");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The next run finishes it: the two other creates, and the first adopted, not redone.
    let (sink, _) = collect();
    let runs = engine
        .run_due(Utc::now(), sink.clone(), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);
    assert!(runs[0].resumed && runs[0].ok, "{runs:?}");
    // Seen once in about 50 runs (2026-12-02, cause not yet found): a fourth create. What
    // the server saw and what the two processes recorded, to find it when it shows again.
    assert_eq!(
        accepted_creates(&sim),
        3,
        "no duplicate create\nrequests:\n{}\nledger: {}\nplans: {}\nruns: {runs:?}",
        sim.requests()
            .iter()
            .map(|q| format!(
                "{} {:?} {} {} {}",
                q.at.format("%H:%M:%S%.3f"),
                q.host,
                q.method,
                q.path,
                q.status
            ))
            .collect::<Vec<_>>()
            .join("\n"),
        std::fs::read_to_string(data.join("ledger.json")).unwrap_or_default(),
        std::fs::read_to_string(data.join("plans.json")).unwrap_or_default(),
    );
    let files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 3, "{files:?}");
    // Twice more in the same period, once through sqsnap: nothing spends quota.
    let before = sim.requests().len();
    let mut c = sqsnap(&["--json", "run-due"]);
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let o = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("\"due\":0"));
    assert!(
        sim.requests()[before..].iter().all(|q| q.method != "POST"),
        "the second run in one period sends no create"
    );
}

/// `sqsnap plan install-timer` writes a systemd user service and timer that run `run-due`,
/// under XDG_CONFIG_HOME, and says how to enable them; the key is not in them.
#[tokio::test]
async fn install_timer_writes_a_user_service_and_timer() {
    let sim = squarecloud_sim::Simulator::start(
        SimConfig::new(KEY, tiny_account(1, 4096, 1000)).instant_creates(),
    )
    .await
    .unwrap();
    let d = tempfile::tempdir().unwrap();
    let mut c = common::sqsnap(
        &sim,
        &d.path().join("data"),
        KEY,
        &["plan", "install-timer"],
    );
    c.env("XDG_CONFIG_HOME", d.path().join("config"));
    let o = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("systemctl --user enable --now"));
    let dir = d.path().join("config/systemd/user");
    let service = std::fs::read_to_string(dir.join("sqsnap-run-due.service")).unwrap();
    let timer = std::fs::read_to_string(dir.join("sqsnap-run-due.timer")).unwrap();
    assert!(service.contains("run-due") && service.contains("SQSNAP_DATA_DIR="));
    assert!(timer.contains("OnCalendar=") && timer.contains("Persistent=true"));
    assert!(
        !service.contains(KEY) && !timer.contains(KEY),
        "the key is never written"
    );
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
