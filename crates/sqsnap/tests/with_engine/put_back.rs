//! From `crates/snapshots/tests/putback.rs`: `sqsnap put-back` asks first, puts the copy
//! back with --yes, refuses a database and a wrong key with their exit codes, and never
//! prints the key.

use crate::common::{self, *};
use squarecloud_sim::{AccountSpec, SimConfig, Simulator};
use std::io::Write;

const ATLAS: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const POSTGRES: &str = "8192a3b4c5d6e7f8091a2b3c4d5e6f70";

async fn output(mut c: std::process::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test]
async fn sqsnap_put_back_asks_then_puts_the_copy_back() {
    let sim = Simulator::start(SimConfig::new(KEY, AccountSpec::demo()).instant_creates())
        .await
        .unwrap();
    let d = tempfile::tempdir().unwrap();
    let copy = d.path().join("copy.zip");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&copy).unwrap());
    w.start_file("index.js", zip::write::SimpleFileOptions::default())
        .unwrap();
    w.write_all(b"back").unwrap();
    w.finish().unwrap();
    let from = copy.to_str().unwrap().to_string();
    let cmd = |key: &str, id: &str, extra: &[&str]| {
        let mut c = common::sqsnap(
            &sim,
            d.path(),
            key,
            &["put-back", id, "--from", &from, "--no-snapshot-first"],
        );
        c.args(extra);
        c
    };
    let o = output(cmd(KEY, ATLAS, &[])).await;
    assert_eq!(
        o.status.code(),
        Some(2),
        "no terminal, no --yes: {}",
        text(&o)
    );
    assert!(sim.app_files(ATLAS).unwrap().is_empty(), "nothing was sent");

    let o = output(cmd(KEY, POSTGRES, &["--yes"])).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("is a database"), "{}", text(&o));

    let o = output(cmd("313397145698959364-wrong", ATLAS, &["--yes"])).await;
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(!text(&o).contains("wrong"), "the key is never printed");

    let o = output(cmd(KEY, ATLAS, &["--yes", "--restart"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(sim.app_files(ATLAS).unwrap()["index.js"], b"back");
    assert_eq!(sim.app_restarts(ATLAS), 1);
    assert!(text(&o).contains("now has the files"), "{}", text(&o));
    assert!(!text(&o).contains(KEY), "the key is never printed");
    let commits = sim
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/commit"))
        .count();
    assert_eq!(commits, 1);
}

#[tokio::test]
async fn sqsnap_new_app_asks_then_makes_an_application_from_a_copy() {
    let mut account = AccountSpec::demo();
    account.memory_mb = 8192;
    let sim = Simulator::start(SimConfig::new(KEY, account).instant_creates())
        .await
        .unwrap();
    const ROCKET: &str = "2b3c4d5e6f708192a3b4c5d6e7f8091a";
    let d = tempfile::tempdir().unwrap();
    let copy = d.path().join("rocket.zip");
    let v = sim.versions(ROCKET).pop().unwrap();
    std::fs::write(&copy, sim.archive(ROCKET, &v).unwrap()).unwrap();
    let from = copy.to_str().unwrap().to_string();
    let o = output(common::sqsnap(&sim, d.path(), KEY, &["new-app", &from])).await;
    assert_eq!(
        o.status.code(),
        Some(2),
        "no terminal, no --yes: {}",
        text(&o)
    );
    let ups = || {
        sim.requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path == "/v2/apps")
            .count()
    };
    assert_eq!(ups(), 0, "nothing was sent");
    let o = output(common::sqsnap(
        &sim,
        d.path(),
        KEY,
        &["--json", "new-app", &from, "--yes"],
    ))
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let line = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v.get("new_app").is_some())
        .unwrap_or_else(|| panic!("{}", text(&o)));
    let id = line["new_app"].as_str().unwrap().to_string();
    assert_eq!(line["name"], "🚀 rocket-api");
    assert!(!sim.app_files(&id).unwrap().is_empty());
    assert_eq!(ups(), 1);
    // A zip without a configuration: said, exit 2, nothing sent.
    let bare = d.path().join("bare.zip");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&bare).unwrap());
    w.start_file("index.js", zip::write::SimpleFileOptions::default())
        .unwrap();
    w.write_all(b"x").unwrap();
    w.finish().unwrap();
    let o = output(common::sqsnap(
        &sim,
        d.path(),
        KEY,
        &["new-app", bare.to_str().unwrap(), "--yes"],
    ))
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("squarecloud.app"), "{}", text(&o));
    assert_eq!(ups(), 1);
}
