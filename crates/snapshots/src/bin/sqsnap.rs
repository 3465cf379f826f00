//! `sqsnap`: the Square Snapshots engine for servers and cron. Exit codes: [`EXIT_CODES`].

use clap::{Parser, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use snapshots::library::Library;
use snapshots::names::printable;
use snapshots::secret::{KeyringStore, SecretStore};
use snapshots::squarecloud::{ApiKey, Client};
use snapshots::statedir::StateDir;
use snapshots::{
    Engine, EngineConfig, EngineError, Event, EventSink, Limits, SnapshotOptions, default_data_dir,
};
use std::collections::HashMap;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// One exit code per meaning; `--help` and the README print this table.
const EXIT_CODES: &[(u8, &str)] = &[
    (0, "everything asked for was done"),
    (
        2,
        "usage or configuration (a bad flag, an API address that is not https)",
    ),
    (
        3,
        "the API key was refused, or the keychain could not be used",
    ),
    (
        4,
        "the daily quota is used up, or Square Cloud is rate limiting this key",
    ),
    (
        5,
        "network or server trouble; nothing was lost, try again later",
    ),
    (6, "a downloaded file failed its integrity check"),
    (
        7,
        "a local disk or folder problem (missing, not writable, full)",
    ),
    (8, "no such application, database or snapshot"),
    (
        9,
        "not finished yet: the snapshot is still being prepared on Square Cloud, its answer was lost, or another process is taking it",
    ),
    (130, "cancelled (Ctrl-C)"),
];

fn exit_codes_help() -> String {
    let mut s = String::from("Exit codes:\n");
    for (code, meaning) in EXIT_CODES {
        s.push_str(&format!("  {code:>3}  {meaning}\n"));
    }
    s
}

/// The exit code of an engine error.
fn exit_code(code: &str) -> u8 {
    match code {
        "auth" => 3,
        "quota" | "rate_limited" => 4,
        "verify" => 6,
        "disk" | "folder" | "no_destination" => 7,
        "not_found" => 8,
        "processing" | "busy" => 9,
        "cancelled" => 130,
        "config" | "insecure" => 2,
        _ => 5,
    }
}

#[derive(Parser)]
#[command(
    name = "sqsnap",
    version,
    about = "Keep Square Cloud snapshots safe on your own disk",
    after_help = exit_codes_help()
)]
struct Cli {
    /// API base URL (default: Square Cloud's).
    #[arg(long, env = "SQUARECLOUD_API_URL", global = true)]
    api_url: Option<String>,
    /// One JSON object per line on stdout.
    #[arg(long, global = true)]
    json: bool,
    /// Run against the built-in simulator with a demo account (no account needed).
    #[arg(long, global = true)]
    demo: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check an API key and keep it in the OS keychain (reads it from stdin when piped).
    Login,
    /// Remove the key from the keychain.
    Logout,
    /// The account and plan the key belongs to.
    Whoami,
    /// Applications, databases and the quota.
    List,
    /// The daily snapshot quota.
    Quota,
    /// Take snapshots (spends quota), optionally downloading them.
    Snapshot {
        /// Resource ids.
        ids: Vec<String>,
        /// Every application and database.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        #[arg(long)]
        download: bool,
        #[arg(long)]
        dest: Option<PathBuf>,
        /// When the quota runs out, wait for it instead of stopping.
        #[arg(long)]
        wait: bool,
    },
    /// Download an existing snapshot (the newest by default). Costs no quota.
    Download {
        id: String,
        #[arg(long)]
        version: Option<String>,
        #[arg(long)]
        dest: Option<PathBuf>,
    },
    /// Check downloaded archives (length, central directory and every CRC).
    Verify {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Delete old downloads this app made: keep the newest N per resource and/or D days.
    Prune {
        #[arg(long)]
        keep: Option<u32>,
        #[arg(long)]
        days: Option<u32>,
    },
}

struct Fail(u8, String);

impl From<EngineError> for Fail {
    fn from(e: EngineError) -> Self {
        Fail(exit_code(e.code()), e.to_string())
    }
}

struct Out {
    json: bool,
}

impl Out {
    fn emit(&self, human: impl AsRef<str>, json: serde_json::Value) {
        if self.json {
            println!("{json}");
        } else {
            println!("{}", human.as_ref());
        }
    }
}

/// The in-process simulator of `--demo`; dropped at exit.
struct Demo(#[allow(dead_code)] squarecloud_sim::Simulator);

/// Where this mode keeps its state: the demo has its own, so `--demo` never touches the
/// real library.
fn data_dir(demo: bool) -> PathBuf {
    let base = default_data_dir();
    if demo { base.join("demo") } else { base }
}

async fn setup(cli: &Cli) -> Result<(EngineConfig, Option<Demo>), Fail> {
    if cli.demo {
        let sim = squarecloud_sim::Simulator::start(squarecloud_sim::SimConfig::demo("demo-key"))
            .await
            .map_err(|e| Fail(5, format!("cannot start the demo simulator: {e}")))?;
        let mut cfg = EngineConfig::new(sim.api_url(), data_dir(true));
        cfg.files_url = Some(sim.files_url());
        cfg.limits = Limits::matching(&sim.config().limits, sim.config().time_scale);
        return Ok((cfg, Some(Demo(sim))));
    }
    let url = cli
        .api_url
        .clone()
        .unwrap_or_else(|| snapshots::squarecloud::DEFAULT_API_URL.into());
    Ok((EngineConfig::new(url, data_dir(false)), None))
}

fn key(cli: &Cli) -> Result<ApiKey, Fail> {
    if cli.demo {
        return Ok(ApiKey::new("demo-key").expect("non-empty"));
    }
    if let Some(k) = std::env::var("SQUARECLOUD_API_KEY")
        .ok()
        .and_then(ApiKey::new)
    {
        return Ok(k);
    }
    match KeyringStore::default().get() {
        Ok(Some(k)) => Ok(k),
        Ok(None) => Err(Fail(
            3,
            "Not signed in. Run `sqsnap login`, or set SQUARECLOUD_API_KEY.".into(),
        )),
        Err(e) => Err(Fail(3, e.to_string())),
    }
}

fn human_bytes(n: u64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < units.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// Progress bars on a terminal, plain lines otherwise, JSON lines with --json.
fn sink(out_json: bool, names: HashMap<String, String>) -> EventSink {
    let tty = std::io::stderr().is_terminal();
    let multi = MultiProgress::new();
    let bars: Mutex<HashMap<String, ProgressBar>> = Mutex::new(HashMap::new());
    let spinners: Mutex<HashMap<String, ProgressBar>> = Mutex::new(HashMap::new());
    let last_pct: Mutex<HashMap<String, u64>> = Mutex::new(HashMap::new());
    Arc::new(move |e: Event| {
        if out_json {
            if let Ok(s) = serde_json::to_string(&e) {
                println!("{s}");
            }
            return;
        }
        let name = |id: &str| printable(names.get(id).map(String::as_str).unwrap_or(id));
        let stop_spinner = |id: &str| {
            if let Some(b) = spinners
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(id)
            {
                b.finish_and_clear();
            }
        };
        match &e {
            Event::Created { resource, .. }
            | Event::Downloading { resource, .. }
            | Event::Done { resource, .. }
            | Event::Failed { resource, .. } => stop_spinner(resource),
            _ => {}
        }
        let line = match &e {
            Event::Downloading { resource, progress } => {
                if tty {
                    let mut bars = bars.lock().unwrap_or_else(|p| p.into_inner());
                    let bar = bars.entry(resource.clone()).or_insert_with(|| {
                        let b = multi.add(ProgressBar::new(progress.total.unwrap_or(0)));
                        b.set_style(ProgressStyle::with_template("{msg:24!} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}").unwrap_or_else(|_| ProgressStyle::default_bar()));
                        b.set_message(name(resource));
                        b
                    });
                    if let Some(t) = progress.total {
                        bar.set_length(t);
                    }
                    bar.set_position(progress.bytes);
                    return;
                }
                let pct = progress
                    .total
                    .map(|t| progress.bytes * 100 / t.max(1))
                    .unwrap_or(0);
                let mut last = last_pct.lock().unwrap_or_else(|p| p.into_inner());
                let prev = last.entry(resource.clone()).or_insert(0);
                if pct < *prev + 25 {
                    return;
                }
                *prev = pct;
                format!(
                    "{}: {pct}% ({} at {}/s)",
                    name(resource),
                    human_bytes(progress.bytes),
                    human_bytes(progress.bytes_per_sec as u64)
                )
            }
            Event::Waiting {
                resource,
                until,
                reason,
            } => {
                let why = match reason {
                    snapshots::WaitReason::AccountWindow => "the account's create window",
                    snapshots::WaitReason::ResourceWindow => "this resource's create window",
                    snapshots::WaitReason::KeepCalm => "Square Cloud asked to slow down",
                    snapshots::WaitReason::Retry => "retrying after an error",
                };
                format!(
                    "{}: waiting until {} UTC ({why})",
                    name(resource),
                    until.format("%H:%M:%S")
                )
            }
            Event::PausedForQuota { until } => match until {
                Some(t) => format!(
                    "Daily quota used up: paused until {} UTC",
                    t.format("%Y-%m-%d %H:%M")
                ),
                None => "Daily quota used up".into(),
            },
            Event::RateLimited { until } => format!(
                "Blocked by Square Cloud until about {} UTC",
                until.format("%H:%M")
            ),
            Event::Creating { resource, since }
            | Event::Processing {
                resource, since, ..
            } if tty => {
                let mut sp = spinners.lock().unwrap_or_else(|p| p.into_inner());
                let bar = sp.entry(resource.clone()).or_insert_with(|| {
                    let waited = (chrono::Utc::now() - *since).to_std().unwrap_or_default();
                    let b = multi.add(ProgressBar::new_spinner().with_elapsed(waited));
                    b.set_style(
                        ProgressStyle::with_template(
                            "{spinner} {msg:24!} preparing on Square Cloud… {elapsed}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    b.set_message(name(resource));
                    b.enable_steady_tick(std::time::Duration::from_millis(200));
                    b
                });
                if let Event::Processing {
                    answer_lost: true, ..
                } = &e
                {
                    let _ = multi.println(format!(
                        "{}: the answer was lost on the way; looking for the snapshot in the list (no second one is requested)",
                        name(resource)
                    ));
                }
                let _ = bar;
                return;
            }
            Event::Creating { resource, .. } => {
                format!("{}: preparing on Square Cloud…", name(resource))
            }
            Event::Processing {
                resource,
                since,
                answer_lost,
            } => {
                let secs = (chrono::Utc::now() - *since).num_seconds();
                if *answer_lost {
                    format!(
                        "{}: the answer was lost on the way; looking for the snapshot in the list (no second one is requested)",
                        name(resource)
                    )
                } else {
                    format!(
                        "{}: still preparing on Square Cloud… {secs} s",
                        name(resource)
                    )
                }
            }
            Event::Joined { resource, since } => format!(
                "{}: already being snapshotted by another Square Snapshots process (since {} UTC); waiting for it instead of asking again",
                name(resource),
                since.format("%H:%M:%S")
            ),
            Event::Learned { message } => format!("note: {message}"),
            Event::Created { resource, .. } => format!("{}: snapshot ready", name(resource)),
            Event::Done {
                resource,
                path,
                size,
                already_present,
            } => {
                if let Some(b) = bars
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(resource)
                {
                    b.finish_and_clear();
                }
                format!(
                    "{}: {} {} ({}, verified)",
                    name(resource),
                    if *already_present {
                        "already saved as"
                    } else {
                        "saved"
                    },
                    path.display(),
                    human_bytes(*size)
                )
            }
            Event::Failed {
                resource, message, ..
            } => format!("{}: FAILED: {}", name(resource), printable(message)),
            Event::Paused => "Paused: nothing new starts until resumed".into(),
            Event::Resumed => "Resumed".into(),
            Event::Quota { .. } => return,
        };
        if tty {
            let _ = multi.println(line);
        } else {
            println!("{line}");
        }
    })
}

async fn run(cli: Cli) -> Result<(), Fail> {
    let out = Out { json: cli.json };
    match &cli.command {
        Command::Verify { paths } => return verify(&out, &data_dir(cli.demo), paths),
        Command::Prune { keep, days } => return prune(&out, &data_dir(cli.demo), *keep, *days),
        Command::Logout => {
            KeyringStore::default()
                .delete()
                .map_err(|e| Fail(3, e.to_string()))?;
            out.emit(
                "Signed out: the key was removed from the keychain.",
                serde_json::json!({"signed_out": true}),
            );
            return Ok(());
        }
        _ => {}
    }
    let (cfg, _demo) = setup(&cli).await?;
    if let Command::Login = cli.command {
        return login(&out, &cfg, cli.demo).await;
    }
    let engine = Engine::connect(cfg, key(&cli)?).await?;
    for r in engine.recovered() {
        eprintln!("note: {r}");
    }
    let names: HashMap<String, String> = engine
        .resources()
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect();
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            c2.cancel();
        }
    });
    match &cli.command {
        Command::Whoami => {
            let me = engine.me();
            let p = &me.user.plan;
            out.emit(
                format!("{} ({}) — plan {} ({} MB), {} snapshots a day", printable(&me.user.name), printable(&me.user.id), printable(&p.name), p.memory.limit, p.daily_snapshot_quota()),
                serde_json::json!({"id": me.user.id, "name": me.user.name, "plan": p.name, "memory_mb": p.memory.limit, "daily_quota": p.daily_snapshot_quota()}),
            );
        }
        Command::Quota => match engine.reconcile_quota().await {
            Ok(q) => out.emit(quota_line(&q), serde_json::to_value(&q).unwrap_or_default()),
            Err(e) => {
                let q = engine.quota();
                eprintln!(
                    "sqsnap: could not read the lists, so this is this computer's estimate: {}",
                    quota_line(&q)
                );
                return Err(e.into());
            }
        },
        Command::List => {
            let me = engine.me();
            for r in engine.resources() {
                let newest = engine
                    .versions(&r)
                    .await
                    .ok()
                    .and_then(|v| v.first().map(|i| i.modified));
                let (detail, ram) = match r.kind {
                    snapshots::squarecloud::ResourceKind::App => {
                        let a = me.applications.iter().find(|a| a.id == r.id);
                        (
                            a.and_then(|a| a.lang.clone()).unwrap_or_default(),
                            a.map(|a| a.ram).unwrap_or(0),
                        )
                    }
                    _ => {
                        let d = me.databases.iter().find(|d| d.id == r.id);
                        (
                            d.and_then(|d| d.engine.clone()).unwrap_or_default(),
                            d.map(|d| d.ram).unwrap_or(0),
                        )
                    }
                };
                let kind = match r.kind {
                    snapshots::squarecloud::ResourceKind::App => "app",
                    _ => "database",
                };
                out.emit(
                    format!("{kind:8} {}  {:28} {:10} {:>5} MB  newest: {}", printable(&r.id), printable(&r.name), printable(&detail), ram, newest.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_else(|| "none".into())),
                    serde_json::json!({"kind": kind, "id": r.id, "name": r.name, "runtime": detail, "ram": ram, "newest_snapshot": newest}),
                );
            }
            let q = engine.quota();
            out.emit(quota_line(&q), serde_json::json!({"quota": q}));
        }
        Command::Snapshot {
            ids,
            all,
            download,
            dest,
            wait,
        } => {
            if !*all && ids.is_empty() {
                return Err(Fail(2, "Name one or more resource ids, or --all.".into()));
            }
            let targets = if *all {
                engine.resources()
            } else {
                ids.iter()
                    .map(|id| engine.resource(id))
                    .collect::<Result<_, _>>()?
            };
            let opts = SnapshotOptions {
                download: *download,
                dest: dest.clone(),
                wait_for_quota: *wait,
            };
            let results = engine
                .snapshot(targets, opts, sink(cli.json, names), &cancel)
                .await;
            let mut worst: Option<Fail> = None;
            for r in results {
                if let Err(e) = r.outcome {
                    let f = Fail::from(e);
                    if worst.as_ref().is_none_or(|w| f.0 > w.0) {
                        worst = Some(f);
                    }
                }
            }
            if let Some(Fail(code, _)) = worst {
                return Err(Fail(
                    code,
                    "Some snapshots did not complete (see above).".into(),
                ));
            }
        }
        Command::Download { id, version, dest } => {
            let r = engine.resource(id)?;
            engine
                .download(
                    &r,
                    version.as_deref(),
                    dest.as_deref(),
                    sink(cli.json, names),
                    &cancel,
                )
                .await?;
        }
        Command::Login | Command::Logout | Command::Verify { .. } | Command::Prune { .. } => {
            unreachable!("handled above")
        }
    }
    Ok(())
}

fn quota_line(q: &snapshots::ledger::QuotaStatus) -> String {
    let next = q
        .next_free_at
        .map(|t| format!("; next frees up at {} UTC", t.format("%Y-%m-%d %H:%M")))
        .unwrap_or_default();
    format!(
        "Quota: {} of {} used, {} left{next}{}",
        q.used,
        q.total,
        q.remaining,
        if q.used_is_estimate {
            " (estimated: snapshots made elsewhere may not be counted)"
        } else {
            ""
        }
    )
}

async fn login(out: &Out, cfg: &EngineConfig, demo: bool) -> Result<(), Fail> {
    let mut text = String::new();
    if std::io::stdin().is_terminal() {
        text = rpassword::prompt_password("Square Cloud API key (input hidden): ")
            .map_err(|e| Fail(2, e.to_string()))?;
    } else {
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Fail(2, e.to_string()))?;
    }
    let key = ApiKey::new(text).ok_or_else(|| Fail(2, "No key was given.".into()))?;
    let key = if demo {
        ApiKey::new("demo-key").expect("non-empty")
    } else {
        key
    };
    let client = Client::new(&cfg.api_url, key.clone()).map_err(|e| Fail(2, e.to_string()))?;
    let me = client.me().await.map_err(|e| match e.code() {
        Some(c) if c.is_bad_key() => Fail(3, "Square Cloud refused this key. Copy a current key from your account's security page and try again. Nothing was stored.".into()),
        _ => Fail(5, format!("{e}. Nothing was stored.")),
    })?;
    if demo {
        out.emit(
            format!(
                "Demo account {} — the demo key is not stored.",
                me.user.name
            ),
            serde_json::json!({"account": me.user.name, "stored": false}),
        );
        return Ok(());
    }
    KeyringStore::default()
        .set(&key)
        .map_err(|e| Fail(3, e.to_string()))?;
    out.emit(
        format!(
            "Signed in as {} ({}); the key is in the OS keychain.",
            me.user.name, me.user.id
        ),
        serde_json::json!({"account": me.user.name, "id": me.user.id, "stored": true}),
    );
    Ok(())
}

fn state(dir: &std::path::Path) -> Result<StateDir, Fail> {
    StateDir::open(dir).map_err(|e| Fail(7, format!("{}: {e}", dir.display())))
}

fn verify(out: &Out, dir: &std::path::Path, paths: &[PathBuf]) -> Result<(), Fail> {
    let st = state(dir)?;
    let mut failed = 0;
    for p in paths {
        let checked = st.update("library.json", |lib: &mut Library| {
            lib.verify(p, true, chrono::Utc::now())
        });
        match checked.map_err(|e| Fail(7, e.to_string()))? {
            Ok(()) => out.emit(
                format!("ok       {}", p.display()),
                serde_json::json!({"path": p, "ok": true}),
            ),
            Err(e) => {
                failed += 1;
                out.emit(
                    format!("FAILED   {}: {e}", p.display()),
                    serde_json::json!({"path": p, "ok": false, "error": e.to_string()}),
                );
            }
        }
    }
    if failed > 0 {
        Err(Fail(
            6,
            format!("{failed} of {} files failed the check.", paths.len()),
        ))
    } else {
        Ok(())
    }
}

fn prune(
    out: &Out,
    dir: &std::path::Path,
    keep: Option<u32>,
    days: Option<u32>,
) -> Result<(), Fail> {
    if keep.is_none() && days.is_none() {
        return Err(Fail(
            2,
            "Say what to keep: --keep N and/or --days D.".into(),
        ));
    }
    if keep == Some(0) {
        return Err(Fail(
            2,
            "--keep 0 would delete every copy: keep at least 1.".into(),
        ));
    }
    let report = state(dir)?
        .update("library.json", |lib: &mut Library| {
            lib.prune(keep, days, chrono::Utc::now())
        })
        .map_err(|e| Fail(7, e.to_string()))?;
    for p in &report.deleted {
        out.emit(
            format!("deleted  {}", p.display()),
            serde_json::json!({"deleted": p}),
        );
    }
    for p in &report.skipped {
        out.emit(
            format!("kept     {} (changed since it was downloaded)", p.display()),
            serde_json::json!({"skipped": p}),
        );
    }
    out.emit(
        format!("{} deleted, {} kept", report.deleted.len(), report.kept),
        serde_json::json!({"deleted_count": report.deleted.len(), "kept": report.kept}),
    );
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(code, msg)) => {
            if json {
                println!("{}", serde_json::json!({"error": msg, "exit_code": code}));
            } else {
                eprintln!("sqsnap: {msg}");
            }
            ExitCode::from(code)
        }
    }
}
