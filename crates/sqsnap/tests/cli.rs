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
    .env("LC_ALL", "C")
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
                .env("SQSNAP_DATA_DIR", d.path().join("data"))
                .env("LC_ALL", "C");
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

/// `sqsnap` run as `sqsnap(..)` does, but with no key in the environment.
fn sqsnap_keyless(sim: &Simulator, data: &Path, args: &[&str]) -> Command {
    let mut c = sqsnap(sim, data, "unused", args);
    c.env_remove("SQUARECLOUD_API_KEY")
        .env_remove("SQUARECLOUD_API_KEY_FILE")
        .env_remove("CREDENTIALS_DIRECTORY");
    c
}

/// A key file holding the test key and a line break, with this mode (Unix only: Windows
/// has no mode bits).
fn key_file(dir: &Path, name: &str, mode: u32) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("{KEY}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = mode;
    p
}

fn said(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Trust 9: a key file is used only when it is the user's own and private (0600 or 0400),
/// not through a link; what to do is said; nothing is sent otherwise.
// Unix only: sqsnap judges a key file by its owner, mode bits and O_NOFOLLOW, which Windows has not
#[cfg(unix)]
#[tokio::test]
async fn a_key_file_is_used_only_when_it_is_private_and_ones_own() {
    let sim = sim().await;
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    for mode in [0o600, 0o400] {
        let k = key_file(d.path(), &format!("key-{mode:o}"), mode);
        let o = run(sqsnap_keyless(
            &sim,
            &data,
            &["--key-file", k.to_str().unwrap(), "whoami"],
        ))
        .await;
        assert_eq!(o.status.code(), Some(0), "{mode:o}: {}", said(&o));
    }
    // The same through the environment (a path, never the key).
    let k = key_file(d.path(), "key", 0o600);
    let mut c = sqsnap_keyless(&sim, &data, &["whoami"]);
    c.env("SQUARECLOUD_API_KEY_FILE", &k);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", said(&o));

    let refused = |o: &Output, words: &[&str]| {
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(2), "{}", said(o));
        assert!(err.contains("was not used"), "{err}");
        for w in words {
            assert!(err.contains(w), "{w:?} not in {err}");
        }
        assert!(!err.contains(KEY) && !o.stdout.windows(KEY.len()).any(|w| w == KEY.as_bytes()));
    };
    sim.clear_requests();
    let open = key_file(d.path(), "open", 0o644);
    let o = run(sqsnap_keyless(
        &sim,
        &data,
        &["--key-file", open.to_str().unwrap(), "whoami"],
    ))
    .await;
    refused(&o, &["mode 0644", "chmod 600"]);
    let group = key_file(d.path(), "group", 0o640);
    let o = run(sqsnap_keyless(
        &sim,
        &data,
        &["--key-file", group.to_str().unwrap(), "whoami"],
    ))
    .await;
    refused(&o, &["mode 0640"]);
    // A link to a private file: refused, since the link can be turned elsewhere.
    let link = d.path().join("link");
    std::os::unix::fs::symlink(&k, &link).unwrap();
    let o = run(sqsnap_keyless(
        &sim,
        &data,
        &["--key-file", link.to_str().unwrap(), "whoami"],
    ))
    .await;
    refused(&o, &["symbolic link"]);
    // Someone else's file (the tests run as root in CI: it can give a file away).
    let theirs = key_file(d.path(), "theirs", 0o600);
    if std::os::unix::fs::chown(&theirs, Some(65534), None).is_ok() {
        let o = run(sqsnap_keyless(
            &sim,
            &data,
            &["--key-file", theirs.to_str().unwrap(), "whoami"],
        ))
        .await;
        refused(&o, &["another user (uid 65534)"]);
    } else {
        eprintln!("skipped the other owner's key file: chown needs root");
    }
    let missing = d.path().join("missing");
    let o = run(sqsnap_keyless(
        &sim,
        &data,
        &["--key-file", missing.to_str().unwrap(), "whoami"],
    ))
    .await;
    refused(&o, &["no such file"]);
    assert!(
        sim.requests().is_empty(),
        "a refused key file sends nothing"
    );
}

/// Trust 9: a systemd service finds the key where `LoadCredential=` put it.
#[tokio::test]
async fn the_key_is_read_from_systemds_credentials() {
    let sim = sim().await;
    let d = tempfile::tempdir().unwrap();
    let creds = d.path().join("creds");
    std::fs::create_dir(&creds).unwrap();
    key_file(&creds, "squarecloud-api-key", 0o400);
    let mut c = sqsnap_keyless(&sim, &d.path().join("data"), &["--json", "whoami"]);
    c.env("CREDENTIALS_DIRECTORY", &creds);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", said(&o));
    assert_eq!(json_lines(&o)[0]["daily_quota"], 32);
}

/// Trust 9: with a key file, the timer's unit loads it as a credential; the key is in no
/// file sqsnap writes and no line it prints.
#[tokio::test]
#[cfg_attr(
    windows,
    ignore = "systemd user units: `plan install-timer` writes them for Linux"
)]
async fn a_key_file_goes_to_the_timer_as_a_credential_and_nowhere_else() {
    let sim = sim().await;
    let d = tempfile::tempdir().unwrap();
    let secret = d.path().join("secret");
    std::fs::create_dir(&secret).unwrap();
    let k = key_file(&secret, "api-key", 0o600);
    let data = d.path().join("data");
    let config = d.path().join("config");
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let mut outputs = Vec::new();
    for args in [
        vec![
            "snapshot",
            ATLAS,
            "--download",
            "--dest",
            out.to_str().unwrap(),
        ],
        vec!["--json", "list"],
        vec![
            "plan",
            "add",
            "nightly",
            "--mirror",
            "--dest",
            out.to_str().unwrap(),
            ATLAS,
        ],
        vec!["plan", "install-timer"],
        vec!["--json", "plan", "install-timer"],
        vec!["run-due"],
    ] {
        let mut all = vec!["--key-file", k.to_str().unwrap()];
        all.extend(args.iter().copied());
        let mut c = sqsnap_keyless(&sim, &data, &all);
        c.env("XDG_CONFIG_HOME", &config).env("HOME", d.path());
        let o = run(c).await;
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", said(&o));
        outputs.push(o);
    }
    let unit = std::fs::read_to_string(config.join("systemd/user/sqsnap-run-due.service")).unwrap();
    let real = std::fs::canonicalize(&k).unwrap();
    assert!(
        unit.lines()
            .any(|l| l == format!("LoadCredential=squarecloud-api-key:{}", real.display())),
        "{unit}"
    );
    assert!(!unit.contains("SQUARECLOUD_API_KEY"), "{unit}");
    let key = KEY.as_bytes();
    let has_key = |bytes: &[u8]| bytes.windows(key.len()).any(|w| w == key);
    for o in &outputs {
        assert!(!has_key(&o.stdout) && !has_key(&o.stderr), "{}", said(o));
    }
    let files = files_under(d.path());
    assert!(files.len() > 5, "{files:?}");
    for f in files.iter().filter(|f| **f != k) {
        assert!(!has_key(&std::fs::read(f).unwrap()), "the key is in {f:?}");
    }
    // Without a key file, the unit says nothing of a credential (systemd would refuse to
    // start a service whose credential file is missing).
    let mut c = sqsnap(&sim, &data, KEY, &["plan", "install-timer"]);
    c.env("XDG_CONFIG_HOME", &config);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", said(&o));
    let unit = std::fs::read_to_string(config.join("systemd/user/sqsnap-run-due.service")).unwrap();
    assert!(!unit.contains("LoadCredential"), "{unit}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("--key-file"));
}

/// A systemd unit line's value split into words as systemd reads `Environment=` and
/// `ExecStart=` (written from systemd.syntax(7) and systemd.service(5), independent of
/// sqsnap): words end at white space outside quotes; double or single quotes may open and
/// close anywhere in a word; C escapes are read in and out of quotes; then, in each word,
/// specifiers: `%%` is `%` (any other is refused here, it would be replaced).
fn systemd_words(value: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match (c, quote) {
                (' ' | '\t', None) => break,
                ('"' | '\'', None) => quote = Some(c),
                (c, Some(q)) if c == q => quote = None,
                ('\\', _) => {
                    let e = chars.next().expect("a backslash at the end");
                    let mut hex = |n: usize| {
                        let h: String = (0..n).map(|_| chars.next().unwrap()).collect();
                        char::from_u32(u32::from_str_radix(&h, 16).unwrap()).unwrap()
                    };
                    word.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        'a' => '\u{7}',
                        'b' => '\u{8}',
                        'f' => '\u{c}',
                        'v' => '\u{b}',
                        's' => ' ',
                        '\\' | '"' | '\'' => e,
                        'x' => hex(2),
                        'u' => hex(4),
                        other => panic!("\\{other} is no C escape systemd knows ({value:?})"),
                    });
                }
                (c, _) => word.push(c),
            }
        }
        assert!(quote.is_none(), "an unterminated quote in {value:?}");
        let mut resolved = String::new();
        let mut w = word.chars();
        while let Some(c) = w.next() {
            if c == '%' {
                assert_eq!(w.next(), Some('%'), "a specifier in {word:?}");
            }
            resolved.push(c);
        }
        words.push(resolved);
    }
    words
}

/// An `ExecStart=` value as systemd runs it: the program's path (its prefixes taken off)
/// and the arguments. Variables (`$X`, `${X}`) are expanded in the arguments unless the
/// line starts with `:`; none is allowed here, since it would be replaced.
fn systemd_command(value: &str) -> (String, Vec<String>) {
    let mut words = systemd_words(value);
    let first = words.remove(0);
    let prefixes: String = first.chars().take_while(|c| "-@:+!".contains(*c)).collect();
    let path = first[prefixes.len()..].to_string();
    assert!(!prefixes.contains('@'), "a separate argv[0] in {value:?}");
    if !prefixes.contains(':') {
        for w in &words {
            assert!(!w.contains('$'), "a variable in {w:?}");
        }
    }
    // systemd's own rule for the program's path (string_is_safe): it refuses the unit.
    assert!(
        !path
            .chars()
            .any(|c| c.is_control() || matches!(c, '"' | '\'' | '\\')),
        "systemd refuses to start {path:?}"
    );
    (path, words)
}

/// Trust 18: a data folder with `$`, a backquote, `%`, quotes, a backslash, spaces and a
/// line break, and a program path with `$`, a backquote, `%` and spaces, are written so
/// that systemd reads them back as they are, each setting on one line. A program path
/// systemd would refuse to start (a line break, a quote) is refused, with why.
#[tokio::test]
#[cfg_attr(
    windows,
    ignore = "systemd user units: `plan install-timer` writes them for Linux"
)]
async fn the_timer_unit_names_awkward_paths_as_systemd_reads_them() {
    let sim = sim().await;
    let d = tempfile::tempdir().unwrap();
    let awkward = "a $HOME `id` 100%d \"q\" 'o' back\\slash\nnext\tline";
    let data = d.path().join(awkward).join("data");
    // The program itself in such a folder, by a hard link (the path it is run by is the
    // one the unit names), in the target dir: the same file system as the binary.
    let bin_dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let place = |dir: &str| {
        let dir = bin_dir.path().join(dir);
        std::fs::create_dir_all(&dir).unwrap();
        let exe = dir.join("sq snap");
        if std::fs::hard_link(env!("CARGO_BIN_EXE_sqsnap"), &exe).is_err() {
            std::fs::copy(env!("CARGO_BIN_EXE_sqsnap"), &exe).unwrap();
        }
        exe
    };
    let config = d.path().join("config");
    let unit_path = config.join("systemd/user/sqsnap-run-due.service");
    let install = |exe: &Path| {
        let mut c = sqsnap(&sim, &data, KEY, &["plan", "install-timer"]);
        c.env("XDG_CONFIG_HOME", &config);
        let mut from = Command::new(exe);
        from.args(c.get_args()).stdin(Stdio::null());
        for (k, v) in c.get_envs() {
            match v {
                Some(v) => from.env(k, v),
                None => from.env_remove(k),
            };
        }
        run(from)
    };
    let exe = place("b $HOME ${X} `id` 100%d ;&");
    let o = install(&exe).await;
    assert_eq!(o.status.code(), Some(0), "{}", said(&o));
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    for line in unit.lines() {
        assert!(
            line.is_empty()
                || line.starts_with('[')
                || [
                    "Description=",
                    "Wants=",
                    "After=",
                    "Type=",
                    "Environment=",
                    "ExecStart="
                ]
                .iter()
                .any(|k| line.starts_with(k)),
            "a stray line {line:?} in {unit}"
        );
    }
    let env = unit
        .lines()
        .find_map(|l| l.strip_prefix("Environment="))
        .expect("an Environment= line");
    assert_eq!(
        systemd_words(env),
        vec![format!("SQSNAP_DATA_DIR={}", data.display())]
    );
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart= line");
    assert_eq!(
        systemd_command(exec),
        (
            exe.to_str().unwrap().to_string(),
            vec!["run-due".to_string()]
        )
    );
    // Where systemd is installed, its own reading agrees: no warning, the program found.
    let runtime = tempfile::tempdir().unwrap();
    let verify = Command::new("systemd-analyze")
        .args(["verify", "--user"])
        .arg(&unit_path)
        .env("XDG_RUNTIME_DIR", runtime.path())
        .output();
    match verify {
        Ok(v) if !String::from_utf8_lossy(&v.stderr).contains("initialize manager") => {
            assert!(
                v.status.success() && v.stderr.is_empty(),
                "systemd-analyze verify: {}",
                String::from_utf8_lossy(&v.stderr)
            );
        }
        _ => eprintln!("systemd-analyze is not usable here: its check was skipped"),
    }
    // A program path systemd would never start: a clear refusal, the unit left as it was.
    for dir in ["new\nline", "quo\"te", "o'neil"] {
        let o = install(&place(dir)).await;
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{dir:?}: {}", said(&o));
        assert!(
            err.contains("systemd does not accept") && err.contains("Nothing was written"),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&unit_path).unwrap(), unit);
    }
}

/// Raw bytes a terminal would act on: C0 but the line break, DEL, C1, the bidirectional
/// controls and marks.
fn raw_controls(bytes: &[u8]) -> Vec<char> {
    String::from_utf8_lossy(bytes)
        .chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}')
                || ('\u{202A}'..='\u{202E}').contains(&c)
                || ('\u{2066}'..='\u{2069}').contains(&c)
        })
        .collect()
}

const HOSTILE: &str = "evil\u{1b}[31m red\u{7} \u{1b}]0;title\u{7} \u{202E}gpj.exe \u{9b}2J";

/// An API that answers every request with an error whose code and message are hostile.
async fn hostile_api() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let body = serde_json::json!({
                    "status": "error",
                    "code": format!("ODD{HOSTILE}"),
                    "message": HOSTILE,
                })
                .to_string();
                let answer = format!(
                    "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(answer.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    format!("http://{addr}/v2")
}

/// Trust 10: names, codes and messages from the server reach neither standard output nor
/// standard error raw, in any command, human or JSON; the server's error message is still
/// said (made harmless).
#[tokio::test]
async fn server_text_never_reaches_the_terminal_raw() {
    let mut account = AccountSpec::demo();
    account.name = HOSTILE.into();
    account.applications[0].name = HOSTILE.into();
    account.applications[1].name = format!("{HOSTILE}\u{85}\u{7f}\u{200F}\u{2066}");
    let sim = Simulator::start(SimConfig::new(KEY, account).instant_creates())
        .await
        .unwrap();
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let missing = d.path().join("missing");
    let atlas2 = sim.config().account.applications[1].id.clone();
    // Every download fails: the host answers with a web page instead of the archive.
    sim.inject(FaultSpec::new(Target::Files, FaultKind::HtmlInsteadOfFile).times(None));
    let mut runs: Vec<(Vec<String>, Output)> = Vec::new();
    for args in [
        vec!["list"],
        vec!["--json", "list"],
        vec!["whoami"],
        vec!["versions", ATLAS],
        vec!["download", ATLAS, "--dest", out.to_str().unwrap()],
        vec![
            "--json",
            "download",
            &atlas2,
            "--dest",
            out.to_str().unwrap(),
        ],
        vec![
            "snapshot",
            ATLAS,
            "--download",
            "--dest",
            missing.to_str().unwrap(),
        ],
        vec![
            "snapshot",
            &atlas2,
            "--download",
            "--dest",
            out.to_str().unwrap(),
        ],
        vec!["download", "no-such-id"],
    ] {
        let o = run(sqsnap(&sim, &data, KEY, &args)).await;
        runs.push((args.iter().map(|s| s.to_string()).collect(), o));
    }
    // `login` and `whoami` against a server whose error code and message are hostile.
    let api = hostile_api().await;
    for args in [vec!["login"], vec!["whoami"], vec!["--json", "whoami"]] {
        let mut c = sqsnap(&sim, &data, KEY, &args);
        c.env("SQUARECLOUD_API_URL", &api).stdin(Stdio::piped());
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        let o = tokio::task::spawn_blocking(move || {
            use std::io::Write;
            let mut child = c.spawn().unwrap();
            // The key on standard input, never in the arguments.
            let mut stdin = child.stdin.take().unwrap();
            let _ = stdin.write_all(format!("{KEY}\n").as_bytes());
            drop(stdin);
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap();
        let said_it =
            String::from_utf8_lossy(&o.stderr).to_string() + &String::from_utf8_lossy(&o.stdout);
        assert!(
            said_it.contains("gpj.exe"),
            "the message is still said: {said_it}"
        );
        runs.push((args.iter().map(|s| s.to_string()).collect(), o));
    }
    let mut failed = 0;
    for (args, o) in &runs {
        if !matches!(o.status.code(), Some(0..=9)) {
            panic!("{args:?}: {}", said(o));
        }
        failed += usize::from(!o.status.success());
        for (stream, bytes) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
            let raw = raw_controls(bytes);
            assert!(
                raw.is_empty(),
                "{args:?} {stream} has raw {raw:?}: {}",
                String::from_utf8_lossy(bytes).escape_debug()
            );
        }
    }
    assert!(failed >= 6, "the failure paths ran: {failed}");
    // JSON is still JSON and says the name as it is.
    let v = json_lines(&runs[1].1);
    assert_eq!(v[0]["name"], HOSTILE);
}

/// Trust 19: a standard output whose reader is gone (`sqsnap --json list | head -1`) ends
/// the command quietly: no panic, no 101, whatever the command.
#[tokio::test]
async fn a_closed_output_ends_quietly() {
    let sim = sim().await;
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    for args in [
        vec!["--json", "list"],
        vec!["list"],
        vec!["whoami"],
        vec!["quota"],
        vec!["versions", ATLAS],
        vec!["plan", "list"],
        vec!["--json", "download", ATLAS, "--dest", out.to_str().unwrap()],
        vec!["download", ATLAS, "--dest", out.to_str().unwrap()],
        vec!["--json", "verify", "/nonexistent.zip"],
        vec!["prune", "--keep", "3"],
        vec!["--help"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut c = sqsnap(&sim, &data, KEY, &args);
        c.stdout(writer).stderr(Stdio::piped());
        let o = run(c).await;
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_ne!(o.status.code(), Some(101), "{args:?}: {err}");
        // Unix: SIGPIPE may end it; Windows has no signal, the write fails instead.
        #[cfg(unix)]
        let by_sigpipe = {
            use std::os::unix::process::ExitStatusExt;
            o.status.signal() == Some(libc::SIGPIPE)
        };
        #[cfg(not(unix))]
        let by_sigpipe = false;
        assert!(
            o.status.success() || by_sigpipe || o.status.code() == Some(141),
            "{args:?}: {:?} {err}",
            o.status
        );
        assert!(!err.contains("Broken pipe"), "{args:?}: {err}");
    }
}
