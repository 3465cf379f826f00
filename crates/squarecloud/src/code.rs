//! The API's error codes (squarecloud-api.md §5.3), with renamed codes folded into one variant.

macro_rules! codes {
    ($($variant:ident = $name:literal $(| $alias:literal)*,)*) => {
        /// An API error `code`. Old names map to the same variant; unknown codes are kept.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $($variant,)*
            /// A code this client does not know, kept as sent.
            Unknown(String),
        }

        impl ErrorCode {
            pub fn parse(s: &str) -> Self {
                match s {
                    $($name $(| $alias)* => Self::$variant,)*
                    other => Self::Unknown(other.to_string()),
                }
            }

            /// The canonical (current) name.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $name,)*
                    Self::Unknown(s) => s,
                }
            }
        }
    };
}

codes! {
    // auth and plan
    AccessDenied = "ACCESS_DENIED",
    InvalidAccessToken = "INVALID_ACCESS_TOKEN" | "INVALID_API_TOKEN" | "UNAUTHORIZED",
    PermissionDenied = "PERMISSION_DENIED",
    UpgradeRequired = "UPGRADE_REQUIRED" | "SUBSCRIPTION_REQUIRED",
    MissingScope = "MISSING_SCOPE",
    ResourceNotAllowed = "RESOURCE_NOT_ALLOWED",
    ScopeNotGrantable = "SCOPE_NOT_GRANTABLE",
    ApiKeyExpired = "APIKEY_EXPIRED",
    ApiKeyLimitReached = "APIKEY_LIMIT_REACHED",
    AuthorizationPending = "AUTHORIZATION_PENDING",
    InvalidGrant = "INVALID_GRANT",
    InvalidVerifier = "INVALID_VERIFIER",
    InvalidRedirectUri = "INVALID_REDIRECT_URI",
    InvalidRequest = "INVALID_REQUEST",
    // rate limits
    KeepCalm = "KEEP_CALM" | "DELAY_NOW",
    RateLimited = "RATE_LIMITED" | "RATE_LIMIT" | "RATE_LIMIT_EXCEEDED" | "RATELIMIT",
    DailySnapshotsLimitReached = "DAILY_SNAPSHOTS_LIMIT_REACHED",
    // generic
    InvalidId = "INVALID_ID" | "ID_INVALID",
    InvalidCode = "INVALID_CODE" | "CODE_INVALID",
    InvalidName = "INVALID_NAME" | "NAME_INVALID",
    InvalidMemory = "INVALID_MEMORY" | "MEMORY_INVALID",
    InvalidJsonBody = "INVALID_JSON_BODY",
    InvalidContentType = "INVALID_CONTENT_TYPE",
    InvalidTimeRange = "INVALID_TIME_RANGE",
    InvalidScope = "INVALID_SCOPE",
    InvalidInput = "INVALID_INPUT",
    InvalidParameters = "INVALID_PARAMETERS",
    InvalidFilter = "INVALID_FILTER",
    InvalidEncoding = "INVALID_ENCODING",
    MissingParameters = "MISSING_PARAMETERS",
    MissingRequiredFields = "MISSING_REQUIRED_FIELDS",
    PayloadTooLarge = "PAYLOAD_TOO_LARGE",
    EmptyResponse = "EMPTY_RESPONSE",
    ActionFailed = "ACTION_FAILED",
    InternalServerError = "INTERNAL_SERVER_ERROR" | "INTERNAL_ERROR",
    RouteNotFound = "ROUTE_NOT_FOUND",
    RequestAborted = "REQUEST_ABORTED",
    UserNotFound = "USER_NOT_FOUND",
    // apps and cluster
    AppNotFound = "APP_NOT_FOUND",
    ApplicationsLimitReached = "APPLICATIONS_LIMIT_REACHED" | "MAX_APPLICATIONS_REACHED",
    InsufficientMemory = "INSUFFICIENT_MEMORY" | "FEW_MEMORY",
    ClusterSelectionFailed = "CLUSTER_SELECTION_FAILED" | "FAILED_CLUSTER_SELECTION",
    ClusterMaintenanceTryLater = "CLUSTER_MAINTENANCE_TRY_LATER",
    ClusterTimeout = "CLUSTER_TIMEOUT",
    ClusterUnavailable = "CLUSTER_UNAVAILABLE",
    MetricsNotSupported = "METRICS_NOT_SUPPORTED" | "INVALID_APP",
    LogsUnavailable = "LOGS_UNAVAILABLE",
    ContainerAlreadyStarted = "CONTAINER_ALREADY_STARTED",
    ContainerAlreadyStopped = "CONTAINER_ALREADY_STOPPED",
    ContainerTemporarilySuspended = "CONTAINER_TEMPORARILY_SUSPENDED",
    ContainerNotFound = "CONTAINER_NOT_FOUND",
    ContainerInsufficientDiskSpace = "CONTAINER_INSUFFICIENT_DISK_SPACE",
    ContainerNetworkConflict = "CONTAINER_NETWORK_CONFLICT",
    ConflictingResources = "CONFLICTING_RESOURCES",
    // upload and commit
    UploadFailed = "UPLOAD_FAILED" | "FAILED_UPLOAD",
    UploadAborted = "UPLOAD_ABORTED",
    UploadBusy = "UPLOAD_BUSY",
    StorageUploadFailed = "STORAGE_UPLOAD_FAILED" | "FAILED_UPLOAD_DATA",
    CommitFailed = "COMMIT_FAILED" | "COMMIT_ERROR",
    InvalidFile = "INVALID_FILE",
    InvalidDisplayName = "INVALID_DISPLAY_NAME",
    InvalidDescription = "INVALID_DESCRIPTION",
    InvalidSubdomain = "INVALID_SUBDOMAIN",
    FileTooLarge = "FILE_TOO_LARGE",
    // files
    ReadFailed = "READ_FAILED" | "FAILED_READ",
    SaveFailed = "SAVE_FAILED" | "FAILED_TO_SAVE",
    RenameFailed = "RENAME_FAILED" | "FAILED_RENAME",
    DeleteFailed = "DELETE_FAILED" | "FAILED_DELETE" | "DELETE_ERROR",
    FileNotFound = "FILE_NOT_FOUND",
    InvalidPath = "INVALID_PATH",
    InvalidFilename = "INVALID_FILENAME",
    InvalidContent = "INVALID_CONTENT",
    BlockedPath = "BLOCKED_PATH",
    // network
    InvalidDomain = "INVALID_DOMAIN" | "REGEX_VALIDATION",
    CannotSetSubdomain = "CANNOT_SET_SUBDOMAIN" | "CAN_NOT_SET_SUBDOMAIN",
    // snapshots
    SnapshotFailed = "SNAPSHOT_FAILED",
    SnapshotNotFound = "SNAPSHOT_NOT_FOUND",
    SnapshotProcessing = "SNAPSHOT_PROCESSING",
    SnapshotRestoreFailed = "SNAPSHOT_RESTORE_FAILED",
    SnapshotDatabaseMismatch = "SNAPSHOT_DATABASE_MISMATCH",
    RestoreInProgress = "RESTORE_IN_PROGRESS",
    InvalidSnapshotId = "INVALID_SNAPSHOT_ID",
    InvalidVersionId = "INVALID_VERSION_ID",
    // databases
    DatabaseNotFound = "DATABASE_NOT_FOUND",
    DatabaseNotRunning = "DATABASE_NOT_RUNNING",
    DatabaseUnavailable = "DATABASE_UNAVAILABLE",
    DatabaseCreationFailed = "DATABASE_CREATION_FAILED" | "FAILED_DATABASE_CREATION",
    InvalidDatabaseType = "INVALID_DATABASE_TYPE" | "DATABASE_TYPE_INVALID",
    InvalidDatabaseVersion = "INVALID_DATABASE_VERSION" | "DATABASE_VERSION_INVALID",
    ResetFailed = "RESET_FAILED" | "FAILED_RESET",
    // workspaces
    WorkspaceNotFound = "WORKSPACE_NOT_FOUND" | "UNKNOWN_WORKSPACE",
    WorkspaceCreationFailed = "WORKSPACE_CREATION_FAILED" | "FAILED_WORKSPACE_CREATION",
    MemberNotFound = "MEMBER_NOT_FOUND" | "UNKNOWN_MEMBER",
    MembersLimitReached = "MEMBERS_LIMIT_REACHED" | "MAX_MEMBERS_REACHED",
    WorkspaceLimitReached = "WORKSPACE_LIMIT_REACHED",
    MemberAlreadyAdded = "MEMBER_ALREADY_ADDED",
    AppAlreadyInWorkspace = "APP_ALREADY_IN_WORKSPACE",
    CannotEditOwner = "CANNOT_EDIT_OWNER",
    CannotInviteOwner = "CANNOT_INVITE_OWNER",
    CannotLeaveOwner = "CANNOT_LEAVE_OWNER",
    InvalidGroup = "INVALID_GROUP",
}

impl ErrorCode {
    /// Codes that mean the key itself is bad: sign out. Every other failure keeps the key.
    pub fn is_bad_key(&self) -> bool {
        matches!(
            self,
            Self::AccessDenied | Self::InvalidAccessToken | Self::ApiKeyExpired
        )
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn legacy_names_fold_into_the_current_variant() {
        assert_eq!(ErrorCode::parse("RATE_LIMIT"), ErrorCode::RateLimited);
        assert_eq!(
            ErrorCode::parse("RATE_LIMIT_EXCEEDED"),
            ErrorCode::RateLimited
        );
        assert_eq!(
            ErrorCode::parse("SUBSCRIPTION_REQUIRED"),
            ErrorCode::UpgradeRequired
        );
        assert_eq!(
            ErrorCode::parse("INTERNAL_ERROR").as_str(),
            "INTERNAL_SERVER_ERROR"
        );
        assert_eq!(
            ErrorCode::parse("SOMETHING_NEW"),
            ErrorCode::Unknown("SOMETHING_NEW".into())
        );
        assert_eq!(ErrorCode::parse("SOMETHING_NEW").as_str(), "SOMETHING_NEW");
    }
}
