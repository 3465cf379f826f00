//! Sealing at scale (`make bench` runs this): encrypts a file with a throwaway identity
//! (`seal::seal_file`, fsync included), then decrypts it back (`seal::open_file`), and
//! prints one line: `seal_wall seal_cpu open_wall open_cpu peak_rss_kib` (seconds, KiB).
//!
//! `cargo run --release -p snapshots --example seal -- PLAIN WORKDIR`

use snapshots::seal::{self, SealIdentity};
use std::path::PathBuf;
use std::time::Instant;

/// (CPU seconds, user + system; peak RSS in KiB) of this process so far.
fn usage() -> (f64, i64) {
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is always valid.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(u.ru_utime) + secs(u.ru_stime), u.ru_maxrss)
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let (Some(plain), Some(work)) = (args.next(), args.next()) else {
        eprintln!("usage: seal PLAIN WORKDIR");
        std::process::exit(2);
    };
    let (plain, work) = (PathBuf::from(plain), PathBuf::from(work));
    let id = SealIdentity::generate();
    let sealed = work.join("bench.zip.age");
    let back = work.join("bench.zip");
    let (c0, _) = usage();
    let t = Instant::now();
    seal::seal_file(&plain, &sealed, &id.recipient())?;
    let seal_wall = t.elapsed().as_secs_f64();
    let (c1, _) = usage();
    let t = Instant::now();
    seal::open_file(&sealed, &back, &id)?;
    let open_wall = t.elapsed().as_secs_f64();
    let (c2, rss) = usage();
    std::fs::remove_file(&sealed)?;
    std::fs::remove_file(&back)?;
    println!(
        "{seal_wall:.2} {:.2} {open_wall:.2} {:.2} {rss}",
        c1 - c0,
        c2 - c1
    );
    Ok(())
}
