//! The one error type of algocenter and its mapping to OpenSearch error codes and HTTP statuses.
//!
//! Every layer returns [`Error`]; the API turns it into the OpenSearch envelope using [`Error::code`] and
//! [`Error::http_status`]. Keeping the mapping here means the code a client sees for a condition is decided once.

use std::fmt;

/// Result alias used across the workspace.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("app group '{0}' not found.")]
    AppNotFound(String),
    #[error("app group '{0}' already exists.")]
    AppDuplicated(String),
    #[error("function '{0}' does not exist; known functions: {known}.", known = crate::function::Function::known_names())]
    FunctionNotExist(String),
    #[error("instance not exist: '{0}'.")]
    InstanceNotExist(String),
    #[error("instance '{0}' already exists.")]
    InstanceDuplicated(String),
    #[error(
        "instance '{0}' has no serving generation yet: train it (CreateFunctionTask) until a generation succeeds."
    )]
    InstanceUnavailable(String),
    #[error("task not exist: instance '{instance}' has no generation '{generation}'.")]
    TaskNotExist {
        instance: String,
        generation: String,
    },
    #[error("{0}")]
    TaskIsRunning(String),
    #[error("task of instance '{instance}' generation '{generation}' has already finished.")]
    TaskFinished {
        instance: String,
        generation: String,
    },
    /// Pinning a generation that cannot serve (failed, below its quality gate, or its artifact removed).
    #[error("{0}")]
    TaskNotServable(String),
    /// Deleting the pinned generation.
    #[error("{0}")]
    TaskIsPinned(String),
    /// The serving generation's model is in a format this build no longer reads (an upgrade changed it): the
    /// instance serves again once a new generation is trained. The message says which format and what to do.
    #[error("{0}")]
    ModelOutdated(String),
    #[error("version not exist: {0}.")]
    VersionNotExist(String),
    #[error("Resource not exist: '{0}'.")]
    ResourceNotExist(String),
    #[error("resource '{0}' already exists.")]
    ResourceDuplicated(String),
    #[error("Invalid resource name: {0}")]
    ResourceInvalidName(String),
    #[error("resource '{resource}' is referenced by instances: {}.", instances.join(", "))]
    ResourceInUse {
        resource: String,
        instances: Vec<String>,
    },
    #[error("query-analysis rule not exist: '{0}'.")]
    RuleNotExist(String),
    #[error("default instance not set for function '{0}'.")]
    DefaultInstanceNotExist(String),
    #[error("{0}")]
    InvalidParameter(String),
    #[error("request body exceeds the limit of {limit} bytes.")]
    PayloadTooLarge { limit: usize },
    #[error("no such API: {method} {path}.")]
    RouteNotFound { method: String, path: String },
    #[error("method {method} is not allowed on {path}.")]
    MethodNotAllowed { method: String, path: String },
    #[error("the server is shutting down; retry on another node or later.")]
    ShuttingDown,
    #[error("{0}")]
    IncompleteSignature(String),
    #[error("the access key does not exist or was revoked.")]
    InvalidAccessKeyId,
    #[error("the request signature does not match the one computed by the server.")]
    SignatureDoesNotMatch,
    #[error(
        "the request date is outside the accepted window of the server's clock; check the client's clock."
    )]
    TimestampExpired,
    #[error("the signature nonce was already used: every request needs a fresh one.")]
    SignatureNonceUsed,
    #[error("STS security tokens are not supported: sign with an algocenter access key.")]
    SecurityTokenNotSupported,
    #[error("{0}")]
    Forbidden(String),
    #[error("too many requests for this access key; retry after {retry_after_ms} ms.")]
    Throttled { retry_after_ms: u64 },
    #[error("access key '{0}' does not exist.")]
    AccessKeyNotExist(String),
    #[error("access key '{0}' already exists.")]
    AccessKeyDuplicated(String),
    #[error("{0}")]
    LastAdminKey(String),
    /// Stored state that does not decode (damaged, edited by hand, or written by something else). The request that
    /// needed it is refused rather than answered from a guess; the message says where, never what (the details are
    /// in the server log).
    #[error(
        "stored state is unreadable: {table} {row}, column {column}; the request was refused (details in the server log)."
    )]
    Corrupt {
        table: &'static str,
        /// Which row, by its key (an id or name, never the row's contents).
        row: String,
        column: &'static str,
        /// Why it does not decode; logged, not shown to clients.
        detail: String,
    },
    /// The database, the artifact files or the object store has no space left. Nothing was stored; the client may
    /// retry once space is freed (the answer carries `Retry-After`).
    #[error("storage full: {0}")]
    StorageFull(String),
    /// The database or the object store cannot be reached for the moment (down, restarting, failing over), the
    /// connection pool stayed exhausted, or a transaction lost a conflict with another one. Nothing of the request
    /// was carried out; the same request may succeed shortly (the answer carries `Retry-After`).
    #[error("service unavailable: {0}; retry shortly.")]
    Unavailable(String),
    /// The connection to the database was lost while a transaction committed: whether the change was stored is
    /// unknown. Not retryable blindly (a create might be carried out twice); idempotent writes (data pushes) turn
    /// it into [`Error::Unavailable`], since repeating them is harmless.
    #[error(
        "the connection to the database was lost while committing ({0}): whether the change was stored is unknown; read it back before repeating it."
    )]
    CommitUnknown(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Seconds a client is asked to wait before retrying after [`Error::StorageFull`]: long enough for an operator or a
/// retention run to free space, short enough that ingestion resumes soon after.
pub const STORAGE_FULL_RETRY_AFTER_SECS: u64 = 30;

/// Seconds a client is asked to wait after [`Error::Unavailable`]: a database restart or failover takes seconds;
/// clients back off further on their own when it lasts.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 2;

impl Error {
    /// The OpenSearch `Code` of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::AppNotFound(_) => "App.NotFound",
            Error::AppDuplicated(_) => "App.Duplicated",
            Error::FunctionNotExist(_) => "Function.NotExist",
            Error::InstanceNotExist(_) => "Instance.NotExist",
            Error::InstanceDuplicated(_) => "Instance.Duplicated",
            Error::InstanceUnavailable(_) => "Instance.Unavailable",
            Error::TaskNotExist { .. } => "Task.NotExist",
            Error::TaskIsRunning(_) => "Task.IsRunning",
            Error::TaskFinished { .. } => "Task.Finished",
            Error::TaskNotServable(_) => "Task.NotServable",
            Error::TaskIsPinned(_) => "Task.IsPinned",
            Error::ModelOutdated(_) => "Instance.ModelOutdated",
            Error::VersionNotExist(_) => "Version.NotExist",
            Error::ResourceNotExist(_) => "Resource.NotExist",
            Error::ResourceDuplicated(_) => "Resource.Duplicated",
            Error::ResourceInvalidName(_) => "Resource.InvalidResourceName",
            Error::ResourceInUse { .. } => "Resource.InUse",
            Error::DefaultInstanceNotExist(_) => "DefaultInstance.NotExist",
            Error::RuleNotExist(_) => "QueryAnalysisRule.NotExist",
            Error::InvalidParameter(_) => "InvalidParameter",
            Error::PayloadTooLarge { .. } => "InvalidParameter.PayloadTooLarge",
            Error::RouteNotFound { .. } => "NotFound",
            Error::MethodNotAllowed { .. } => "MethodNotAllowed",
            Error::ShuttingDown | Error::Unavailable(_) => "ServiceUnavailable",
            Error::IncompleteSignature(_) => "IncompleteSignature",
            Error::InvalidAccessKeyId => "InvalidAccessKeyId.NotFound",
            Error::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            Error::TimestampExpired => "InvalidTimeStamp.Expired",
            Error::SignatureNonceUsed => "SignatureNonceUsed",
            Error::SecurityTokenNotSupported => "InvalidSecurityToken.NotSupported",
            Error::Forbidden(_) => "Forbidden.RAM",
            Error::Throttled { .. } => "Throttling.User",
            Error::AccessKeyNotExist(_) => "AccessKey.NotExist",
            Error::AccessKeyDuplicated(_) => "AccessKey.Duplicated",
            Error::LastAdminKey(_) => "AccessKey.LastAdmin",
            Error::Corrupt { .. } => "Storage.Corrupt",
            Error::StorageFull(_) => "Storage.Full",
            Error::CommitUnknown(_) | Error::Internal(_) => "InternalError",
        }
    }

    /// The HTTP status that carries this error (always ≥ 400 so that the SDKs raise).
    pub fn http_status(&self) -> u16 {
        match self {
            Error::AppNotFound(_)
            | Error::FunctionNotExist(_)
            | Error::InstanceNotExist(_)
            | Error::TaskNotExist { .. }
            | Error::VersionNotExist(_)
            | Error::ResourceNotExist(_)
            | Error::DefaultInstanceNotExist(_)
            | Error::RuleNotExist(_)
            | Error::InvalidAccessKeyId
            | Error::AccessKeyNotExist(_)
            | Error::RouteNotFound { .. } => 404,
            Error::AppDuplicated(_)
            | Error::InstanceDuplicated(_)
            | Error::InstanceUnavailable(_)
            | Error::TaskIsRunning(_)
            | Error::TaskFinished { .. }
            | Error::TaskNotServable(_)
            | Error::TaskIsPinned(_)
            | Error::ModelOutdated(_)
            | Error::ResourceDuplicated(_)
            | Error::AccessKeyDuplicated(_)
            | Error::LastAdminKey(_)
            | Error::ResourceInUse { .. } => 409,
            Error::ResourceInvalidName(_)
            | Error::InvalidParameter(_)
            | Error::IncompleteSignature(_)
            | Error::SignatureDoesNotMatch
            | Error::TimestampExpired
            | Error::SignatureNonceUsed
            | Error::SecurityTokenNotSupported => 400,
            Error::Forbidden(_) => 403,
            Error::Throttled { .. } => 429,
            Error::PayloadTooLarge { .. } => 413,
            Error::MethodNotAllowed { .. } => 405,
            Error::ShuttingDown | Error::Unavailable(_) => 503,
            // 507 Insufficient Storage (RFC 4918): the server's condition, not the request's, and not a bug.
            Error::StorageFull(_) => 507,
            Error::Corrupt { .. } | Error::CommitUnknown(_) | Error::Internal(_) => 500,
        }
    }

    /// Seconds to wait before retrying, sent as the `Retry-After` header; `None` when retrying soon will not help
    /// or another header says it (throttling).
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Error::StorageFull(_) => Some(STORAGE_FULL_RETRY_AFTER_SECS),
            Error::Unavailable(_) => Some(UNAVAILABLE_RETRY_AFTER_SECS),
            _ => None,
        }
    }

    /// The reason recorded in a failed task's `errors` when `doing` failed with this error. Storage full leads the
    /// message (`storage full: …`), so that an operator tells it from a bug at a glance.
    pub fn task_reason(&self, doing: &str) -> String {
        match self {
            Error::StorageFull(detail) => format!("storage full: {doing}: {detail}"),
            other => format!("{doing}: {other}"),
        }
    }

    /// Shorthand for an `InvalidParameter` error.
    pub fn invalid(message: impl fmt::Display) -> Self {
        Error::InvalidParameter(message.to_string())
    }

    /// Shorthand for an internal error; the cause is logged by the caller, the message is shown to the client.
    pub fn internal(message: impl fmt::Display) -> Self {
        Error::Internal(message.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_error_is_a_4xx_and_has_a_dotted_or_plain_code() {
        let errors = [
            Error::AppNotFound("a".into()),
            Error::InstanceNotExist("i".into()),
            Error::TaskIsRunning("busy".into()),
            Error::InvalidParameter("x".into()),
            Error::PayloadTooLarge { limit: 1 },
            Error::ModelOutdated("retrain".into()),
        ];
        for e in errors {
            assert!((400..500).contains(&e.http_status()), "{e:?}");
            assert!(!e.code().is_empty());
        }
        assert_eq!(Error::internal("boom").http_status(), 500);
    }

    #[test]
    fn spec_codes_are_spelled_as_in_the_spec() {
        assert_eq!(
            Error::InstanceNotExist("x".into()).code(),
            "Instance.NotExist"
        );
        assert_eq!(
            Error::TaskNotExist {
                instance: "i".into(),
                generation: "1".into()
            }
            .code(),
            "Task.NotExist"
        );
        assert_eq!(
            Error::ResourceInvalidName("x".into()).code(),
            "Resource.InvalidResourceName"
        );
        assert_eq!(
            Error::DefaultInstanceNotExist("ctr".into()).code(),
            "DefaultInstance.NotExist"
        );
        assert_eq!(Error::AppNotFound("a".into()).code(), "App.NotFound");
    }

    #[test]
    fn storage_full_is_a_507_with_a_retry_after_and_leads_task_reasons() {
        let full = Error::StorageFull("the database's disk is full".into());
        assert_eq!((full.http_status(), full.code()), (507, "Storage.Full"));
        assert_eq!(full.retry_after_secs(), Some(STORAGE_FULL_RETRY_AFTER_SECS));
        assert_eq!(
            full.task_reason("could not store the artifact"),
            "storage full: could not store the artifact: the database's disk is full"
        );
        assert_eq!(
            Error::internal("boom").task_reason("could not store the artifact"),
            "could not store the artifact: internal error: boom"
        );
        assert_eq!(Error::internal("boom").retry_after_secs(), None);
    }

    #[test]
    fn a_transient_failure_is_a_503_service_unavailable_with_a_retry_after() {
        let down = Error::Unavailable("database: connection refused".into());
        assert_eq!(
            (down.http_status(), down.code()),
            (503, "ServiceUnavailable")
        );
        assert_eq!(down.retry_after_secs(), Some(UNAVAILABLE_RETRY_AFTER_SECS));
        assert_eq!(
            down.to_string(),
            "service unavailable: database: connection refused; retry shortly."
        );
    }

    #[test]
    fn corrupt_state_is_a_server_error_that_names_the_place_but_not_the_contents() {
        let corrupt = Error::Corrupt {
            table: "access_key",
            row: "'AK1'".into(),
            column: "apps",
            detail: "expected a sequence, found \"secret\"".into(),
        };
        assert_eq!(
            (corrupt.http_status(), corrupt.code()),
            (500, "Storage.Corrupt")
        );
        let message = corrupt.to_string();
        assert!(
            message.contains("access_key 'AK1', column apps"),
            "{message}"
        );
        assert!(!message.contains("secret"), "{message}");
    }
}
