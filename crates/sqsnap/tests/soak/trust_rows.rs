//! Rows of the second trust pass: names planted in the folder by someone else, partial
//! answers that lie, and processes that share one per-minute budget.

use crate::support::*;
use crate::{Case, Runner, ensure};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use snapshots::squarecloud::ApiKey;
use squarecloud_sim::{FaultKind, FaultSpec, SimConfig, Simulator, Target};
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};
use std::time::Duration;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

pub async fn all(r: &mut Runner) {
    r.row(
        "planted-names",
        "a link, hard link, pipe, folder or other user's file under the `.part`, sidecar, its temporary file or the final name is never written through nor changed; the download lands byte-identical (0600, not through a link) or is refused clearly with nothing under a final name",
        (300, 12),
        None,
        planted,
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

/// What is planted, and where.
#[derive(Debug, Clone, Copy)]
enum Plant {
    Link,
    DanglingLink,
    HardLink,
    Pipe,
    Folder,
    OtherUser,
}

const PLANTS: [Plant; 6] = [
    Plant::Link,
    Plant::DanglingLink,
    Plant::HardLink,
    Plant::Pipe,
    Plant::Folder,
    Plant::OtherUser,
];
const PLACES: [&str; 4] = [".part", ".part.json", ".part.json.tmp", ""];

/// What a planted path looks like, to see that nothing changed it.
fn look(p: &Path) -> Option<(u64, u32, u64, Option<PathBuf>)> {
    let m = std::fs::symlink_metadata(p).ok()?;
    Some((m.ino(), m.mode(), m.len(), std::fs::read_link(p).ok()))
}

fn is_root() -> bool {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() == 0 }
}

async fn planted(seed: u64, full: bool) -> Case {
    let mut rng = StdRng::seed_from_u64(seed);
    let size = rng.random_range(64 * KIB..=if full { 8 * MIB } else { 2 * MIB });
    let sim = one_app(size).await;
    let id = app_id(&sim, 0);
    let (d, dest) = workdir()?;
    let data = d.path().join("data");
    // The archive's name, as anyone can work it out: downloaded once elsewhere.
    let learn = d.path().join("learn");
    std::fs::create_dir(&learn).map_err(|e| e.to_string())?;
    let o = download_newest(&sim, &data, &id, &learn).await;
    ensure!(o.status.success(), "learning the name: {}", said(&o));
    let name = zips(&learn)[0]
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("a name")?
        .to_string();
    let mut kind = PLANTS[rng.random_range(0..PLANTS.len())];
    if matches!(kind, Plant::OtherUser) && !is_root() {
        kind = Plant::Link;
    }
    let place = PLACES[rng.random_range(0..PLACES.len())];
    let at = dest.join(format!("{name}{place}"));
    let victim = d.path().join("victim");
    let precious = format!("someone else's file {seed}");
    std::fs::write(&victim, &precious).map_err(|e| e.to_string())?;
    let io = |r: std::io::Result<()>| r.map_err(|e| e.to_string());
    match kind {
        Plant::Link => io(symlink(&victim, &at))?,
        Plant::DanglingLink => io(symlink(d.path().join("nowhere"), &at))?,
        Plant::HardLink => io(std::fs::hard_link(&victim, &at))?,
        Plant::Pipe => {
            let ok = std::process::Command::new("mkfifo")
                .arg(&at)
                .status()
                .map_err(|e| e.to_string())?
                .success();
            ensure!(ok, "mkfifo");
        }
        Plant::Folder => io(std::fs::create_dir(&at))?,
        Plant::OtherUser => {
            io(std::fs::write(&at, b"theirs"))?;
            io(std::os::unix::fs::chown(&at, Some(65534), Some(65534)))?;
        }
    }
    let before = look(&at);
    let o = tokio::time::timeout(
        Duration::from_secs(120),
        download_newest(&sim, &data, &id, &dest),
    )
    .await
    .map_err(|_| format!("{kind:?} at {place:?}: still running after 120 s"))?;
    let what = format!("{kind:?} at {name}{place}");
    ensure!(
        std::fs::read_to_string(&victim).ok().as_deref() == Some(precious.as_str()),
        "{what}: the victim changed"
    );
    ensure!(look(&at) == before, "{what}: the planted path changed");
    ensure!(
        !d.path().join("nowhere").exists(),
        "{what}: written through a dangling link"
    );
    let ours: Vec<PathBuf> = zips(&dest).into_iter().filter(|p| *p != at).collect();
    if o.status.success() {
        ensure!(
            ours.len() == 1,
            "{what}: expected one new archive, found {ours:?}"
        );
        let m = std::fs::symlink_metadata(&ours[0]).map_err(|e| e.to_string())?;
        ensure!(m.is_file(), "{what}: the archive is not a regular file");
        ensure!(
            m.mode() & 0o777 == 0o600,
            "{what}: mode {:o}",
            m.mode() & 0o777
        );
        let newest = sim.versions(&id).last().cloned().ok_or("no version")?;
        ensure!(
            file_sha(&ours[0]).map_err(|e| e.to_string())? == archive_sha(&sim, &id, &newest),
            "{what}: the archive differs"
        );
        return Ok("landed beside".into());
    }
    let err = String::from_utf8_lossy(&o.stderr);
    ensure!(
        !err.contains("panicked") && matches!(o.status.code(), Some(5..=7)),
        "{what}: not a clear error: {}",
        said(&o)
    );
    ensure!(
        err.contains(&name),
        "{what}: the error does not name the file: {}",
        said(&o)
    );
    ensure!(
        ours.is_empty(),
        "{what}: a final file after a refusal: {ours:?}"
    );
    Ok("refused".into())
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
