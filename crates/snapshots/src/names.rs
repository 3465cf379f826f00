//! File names that are safe on Windows, macOS and Linux whatever a resource is called.

use chrono::{DateTime, Utc};

/// Windows device names (with any extension, and with spaces before it: `CON .txt`).
fn is_reserved(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or("").trim_end_matches(' ');
    let upper = stem.to_uppercase();
    if matches!(
        upper.as_str(),
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$"
    ) {
        return true;
    }
    let mut chars = upper.chars();
    let prefix: String = chars.by_ref().take(3).collect();
    let rest: String = chars.collect();
    (prefix == "COM" || prefix == "LPT")
        && matches!(
            rest.as_str(),
            "0" | "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" | "¹" | "²" | "³"
        )
}

/// The path as the file system resolves it (`std::fs::canonicalize`), but on Windows in
/// the plain form (`C:\Users\…`) rather than the whole one (`\\?\C:\Users\…`) the
/// standard library gives, whenever the plain form names the same file: that is the form a
/// person gave and reads, and a path kept in a library or the settings compares equal to
/// the folder it was given as. Elsewhere the same as `canonicalize`.
pub fn canonical(path: &std::path::Path) -> std::io::Result<std::path::PathBuf> {
    let p = std::fs::canonicalize(path)?;
    if cfg!(windows)
        && let Some(plain) = p.to_str().and_then(plain_form)
    {
        return Ok(plain.into());
    }
    Ok(p)
}

/// The plain form of a whole (`\\?\`) Windows drive path, when it means the same: under
/// 260 characters, and no part that Windows would read otherwise (a device name, a dot or
/// space at the end, `.` or `..`, a `/`).
fn plain_form(whole: &str) -> Option<&str> {
    let rest = whole.strip_prefix(r"\\?\")?;
    let b = rest.as_bytes();
    let drive = b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\';
    if !drive || rest.chars().count() >= 260 {
        return None;
    }
    let parts = &rest[3..];
    let fine = parts.is_empty()
        || parts.split('\\').all(|c| {
            !c.is_empty()
                && c != "."
                && c != ".."
                && !c.ends_with(['.', ' '])
                && !c.contains('/')
                && !is_reserved(c)
        });
    fine.then_some(rest)
}

/// The longest a sanitised name may be, in bytes: with `_<id>_<time>.zip.part` and a
/// ` (N)` for a second copy the whole file name stays far below the 255 bytes every file
/// system allows.
pub const MAX_NAME_BYTES: usize = 120;

/// A resource name made safe as one path component: no separators, no `..`, no characters
/// Windows forbids, no control characters, no trailing dots or spaces, not a reserved device
/// name, at most [`MAX_NAME_BYTES`] bytes (cut at a character boundary). Letters with
/// accents and emoji are kept.
pub fn sanitize(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| match c {
            '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*' => '-',
            c if c.is_control() => '-',
            c => c,
        })
        .collect();
    // Collapse runs of separators and dots so `../../etc` cannot survive in any form.
    while out.contains("..") {
        out = out.replace("..", ".");
    }
    let out: String = out
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_matches(|c: char| c == '.' || c == ' ' || c == '-')
        .chars()
        .scan(0usize, |bytes, c| {
            *bytes += c.len_utf8();
            (*bytes <= MAX_NAME_BYTES).then_some(c)
        })
        .collect();
    let out = out.trim_end_matches(['.', ' ']).to_string();
    if out.is_empty() {
        "snapshot".into()
    } else if is_reserved(&out) {
        // `_` before any extension: `CON.txt` → `CON_.txt`, `COM¹` → `COM¹_`.
        match out.split_once('.') {
            Some((stem, ext)) => format!("{}_.{ext}", stem.trim_end_matches(' ')),
            None => format!("{out}_"),
        }
    } else {
        out
    }
}

/// Whether a character must never reach a terminal or a notification raw: the control
/// characters (C0 with tab and newline, DEL, C1: an escape sequence, a bell or a newline
/// could repaint the terminal, set its title or forge a line), the bidirectional
/// embeddings, overrides and isolates (which reorder what follows: `gpj.exe` shown as
/// `exe.jpg`) and the bidirectional marks, and the line and paragraph separators.
pub fn is_terminal_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// A name (or any text from a server) as it may be shown on a terminal or in a
/// notification: every [`is_terminal_unsafe`] character becomes `�`.
pub fn printable(name: &str) -> String {
    name.chars()
        .map(|c| if is_terminal_unsafe(c) { '\u{FFFD}' } else { c })
        .collect()
}

/// `<name>_<id>_<UTC yyyymmddThhmmssZ>.zip`. The whole id (Square Cloud's are 32 hex
/// digits) keeps two resources' files apart even when their names and snapshot times are
/// the same; an id that is not 1–32 letters and digits is written as its first 8 letters
/// and digits and 16 hex digits of its SHA-256.
pub fn snapshot_file_name(resource_name: &str, resource_id: &str, taken: DateTime<Utc>) -> String {
    format!(
        "{}_{}_{}.zip",
        sanitize(resource_name),
        id_part(resource_id),
        taken.format("%Y%m%dT%H%M%SZ")
    )
}

fn id_part(id: &str) -> String {
    if (1..=32).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return id.to_string();
    }
    use sha2::Digest;
    let hash = sha2::Sha256::digest(id.as_bytes());
    let start: String = id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect();
    let hex: String = hash[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{start}{hex}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_whole_windows_path_is_made_plain_only_when_it_means_the_same() {
        use super::plain_form;
        assert_eq!(
            plain_form(r"\\?\C:\Users\Zé\backups"),
            Some(r"C:\Users\Zé\backups")
        );
        assert_eq!(plain_form(r"\\?\D:\"), Some(r"D:\"));
        for kept in [
            r"\\?\C:\backups\CON",
            r"\\?\C:\backups\lpt1.txt",
            r"\\?\C:\backups\ends in a dot.",
            r"\\?\C:\backups\ends in a space ",
            r"\\?\C:\a\..\b",
            r"\\?\C:\a/b",
            r"\\?\C:\a\\b",
            r"\\?\UNC\server\share\b",
            r"C:\Users",
            "/home/user",
        ] {
            assert_eq!(plain_form(kept), None, "{kept}");
        }
        let long = format!(r"\\?\C:\{}", "a".repeat(300));
        assert_eq!(plain_form(&long), None);
    }

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hostile_and_awkward_names() {
        assert_eq!(sanitize("../../etc/passwd"), "etc-passwd");
        assert_eq!(sanitize("CON"), "CON_");
        assert_eq!(sanitize("con.txt"), "con_.txt");
        for name in [
            "COM0",
            "LPT0",
            "COM¹",
            "LPT³",
            "CONIN$",
            "conout$",
            "CON .x",
            "nul.tar.gz",
        ] {
            assert!(
                !is_reserved(&sanitize(name)),
                "{name} -> {}",
                sanitize(name)
            );
        }
        // 56 four-byte emoji: the whole file name, `.part` included, fits in 255 bytes.
        let rockets = "🚀".repeat(56);
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let part = format!(
            "{}.part",
            snapshot_file_name(&rockets, "0f1e2d3c4b5a6978", t0)
        );
        assert!(part.len() <= 255, "{} bytes", part.len());
        assert_eq!(sanitize("Meu Site: Portfólio"), "Meu Site- Portfólio");
        assert_eq!(sanitize("🚀 rocket-api"), "🚀 rocket-api");
        assert_eq!(sanitize("   "), "snapshot");
        assert_eq!(sanitize("a\u{0}b\nc"), "a-b-c");
        let t = DateTime::parse_from_rfc3339("2026-11-24T10:03:04Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            snapshot_file_name("Loja São João", "1a2b3c4d5e6f708192a3b4c5d6e7f809", t),
            "Loja São João_1a2b3c4d5e6f708192a3b4c5d6e7f809_20261124T100304Z.zip"
        );
        // Not an id Square Cloud gives: its letters and digits, then a hash of the whole.
        let odd = snapshot_file_name("x", "../../etc/passwd", t);
        assert!(
            odd.starts_with("x_etcpassw")
                && odd.len() == "x_etcpassw_20261124T100304Z.zip".len() + 16,
            "{odd}"
        );
    }

    #[test]
    fn printable_names_cannot_repaint_a_terminal() {
        assert_eq!(printable("a\u{1b}[2Jb"), "a\u{FFFD}[2Jb");
        assert_eq!(printable("x\u{202E}gpj.exe"), "x\u{FFFD}gpj.exe");
        assert_eq!(printable("Loja São João 🚀"), "Loja São João 🚀");
        // C1 (CSI as one character), DEL, bell, the bidi marks and a line separator.
        assert_eq!(
            printable("a\u{9b}31m\u{7f}\u{7}\u{200F}\u{061C}\u{2028}z"),
            "a\u{FFFD}31m\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}z"
        );
    }

    proptest! {
        #[test]
        fn any_name_gives_one_safe_component(name in ".{0,200}") {
            let s = sanitize(&name);
            prop_assert!(!s.is_empty());
            prop_assert!(s.len() <= MAX_NAME_BYTES + 1);
            prop_assert!(!s.contains(['/', '\\', ':', '*', '?', '"', '<', '>', '|']));
            prop_assert!(!s.contains(".."));
            prop_assert!(!s.chars().any(char::is_control));
            prop_assert!(!s.ends_with('.') && !s.ends_with(' '));
            prop_assert!(!is_reserved(&s));
            let p = std::path::Path::new(&s);
            prop_assert_eq!(p.components().count(), 1);
        }
    }
}
