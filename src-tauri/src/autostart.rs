//! Start at login (off until the user turns it on), with `--minimized` so the app starts in
//! the tray. On Linux an XDG autostart entry in `$XDG_CONFIG_HOME/autostart` (the plugin's
//! crate ignores `XDG_CONFIG_HOME`); on macOS and Windows the autostart plugin.

#[cfg(target_os = "linux")]
mod imp {
    use std::path::PathBuf;

    fn entry() -> Option<PathBuf> {
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
        Some(config.join("autostart").join("square-snapshots.desktop"))
    }

    pub fn is_enabled<R: tauri::Runtime>(_: &tauri::AppHandle<R>) -> bool {
        entry().is_some_and(|p| p.exists())
    }

    pub fn set<R: tauri::Runtime>(_: &tauri::AppHandle<R>, on: bool) -> Result<(), String> {
        let path = entry().ok_or("neither XDG_CONFIG_HOME nor HOME is set")?;
        if !on {
            return match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
                _ => Ok(()),
            };
        }
        // An AppImage is started through its own file, not the extracted binary.
        let exe = std::env::var_os("APPIMAGE")
            .map(PathBuf::from)
            .or_else(|| std::env::current_exe().ok())
            .ok_or("cannot tell where the app is")?;
        let exe = exe
            .display()
            .to_string()
            .replace('\\', "\\\\")
            .replace('"', "\\\"");
        let text = format!(
            "[Desktop Entry]\nType=Application\nName=Square Snapshots\n\
             Comment=Keeps Square Cloud snapshots safe on your own disk\n\
             Exec=\"{exe}\" --minimized\nIcon=square-snapshots\nTerminal=false\n\
             X-GNOME-Autostart-enabled=true\n"
        );
        let dir = path.parent().expect("a file in a folder");
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        snapshots::store::write_text_atomic(&path, &text).map_err(|e| e.to_string())
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use tauri_plugin_autostart::ManagerExt;

    pub fn is_enabled<R: tauri::Runtime>(app: &tauri::AppHandle<R>) -> bool {
        app.autolaunch().is_enabled().unwrap_or(false)
    }

    pub fn set<R: tauri::Runtime>(app: &tauri::AppHandle<R>, on: bool) -> Result<(), String> {
        let a = app.autolaunch();
        if on { a.enable() } else { a.disable() }.map_err(|e| e.to_string())
    }
}

pub use imp::{is_enabled, set};

/// The plugin, where it is used.
pub fn plugin<R: tauri::Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    #[cfg(not(target_os = "linux"))]
    let builder = builder.plugin(tauri_plugin_autostart::init(
        tauri_plugin_autostart::MacosLauncher::LaunchAgent,
        Some(vec!["--minimized"]),
    ));
    builder
}
