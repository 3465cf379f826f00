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
        let text = super::desktop_entry(&exe)?;
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

/// The autostart entry that starts `exe` in the tray.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn desktop_entry(exe: &std::path::Path) -> Result<String, String> {
    Ok(format!(
        "[Desktop Entry]\nType=Application\nName=Square Snapshots\n\
         Comment=Keeps Square Cloud snapshots safe on your own disk\n\
         Exec={} --minimized\nIcon=square-snapshots\nTerminal=false\n\
         X-GNOME-Autostart-enabled=true\n",
        exec_argument(exe)?
    ))
}

/// A path as one argument of a desktop entry's `Exec` key, by the Desktop Entry
/// Specification: in double quotes, with `"`, `` ` ``, `$` and `\` escaped by a backslash
/// inside them ("Exec key"), `%` written `%%` (a field code otherwise); then written as a
/// value of type string, whose own escapes are applied first when it is read: `\` as `\\`,
/// a line break as `\n`, a tab as `\t`, a carriage return as `\r`. Other control
/// characters cannot be in a desktop entry, nor can a path that is not UTF-8: refused, with
/// why.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn exec_argument(exe: &std::path::Path) -> Result<String, String> {
    let path = exe.to_str().ok_or_else(|| {
        format!(
            "the app's path {} is not valid UTF-8, which a desktop entry cannot hold; start at login was not turned on (move the app to a plain folder)",
            exe.display()
        )
    })?;
    if let Some(c) = path
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
    {
        return Err(format!(
            "the app's path {} holds the control character U+{:04X}, which a desktop entry cannot hold; start at login was not turned on (move the app to a plain folder)",
            path.escape_debug(),
            c as u32
        ));
    }
    // The Exec key's quoting.
    let mut quoted = String::from("\"");
    for c in path.chars() {
        match c {
            '"' | '`' | '$' | '\\' => {
                quoted.push('\\');
                quoted.push(c);
            }
            '%' => quoted.push_str("%%"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    // The string type's escapes.
    let mut value = String::with_capacity(quoted.len());
    for c in quoted.chars() {
        match c {
            '\\' => value.push_str("\\\\"),
            '\n' => value.push_str("\\n"),
            '\t' => value.push_str("\\t"),
            '\r' => value.push_str("\\r"),
            c => value.push(c),
        }
    }
    Ok(value)
}

/// The plugin, where it is used.
pub fn plugin<R: tauri::Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    #[cfg(not(target_os = "linux"))]
    let builder = builder.plugin(tauri_plugin_autostart::init(
        tauri_plugin_autostart::MacosLauncher::LaunchAgent,
        Some(vec!["--minimized"]),
    ));
    builder
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A desktop entry value of type string, unescaped (`\s`, `\n`, `\t`, `\r`, `\\`).
    fn unescape_string(v: &str) -> String {
        let mut out = String::new();
        let mut chars = v.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('s') => out.push(' '),
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('\\') => out.push('\\'),
                other => panic!("not a string escape: \\{other:?} in {v:?}"),
            }
        }
        out
    }

    /// The arguments of an `Exec` value (already unescaped as a string): words split on
    /// spaces, double-quoted words with `\"`, `` \` ``, `\$`, `\\` inside, `%%` a `%`. A
    /// reserved character outside quotes is an error, as the specification says.
    fn exec_args(exec: &str) -> Vec<String> {
        let mut args = Vec::new();
        let mut chars = exec.chars().peekable();
        loop {
            while chars.peek() == Some(&' ') {
                chars.next();
            }
            let Some(&first) = chars.peek() else { break };
            let mut arg = String::new();
            if first == '"' {
                chars.next();
                loop {
                    match chars.next().expect("an unterminated quote") {
                        '"' => break,
                        '\\' => {
                            let e = chars.next().expect("a backslash at the end");
                            assert!("\"`$\\".contains(e), "\\{e} in quotes");
                            arg.push(e);
                        }
                        '%' => {
                            assert_eq!(chars.next(), Some('%'), "a field code in quotes");
                            arg.push('%');
                        }
                        c => arg.push(c),
                    }
                }
                assert!(
                    matches!(chars.peek(), None | Some(' ')),
                    "text right after a quote"
                );
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ' ' {
                        break;
                    }
                    assert!(
                        !"\t\n\"'\\><~|&;$*?#()`".contains(c),
                        "{c:?} unquoted in {exec:?}"
                    );
                    chars.next();
                    if c == '%' {
                        assert_eq!(chars.next(), Some('%'), "a field code");
                    }
                    arg.push(c);
                }
            }
            args.push(arg);
        }
        args
    }

    fn exec_of(entry: &str) -> Vec<String> {
        let lines: Vec<&str> = entry.lines().collect();
        assert_eq!(lines.len(), 8, "one key a line: {entry:?}");
        let value = lines
            .iter()
            .find_map(|l| l.strip_prefix("Exec="))
            .expect("an Exec line");
        exec_args(&unescape_string(value))
    }

    #[test]
    fn awkward_paths_read_back_as_the_same_program() {
        for path in [
            "/opt/Square Snapshots/square-snapshots",
            "/home/ana/a $HOME `id` 100%u \"q\" back\\slash/square-snapshots",
            "/home/ze/new\nline/tab\there/square-snapshots",
            "/home/o'neil/café; rm -rf ~ &/#(x)*?/square-snapshots",
        ] {
            let entry = desktop_entry(std::path::Path::new(path)).unwrap();
            assert_eq!(
                exec_of(&entry),
                vec![path.to_string(), "--minimized".to_string()],
                "{entry}"
            );
        }
    }

    #[test]
    fn a_path_a_desktop_entry_cannot_hold_is_refused_with_why() {
        let e = desktop_entry(std::path::Path::new("/home/x/a\u{1}b/app")).unwrap_err();
        assert!(e.contains("U+0001") && e.contains("not turned on"), "{e}");
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let bad = std::ffi::OsStr::from_bytes(b"/home/x/\xff/app");
            let e = desktop_entry(std::path::Path::new(bad)).unwrap_err();
            assert!(e.contains("UTF-8"), "{e}");
        }
    }
}
