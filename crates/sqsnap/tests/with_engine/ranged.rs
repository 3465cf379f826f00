//! From `crates/snapshots/tests/ranged.rs`: a `kill -9` of `sqsnap` in the middle of a
//! 4-connection download, resumed byte-identical.

use crate::common::*;
use snapshots::verify::verify_zip;
use squarecloud_sim::{SimConfig, Simulator, Target};
use std::time::{Duration, Instant};

const MIB: u64 = 1024 * 1024;
const APP: &str = "00000000000000000000000000000000";

fn file_gets(sim: &Simulator) -> Vec<Option<String>> {
    sim.requests()
        .into_iter()
        .filter(|q| q.host == Target::Files && q.method == "GET")
        .map(|q| q.range)
        .collect()
}

/// The bytes the simulator serves for the resource's one version.
fn served_archive(sim: &Simulator) -> Vec<u8> {
    let v = sim.versions(APP)[0].clone();
    sim.archive(APP, &v).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_four_connection_download_resumes_byte_identical() {
    let size = 64 * MIB;
    let c = SimConfig::new(KEY, tiny_account(1, 4096, size)).instant_creates();
    let sim = Simulator::start(c).await.unwrap();
    cap_each(&sim, 6_000_000);
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().to_str().unwrap();
    let args = ["download", APP, "--dest", dest, "--connections", "4"];
    let mut first = sqsnap(&sim, data.path(), KEY, &args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the sidecar says about 40 % is on disk, then kill -9.
    let sidecar = || {
        std::fs::read_dir(out.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with(".part.json"))
    };
    let t = Instant::now();
    let recorded = loop {
        let done: u64 = sidecar()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .map(|v| {
                v["done"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r[1].as_u64().unwrap() - r[0].as_u64().unwrap())
                    .sum()
            })
            .unwrap_or(0);
        if done >= size * 2 / 5 {
            break done;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the download did not get going"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    first.kill().unwrap(); // SIGKILL: no chance to save anything more
    first.wait().unwrap();
    let ranged_before = file_gets(&sim).len();
    assert!(ranged_before >= 3, "{:?}", file_gets(&sim));
    assert!(recorded < size, "finished before the kill");
    // A kill during a sidecar save leaves its temporary file half written; plant one (this
    // kill rarely lands there): the second run must neither read it nor leave it.
    let side = sidecar().unwrap();
    let torn = side.with_extension("json.tmp");
    let bytes = std::fs::read(&side).unwrap();
    std::fs::write(&torn, &bytes[..bytes.len() / 2]).unwrap();

    let again = sqsnap(&sim, data.path(), KEY, &args).output().unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let files = zips(out.path());
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(std::fs::read(&files[0]).unwrap(), served_archive(&sim));
    verify_zip(&files[0], Some(size), true).unwrap();
    // The second run asked only for what was missing: no request from byte 0.
    let after: Vec<_> = file_gets(&sim).into_iter().skip(ranged_before).collect();
    assert!(
        after
            .iter()
            .all(|r| r.as_deref().is_some_and(|r| !r.starts_with("bytes=0-"))),
        "{after:?}"
    );
    // Sent twice: at most 1 % of the file.
    let twice = sim.file_bytes_served().saturating_sub(size);
    eprintln!("{twice} bytes sent twice after the kill");
    assert!(
        twice <= size / 100,
        "{twice} bytes sent twice ({:.2} %)",
        twice as f64 * 100.0 / size as f64
    );
    assert!(
        std::fs::read_dir(out.path()).unwrap().count() == 1,
        "the .part, its sidecar or the sidecar's temporary file was left behind"
    );
}
