//! Encrypted copies on this computer, for the window: each folder's choice, turning it on
//! or off (on needs the lost-key warning confirmed while no recovery key was written: the
//! engine refuses otherwise), and writing the recovery key where the native save dialog
//! says. Thin: the rules are the engine's. The passphrase goes from the window straight to
//! the engine and is never logged, kept or sent back.

use crate::commands::engine;
use crate::error::UiError;
use crate::state::AppState;
use snapshots::seal::folders::{FolderEncryption, shown_folders};
use snapshots::{EngineError, engine::Encryption};
use std::path::PathBuf;
use tauri::State;

/// Each folder's choice, whether a recovery key was written, the passphrase's minimum.
#[tauri::command]
pub async fn get_encryption(state: State<'_, AppState>) -> Result<Encryption, UiError> {
    Ok(engine(&state).await?.encryption())
}

/// Turns encryption on or off for the copies made in one of the app's folders from now on.
/// `confirmed`: the window showed the lost-key warning and the person agreed.
#[tauri::command]
pub async fn set_folder_encrypts(
    state: State<'_, AppState>,
    path: PathBuf,
    on: bool,
    confirmed: bool,
) -> Result<FolderEncryption, UiError> {
    let e = engine(&state).await?;
    if !shown_folders(&e.settings()).contains(&path) {
        return Err(UiError::new(
            "folder",
            "That folder is not one the app keeps copies in; nothing was changed.",
        ));
    }
    Ok(e.set_folder_encrypts(&path, on, confirmed)?)
}

/// Writes the recovery key (the account's encryption key, protected by `passphrase`) where
/// the person chooses in the native save dialog; `None` when they closed it. A passphrase
/// the engine would refuse is refused before the dialog opens.
#[tauri::command]
pub async fn export_recovery_key(
    state: State<'_, AppState>,
    passphrase: String,
) -> Result<Option<PathBuf>, UiError> {
    let e = engine(&state).await?;
    snapshots::seal::identity::check_passphrase(&passphrase).map_err(EngineError::from)?;
    let name = snapshots::engine::recovery_file_name(&e.me().user.id);
    let picked = rfd::AsyncFileDialog::new()
        .set_title("Save the recovery key")
        .set_file_name(name.to_string_lossy())
        .save_file()
        .await;
    let Some(file) = picked else {
        return Ok(None);
    };
    let path = file.path().to_path_buf();
    e.export_recovery(&passphrase, &path)?;
    Ok(Some(path))
}
