//! From `crates/snapshots/tests/trust2.rs`: the trust items checked through `sqsnap`.

use crate::common::*;
use squarecloud_sim::{FaultKind, FaultSpec, Simulator, Target};
use std::time::Duration;

const APP: &str = "00000000000000000000000000000000";

/// 6. `sqsnap download` under the usual umask 022 also writes an archive only its owner
/// can read.
// Unix only: a umask set by sh, and mode bits, which Windows has not
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn item6_sqsnap_backups_are_private_under_umask_022() {
    let sim = Simulator::start(one_app(100 * 1024)).await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let out = folder(root.path(), "out");
    let data = root.path().join("data");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 022; exec \"$0\" download \"$1\" --dest \"$2\"")
        .arg(env!("CARGO_BIN_EXE_sqsnap"))
        .arg(APP)
        .arg(&out)
        .env("SQUARECLOUD_API_URL", sim.api_url())
        .env("SQUARECLOUD_API_KEY", KEY)
        .env("SQSNAP_DATA_DIR", &data)
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let zips: Vec<_> = listing(&out)
        .into_iter()
        .filter(|n| n.ends_with(".zip"))
        .collect();
    assert_eq!(zips.len(), 1, "{zips:?}");
    assert_eq!(mode(&out.join(&zips[0])), 0o600);
    assert_eq!(mode(&data), 0o700);
}

/// 5. `sqsnap` says the same on stderr: the snapshot may have been made, and until when its
/// list is watched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item5_sqsnap_says_until_when_it_watches() {
    use std::io::BufRead;
    let sim = Simulator::start(one_app(5_000)).await.unwrap();
    let root = tempfile::tempdir().unwrap();
    sim.inject(
        FaultSpec::new(Target::Api, FaultKind::ResetAfter { bytes: 5 })
            .on_path("/snapshots")
            .on_method("POST"),
    );
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
    let mut child = sqsnap(&sim, &root.path().join("data"), KEY, &["snapshot", APP])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.contains("watching its list until"))
    });
    let line = tokio::time::timeout(Duration::from_secs(60), line).await;
    let _ = child.kill();
    let _ = child.wait();
    let line = line.expect("said within a minute").unwrap().expect("said");
    assert!(
        line.contains("may have made this snapshot") && line.contains("no second snapshot"),
        "{line}"
    );
    assert_eq!(accepted_creates(&sim), 1);
}

/// 8. `sqsnap verify` held the state lock through a whole CRC pass, so every other process
/// (a prune, the app) waited behind it. The lock is now held only to read and record: a
/// check that cannot finish (a named pipe nobody writes) blocks nobody else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    windows,
    ignore = "a named pipe in a folder (mkfifo), which Windows has not"
)]
async fn item8_a_long_check_holds_no_lock() {
    let sim = Simulator::start(one_app(5_000)).await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let fifo = root.path().join("endless.zip");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let fifo_arg = fifo.to_str().unwrap().to_string();
    let mut child = sqsnap(&sim, &data, KEY, &["verify", &fifo_arg])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Let it reach the check (it blocks opening the pipe).
    tokio::time::sleep(Duration::from_millis(700)).await;
    let d = data.clone();
    let update = tokio::task::spawn_blocking(move || {
        let s = snapshots::statedir::StateDir::open(&d).unwrap();
        s.update(
            "other.json",
            |m: &mut std::collections::BTreeMap<String, u32>| m.insert("a".into(), 1),
        )
    });
    let done = tokio::time::timeout(Duration::from_secs(10), update).await;
    // Let the check end: a writer that sends nothing.
    drop(std::fs::OpenOptions::new().write(true).open(&fifo).unwrap());
    let status = child.wait().unwrap();
    assert!(
        matches!(done, Ok(Ok(Ok(_)))),
        "another process's update waited for the check"
    );
    assert!(!status.success(), "an empty file fails its check");
}
