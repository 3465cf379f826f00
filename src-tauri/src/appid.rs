//! The app's one reverse-DNS id: the desktop entry is `<ID>.desktop`, the icon `<ID>`, the
//! AppStream component `<ID>`, the autostart entry `<ID>.desktop`, the notifications'
//! `desktop-entry` hint, the tray's id and Tauri's `identifier` (a test holds
//! `tauri.conf.json` to it).
//!
//! Releases before it used `app.squaresnapshots.desktop` as Tauri's identifier, and Tauri
//! names two folders after the identifier: the window-state plugin's (size and position,
//! in the config dir) and the webview's storage (the window's theme and language, in the
//! local data dir). Both move to the new name once, before anything reads them (a plugin
//! registered between the single-instance and window-state plugins). The engine's data dir
//! and the keychain items never depended on the identifier and keep their names.
//!
//! The single-instance plugin keeps the old D-Bus name (`<LEGACY_ID>.SingleInstance`): an
//! instance of the old release still running after an upgrade owns it, so launching the
//! new one shows that window instead of starting a second app on the same data.

use std::path::Path;

/// The application id (reverse DNS, a valid D-Bus well-known name).
pub const ID: &str = "app.squaresnapshots.SquareSnapshots";

/// Tauri's identifier before [`ID`].
pub const LEGACY_ID: &str = "app.squaresnapshots.desktop";

/// Moves `old` to `new` when only `old` exists; true when it moved. A `new` that exists
/// already wins, and `old` is left as it is (nothing is merged or lost).
fn move_dir(old: &Path, new: &Path) -> std::io::Result<bool> {
    if new.exists() || !old.is_dir() {
        return Ok(false);
    }
    if let Some(parent) = new.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::rename(old, new)?;
    Ok(true)
}

/// Moves the folders Tauri named after [`LEGACY_ID`] to their [`ID`] names.
pub fn plugin<R: tauri::Runtime>() -> tauri::plugin::TauriPlugin<R> {
    use tauri::Manager;
    tauri::plugin::Builder::new("appid-move")
        .setup(|app, _| {
            let path = app.path();
            for dir in [path.app_config_dir(), path.app_local_data_dir()]
                .into_iter()
                .flatten()
            {
                let Some(parent) = dir.parent() else { continue };
                let old = parent.join(LEGACY_ID);
                match move_dir(&old, &dir) {
                    Ok(true) => eprintln!(
                        "square-snapshots: moved {} to {}",
                        old.display(),
                        dir.display()
                    ),
                    Ok(false) => {}
                    Err(e) => eprintln!(
                        "square-snapshots: could not move {} to {}: {e}",
                        old.display(),
                        dir.display()
                    ),
                }
            }
            Ok(())
        })
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tauri_conf_uses_the_id() {
        let conf: serde_json::Value =
            serde_json::from_str(include_str!("../../tauri.conf.json")).unwrap();
        assert_eq!(conf["identifier"], ID);
    }

    #[test]
    fn the_legacy_folder_moves_once_and_never_over_a_new_one() {
        let root = tempfile::tempdir().unwrap();
        let (old, new) = (root.path().join(LEGACY_ID), root.path().join(ID));
        std::fs::create_dir(&old).unwrap();
        std::fs::write(old.join(".window-state.json"), "{}").unwrap();
        assert!(move_dir(&old, &new).unwrap());
        assert!(new.join(".window-state.json").exists() && !old.exists());
        // Nothing to move the second time.
        assert!(!move_dir(&old, &new).unwrap());
        // Both there (the old release ran again after the move): the new one wins.
        std::fs::create_dir(&old).unwrap();
        std::fs::write(old.join("x"), "old").unwrap();
        assert!(!move_dir(&old, &new).unwrap());
        assert!(old.join("x").exists() && !new.join("x").exists());
    }
}
