//! `squarecloud-sim --port P --api-key K [--time-scale X] [--seed S] [--data FILE]`
//!
//! Serves the simulator until interrupted; prints one line with the API base URL once it
//! listens. More flags: `--files-port P`, `--demo-limits`, `--generation-secs S`,
//! `--resource-gap-secs S`, `--fault JSON` (repeatable; see `FaultSpec`).

use squarecloud_sim::{AccountSpec, FaultSpec, Limits, SimConfig, Simulator};
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: squarecloud-sim --port P --api-key K [--time-scale X] [--seed S] [--data FILE] \
[--files-port P] [--demo-limits] [--generation-secs S] [--resource-gap-secs S] [--fault JSON]...";

fn parse() -> Result<(SimConfig, Vec<FaultSpec>), String> {
    let mut args = std::env::args().skip(1);
    let mut config = SimConfig::new("", AccountSpec::demo());
    let mut faults = Vec::new();
    let mut key = None;
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.into());
        }
        if flag == "--demo-limits" {
            config.limits = Limits::demo();
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
            "--resource-gap-secs" => {
                config.limits.resource_gap = Duration::from_secs_f64(num(&value)?)
            }
            "--data" => {
                let text =
                    std::fs::read_to_string(&value).map_err(|e| format!("--data {value}: {e}"))?;
                config.account =
                    serde_json::from_str(&text).map_err(|e| format!("--data {value}: {e}"))?;
            }
            "--fault" => faults
                .push(serde_json::from_str(&value).map_err(|e| format!("--fault {value}: {e}"))?),
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    config.api_key = key.ok_or_else(|| format!("--api-key is required\n{USAGE}"))?;
    Ok((config, faults))
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
