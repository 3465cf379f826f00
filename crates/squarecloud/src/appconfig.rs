//! An application's configuration file, as Square Cloud reads it from the root of an
//! upload: `squarecloud.app` (or the older `squarecloud.config`), `KEY=VALUE` lines with `#`
//! comments; keys are read without regard to case (docs' configuration page). Creating an
//! application from a zip (`POST /apps`) needs one with `DISPLAY_NAME`, `MAIN` and `MEMORY`.

/// The names the configuration may have at the zip's root, the current one first.
pub const CONFIG_NAMES: [&str; 2] = ["squarecloud.app", "squarecloud.config"];

/// The value of `key` in a configuration's `text`: the first `KEY=VALUE` line for it, both
/// sides trimmed; none when absent or empty.
pub fn config_value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(key))
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_by_key_without_case_past_comments() {
        let text = "# a bot\nDISPLAY_NAME = Atlas Bot\nmemory=512\nMAIN=\nVERSION=recommended=1\n";
        assert_eq!(
            config_value(text, "display_name").as_deref(),
            Some("Atlas Bot")
        );
        assert_eq!(config_value(text, "MEMORY").as_deref(), Some("512"));
        assert_eq!(config_value(text, "MAIN"), None, "empty is absent");
        assert_eq!(
            config_value(text, "VERSION").as_deref(),
            Some("recommended=1")
        );
        assert_eq!(config_value(text, "# a bot"), None);
        assert_eq!(config_value(text, "SUBDOMAIN"), None);
    }
}
