//! The settings as the window edits them: every choice but the saved window geometry, with
//! the folders shown but changed only through the folder commands.

use crate::settings::Settings;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The field names are the JSON the window reads and sends back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingsView {
    pub default_dest: Option<PathBuf>,
    pub keep_last: Option<u32>,
    pub keep_days: Option<u32>,
    pub close_to_tray: bool,
    pub locale: Option<String>,
    pub full_verify: bool,
    #[serde(default)]
    pub notify_success: bool,
    /// On a metered connection, mirrors wait for snapshots over this many MB (None: never).
    #[serde(default)]
    pub metered_limit_mb: Option<u64>,
    /// `light` or `dark`; None follows the desktop.
    #[serde(default)]
    pub theme: Option<String>,
    /// Most connections per large snapshot (1–8; None: 4).
    #[serde(default)]
    pub connections: Option<u8>,
    /// A total download rate in bytes a second (None: no limit).
    #[serde(default)]
    pub limit_rate: Option<u64>,
    /// Per-resource folders (shown; changed only through the folder commands).
    #[serde(default)]
    pub destinations: BTreeMap<String, PathBuf>,
}

impl From<Settings> for SettingsView {
    fn from(s: Settings) -> Self {
        Self {
            default_dest: s.default_dest,
            keep_last: s.keep_last,
            keep_days: s.keep_days,
            close_to_tray: s.close_to_tray,
            locale: s.locale,
            full_verify: s.full_verify,
            notify_success: s.notify_success,
            metered_limit_mb: s.metered_limit_mb,
            theme: s.theme,
            connections: s.connections,
            limit_rate: s.limit_rate,
            destinations: s.destinations,
        }
    }
}

impl SettingsView {
    /// Puts the user's choices into `s`, normalised ([`Settings::normalise`]). The folders
    /// are left as they are: a page cannot point downloads anywhere without the folder
    /// commands' checks.
    pub fn apply_to(self, s: &mut Settings) {
        s.keep_last = self.keep_last;
        s.keep_days = self.keep_days;
        s.close_to_tray = self.close_to_tray;
        s.locale = self.locale;
        s.full_verify = self.full_verify;
        s.notify_success = self.notify_success;
        s.metered_limit_mb = self.metered_limit_mb;
        s.theme = self.theme;
        s.connections = self.connections;
        s.limit_rate = self.limit_rate;
        s.normalise();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saving_changes_the_choices_never_the_folders() {
        let mut stored = Settings {
            default_dest: Some(PathBuf::from("/backups")),
            ..Settings::default()
        };
        let mut view = SettingsView::from(stored.clone());
        assert_eq!(view.default_dest, Some(PathBuf::from("/backups")));
        view.default_dest = Some(PathBuf::from("/etc"));
        view.destinations
            .insert("a1".into(), PathBuf::from("/root"));
        view.keep_last = Some(0);
        view.theme = Some("dark".into());
        view.apply_to(&mut stored);
        assert_eq!(stored.default_dest, Some(PathBuf::from("/backups")));
        assert!(stored.destinations.is_empty());
        assert_eq!(stored.keep_last, Some(1));
        assert_eq!(stored.theme.as_deref(), Some("dark"));
    }
}
