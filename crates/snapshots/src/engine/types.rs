//! What every room of the engine shares and none owns: its configuration, the resources it
//! names, the events it reports and the errors it returns. It imports no room, so each room
//! can import it without a circle.

use crate::download::{DownloadError, Downloaded, Progress};
use crate::ledger::QuotaStatus;
use crate::names::printable;
use crate::pacer::{Limits, WaitReason, chrono_d};
use crate::verify::VerifyError;
use chrono::{DateTime, Utc};
use serde::Serialize;
use squarecloud::{ApiError, ErrorCode, ResourceKind, WorkspaceGroup};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the engine talks to and keeps its state.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub api_url: String,
    /// The file host for list items without `url` (default: Square Cloud's).
    pub files_url: Option<String>,
    /// Settings, ledger and library live here.
    pub data_dir: PathBuf,
    pub limits: Limits,
    /// The least a freshly created snapshot, whose size no list has given, may weigh before
    /// its download is stopped: see [`crate::Engine::fresh_size_cap`].
    pub fresh_size_floor: u64,
}

/// [`EngineConfig::fresh_size_floor`]'s default: more than any application's upload.
pub const FRESH_SIZE_FLOOR: u64 = 2 * 1024 * 1024 * 1024;
/// A fresh snapshot may weigh this many times the largest one of its resource seen so far.
pub const FRESH_SIZE_GROWTH: u64 = 4;

impl EngineConfig {
    pub fn new(api_url: impl Into<String>, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            api_url: api_url.into(),
            files_url: None,
            data_dir: data_dir.into(),
            limits: Limits::default(),
            fresh_size_floor: FRESH_SIZE_FLOOR,
        }
    }
}

/// The OS app data dir (`SQSNAP_DATA_DIR` overrides it).
pub fn default_data_dir() -> PathBuf {
    if let Ok(d) = std::env::var("SQSNAP_DATA_DIR")
        && !d.is_empty()
    {
        return d.into();
    }
    directories::ProjectDirs::from("app", "squaresnapshots", "Square Snapshots")
        .map(|p| p.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".square-snapshots"))
}

/// An application or a database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceRef {
    pub kind: ResourceKind,
    pub id: String,
    pub name: String,
    /// The workspace that shares this application with the account (`None`: the account's
    /// own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace: Option<WorkspaceRef>,
}

/// The workspace a shared application is reached through, and the account's role in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkspaceRef {
    pub id: String,
    pub name: String,
    pub role: WorkspaceGroup,
    /// Whether the role lets this account take and restore snapshots (owner, admin).
    pub may_snapshot: bool,
}

impl ResourceRef {
    /// One of the account's own resources.
    pub fn own(kind: ResourceKind, id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            kind,
            id: id.into(),
            name: name.into(),
            workspace: None,
        }
    }

    /// Whether this account may take and restore its snapshots: always for its own, by the
    /// role for a shared one.
    pub fn may_snapshot(&self) -> bool {
        self.workspace.as_ref().is_none_or(|w| w.may_snapshot)
    }

    /// The refusal, before any request, of a snapshot or a restore the role does not allow.
    pub fn check_may_snapshot(&self) -> Result<(), EngineError> {
        match &self.workspace {
            Some(w) if !w.may_snapshot => Err(EngineError::Permission {
                subject: format!(
                    "Your role in the workspace {} ({}) does not allow snapshots of {}.",
                    printable(&w.name),
                    role_name(w.role),
                    printable(&self.name)
                ),
                sent: false,
            }),
            _ => Ok(()),
        }
    }
}

/// A workspace role as the API names it.
pub fn role_name(g: WorkspaceGroup) -> &'static str {
    match g {
        WorkspaceGroup::Owner => "owner",
        WorkspaceGroup::Admin => "admin",
        WorkspaceGroup::Maintain => "maintain",
        WorkspaceGroup::Manager => "manager",
        WorkspaceGroup::View => "view",
        WorkspaceGroup::Unknown => "unknown",
    }
}

/// Every state change of a job, for a UI or a terminal to show.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Waiting {
        resource: String,
        until: DateTime<Utc>,
        reason: WaitReason,
    },
    PausedForQuota {
        until: Option<DateTime<Utc>>,
        /// The resources whose snapshots are held for the quota.
        held: Vec<String>,
    },
    RateLimited {
        until: DateTime<Utc>,
    },
    /// The create was sent at `since`; Square Cloud is preparing the archive.
    Creating {
        resource: String,
        since: DateTime<Utc>,
    },
    /// Still preparing past the server's deadline (202), or the answer was lost: the engine
    /// watches the list for the new snapshot and never asks again.
    Processing {
        resource: String,
        since: DateTime<Utc>,
        answer_lost: bool,
        /// Until when the list is watched for the new snapshot before giving up. Never a
        /// second create: [`crate::Engine::stop_waiting`] ends the watch sooner.
        until: DateTime<Utc>,
    },
    /// Another process on this computer is already taking a snapshot of this resource: this
    /// job waits for it instead of asking for a second one.
    Joined {
        resource: String,
        since: DateTime<Utc>,
    },
    Created {
        resource: String,
        taken_at: DateTime<Utc>,
    },
    Downloading {
        resource: String,
        progress: Progress,
    },
    Done {
        resource: String,
        path: PathBuf,
        size: u64,
        already_present: bool,
        /// The offsite destination the file waits in the account's outbox for (a plan that
        /// keeps its copies there only): it leaves this computer once its upload is checked.
        #[serde(skip_serializing_if = "Option::is_none")]
        outbox: Option<String>,
    },
    Failed {
        resource: String,
        code: String,
        message: String,
    },
    Quota {
        quota: QuotaStatus,
    },
    /// A plan left this download for later, and why (a metered connection).
    Postponed {
        resource: String,
        reason: String,
        /// The size of the download left for later.
        bytes: u64,
    },
    /// Something the engine learned about the server's limits, with the evidence.
    Learned {
        message: String,
    },
    /// A copy being put back: how much of it has been sent to Square Cloud.
    Uploading {
        resource: String,
        progress: Progress,
    },
    /// A copy kept in a bucket being fetched to be put back: how much has arrived.
    Fetching {
        resource: String,
        destination: String,
        bucket: String,
        progress: Progress,
    },
    /// The copy fetched from a bucket is here and its check passed: the put back goes on
    /// as one from a copy on this computer.
    Fetched {
        resource: String,
        size: u64,
    },
    /// Square Cloud took the copy put back into the application (and restarts it, when
    /// asked).
    Committed {
        resource: String,
        size: u64,
        restart: bool,
    },
    /// The user paused the queue: nothing new starts until resumed.
    Paused,
    Resumed,
}

/// Where events go.
pub type EventSink = Arc<dyn Fn(Event) + Send + Sync>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    #[error(
        "The API key was refused ({0}). Check that it is a current key from your Square Cloud account's security page, and sign in again."
    )]
    Auth(ApiError),
    #[error("The daily snapshot quota is used up.{}", until.map(|t| format!(" The next one frees up at {} UTC.", t.format("%Y-%m-%d %H:%M"))).unwrap_or_else(|| " When the next one frees up is not known.".into()))]
    Quota { until: Option<DateTime<Utc>> },
    #[error("Square Cloud has blocked requests from this key or address for a while (until about {} UTC). Nothing was lost; try again then.", until.format("%H:%M"))]
    RateLimited { until: DateTime<Utc> },
    #[error("{}", api_message(.0))]
    Api(ApiError),
    #[error("The API address cannot be used: {0}")]
    Config(String),
    #[error("No application or database with id {0} on this account.")]
    NotFound(String),
    #[error("No snapshot of {0} exists yet.")]
    NoSnapshot(String),
    #[error(
        "No folder is set for snapshots. Choose one (drag a folder onto the window, or pass --dest)."
    )]
    NoDestination,
    #[error(transparent)]
    Download(#[from] DownloadError),
    #[error("The integrity check failed: {0}")]
    Verify(#[from] VerifyError),
    #[error("Could not save the app's state in {path}: {detail}")]
    State { path: PathBuf, detail: String },
    #[error(
        "Square Cloud took the snapshot but it did not appear in the list in time. It will show up later (see the versions of this resource); no second snapshot was requested."
    )]
    ProcessingTimeout,
    #[error(
        "The snapshot was requested, but the answer was lost on the way and the new snapshot did not appear in the list in time. It may still show up; no second snapshot was requested, so the quota was not spent twice."
    )]
    AnswerLost,
    #[error(
        "You stopped waiting for this snapshot. Square Cloud may still have made it: it counts toward today's quota until its list shows otherwise, and once listed, Download latest fetches it. No second snapshot was requested."
    )]
    StoppedWaiting,
    #[error(
        "Another Square Snapshots process on this computer has been taking a snapshot of this resource since {} UTC and has not finished. No second snapshot was requested.", since.format("%H:%M:%S")
    )]
    Busy { since: DateTime<Utc> },
    #[error(
        "The restore was sent, but its answer was lost on the way: it may have happened. Check the application on Square Cloud before trying again."
    )]
    RestoreUnknown,
    #[error(
        "A restore of this resource is already in progress on Square Cloud. Wait for it to finish."
    )]
    RestoreInProgress,
    #[error(
        "{} is a database: Square Cloud has no way to upload files into a database, so a copy cannot be put back into it. Nothing was sent. Its server snapshots can be restored instead (Restore…, or sqsnap restore) while Square Cloud keeps them.",
        printable(name)
    )]
    PutBackDatabase { name: String },
    #[error(
        "{} is {size} bytes, over the {max} bytes Square Cloud takes in one upload. Nothing was sent and the application was not changed. Put back a smaller copy, or restore a server snapshot while Square Cloud keeps it.", path.display()
    )]
    PutBackTooLarge { path: PathBuf, size: u64, max: u64 },
    #[error(
        "{} cannot be put back: it is not a whole zip archive ({detail}). Nothing was sent and the application was not changed. Choose another copy.", path.display()
    )]
    PutBackBadFile { path: PathBuf, detail: String },
    #[error(
        "{} is an encrypted copy and this computer has no key to open it. Nothing was sent. Import the recovery key you wrote for this account (sqsnap key import-recovery FILE), then try again.", path.display()
    )]
    PutBackNoKey { path: PathBuf },
    #[error(
        "Square Cloud refused the put back: {}{}. Your copy is unchanged; check the application on Square Cloud, then try again or choose another copy.", printable(code), message.as_deref().map(|m| format!(" ({})", printable(m))).unwrap_or_default()
    )]
    CommitRefused {
        code: String,
        message: Option<String>,
    },
    #[error(
        "The copy was sent, but Square Cloud's answer was lost on the way: Square Cloud may have applied it. Check the application before trying again; nothing was sent twice."
    )]
    CommitUnknown,
    #[error(
        "{} has no squarecloud.app at its root with a DISPLAY_NAME and a MEMORY: Square Cloud needs one to make an application from a zip. Nothing was sent. Add one to the zip (DISPLAY_NAME, MAIN and MEMORY lines), or put the copy back into an existing application.", path.display()
    )]
    NewAppNoConfig { path: PathBuf },
    #[error(
        "{} asks for {need} MB of memory and the plan has {available} MB free. Nothing was sent. Free memory on Square Cloud (or lower MEMORY in the copy's squarecloud.app), then try again.",
        printable(name)
    )]
    NewAppNoRoom {
        name: String,
        need: u64,
        available: u64,
    },
    #[error(
        "Square Cloud refused to make an application from the copy: {}{}. Your copy is unchanged and no application was made; fix what it says, then try again.", printable(code), message.as_deref().map(|m| format!(" ({})", printable(m))).unwrap_or_default()
    )]
    NewAppRefused {
        code: String,
        message: Option<String>,
    },
    #[error(
        "The copy was sent, but Square Cloud's answer was lost on the way: the application may have been made. Check your applications on Square Cloud before trying again; nothing was sent twice."
    )]
    NewAppUnknown,
    /// An offsite step failed (fetching a copy from a bucket), in the offsite module's
    /// words; `code` is [`crate::offsite::OffsiteError::code`].
    #[error("{message}")]
    Offsite { code: &'static str, message: String },
    #[error(
        "{} keeps its copies encrypted, and this account's encryption key could not be read or made: {detail} Nothing was downloaded; fix the keychain, then try again.", folder.display()
    )]
    SealKey { folder: PathBuf, detail: String },
    #[error(
        "{} keeps its copies encrypted, and this copy could not be encrypted ({detail}). No unencrypted copy was left there; Square Cloud still has the snapshot, so download it again once this is fixed (free some space, or check the folder).", folder.display()
    )]
    Sealing { folder: PathBuf, detail: String },
    #[error("{warning} Nothing was changed: confirm to turn encryption on for {}.", folder.display())]
    EncryptUnconfirmed { folder: PathBuf, warning: String },
    /// The account's encryption key or its recovery key: the words say what and what to do.
    #[error("{detail}")]
    Key { code: &'static str, detail: String },
    /// A workspace role that may not take or restore snapshots: refused here before any
    /// request (`sent` false), or by Square Cloud's 403 `PERMISSION_DENIED`.
    #[error(
        "{subject} {} None of your copies changed. Ask the workspace's owner for the admin role to back it up.",
        if *sent { "Square Cloud refused it, so nothing was made or restored." } else { "Nothing was sent." }
    )]
    Permission { subject: String, sent: bool },
    #[error("Cancelled.")]
    Cancelled,
}

/// An API error in words, with what to do when it is likely to pass.
fn api_message(e: &ApiError) -> String {
    if e.is_transient() {
        format!("{e}. Check your internet connection and try again; nothing was lost.")
    } else {
        e.to_string()
    }
}

impl Event {
    /// `resource`'s job ended with `e`: its code for the UI to word, its message for detail.
    pub fn failed(resource: String, e: &EngineError) -> Self {
        Event::Failed {
            resource,
            code: e.code().into(),
            message: e.to_string(),
        }
    }
}

impl EngineError {
    /// A short stable code the UI and the CLI branch on.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::Auth(_) => "auth",
            EngineError::Quota { .. } => "quota",
            EngineError::RateLimited { .. } => "rate_limited",
            EngineError::Api(e) if e.is_transient() => "network",
            EngineError::Api(_) => "api",
            EngineError::Config(_) => "config",
            EngineError::NotFound(_) | EngineError::NoSnapshot(_) => "not_found",
            EngineError::NoDestination => "no_destination",
            EngineError::Download(d) => d.code(),
            EngineError::Verify(_) => "verify",
            EngineError::State { .. } => "disk",
            EngineError::ProcessingTimeout
            | EngineError::AnswerLost
            | EngineError::StoppedWaiting => "processing",
            EngineError::Busy { .. } | EngineError::RestoreInProgress => "busy",
            EngineError::RestoreUnknown => "restore_unknown",
            EngineError::PutBackDatabase { .. } => "unsupported",
            EngineError::PutBackTooLarge { .. } => "too_large",
            EngineError::PutBackBadFile { .. } => "bad_file",
            EngineError::PutBackNoKey { .. } => "no_key",
            EngineError::CommitRefused { .. } => "commit_refused",
            EngineError::CommitUnknown => "commit_unknown",
            EngineError::NewAppNoConfig { .. } => "no_config",
            EngineError::NewAppNoRoom { .. } => "no_room",
            EngineError::NewAppRefused { .. } => "commit_refused",
            EngineError::NewAppUnknown => "commit_unknown",
            EngineError::Offsite { code, .. } => code,
            EngineError::SealKey { .. } => "keychain",
            EngineError::Sealing { .. } => "seal",
            EngineError::EncryptUnconfirmed { .. } => "confirm",
            EngineError::Key { code, .. } => code,
            EngineError::Permission { .. } => "permission",
            EngineError::Cancelled => "cancelled",
        }
    }

    pub(crate) fn from_api(e: ApiError) -> Self {
        if e.is_account_block() {
            // Said as a block wherever it is met (a list while a snapshot is prepared, a
            // quota check), not as a server error: it is the user's key, for a while.
            return EngineError::RateLimited {
                until: Utc::now() + chrono_d(squarecloud::limits::RATE_BLOCK),
            };
        }
        match e.code() {
            Some(c) if c.is_bad_key() => EngineError::Auth(e),
            Some(ErrorCode::PermissionDenied) => EngineError::Permission {
                subject: "Your role in this application's workspace does not allow snapshots."
                    .into(),
                sent: true,
            },
            _ => EngineError::Api(e),
        }
    }
}

/// What `snapshot` should do.
#[derive(Debug, Clone, Default)]
pub struct SnapshotOptions {
    pub download: bool,
    /// Overrides the settings' folders.
    pub dest: Option<PathBuf>,
    /// When the quota runs out: wait for it to free up (true) or stop (false).
    pub wait_for_quota: bool,
}

/// How one resource's job ended.
#[derive(Debug, Clone)]
pub struct JobResult {
    pub resource: ResourceRef,
    pub outcome: Result<JobOutcome, EngineError>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JobOutcome {
    pub taken_at: DateTime<Utc>,
    pub download: Option<Downloaded>,
    /// This request joined a snapshot already being taken (by this app or another process).
    pub joined: bool,
}

/// Whether the network connection is metered (mobile data, a capped plan).
pub type MeteredCheck = Arc<dyn Fn() -> bool + Send + Sync>;

impl From<crate::seal::identity::SealError> for EngineError {
    fn from(e: crate::seal::identity::SealError) -> Self {
        use crate::seal::identity::SealError as S;
        let code = match &e {
            S::Keychain(_) | S::Corrupt | S::Different(_) => "keychain",
            S::WeakPassphrase(_) => "weak_passphrase",
            S::WrongPassphrase => "wrong_passphrase",
            S::NotRecovery(..) => "bad_file",
            S::Io(_) => "disk",
        };
        EngineError::Key {
            code,
            detail: e.to_string(),
        }
    }
}

pub(crate) fn state_error(path: &Path, e: std::io::Error) -> EngineError {
    EngineError::State {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}
