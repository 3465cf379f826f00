//! The command line sqsnap understands: flags, subcommands and their help.

use crate::exit::exit_codes_help;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "sqsnap",
    version,
    about = "Keep Square Cloud snapshots safe on your own disk",
    after_help = exit_codes_help()
)]
pub struct Cli {
    /// API base URL (default: Square Cloud's).
    #[arg(long, env = "SQUARECLOUD_API_URL", global = true)]
    pub api_url: Option<String>,
    /// One JSON object per line on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Run against the built-in simulator with a demo account (no account needed).
    #[arg(long, global = true)]
    pub demo: bool,
    /// Which account this computer knows to work on: its id, its name here or its Square
    /// Cloud name (default: the one `sqsnap account use` chose). See `sqsnap account list`.
    #[arg(long, global = true, value_name = "NAME")]
    pub account: Option<String>,
    /// Read the API key from this file (for servers without a keychain). It must be yours
    /// and readable by you alone (mode 0600 or 0400), not a link; one line.
    #[arg(
        long,
        env = "SQUARECLOUD_API_KEY_FILE",
        global = true,
        value_name = "PATH"
    )]
    pub key_file: Option<PathBuf>,
    /// Most connections per snapshot of 32 MiB or more, 1 to 8 (default: the app's
    /// setting, else 4). More help only when the host limits each connection.
    #[arg(long, global = true, value_parser = clap::value_parser!(u8).range(1..=8))]
    pub connections: Option<u8>,
    /// A total download rate shared by every connection: bytes a second, or with K, M or G
    /// (1024-based), e.g. 500K or 2M.
    #[arg(long, global = true, value_parser = parse_rate)]
    pub limit_rate: Option<u64>,
    #[command(subcommand)]
    pub command: Command,
}

/// "2M", "500K", "1.5M", "800000": bytes a second (K, M, G are powers of 1024).
pub fn parse_rate(s: &str) -> Result<u64, String> {
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
pub enum Command {
    /// Check an API key and keep it in the OS keychain (reads it from stdin when piped); its
    /// account becomes the default (`account add --use`).
    Login,
    /// Remove the default account's key (or --account's) from the keychain; its copies and
    /// state stay.
    Logout,
    /// The accounts this computer knows: add one, list them, rename, choose the default,
    /// remove one.
    Account {
        #[command(subcommand)]
        cmd: AccountCmd,
    },
    /// The account and plan the key belongs to.
    Whoami,
    /// Applications, databases and the quota.
    List {
        /// Every account's resources, grouped by account (each with its own key).
        #[arg(long)]
        all_accounts: bool,
    },
    /// The daily snapshot quota.
    Quota,
    /// Take snapshots (spends quota), optionally downloading them.
    Snapshot(SnapshotArgs),
    /// Download an existing snapshot (the newest by default). Costs no quota.
    Download(DownloadArgs),
    /// A resource's snapshots on Square Cloud, newest first (costs no quota).
    Versions { id: String },
    /// Put a resource back to one of its snapshots. A snapshot of the current state is taken
    /// first (one quota slot) unless --no-snapshot-first. Asks first, unless --yes.
    Restore(RestoreArgs),
    /// Upload a copy we hold (a zip, at most 100 MB) into an application through Square
    /// Cloud's commit: its files are added and replace the same paths; files not in the zip
    /// are not deleted. Works after Square Cloud's own snapshot is gone. A snapshot of the
    /// current state is taken first (one quota slot) unless --no-snapshot-first. Asks
    /// first, unless --yes. Databases cannot take a commit: use restore.
    PutBack(PutBackArgs),
    /// Make a new application from a copy (Square Cloud's upload), for when the application
    /// it came from is gone. The zip's root must hold its squarecloud.app.
    NewApp {
        /// The zip (a downloaded snapshot of an application, or an encrypted copy
        /// `….zip.age`).
        file: PathBuf,
        /// Do not ask before uploading.
        #[arg(long)]
        yes: bool,
    },
    /// Backups that run themselves: list, show, add and remove plans; install a timer.
    Plan {
        #[command(subcommand)]
        cmd: PlanCmd,
    },
    /// Run every plan that is due, once per period, then exit (for cron or a systemd timer).
    /// Every account's plans, each with its own key (--account: one account's).
    RunDue,
    /// Check downloaded archives (length, central directory and every CRC).
    Verify {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// The account's encryption key for encrypted copies (.zip.age): show its public half,
    /// export or import the passphrase-protected recovery key.
    Key {
        #[command(subcommand)]
        cmd: KeyCmd,
    },
    /// The folders copies go to (the default, each resource's own): list them and which
    /// keep copies encrypted, set one, turn encryption on or off for one.
    Folder {
        #[command(subcommand)]
        cmd: FolderCmd,
    },
    /// Decrypt an encrypted copy (X.zip.age) to a plain zip with this account's key.
    Decrypt {
        file: PathBuf,
        /// Where the plain zip goes (default: the same name without .age). Never replaced.
        #[arg(short, long, value_name = "OUT")]
        out: Option<PathBuf>,
    },
    /// Offsite copies in S3-compatible buckets (AWS S3, R2, B2, MinIO, Wasabi): add, list,
    /// test, remove a destination; sync uploads every copy a destination lacks.
    Offsite {
        #[command(subcommand)]
        cmd: OffsiteCmd,
    },
    /// Delete old downloads this app made: keep the newest N per resource and/or D days.
    /// With --offsite NAME, the copies in that destination's bucket instead, judged on the
    /// bucket alone.
    Prune {
        #[arg(long)]
        keep: Option<u32>,
        #[arg(long)]
        days: Option<u32>,
        /// Prune the copies in this offsite destination (not the local files).
        #[arg(long, value_name = "NAME")]
        offsite: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum AccountCmd {
    /// Add an account: its API key from a hidden prompt (stdin when piped), --key-file or
    /// SQUARECLOUD_API_KEY, never the command line; checked with Square Cloud and kept in
    /// the OS keychain under this account's own item. The first account becomes the
    /// default; later ones with --use.
    Add {
        /// Make it the default account.
        #[arg(long = "use")]
        make_default: bool,
    },
    /// Every account this computer knows: its name here, Square Cloud's name, its id,
    /// which is the default, and whether its key is in the keychain.
    List,
    /// Call an account something else on this computer (--reset: Square Cloud's name).
    Rename {
        /// The account: its id, name here or Square Cloud name.
        name: String,
        /// The new name (1 to 64 printable characters).
        #[arg(required_unless_present = "reset", conflicts_with = "reset")]
        new: Option<String>,
        #[arg(long)]
        reset: bool,
    },
    /// Make an account the default from now on (the window's, and every command's without
    /// --account).
    Use { name: String },
    /// Forget an account on this computer: its key leaves the keychain. Its copies stay
    /// (asked on a terminal); --delete-copies deletes the files its library lists (only
    /// files this app made and that are unchanged) after a confirmation, and with them its
    /// folder of state.
    Remove {
        name: String,
        #[arg(long)]
        delete_copies: bool,
        /// Do not ask (needed off a terminal to delete copies).
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Args)]
pub struct FolderArgs {
    /// The folder to use (it must exist and be writable).
    pub path: PathBuf,
    /// Set this resource's own folder instead of the default.
    #[arg(long, value_name = "ID")]
    pub resource: Option<String>,
    /// Use the folder even if another account here keeps its backups there.
    #[arg(long)]
    pub yes: bool,
}

#[derive(Subcommand)]
pub enum KeyCmd {
    /// The public key copies are encrypted to (made and kept in the keychain on first use).
    Show,
    /// Write the recovery key: the encryption key protected by a passphrase (12 characters
    /// or more), readable by the stock `age -d`. Keep it away from this computer.
    ExportRecovery(RecoveryArgs),
    /// Put a recovery key's encryption key into this computer's keychain.
    ImportRecovery(RecoveryArgs),
}

#[derive(Subcommand)]
pub enum FolderCmd {
    /// Each folder, whether it keeps copies encrypted, and how many of each are in it.
    List,
    /// Where this account's backups go: the default folder, or one resource's with
    /// --resource. A folder another account here keeps its backups in is refused unless
    /// --yes.
    Set(FolderArgs),
    /// Keep the copies made in DIR from now on encrypted (--on: `….zip.age`, sealed with
    /// age to this account's key) or plain (--off). Copies already there stay as they are.
    /// Without a recovery key written, --on asks first on a terminal (--yes elsewhere).
    Encrypt(FolderEncryptArgs),
}

#[derive(Args)]
pub struct FolderEncryptArgs {
    pub dir: PathBuf,
    #[arg(long, conflicts_with = "off", required_unless_present = "off")]
    pub on: bool,
    #[arg(long)]
    pub off: bool,
    /// Do not ask: the warning about losing the key (no recovery key written) is printed
    /// on standard error, and encryption is turned on.
    #[arg(long)]
    pub yes: bool,
}

#[derive(Args)]
pub struct RecoveryArgs {
    pub file: PathBuf,
    /// Read the passphrase from this file (yours alone, mode 0600; one line) instead of
    /// asking for it. Never give it on the command line.
    #[arg(long, value_name = "PATH")]
    pub passphrase_file: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum PlanCmd {
    /// Every plan, its schedule and its last run.
    List,
    /// One plan and its recent runs.
    Show { name: String },
    /// Add a plan. Snapshot plans are checked against the daily quota.
    Add(PlanAddArgs),
    /// Change where a plan keeps its copies: on this computer (--no-offsite), in an offsite
    /// destination too (--offsite NAME), or there only (--offsite-only). Its runs so far
    /// stay; to change anything else, remove the plan and add it again.
    Edit(PlanEditArgs),
    /// Remove a plan (its files stay).
    Remove { name: String },
    /// How many snapshots a day to keep for taking by hand (1 by default).
    Reserve { n: u32 },
    /// Write a systemd user service and timer that run `sqsnap run-due` every 15 minutes.
    InstallTimer,
}

#[derive(Args)]
pub struct SnapshotArgs {
    /// Resource ids.
    pub ids: Vec<String>,
    /// Every application and database.
    #[arg(long, conflicts_with = "ids")]
    pub all: bool,
    #[arg(long)]
    pub download: bool,
    #[arg(long)]
    pub dest: Option<PathBuf>,
    /// When the quota runs out, wait for it instead of stopping.
    #[arg(long)]
    pub wait: bool,
}

#[derive(Args)]
pub struct DownloadArgs {
    pub id: String,
    #[arg(long)]
    pub version: Option<String>,
    #[arg(long)]
    pub dest: Option<PathBuf>,
}

#[derive(Args)]
pub struct RestoreArgs {
    pub id: String,
    /// The version id (see `sqsnap versions ID`).
    #[arg(long)]
    pub version: String,
    #[arg(long)]
    pub no_snapshot_first: bool,
    /// Where the snapshot taken first is downloaded (default: the resource's folder).
    #[arg(long)]
    pub dest: Option<PathBuf>,
    /// Do not ask.
    #[arg(long)]
    pub yes: bool,
}

#[derive(Args)]
pub struct PutBackArgs {
    /// The application's id.
    pub id: String,
    /// The zip to put back (a downloaded snapshot, an encrypted copy `….zip.age`, or any
    /// zip of the application's files).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "from_offsite",
        conflicts_with = "from_offsite"
    )]
    pub from: Option<PathBuf>,
    /// Put back the copy kept in this offsite destination (`sqsnap offsite add`), of the
    /// snapshot `--version` names: fetched into this account's folder, then as `--from`.
    #[arg(long, value_name = "NAME", requires = "version")]
    pub from_offsite: Option<String>,
    /// With `--from-offsite`: which snapshot (the version id, see `sqsnap versions ID`).
    #[arg(long, value_name = "V", requires = "from_offsite")]
    pub version: Option<String>,
    #[arg(long)]
    pub no_snapshot_first: bool,
    /// Restart the application once the files are in.
    #[arg(long)]
    pub restart: bool,
    /// Where the snapshot taken first is downloaded (default: the resource's folder).
    #[arg(long)]
    pub dest: Option<PathBuf>,
    /// Do not ask.
    #[arg(long)]
    pub yes: bool,
}

#[derive(Args)]
pub struct PlanAddArgs {
    pub name: String,
    /// Also copy each verified download to this offsite destination (`sqsnap offsite add`):
    /// copies here and there.
    #[arg(long, value_name = "NAME")]
    pub offsite: Option<String>,
    /// With --offsite: keep the copies there only. Each download waits in this account's
    /// own folder until its upload is checked, then it is removed from this computer.
    #[arg(long, requires = "offsite", conflicts_with = "dest")]
    pub offsite_only: bool,
    /// Download every server snapshot not on disk yet (costs no quota).
    #[arg(
        long,
        conflicts_with = "snapshot",
        required_unless_present = "snapshot"
    )]
    pub mirror: bool,
    /// Take a new snapshot and download it (spends quota).
    #[arg(long)]
    pub snapshot: bool,
    /// Resource ids (default: every application and database).
    pub ids: Vec<String>,
    /// Every hour (the default for mirrors).
    #[arg(long, group = "when")]
    pub hourly: bool,
    /// Every N hours.
    #[arg(long, group = "when")]
    pub every_hours: Option<u32>,
    /// Every day at HH:MM, local time.
    #[arg(long, group = "when")]
    pub daily: Option<String>,
    /// Every week, DAY@HH:MM (mon, tue, ... sun), local time.
    #[arg(long, group = "when")]
    pub weekly: Option<String>,
    /// Keep the newest N files per resource (instead of 7 daily, 4 weekly, 6 monthly).
    #[arg(long, group = "keep")]
    pub keep_last: Option<u32>,
    /// Keep every file (they add up: watch the disk).
    #[arg(long, group = "keep")]
    pub keep_everything: bool,
    #[arg(long)]
    pub dest: Option<PathBuf>,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("copies").required(true).multiple(true).args(["offsite", "offsite_only", "no_offsite"])))]
pub struct PlanEditArgs {
    pub name: String,
    /// Keep copies here and in this offsite destination (with --offsite-only: there only).
    #[arg(long, value_name = "NAME", conflicts_with = "no_offsite")]
    pub offsite: Option<String>,
    /// Keep the copies in the offsite destination only (the plan's, or --offsite's).
    #[arg(long, conflicts_with = "no_offsite")]
    pub offsite_only: bool,
    /// Keep the copies on this computer only.
    #[arg(long)]
    pub no_offsite: bool,
}

#[derive(Subcommand)]
pub enum OffsiteCmd {
    /// Add (or replace) a destination. The secret key is read from a hidden prompt, stdin,
    /// or --secret-key-file, never from the command line, and kept in the OS keychain.
    Add(OffsiteAddArgs),
    /// Every destination: endpoint, bucket, prefix, encrypted or not.
    List,
    /// Forget a destination and its key (its copies stay in the bucket).
    Remove { name: String },
    /// Put, read back and delete a small probe object, step by step.
    Test { name: String },
    /// Upload every library copy the destination (or each one) does not hold yet.
    Sync { name: Option<String> },
}

#[derive(Args)]
pub struct OffsiteAddArgs {
    pub name: String,
    /// https://… (plain http:// only on this computer).
    #[arg(long)]
    pub endpoint: String,
    #[arg(long)]
    pub bucket: String,
    #[arg(long)]
    pub access_key_id: String,
    /// Keys go under this prefix in the bucket.
    #[arg(long)]
    pub prefix: Option<String>,
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// endpoint/bucket/key instead of bucket.endpoint/key (MinIO and most self-hosted).
    #[arg(long)]
    pub path_style: bool,
    /// Upload copies as they are, not sealed with age.
    #[arg(long)]
    pub no_encrypt: bool,
    /// Read the secret key from this file (yours, mode 0600 or 0400, one line).
    #[arg(long, value_name = "PATH")]
    pub secret_key_file: Option<PathBuf>,
}
