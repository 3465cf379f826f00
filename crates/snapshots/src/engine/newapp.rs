//! A copy brought back as a new application: Square Cloud's upload (`POST /v2/apps`) of a
//! zip we hold, for when the application it came from is gone (deleted, or its plan ended
//! and the files with it) and a put back has nothing to go into. The zip's root must hold
//! the application's configuration (`squarecloud.app`, or the older `squarecloud.config`),
//! as every application's snapshot does: it names the application, its main file and its
//! memory. What can be judged here is judged before anything is sent: a whole zip under
//! the upload limit (an encrypted copy opened as it is read, never written plain), its
//! configuration, and room for its memory in the plan. One upload per account per 3 s: a
//! `KEEP_CALM` (nothing made) is waited out and sent once more; a lost answer is never sent
//! again ([`EngineError::NewAppUnknown`]).

use super::putback::{check_copy, upload_failed, upload_progress};
use super::{Engine, EngineError, EventSink};
use crate::seal::{self, SealIdentity};
use squarecloud::appconfig::{CONFIG_NAMES, config_value};
use squarecloud::limits::UPLOAD_GAP;
use squarecloud::{ApiError, CommitProgress, ErrorCode, UploadedApp};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What an upload of a copy as a new application would make, checked without sending.
#[derive(Debug, Clone)]
pub struct NewAppPlan {
    pub file: PathBuf,
    /// The zip's size in bytes (for an encrypted copy, the zip inside).
    pub size: u64,
    pub sealed: bool,
    pub entries: usize,
    /// The configuration's `DISPLAY_NAME`.
    pub name: String,
    /// Its `MEMORY`, in MB.
    pub memory_mb: u64,
    /// The plan's free memory, in MB, when Square Cloud says it.
    pub available_mb: Option<u64>,
}

impl Engine {
    /// Whether `file` can become a new application, and what it would be; sends only the
    /// account read that tells the plan's free memory. `key` opens an encrypted copy.
    pub async fn check_new_app(
        &self,
        file: &Path,
        key: Option<Arc<SealIdentity>>,
    ) -> Result<NewAppPlan, EngineError> {
        let checked = check_copy(file, key.as_deref()).await?;
        let p = file.to_path_buf();
        let config = tokio::task::spawn_blocking(move || read_config(&p, key.as_deref()))
            .await
            .map_err(|e| EngineError::PutBackBadFile {
                path: file.to_path_buf(),
                detail: e.to_string(),
            })??;
        let (name, memory_mb) = config;
        let me = self.refresh().await?;
        let available_mb = me.user.plan.memory.available;
        if let Some(free) = available_mb.filter(|free| memory_mb > *free) {
            return Err(EngineError::NewAppNoRoom {
                name,
                need: memory_mb,
                available: free,
            });
        }
        Ok(NewAppPlan {
            file: file.to_path_buf(),
            size: checked.size,
            sealed: checked.sealed,
            entries: checked.entries,
            name,
            memory_mb,
            available_mb,
        })
    }

    /// Uploads `file` as a new application (see the module's rules), telling `events` how
    /// much is sent (as uploads of the configuration's name); the account is read again
    /// after, so the new application is listed.
    pub async fn new_app_from_copy(
        &self,
        file: &Path,
        key: Option<Arc<SealIdentity>>,
        events: EventSink,
    ) -> Result<UploadedApp, EngineError> {
        let plan = self.check_new_app(file, key.clone()).await?;
        let progress = upload_progress(plan.name.clone(), events, Arc::default());
        let mut tries = 0;
        let made = loop {
            tries += 1;
            match self
                .send_new_app(&plan, key.as_deref(), progress.clone())
                .await?
            {
                Ok(app) => break app,
                Err(e) if e.code() == Some(&ErrorCode::KeepCalm) && tries < 2 => {
                    tokio::time::sleep(UPLOAD_GAP + std::time::Duration::from_millis(500)).await;
                }
                Err(e) => return Err(upload_error(e, file)),
            }
        };
        // Listed from now on (a failed read only delays that; the application exists).
        let _ = self.refresh().await;
        Ok(made)
    }

    async fn send_new_app(
        &self,
        plan: &NewAppPlan,
        key: Option<&SealIdentity>,
        progress: CommitProgress,
    ) -> Result<Result<UploadedApp, ApiError>, EngineError> {
        if !plan.sealed {
            return Ok(self.client().upload_app(&plan.file, progress).await);
        }
        let key = key.ok_or_else(|| EngineError::PutBackNoKey {
            path: plan.file.clone(),
        })?;
        let r = seal::open_reader(&plan.file, key).map_err(|e| EngineError::PutBackBadFile {
            path: plan.file.clone(),
            detail: e.to_string(),
        })?;
        // Sent under the zip's own name (`X.zip`, not `X.zip.age`).
        let name = plan
            .file
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "app.zip".into());
        Ok(self
            .client()
            .upload_app_reader(name, plan.size, Box::new(r), progress)
            .await)
    }
}

/// The configuration's `DISPLAY_NAME` and `MEMORY` (MB) at the zip's root.
fn read_config(file: &Path, key: Option<&SealIdentity>) -> Result<(String, u64), EngineError> {
    let bad = |detail: String| EngineError::PutBackBadFile {
        path: file.to_path_buf(),
        detail,
    };
    let text = match key.filter(|_| seal::looks_sealed(file).unwrap_or(false)) {
        Some(key) => {
            let r = seal::open_reader(file, key).map_err(|e| bad(e.to_string()))?;
            config_text(r)
        }
        None => config_text(std::fs::File::open(file).map_err(|e| bad(e.to_string()))?),
    }
    .map_err(|e| bad(e.to_string()))?;
    let no_config = || EngineError::NewAppNoConfig {
        path: file.to_path_buf(),
    };
    let text = text.ok_or_else(no_config)?;
    let get = |key: &str| config_value(&text, key);
    let name = get("DISPLAY_NAME").ok_or_else(no_config)?;
    let memory = get("MEMORY")
        .and_then(|m| m.parse().ok())
        .ok_or_else(no_config)?;
    Ok((name, memory))
}

/// The text of the configuration at the root of the zip read from `r`, if it has one.
fn config_text<R: Read + std::io::Seek>(r: R) -> Result<Option<String>, zip::result::ZipError> {
    let mut zip = zip::ZipArchive::new(r)?;
    for name in CONFIG_NAMES {
        let Ok(mut entry) = zip.by_name(name) else {
            continue;
        };
        let mut text = String::new();
        // A configuration is a few lines: more than 64 KiB is not one.
        entry.by_ref().take(64 << 10).read_to_string(&mut text)?;
        return Ok(Some(text));
    }
    Ok(None)
}

/// A failed upload of `file` in the engine's words.
fn upload_error(e: ApiError, file: &Path) -> EngineError {
    upload_failed(e, file, EngineError::NewAppUnknown, |code, message| {
        EngineError::NewAppRefused { code, message }
    })
}
