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

fn sqsnap(sim: &Simulator, data: &Path, key: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sqsnap"));
    c.args(args)
        .env("SQUARECLOUD_API_URL", sim.api_url())
        .env("SQUARECLOUD_API_KEY", key)
        .env("SQSNAP_DATA_DIR", data)
        .stdin(Stdio::null());
    c
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
