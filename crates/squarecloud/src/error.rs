use crate::ErrorCode;

/// What can go wrong talking to Square Cloud.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The API answered with an error envelope.
    #[error("Square Cloud refused the request: HTTP {status}, {}{}", code.as_str(), message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
    Api {
        status: u16,
        code: ErrorCode,
        message: Option<String>,
    },
    /// Not the API's JSON: a CDN or proxy page, an empty body, or text.
    #[error("Square Cloud sent an unexpected answer (HTTP {status}{}): {snippet}", content_type.as_deref().map(|c| format!(", {c}")).unwrap_or_default())]
    Unexpected {
        status: u16,
        content_type: Option<String>,
        snippet: String,
    },
    /// JSON that does not have the documented shape.
    #[error("Square Cloud sent malformed data (HTTP {status}): {detail}")]
    Decode { status: u16, detail: String },
    /// No answer in time.
    #[error("Square Cloud did not answer in time")]
    Timeout,
    /// The connection failed.
    #[error("could not reach Square Cloud: {0}")]
    Network(String),
    /// The configured base URL cannot be used.
    #[error("invalid API URL: {0}")]
    InvalidUrl(String),
}

impl ApiError {
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            ApiError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Api { status, .. }
            | ApiError::Unexpected { status, .. }
            | ApiError::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Worth trying again later: network trouble, timeouts, 5xx and gateway pages.
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::Timeout | ApiError::Network(_) => true,
            ApiError::Unexpected { status, .. } | ApiError::Decode { status, .. } => {
                *status >= 500 || *status == 200
            }
            ApiError::Api { status, code, .. } => {
                *status >= 500 && !matches!(code, ErrorCode::SnapshotFailed)
            }
            ApiError::InvalidUrl(_) => false,
        }
    }

    pub(crate) fn from_reqwest(e: reqwest::Error) -> Self {
        if e.is_timeout() {
            return ApiError::Timeout;
        }
        // The URL carries no secret (the key travels in a header), but drop it anyway to keep
        // messages short.
        ApiError::Network(e.without_url().to_string())
    }
}
