//! Parallel ranged downloads against the simulator's file host: several connections where
//! each is capped, one stream where ranges are ignored, a shared rate limit. (A `kill -9` of
//! `sqsnap` in the middle of a 4-connection download:
//! `crates/sqsnap/tests/with_engine/ranged.rs`.)

mod common;

use common::*;
use squarecloud_sim::{FaultKind, FaultSpec, SimConfig, Simulator, Target};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const MIB: u64 = 1024 * 1024;
const APP: &str = "00000000000000000000000000000000";

fn file_gets(sim: &Simulator) -> Vec<Option<String>> {
    sim.requests()
        .into_iter()
        .filter(|q| q.host == Target::Files && q.method == "GET")
        .map(|q| q.range)
        .collect()
}

/// A simulator with one application whose snapshots are `size` bytes, and an engine on it.
async fn start_one(size: u64) -> (Simulator, snapshots::Engine, tempfile::TempDir) {
    start(SimConfig::new(KEY, tiny_account(1, 4096, size)).instant_creates()).await
}

/// The resource's newest snapshot into `dir`, stopped by `cancel`.
async fn try_fetch(
    engine: &snapshots::Engine,
    dir: &Path,
    cancel: &CancellationToken,
) -> Result<snapshots::download::Downloaded, snapshots::EngineError> {
    let r = engine.resource(APP).unwrap();
    let (sink, _) = collect();
    engine.download(&r, None, Some(dir), sink, cancel).await
}

/// The resource's newest snapshot into `dir`.
async fn fetch(engine: &snapshots::Engine, dir: &Path) -> snapshots::download::Downloaded {
    try_fetch(engine, dir, &CancellationToken::new())
        .await
        .unwrap()
}

/// Downloads the snapshot into `dir`, deletes it, and returns its file name.
async fn fetched_then_deleted(engine: &snapshots::Engine, dir: &Path) -> String {
    let first = fetch(engine, dir).await.path;
    std::fs::remove_file(&first).unwrap();
    first.file_name().unwrap().to_string_lossy().into_owned()
}

/// The bytes the simulator serves for the resource's one version.
fn served_archive(sim: &Simulator) -> Vec<u8> {
    let v = sim.versions(APP)[0].clone();
    sim.archive(APP, &v).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_caps_each_connection_gets_several_and_the_file_is_exact() {
    let (sim, engine, dir) = start_one(40 * MIB).await;
    cap_each(&sim, 4_000_000);
    let done = fetch(&engine, dir.path()).await;
    assert_eq!(std::fs::read(&done.path).unwrap(), served_archive(&sim));
    let gets = file_gets(&sim);
    assert!(
        gets.len() >= 3,
        "one capped connection only: {gets:?} (the ramp should have added more)"
    );
    assert!(
        gets.iter().all(|r| r.is_some()),
        "every request is ranged: {gets:?}"
    );
    // Splits take only what no connection has asked for yet, so the host sends the file
    // once (before: 10-12 % more on loopback, what was in flight past each shortened end).
    let size = std::fs::metadata(&done.path).unwrap().len();
    assert!(
        sim.file_bytes_served() <= size + size / 200,
        "{} served for {size}",
        sim.file_bytes_served()
    );
    // No .part and no sidecar are left.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".part"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distant_host_that_caps_each_connection_gets_them_all() {
    // 120 ms away, as from São Paulo to storage in Florida: each new connection answers
    // after three round trips and starts in TCP's slow start, so its rate grows for several
    // round trips after it answers. Judged over 50 ms windows, the ramp stopped at 2
    // connections (3 here, with the tail split's).
    let (sim, engine, dir) = start_one(120 * MIB).await;
    cap_each(&sim, 20_000_000);
    sim.inject(FaultSpec::new(Target::Files, FaultKind::Distant { rtt_ms: 120 }).times(None));
    let done = fetch(&engine, dir.path()).await;
    assert_eq!(std::fs::read(&done.path).unwrap(), served_archive(&sim));
    // New connections come from the ramp (and at times a tail split).
    let connections: std::collections::BTreeSet<_> = sim
        .requests()
        .into_iter()
        .filter(|q| q.host == Target::Files)
        .filter_map(|q| q.connection)
        .collect();
    assert!(
        connections.len() >= 4,
        "{connections:?} {:?}",
        file_gets(&sim)
    );
}

#[tokio::test]
async fn a_host_that_ignores_ranges_gets_one_stream() {
    let (sim, engine, dir) = start_one(40 * MIB).await;
    sim.inject(FaultSpec::new(Target::Files, FaultKind::IgnoreRange).times(None));
    let done = fetch(&engine, dir.path()).await;
    assert_eq!(std::fs::read(&done.path).unwrap(), served_archive(&sim));
    // The ranged probe got the whole file (200): one plain stream followed.
    let gets = file_gets(&sim);
    assert_eq!(gets.len(), 2, "{gets:?}");
    assert!(gets[0].is_some() && gets[1].is_none(), "{gets:?}");
}

#[tokio::test]
async fn the_rate_limit_holds_a_single_stream() {
    let c = SimConfig::new(KEY, tiny_account(1, 4096, 2 * MIB)).instant_creates();
    let (sim, engine, dir) = start(c).await;
    let engine = engine.with_transfer(Some(4), Some(MIB));
    let t = Instant::now();
    let done = fetch(&engine, dir.path()).await;
    // 2 MiB at 1 MiB/s: at least 1.75 s (a quarter second of burst is allowed).
    assert!(
        t.elapsed() >= Duration::from_millis(1750),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(std::fs::read(&done.path).unwrap(), served_archive(&sim));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_is_shared_by_the_connections_of_a_large_snapshot() {
    let (sim, engine, dir) = start_one(40 * MIB).await;
    // Each connection could do 6 MB/s, four of them 24: the limit holds all to 10 MiB/s.
    cap_each(&sim, 6_000_000);
    let engine = engine.with_transfer(Some(4), Some(10 * MIB));
    let t = Instant::now();
    let done = fetch(&engine, dir.path()).await;
    assert!(
        t.elapsed() >= Duration::from_millis(3750),
        "40 MiB at 10 MiB/s in {:?}",
        t.elapsed()
    );
    let gets = file_gets(&sim);
    assert!(gets.len() >= 2, "one connection only: {gets:?}");
    assert_eq!(std::fs::read(&done.path).unwrap(), served_archive(&sim));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_fails_retries_its_range_alone() {
    let size = 40 * MIB;
    let (sim, engine, dir) = start_one(size).await;
    // The first two file requests are cut after 3 MiB; the rest are capped so several run.
    sim.inject(
        FaultSpec::new(Target::Files, FaultKind::ResetAfter { bytes: 3 * MIB }).times(Some(2)),
    );
    cap_each(&sim, 8_000_000);
    let done = fetch(&engine, dir.path()).await;
    assert_eq!(std::fs::read(&done.path).unwrap(), served_archive(&sim));
    // What was cut is fetched again from where it stopped, not from the start.
    assert!(
        sim.file_bytes_served() <= size + size / 50,
        "{} served for {size}",
        sim.file_bytes_served()
    );
    let gets = file_gets(&sim);
    assert!(gets.len() >= 3, "{gets:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_take_over_the_end_of_a_slow_one() {
    let size = 40 * MIB;
    let (sim, engine, dir) = start_one(size).await;
    // Every connection does 16 MB/s but the first, which asks for the first 16 MiB and gets
    // them at 2 MB/s: alone it would need 8 s for them, while the others are done in about 1.
    cap_each(&sim, 16_000_000);
    sim.inject(
        FaultSpec::new(
            Target::Files,
            FaultKind::Bandwidth {
                bytes_per_sec: 2_000_000,
            },
        )
        .times(Some(1)),
    );
    let done = fetch(&engine, dir.path()).await;
    assert_eq!(std::fs::read(&done.path).unwrap(), served_archive(&sim));
    let gets = file_gets(&sim);
    let starts: Vec<u64> = gets
        .iter()
        .filter_map(|r| {
            let r = r.as_deref()?.strip_prefix("bytes=")?;
            r.split('-').next()?.parse().ok()
        })
        .collect();
    // Splits of what nobody asked for start at 16 MiB or later; a start inside the slow
    // connection's first 16 MiB is an idle connection taking over the second half of what
    // that one had asked for but not yet received.
    assert!(
        starts.iter().any(|&a| a > 0 && a < 16 * MIB),
        "no connection took over the slow one's range: {gets:?}"
    );
    // The slow connection stops at its new end; what the host had sent past it is little.
    assert!(
        sim.file_bytes_served() <= size + size / 100,
        "{} served for {size}",
        sim.file_bytes_served()
    );
}

/// Downloads once, then leaves a half-finished `.part` of garbage and a sidecar made by
/// `sidecar` in its place, and downloads again.
async fn again_over_a_planted_sidecar(
    sidecar: impl Fn(&str, u64) -> serde_json::Value,
) -> (Simulator, Vec<Option<String>>) {
    let size = 40 * MIB;
    let (sim, engine, dir) = start_one(size).await;
    let first = fetch(&engine, dir.path()).await;
    let name = first
        .path
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    std::fs::remove_file(&first.path).unwrap();
    let part = dir.path().join(format!("{name}.part"));
    std::fs::write(&part, vec![0xAB; size as usize]).unwrap();
    std::fs::write(
        dir.path().join(format!("{name}.part.json")),
        serde_json::to_vec(&sidecar(&name, size)).unwrap(),
    )
    .unwrap();
    let before = file_gets(&sim).len();
    let again = fetch(&engine, dir.path()).await;
    assert_eq!(
        std::fs::read(&again.path).unwrap(),
        served_archive(&sim),
        "the planted bytes must not survive"
    );
    let gets = file_gets(&sim).into_iter().skip(before).collect();
    (sim, gets)
}

#[tokio::test]
async fn a_changed_etag_restarts_cleanly_on_one_stream() {
    let (_sim, gets) = again_over_a_planted_sidecar(|name, size| {
        serde_json::json!({"file": name, "total": size, "etag": "\"an-older-file\"",
            "last_modified": null, "done": [[0, size / 2]]})
    })
    .await;
    // The ranged request (the first 16 MiB of the gap) carried the old ETag (If-Range), got
    // the whole new file (200), and one plain stream fetched it from the start.
    assert_eq!(gets.len(), 2, "{gets:?}");
    assert_eq!(
        gets[0].as_deref(),
        Some(&*format!("bytes={}-{}", 20 * MIB, 36 * MIB - 1))
    );
    assert_eq!(gets[1], None);
}

#[tokio::test]
async fn a_sidecar_of_another_size_is_ignored() {
    let (_sim, gets) = again_over_a_planted_sidecar(|name, size| {
        serde_json::json!({"file": name, "total": size + 1, "etag": null,
            "last_modified": null, "done": [[0, size / 2]]})
    })
    .await;
    assert!(
        gets[0]
            .as_deref()
            .is_some_and(|r| r.starts_with("bytes=0-")),
        "{gets:?}"
    );
}

/// A file system mounted on a new folder for one test (root, as in CI), unmounted when
/// dropped.
struct Mounted(tempfile::TempDir);

impl Mounted {
    /// `mount <args> <folder>`; `None`, saying so, when not run as root (as `make soak`'s
    /// disk-full row does): CI runs as root, a developer's `make test` may not.
    fn new(args: &[&std::ffi::OsStr]) -> Option<Self> {
        let uid = std::process::Command::new("id").arg("-u").output().unwrap();
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            eprintln!("skipped: mounting {args:?} needs root; run the tests as root to include it");
            return None;
        }
        let d = tempfile::tempdir().unwrap();
        let s = std::process::Command::new("mount")
            .args(args)
            .arg(d.path())
            .status()
            .unwrap();
        assert!(s.success(), "mounting {args:?} failed as root");
        Some(Mounted(d))
    }

    /// A tmpfs of `size` (`16m`).
    fn tmpfs(size: &str) -> Option<Self> {
        let size = format!("size={size}");
        Self::new(&[
            "-t".as_ref(),
            "tmpfs".as_ref(),
            "-o".as_ref(),
            size.as_ref(),
            "tmpfs".as_ref(),
        ])
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path())
            .status();
    }
}

/// A large snapshot for a disk without room for it: refused before the download, saying
/// how much room it needs; nothing is left in the folder, and the host sent only the start
/// of the first request (before, the download wrote 16 MiB and then failed on a full disk).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_without_room_is_told_before_the_download() {
    let size = 40 * MIB;
    let (sim, engine, _dir) = start_one(size).await;
    cap_each(&sim, 8_000_000);
    let Some(disk) = Mounted::tmpfs("16m") else {
        return;
    };
    let e = try_fetch(&engine, disk.path(), &CancellationToken::new())
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("no room for this snapshot (40.0 MiB)") && msg.contains("Nothing was"),
        "{msg}"
    );
    let left: Vec<_> = std::fs::read_dir(disk.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    let sent = sim.file_bytes_served();
    assert!(sent < 4 * MIB, "the host sent {sent} bytes");
}

/// The first `upto` bytes recorded as done by a sidecar of another boot of the system, with
/// `done` of them in the `.part` where those bytes should be: what a crash or a power cut
/// during a download leaves when the page cache had not reached the disk (zeros there).
/// Returns the sidecar's path.
fn plant_from_before_a_restart(
    sim: &Simulator,
    dir: &Path,
    name: &str,
    upto: usize,
    done: impl Fn(&[u8]) -> Vec<u8>,
) -> PathBuf {
    let archive = served_archive(sim);
    let mut part = done(&archive[..upto]);
    part.resize(archive.len(), 0);
    std::fs::write(dir.join(format!("{name}.part")), part).unwrap();
    let side = serde_json::json!({"file": name, "total": archive.len(), "etag": null,
        "last_modified": null, "done": [[0, upto]], "boot": "an-earlier-boot"});
    let path = dir.join(format!("{name}.part.json"));
    std::fs::write(&path, serde_json::to_vec(&side).unwrap()).unwrap();
    path
}

/// A 40 MiB snapshot downloaded once and deleted, then its first half planted as
/// [`plant_from_before_a_restart`] says, and downloaded again.
async fn resumed_after_a_restart(
    first_half: impl Fn(&[u8]) -> Vec<u8>,
) -> (
    Simulator,
    snapshots::Engine,
    tempfile::TempDir,
    Result<snapshots::download::Downloaded, snapshots::EngineError>,
) {
    let size = 40 * MIB;
    let (sim, engine, dir) = start_one(size).await;
    let name = fetched_then_deleted(&engine, dir.path()).await;
    plant_from_before_a_restart(&sim, dir.path(), &name, size as usize / 2, first_half);
    let again = try_fetch(&engine, dir.path(), &CancellationToken::new()).await;
    (sim, engine, dir, again)
}

/// Stopped again after the restart, before the end: the sidecar keeps the earlier boot's
/// mark, so the resume after that still checks every byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_from_before_a_restart_stay_marked_until_checked() {
    let size = 40 * MIB;
    let (sim, engine, dir) = start_one(size).await;
    let name = fetched_then_deleted(&engine, dir.path()).await;
    let half = size as usize / 2;
    let side = plant_from_before_a_restart(&sim, dir.path(), &name, half, |b| b.to_vec());
    cap_each(&sim, 4_000_000);
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        stop.cancel();
    });
    let cut = try_fetch(&engine, dir.path(), &cancel).await;
    assert!(cut.is_err(), "{cut:?}");
    let kept: serde_json::Value = serde_json::from_slice(&std::fs::read(&side).unwrap()).unwrap();
    assert_eq!(kept["boot"], "an-earlier-boot", "{kept}");
    let done: u64 = kept["done"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[1].as_u64().unwrap() - r[0].as_u64().unwrap())
        .sum();
    assert!(done > size / 2, "nothing fetched before the stop: {kept}");
    sim.clear_faults();
    let again = fetch(&engine, dir.path()).await;
    assert!(again.verified.crc_checked, "{:?}", again.verified);
    assert_eq!(std::fs::read(&again.path).unwrap(), served_archive(&sim));
}

/// A single stream's `.part` from an earlier run is resumed, and the archive it completes is
/// checked whole: after a crash, a file system that journals only metadata can keep the
/// length of what was written without all of its bytes (zeros in the middle). The central
/// directory, at the end, is fetched after the resume and says nothing of that.
#[tokio::test]
async fn a_single_stream_part_from_an_earlier_run_is_checked_whole() {
    let size = 8 * MIB;
    let (sim, engine, dir) = start_one(size).await;
    let name = fetched_then_deleted(&engine, dir.path()).await;
    let archive = served_archive(&sim);
    let part = dir.path().join(format!("{name}.part"));
    let half = archive.len() / 2;

    // Intact: resumed from its length, and every entry's CRC checked.
    std::fs::write(&part, &archive[..half]).unwrap();
    sim.clear_requests();
    let done = fetch(&engine, dir.path()).await;
    assert!(done.verified.crc_checked, "{:?}", done.verified);
    assert_eq!(done.resumed_from, half as u64);
    assert_eq!(std::fs::read(&done.path).unwrap(), archive);
    assert_eq!(file_gets(&sim), vec![Some(format!("bytes={half}-"))]);
    std::fs::remove_file(&done.path).unwrap();

    // A MiB of zeros where data was: refused and deleted, and the next try starts over.
    let mut lost = archive[..half].to_vec();
    lost[MIB as usize..2 * MIB as usize].fill(0);
    std::fs::write(&part, &lost).unwrap();
    let refused = try_fetch(&engine, dir.path(), &CancellationToken::new()).await;
    let e = refused.expect_err("a damaged resume was kept");
    assert!(e.to_string().contains("integrity check"), "{e}");
    assert!(!part.exists());
    assert!(zips(dir.path()).is_empty(), "{:?}", zips(dir.path()));
    let again = fetch(&engine, dir.path()).await;
    assert_eq!(again.resumed_from, 0);
    assert_eq!(std::fs::read(&again.path).unwrap(), archive);
}

/// Ranges recorded before a restart are kept, but the whole archive is then checked (every
/// entry's CRC), not only its directory: intact, the download resumes and is kept.
#[tokio::test]
async fn ranges_from_before_a_restart_are_resumed_and_every_byte_checked() {
    let (sim, _engine, _dir, again) = resumed_after_a_restart(|b| b.to_vec()).await;
    let again = again.unwrap();
    assert!(again.verified.crc_checked, "{:?}", again.verified);
    assert_eq!(std::fs::read(&again.path).unwrap(), served_archive(&sim));
    let last = file_gets(&sim).into_iter().last().unwrap();
    assert!(
        last.as_deref().is_some_and(|r| !r.starts_with("bytes=0-")),
        "{last:?}"
    );
}

/// The same after a power cut that lost those pages (zeros on disk): the damage is found,
/// the file deleted with a message that says why, and the next try fetches it whole.
#[tokio::test]
async fn ranges_lost_in_a_restart_are_found_and_fetched_again() {
    let (sim, engine, dir, again) = resumed_after_a_restart(|b| vec![0; b.len()]).await;
    let msg = again.unwrap_err().to_string();
    assert!(msg.contains("restarted during this download"), "{msg}");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "data")
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let done = fetch(&engine, dir.path()).await;
    assert_eq!(std::fs::read(&done.path).unwrap(), served_archive(&sim));
}

/// A file system that cannot reserve blocks (ext2 has no `fallocate`): the download goes on
/// without, over several connections, and the file is exact. (A loop-mounted image: root.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_system_without_fallocate_still_gets_the_file() {
    let size = 40 * MIB;
    let (sim, engine, dir) = start_one(size).await;
    cap_each(&sim, 16_000_000);
    let image = dir.path().join("ext2.img");
    std::fs::File::create(&image)
        .unwrap()
        .set_len(64 * MIB)
        .unwrap();
    let mkfs = std::process::Command::new("mkfs.ext2")
        .args(["-q", "-F"])
        .arg(&image)
        .status()
        .expect("mkfs.ext2 (e2fsprogs)");
    assert!(mkfs.success());
    let Some(disk) = Mounted::new(&["-o".as_ref(), "loop".as_ref(), image.as_os_str()]) else {
        return;
    };
    let done = fetch(&engine, disk.path()).await;
    assert_eq!(std::fs::read(&done.path).unwrap(), served_archive(&sim));
    assert!(file_gets(&sim).len() >= 2, "{:?}", file_gets(&sim));
    let left: Vec<_> = std::fs::read_dir(disk.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "lost+found")
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
}

/// Everything already in the `.part` (a kill after the last byte, before the rename), with
/// a torn sidecar temporary file beside it: nothing is fetched, and only the zip stays. No
/// save happens on this path, so only the clean-up can remove the temporary file.
#[tokio::test]
async fn a_finished_part_is_kept_and_its_leftovers_are_not() {
    let size = 40 * MIB;
    let (sim, engine, dir) = start_one(size).await;
    let name = fetched_then_deleted(&engine, dir.path()).await;
    let side = plant_from_before_a_restart(&sim, dir.path(), &name, size as usize, |b| b.to_vec());
    std::fs::write(side.with_extension("json.tmp"), b"{\"file\": \"").unwrap();
    let before = file_gets(&sim).len();
    let again = fetch(&engine, dir.path()).await;
    assert_eq!(std::fs::read(&again.path).unwrap(), served_archive(&sim));
    assert_eq!(file_gets(&sim).len(), before, "nothing fetched");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "data")
        .collect();
    assert_eq!(left, [std::ffi::OsString::from(&name)], "{left:?}");
}

/// A stop that lands while the connections are still starting is a stop: every connection
/// ending on the stop once left no range queued, the file counted as finished, the check
/// failed, and the `.part` with all it held was deleted. Stopped at the first bytes, at
/// every point after, the download says "cancelled", keeps its `.part`, and resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_at_any_moment_keeps_the_part_and_resumes() {
    let size = 4 * MIB;
    let (sim, engine, dir) = start_one(size).await;
    let engine = engine
        .with_downloader(snapshots::download::Downloader::new().with_connections(4, 64 * 1024));
    let name = fetched_then_deleted(&engine, dir.path()).await;
    cap_each(&sim, 256 * 1024);
    let r = engine.resource(APP).unwrap();
    for at in [1, 1, 1, 1, 64 * 1024, 512 * 1024, MIB] {
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        let sink: snapshots::EventSink = std::sync::Arc::new(move |ev| {
            if let snapshots::Event::Downloading { progress, .. } = ev
                && progress.bytes >= at
            {
                stop.cancel();
            }
        });
        let cut = engine
            .download(&r, None, Some(dir.path()), sink, &cancel)
            .await;
        match cut {
            Err(snapshots::EngineError::Download(
                snapshots::download::DownloadError::Cancelled { .. },
            )) => {}
            Ok(done) => {
                // The whole file arrived before the stop took hold: it is whole.
                assert_eq!(std::fs::read(&done.path).unwrap(), served_archive(&sim));
                std::fs::remove_file(&done.path).unwrap();
                continue;
            }
            other => panic!("stopped at {at} bytes: {other:?}"),
        }
        assert!(
            dir.path().join(format!("{name}.part")).exists(),
            "stopped at {at} bytes, the .part is gone"
        );
    }
    sim.clear_faults();
    let again = fetch(&engine, dir.path()).await;
    assert_eq!(std::fs::read(&again.path).unwrap(), served_archive(&sim));
}
