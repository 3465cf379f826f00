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
    (130, "cancelled (Ctrl-C, or a question answered no)"),
    (
        141,
        "its output was closed (a pipe into head): it stopped quietly, as other tools do",
    ),
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
    /// Read the API key from this file (for servers without a keychain). It must be yours
    /// and readable by you alone (mode 0600 or 0400), not a link; one line.
    #[arg(
        long,
        env = "SQUARECLOUD_API_KEY_FILE",
        global = true,
        value_name = "PATH"
    )]
    key_file: Option<PathBuf>,
    /// Most connections per snapshot of 32 MiB or more, 1 to 8 (default: the app's
    /// setting, else 4). More help only when the host limits each connection.
    #[arg(long, global = true, value_parser = clap::value_parser!(u8).range(1..=8))]
    connections: Option<u8>,
    /// A total download rate shared by every connection: bytes a second, or with K, M or G
    /// (1024-based), e.g. 500K or 2M.
    #[arg(long, global = true, value_parser = parse_rate)]
    limit_rate: Option<u64>,
    #[command(subcommand)]
    command: Command,
}

/// "2M", "500K", "1.5M", "800000": bytes a second (K, M, G are powers of 1024).
fn parse_rate(s: &str) -> Result<u64, String> {
    let t = s.trim().trim_end_matches("/s").trim_end_matches(['B', 'b']);
    let (num, mult) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1024f64),
        Some('M') => (&t[..t.len() - 1], 1024f64 * 1024.0),
        Some('G') => (&t[..t.len() - 1], 1024f64 * 1024.0 * 1024.0),
        _ => (t, 1f64),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a rate: write bytes a second, or e.g. 500K or 2M"))?;
    let bytes = (v * mult).round();
    if !(1.0..=1e15).contains(&bytes) {
        return Err(format!(
            "{s:?} is not a usable rate: at least 1 byte a second"
        ));
    }
    Ok(bytes as u64)
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
    /// A resource's snapshots on Square Cloud, newest first (costs no quota).
    Versions { id: String },
    /// Put a resource back to one of its snapshots. A snapshot of the current state is taken
    /// first (one quota slot) unless --no-snapshot-first. Asks first, unless --yes.
    Restore {
        id: String,
        /// The version id (see `sqsnap versions ID`).
        #[arg(long)]
        version: String,
        #[arg(long)]
        no_snapshot_first: bool,
        /// Where the snapshot taken first is downloaded (default: the resource's folder).
        #[arg(long)]
        dest: Option<PathBuf>,
        /// Do not ask.
        #[arg(long)]
        yes: bool,
    },
    /// Backups that run themselves: list, show, add and remove plans; install a timer.
    Plan {
        #[command(subcommand)]
        cmd: PlanCmd,
    },
    /// Run every plan that is due, once per period, then exit (for cron or a systemd timer).
    RunDue,
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

#[derive(Subcommand)]
enum PlanCmd {
    /// Every plan, its schedule and its last run.
    List,
    /// One plan and its recent runs.
    Show { name: String },
    /// Add a plan. Snapshot plans are checked against the daily quota.
    Add {
        name: String,
        /// Download every server snapshot not on disk yet (costs no quota).
        #[arg(
            long,
            conflicts_with = "snapshot",
            required_unless_present = "snapshot"
        )]
        mirror: bool,
        /// Take a new snapshot and download it (spends quota).
        #[arg(long)]
        snapshot: bool,
        /// Resource ids (default: every application and database).
        ids: Vec<String>,
        /// Every hour (the default for mirrors).
        #[arg(long, group = "when")]
        hourly: bool,
        /// Every N hours.
        #[arg(long, group = "when")]
        every_hours: Option<u32>,
        /// Every day at HH:MM, local time.
        #[arg(long, group = "when")]
        daily: Option<String>,
        /// Every week, DAY@HH:MM (mon, tue, ... sun), local time.
        #[arg(long, group = "when")]
        weekly: Option<String>,
        /// Keep the newest N files per resource (instead of 7 daily, 4 weekly, 6 monthly).
        #[arg(long, group = "keep")]
        keep_last: Option<u32>,
        /// Keep every file (they add up: watch the disk).
        #[arg(long, group = "keep")]
        keep_everything: bool,
        #[arg(long)]
        dest: Option<PathBuf>,
    },
    /// Remove a plan (its files stay).
    Remove { name: String },
    /// How many snapshots a day to keep for taking by hand (1 by default).
    Reserve { n: u32 },
    /// Write a systemd user service and timer that run `sqsnap run-due` every 15 minutes.
    InstallTimer,
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
            say::out_json(&json);
        } else {
            say::out(human.as_ref());
        }
    }

    /// A line for people only (nothing with --json).
    fn human(&self, line: impl AsRef<str>) {
        if !self.json {
            say::out(line.as_ref());
        }
    }
}

/// Every line sqsnap prints goes through here, whoever wrote its parts: names, messages and
/// codes from the server, paths, errors. Human lines are made harmless for a terminal as a
/// whole ([`snapshots::names::printable`]: no escape sequence, bell, line break or
/// bidirectional override, whatever a resource is called), JSON lines have the same
/// characters as `\u` escapes. A standard output whose reader went away (`sqsnap list |
/// head -1`) stops the command quietly, as a closed pipe stops other Unix tools.
mod say {
    use snapshots::names::{is_terminal_unsafe, printable};
    use std::io::Write;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio_util::sync::CancellationToken;

    /// Standard output's reader is gone: nothing more is written there.
    static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
    /// Standard output failed otherwise (a full disk under `> file`): said once on stderr.
    static STDOUT_FAILED: AtomicBool = AtomicBool::new(false);
    /// Cancelled when the reader goes away, so work in progress stops as on Ctrl-C.
    static STOP: OnceLock<CancellationToken> = OnceLock::new();

    pub fn stop_when_output_closes(token: CancellationToken) {
        let _ = STOP.set(token);
    }

    pub fn stdout_closed() -> bool {
        STDOUT_CLOSED.load(Ordering::SeqCst)
    }

    /// One line of human text as it may reach a terminal.
    pub fn safe(line: &str) -> String {
        printable(line)
    }

    /// One JSON line: what serde_json leaves raw that a terminal would act on (DEL, C1, the
    /// bidirectional controls) written as `\u` escapes; it can only be inside a string, so
    /// the line means the same.
    pub fn json(value: &impl serde::Serialize) -> String {
        let text = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            if is_terminal_unsafe(c) {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    /// A human line on standard output.
    pub fn out(line: &str) {
        write_stdout(&safe(line));
    }

    /// A JSON line on standard output.
    pub fn out_json(value: &impl serde::Serialize) {
        write_stdout(&json(value));
    }

    fn write_stdout(line: &str) {
        if STDOUT_CLOSED.load(Ordering::SeqCst) {
            return;
        }
        let mut stdout = std::io::stdout().lock();
        let written = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
        match written {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                STDOUT_CLOSED.store(true, Ordering::SeqCst);
                if let Some(stop) = STOP.get() {
                    stop.cancel();
                }
            }
            Err(e) => {
                if !STDOUT_FAILED.swap(true, Ordering::SeqCst) {
                    err(&format!(
                        "sqsnap: cannot write to standard output ({e}); carrying on without it"
                    ));
                }
            }
        }
    }

    /// A human line on standard error. An error writing it is ignored: the work goes on.
    pub fn err(line: &str) {
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "{}", safe(line));
    }

    /// A question on standard error, the answer typed after it.
    pub fn ask(question: &str) {
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "{}", safe(question)).and_then(|()| stderr.flush());
    }

    /// Ends the process as a closed pipe ends other tools: by SIGPIPE, with no message (the
    /// shell sees 141 and says nothing).
    pub fn end_for_closed_output() -> ! {
        #[cfg(unix)]
        // SAFETY: restoring the default action of SIGPIPE and raising it; nothing else runs
        // after this in this thread, and the default action ends the process.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            libc::raise(libc::SIGPIPE);
        }
        std::process::exit(141)
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

/// The key's name among systemd's credentials: the unit `plan install-timer` writes says
/// `LoadCredential=squarecloud-api-key:PATH`, and the service finds the key in
/// `$CREDENTIALS_DIRECTORY/squarecloud-api-key`.
const CREDENTIAL: &str = "squarecloud-api-key";

/// The key, from the first of: the demo's; `--key-file` (or `SQUARECLOUD_API_KEY_FILE`);
/// `SQUARECLOUD_API_KEY`; systemd's credentials; the keychain.
fn key(cli: &Cli) -> Result<ApiKey, Fail> {
    if cli.demo {
        return Ok(ApiKey::new("demo-key").expect("non-empty"));
    }
    if let Some(path) = &cli.key_file {
        return read_key_file(path, KeySource::File);
    }
    if let Some(k) = std::env::var("SQUARECLOUD_API_KEY")
        .ok()
        .and_then(ApiKey::new)
    {
        return Ok(k);
    }
    if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY").filter(|d| !d.is_empty()) {
        let path = PathBuf::from(dir).join(CREDENTIAL);
        if std::fs::symlink_metadata(&path).is_ok() {
            return read_key_file(&path, KeySource::Systemd);
        }
    }
    match KeyringStore::default().get() {
        Ok(Some(k)) => Ok(k),
        Ok(None) => Err(Fail(
            3,
            "Not signed in. Run `sqsnap login` to keep the key in the keychain; on a server without one, put it in a file only you can read and pass --key-file PATH (or set SQUARECLOUD_API_KEY_FILE).".into(),
        )),
        Err(e) => Err(Fail(3, e.to_string())),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum KeySource {
    /// A file the user named: it must be theirs and private.
    File,
    /// systemd's credentials directory: private to the service, its files made by systemd
    /// (owned by root for a system service that runs as another user).
    Systemd,
}

/// Reads a key file. Refused, with what to do, when it is a link, not a plain file, not
/// the user's own or readable or writable by others: a key others can read is no longer
/// secret, and one others can write decides which account the backups use. One line; the
/// line break at its end is not part of the key. The key is never in a message.
fn read_key_file(path: &std::path::Path, source: KeySource) -> Result<ApiKey, Fail> {
    let shown = path.display();
    let refuse = |why: String| {
        Fail(
            2,
            format!("The API key file {shown} was not used: {why} Nothing was sent."),
        )
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Not through a link; and a FIFO must not hold the open.
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|e| {
        #[cfg(unix)]
        if e.raw_os_error() == Some(libc::ELOOP) {
            return refuse("it is a symbolic link, and sqsnap reads a key only from the file itself (a link can be turned to another file). Give the path of the file the link points to.".into());
        }
        match e.kind() {
            std::io::ErrorKind::NotFound => refuse("there is no such file.".into()),
            std::io::ErrorKind::PermissionDenied => {
                refuse("this user may not read it.".into())
            }
            _ => refuse(format!("it cannot be opened ({e}).")),
        }
    })?;
    let meta = file
        .metadata()
        .map_err(|e| refuse(format!("it cannot be examined ({e}).")))?;
    if !meta.is_file() {
        return Err(refuse("it is not a plain file.".into()));
    }
    #[cfg(unix)]
    if source == KeySource::File {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            return Err(refuse(format!(
                "it belongs to another user (uid {}), who can change or read it. Keep the key in a file of your own: `install -m 600 /dev/null NEW_PATH`, then paste the key into it.",
                meta.uid()
            )));
        }
        let mode = meta.mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(refuse(format!(
                "others can read or change it (mode {mode:04o}). Make it yours alone with `chmod 600 {shown}`; since others could read it, think about replacing the key on Square Cloud (Account → Security)."
            )));
        }
    }
    let _ = source;
    let mut text = String::new();
    std::io::Read::take(file, 4097)
        .read_to_string(&mut text)
        .map_err(|e| refuse(format!("it cannot be read as text ({e}).")))?;
    if text.len() > 4096 {
        return Err(refuse("it is far too long to be an API key.".into()));
    }
    let line = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    if line.contains(['\n', '\r']) {
        return Err(refuse(
            "it holds more than one line; it must hold the key alone.".into(),
        ));
    }
    ApiKey::new(line).ok_or_else(|| refuse("it is empty.".into()))
}

/// What a create whose answer was lost means, and until when its list is watched.
fn watching_text(until: &chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "Square Cloud may have made this snapshot (its answer was lost on the way); watching its list until {} (no second snapshot is requested; Ctrl+C stops waiting)",
        until.with_timezone(&chrono::Local).format("%H:%M")
    )
}

fn human_bytes(n: u64) -> String {
    snapshots::download::size_in(n, &["B", "KB", "MB", "GB", "TB"])
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
            say::out_json(&e);
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
                        b.set_message(say::safe(&name(resource)));
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
            Event::PausedForQuota { until, .. } => match until {
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
                    b.set_message(say::safe(&name(resource)));
                    b.enable_steady_tick(std::time::Duration::from_millis(200));
                    b
                });
                if let Event::Processing {
                    answer_lost: true,
                    until,
                    ..
                } = &e
                {
                    let _ = multi.println(say::safe(&format!(
                        "{}: {}",
                        name(resource),
                        watching_text(until)
                    )));
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
                until,
            } => {
                let secs = (chrono::Utc::now() - *since).num_seconds();
                if *answer_lost {
                    // A warning, where a script's output is not: on stderr.
                    say::err(&format!("{}: {}", name(resource), watching_text(until)));
                    return;
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
            Event::Postponed { reason, .. } => format!("later: {}", printable(reason)),
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
            let _ = multi.println(say::safe(&line));
        } else {
            say::out(&line);
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
    let mut engine = Engine::connect(cfg, key(&cli)?).await?;
    if cli.connections.is_some() || cli.limit_rate.is_some() {
        engine = engine.with_transfer(cli.connections.map(usize::from), cli.limit_rate);
    }
    for r in engine.recovered() {
        say::err(&format!("note: {r}"));
    }
    let names: HashMap<String, String> = engine
        .resources()
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect();
    let cancel = CancellationToken::new();
    say::stop_when_output_closes(cancel.clone());
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
                say::err(&format!(
                    "sqsnap: could not read the lists, so this is this computer's estimate: {}",
                    quota_line(&q)
                ));
                return Err(e.into());
            }
        },
        Command::List => {
            let me = engine.me();
            if let Err(e) = engine.refresh_newest(std::time::Duration::ZERO).await {
                say::err(&format!(
                    "sqsnap: could not read every snapshot list, so some show \"unknown\": {e}"
                ));
            }
            let known = engine.newest_known();
            for r in engine.resources() {
                let newest = known.get(&r.id).copied();
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
                    format!("{kind:8} {}  {:28} {:10} {:>5} MB  newest: {}", printable(&r.id), printable(&r.name), printable(&detail), ram, match newest { Some(Some(t)) => t.format("%Y-%m-%d %H:%M UTC").to_string(), Some(None) => "none".into(), None => "unknown".into() }),
                    serde_json::json!({"kind": kind, "id": r.id, "name": r.name, "runtime": detail, "ram": ram, "newest_snapshot": newest.flatten()}),
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
        Command::Versions { id } => {
            let r = engine.resource(id)?;
            for i in engine.versions(&r).await? {
                out.emit(
                    format!(
                        "{}  {:>10}  {:9}  {}",
                        i.modified.format("%Y-%m-%d %H:%M UTC"),
                        human_bytes(i.size),
                        printable(i.origin.as_deref().unwrap_or("")),
                        printable(&i.version().unwrap_or_default())
                    ),
                    serde_json::json!({"version": i.version(), "modified": i.modified, "size": i.size, "origin": i.origin}),
                );
            }
        }
        Command::Restore {
            id,
            version,
            no_snapshot_first,
            dest,
            yes,
        } => {
            let r = engine.resource(id)?;
            let item = engine
                .versions(&r)
                .await?
                .into_iter()
                .find(|i| i.version().as_deref() == Some(version.as_str()))
                .ok_or_else(|| {
                    Fail(
                        8,
                        format!(
                            "{} has no snapshot with version {}.",
                            printable(&r.name),
                            printable(version)
                        ),
                    )
                })?;
            if !*yes {
                confirm(&format!(
                    "Restore {} to its snapshot of {} ({})? Its current files are replaced.{} [y/N] ",
                    printable(&r.name),
                    item.modified.format("%Y-%m-%d %H:%M UTC"),
                    human_bytes(item.size),
                    if *no_snapshot_first {
                        " No snapshot of the current state is taken first."
                    } else {
                        " A snapshot of the current state is taken first (one of today's quota)."
                    }
                ))?;
            }
            let opts = snapshots::restore::RestoreOptions {
                snapshot_first: !*no_snapshot_first,
                download_first_to: dest.clone(),
            };
            let done = engine
                .restore(&r, version, opts, sink(cli.json, names), &cancel)
                .await?;
            out.emit(
                format!(
                    "{} was restored to its snapshot of {}.{}",
                    printable(&r.name),
                    done.version_taken_at.format("%Y-%m-%d %H:%M UTC"),
                    done.safety
                        .as_ref()
                        .and_then(|s| s.download.as_ref())
                        .map(|d| format!(" The state before is saved in {}.", d.path.display()))
                        .unwrap_or_default()
                ),
                serde_json::json!({"restored": r.id, "version": done.version, "snapshot_first": done.safety.is_some()}),
            );
        }
        Command::Plan { cmd } => plan_command(&out, &engine, cmd, cli.key_file.as_deref())?,
        Command::RunDue => {
            // Mirrors of large snapshots wait while NetworkManager says "metered".
            engine.set_metered_check(std::sync::Arc::new(snapshots::metered::is_metered));
            let runs = engine
                .run_due(chrono::Utc::now(), sink(cli.json, names), &cancel)
                .await?;
            let mut failed = false;
            for r in &runs {
                failed |= !r.ok;
                out.emit(
                    format!(
                        "{}: {} ({} new files, {}{}{})",
                        printable(&r.plan),
                        if r.ok { "done" } else { "FAILED" },
                        r.files,
                        human_bytes(r.bytes),
                        if r.pruned > 0 {
                            format!(", {} old files deleted", r.pruned)
                        } else {
                            String::new()
                        },
                        if r.failures.is_empty() {
                            String::new()
                        } else {
                            format!("; {}", r.failures.join("; "))
                        }
                    ),
                    serde_json::to_value(r).unwrap_or_default(),
                );
            }
            if runs.is_empty() {
                out.emit("Nothing is due.", serde_json::json!({"due": 0}));
            }
            if failed {
                return Err(Fail(5, "Some plans did not complete (see above).".into()));
            }
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

fn schedule_of(
    hourly: bool,
    every_hours: Option<u32>,
    daily: &Option<String>,
    weekly: &Option<String>,
) -> Result<snapshots::plans::Schedule, Fail> {
    use snapshots::plans::Schedule;
    let time = |s: &str| {
        chrono::NaiveTime::parse_from_str(s, "%H:%M")
            .map_err(|_| Fail(2, format!("{s}: a time is HH:MM, for example 03:30.")))
    };
    if let Some(d) = daily {
        return Ok(Schedule::Day { at: time(d)? });
    }
    if let Some(w) = weekly {
        let (day, at) = w
            .split_once('@')
            .ok_or_else(|| Fail(2, "--weekly is DAY@HH:MM, for example sun@04:00.".into()))?;
        let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let weekday = days
            .iter()
            .position(|d| day.to_ascii_lowercase().starts_with(d))
            .ok_or_else(|| {
                Fail(
                    2,
                    format!("{day}: a day is mon, tue, wed, thu, fri, sat or sun."),
                )
            })?;
        return Ok(Schedule::Week {
            weekday: weekday as u32,
            at: time(at)?,
        });
    }
    match every_hours {
        Some(0) => Err(Fail(2, "--every-hours needs at least 1.".into())),
        Some(h) => Ok(Schedule::Hours { hours: h }),
        None => {
            let _ = hourly;
            Ok(Schedule::Hour)
        }
    }
}

fn describe(p: &snapshots::plans::Plan) -> String {
    use snapshots::plans::{PlanKind, Retention, Schedule, Scope};
    let kind = match p.kind {
        PlanKind::Mirror => "mirror",
        PlanKind::Snapshot => "snapshot",
    };
    let when = match &p.schedule {
        Schedule::Hour => "every hour".to_string(),
        Schedule::Hours { hours } => format!("every {hours} hours"),
        Schedule::Day { at } => format!("daily at {}", at.format("%H:%M")),
        Schedule::Week { weekday, at } => format!(
            "weekly on {} at {}",
            [
                "Monday",
                "Tuesday",
                "Wednesday",
                "Thursday",
                "Friday",
                "Saturday",
                "Sunday"
            ][(*weekday % 7) as usize],
            at.format("%H:%M")
        ),
    };
    let scope = match &p.scope {
        Scope::All => "every resource".to_string(),
        Scope::Resources { ids } => format!("{} resources", ids.len()),
    };
    let keep = match &p.retention {
        Retention::Calendar {
            daily,
            weekly,
            monthly,
        } => {
            format!("keep {daily} daily, {weekly} weekly, {monthly} monthly")
        }
        Retention::Last { n } => format!("keep the last {n}"),
        Retention::Everything => "keep everything".into(),
    };
    format!("{:16} {kind:8} {when}, {scope}, {keep}", printable(&p.id))
}

fn plan_command(
    out: &Out,
    engine: &Engine,
    cmd: &PlanCmd,
    key_file: Option<&std::path::Path>,
) -> Result<(), Fail> {
    use snapshots::plans::{Plan, PlanKind, Retention, Scope};
    match cmd {
        PlanCmd::List => {
            let plans = engine.plans();
            for p in &plans.plans {
                let last = plans
                    .state
                    .get(&p.id)
                    .and_then(|s| s.history.back())
                    .map(|r| {
                        format!(
                            "last run {} ({})",
                            r.started.format("%Y-%m-%d %H:%M UTC"),
                            if r.ok { "ok" } else { "failed" }
                        )
                    })
                    .unwrap_or_else(|| "not run yet".into());
                out.emit(
                    format!("{}; {last}", describe(p)),
                    serde_json::to_value(p).unwrap_or_default(),
                );
            }
            // Stored plans that cannot run: said, with why, so they can be removed.
            for bad in &plans.invalid {
                let name = if bad.id.is_empty() {
                    "(no name)"
                } else {
                    &bad.id
                };
                out.emit(
                    format!("{}: cannot run, skipped: {}", printable(name), bad.why),
                    serde_json::json!({"id": bad.id, "invalid": true, "why": bad.why}),
                );
            }
            let need = plans.creates_per_day(engine.resources().len());
            let quota = engine.me().user.plan.daily_snapshot_quota();
            out.emit(
                format!("Plans need {need} of the {quota} snapshots a day; {} kept for snapshots by hand.", plans.reserve),
                serde_json::json!({"creates_per_day": need, "quota": quota, "reserve": plans.reserve}),
            );
        }
        PlanCmd::Show { name } => {
            let plans = engine.plans();
            let p = plans
                .plans
                .iter()
                .find(|p| &p.id == name)
                .ok_or_else(|| Fail(8, format!("No plan named {}.", printable(name))))?;
            out.emit(describe(p), serde_json::to_value(p).unwrap_or_default());
            let preview = engine.retention_preview(p);
            out.emit(
                format!("  next prune deletes {} files", preview.len()),
                serde_json::json!({"prune_preview": preview.iter().map(|(p, _)| p).collect::<Vec<_>>()}),
            );
            for (path, size) in &preview {
                out.emit(
                    format!("    {} ({})", path.display(), human_bytes(*size)),
                    serde_json::Value::Null,
                );
            }
            for r in plans
                .state
                .get(name)
                .map(|s| s.history.iter().rev().take(20).collect::<Vec<_>>())
                .unwrap_or_default()
            {
                out.emit(
                    format!(
                        "  {}  {}  {} files, {}",
                        r.started.format("%Y-%m-%d %H:%M UTC"),
                        if r.ok { "ok    " } else { "FAILED" },
                        r.files,
                        human_bytes(r.bytes)
                    ),
                    serde_json::to_value(r).unwrap_or_default(),
                );
            }
        }
        PlanCmd::Add {
            name,
            mirror: _,
            snapshot,
            ids,
            hourly,
            every_hours,
            daily,
            weekly,
            keep_last,
            keep_everything,
            dest,
        } => {
            for id in ids {
                engine.resource(id)?;
            }
            let retention = match (keep_last, keep_everything) {
                (Some(n), _) => Retention::Last { n: *n },
                (None, true) => {
                    say::err(
                        "note: keeping everything: files add up, watch the free space of the folder.",
                    );
                    Retention::Everything
                }
                _ => Retention::default(),
            };
            let plan = Plan {
                id: name.clone(),
                kind: if *snapshot {
                    PlanKind::Snapshot
                } else {
                    PlanKind::Mirror
                },
                scope: if ids.is_empty() {
                    Scope::All
                } else {
                    Scope::Resources { ids: ids.clone() }
                },
                schedule: schedule_of(*hourly, *every_hours, daily, weekly)?,
                retention,
                dest: dest.clone(),
            };
            engine.add_plan(plan.clone())?.map_err(|e| {
                Fail(
                    if matches!(e, snapshots::plans::PlanError::OverQuota { .. }) {
                        4
                    } else {
                        2
                    },
                    e.to_string(),
                )
            })?;
            out.emit(
                format!("Added: {}", describe(&plan)),
                serde_json::to_value(&plan).unwrap_or_default(),
            );
        }
        PlanCmd::Remove { name } => {
            engine
                .update_plans(|p| p.remove(name))?
                .map_err(|e| Fail(8, e.to_string()))?;
            out.emit(
                format!("Removed {}; its files stay.", printable(name)),
                serde_json::json!({"removed": name}),
            );
        }
        PlanCmd::Reserve { n } => {
            let (count, quota) = (
                engine.resources().len(),
                engine.me().user.plan.daily_snapshot_quota(),
            );
            engine
                .update_plans(|p| p.set_reserve(*n, count, quota))?
                .map_err(|e| Fail(4, e.to_string()))?;
            out.emit(
                format!("{n} snapshots a day are kept for taking by hand."),
                serde_json::json!({"reserve": n}),
            );
        }
        PlanCmd::InstallTimer => install_timer(out, key_file)?,
    }
    Ok(())
}

/// Writes `sqsnap-run-due.service` and `.timer` for the user's systemd. With a key file
/// (`--key-file`), the service gets the key through `LoadCredential=`: never in the unit,
/// the environment or a process's arguments.
fn install_timer(out: &Out, key_file: Option<&std::path::Path>) -> Result<(), Fail> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .ok_or_else(|| Fail(7, "Neither XDG_CONFIG_HOME nor HOME is set.".into()))?;
    let dir = config.join("systemd/user");
    let exe = std::env::current_exe().map_err(|e| Fail(7, e.to_string()))?;
    let unit_text = |what: &str, path: &std::path::Path| {
        path.to_str().map(str::to_owned).ok_or_else(|| {
            Fail(
                2,
                format!(
                    "{what} {} is not valid UTF-8, which a systemd unit cannot name. Nothing was written.",
                    path.display()
                ),
            )
        })
    };
    let mut service = String::from(
        "[Unit]\nDescription=Square Snapshots: run the plans that are due\nWants=network-online.target\nAfter=network-online.target\n\n[Service]\nType=oneshot\n",
    );
    if let Some(d) = std::env::var_os("SQSNAP_DATA_DIR").filter(|d| !d.is_empty()) {
        let d = std::path::absolute(PathBuf::from(d)).map_err(|e| Fail(7, e.to_string()))?;
        let d = unit_text("The data folder", &d)?;
        service.push_str(&format!(
            "Environment={}\n",
            systemd_quote(&format!("SQSNAP_DATA_DIR={d}"))
        ));
    }
    let credential = match key_file {
        Some(path) => {
            // The same checks as when it is used, now rather than at 3 in the morning.
            read_key_file(path, KeySource::File)?;
            let path = std::fs::canonicalize(path)
                .map_err(|e| Fail(7, format!("{}: {e}", path.display())))?;
            let text = unit_text("The key file", &path)?;
            if text.chars().any(char::is_control) || text.ends_with([' ', '\\']) {
                return Err(Fail(
                    2,
                    format!(
                        "The key file's path {} has a line break, a control character or a trailing space or backslash, which systemd's LoadCredential= cannot hold. Move the file to a plain path and run this again. Nothing was written.",
                        path.display()
                    ),
                ));
            }
            service.push_str(&format!(
                "LoadCredential={CREDENTIAL}:{}\n",
                text.replace('%', "%%")
            ));
            Some(path)
        }
        None => None,
    };
    let exe_text = unit_text("This program's path", &exe)?;
    // systemd refuses to start a program whose path has these, however it is written.
    if exe_text
        .chars()
        .any(|c| c.is_control() || matches!(c, '"' | '\'' | '\\'))
    {
        return Err(Fail(
            2,
            format!(
                "This program's path {} has a quote, a backslash or a control character (a line break), which systemd does not accept in the program a service starts. Move sqsnap to a plain folder (for example /usr/local/bin) and run this again. Nothing was written.",
                exe.display()
            ),
        ));
    }
    // `:`: no variable is expanded in this command line, so a `$` in the path stays one.
    service.push_str(&format!(
        "ExecStart=:{} run-due\n",
        systemd_quote(&exe_text)
    ));
    let timer = "[Unit]\nDescription=Square Snapshots: check the plans every 15 minutes\n\n[Timer]\nOnBootSec=3min\nOnCalendar=*:0/15\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n";
    std::fs::create_dir_all(&dir).map_err(|e| Fail(7, format!("{}: {e}", dir.display())))?;
    for (name, text) in [
        ("sqsnap-run-due.service", service.as_str()),
        ("sqsnap-run-due.timer", timer),
    ] {
        snapshots::store::write_text_atomic(&dir.join(name), text)
            .map_err(|e| Fail(7, format!("{}: {e}", dir.join(name).display())))?;
    }
    out.emit(
        format!(
            "Wrote {}/sqsnap-run-due.service and .timer. To start it:",
            dir.display()
        ),
        serde_json::json!({"dir": dir, "key_file": credential}),
    );
    out.human(
        "  systemctl --user daemon-reload && systemctl --user enable --now sqsnap-run-due.timer",
    );
    out.human(
        "On a server, let it run while you are logged out: loginctl enable-linger \"$USER\".",
    );
    match &credential {
        Some(path) => out.human(format!(
            "The service reads the key from {} through systemd's LoadCredential= (systemd 250 or newer): keep that file yours alone (mode 0600).",
            path.display()
        )),
        None => out.human(
            "The service takes the key from the keychain. Where none runs (a server), put the key in a file only you can read and run `sqsnap --key-file PATH plan install-timer` again: systemd then hands it to the service with LoadCredential=, so it is never in the unit, the environment or the process list.",
        ),
    }
    Ok(())
}

/// One word of a systemd unit line, quoted as systemd reads `Environment=` and `ExecStart=`
/// (systemd.syntax(7), "Quoting"; systemd.service(5), "Command lines"): in double quotes,
/// `\\` and `"` escaped, control characters (a line break) as C escapes, `%` doubled (a
/// specifier otherwise). `$` means nothing in `Environment=`, nor in a command line that
/// starts with `:`.
fn systemd_quote(word: &str) -> String {
    let mut q = String::from("\"");
    for c in word.chars() {
        match c {
            '\\' => q.push_str("\\\\"),
            '"' => q.push_str("\\\""),
            '%' => q.push_str("%%"),
            '\n' => q.push_str("\\n"),
            '\t' => q.push_str("\\t"),
            c if c.is_control() => {
                let n = c as u32;
                if n < 0x80 {
                    q.push_str(&format!("\\x{n:02x}"));
                } else {
                    q.push_str(&format!("\\u{n:04x}"));
                }
            }
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// Asks on a terminal; elsewhere, says to pass --yes.
fn confirm(question: &str) -> Result<(), Fail> {
    if !std::io::stdin().is_terminal() {
        return Err(Fail(
            2,
            "Not restoring without a confirmation: pass --yes (nothing was changed).".into(),
        ));
    }
    say::ask(question);
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Fail(2, e.to_string()))?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "s" | "sim") {
        Ok(())
    } else {
        Err(Fail(130, "Not restored: nothing was changed.".into()))
    }
}

fn state(dir: &std::path::Path) -> Result<StateDir, Fail> {
    StateDir::open(dir).map_err(|e| Fail(7, format!("{}: {e}", dir.display())))
}

fn verify(out: &Out, dir: &std::path::Path, paths: &[PathBuf]) -> Result<(), Fail> {
    let st = state(dir)?;
    let mut failed = 0;
    for p in paths {
        // The state lock is held to read the entry and to record the result, never during
        // the check itself: a CRC pass over a large archive would hold every other process.
        let expected = st
            .read::<Library>("library.json")
            .map_err(|e| Fail(7, e.to_string()))?
            .entries
            .iter()
            .find(|e| e.path == *p)
            .map(|e| e.size);
        let checked = snapshots::verify::verify_zip(p, expected, true).map(|_| ());
        if checked.is_ok() {
            st.update("library.json", |lib: &mut Library| {
                lib.mark_verified(p, chrono::Utc::now())
            })
            .map_err(|e| Fail(7, e.to_string()))?;
        }
        match checked {
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
    let result = run(cli).await;
    if say::stdout_closed() {
        // Whoever read the output has what they wanted; what was cut short stopped as on
        // Ctrl-C (a download keeps its `.part` for the same command to resume).
        say::end_for_closed_output();
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(code, msg)) => {
            if json {
                say::out_json(&serde_json::json!({"error": msg, "exit_code": code}));
            } else {
                say::err(&format!("sqsnap: {msg}"));
            }
            ExitCode::from(code)
        }
    }
}
