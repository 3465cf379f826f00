//! `sqsnap list --json` and the window's rows (`snapshots::overview`, which
//! `list_resources` returns unchanged): the same rows with the same keys, and the account
//! sqsnap names on every line.

use crate::common::*;
use squarecloud_sim::{AccountSpec, SimConfig};
use std::collections::BTreeSet;
use std::time::Duration;

fn keys(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

#[tokio::test]
async fn list_json_rows_are_the_windows_rows() {
    let c = SimConfig::new(KEY, AccountSpec::demo()).instant_creates();
    let (sim, engine, dir) = start(c).await;
    let data = dir.path().join("data");
    let first = engine.resources()[0].id.clone();
    engine
        .update_settings(|s| {
            s.destinations.insert(first, dir.path().join("own"));
        })
        .unwrap();

    let mut cmd = sqsnap(&sim, &data, KEY, &["--json", "list"]);
    let o = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut cli: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let quota = cli.pop().unwrap();
    assert!(
        quota.get("quota").is_some(),
        "the last line is the quota: {quota}"
    );

    engine.refresh_newest(Duration::ZERO).await.unwrap();
    let rows = serde_json::to_value(snapshots::overview::of_engine(&engine)).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(cli.len(), rows.len());
    assert!(!rows.is_empty());
    for (c, w) in cli.iter().zip(rows) {
        // Every line names its account (sqsnap's own keys, beside the row's).
        assert_eq!(c["account"], sim.config().account.id.as_str());
        assert_eq!(c["account_name"], sim.config().account.name.as_str());
        let mut theirs = keys(c);
        if !w.as_object().unwrap().contains_key("account") {
            theirs.remove("account");
        }
        theirs.remove("account_name");
        assert_eq!(
            theirs,
            keys(w),
            "{} has other keys than the window's row",
            c["id"]
        );
        for k in keys(w) {
            // The strip of days moves at midnight; everything else is the same account.
            if k != "days" {
                assert_eq!(c[&k], w[&k], "{}: {k}", c["id"]);
            }
        }
    }
    assert_eq!(rows[0]["own_dest"], true);
}
