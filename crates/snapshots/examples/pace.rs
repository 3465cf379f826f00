//! Snapshot-all at the server's pace, measured on the simulator (`make bench` runs this).
//!
//! For 20 and 100 resources whose creates take 2 to 60 s (by archive size), under a server
//! that counts create windows from the request's arrival and one that counts from the
//! answer, it runs: this engine (pipelined, learning the rule), and the engine as it was
//! (one create at a time, each window counted from the previous answer). It prints a
//! Markdown table: makespan against the rule's lower bound, and refused requests. "Sleep
//! 60 s per app", what backup bots do, is computed: Σ generation + (n − 1) × 60 s.
//!
//! Beside the 20-resource pipelined row under the arrival rule: two accounts on one
//! simulator, each with its own key and engine (its own data folder), running snapshot-all
//! at the same time; each account's makespan against its own bound, medians of `--runs N`
//! runs (default 5) with min–max. `--two-accounts-only` prints only those rows.

use snapshots::ledger::{Ledger, WindowRule};
use snapshots::squarecloud::ApiKey;
use snapshots::{Engine, EngineConfig, SnapshotOptions};
use squarecloud_sim::{AccountSpec, ResourceSpec, SimConfig, Simulator};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const RATE: u64 = 1024 * 1024;
/// Simulated seconds per real second. The engine's margins are real milliseconds, which a
/// fast clock magnifies: the rows where they matter (pipelined, arrival rule) run at 5×.
const FAST: f64 = 50.0;
const SLOW: f64 = 5.0;

fn generations(n: usize) -> Vec<u64> {
    // A fixed spread of 2..=60 s, in no particular order.
    (0..n).map(|i| 2 + ((i * 37 + 11) % 59) as u64).collect()
}

fn account(n: usize) -> AccountSpec {
    account_of(&AccountSpec::demo().id, 0, &generations(n))
}

/// An account `id` whose resources, numbered from `first`, take `gens` seconds to create.
fn account_of(id: &str, first: usize, gens: &[u64]) -> AccountSpec {
    let mut a = AccountSpec::demo();
    a.id = id.into();
    a.memory_mb = 32768; // 256 snapshots a day: quota is not what is measured here
    a.plan = "pro-32".into();
    a.databases.clear();
    a.applications = gens
        .iter()
        .enumerate()
        .map(|(i, &g)| ResourceSpec {
            id: format!("{:032x}", first + i),
            name: format!("app {}", first + i),
            desc: None,
            kind: "javascript".into(),
            ram: 256,
            cluster: "c".into(),
            domain: None,
            snapshot_size: (g - 2) * RATE + 1000,
            generation_secs: None,
            history: 1,
        })
        .collect();
    a
}

struct Run {
    makespan: f64,
    refused: usize,
    accepted: usize,
}

async fn run(n: usize, server: squarecloud_sim::WindowRule, as_before: bool, scale: f64) -> Run {
    let mut c = SimConfig::new("bench-key", account(n));
    c.time_scale = scale;
    c.generation_time = Duration::from_secs(2);
    c.generation_bytes_per_sec = RATE;
    c.limits.window_rule = server;
    let sim = Simulator::start(c).await.expect("simulator");
    let data = tempfile::tempdir().expect("temp dir");
    if as_before {
        // The engine as it was: every window counted from the previous answer.
        let mut ledger = Ledger::default();
        ledger.account(&AccountSpec::demo().id).learned.rule = WindowRule::Answer;
        std::fs::write(
            data.path().join("ledger.json"),
            serde_json::to_vec(&ledger).expect("json"),
        )
        .expect("write ledger");
    }
    let engine = connect(&sim, data.path(), "bench-key").await;
    let makespan = snapshot_all(&engine, Instant::now(), scale).await;
    let log = sim.requests();
    Run {
        makespan,
        refused: log.iter().filter(|q| q.status == 429).count(),
        accepted: log
            .iter()
            .filter(|q| q.method == "POST" && (q.status == 200 || q.status == 202))
            .count(),
    }
}

/// An engine on `sim` with `key`, its state in `data`.
async fn connect(sim: &Simulator, data: &std::path::Path, key: &str) -> Engine {
    let mut cfg = EngineConfig::new(sim.api_url(), data);
    cfg.files_url = Some(sim.files_url());
    cfg.limits = snapshots::demo::limits_of(sim);
    Engine::connect(cfg, ApiKey::new(key).expect("key"))
        .await
        .expect("connect")
}

/// Snapshot-all (creates only): its makespan from `t0`, in simulated seconds.
async fn snapshot_all(engine: &Engine, t0: Instant, scale: f64) -> f64 {
    let res = engine
        .snapshot(
            engine.resources(),
            SnapshotOptions::default(),
            std::sync::Arc::new(|_| {}),
            &CancellationToken::new(),
        )
        .await;
    let makespan = t0.elapsed().as_secs_f64() * scale;
    assert!(res.iter().all(|r| r.outcome.is_ok()));
    makespan
}

/// The least makespan the arrival rule allows: every 5 s gap, then the quickest create.
fn arrival_bound(g: &[u64]) -> f64 {
    (g.len() as f64 - 1.0) * 5.0 + *g.iter().min().expect("resources") as f64
}

/// The second account of the two-account rows: 12 resources, creates of 7 to 51 s.
const SECOND_ID: &str = "527104883960201216";
fn second_generations() -> Vec<u64> {
    (0..12).map(|i| 7 + ((i * 5) % 12) as u64 * 4).collect()
}

/// Two accounts on one simulator (arrival rule), each with its own key, engine and data
/// folder, snapshot-all on both at once: each account's run (makespan from the common start;
/// refused and accepted: the requests under its own key).
async fn run_two(scale: f64) -> [Run; 2] {
    let ids = [AccountSpec::demo().id, SECOND_ID.to_string()];
    let keys = ["bench-key", "bench-key-two"];
    let mut c = SimConfig::new(keys[0], account_of(&ids[0], 0, &generations(20)))
        .with_account(keys[1], account_of(&ids[1], 100, &second_generations()));
    c.time_scale = scale;
    c.generation_time = Duration::from_secs(2);
    c.generation_bytes_per_sec = RATE;
    c.limits.window_rule = squarecloud_sim::WindowRule::Arrival;
    let sim = Simulator::start(c).await.expect("simulator");
    let dirs = [(); 2].map(|_| tempfile::tempdir().expect("temp dir"));
    let one = connect(&sim, dirs[0].path(), keys[0]).await;
    let two = connect(&sim, dirs[1].path(), keys[1]).await;
    let t0 = Instant::now();
    let (m1, m2) = tokio::join!(snapshot_all(&one, t0, scale), snapshot_all(&two, t0, scale));
    let log = sim.requests();
    let mine = |id: &str| {
        log.iter()
            .filter(|q| q.account.as_deref() == Some(id))
            .collect::<Vec<_>>()
    };
    [(m1, &ids[0]), (m2, &ids[1])].map(|(makespan, id)| {
        let log = mine(id);
        Run {
            makespan,
            refused: log.iter().filter(|q| q.status == 429).count(),
            accepted: log
                .iter()
                .filter(|q| q.method == "POST" && (q.status == 200 || q.status == 202))
                .count(),
        }
    })
}

/// "median`unit` (min–max)" of `v`, with `d` decimals.
fn spread(mut v: Vec<f64>, d: usize, unit: &str) -> String {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    let median = if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    };
    format!("{median:.d$}{unit} ({:.d$}–{:.d$})", v[0], v[v.len() - 1])
}

/// One row of the table, its cells in the header's order.
fn row(cells: [String; 9]) {
    println!("| {} |", cells.join(" | "));
}

/// The two-account rows: `runs` runs of [`run_two`] at the pipelined arrival rows' clock.
async fn two_account_rows(runs: usize) {
    let mut all = Vec::new();
    for _ in 0..runs {
        all.push(run_two(SLOW).await);
    }
    let gens = [generations(20), second_generations()];
    for (k, g) in gens.iter().enumerate() {
        let bound = arrival_bound(g);
        let made: Vec<f64> = all.iter().map(|r| r[k].makespan).collect();
        let ratios = made.iter().map(|m| m / bound).collect();
        let refused: usize = all.iter().map(|r| r[k].refused).sum();
        let accepted: Vec<usize> = all.iter().map(|r| r[k].accepted).collect();
        let (lo, hi) = (accepted.iter().min(), accepted.iter().max());
        let accepted = if lo == hi {
            format!("{} each run", g.len())
        } else {
            format!("{}–{} of {}", lo.unwrap_or(&0), hi.unwrap_or(&0), g.len())
        };
        row([
            format!("{} (account {} of 2, both at once)", g.len(), k + 1),
            "arrival".into(),
            "pipelined (now), two accounts".into(),
            format!("{SLOW}×"),
            spread(made, 0, " s"),
            format!("{bound:.0} s"),
            spread(ratios, 2, "×"),
            format!("{refused} in {runs} runs"),
            accepted,
        ]);
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs = args
        .iter()
        .position(|a| a == "--runs")
        .map(|i| {
            args.get(i + 1)
                .and_then(|v| v.parse().ok())
                .expect("--runs N")
        })
        .unwrap_or(5);
    println!(
        "| resources | server counts from | engine | clock | makespan | lower bound | ratio | refused | accepted creates |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    if args.iter().any(|a| a == "--two-accounts-only") {
        two_account_rows(runs).await;
        return;
    }
    for n in [20usize, 100] {
        let g = generations(n);
        let sum: u64 = g.iter().sum();
        let gaps = (n as f64 - 1.0) * 5.0;
        for server in [
            squarecloud_sim::WindowRule::Arrival,
            squarecloud_sim::WindowRule::Answer,
        ] {
            let bound = match server {
                squarecloud_sim::WindowRule::Arrival => gaps + *g.iter().min().unwrap() as f64,
                squarecloud_sim::WindowRule::Answer => gaps + sum as f64,
            };
            let rule = match server {
                squarecloud_sim::WindowRule::Arrival => "arrival",
                squarecloud_sim::WindowRule::Answer => "answer",
            };
            for (label, as_before) in [("pipelined (now)", false), ("one at a time (before)", true)]
            {
                let scale = if !as_before && rule == "arrival" {
                    SLOW
                } else {
                    FAST
                };
                let r = run(n, server, as_before, scale).await;
                row([
                    n.to_string(),
                    rule.into(),
                    label.into(),
                    format!("{scale}×"),
                    format!("{:.0} s", r.makespan),
                    format!("{bound:.0} s"),
                    format!("{:.2}×", r.makespan / bound),
                    r.refused.to_string(),
                    r.accepted.to_string(),
                ]);
                if n == 20 && rule == "arrival" && !as_before {
                    two_account_rows(runs).await;
                }
            }
        }
        let bots = sum as f64 + (n as f64 - 1.0) * 60.0;
        println!("| {n} | either | sleep 60 s per app (computed) | | {bots:.0} s | | | 0 | {n} |");
    }
}
