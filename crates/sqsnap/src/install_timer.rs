//! `sqsnap plan install-timer`: a systemd user service and timer that run `sqsnap run-due`
//! every 15 minutes, with the key handed over by systemd when it is in a file.

use crate::exit::{Fail, Said};
use crate::key::{CREDENTIAL, KeySource, read_key_file};
use crate::say::Out;
use crate::words;
use std::path::PathBuf;

/// Writes `sqsnap-run-due.service` and `.timer` for the user's systemd. With a key file
/// (`--key-file`), the service gets the key through `LoadCredential=`: never in the unit,
/// the environment or a process's arguments.
pub fn run(out: &Out, key_file: Option<&std::path::Path>) -> Result<(), Fail> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .ok_or_else(|| Fail::says(7, |w| w.timer_no_home, &[]))?;
    let dir = config.join("systemd/user");
    let exe = std::env::current_exe().map_err(|e| Fail::coded(7, "disk", e.to_string()))?;
    let (service, credential) = service(&exe, key_file)?;
    let timer = "[Unit]\nDescription=Square Snapshots: check the plans every 15 minutes\n\n[Timer]\nOnBootSec=3min\nOnCalendar=*:0/15\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n";
    std::fs::create_dir_all(&dir)
        .map_err(|e| Fail::coded(7, "folder", format!("{}: {e}", dir.display())))?;
    for (name, text) in [
        ("sqsnap-run-due.service", service.as_str()),
        ("sqsnap-run-due.timer", timer),
    ] {
        snapshots::store::write_text_atomic(&dir.join(name), text)
            .map_err(|e| Fail::coded(7, "disk", format!("{}: {e}", dir.join(name).display())))?;
    }
    say_how_to_start(out, &dir, credential.as_deref());
    Ok(())
}

/// A path as a systemd unit can name it: valid UTF-8.
fn unit_text(what: Said, path: &std::path::Path) -> Result<String, Fail> {
    path.to_str()
        .map(str::to_owned)
        .ok_or_else(|| Fail::says(2, what, &[("path", &path.display())]))
}

/// The service unit running `exe run-due`, and the key file it loads (canonical), if any.
fn service(
    exe: &std::path::Path,
    key_file: Option<&std::path::Path>,
) -> Result<(String, Option<PathBuf>), Fail> {
    let mut service = String::from(
        "[Unit]\nDescription=Square Snapshots: run the plans that are due\nWants=network-online.target\nAfter=network-online.target\n\n[Service]\nType=oneshot\n",
    );
    if let Some(d) = std::env::var_os("SQSNAP_DATA_DIR").filter(|d| !d.is_empty()) {
        let d = std::path::absolute(PathBuf::from(d))
            .map_err(|e| Fail::coded(7, "folder", e.to_string()))?;
        let d = unit_text(|w| w.not_utf8_data, &d)?;
        service.push_str(&format!(
            "Environment={}\n",
            systemd_quote(&format!("SQSNAP_DATA_DIR={d}"))
        ));
    }
    let credential = match key_file {
        Some(path) => {
            let (line, path) = credential_line(path)?;
            service.push_str(&line);
            Some(path)
        }
        None => None,
    };
    service.push_str(&exec_line(exe)?);
    Ok((service, credential))
}

/// `LoadCredential=` for a key file that passes the checks it will meet when used.
fn credential_line(path: &std::path::Path) -> Result<(String, PathBuf), Fail> {
    // The same checks as when it is used, now rather than at 3 in the morning.
    read_key_file(path, KeySource::File)?;
    let path = std::fs::canonicalize(path)
        .map_err(|e| Fail::coded(7, "disk", format!("{}: {e}", path.display())))?;
    let text = unit_text(|w| w.not_utf8_key, &path)?;
    if text.chars().any(char::is_control) || text.ends_with([' ', '\\']) {
        return Err(Fail::says(
            2,
            |w| w.bad_key_path,
            &[("path", &path.display())],
        ));
    }
    let line = format!("LoadCredential={CREDENTIAL}:{}\n", text.replace('%', "%%"));
    Ok((line, path))
}

/// `ExecStart=` for this program's `run-due`.
fn exec_line(exe: &std::path::Path) -> Result<String, Fail> {
    let exe_text = unit_text(|w| w.not_utf8_program, exe)?;
    // systemd refuses to start a program whose path has these, however it is written.
    if exe_text
        .chars()
        .any(|c| c.is_control() || matches!(c, '"' | '\'' | '\\'))
    {
        return Err(Fail::says(
            2,
            |w| w.bad_exe_path,
            &[("path", &exe.display())],
        ));
    }
    // `:`: no variable is expanded in this command line, so a `$` in the path stays one.
    Ok(format!("ExecStart=:{} run-due\n", systemd_quote(&exe_text)))
}

fn say_how_to_start(out: &Out, dir: &std::path::Path, credential: Option<&std::path::Path>) {
    let w = words::w();
    out.emit(
        words::fill(w.timer_wrote, &[("dir", &dir.display())]),
        serde_json::json!({"dir": dir, "key_file": credential}),
    );
    out.human(
        "  systemctl --user daemon-reload && systemctl --user enable --now sqsnap-run-due.timer",
    );
    out.human(w.timer_linger);
    match credential {
        Some(path) => out.human(words::fill(
            w.timer_credential,
            &[("path", &path.display())],
        )),
        None => out.human(w.timer_keychain),
    }
}

/// One word of a systemd unit line, quoted as systemd reads `Environment=` and `ExecStart=`
/// (systemd.syntax(7), "Quoting"; systemd.service(5), "Command lines"): in double quotes,
/// `\\` and `"` escaped, control characters (a line break) as C escapes, `%` doubled (a
/// specifier otherwise). `$` means nothing in `Environment=`, nor in a command line that
/// starts with `:`.
fn systemd_quote(word: &str) -> String {
    let mut q = String::from("\"");
    for c in word.chars() {
        match c {
            '\\' => q.push_str("\\\\"),
            '"' => q.push_str("\\\""),
            '%' => q.push_str("%%"),
            '\n' => q.push_str("\\n"),
            '\t' => q.push_str("\\t"),
            c if c.is_control() => {
                let n = c as u32;
                if n < 0x80 {
                    q.push_str(&format!("\\x{n:02x}"));
                } else {
                    q.push_str(&format!("\\u{n:04x}"));
                }
            }
            c => q.push(c),
        }
    }
    q.push('"');
    q
}
