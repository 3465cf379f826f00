//! What the rows share: accounts, running `sqsnap`, hashing, state checks, the report.

pub use crate::common::files_under;
use crate::{Args, Outcome};
use sha2::{Digest, Sha256};
use squarecloud_sim::{AccountSpec, ResourceSpec, SimConfig, Simulator, Target};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

pub const KEY: &str = crate::common::KEY;
pub const MIB: u64 = 1024 * 1024;

/// An account of `n` applications named `name(i)` with snapshots of `size(i)` bytes.
pub fn account(
    n: usize,
    name: impl Fn(usize) -> String,
    size: impl Fn(usize) -> u64,
) -> AccountSpec {
    let mut a = AccountSpec::demo();
    a.databases.clear();
    a.applications = (0..n)
        .map(|i| ResourceSpec {
            id: format!("{:032x}", 0xa11ce_u128 << 64 | i as u128),
            name: name(i),
            desc: None,
            kind: "javascript".into(),
            ram: 256,
            cluster: "florida-1".into(),
            domain: None,
            snapshot_size: size(i),
            generation_secs: None,
            history: 1,
        })
        .collect();
    a
}

/// A simulator of one application whose snapshots are `size` bytes; creates answer at once.
pub async fn one_app(size: u64) -> Simulator {
    let c = SimConfig::new(KEY, account(1, |_| "soak app".into(), |_| size)).instant_creates();
    Simulator::start(c).await.expect("simulator")
}

pub fn app_id(sim: &Simulator, i: usize) -> String {
    sim.config().account.applications[i].id.clone()
}

/// `sqsnap ARGS` against `sim`, state in `data`, run to its end off the runtime's threads.
pub async fn sqsnap(sim: &Simulator, data: &Path, args: &[&str]) -> Output {
    sqsnap_as(sim, data, KEY, args).await
}

/// [`sqsnap`] with another key in the environment.
pub async fn sqsnap_as(sim: &Simulator, data: &Path, key: &str, args: &[&str]) -> Output {
    let mut c = crate::common::sqsnap(sim, data, key, args);
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    run(c).await
}

/// A case's directory, with an empty destination folder `out` in it.
pub fn workdir() -> Result<(tempfile::TempDir, PathBuf), String> {
    let d = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dest = d.path().join("out");
    std::fs::create_dir(&dest).map_err(|e| e.to_string())?;
    Ok((d, dest))
}

/// `sqsnap download ID --dest DEST`, state in `data`.
pub async fn download_newest(sim: &Simulator, data: &Path, id: &str, dest: &Path) -> Output {
    let dest = dest.to_str().expect("a UTF-8 temp path");
    sqsnap(sim, data, &["download", id, "--dest", dest]).await
}

pub async fn run(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().expect("run sqsnap"))
        .await
        .expect("join")
}

pub fn said(o: &Output) -> String {
    format!(
        "exit {:?}; stderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).trim()
    )
}

/// The sha256 of the archive the simulator serves for a version.
pub fn archive_sha(sim: &Simulator, resource_id: &str, version: &str) -> [u8; 32] {
    // What the file host serves: an application's archive holds its configuration and main
    // file besides the filler, so it is asked of the simulator, not rebuilt here.
    let zip = sim
        .archive_zip(resource_id, version)
        .expect("a version of this simulator");
    let mut h = Sha256::new();
    let mut buf = vec![0u8; MIB as usize];
    let mut off = 0;
    loop {
        let n = zip.read_at(off, &mut buf);
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        off += n as u64;
    }
    h.finalize().into()
}

pub fn file_sha(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(h.finalize().into())
}

/// The files directly in `dir`, sorted.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

pub fn zips(dir: &Path) -> Vec<PathBuf> {
    files(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "zip"))
        .collect()
}

/// Every file under `dir` whose name is not a finished archive (`.part`, sidecars, temps).
pub fn leftovers(dir: &Path) -> Vec<PathBuf> {
    files(dir)
        .into_iter()
        .filter(|p| p.extension().is_none_or(|e| e != "zip"))
        .collect()
}

/// The one zip in `dest` is the newest version of `id`, byte for byte.
pub fn newest_is_in(sim: &Simulator, id: &str, dest: &Path) -> Result<PathBuf, String> {
    let z = zips(dest);
    crate::ensure!(z.len() == 1, "expected one zip in the folder, found {z:?}");
    let newest = sim.versions(id).last().cloned().ok_or("no version")?;
    let got = file_sha(&z[0]).map_err(|e| e.to_string())?;
    crate::ensure!(
        got == archive_sha(sim, id, &newest),
        "{} differs from version {newest}",
        z[0].display()
    );
    Ok(z[0].clone())
}

/// Nothing but the newest version of `id` is in `dest`, byte for byte: no `.part`, no sidecar.
pub fn only_newest_in(sim: &Simulator, id: &str, dest: &Path) -> Result<(), String> {
    newest_is_in(sim, id, dest)?;
    let left = leftovers(dest);
    crate::ensure!(left.is_empty(), "left behind: {left:?}");
    Ok(())
}

/// Every state file under the data dir parses: JSON as the engine's types where it has
/// one, else as JSON.
pub fn state_parses(data: &Path) -> Result<usize, String> {
    fn parses<T: serde::de::DeserializeOwned>(b: &[u8]) -> Result<(), String> {
        serde_json::from_slice::<T>(b)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
    let mut n = 0;
    for p in files_under(data) {
        if p.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let bytes = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        match p.file_name().and_then(|n| n.to_str()).unwrap_or("") {
            "ledger.json" => parses::<snapshots::ledger::Ledger>(&bytes),
            "library.json" => parses::<snapshots::library::Library>(&bytes),
            _ => parses::<serde_json::Value>(&bytes),
        }
        .map_err(|e| format!("{} does not parse: {e}", p.display()))?;
        n += 1;
    }
    Ok(n)
}

/// Creates the server accepted, per resource id.
pub fn accepted_creates(sim: &Simulator) -> std::collections::BTreeMap<String, usize> {
    let mut m = std::collections::BTreeMap::new();
    for r in sim.requests() {
        if r.host == Target::Api
            && r.method == "POST"
            && r.path.ends_with("/snapshots")
            && (r.status == 200 || r.status == 202)
        {
            let id = r
                .path
                .trim_end_matches("/snapshots")
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_string();
            *m.entry(id).or_default() += 1;
        }
    }
    m
}

pub async fn sleep_ms(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

fn first_line(path: &str, key: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split(':').nth(1))
        .map(|v| v.trim().to_string())
}

fn command_out(cmd: &str, args: &[&str]) -> Option<String> {
    let o = Command::new(cmd).args(args).output().ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// The Markdown of `docs/reliability.md`.
pub fn report(args: &Args, outcomes: &[Outcome], secs: f64) -> String {
    let cpu = first_line("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = first_line("/proc/meminfo", "MemTotal")
        .and_then(|m| m.trim_end_matches(" kB").trim().parse::<u64>().ok())
        .map_or("?".into(), |kb| format!("{:.0} GiB", kb as f64 / 1048576.0));
    let kernel = command_out("uname", &["-sr"]).unwrap_or_default();
    let commit = command_out("git", &["rev-parse", "--short", "HEAD"]).unwrap_or("?".into());
    let passed: usize = outcomes.iter().map(|o| o.passed).sum();
    let failed: usize = outcomes.iter().map(|o| o.failed).sum();
    let mut s = String::new();
    s.push_str("# Reliability: the fault and abuse suite\n\n");
    s.push_str(
        "Written by `make soak` (`crates/sqsnap/tests/soak/`): the real `sqsnap` binary \
         and the engine the app runs, release builds, against the simulator with faults \
         injected. Each row is a loop of cases drawn from the row's seed; a failure prints the \
         command that replays it. `make test` runs the same code with smaller counts.\n\n",
    );
    s.push_str(&format!(
        "Machine: {cpu}, {cores} cores, {mem}, {kernel}. Commit {commit}, {}. Run seed {}, \
         {:.0} s in all: **{passed} passed, {failed} failed**.\n\n",
        if cfg!(debug_assertions) {
            "debug build"
        } else {
            "release build"
        },
        args.seed,
        secs
    ));
    s.push_str("| Row | Count | Seed | Result | Time | Pass means |\n|---|---|---|---|---|---|\n");
    for o in outcomes {
        let result = match &o.skipped {
            Some(why) => format!("skipped: {why}"),
            None => {
                let tags: Vec<String> = o.tags.iter().map(|(k, v)| format!("{v} {k}")).collect();
                format!(
                    "{} passed, {} failed{}",
                    o.passed,
                    o.failed,
                    if tags.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", tags.join(", "))
                    }
                )
            }
        };
        s.push_str(&format!(
            "| `{}` | {} | {} | {} | {:.0} s | {} |\n",
            o.name, o.count, o.seed, result, o.secs, o.pass_means
        ));
    }
    s.push_str(
        "\nReplay one row: `cargo test --release -p sqsnap --test soak -- --full --only ROW \
         --seed RUN_SEED`; one case: `... --only ROW --case CASE_SEED` (printed on failure).\n",
    );
    s
}
