//! The fault and abuse suite: the real `sqsnap` binary and the engine the app runs, hammered
//! against the simulator, each row a loop of cases drawn from a fixed seed.
//!
//! `cargo test -p sqsnap --test soak` (so `make test` and CI) runs the short form: the same
//! code with smaller counts. `make soak` runs the full counts on release builds and writes
//! `docs/reliability.md`. After `--`:
//!
//! - `--full`: the full counts;
//! - `--seed N`: the run's seed (each row's seed is derived from it and printed);
//! - `--only ROW[,ROW]`: only these rows;
//! - `--case SEED`: with `--only ROW`, run the one case of that seed (what a failure prints);
//! - `--count N`: cases per row;
//! - `--report FILE`: write the table as Markdown;
//! - `--list`: the rows' names, one per line as the test harness lists tests (`ROW: test`);
//! - `ROW` (with `--exact`) or a part of its name: only the rows so named, and `--skip PART`:
//!   not those, as the test harness's filters (how a runner gives each row a process of its
//!   own).
//!
//! It ends with one line, `soak: N passed, N failed, N skipped` (rows skipped, each with its
//! reason above), and exits non-zero on any failure.

#[path = "../common/mod.rs"]
#[allow(unused_imports)]
mod common;
#[cfg(unix)]
mod planted;
mod props;
mod rows;
mod support;
mod trust_rows;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::time::Instant;

/// What one case ends with: `Ok(tag)` (how it passed: "recovered", "refused: disk full")
/// or `Err(why it failed)`.
pub type Case = Result<String, String>;

/// Fails the case with a message unless `cond`.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

#[derive(Debug, Clone)]
pub struct Args {
    pub full: bool,
    pub seed: u64,
    pub only: Vec<String>,
    pub case: Option<u64>,
    pub count: Option<usize>,
    pub report: Option<PathBuf>,
    pub list: bool,
    /// The harness's filters: rows whose name is one (`exact`) or contains one.
    pub filters: Vec<String>,
    pub exact: bool,
    /// Rows whose name contains one of these are left out (`--skip`, as the harness does).
    pub skip: Vec<String>,
}

fn parse_args() -> Args {
    let mut a = Args {
        full: false,
        seed: 20261126,
        only: Vec::new(),
        case: None,
        count: None,
        report: None,
        list: false,
        filters: Vec::new(),
        exact: false,
        skip: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| panic!("{x} needs a value"));
        match x.as_str() {
            "--full" => a.full = true,
            "--seed" => a.seed = val().parse().expect("--seed N"),
            "--only" => a.only = val().split(',').map(str::to_string).collect(),
            "--case" => a.case = Some(val().parse().expect("--case SEED")),
            "--count" => a.count = Some(val().parse().expect("--count N")),
            "--report" => a.report = Some(PathBuf::from(val())),
            "--list" => a.list = true,
            "--exact" => a.exact = true,
            "--skip" => a.skip.push(val()),
            // The harness's options that take a value: the value is not a filter.
            "--test-threads" | "--format" | "--color" | "--logfile" | "--shuffle-seed" | "-Z" => {
                val();
            }
            _ if !x.starts_with('-') => a.filters.push(x),
            // The harness's flags (`--include-ignored`, `--nocapture`, …).
            _ => {}
        }
    }
    if a.case.is_some() {
        assert_eq!(a.only.len(), 1, "--case needs exactly one --only ROW");
    }
    a
}

/// One row's figures.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: &'static str,
    pub pass_means: &'static str,
    pub count: usize,
    pub seed: u64,
    pub passed: usize,
    pub failed: usize,
    pub secs: f64,
    /// How cases passed, counted ("recovered": 48, "refused": 2).
    pub tags: BTreeMap<String, usize>,
    pub skipped: Option<String>,
}

/// SplitMix64: the seed of case `i` of a row, and a row's seed from the run's.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn row_seed(run: u64, name: &str) -> u64 {
    name.bytes().fold(mix(run), |h, b| mix(h ^ u64::from(b)))
}

pub struct Runner {
    pub args: Args,
    pub outcomes: Vec<Outcome>,
}

impl Runner {
    pub fn wants(&self, name: &str) -> bool {
        let a = &self.args;
        (a.only.is_empty() || a.only.iter().any(|o| o == name))
            && (a.filters.is_empty()
                || a.filters.iter().any(|f| {
                    if a.exact {
                        f == name
                    } else {
                        name.contains(f.as_str())
                    }
                }))
            && !a.skip.iter().any(|s| name.contains(s.as_str()))
    }

    /// Runs `count` cases of a row (`full` or `short`), each in its own task so a panic
    /// fails that case only, and prints a replay command for each failure.
    pub async fn row<F, Fut>(
        &mut self,
        name: &'static str,
        pass_means: &'static str,
        (full, short): (usize, usize),
        skip: Option<String>,
        case: F,
    ) where
        F: Fn(u64, bool) -> Fut,
        Fut: Future<Output = Case> + Send + 'static,
    {
        if !self.wants(name) {
            return;
        }
        if self.args.list {
            println!("{name}: test");
            return;
        }
        let seed = row_seed(self.args.seed, name);
        let count = self
            .args
            .count
            .unwrap_or(if self.args.full { full } else { short });
        let mut o = Outcome {
            name,
            pass_means,
            count,
            seed,
            passed: 0,
            failed: 0,
            secs: 0.0,
            tags: BTreeMap::new(),
            skipped: None,
        };
        if let Some(why) = skip {
            println!("soak {name}: skipped: {why}");
            o.skipped = Some(why);
            self.outcomes.push(o);
            return;
        }
        let seeds: Vec<u64> = match self.args.case {
            Some(s) => vec![s],
            None => (0..count as u64).map(|i| mix(seed ^ i)).collect(),
        };
        o.count = seeds.len();
        println!(
            "soak {name}: {} cases, seed {seed}{}",
            seeds.len(),
            if self.args.full { " (full)" } else { "" }
        );
        let t = Instant::now();
        for s in seeds {
            let result = tokio::spawn(case(s, self.args.full)).await;
            let result = match result {
                Ok(r) => r,
                Err(e) => Err(format!("panicked: {e}")),
            };
            match result {
                Ok(tag) => {
                    o.passed += 1;
                    *o.tags.entry(tag).or_default() += 1;
                }
                Err(why) => {
                    o.failed += 1;
                    println!("soak {name}: FAILED case {s}: {why}");
                    println!(
                        "  replay: cargo test -p sqsnap --test soak -- --only {name} --case {s}{}",
                        if self.args.full { " --full" } else { "" }
                    );
                }
            }
        }
        o.secs = t.elapsed().as_secs_f64();
        let tags: Vec<String> = o.tags.iter().map(|(k, v)| format!("{v} {k}")).collect();
        println!(
            "soak {name}: {} passed, {} failed in {:.1} s ({})",
            o.passed,
            o.failed,
            o.secs,
            tags.join(", ")
        );
        self.outcomes.push(o);
    }
}

fn main() -> std::process::ExitCode {
    let args = parse_args();
    // The report's folder is checked before the rows run, not after (cargo runs this in
    // crates/sqsnap: a path relative to the workspace would only fail at the end).
    if let Some(path) = &args.report {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        if dir.is_some_and(|d| !d.is_dir()) {
            eprintln!(
                "soak: no folder for the report {} (relative paths start in {}); give an absolute path",
                path.display(),
                std::env::current_dir()
                    .map(|d| d.display().to_string())
                    .unwrap_or_default()
            );
            return std::process::ExitCode::FAILURE;
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let t = Instant::now();
    let mut runner = Runner {
        args: args.clone(),
        outcomes: Vec::new(),
    };
    rt.block_on(rows::all(&mut runner));
    rt.block_on(trust_rows::all(&mut runner));
    if args.list {
        return std::process::ExitCode::SUCCESS;
    }
    let passed: usize = runner.outcomes.iter().map(|o| o.passed).sum();
    let failed: usize = runner.outcomes.iter().map(|o| o.failed).sum();
    if let Some(path) = &args.report {
        let md = support::report(&args, &runner.outcomes, t.elapsed().as_secs_f64());
        std::fs::write(path, md).expect("write the report");
        println!("soak: wrote {}", path.display());
    }
    let skipped = runner
        .outcomes
        .iter()
        .filter(|o| o.skipped.is_some())
        .count();
    println!("soak: {passed} passed, {failed} failed, {skipped} skipped");
    if failed == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
