//! Offsite (S3-compatible) destinations for the window: list, add (the secret key goes from
//! the command's argument straight into the OS keychain and is never sent back), test,
//! send copies now, remove; and the sync the scheduler runs after plans that name a
//! destination, each of its uploads told to the transfers drawer. Thin: the rules, the
//! messages and the uploads are the engine's.

use crate::commands::engine;
use crate::error::UiError;
use crate::state::AppState;
use serde::Serialize;
use snapshots::Engine;
use snapshots::library::LibraryEntry;
use snapshots::offsite::sync::{SyncHooks, SyncStep};
use snapshots::offsite::upload::UploadOptions;
use snapshots::offsite::{self, OFFSITE, OffsiteConfig, OffsiteError, Offsites, S3Client};
use snapshots::overview;
use snapshots::seal;
use snapshots::secret::Keychain;
use snapshots::statedir::StateDir;
use std::path::{Path, PathBuf};
use tauri::State;
use tokio_util::sync::CancellationToken;

impl From<OffsiteError> for UiError {
    fn from(e: OffsiteError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

// The window reads and sends a destination as the engine stores it (`OffsiteConfig`):
// everything but the secret, which travels alone into the keychain and never back.

fn views(st: &StateDir) -> Result<Vec<OffsiteConfig>, UiError> {
    let all: Offsites = st.read(OFFSITE).map_err(OffsiteError::from)?;
    Ok(all.destinations)
}

/// The account's destinations.
#[tauri::command]
pub async fn list_offsite(state: State<'_, AppState>) -> Result<Vec<OffsiteConfig>, UiError> {
    let e = engine(&state).await?;
    let (_, st) = state.account_state(&e)?;
    views(&st)
}

/// Adds (or replaces) a destination: the settings in the state dir, `secret` in the OS
/// keychain. An `http://` endpoint off loopback is refused with the engine's words.
#[tauri::command]
pub async fn add_offsite(
    state: State<'_, AppState>,
    destination: OffsiteConfig,
    secret: String,
) -> Result<Vec<OffsiteConfig>, UiError> {
    let e = engine(&state).await?;
    let (id, st) = state.account_state(&e)?;
    let f = destination;
    let cfg = OffsiteConfig {
        name: f.name.trim().to_string(),
        endpoint: f.endpoint.trim().trim_end_matches('/').to_string(),
        region: match f.region.trim() {
            "" => "us-east-1".to_string(),
            r => r.to_string(),
        },
        bucket: f.bucket.trim().to_string(),
        prefix: f.prefix.trim().to_string(),
        path_style: f.path_style,
        access_key_id: f.access_key_id.trim().to_string(),
        encrypt: f.encrypt,
    };
    if cfg.bucket.is_empty() || cfg.access_key_id.is_empty() {
        return Err(
            OffsiteError::Config("the bucket and the access key id are needed".into()).into(),
        );
    }
    offsite::add(&st, state.keychain.as_ref(), &id, cfg, secret.trim())?;
    views(&st)
}

/// Removes a destination: uploads in flight there are aborted (no parts stay behind), its
/// secret leaves the keychain. The copies already in the bucket stay there.
#[tauri::command]
pub async fn remove_offsite(
    state: State<'_, AppState>,
    name: String,
) -> Result<Vec<OffsiteConfig>, UiError> {
    let e = engine(&state).await?;
    let (id, st) = state.account_state(&e)?;
    if let Ok(c) = offsite::open(&st, state.keychain.as_ref(), &id, &name) {
        // A bucket that cannot be reached keeps its parts; the removal goes on.
        let _ = offsite::upload::abandon_all(&c, &st).await;
    }
    offsite::remove(&st, state.keychain.as_ref(), &id, &name)?;
    views(&st)
}

/// One step of a test, and why it failed: its code (the window's words) and the
/// engine's message (the detail).
#[derive(Serialize)]
pub struct ProbeStep {
    step: &'static str,
    ok: bool,
    code: Option<&'static str>,
    message: Option<String>,
}

/// Puts, heads and deletes a small object in the destination, each step said.
#[tauri::command]
pub async fn test_offsite(
    state: State<'_, AppState>,
    name: String,
) -> Result<Vec<ProbeStep>, UiError> {
    let e = engine(&state).await?;
    let (id, st) = state.account_state(&e)?;
    let c = offsite::open(&st, state.keychain.as_ref(), &id, &name)?;
    Ok(probe(&c).await)
}

async fn probe(c: &S3Client) -> Vec<ProbeStep> {
    let step = |step, r: Result<(), OffsiteError>| ProbeStep {
        step,
        ok: r.is_ok(),
        code: r.as_ref().err().map(OffsiteError::code),
        message: r.err().map(|e| e.to_string()),
    };
    let key = c.key(&format!(".sqsnap-probe-{}", std::process::id()));
    let body = snapshots::offsite::client::Body::from_static(b"square snapshots offsite probe\n");
    let size = body.len() as u64;
    let mut steps = vec![step("put", c.put(&key, body).await.map(|_| ()))];
    if !steps[0].ok {
        return steps;
    }
    let head = match c.head(&key).await {
        Ok(Some(h)) if h.size == size => Ok(()),
        Ok(_) => Err(OffsiteError::Mismatch(
            "the test object is not there whole".into(),
        )),
        Err(e) => Err(e),
    };
    steps.push(step("head", head));
    steps.push(step("delete", c.delete(&key).await));
    steps
}

/// One upload of a sync, for the transfers drawer: which local copy (its resource, the
/// file, the destination and bucket it goes to) and its step. Sent as the app event
/// `offsite-upload`, for a click's sync and the scheduler's alike.
#[derive(Clone, Serialize)]
pub struct UploadEvent {
    destination: String,
    bucket: String,
    /// The local copy sent: the line's identity.
    file: PathBuf,
    resource: String,
    /// The resource's name, printable.
    name: String,
    #[serde(flatten)]
    step: UploadStep,
}

#[derive(Clone, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum UploadStep {
    /// Queued behind another upload (or held while paused).
    Waiting,
    Sending {
        progress: snapshots::download::Progress,
    },
    /// In the bucket, checked and recorded.
    Sent { at: String },
    /// The engine's code (the window's `failedWhy`) and its own words.
    Failed { code: String, message: String },
    /// Not sent this time: an earlier one failed, or the sync was stopped.
    Left,
}

/// The event name uploads are told under.
pub const UPLOAD_EVENT: &str = "offsite-upload";

/// What a sync did, per destination.
#[derive(Serialize)]
pub struct SyncView {
    pub name: String,
    pub uploaded: usize,
    pub present: usize,
    pub missing: usize,
}

/// Sends every library copy the destination (or, without a name, each destination) lacks;
/// each upload is told as an `offsite-upload` event.
#[tauri::command]
pub async fn sync_offsite<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    state: State<'_, AppState>,
    name: Option<String>,
) -> Result<Vec<SyncView>, UiError> {
    let e = engine(&state).await?;
    let names = match name {
        Some(n) => vec![n],
        None => {
            let (_, st) = state.account_state(&e)?;
            let all: Offsites = st.read(OFFSITE).map_err(OffsiteError::from)?;
            all.destinations.into_iter().map(|d| d.name).collect()
        }
    };
    let cancel = state.cancel_token();
    let tell = |u: UploadEvent| {
        let _ = tauri::Emitter::emit(&app, UPLOAD_EVENT, u);
    };
    let mut out = vec![];
    for n in names {
        out.push(sync_one(&state, &e, &n, &cancel, &tell).await?);
    }
    Ok(out)
}

/// One destination's sync, sealing each copy to the account's key when it encrypts (the
/// key made and kept in the keychain on first use; the sealed file staged in the state dir
/// so a resumed upload sends the same bytes). Each upload is told to `tell` (its progress
/// at most twice a second); Stop all cancels it and Pause holds the next one back.
pub(crate) async fn sync_one(
    state: &AppState,
    e: &Engine,
    name: &str,
    cancel: &CancellationToken,
    tell: &(dyn Fn(UploadEvent) + Send + Sync),
) -> Result<SyncView, UiError> {
    let (id, st) = state.account_state(e)?;
    let kc: &dyn Keychain = state.keychain.as_ref();
    let c = offsite::open(&st, kc, &id, name)?;
    let recipient = match c.config().encrypt {
        true => Some(
            seal::identity::get_or_create(kc, &id)
                .map_err(|err| {
                    UiError::new(
                        "keychain",
                        format!(
                            "{name}: the encryption key could not be read or made ({err}). Nothing was sent; your local copies are safe."
                        ),
                    )
                })?
                .recipient(),
        ),
        false => None,
    };
    let staging = st.path().join(seal::STAGING);
    let hook = recipient
        .as_ref()
        .map(|r| move |p: &Path| seal::staged_for_upload(&staging, p, r));
    let seal_hook: Option<offsite::sync::Seal<'_>> =
        hook.as_ref().map(|h| h as offsite::sync::Seal<'_>);
    let last = std::sync::Mutex::new(None);
    let told = Told::new(c.config(), tell, &last);
    let step = |s: SyncStep<'_>| told.step(s);
    let paused = e.pause_watch();
    let hooks = SyncHooks {
        tell: &step,
        paused: Some(&paused),
    };
    let opts = UploadOptions {
        rate: e.rate_limit(),
        ..UploadOptions::default()
    };
    let r = offsite::sync::sync_with(&c, &st, opts, seal_hook, cancel, hooks).await?;
    Ok(SyncView {
        name: name.to_string(),
        uploaded: r.uploaded.len(),
        present: r.present,
        missing: r.missing.len(),
    })
}

/// A sync's steps as upload events, progress at most twice a second per destination.
struct Told<'a> {
    destination: String,
    bucket: String,
    tell: &'a (dyn Fn(UploadEvent) + Send + Sync),
    /// When progress was last told (kept by the caller, so it lasts across steps).
    last: &'a std::sync::Mutex<Option<std::time::Instant>>,
}

impl<'a> Told<'a> {
    fn new(
        cfg: &OffsiteConfig,
        tell: &'a (dyn Fn(UploadEvent) + Send + Sync),
        last: &'a std::sync::Mutex<Option<std::time::Instant>>,
    ) -> Self {
        Self {
            destination: cfg.name.clone(),
            bucket: cfg.bucket.clone(),
            tell,
            last,
        }
    }

    fn one(&self, e: &LibraryEntry, step: UploadStep) {
        (self.tell)(UploadEvent {
            destination: self.destination.clone(),
            bucket: self.bucket.clone(),
            file: e.path.clone(),
            resource: e.resource_id.clone(),
            name: snapshots::names::printable(&e.resource_name),
            step,
        });
    }

    fn step(&self, s: SyncStep<'_>) {
        match s {
            SyncStep::Queued(all) => all.iter().for_each(|e| self.one(e, UploadStep::Waiting)),
            SyncStep::Sending { entry, progress } => {
                let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
                let end = progress.total == Some(progress.bytes);
                if end || last.is_none_or(|t| t.elapsed().as_millis() >= 500) {
                    *last = Some(std::time::Instant::now());
                    self.one(entry, UploadStep::Sending { progress });
                }
            }
            SyncStep::Sent { entry, at } => self.one(entry, UploadStep::Sent { at: at.into() }),
            SyncStep::Failed { entry, error } => self.one(
                entry,
                UploadStep::Failed {
                    code: error.code().into(),
                    message: error.to_string(),
                },
            ),
            SyncStep::Left(all) => all.iter().for_each(|e| self.one(e, UploadStep::Left)),
        }
    }
}

/// Plan runs reach the account's destinations through the app's keychain; their uploads
/// show in the window (the transfers drawer) as a click's do.
pub(crate) struct AppAccess<R: tauri::Runtime> {
    app: tauri::AppHandle<R>,
    account: snapshots::accounts::AccountId,
    dir: PathBuf,
    last: std::sync::Mutex<Option<std::time::Instant>>,
}

impl<R: tauri::Runtime> AppAccess<R> {
    pub(crate) fn new(
        app: tauri::AppHandle<R>,
        account: snapshots::accounts::AccountId,
        dir: &Path,
    ) -> Self {
        Self {
            app,
            account,
            dir: dir.to_path_buf(),
            last: std::sync::Mutex::new(None),
        }
    }
}

impl<R: tauri::Runtime> offsite::access::OffsiteAccess for AppAccess<R> {
    fn reach(&self, name: &str) -> Result<offsite::access::Reach, OffsiteError> {
        use tauri::Manager;
        let state = self.app.state::<AppState>();
        let st = StateDir::open(&self.dir)?;
        offsite::access::reach(&st, state.keychain.as_ref(), &self.account, name)
    }

    fn step(&self, cfg: &OffsiteConfig, step: SyncStep<'_>) {
        use tauri::Emitter;
        let emit = |u: UploadEvent| {
            let _ = self.app.emit(UPLOAD_EVENT, u);
        };
        Told::new(cfg, &emit, &self.last).step(step);
    }
}

/// Where else a library copy is kept: a destination, its endpoint and bucket, the key.
#[derive(Serialize)]
pub struct Elsewhere {
    name: String,
    /// `None`: the destination was removed since (the copy stays in its bucket).
    endpoint: Option<String>,
    bucket: String,
    key: String,
}

/// A library entry with where else it is kept, for "On this computer".
#[derive(Serialize)]
pub struct LibraryRow {
    #[serde(flatten)]
    entry: LibraryEntry,
    elsewhere: Vec<Elsewhere>,
    /// Its file is on this computer (not: kept elsewhere only, or on a drive not plugged in).
    here: bool,
    /// The offsite destination its file waits in the outbox for (an offsite-only plan).
    waiting_for: Option<String>,
}

/// The library's files (one resource's, or all), each with where else it is kept.
#[tauri::command]
pub async fn list_library(
    state: State<'_, AppState>,
    resource: Option<String>,
    account: Option<String>,
) -> Result<Vec<LibraryRow>, UiError> {
    let e = crate::commands::engine_of(&state, &account).await?;
    let lib = e.library();
    // Names as the window shows them: printable (see `overview::shown`).
    let waiting = |e: &LibraryEntry| {
        lib.outbox
            .iter()
            .find(|(_, files)| files.contains(&e.path))
            .map(|(name, _)| name.clone())
    };
    let entries: Vec<(LibraryEntry, Option<String>)> = match resource {
        Some(id) => lib
            .for_resource(&id)
            .into_iter()
            .map(|e| (overview::shown(e), waiting(e)))
            .collect(),
        None => lib
            .entries
            .iter()
            .map(|e| (overview::shown(e), waiting(e)))
            .collect(),
    };
    // By the account's offsite destinations (none: local only).
    let all = state
        .account_state(&e)
        .ok()
        .and_then(|(_, st)| st.read(OFFSITE).ok())
        .unwrap_or_default();
    Ok(library_rows(entries, &all))
}

fn library_rows(entries: Vec<(LibraryEntry, Option<String>)>, all: &Offsites) -> Vec<LibraryRow> {
    entries
        .into_iter()
        .map(|(entry, waiting_for)| {
            let elsewhere = entry
                .copies
                .iter()
                .filter(|c| c.kind == offsite::S3)
                .filter_map(|c| {
                    let (name, key) = offsite::parse_at(&c.at)?;
                    let bucket = c.at.strip_prefix("s3://")?.split('/').next()?;
                    Some(Elsewhere {
                        name: name.to_string(),
                        endpoint: all.get(name).map(|d| d.endpoint.clone()),
                        bucket: bucket.to_string(),
                        key: key.to_string(),
                    })
                })
                .collect();
            LibraryRow {
                here: entry.path.is_file(),
                entry,
                elsewhere,
                waiting_for,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use snapshots::destination::Copy;

    fn entry(copies: Vec<Copy>) -> LibraryEntry {
        serde_json::from_value(serde_json::json!({
            "resource_id": "a", "resource_name": "Atlas", "version": null,
            "taken_at": "2026-12-01T03:00:00Z", "size": 10, "path": "/b/a.zip",
            "downloaded_at": "2026-12-01T03:01:00Z", "verified_at": null, "copies": copies,
        }))
        .unwrap()
    }

    /// A copy in a bucket is shown with its destination's endpoint; one of a destination
    /// removed since keeps its name and bucket (the copy is still there); a local copy elsewhere
    /// is not an offsite one.
    #[test]
    fn each_copy_says_where_else_it_is_kept() {
        let cfg = OffsiteConfig {
            name: "b2".into(),
            endpoint: "https://s3.example.com".into(),
            region: "us-east-1".into(),
            bucket: "bk".into(),
            prefix: "snaps/".into(),
            path_style: false,
            access_key_id: "AK".into(),
            encrypt: true,
        };
        let copies = vec![
            Copy {
                kind: offsite::S3.into(),
                at: cfg.copy_at("snaps/a.zip.age"),
            },
            Copy {
                kind: offsite::S3.into(),
                at: "s3://old/x/a.zip#gone".into(),
            },
            Copy::local(Path::new("/elsewhere/a.zip")),
        ];
        let all = Offsites {
            destinations: vec![cfg],
        };
        let rows = library_rows(vec![(entry(copies), None)], &all);
        let v = serde_json::to_value(&rows).unwrap();
        assert_eq!(
            v[0]["path"], "/b/a.zip",
            "the entry's own fields stay as they were"
        );
        assert_eq!(
            v[0]["elsewhere"],
            serde_json::json!([
                {"name": "b2", "endpoint": "https://s3.example.com", "bucket": "bk", "key": "snaps/a.zip.age"},
                {"name": "gone", "endpoint": null, "bucket": "old", "key": "x/a.zip"},
            ])
        );
        // Its file is not on this computer: kept in those places only.
        assert_eq!(v[0]["here"], false);
        assert_eq!(v[0]["waiting_for"], serde_json::Value::Null);
        // A file staged for an offsite-only plan: here, and waiting for its upload.
        let d = tempfile::tempdir().unwrap();
        let staged = d.path().join("a.zip");
        std::fs::write(&staged, b"zip").unwrap();
        let mut e = entry(Vec::new());
        e.path = staged;
        let v = serde_json::to_value(library_rows(vec![(e, Some("b2".into()))], &all)).unwrap();
        assert_eq!(
            (&v[0]["here"], &v[0]["waiting_for"]),
            (&true.into(), &"b2".into())
        );
    }
}
