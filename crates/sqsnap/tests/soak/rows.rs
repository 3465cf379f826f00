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
    r.row(
        "kill-9",
        "every state file parses, the same command again finishes, one accepted create, the file byte-identical",
        (100, 5),
        None,
        kill9,
    )
    .await;
    r.row(
        "disk-full",
        "a clear \"disk full\" error, the `.part` kept, the same command finishes once space is freed",
        (10, 2),
        mount_skip_reason(),
        disk_full,
    )
    .await;
    r.row(
        "storms",
        "no request refused beyond the first of each storm, never two accepted creates for one requested snapshot",
        (100, 3),
        None,
        storms,
    )
    .await;
    r.row(
        "concurrency",
        "state parses, the ledger counts every accepted create once, no `.part` shared or left, no duplicate creates",
        (50, 2),
        None,
        concurrency,
    )
    .await;
    r.row(
        "key-secrecy",
        "the key's bytes in no file under HOME, the XDG dirs or the folder, no output line, event or URL; never sent to the file host (the e2e test checks the window's side)",
        (1, 1),
        None,
        secrecy,
    )
    .await;
    r.row(
        "hostile-names",
        "the path is inside the folder, ≤ 255 bytes, valid on Windows, macOS and Linux, unique per resource; through `sqsnap` (1 case in 200), no raw control or bidi character on its output or errors",
        (10_000, 2_000),
        None,
        hostile_names,
    )
    .await;
    r.row(
        "bad-server-input",
        "a typed error, no panic, memory bounded",
        (10_000, 1_000),
        None,
        crate::props::bad_server_input,
    )
    .await;
}

/// A hostile name's file name ([`crate::props::hostile_names`]); for one case in 200, names
/// made of terminal controls too, through `sqsnap`'s output: a list, JSON, a failing download.
async fn hostile_names(seed: u64, full: bool) -> Case {
    let safe = crate::props::hostile_names(seed, full).await?;
    if !seed.is_multiple_of(200) {
        return Ok(safe);
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let names: Vec<String> = (0..4)
        .map(|i| format!("r{i} {}", terminal_hostile(&mut rng)))
        .collect();
    let c = squarecloud_sim::SimConfig::new(KEY, account(4, |i| names[i].clone(), |_| 4096))
        .instant_creates();
    let sim = squarecloud_sim::Simulator::start(c)
        .await
        .map_err(|e| e.to_string())?;
    // Every download fails: a web page instead of the archive (its error names the resource).
    sim.inject(FaultSpec::new(Target::Files, FaultKind::HtmlInsteadOfFile).times(None));
    let (d, dest) = workdir()?;
    let data = d.path().join("data");
    let id = app_id(&sim, 0);
    let dest = dest.to_str().unwrap_or_default();
    for args in [
        vec!["list"],
        vec!["--json", "list"],
        vec!["versions", id.as_str()],
        vec!["download", id.as_str(), "--dest", dest],
        vec!["--json", "download", id.as_str(), "--dest", dest],
    ] {
        let o = sqsnap(&sim, &data, &args).await;
        ensure!(
            matches!(o.status.code(), Some(0..=9)),
            "{names:?}: {args:?}: {}",
            said(&o)
        );
        for (stream, bytes) in [("output", &o.stdout), ("errors", &o.stderr)] {
            let raw: Vec<char> = String::from_utf8_lossy(bytes)
                .chars()
                .filter(|&c| {
                    (c.is_control() && c != '\n')
                        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}')
                        || ('\u{202A}'..='\u{202E}').contains(&c)
                        || ('\u{2066}'..='\u{2069}').contains(&c)
                })
                .collect();
            ensure!(
                raw.is_empty(),
                "{names:?}: `sqsnap {}` printed {raw:?} raw on its {stream}",
                args.join(" ")
            );
        }
        if args == ["list"] {
            let lines = String::from_utf8_lossy(&o.stdout).lines().count();
            ensure!(
                lines == 5,
                "{names:?}: {lines} lines for 4 resources and the quota"
            );
        }
        if args == ["--json", "list"] {
            let listed: Vec<String> = String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter_map(|v| v["name"].as_str().map(str::to_owned))
                .collect();
            ensure!(
                listed == names,
                "JSON changed the names: {listed:?} for {names:?}"
            );
        }
    }
    Ok(format!("{safe}, printed"))
}

/// A name of terminal controls: CSI and OSC sequences (colours, clearing, a title, a link),
/// bells, backspaces, line breaks, DEL, the C1 controls, bidirectional overrides, isolates
/// and marks, among letters and any character at all.
fn terminal_hostile(rng: &mut StdRng) -> String {
    const PIECES: &[&str] = &[
        "\u{1b}[31m",
        "\u{1b}[2J",
        "\u{1b}[1;1H",
        "\u{1b}]0;title\u{7}",
        "\u{1b}]8;;http://x\u{1b}\\",
        "\u{1b}P",
        "\u{7}",
        "\u{8}",
        "\r",
        "\n",
        "\t",
        "\0",
        "\u{7f}",
        "\u{9b}31m",
        "\u{9d}0;t\u{9c}",
        "\u{85}",
        "\u{202E}",
        "\u{202D}",
        "\u{202A}",
        "\u{2066}",
        "\u{2069}",
        "\u{200F}",
        "\u{061C}",
        "São",
        "🚀",
        "a",
        " ",
        "%s",
        "\\",
        "\"",
    ];
    let n = rng.random_range(1..12);
    let mut s = String::new();
    for _ in 0..n {
        if rng.random_bool(0.1) {
            s.push(char::from_u32(rng.random_range(0..0x11_0000)).unwrap_or('?'));
        } else {
            s.push_str(PIECES[rng.random_range(0..PIECES.len())]);
        }
    }
    s
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
    let (d, dest) = workdir()?;
    let o = download_newest(&sim, &d.path().join("data"), &id, &dest).await;
    ensure!(o.status.success(), "{size} bytes, {k} resets: {}", said(&o));
    only_newest_in(&sim, &id, &dest)?;
    let served = sim.file_bytes_served();
    ensure!(
        served * 10 <= size * 11,
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
    let (d, dest) = workdir()?;
    let o = download_newest(&sim, &d.path().join("data"), &id, &dest).await;
    if o.status.success() {
        only_newest_in(&sim, &id, &dest)?;
        return Ok("recovered".into());
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
    let (d, dest) = workdir()?;
    let engine = crate::common::engine_on(&sim, &d.path().join("data"), |_| {})
        .await
        .with_downloader(
            snapshots::download::Downloader::new()
                .with_retries(6, Duration::from_millis(20))
                .with_floor(256 * 1024, Duration::from_secs(1)),
        );
    let r = engine.resource(&id).map_err(|e| e.to_string())?;
    let t = Instant::now();
    match crate::common::download_latest(&engine, &r, &dest).await {
        Ok(_) => {
            only_newest_in(&sim, &id, &dest)?;
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

/// How long `sqsnap snapshot --download` of the kill row's setup takes when left alone,
/// measured once: kills are spread over it.
static CLEAN_RUN: tokio::sync::OnceCell<Duration> = tokio::sync::OnceCell::const_new();

/// The kill row's simulator: creates take 0.4 s, the download about 0.8 s whatever its size.
async fn kill_sim(size: u64) -> squarecloud_sim::Simulator {
    let mut c = squarecloud_sim::SimConfig::new(KEY, account(1, |_| "kill me".into(), |_| size))
        .instant_creates();
    c.generation_time = Duration::from_millis(400);
    let sim = squarecloud_sim::Simulator::start(c)
        .await
        .expect("simulator");
    sim.inject(
        FaultSpec::new(
            Target::Files,
            FaultKind::Bandwidth {
                bytes_per_sec: (size as f64 / 0.8) as u64,
            },
        )
        .times(None),
    );
    sim
}

fn snapshot_args(id: &str, dest: &std::path::Path) -> Vec<String> {
    [
        "snapshot",
        id,
        "--download",
        "--dest",
        dest.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec()
}

/// `kill -9` of `sqsnap snapshot ID --download` at a random moment of its run, then the same
/// command again.
async fn kill9(seed: u64, full: bool) -> Case {
    let mut rng = StdRng::seed_from_u64(seed);
    let clean = *CLEAN_RUN
        .get_or_init(|| async {
            let sim = kill_sim(4 * MIB).await;
            let (d, dest) = workdir().expect("a temp dir");
            let args = snapshot_args(&app_id(&sim, 0), &dest);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let t = Instant::now();
            let o = sqsnap(&sim, &d.path().join("data"), &args).await;
            assert!(o.status.success(), "calibration: {}", said(&o));
            let took = t.elapsed();
            println!("soak kill-9: an uncut run takes {took:.2?}; kills fall in it");
            took
        })
        .await;
    let size = rng.random_range(MIB..=if full { 32 * MIB } else { 8 * MIB });
    let sim = kill_sim(size).await;
    let id = app_id(&sim, 0);
    let (d, dest) = workdir()?;
    let data = d.path().join("data");
    let args = snapshot_args(&id, &dest);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let at = Duration::from_secs_f64(rng.random_range(0.0..clean.as_secs_f64()));
    let mut child = crate::common::sqsnap(&sim, &data, KEY, &args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    tokio::time::sleep(at).await;
    let finished_first = child.try_wait().map_err(|e| e.to_string())?.is_some();
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    state_parses(&data)?;
    let tag = if finished_first {
        "finished before the kill"
    } else if !zips(&dest).is_empty() {
        "killed after the rename"
    } else {
        // The same command again; "not finished yet" (9) may be said while the lost
        // create's snapshot is still being prepared.
        let mut tries = 0;
        loop {
            tries += 1;
            let o = sqsnap(&sim, &data, &args).await;
            if o.status.success() {
                break;
            }
            ensure!(
                o.status.code() == Some(9) && tries < 4,
                "the same command again, killed at {at:.2?}: {}",
                said(&o)
            );
            sleep_ms(500).await;
        }
        "resumed"
    };
    state_parses(&data)?;
    // Counted from the server's state, not its log: a create whose caller was killed while
    // the server prepared it is made, but its answer (and so its logged status) never is.
    let made = sim.created_versions(&id).len();
    let answered: usize = accepted_creates(&sim).values().sum();
    ensure!(
        made == 1 && answered <= 1,
        "{made} snapshots made, {answered} creates answered (killed at {at:.2?} of {clean:.2?})"
    );
    only_newest_in(&sim, &id, &dest)?;
    Ok(tag.into())
}

/// Why the disk-full row cannot run here, if it cannot: it mounts a small tmpfs.
fn mount_skip_reason() -> Option<String> {
    let d = tempfile::tempdir().ok()?;
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(d.path())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        let _ = std::process::Command::new("umount").arg(d.path()).status();
        None
    } else {
        Some("cannot mount a tmpfs here (needs root); run `make soak` as root to include it".into())
    }
}

/// A tmpfs mounted for one case, unmounted when dropped.
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    fn new(bytes: u64) -> Result<Self, String> {
        let d = tempfile::tempdir().map_err(|e| e.to_string())?;
        let s = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={}k", bytes / 1024),
                "tmpfs",
            ])
            .arg(d.path())
            .status()
            .map_err(|e| e.to_string())?;
        ensure!(s.success(), "mount failed: {s}");
        Ok(Self(d))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path())
            .status();
    }
}

/// The destination on an 8 MiB tmpfs that a filler leaves too little room on.
async fn disk_full(seed: u64, _full: bool) -> Case {
    let mut rng = StdRng::seed_from_u64(seed);
    let disk = SmallDisk::new(8 * MIB)?;
    let free = rng.random_range(MIB / 2..3 * MIB);
    let size = rng.random_range(free + MIB..7 * MIB);
    let filler = disk.0.path().join("filler");
    std::fs::write(&filler, vec![7u8; (8 * MIB - free) as usize]).map_err(|e| e.to_string())?;
    let sim = one_app(size).await;
    let id = app_id(&sim, 0);
    let d = tempfile::tempdir().map_err(|e| e.to_string())?;
    let data = d.path().join("data");
    let dest = disk.0.path();
    let args = ["download", &id, "--dest", dest.to_str().unwrap()];
    let o = sqsnap(&sim, &data, &args).await;
    ensure!(o.status.code() == Some(7), "a full disk: {}", said(&o));
    let err = String::from_utf8_lossy(&o.stderr).to_lowercase();
    ensure!(
        err.contains("full"),
        "the message does not say the disk is full: {err}"
    );
    ensure!(zips(dest).is_empty(), "a final file on a full disk");
    let kept: Vec<_> = leftovers(dest)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".part"))
        .collect();
    ensure!(kept.len() == 1, "the .part was not kept: {:?}", files(dest));
    let had = std::fs::metadata(&kept[0])
        .map_err(|e| e.to_string())?
        .len();
    std::fs::remove_file(&filler).map_err(|e| e.to_string())?;
    let o = sqsnap(&sim, &data, &args).await;
    ensure!(o.status.success(), "after freeing space: {}", said(&o));
    only_newest_in(&sim, &id, dest)?;
    let resumed = sim
        .requests()
        .iter()
        .any(|q| q.range.as_deref() == Some(&format!("bytes={had}-")));
    ensure!(
        had == 0 || resumed,
        "the second run did not resume from {had} bytes"
    );
    Ok("refused, then finished".into())
}

/// Simulated seconds per real second in the storm row.
const STORM_SCALE: f64 = 50.0;

/// Snapshot-all of 20 applications by the engine, on a clock 50× faster, with creates taking
/// 0–120 s (past 90 s they answer 202), while another client on the same key sets off
/// storms: creates that fill the account's window (`KEEP_CALM` for whoever comes next) and
/// spend the quota (`DAILY_SNAPSHOTS_LIMIT_REACHED` mid-run), or a burst of requests that
/// gets the key blocked (`RATE_LIMITED`).
async fn storms(seed: u64, _full: bool) -> Case {
    let mut rng = StdRng::seed_from_u64(seed);
    let gens: Vec<f64> = (0..21).map(|_| rng.random_range(0.0..120.0)).collect();
    let mut a = account(21, |i| format!("storm app {i}"), |_| 64 * 1024);
    for (r, g) in a.applications.iter_mut().zip(&gens) {
        r.generation_secs = Some(*g);
    }
    let other_creates = rng.random_range(1..=4usize);
    // The quota: enough for everything, or a few short once the other client has spent.
    let quota = 20 + other_creates as u64 - rng.random_range(0..=3u64);
    a.memory_mb = quota.div_ceil(2) * 256;
    let quota = a.daily_quota();
    let mut c = squarecloud_sim::SimConfig::new(KEY, a);
    c.time_scale = STORM_SCALE;
    let block = rng.random_bool(0.25);
    let sim = squarecloud_sim::Simulator::start(c)
        .await
        .expect("simulator");
    let d = tempfile::tempdir().map_err(|e| e.to_string())?;
    let engine = crate::common::engine_on(&sim, &d.path().join("data"), |_| {}).await;
    let targets: Vec<_> = engine
        .resources()
        .into_iter()
        .filter(|r| r.name != "storm app 20")
        .collect();
    ensure!(targets.len() == 20, "{} targets", targets.len());
    let other = app_id(&sim, 20);
    // The other client's moments, in real time from the start of the run.
    let mut moments: Vec<(f64, bool)> = (0..other_creates)
        .map(|_| (rng.random_range(0.0..3.0), false))
        .collect();
    if block {
        moments.push((rng.random_range(0.0..3.0), true));
    }
    moments.sort_by(|x, y| x.0.total_cmp(&y.0));
    let api = sim.api_url();
    let per_minute = sim.config().limits.per_minute;
    let other_client = tokio::spawn(async move {
        let http = reqwest::Client::new();
        let t = Instant::now();
        for (at, burst) in moments {
            tokio::time::sleep(Duration::from_secs_f64(at).saturating_sub(t.elapsed())).await;
            let send = |m: reqwest::Method, path: String| {
                http.request(m, format!("{api}{path}"))
                    .header("authorization", KEY)
                    .header("x-soak-other", "1")
                    .send()
            };
            if burst {
                for _ in 0..=per_minute {
                    let r = send(reqwest::Method::GET, "/users/me".into()).await;
                    if r.is_ok_and(|r| r.status() == 429) {
                        break;
                    }
                }
            } else {
                let _ = send(reqwest::Method::POST, format!("/apps/{other}/snapshots")).await;
            }
        }
    });
    let (sink, _) = crate::common::collect();
    let results = engine
        .snapshot(
            targets.clone(),
            snapshots::SnapshotOptions {
                download: false,
                dest: None,
                wait_for_quota: false,
            },
            sink,
            &tokio_util::sync::CancellationToken::new(),
        )
        .await;
    let _ = other_client.await;
    let log = sim.requests();
    let others =
        |q: &&squarecloud_sim::RecordedRequest| q.headers.iter().any(|h| h == "x-soak-other");
    let other_accepted = log
        .iter()
        .filter(others)
        .filter(|q| q.method == "POST" && (q.status == 200 || q.status == 202))
        .count();
    let blocked = log
        .iter()
        .filter(others)
        .any(|q| q.status == 429 && q.method == "GET");
    // The engine's refused requests, in bursts: requests already on their way when a storm
    // began are refused together (within 0.1 s of real time) and count as its first; the
    // same request refused twice in a burst, or more bursts than storms, is a failure.
    let mut refused: Vec<&squarecloud_sim::RecordedRequest> = log
        .iter()
        .filter(|q| !others(q) && q.host == Target::Api && q.status == 429)
        .collect();
    refused.sort_by_key(|q| q.at);
    let gap = chrono::Duration::milliseconds((100.0 * STORM_SCALE) as i64);
    let mut bursts: Vec<Vec<String>> = Vec::new();
    let mut last = None;
    for q in &refused {
        let what = format!("{} {}", q.method, q.path);
        match (last, bursts.last_mut()) {
            (Some(t), Some(b)) if q.at - t <= gap => {
                ensure!(!b.contains(&what), "{what} refused twice in one storm");
                b.push(what);
            }
            _ => bursts.push(vec![what]),
        }
        last = Some(q.at);
    }
    let engine_accepted = accepted_creates(&sim);
    let mine: usize = targets
        .iter()
        .map(|r| engine_accepted.get(&r.id).copied().unwrap_or(0))
        .sum();
    // A storm: each create of the other client that took the account's window, the quota
    // running out (at most once), the key's block (at most once).
    let quota_ran_out = (other_accepted + mine) as u64 >= quota;
    let storms = other_accepted + usize::from(quota_ran_out) + usize::from(blocked);
    ensure!(
        bursts.len() <= storms,
        "refused in {} bursts for {storms} storms (other client: {other_accepted} creates, blocked: {blocked}; quota {quota}): {bursts:?}",
        bursts.len()
    );
    for r in &targets {
        let n = engine_accepted.get(&r.id).copied().unwrap_or(0);
        ensure!(n <= 1, "{n} accepted creates for {}", r.name);
    }
    let ok = results.iter().filter(|j| j.outcome.is_ok()).count();
    for j in &results {
        if let Err(e) = &j.outcome {
            ensure!(
                matches!(e.code(), "quota" | "rate_limited" | "processing"),
                "{}: {e}",
                j.resource.name
            );
        }
    }
    // A job that says done had its create accepted (a block can end a created one early).
    ensure!(ok <= mine, "{ok} jobs ok for {mine} accepted creates");
    Ok(match (storms, bursts.len()) {
        (0, _) => "no storm".into(),
        (_, 0) => "storms, none met".into(),
        _ => "storms met, refused once each".into(),
    })
}

/// One command of the concurrency row.
#[derive(Debug, Clone)]
enum Op {
    Snapshot(usize),
    Download(usize),
    Versions(usize),
    List,
    Quota,
}

fn random_op(rng: &mut StdRng, n: usize) -> Op {
    let i = rng.random_range(0..n);
    match rng.random_range(0..10) {
        0..=4 => Op::Snapshot(i),
        5..=6 => Op::Download(i),
        7 => Op::Versions(i),
        8 => Op::List,
        _ => Op::Quota,
    }
}

/// Two `sqsnap` processes and the app's engine on one data dir and one folder, each given a
/// random command at a random moment within 0.3 s of the others.
async fn concurrency(seed: u64, _full: bool) -> Case {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = 3;
    let mut c = squarecloud_sim::SimConfig::new(
        KEY,
        account(
            n,
            |i| format!("shared app {i}"),
            |i| (i as u64 + 1) * 700 * 1024,
        ),
    )
    .instant_creates();
    c.generation_time = Duration::from_millis(1500);
    let sim = std::sync::Arc::new(
        squarecloud_sim::Simulator::start(c)
            .await
            .expect("simulator"),
    );
    let d = tempfile::tempdir().map_err(|e| e.to_string())?;
    let data = d.path().join("data");
    let out = d.path().join("out");
    std::fs::create_dir(&out).map_err(|e| e.to_string())?;
    let ops: Vec<(Op, u64)> = (0..3)
        .map(|_| (random_op(&mut rng, n), rng.random_range(0..300)))
        .collect();
    let ids: Vec<String> = (0..n).map(|i| app_id(&sim, i)).collect();
    let mut tasks = Vec::new();
    for (k, (op, delay)) in ops.iter().cloned().enumerate() {
        let (sim, data, out, ids) = (sim.clone(), data.clone(), out.clone(), ids.clone());
        tasks.push(tokio::spawn(async move {
            sleep_ms(delay).await;
            let dest = out.to_str().unwrap().to_string();
            if k < 2 {
                let args: Vec<String> = match &op {
                    Op::Snapshot(i) => vec![
                        "snapshot".into(),
                        ids[*i].clone(),
                        "--download".into(),
                        "--dest".into(),
                        dest,
                    ],
                    Op::Download(i) => {
                        vec!["download".into(), ids[*i].clone(), "--dest".into(), dest]
                    }
                    Op::Versions(i) => vec!["versions".into(), ids[*i].clone()],
                    Op::List => vec!["list".into()],
                    Op::Quota => vec!["quota".into()],
                };
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let o = sqsnap(&sim, &data, &args).await;
                return if o.status.success() {
                    Ok(())
                } else {
                    Err(format!("sqsnap {op:?}: {}", said(&o)))
                };
            }
            let engine = crate::common::engine_on(&sim, &data, |_| {}).await;
            let (sink, _) = crate::common::collect();
            let cancel = tokio_util::sync::CancellationToken::new();
            let r = |i: usize| engine.resource(&ids[i]).map_err(|e| e.to_string());
            let res = match &op {
                Op::Snapshot(i) => {
                    let opts = crate::common::download_to(&out);
                    engine
                        .snapshot(vec![r(*i)?], opts, sink, &cancel)
                        .await
                        .remove(0)
                        .outcome
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }
                Op::Download(i) => engine
                    .download(&r(*i)?, None, Some(&out), sink, &cancel)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Op::Versions(i) => engine
                    .versions(&r(*i)?)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Op::List | Op::Quota => engine
                    .reconcile_quota()
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
            };
            res.map_err(|e| format!("engine {op:?}: {e}"))
        }));
    }
    for t in tasks {
        t.await.map_err(|e| format!("panicked: {e}"))??;
    }
    state_parses(&data)?;
    let accepted = accepted_creates(&sim);
    for (id, k) in &accepted {
        ensure!(
            *k == 1,
            "{k} accepted creates of {id} in one round: {ops:?}"
        );
    }
    let ledger: snapshots::ledger::Ledger =
        match std::fs::read(crate::common::account_dir(&sim, &data).join("ledger.json")) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| e.to_string())?,
            Err(_) => Default::default(),
        };
    let mut counted = std::collections::BTreeMap::<String, usize>::new();
    for a in ledger.accounts.values() {
        for e in a.entries.iter().filter(|e| e.source == "app") {
            *counted.entry(e.resource.clone()).or_default() += 1;
        }
    }
    ensure!(
        counted == accepted,
        "the ledger counts {counted:?}, the server accepted {accepted:?}"
    );
    ensure!(
        leftovers(&out).is_empty(),
        "left in the folder: {:?}",
        leftovers(&out)
    );
    for z in zips(&out) {
        let name = z.file_name().unwrap().to_string_lossy().to_string();
        let i = (0..n)
            .find(|i| name.starts_with(&format!("shared app {i}_")))
            .ok_or(format!("whose is {name}?"))?;
        let sha = file_sha(&z).map_err(|e| e.to_string())?;
        ensure!(
            sim.versions(&ids[i])
                .iter()
                .any(|v| archive_sha(&sim, &ids[i], v) == sha),
            "{name} is no version of shared app {i}: two writers mixed?"
        );
    }
    Ok(if accepted.is_empty() {
        "no create".into()
    } else {
        "creates".into()
    })
}

/// A round of `sqsnap` commands and the engine with a key of its own, then a search for it.
async fn secrecy(seed: u64, _full: bool) -> Case {
    let key = format!("313397145698959364-soak-{seed:016x}");
    let c = squarecloud_sim::SimConfig::new(
        key.clone(),
        account(2, |i| format!("secret app {i}"), |_| 3 * MIB),
    )
    .instant_creates();
    let sim = squarecloud_sim::Simulator::start(c)
        .await
        .expect("simulator");
    let id = app_id(&sim, 0);
    let d = tempfile::tempdir().map_err(|e| e.to_string())?;
    let home = d.path().join("home");
    let (data, config, cache) = (
        home.join(".local/share"),
        home.join(".config"),
        home.join(".cache"),
    );
    let out = d.path().join("folder");
    for p in [&data, &config, &cache, &out] {
        std::fs::create_dir_all(p).map_err(|e| e.to_string())?;
    }
    let sq_data = data.join("square-snapshots");
    let dest = out.to_str().unwrap();
    let mut said_all = Vec::new();
    for args in [
        vec!["whoami"],
        vec!["--json", "list"],
        vec!["snapshot", &id, "--download", "--dest", dest],
        vec!["--json", "versions", &id],
        vec!["--json", "download", &id, "--dest", dest],
        vec![
            "plan",
            "add",
            "nightly",
            "--daily",
            "03:00",
            "--keep-last",
            "3",
            "--dest",
            dest,
        ],
        vec!["--json", "run-due"],
        vec!["whoami"],
    ] {
        let mut c = crate::common::sqsnap(&sim, &sq_data, &key, &args);
        c.env("HOME", &home)
            .env("XDG_DATA_HOME", &data)
            .env("XDG_CONFIG_HOME", &config)
            .env("XDG_CACHE_HOME", &cache)
            .env("RUST_LOG", "trace")
            .env("RUST_BACKTRACE", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let o = run(c).await;
        said_all.push(o.stdout);
        said_all.push(o.stderr);
    }
    // A wrong key that shares the right one's start: refused without being echoed.
    let wrong = format!("{key}-x");
    let o = sqsnap_as(&sim, &sq_data, &wrong, &["whoami"]).await;
    ensure!(!o.status.success(), "a wrong key was accepted");
    said_all.push(o.stdout);
    said_all.push(o.stderr);
    // The engine the app runs, its events kept as the window would get them.
    let engine = crate::common::engine_on(&sim, &sq_data, |_| {}).await;
    let (sink, events) = crate::common::collect();
    let r = engine
        .resource(&app_id(&sim, 1))
        .map_err(|e| e.to_string())?;
    let res = engine
        .snapshot(
            vec![r],
            crate::common::download_to(&out),
            sink,
            &tokio_util::sync::CancellationToken::new(),
        )
        .await;
    ensure!(res[0].outcome.is_ok(), "{:?}", res[0].outcome);
    let (n_events, events) = {
        let e = events.lock().unwrap();
        (e.len(), format!("{e:?}"))
    };
    ensure!(!events.contains(&key), "the key in an event");
    ensure!(
        !format!("{:?}", res).contains(&key),
        "the key in a job's result"
    );
    for (i, bytes) in said_all.iter().enumerate() {
        ensure!(
            !contains(bytes, key.as_bytes()),
            "the key in the output of command {i}: {}",
            String::from_utf8_lossy(bytes)
        );
    }
    let searched = files_under(d.path());
    let hits: Vec<_> = searched
        .iter()
        .filter(|p| std::fs::read(p).is_ok_and(|b| contains(&b, key.as_bytes())))
        .collect();
    ensure!(hits.is_empty(), "the key in files: {hits:?}");
    let log = sim.requests();
    ensure!(
        log.len() > 10,
        "only {} requests: the round did too little",
        log.len()
    );
    for q in &log {
        let url = format!("{}?{}", q.path, q.query.clone().unwrap_or_default());
        ensure!(!url.contains(&key), "the key in a URL: {url}");
        if q.host == Target::Files {
            ensure!(
                !q.headers
                    .iter()
                    .any(|h| h == "authorization" || h == "cookie"),
                "credentials sent to the file host: {:?}",
                q.headers
            );
        }
    }
    ensure!(
        zips(&out).len() >= 2,
        "the round downloaded too little: {:?}",
        files(&out)
    );
    Ok(format!(
        "{} requests, {} files, {} events searched",
        log.len(),
        searched.len(),
        n_events
    ))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
