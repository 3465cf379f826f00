//! Opens a folder in the desktop's file manager: for the window's Open folder and a
//! notification's action alike.

use std::path::Path;

/// Shows `p` with the system's opener (`xdg-open`, `open`, `explorer`).
pub fn open_path(p: &Path) -> std::io::Result<()> {
    let program = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    std::process::Command::new(program)
        .arg(p)
        .spawn()
        .map(|_| ())
}
