//! Restore against the simulator: the call held about a minute (scaled), a snapshot of the
//! current state first unless told otherwise, one restore per resource per minute.
//! (`sqsnap restore` asking first: `crates/sqsnap/tests/with_engine/restore.rs`.)

mod common;

use common::*;
use snapshots::restore::RestoreOptions;
use squarecloud_sim::{AccountSpec, SimConfig};
use tokio_util::sync::CancellationToken;

const LOJA: &str = "1a2b3c4d5e6f708192a3b4c5d6e7f809"; // two older snapshots

fn config() -> SimConfig {
    let mut c = SimConfig::new(KEY, AccountSpec::demo()).instant_creates();
    c.time_scale = 60.0; // the 60 s restore takes one second
    c
}

#[tokio::test]
async fn a_restore_takes_a_snapshot_first_and_returns_the_chosen_version() {
    let (sim, engine, dir) = start(config()).await;
    let r = engine.resource(LOJA).unwrap();
    let oldest = sim.versions(LOJA)[0].clone();
    let (sink, _) = collect();
    let opts = RestoreOptions {
        snapshot_first: true,
        download_first_to: Some(dir.path().to_path_buf()),
    };
    let done = engine
        .restore(&r, &oldest, opts, sink, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(sim.restored_to(LOJA), Some(oldest.clone()));
    let safety = done.safety.unwrap();
    let file = safety.download.unwrap().path;
    assert!(file.exists(), "the state before is on disk");
    // The create came first, then the restore, each once.
    let posts: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|q| q.method == "POST")
        .map(|q| (q.path, q.status))
        .collect();
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert!(posts[0].0.ends_with("/snapshots") && posts[1].0.ends_with("/restore"));
    assert!(posts.iter().all(|(_, s)| *s == 200));
    assert_eq!(engine.quota().used, 1, "the snapshot first spends one slot");
}

#[tokio::test]
async fn restores_wait_for_the_window_and_unknown_versions_are_named() {
    let (sim, engine, _dir) = start(config()).await;
    let r = engine.resource(LOJA).unwrap();
    let v = sim.versions(LOJA);
    let (sink, _) = collect();
    let cancel = CancellationToken::new();
    for version in [&v[0], &v[1]] {
        engine
            .restore(
                &r,
                version,
                RestoreOptions::default(),
                sink.clone(),
                &cancel,
            )
            .await
            .unwrap();
    }
    assert_eq!(sim.restored_to(LOJA), Some(v[1].clone()));
    assert!(
        sim.requests().iter().all(|q| q.status != 429),
        "the window was kept"
    );
    assert_eq!(engine.quota().used, 0, "no snapshot asked for, none taken");
    let e = engine
        .restore(&r, "nope", RestoreOptions::default(), sink, &cancel)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "not_found");
}
