//! An application's configuration file, `squarecloud.app` (or the older `squarecloud.config`)
//! at the root of its files: `KEY=VALUE` lines, `#` comments. Square Cloud needs one to
//! create an application from an upload (`POST /v2/apps`), so every application's snapshot
//! holds one, as a real application's files do; the simulator writes it, with a main file,
//! for the applications it starts with.
//!
//! Keys read (docs' configuration page, older upload codes of sdk-py 3.8.1 — confirmed as
//! names; which code each fault gets is inferred): `DISPLAY_NAME` (1 to 32 characters,
//! `MISSING_DISPLAY_NAME` / `INVALID_DISPLAY_NAME`), `MAIN` (the file started, which must
//! be in the upload: `MISSING_MAIN` / `INVALID_MAIN`), `MEMORY` (MB, at least 256:
//! `MISSING_MEMORY` / `INVALID_MEMORY`), and the optional `VERSION`, `DESCRIPTION`,
//! `SUBDOMAIN`.

use crate::zipgen::AppFiles;
use std::sync::Arc;

pub use squarecloud::appconfig::CONFIG_NAMES as NAMES;
use squarecloud::appconfig::config_value;

/// The least memory an application may ask for, in MB.
pub const MIN_MEMORY: u64 = 256;

/// The longest display name, in characters.
const MAX_DISPLAY_NAME: usize = 32;

/// A configuration that can create an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppConfig {
    pub display_name: String,
    pub main: String,
    pub memory: u64,
    pub version: String,
    pub description: Option<String>,
    pub subdomain: Option<String>,
}

impl AppConfig {
    /// The language Square Cloud runs `main` with (by its extension), as `/users/me` names it.
    pub fn language(&self) -> &'static str {
        language_of(&self.main)
    }
}

/// Reads the configuration of an upload's `files`: the error code of what is wrong with it.
pub fn read(files: &AppFiles) -> Result<AppConfig, &'static str> {
    let text = NAMES
        .iter()
        .find_map(|n| files.get(*n))
        .ok_or("MISSING_CONFIG")?;
    let text = std::str::from_utf8(text).map_err(|_| "INVALID_FILE")?;
    let get = |key: &str| config_value(text, key);
    let display_name = get("DISPLAY_NAME").ok_or("MISSING_DISPLAY_NAME")?;
    if display_name.chars().count() > MAX_DISPLAY_NAME || display_name.chars().any(char::is_control)
    {
        return Err("INVALID_DISPLAY_NAME");
    }
    let main = get("MAIN").ok_or("MISSING_MAIN")?;
    if !files.contains_key(main.trim_start_matches("./")) {
        return Err("INVALID_MAIN");
    }
    let memory = get("MEMORY").ok_or("MISSING_MEMORY")?;
    let memory: u64 = memory.parse().map_err(|_| "INVALID_MEMORY")?;
    if memory < MIN_MEMORY {
        return Err("INVALID_MEMORY");
    }
    Ok(AppConfig {
        display_name,
        main,
        memory,
        version: get("VERSION").unwrap_or_else(|| "recommended".into()),
        description: get("DESCRIPTION"),
        subdomain: get("SUBDOMAIN"),
    })
}

/// The language of a main file, by its extension.
pub fn language_of(main: &str) -> &'static str {
    match main.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()) {
        Some(e) if e == "py" => "python",
        Some(e) if e == "ts" => "typescript",
        Some(e) if e == "jar" || e == "java" => "java",
        Some(e) if e == "go" => "go",
        Some(e) if e == "rs" => "rust",
        Some(e) if e == "php" => "php",
        Some(e) if e == "rb" => "ruby",
        Some(e) if e == "ex" || e == "exs" => "elixir",
        Some(e) if e == "html" => "static",
        _ => "javascript",
    }
}

/// The main file an application of `language` starts with.
fn main_for(language: &str) -> &'static str {
    match language {
        "python" => "main.py",
        "typescript" => "index.ts",
        "java" => "Main.java",
        "go" => "main.go",
        "rust" => "main.rs",
        "php" => "index.php",
        "ruby" => "main.rb",
        "elixir" => "main.exs",
        "static" => "index.html",
        _ => "index.js",
    }
}

/// The configuration and main file of an application the simulator starts with (named
/// `name`, of `language`, with `memory` MB): what its snapshots hold beside its other
/// files. A name is written on one line, its control characters made spaces.
pub fn generated(name: &str, language: &str, memory: u64) -> AppFiles {
    let main = main_for(language);
    let shown: String = name
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_DISPLAY_NAME)
        .collect();
    let config = format!(
        "DISPLAY_NAME={}\nMAIN={main}\nMEMORY={}\nVERSION=recommended\n",
        shown.trim(),
        memory.max(MIN_MEMORY)
    );
    let mut files = AppFiles::new();
    files.insert(NAMES[0].into(), Arc::new(config.into_bytes()));
    files.insert(
        main.into(),
        Arc::new(format!("// {main}: the application's entry point (simulated)\n").into_bytes()),
    );
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(config: &str, extra: &[&str]) -> AppFiles {
        let mut f = AppFiles::new();
        f.insert(
            "squarecloud.app".into(),
            Arc::new(config.as_bytes().to_vec()),
        );
        for p in extra {
            f.insert((*p).into(), Arc::new(b"x".to_vec()));
        }
        f
    }

    #[test]
    fn a_generated_configuration_reads_back() {
        let files = generated("Atlas\u{1b}[31m bot", "python", 512);
        let c = read(&files).unwrap();
        assert_eq!(c.display_name, "Atlas [31m bot");
        assert_eq!(c.main, "main.py");
        assert_eq!(c.memory, 512);
        assert_eq!(c.language(), "python");
        let long = generated(&"n".repeat(80), "javascript", 100);
        let c = read(&long).unwrap();
        assert_eq!(c.display_name.len(), 32);
        assert_eq!(c.memory, MIN_MEMORY);
    }

    #[test]
    fn each_fault_has_its_code() {
        assert_eq!(read(&AppFiles::new()), Err("MISSING_CONFIG"));
        let ok = "DISPLAY_NAME=a\nMAIN=index.js\nMEMORY=512\n";
        assert!(read(&with(ok, &["index.js"])).is_ok());
        assert_eq!(read(&with(ok, &[])), Err("INVALID_MAIN"));
        assert_eq!(
            read(&with("MAIN=index.js\nMEMORY=512", &["index.js"])),
            Err("MISSING_DISPLAY_NAME")
        );
        assert_eq!(
            read(&with(
                &format!("DISPLAY_NAME={}\nMAIN=a.js\nMEMORY=512", "x".repeat(33)),
                &["a.js"]
            )),
            Err("INVALID_DISPLAY_NAME")
        );
        assert_eq!(
            read(&with("DISPLAY_NAME=a\nMEMORY=512", &[])),
            Err("MISSING_MAIN")
        );
        assert_eq!(
            read(&with("DISPLAY_NAME=a\nMAIN=a.js", &["a.js"])),
            Err("MISSING_MEMORY")
        );
        assert_eq!(
            read(&with("DISPLAY_NAME=a\nMAIN=a.js\nMEMORY=lots", &["a.js"])),
            Err("INVALID_MEMORY")
        );
        assert_eq!(
            read(&with("DISPLAY_NAME=a\nMAIN=a.js\nMEMORY=128", &["a.js"])),
            Err("INVALID_MEMORY")
        );
        // The older name is read too; comments and case are not in the way.
        let mut old = AppFiles::new();
        old.insert(
            "squarecloud.config".into(),
            Arc::new(b"# bot\ndisplay_name = b\nmain=bot.py\nmemory=256\n".to_vec()),
        );
        old.insert("bot.py".into(), Arc::new(b"x".to_vec()));
        let c = read(&old).unwrap();
        assert_eq!((c.display_name.as_str(), c.language()), ("b", "python"));
    }
}
