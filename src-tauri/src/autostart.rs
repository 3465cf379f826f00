//! Start at login (off until the user turns it on), with `--minimized` so the app starts in
//! the tray. On Linux an XDG autostart entry in `$XDG_CONFIG_HOME/autostart` (the plugin's
//! crate ignores `XDG_CONFIG_HOME`); on macOS and Windows the autostart plugin.

#[cfg(target_os = "linux")]
mod imp {
    use std::path::PathBuf;

    /// `$XDG_CONFIG_HOME/autostart`.
    fn dir() -> Option<PathBuf> {
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
        Some(config.join("autostart"))
    }

    pub fn is_enabled<R: tauri::Runtime>(_: &tauri::AppHandle<R>) -> bool {
        dir().is_some_and(|d| super::enabled_in(&d))
    }

    pub fn set<R: tauri::Runtime>(_: &tauri::AppHandle<R>, on: bool) -> Result<(), String> {
        let dir = dir().ok_or("neither XDG_CONFIG_HOME nor HOME is set")?;
        super::set_in(&dir, on.then(exe).transpose()?.as_deref())
    }

    /// An AppImage is started through its own file, not the extracted binary.
    fn exe() -> Result<PathBuf, String> {
        std::env::var_os("APPIMAGE")
            .map(PathBuf::from)
            .or_else(|| std::env::current_exe().ok())
            .ok_or_else(|| "cannot tell where the app is".into())
    }

    /// At start: an entry an older release wrote under its old name is replaced by one
    /// under the app's id (or just removed, if the user had turned it off there).
    pub fn adopt_legacy() {
        let Some(dir) = dir() else { return };
        let adopted = exe().and_then(|exe| super::adopt_legacy_in(&dir, &exe));
        match adopted {
            Ok(true) => {
                eprintln!("square-snapshots: the start-at-login entry now has the app's id")
            }
            Ok(false) => {}
            Err(e) => eprintln!("square-snapshots: start at login: {e}"),
        }
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

    pub fn adopt_legacy() {}
}

pub use imp::{adopt_legacy, is_enabled, set};

/// The entry's file name: the app's id.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn entry_name() -> String {
    format!("{}.desktop", crate::appid::ID)
}

/// The name releases before the app's id wrote the entry under.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
const LEGACY_NAME: &str = "square-snapshots.desktop";

/// Whether an entry in `dir` starts the app at login: ours, or one an older release wrote
/// that the user has not turned off.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn enabled_in(dir: &std::path::Path) -> bool {
    dir.join(entry_name()).exists() || legacy_enabled(&dir.join(LEGACY_NAME))
}

/// An older release's entry, unless missing or turned off in it (`Hidden=true`, or GNOME's
/// `X-GNOME-Autostart-enabled=false`, which settings tools write).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn legacy_enabled(path: &std::path::Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|text| {
        !text
            .lines()
            .any(|l| matches!(l.trim(), "Hidden=true" | "X-GNOME-Autostart-enabled=false"))
    })
}

/// Writes the entry starting `exe` in `dir` (`Some`), or removes it (`None`); either way an
/// older release's entry is removed, so there is only ever one.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn set_in(dir: &std::path::Path, exe: Option<&std::path::Path>) -> Result<(), String> {
    let remove = |path: std::path::PathBuf| match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
        _ => Ok(()),
    };
    if let Some(exe) = exe {
        let text = desktop_entry(exe)?;
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        snapshots::store::write_text_atomic(&dir.join(entry_name()), &text)
            .map_err(|e| e.to_string())?;
    } else {
        remove(dir.join(entry_name()))?;
    }
    remove(dir.join(LEGACY_NAME))
}

/// Replaces an older release's entry in `dir` by one under the app's id starting `exe`
/// (or removes it when it was turned off); true when there was one.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn adopt_legacy_in(dir: &std::path::Path, exe: &std::path::Path) -> Result<bool, String> {
    let legacy = dir.join(LEGACY_NAME);
    if !legacy.exists() {
        return Ok(false);
    }
    let keep_on = legacy_enabled(&legacy) || dir.join(entry_name()).exists();
    set_in(dir, keep_on.then_some(exe))?;
    Ok(true)
}

/// The autostart entry that starts `exe` in the tray.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn desktop_entry(exe: &std::path::Path) -> Result<String, String> {
    Ok(format!(
        "[Desktop Entry]\nType=Application\nName=Square Snapshots\n\
         Comment=Keeps Square Cloud snapshots safe on your own disk\n\
         Exec={} --minimized\nIcon={}\nTerminal=false\n\
         X-GNOME-Autostart-enabled=true\n",
        exec_argument(exe)?,
        crate::appid::ID
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

    /// An entry an older release wrote under its old name gives way to one under the id:
    /// at start (kept on, or dropped when the user had turned it off) and whenever start at
    /// login is set.
    #[test]
    fn the_old_name_gives_way_to_the_id() {
        let dir = tempfile::tempdir().unwrap();
        let (d, exe) = (
            dir.path(),
            std::path::Path::new("/usr/bin/square-snapshots"),
        );
        let (new, old) = (d.join(entry_name()), d.join(LEGACY_NAME));
        assert_eq!(entry_name(), "app.squaresnapshots.SquareSnapshots.desktop");
        assert!(!adopt_legacy_in(d, exe).unwrap() && !enabled_in(d));

        std::fs::write(
            &old,
            "[Desktop Entry]\nExec=/usr/bin/square-snapshots --minimized\n",
        )
        .unwrap();
        assert!(enabled_in(d));
        assert!(adopt_legacy_in(d, exe).unwrap());
        assert!(!old.exists() && enabled_in(d));
        let text = std::fs::read_to_string(&new).unwrap();
        assert!(
            text.contains("Icon=app.squaresnapshots.SquareSnapshots\n"),
            "{text}"
        );
        assert_eq!(exec_of(&text), ["/usr/bin/square-snapshots", "--minimized"]);

        // Turned off in the old file: it goes, and nothing starts at login.
        std::fs::remove_file(&new).unwrap();
        std::fs::write(&old, "[Desktop Entry]\nX-GNOME-Autostart-enabled=false\n").unwrap();
        assert!(!enabled_in(d));
        assert!(adopt_legacy_in(d, exe).unwrap());
        assert!(!old.exists() && !new.exists());

        // Setting it, on or off, leaves no old file beside.
        for on in [true, false] {
            std::fs::write(&old, "[Desktop Entry]\n").unwrap();
            set_in(d, on.then_some(exe)).unwrap();
            assert!(!old.exists());
            assert_eq!(new.exists(), on);
            assert_eq!(enabled_in(d), on);
        }
    }
}
