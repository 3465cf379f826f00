//! From `crates/snapshots/tests/restore.rs`: `sqsnap restore` asks first.

use crate::common::{self, *};
use squarecloud_sim::{AccountSpec, SimConfig};

const LOJA: &str = "1a2b3c4d5e6f708192a3b4c5d6e7f809"; // two older snapshots

fn config() -> SimConfig {
    let mut c = SimConfig::new(KEY, AccountSpec::demo()).instant_creates();
    c.time_scale = 60.0; // the 60 s restore takes one second
    c
}

#[tokio::test]
async fn sqsnap_restore_asks_unless_yes() {
    let sim = squarecloud_sim::Simulator::start(config()).await.unwrap();
    let d = tempfile::tempdir().unwrap();
    let oldest = sim.versions(LOJA)[0].clone();
    let cmd = |extra: &[&str]| {
        let mut c = common::sqsnap(
            &sim,
            d.path(),
            KEY,
            &["restore", LOJA, "--version", &oldest, "--no-snapshot-first"],
        );
        c.args(extra);
        c
    };
    let mut c = cmd(&[]);
    let o = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "no terminal, no --yes: nothing done"
    );
    assert_eq!(sim.restored_to(LOJA), None);
    let mut c = cmd(&["--yes"]);
    let o = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(sim.restored_to(LOJA), Some(oldest));
}
