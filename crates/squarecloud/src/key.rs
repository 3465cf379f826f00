use std::fmt;

/// A Square Cloud API key. Its `Debug` and `Display` are redacted and it cannot be
/// serialized, so it cannot leak through a log line or an IPC payload by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Trims surrounding white space (keys are pasted); `None` when nothing is left.
    pub fn new(key: impl Into<String>) -> Option<Self> {
        let k = key.into();
        let t = k.trim();
        (!t.is_empty()).then(|| Self(t.to_string()))
    }

    /// The raw key, for the `Authorization` header and the keychain only.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// The account id the official SDK derives from a key (`<userId>-<secret>`), if any.
    pub fn account_prefix(&self) -> Option<&str> {
        self.0
            .split_once('-')
            .map(|(p, _)| p)
            .filter(|p| !p.is_empty())
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_key() {
        let k = ApiKey::new("  123-supersecret\n").unwrap();
        assert_eq!(k.expose_secret(), "123-supersecret");
        assert!(!format!("{k:?} {k}").contains("supersecret"));
        assert_eq!(k.account_prefix(), Some("123"));
        assert!(ApiKey::new("  ").is_none());
    }
}
