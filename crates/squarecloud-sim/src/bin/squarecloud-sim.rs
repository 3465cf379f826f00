//! `squarecloud-sim --port P --api-key K [--time-scale X] [--seed S] [--data FILE]`
//!
//! Serves the simulator until interrupted; prints one line with the API base URL once it
//! listens. `--data FILE` is one account (JSON), or several with their workspaces
//! (`{"accounts":[...],"workspaces":[...]}`, each account with its own made-up `api_key`;
//! `--api-key` then sets the first one's, and may be left out); `--demo-accounts` serves the
//! two-account demo (keys `demo-key` and `demo-key-cliente-x`). More flags: `--files-port P`, `--demo-limits`, `--generation-secs S` (every
//! create), `--generation-rate BYTES_PER_SEC` (plus the archive's size at this rate; 0: none),
//! `--resource-gap-secs S`, `--window-rule arrival|answer`, `--per-minute N` (default: the
//! plan's), `--fault JSON` (repeatable; see `FaultSpec`).

use squarecloud_sim::{AccountSpec, FaultSpec, Limits, SimConfig, SimData, Simulator, WindowRule};
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: squarecloud-sim --port P --api-key K [--time-scale X] [--seed S] [--data FILE] \
[--demo-accounts] [--files-port P] [--demo-limits] [--generation-secs S] [--generation-rate B] [--resource-gap-secs S] \
[--window-rule arrival|answer] [--per-minute N] [--fault JSON]...";

fn parse() -> Result<(SimConfig, Vec<FaultSpec>), String> {
    let mut args = std::env::args().skip(1);
    let mut config = SimConfig::new("", AccountSpec::demo());
    let mut faults = Vec::new();
    let mut key = None;
    let mut per_minute = None;
    let mut data = None;
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.into());
        }
        if flag == "--demo-limits" {
            config.limits = Limits::demo();
            continue;
        }
        if flag == "--demo-accounts" {
            data = Some(SimData::of(&SimConfig::demo_accounts()));
            continue;
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let num = |v: &str| {
            v.parse::<f64>()
                .map_err(|_| format!("{flag}: not a number: {v}"))
        };
        match flag.as_str() {
            "--port" => config.api_port = value.parse().map_err(|_| "--port: not a port")?,
            "--files-port" => {
                config.files_port = value.parse().map_err(|_| "--files-port: not a port")?
            }
            "--api-key" => key = Some(value),
            "--time-scale" => config.time_scale = num(&value)?,
            "--seed" => config.seed = value.parse().map_err(|_| "--seed: not a number")?,
            "--generation-secs" => config.generation_time = Duration::from_secs_f64(num(&value)?),
            "--generation-rate" => {
                config.generation_bytes_per_sec = value
                    .parse()
                    .map_err(|_| "--generation-rate: not a number")?
            }
            "--window-rule" => {
                config.limits.window_rule = match value.as_str() {
                    "arrival" => WindowRule::Arrival,
                    "answer" => WindowRule::Answer,
                    _ => return Err(format!("--window-rule: arrival or answer\n{USAGE}")),
                }
            }
            "--per-minute" => {
                per_minute = Some(value.parse().map_err(|_| "--per-minute: not a number")?)
            }
            "--resource-gap-secs" => {
                config.limits.resource_gap = Duration::from_secs_f64(num(&value)?)
            }
            "--data" => {
                let text =
                    std::fs::read_to_string(&value).map_err(|e| format!("--data {value}: {e}"))?;
                data = Some(SimData::parse(&text).map_err(|e| format!("--data {value}: {e}"))?);
            }
            "--fault" => faults
                .push(serde_json::from_str(&value).map_err(|e| format!("--fault {value}: {e}"))?),
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    finish(&mut config, data, key, per_minute)?;
    Ok((config, faults))
}

/// The accounts (`--data`, `--demo-accounts`), the first one's key and per-minute cap, then
/// the whole checked.
fn finish(
    config: &mut SimConfig,
    data: Option<SimData>,
    key: Option<String>,
    per_minute: Option<u32>,
) -> Result<(), String> {
    let mut from_data = None;
    if let Some(d) = data {
        from_data = d.accounts.first().and_then(|a| a.per_minute);
        d.apply(config, key.as_deref())?;
    } else if let Some(k) = key {
        config.api_key = k;
    }
    // The plan's cap, unless given: `--data` may have changed the plan.
    config.limits.per_minute = per_minute.or(from_data).unwrap_or_else(|| {
        squarecloud::limits::requests_per_minute(&config.account.plan, config.account.memory_mb)
    });
    if config.api_key.is_empty() {
        return Err(format!(
            "--api-key is required (or an api_key for each account in --data)\n{USAGE}"
        ));
    }
    config.check()
}

#[tokio::main]
async fn main() -> ExitCode {
    let (config, faults) = match parse() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let sim = match Simulator::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("squarecloud-sim: cannot listen: {e}");
            return ExitCode::from(1);
        }
    };
    for f in faults {
        sim.inject(f);
    }
    println!("{}", sim.api_url());
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
