//! Rows of the second trust pass: names planted in the folder by someone else, partial
//! answers that lie, and processes that share one per-minute budget.

use crate::support::*;
use crate::{Case, Runner, ensure};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use snapshots::squarecloud::ApiKey;
use squarecloud_sim::{FaultKind, FaultSpec, SimConfig, Simulator, Target};
use std::time::Duration;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

pub async fn all(r: &mut Runner) {
    // Unix only: links, FIFOs, another user's files and mode bits (see planted.rs).
    #[cfg(unix)]
    r.row(
        "planted-names",
        "a link, hard link, pipe, folder or other user's file under the `.part`, sidecar, its temporary file or the final name is never written through nor changed; the download lands byte-identical (0600, not through a link) or is refused clearly with nothing under a final name",
        (300, 12),
        None,
        crate::planted::planted,
    )
    .await;
    r.row(
        "bad-partials",
        "a 206 or 416 with a wrong, garbled or changing range (on one stream, or on one connection of several): byte-identical, or a clear error, within the attempt budget (≤ 40 requests, ≤ 120 s)",
        (80, 5),
        None,
        bad_partials,
    )
    .await;
    r.row(
        "shared-budget",
        "2 or 3 processes' engines on one data dir, each as fast as it may go: together under the plan's per-minute cap, no 429",
        (30, 2),
        None,
        shared_budget,
    )
    .await;
}

/// A `Content-Range` that is not what was asked for: another start, another total, no
/// numbers at all.
fn lying_range(rng: &mut StdRng, size: u64) -> String {
    let a = rng.random_range(0..size);
    let b = rng.random_range(a..size);
    let t = match rng.random_range(0..3) {
        0 => size,
        1 => rng.random_range(1..size * 2),
        _ => size + 1,
    };
    match rng.random_range(0..5) {
        0 => format!("bytes {a}-{b}/{t}"),
        1 => format!("bytes {}-{b}/{t}", a.saturating_add(1)),
        2 => format!("bytes */{t}"),
        3 => format!("bytes {a}-{b}/*"),
        _ => ["nonsense", "", "bytes -1-5/10", "bytes 9-3/2"][rng.random_range(0..4)].to_string(),
    }
}

async fn bad_partials(seed: u64, full: bool) -> Case {
    let mut rng = StdRng::seed_from_u64(seed);
    // One case in four over 32 MiB: several connections, where one of them is lied to.
    let ranged = rng.random_bool(0.25);
    let size = if ranged {
        rng.random_range(33 * MIB..=if full { 64 * MIB } else { 34 * MIB })
    } else {
        rng.random_range(64 * KIB..=if full { 8 * MIB } else { 2 * MIB })
    };
    let sim = one_app(size).await;
    let id = app_id(&sim, 0);
    let status = [206, 206, 416, 200][rng.random_range(0..4)];
    let range = lying_range(&mut rng, size);
    let body = rng.random_range(0..=4096);
    // A cut first, so the next answer is to a resumed request.
    if rng.random_bool(0.5) {
        sim.inject(
            FaultSpec::new(
                Target::Files,
                FaultKind::ResetAfter {
                    bytes: rng.random_range(1..size),
                },
            )
            .on_method("GET"),
        );
    }
    let times = if rng.random_bool(0.3) {
        None
    } else {
        Some(rng.random_range(1..=4))
    };
    let after = if ranged { rng.random_range(0..=2) } else { 0 };
    sim.inject(
        FaultSpec::new(
            Target::Files,
            FaultKind::BadPartial {
                status,
                content_range: range.clone(),
                body_bytes: body,
            },
        )
        .on_method("GET")
        .times(times)
        .after(after),
    );
    let (d, dest) = workdir()?;
    let what = format!("{status} {range:?} ×{times:?} after {after}, {size} bytes");
    let o = tokio::time::timeout(
        Duration::from_secs(120),
        download_newest(&sim, &d.path().join("data"), &id, &dest),
    )
    .await
    .map_err(|_| format!("{what}: still running after 120 s"))?;
    let gets = sim
        .requests()
        .iter()
        .filter(|q| q.host == Target::Files)
        .count();
    ensure!(gets <= 40, "{what}: {gets} requests for one download");
    if o.status.success() {
        only_newest_in(&sim, &id, &dest).map_err(|e| format!("{what}: {e}"))?;
        return Ok("recovered".into());
    }
    let err = String::from_utf8_lossy(&o.stderr);
    ensure!(
        !err.contains("panicked") && matches!(o.status.code(), Some(5..=7)),
        "{what}: not a clear error: {}",
        said(&o)
    );
    ensure!(
        zips(&dest).is_empty(),
        "{what}: a final file after a failure"
    );
    Ok("refused".into())
}

async fn shared_budget(seed: u64, _full: bool) -> Case {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut account = squarecloud_sim::AccountSpec::demo();
    account.plan = "hobby-2".into(); // 60 a minute
    let mut c = SimConfig::new(crate::common::KEY, account).instant_creates();
    // A minute is 3 s: a loaded machine delaying a request by a few hundred milliseconds
    // does not crowd one server minute (on the real one's 60 s such delays do not count).
    c.time_scale = 20.0;
    let sim = Simulator::start(c).await.map_err(|e| e.to_string())?;
    let (d, _) = workdir()?;
    let data = d.path().join("data");
    let n = rng.random_range(2..=3);
    let mut runs = Vec::new();
    let mut total = 0;
    for _ in 0..n {
        let mut cfg = snapshots::EngineConfig::new(sim.api_url(), &data);
        cfg.files_url = Some(sim.files_url());
        cfg.limits = crate::common::limits_of(&sim);
        let e = snapshots::Engine::connect(cfg, ApiKey::new(crate::common::KEY).unwrap())
            .await
            .map_err(|e| e.to_string())?;
        let calls = rng.random_range(20..=40);
        total += calls;
        let picks: Vec<usize> = (0..calls).map(|_| rng.random_range(0..8)).collect();
        runs.push(tokio::spawn(async move {
            let rs = e.resources();
            for p in picks {
                let r = &rs[p % rs.len()];
                e.versions(r).await.map_err(|e| e.to_string())?;
            }
            Ok::<(), String>(())
        }));
    }
    for r in runs {
        r.await.map_err(|e| e.to_string())??;
    }
    let refused = sim.requests().iter().filter(|q| q.status == 429).count();
    ensure!(
        refused == 0,
        "{refused} refused among {total} calls of {n} processes"
    );
    Ok(format!("{n} processes"))
}
