//! The `sqsnap` binary against the simulator: exit codes, JSON lines, resume after a kill.

mod common;

use common::*;
use squarecloud_sim::{AccountSpec, FaultKind, FaultSpec, SimConfig, Simulator, Target};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const ATLAS: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

async fn sim() -> Simulator {
    let mut c = SimConfig::new(KEY, AccountSpec::demo());
    c.generation_time = Duration::ZERO;
    Simulator::start(c).await.unwrap()
}

async fn run(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

#[tokio::test]
async fn whoami_list_and_quota_in_json() {
    let sim = sim().await;
    let d = tempfile::tempdir().unwrap();
    let o = run(sqsnap(&sim, d.path(), KEY, &["--json", "whoami"])).await;
    assert_eq!(o.status.code(), Some(0));
    let v = json_lines(&o);
    assert_eq!(v[0]["plan"], "standard-4");
    assert_eq!(v[0]["daily_quota"], 32);
    let o = run(sqsnap(&sim, d.path(), KEY, &["--json", "list"])).await;
    let v = json_lines(&o);
    assert_eq!(v.len(), 11); // 10 resources + the quota
    assert!(v.iter().any(|x| x["name"] == "../../etc/passwd"));
    assert_eq!(v[10]["quota"]["remaining"], 32);
    let o = run(sqsnap(&sim, d.path(), KEY, &["--json", "quota"])).await;
    let v = json_lines(&o);
    assert_eq!(v[0]["total"], 32);
    assert_eq!(
        v[0]["used_is_estimate"], false,
        "lists with origin make it known"
    );
}

#[tokio::test]
async fn exit_codes() {
    let sim = sim().await;
    let d = tempfile::tempdir().unwrap();
    // 3: auth
    let o = run(sqsnap(&sim, d.path(), "wrong-key", &["whoami"])).await;
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("refused"));
    // 2: usage
    let o = run(sqsnap(&sim, d.path(), KEY, &["snapshot"])).await;
    assert_eq!(o.status.code(), Some(2));
    let o = run(sqsnap(&sim, d.path(), KEY, &["frobnicate"])).await;
    assert_eq!(o.status.code(), Some(2));
    // 7: a folder that does not exist
    let missing = d.path().join("missing");
    let o = run(sqsnap(
        &sim,
        d.path(),
        KEY,
        &["download", ATLAS, "--dest", missing.to_str().unwrap()],
    ))
    .await;
    assert_eq!(
        o.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // 6: verification failed
    let bad = d.path().join("bad.zip");
    std::fs::write(&bad, b"PK\x03\x04 not really").unwrap();
    let o = run(sqsnap(
        &sim,
        d.path(),
        KEY,
        &["--json", "verify", bad.to_str().unwrap()],
    ))
    .await;
    assert_eq!(o.status.code(), Some(6));
    assert_eq!(json_lines(&o)[0]["ok"], false);
    // A 502 page on the very first call is retried (reads are idempotent)...
    sim.inject(FaultSpec::new(
        Target::Api,
        FaultKind::ServerErrorHtml { status: 502 },
    ));
    let o = run(sqsnap(&sim, d.path(), KEY, &["whoami"])).await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // ...and 5 when the server stays down (the first try and three more).
    sim.inject(
        FaultSpec::new(Target::Api, FaultKind::ServerErrorHtml { status: 502 }).times(Some(4)),
    );
    let o = run(sqsnap(&sim, d.path(), KEY, &["whoami"])).await;
    assert_eq!(o.status.code(), Some(5));
    // 8: no such resource
    let o = run(sqsnap(&sim, d.path(), KEY, &["download", "0000"])).await;
    assert_eq!(o.status.code(), Some(8));
    // 0, then 4: a create, then another inside the windows is fine (the engine waits), but a
    // quota the server says is used up stops with 4.
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let o = run(sqsnap(
        &sim,
        d.path(),
        KEY,
        &[
            "--json",
            "snapshot",
            ATLAS,
            "--download",
            "--dest",
            out.to_str().unwrap(),
        ],
    ))
    .await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = json_lines(&o);
    let done = v.iter().find(|e| e["event"] == "done").unwrap();
    assert!(Path::new(done["path"].as_str().unwrap()).exists());
    let o = run(sqsnap(
        &sim,
        d.path(),
        KEY,
        &["--json", "verify", done["path"].as_str().unwrap()],
    ))
    .await;
    assert_eq!(o.status.code(), Some(0));
}

#[tokio::test]
async fn quota_used_up_exits_4() {
    let mut c = SimConfig::new(KEY, tiny_account(2, 256, 5_000)); // 2 a day
    c.generation_time = Duration::ZERO;
    c.limits.account_gap = Duration::from_millis(50);
    let sim = Simulator::start(c).await.unwrap();
    let d = tempfile::tempdir().unwrap();
    let o = run(sqsnap(&sim, d.path(), KEY, &["snapshot", "--all"])).await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run(sqsnap(
        &sim,
        d.path(),
        KEY,
        &["--json", "snapshot", "--all"],
    ))
    .await;
    assert_eq!(o.status.code(), Some(4));
    let v = json_lines(&o);
    assert!(v.iter().any(|e| e["event"] == "paused_for_quota"));
    // The ledger persisted across runs: the second run sent no create at all.
    assert_eq!(
        sim.requests().iter().filter(|r| r.method == "POST").count(),
        2
    );
}

#[tokio::test]
async fn a_killed_download_resumes_from_the_part_file() {
    let mut c = SimConfig::new(KEY, AccountSpec::demo());
    c.generation_time = Duration::ZERO;
    let sim = Simulator::start(c).await.unwrap();
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    // 8 MiB at 4 MB/s: two seconds, so there is time to kill it half way.
    sim.inject(FaultSpec::new(
        Target::Files,
        FaultKind::Bandwidth {
            bytes_per_sec: 4_000_000,
        },
    ));
    let mut child = sqsnap(
        &sim,
        d.path(),
        KEY,
        &["download", ATLAS, "--dest", out.to_str().unwrap()],
    )
    .stdout(Stdio::null())
    .spawn()
    .unwrap();
    let part = loop {
        let p = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with(".part"));
        if let Some(p) = p
            && std::fs::metadata(&p).unwrap().len() > 2_000_000
        {
            break p;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let had = std::fs::metadata(&part).unwrap().len();
    assert!(had < 8 * 1024 * 1024);
    let o = run(sqsnap(
        &sim,
        d.path(),
        KEY,
        &["download", ATLAS, "--dest", out.to_str().unwrap()],
    ))
    .await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let files: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.host == Target::Files)
        .collect();
    assert_eq!(files.len(), 2);
    assert_eq!(
        files[1].range.as_deref(),
        Some(format!("bytes={had}-").as_str())
    );
    let zip = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "zip"))
        .unwrap();
    let newest = sim.versions(ATLAS).last().unwrap().clone();
    assert_eq!(
        std::fs::read(zip).unwrap(),
        sim.archive(ATLAS, &newest).unwrap()
    );
    assert!(!part.exists());
}

#[tokio::test]
async fn demo_snapshot_all_leaves_one_verified_windows_safe_zip_per_resource() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_sqsnap"));
    c.args([
        "--demo",
        "--json",
        "snapshot",
        "--all",
        "--download",
        "--dest",
        out.to_str().unwrap(),
    ])
    .env("SQSNAP_DATA_DIR", d.path().join("data"))
    .env_remove("SQUARECLOUD_API_KEY")
    .stdin(Stdio::null());
    let o = run(c).await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let zips: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(zips.len(), 10, "{zips:?}");
    for z in &zips {
        let name = z.file_name().unwrap().to_str().unwrap();
        assert!(name.ends_with(".zip"));
        assert!(
            !name.contains(['<', '>', ':', '"', '/', '\\', '|', '?', '*']),
            "{name}"
        );
        let stem = name.split('.').next().unwrap().to_ascii_uppercase(); // what Windows checks
        assert_ne!(stem, "CON", "{name}");
        let o = run({
            let mut v = Command::new(env!("CARGO_BIN_EXE_sqsnap"));
            v.args(["verify", z.to_str().unwrap()])
                .env("SQSNAP_DATA_DIR", d.path().join("data"));
            v
        })
        .await;
        assert_eq!(o.status.code(), Some(0), "{name}");
    }
}

/// Trust 3 and 7: no quota is spent before the folder is checked, and the key never goes
/// to an http API off this computer.
#[tokio::test]
async fn a_missing_folder_or_an_insecure_api_sends_nothing() {
    let sim = sim().await;
    let d = tempfile::tempdir().unwrap();
    let missing = d.path().join("does/not/exist");
    let o = run(sqsnap(
        &sim,
        d.path(),
        KEY,
        &[
            "snapshot",
            ATLAS,
            "--download",
            "--dest",
            missing.to_str().unwrap(),
        ],
    ))
    .await;
    assert_eq!(
        o.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        sim.requests().iter().all(|r| r.method != "POST"),
        "zero POSTs"
    );
    sim.clear_requests();
    let mut c = sqsnap(&sim, d.path(), KEY, &["whoami"]);
    c.env("SQUARECLOUD_API_URL", "http://api.squarecloud.app/v2");
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("https"));
    // --keep 0 would delete every copy.
    let o = run(sqsnap(&sim, d.path(), KEY, &["prune", "--keep", "0"])).await;
    assert_eq!(o.status.code(), Some(2));
}

/// Trust 10: `--demo prune` and `--demo verify` touch only the demo's own library.
#[tokio::test]
async fn demo_prune_never_touches_the_real_library() {
    let sim = sim().await;
    let d = tempfile::tempdir().unwrap();
    let real = d.path().join("library.json");
    std::fs::write(&real, br#"{"entries":[]}"#).unwrap();
    let before = std::fs::metadata(&real).unwrap().modified().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let o = run(sqsnap(
        &sim,
        d.path(),
        KEY,
        &["--demo", "prune", "--keep", "1"],
    ))
    .await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        std::fs::metadata(&real).unwrap().modified().unwrap(),
        before
    );
    assert!(d.path().join("demo/library.json").exists());
}

/// Trust 14: a name with terminal escapes cannot repaint the terminal.
#[tokio::test]
async fn hostile_names_are_printed_harmless() {
    let mut account = AccountSpec::demo();
    account.applications[0].name = "evil\u{1b}[2J\u{1b}]0;pwned\u{7}".into();
    let sim = Simulator::start(SimConfig::new(KEY, account).instant_creates())
        .await
        .unwrap();
    let d = tempfile::tempdir().unwrap();
    let o = run(sqsnap(&sim, d.path(), KEY, &["list"])).await;
    assert_eq!(o.status.code(), Some(0));
    assert!(
        !o.stdout.contains(&0x1b),
        "no escape byte reaches the terminal"
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("evil\u{FFFD}[2J"));
}

/// Trust 17: the README's exit-code table and `--help` say the same, code by code.
#[test]
fn the_readme_and_help_agree_on_exit_codes() {
    let help = Command::new(env!("CARGO_BIN_EXE_sqsnap"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout).to_string();
    let from_help: Vec<(u32, String)> = help
        .lines()
        .skip_while(|l| !l.starts_with("Exit codes:"))
        .skip(1)
        .filter_map(|l| {
            let (code, meaning) = l.trim().split_once("  ")?;
            Some((code.trim().parse().ok()?, meaning.trim().to_string()))
        })
        .collect();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let from_readme: Vec<(u32, String)> = readme
        .lines()
        .skip_while(|l| !l.contains("| exit code |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            Some((cells.first()?.parse().ok()?, cells.get(1)?.to_string()))
        })
        .collect();
    assert!(from_help.len() >= 9, "{help}");
    assert_eq!(from_help, from_readme);
}

/// Trust 5: two `sqsnap` processes and an engine asked to snapshot one resource at the
/// same moment send one POST; the others wait for it and get the same file.
#[tokio::test]
async fn three_processes_one_resource_one_post() {
    let mut c = SimConfig::new(KEY, AccountSpec::demo()).instant_creates();
    c.generation_time = Duration::from_millis(1500);
    let sim = Simulator::start(c).await.unwrap();
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let out = d.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let spawn = || {
        let mut c = sqsnap(
            &sim,
            &data,
            KEY,
            &[
                "--json",
                "snapshot",
                ATLAS,
                "--download",
                "--dest",
                out.to_str().unwrap(),
            ],
        );
        c.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = spawn();
    let b = spawn();
    let engine = engine_on(&sim, &data, |_| {}).await;
    let r = engine.resource(ATLAS).unwrap();
    let (sink, _) = collect();
    let res = engine
        .snapshot(
            vec![r],
            download_to(&out),
            sink,
            &tokio_util::sync::CancellationToken::new(),
        )
        .await;
    let a = tokio::task::spawn_blocking(move || a.wait_with_output().unwrap())
        .await
        .unwrap();
    let b = tokio::task::spawn_blocking(move || b.wait_with_output().unwrap())
        .await
        .unwrap();
    let posts = sim.requests().iter().filter(|q| q.method == "POST").count();
    assert_eq!(posts, 1, "one POST for one resource on one machine");
    assert!(res[0].outcome.is_ok(), "{:?}", res[0].outcome);
    for o in [&a, &b] {
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let zips: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(zips.len(), 1, "{zips:?}");
}
