//! The rows of the suite, in the order of docs/reliability.md.

use crate::support::*;
use crate::{Case, Runner, ensure};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use squarecloud_sim::{FaultKind, FaultSpec, Target};
use std::time::{Duration, Instant};

pub async fn all(r: &mut Runner) {
    r.row(
        "resets",
        "byte-identical (sha256), resumed with Range (bytes served ≤ 1.1× size), no `.part` left",
        (200, 6),
        None,
        resets,
    )
    .await;
    for (name, kind) in HOST_FAULTS {
        r.row(
            name,
            "recovered byte-identical, or a clear error and nothing under the final name",
            (50, 3),
            None,
            move |seed, full| host_fault(seed, full, kind),
        )
        .await;
    }
}

/// 1–200 MiB (short: 1–12 MiB) with 1–5 connection resets at random offsets.
async fn resets(seed: u64, full: bool) -> Case {
    let mut rng = StdRng::seed_from_u64(seed);
    let size = rng.random_range(MIB..=if full { 200 * MIB } else { 12 * MIB });
    let sim = one_app(size).await;
    let id = app_id(&sim, 0);
    // Offsets into the file, as the cut points of successive requests.
    let k = rng.random_range(1..=5);
    let mut cuts: Vec<u64> = (0..k).map(|_| rng.random_range(1..size)).collect();
    cuts.sort_unstable();
    let mut prev = 0;
    for c in cuts {
        sim.inject(
            FaultSpec::new(
                Target::Files,
                FaultKind::ResetAfter {
                    bytes: (c - prev).max(1),
                },
            )
            .on_method("GET"),
        );
        prev = c;
    }
    let d = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dest = d.path().join("out");
    std::fs::create_dir(&dest).map_err(|e| e.to_string())?;
    let o = sqsnap(
        &sim,
        &d.path().join("data"),
        &["download", &id, "--dest", dest.to_str().unwrap()],
    )
    .await;
    ensure!(o.status.success(), "{size} bytes, {k} resets: {}", said(&o));
    newest_is_in(&sim, &id, &dest)?;
    ensure!(
        leftovers(&dest).is_empty(),
        "left behind: {:?}",
        leftovers(&dest)
    );
    let served = sim.file_bytes_served();
    ensure!(
        served as f64 <= size as f64 * 1.1,
        "{served} bytes served for a {size}-byte file ({k} resets)"
    );
    let ranged = sim
        .requests()
        .iter()
        .filter(|q| q.host == Target::Files && q.range.is_some())
        .count();
    ensure!(ranged >= 1, "no request resumed with Range");
    Ok(format!("{k} resets"))
}

/// Host misbehaviours: the name of the row and the fault (drawn per case where it has a size).
const HOST_FAULTS: [(&str, HostFault); 6] = [
    ("host-ignores-range", HostFault::IgnoresRange),
    ("host-truncates", HostFault::Truncates),
    ("host-wrong-length", HostFault::WrongLength),
    ("host-html-page", HostFault::Html),
    ("host-expires-mid-resume", HostFault::ExpiresMidResume),
    ("host-drips", HostFault::Drips),
];

#[derive(Debug, Clone, Copy)]
enum HostFault {
    IgnoresRange,
    Truncates,
    WrongLength,
    Html,
    ExpiresMidResume,
    Drips,
}

async fn host_fault(seed: u64, full: bool, kind: HostFault) -> Case {
    let mut rng = StdRng::seed_from_u64(seed);
    let size = rng.random_range(MIB..=if full { 64 * MIB } else { 8 * MIB });
    let sim = one_app(size).await;
    let id = app_id(&sim, 0);
    let files = |k| FaultSpec::new(Target::Files, k).on_method("GET");
    let cut = rng.random_range(1..size);
    match kind {
        HostFault::IgnoresRange => {
            // A cut, so the download resumes; from then on Range is ignored.
            sim.inject(files(FaultKind::ResetAfter { bytes: cut }));
            sim.inject(files(FaultKind::IgnoreRange).times(None));
        }
        HostFault::Truncates => sim.inject(files(FaultKind::Truncate { bytes: cut })),
        HostFault::WrongLength => {
            let delta = if rng.random_bool(0.5) {
                -(rng.random_range(1..size) as i64)
            } else {
                rng.random_range(1..=size) as i64
            };
            sim.inject(
                files(FaultKind::WrongLength { delta }).times(Some(rng.random_range(1..=3))),
            );
        }
        HostFault::Html => sim.inject(files(FaultKind::HtmlInsteadOfFile).times(None)),
        HostFault::ExpiresMidResume => {
            sim.inject(files(FaultKind::ResetAfter { bytes: cut }));
            sim.inject(files(FaultKind::ExpiredSignature).times(Some(rng.random_range(1..=2))));
        }
        HostFault::Drips => return drips(sim, rng).await,
    }
    let d = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dest = d.path().join("out");
    std::fs::create_dir(&dest).map_err(|e| e.to_string())?;
    let o = sqsnap(
        &sim,
        &d.path().join("data"),
        &["download", &id, "--dest", dest.to_str().unwrap()],
    )
    .await;
    if o.status.success() {
        newest_is_in(&sim, &id, &dest)?;
        ensure!(
            leftovers(&dest).is_empty(),
            "left behind: {:?}",
            leftovers(&dest)
        );
        return Ok("recovered".into());
    }
    if std::env::var_os("SOAK_VERBOSE").is_some() {
        println!("  {kind:?}: {}", said(&o));
    }
    clear_refusal(&o, &dest)
}

/// A failed command: a message on stderr and an exit code from the table, no panic, and
/// nothing under a final name.
fn clear_refusal(o: &std::process::Output, dest: &std::path::Path) -> Case {
    let err = String::from_utf8_lossy(&o.stderr);
    ensure!(
        !err.contains("panicked") && err.trim().len() > 10,
        "not a clear error: {}",
        said(o)
    );
    ensure!(
        matches!(o.status.code(), Some(5..=7)),
        "exit code: {}",
        said(o)
    );
    ensure!(
        zips(dest).is_empty(),
        "a file under the final name after a failure: {:?}",
        zips(dest)
    );
    Ok(format!("refused (exit {})", o.status.code().unwrap_or(-1)))
}

/// A host that drips below the stall floor on the first connection: the engine (with a
/// floor of 256 KiB/s over 1 s, the app's is 1 KiB/s over 60 s) drops it and resumes.
async fn drips(sim: squarecloud_sim::Simulator, mut rng: StdRng) -> Case {
    let id = app_id(&sim, 0);
    sim.inject(
        FaultSpec::new(
            Target::Files,
            FaultKind::Bandwidth {
                bytes_per_sec: rng.random_range(4_000..64_000),
            },
        )
        .on_method("GET"),
    );
    let d = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dest = d.path().join("out");
    std::fs::create_dir(&dest).map_err(|e| e.to_string())?;
    let engine = crate::common::engine_on(&sim, &d.path().join("data"), |_| {})
        .await
        .with_downloader(
            snapshots::download::Downloader::new()
                .with_retries(6, Duration::from_millis(20))
                .with_floor(256 * 1024, Duration::from_secs(1)),
        );
    let r = engine.resource(&id).map_err(|e| e.to_string())?;
    let t = Instant::now();
    let got = engine
        .download(
            &r,
            None,
            Some(&dest),
            std::sync::Arc::new(|_| {}),
            &tokio_util::sync::CancellationToken::new(),
        )
        .await;
    match got {
        Ok(_) => {
            newest_is_in(&sim, &id, &dest)?;
            ensure!(leftovers(&dest).is_empty(), "left: {:?}", leftovers(&dest));
            ensure!(
                t.elapsed() < Duration::from_secs(30),
                "took {:?}: the drip was not dropped",
                t.elapsed()
            );
            Ok("recovered".into())
        }
        Err(e) => {
            ensure!(zips(&dest).is_empty(), "a final file after {e}");
            Ok(format!("refused ({})", e.code()))
        }
    }
}
