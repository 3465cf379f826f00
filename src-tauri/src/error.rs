//! Errors as the UI sees them: a small code it branches on and a message a person reads.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct UiError {
    pub code: &'static str,
    pub message: String,
    /// The folder a refusal is about, when the window may go on with it once the user
    /// confirms (`folder_shared`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<std::path::PathBuf>,
}

impl UiError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            path: None,
        }
    }

    pub fn not_signed_in() -> Self {
        Self::new(
            "signed_out",
            "You are not signed in. Paste your API key to continue.",
        )
    }
}

/// Something the user should know that is no failure of theirs: a state file that could
/// not be read, kept aside (its message names both files).
impl From<&snapshots::store::Recovered> for UiError {
    fn from(r: &snapshots::store::Recovered) -> Self {
        Self::new("recovered", r.to_string())
    }
}

impl From<snapshots::EngineError> for UiError {
    fn from(e: snapshots::EngineError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

impl From<snapshots::signin::SignInError> for UiError {
    fn from(e: snapshots::signin::SignInError) -> Self {
        match e {
            snapshots::signin::SignInError::Engine(e) => e.into(),
            snapshots::signin::SignInError::Keychain(e) => e.into(),
        }
    }
}

impl From<snapshots::secret::SecretError> for UiError {
    fn from(e: snapshots::secret::SecretError) -> Self {
        Self::new("keychain", e.to_string())
    }
}

impl From<snapshots::settings::FolderError> for UiError {
    fn from(e: snapshots::settings::FolderError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

impl From<snapshots::plans::PlanError> for UiError {
    fn from(e: snapshots::plans::PlanError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}
