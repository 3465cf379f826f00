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
//! On Windows the same id is the AppUserModelID: the installer writes it on the Start menu
//! shortcut (`System.AppUserModel.ID`, packaging/windows/installer.nsi; Tauri's own NSIS
//! installer does the same with the identifier), the app gives it to its process at start
//! ([`set_windows_app_id`]), and notifications are shown under it ([`toast_app_id`]), so
//! Windows shows them with the app's name and icon and groups its windows as one app.
//!
//! The single-instance plugin keeps the old D-Bus name (`<LEGACY_ID>.SingleInstance`): an
//! instance of the old release still running after an upgrade owns it, so launching the
//! new one shows that window instead of starting a second app on the same data.

use std::path::Path;

/// The application id (reverse DNS, a valid D-Bus well-known name).
pub const ID: &str = "app.squaresnapshots.SquareSnapshots";

/// Tauri's identifier before [`ID`].
pub const LEGACY_ID: &str = "app.squaresnapshots.desktop";

/// Gives this process the app's AppUserModelID, before any window or notification exists
/// (Windows reads it when the first one is made). A failure is said on standard error; the
/// app runs on, grouped by Windows under its executable instead.
#[cfg(windows)]
pub fn set_windows_app_id() {
    let wide: Vec<u16> = ID.encode_utf16().chain([0]).collect();
    // SAFETY: a NUL-terminated UTF-16 string that outlives the call (Windows copies it).
    let hr = unsafe {
        windows_sys::Win32::UI::Shell::SetCurrentProcessExplicitAppUserModelID(wide.as_ptr())
    };
    if hr < 0 {
        eprintln!(
            "square-snapshots: SetCurrentProcessExplicitAppUserModelID({ID}) failed (0x{hr:08x})"
        );
    }
}

/// The AppUserModelID notifications are shown under on Windows: [`ID`], which the installed
/// app's Start menu shortcut carries. Windows shows a notification only for an id some Start
/// menu shortcut declares, so a debug build, which runs uninstalled, keeps notify-rust's
/// default (PowerShell's id) and its notifications still appear.
#[cfg(windows)]
pub fn toast_app_id() -> Option<&'static str> {
    (!cfg!(debug_assertions)).then_some(ID)
}

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
