//! From `crates/snapshots/tests/plans.rs`: the plan tests that run `sqsnap` beside the engine.

use crate::common::{self, *};
use chrono::{Local, NaiveTime, Utc};
use snapshots::plans::{PlanKind, Plans, Schedule, Scope};
use squarecloud_sim::SimConfig;
use std::process::Stdio;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

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
        std::fs::read_to_string(common::account_dir(&sim, &data).join("ledger.json"))
            .unwrap_or_default(),
        std::fs::read_to_string(common::account_dir(&sim, &data).join("plans.json"))
            .unwrap_or_default(),
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
#[cfg_attr(
    windows,
    ignore = "systemd user units: `plan install-timer` writes them for Linux"
)]
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

/// Absurd schedules are refused where plans come in (the engine, as the window's command
/// calls it, and `sqsnap plan add`), and a hand-written plans.json full of them is read
/// without a panic: the good plan keeps running, the bad ones are listed as invalid with a
/// reason, `plan list`, `run-due` and `plan remove` work.
#[tokio::test]
async fn absurd_schedules_are_refused_and_a_bad_plans_file_is_survived() {
    let (sim, engine, dir) =
        start(SimConfig::new(KEY, tiny_account(1, 4096, 20_000)).instant_creates()).await;
    let data = dir.path().join("data");
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    for schedule in [
        Schedule::Hours {
            hours: 4_000_000_000,
        },
        Schedule::Hours { hours: 0 },
        Schedule::Week {
            weekday: 9,
            at: NaiveTime::from_hms_opt(3, 0, 0).unwrap(),
        },
    ] {
        let p = plan("bad", PlanKind::Mirror, Scope::All, schedule, &out);
        let e = engine.add_plan(p).unwrap().unwrap_err();
        assert!(e.to_string().contains("Nothing was saved"), "{e}");
    }
    assert!(engine.plans().plans.is_empty());
    let cli = |args: &[&str]| {
        let mut c = common::sqsnap(&sim, &data, KEY, args);
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        // Off the runtime's thread: the simulator answers on it.
        tokio::task::spawn_blocking(move || c.output().unwrap())
    };
    let o = cli(&[
        "plan",
        "add",
        "x",
        "--mirror",
        "--every-hours",
        "4000000000",
    ])
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("8784"),
        "says what is allowed: {o:?}"
    );
    assert!(engine.plans().plans.is_empty());

    // A plans.json written by hand: one good plan and five bad ones.
    let good = serde_json::json!({"id": "good", "kind": "mirror", "scope": {"scope": "all"},
        "schedule": {"every": "hour"}, "retention": {"keep": "everything"}, "dest": out});
    let text = serde_json::json!({
        "plans": [
            good,
            {"id": "huge", "kind": "mirror", "scope": {"scope": "all"},
             "schedule": {"every": "hours", "hours": 4_000_000_000u64}},
            {"id": "day9", "kind": "snapshot", "scope": {"scope": "all"},
             "schedule": {"every": "week", "weekday": 99, "at": "03:00:00"}},
            {"id": "badtime", "kind": "snapshot", "scope": {"scope": "all"},
             "schedule": {"every": "day", "at": "99:99"}},
            {"id": "neg", "kind": "mirror", "scope": {"scope": "all"},
             "schedule": {"every": "hours", "hours": -5}},
            "not a plan"
        ],
        "state": {"good": {"last_period": "old", "running": null, "history": []},
                  "huge": {"last_period": 12}},
        "reserve": 99_999_999_999u64
    });
    std::fs::write(
        common::account_dir(&sim, &data).join("plans.json"),
        text.to_string(),
    )
    .unwrap();
    let plans = engine.plans();
    assert_eq!(
        plans
            .plans
            .iter()
            .map(|p| p.id.as_str())
            .collect::<Vec<_>>(),
        ["good"]
    );
    assert_eq!(plans.invalid.len(), 5, "{:?}", plans.invalid);
    assert!(
        plans.invalid.iter().all(|i| i.why.contains("skipped")),
        "{:?}",
        plans.invalid
    );
    assert!(plans.invalid[0].why.contains("4000000000"));
    // What the window draws for each resource: no panic.
    let _ = plans.next_for(&id(0), Local::now());
    let _ = plans.creates_per_day(1_000_000);
    for args in [
        &["plan", "list"][..],
        &["run-due"],
        &["plan", "show", "good"],
    ] {
        let o = cli(args).await.unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}: {o:?}");
        if args == ["plan", "list"] {
            // The plans that cannot run are listed with why, so they can be removed.
            let text = String::from_utf8_lossy(&o.stdout);
            assert!(
                text.contains("huge: cannot run, skipped") && text.contains("4000000000"),
                "{text}"
            );
        }
    }
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        1,
        "the good plan ran"
    );
    for name in ["huge", "day9", "badtime", "neg"] {
        let o = cli(&["plan", "remove", name]).await.unwrap();
        assert_eq!(o.status.code(), Some(0), "{name}: {o:?}");
    }
    let plans = engine.plans();
    assert_eq!(plans.plans.len(), 1);
    assert_eq!(plans.invalid.len(), 1, "only the nameless one is left");
    assert!(!plans.state.contains_key("huge"));
    assert!(
        plans.state["good"].history.len() == 1,
        "the good plan kept its state"
    );
}

/// A snapshot plan added while it fitted (2 resources, 4 a day, 1 kept for clicks), then
/// the account grows to 4: a run takes only what keeps the reserve, and its record says
/// which waited and why.
#[tokio::test]
async fn the_reserve_is_kept_at_every_run() {
    let mut c = SimConfig::new(KEY, tiny_account(4, 512, 20_000)).instant_creates();
    c.limits.account_gap = Duration::from_millis(300);
    let (sim, engine, dir) = start(c).await;
    assert_eq!(engine.quota().total, 4);
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let at = NaiveTime::from_hms_opt(0, 0, 0).unwrap();
    // Added when the account had 2 resources: 2 a day + 1 kept fits in 4.
    let p = plan(
        "nightly",
        PlanKind::Snapshot,
        Scope::All,
        Schedule::Day { at },
        &out,
    );
    due_now(&engine, p, 2, 4);
    let (sink, events) = collect();
    let runs = engine
        .run_due(Utc::now(), sink, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(accepted_creates(&sim), 3, "one left for a click");
    assert_eq!(engine.quota().remaining, 1);
    let run = &runs[0];
    assert_eq!(run.files, 3);
    assert_eq!(run.reserve_held.len(), 1, "{run:?}");
    assert!(run.postponed[0].contains("reserve"), "{run:?}");
    let record = engine.plans().state["nightly"]
        .history
        .back()
        .unwrap()
        .clone();
    assert_eq!(record.reserve_held, run.reserve_held);
    // The row's 30-day strip shows today as missed for the one that waited.
    let strip = engine
        .plans()
        .days(&run.reserve_held[0], &engine.library(), 1, Local::now());
    assert_eq!(strip, vec![snapshots::plans::Day::Missed]);
    assert!(record.postponed[0].contains("kept for snapshots you take by hand"));
    assert!(events.lock().unwrap().iter().any(|e| matches!(
        e,
        snapshots::Event::Learned { message } if message.contains("reserve")
    )));
    // The next period, from `sqsnap run-due`: 1 left and 1 kept, so all four wait, and the
    // output says why; nothing is sent.
    due_again(&engine, "nightly");
    let mut c = common::sqsnap(&sim, &dir.path().join("data"), KEY, &["run-due"]);
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let o = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(0), "{said}");
    assert!(
        said.contains("4 of 4 resources") && said.contains("to keep the reserve"),
        "{said}"
    );
    assert_eq!(accepted_creates(&sim), 3, "nothing sent");
    let record = engine.plans().state["nightly"]
        .history
        .back()
        .unwrap()
        .clone();
    assert_eq!(record.reserve_held.len(), 4);
}
