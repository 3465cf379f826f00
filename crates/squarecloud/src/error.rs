use crate::ErrorCode;

/// What can go wrong talking to Square Cloud.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// The API answered with an error envelope.
    #[error("Square Cloud refused the request: HTTP {status}, {}{}", code.as_str(), message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
    Api {
        status: u16,
        code: ErrorCode,
        /// The code exactly as sent (old and new names fold into one `code`).
        raw: String,
        /// The server's own words, when it sent some.
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
    /// An answer past the client's cap: not read further, and not asked for again (it would
    /// be as large the next time).
    #[error(
        "Square Cloud sent an answer larger than {limit} bytes (HTTP {status}); it was not read further"
    )]
    TooLarge { status: u16, limit: usize },
    #[error("Square Cloud sent malformed data (HTTP {status}): {detail}")]
    Decode { status: u16, detail: String },
    /// No answer in time.
    #[error("Square Cloud did not answer in time")]
    Timeout,
    /// The connection failed.
    #[error("could not reach Square Cloud: {0}")]
    Network(String),
    /// A file to upload could not be read (missing, unreadable, changed while sent): the
    /// request was not sent, or was cut short before its end, so nothing was applied.
    #[error("could not read the file to upload: {0}")]
    LocalFile(String),
    /// The configured base URL cannot be used.
    #[error("invalid API URL: {0}")]
    InvalidUrl(String),
    /// Square Cloud's answer sent the request somewhere it must not go (plain http, a
    /// downgrade from https, a loop): not followed, and not tried again.
    #[error(
        "Square Cloud's answer redirected the request, and the redirect was not followed: {0}. Nothing was sent there; if this keeps happening, a proxy or network may be tampering with the connection."
    )]
    Redirect(String),
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
            | ApiError::Decode { status, .. }
            | ApiError::TooLarge { status, .. } => Some(*status),
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
            ApiError::InvalidUrl(_)
            | ApiError::Redirect(_)
            | ApiError::TooLarge { .. }
            | ApiError::LocalFile(_) => false,
        }
    }

    /// For a request that changes something (a create): the server may have acted on it even
    /// though no answer of its own reached us — the connection broke, the answer did not come
    /// in time, or a gateway answered in its place (an HTML page, or a 200 cut short). An
    /// error envelope with a code is the server's own word, and certain.
    pub fn answer_may_be_lost(&self) -> bool {
        match self {
            ApiError::Timeout | ApiError::Network(_) => true,
            ApiError::Unexpected { .. } | ApiError::Decode { .. } | ApiError::TooLarge { .. } => {
                true
            }
            ApiError::Api { .. }
            | ApiError::InvalidUrl(_)
            | ApiError::Redirect(_)
            | ApiError::LocalFile(_) => false,
        }
    }

    /// A 429 that blocks every call of the account for about 30 minutes (`RATE_LIMITED`,
    /// or its older name `RATE_LIMIT`), as opposed to one route's own limit
    /// (`RATE_LIMIT_EXCEEDED` on `/users/snapshots`, `KEEP_CALM`).
    pub fn is_account_block(&self) -> bool {
        matches!(self, ApiError::Api { status: 429, code: ErrorCode::RateLimited, raw, .. }
            if raw != "RATE_LIMIT_EXCEEDED")
    }

    pub(crate) fn from_reqwest(e: reqwest::Error) -> Self {
        if e.is_timeout() {
            return ApiError::Timeout;
        }
        // The URL carries no secret (the key travels in a header), but drop it anyway to keep
        // messages short.
        let e = e.without_url();
        if e.is_redirect() {
            // The reason is the policy's, one level down ("refusing http://…").
            let mut text = String::new();
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                if !text.is_empty() {
                    text.push_str(": ");
                }
                text.push_str(&c.to_string());
                cause = c.source();
            }
            return ApiError::Redirect(if text.is_empty() { e.to_string() } else { text });
        }
        ApiError::Network(e.to_string())
    }
}
