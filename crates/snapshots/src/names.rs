//! File names that are safe on Windows, macOS and Linux whatever a resource is called.

use chrono::{DateTime, Utc};

const RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// A resource name made safe as one path component: no separators, no `..`, no characters
/// Windows forbids, no control characters, no trailing dots or spaces, not a reserved device
/// name, at most 60 characters. Letters with accents and emoji are kept.
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
        .take(60)
        .collect();
    let out = out.trim_end_matches(['.', ' ']).to_string();
    let stem = out.split('.').next().unwrap_or("").to_ascii_uppercase();
    if out.is_empty() {
        "snapshot".into()
    } else if RESERVED.contains(&stem.as_str()) {
        format!("{out}_")
    } else {
        out
    }
}

/// `<name>_<id prefix>_<UTC yyyymmddThhmmssZ>.zip`.
pub fn snapshot_file_name(resource_name: &str, resource_id: &str, taken: DateTime<Utc>) -> String {
    let id: String = resource_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect();
    format!(
        "{}_{}_{}.zip",
        sanitize(resource_name),
        if id.is_empty() { "x".into() } else { id },
        taken.format("%Y%m%dT%H%M%SZ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hostile_and_awkward_names() {
        assert_eq!(sanitize("../../etc/passwd"), "etc-passwd");
        assert_eq!(sanitize("CON"), "CON_");
        assert_eq!(sanitize("con.txt"), "con.txt_");
        assert_eq!(sanitize("Meu Site: Portfólio"), "Meu Site- Portfólio");
        assert_eq!(sanitize("🚀 rocket-api"), "🚀 rocket-api");
        assert_eq!(sanitize("   "), "snapshot");
        assert_eq!(sanitize("a\u{0}b\nc"), "a-b-c");
        let t = DateTime::parse_from_rfc3339("2026-11-24T10:03:04Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            snapshot_file_name("Loja São João", "1a2b3c4d5e6f7081", t),
            "Loja São João_1a2b3c4d_20261124T100304Z.zip"
        );
    }

    proptest! {
        #[test]
        fn any_name_gives_one_safe_component(name in ".{0,200}") {
            let s = sanitize(&name);
            prop_assert!(!s.is_empty());
            prop_assert!(s.chars().count() <= 61);
            prop_assert!(!s.contains(['/', '\\', ':', '*', '?', '"', '<', '>', '|']));
            prop_assert!(!s.contains(".."));
            prop_assert!(!s.chars().any(char::is_control));
            prop_assert!(!s.ends_with('.') && !s.ends_with(' '));
            let stem = s.split('.').next().unwrap().to_ascii_uppercase();
            prop_assert!(!RESERVED.contains(&stem.as_str()));
            let p = std::path::Path::new(&s);
            prop_assert_eq!(p.components().count(), 1);
        }
    }
}
