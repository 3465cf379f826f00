//! The planted-names row of the second trust pass: links, hard links, FIFOs, folders and
//! other users' files planted where a download writes. Unix only (`main.rs` builds it there
//! alone): the plants, and what is checked of them (inode, mode bits), are Unix's.

use crate::support::*;
use crate::{Case, ensure};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};
use std::time::Duration;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

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

pub async fn planted(seed: u64, full: bool) -> Case {
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
