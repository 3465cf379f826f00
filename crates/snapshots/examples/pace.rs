//! Snapshot-all at the server's pace, measured on the simulator (`make bench` runs this).
//!
//! For 20 and 100 resources whose creates take 2 to 60 s (by archive size), under a server
//! that counts create windows from the request's arrival and one that counts from the
//! answer, it runs: this engine (pipelined, learning the rule), and the engine as it was
//! (one create at a time, each window counted from the previous answer). It prints a
//! Markdown table: makespan against the rule's lower bound, and refused requests. "Sleep
//! 60 s per app", what backup bots do, is computed: Σ generation + (n − 1) × 60 s.

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
    let mut a = AccountSpec::demo();
    a.memory_mb = 32768; // 256 snapshots a day: quota is not what is measured here
    a.plan = "pro-32".into();
    a.databases.clear();
    a.applications = generations(n)
        .into_iter()
        .enumerate()
        .map(|(i, g)| ResourceSpec {
            id: format!("{i:032x}"),
            name: format!("app {i}"),
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
    let mut cfg = EngineConfig::new(sim.api_url(), data.path());
    cfg.files_url = Some(sim.files_url());
    cfg.limits = snapshots::demo::limits_of(&sim);
    let engine = Engine::connect(cfg, ApiKey::new("bench-key").expect("key"))
        .await
        .expect("connect");
    let t0 = Instant::now();
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

#[tokio::main]
async fn main() {
    println!(
        "| resources | server counts from | engine | clock | makespan | lower bound | ratio | refused | accepted creates |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
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
                println!(
                    "| {n} | {rule} | {label} | {scale}× | {:.0} s | {:.0} s | {:.2}× | {} | {} |",
                    r.makespan,
                    bound,
                    r.makespan / bound,
                    r.refused,
                    r.accepted
                );
            }
        }
        let bots = sum as f64 + (n as f64 - 1.0) * 60.0;
        println!("| {n} | either | sleep 60 s per app (computed) | | {bots:.0} s | | | 0 | {n} |");
    }
}
