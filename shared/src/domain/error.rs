//! The service's errors as callers see them: the contract's error classes, each with its HTTP
//! status, envelope `code` and `eKey`, and the field to blame when one input is.

use std::fmt;

/// The contract's error classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400: bad input.
    InvalidParam,
    /// 401: missing, malformed, unknown, expired or revoked token.
    Unauthorized,
    /// 403: a permission or tenant the caller lacks.
    Forbidden,
    /// 404: nothing in the caller's scope.
    NotFound,
    /// 503 with `Retry-After`: the store stayed throttled (or failing with 5xx) through the SDK's
    /// retries; a repeat of the call later completes it.
    Throttled,
    /// 429 with `Retry-After`: the caller went over a per-user quota (connects a minute).
    RateLimited,
    /// 500: anything else; its message never leaks internals.
    Internal,
}

impl ErrorKind {
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::InvalidParam => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Throttled => 503,
            ErrorKind::RateLimited => 429,
            ErrorKind::Internal => 500,
        }
    }

    /// The envelope's `code`: `E0` protocol, `E1` business, `E2` system, `E3` quota.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::InvalidParam | ErrorKind::Unauthorized | ErrorKind::Forbidden => "E0",
            ErrorKind::NotFound => "E1",
            ErrorKind::Internal => "E2",
            ErrorKind::Throttled | ErrorKind::RateLimited => "E3",
        }
    }

    /// The envelope's `ext.eKey`.
    pub fn key(self) -> &'static str {
        match self {
            ErrorKind::InvalidParam => "invalid_param",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Throttled | ErrorKind::RateLimited => "throttled",
            ErrorKind::Internal => "internal",
        }
    }
}

/// An error answered to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub kind: ErrorKind,
    /// Plain words on what was wrong and what is allowed.
    pub msg: String,
    /// The one input to blame, as the caller named it (`pageSize`, `filters[3]`, `receiveObjectIds`).
    pub field: Option<String>,
}

/// Seconds a throttled caller is told to wait.
pub const RETRY_AFTER_SECS: u32 = 1;
/// Seconds a caller over its per-minute quota is told to wait: the quota's window, at most.
pub const RATE_LIMIT_RETRY_AFTER_SECS: u32 = 60;

impl ApiError {
    pub fn invalid(field: impl Into<String>, msg: impl Into<String>) -> Self {
        ApiError {
            kind: ErrorKind::InvalidParam,
            msg: msg.into(),
            field: Some(field.into()),
        }
    }

    pub fn unauthorized(msg: impl Into<String>) -> Self {
        ApiError {
            kind: ErrorKind::Unauthorized,
            msg: msg.into(),
            field: None,
        }
    }

    pub fn forbidden(msg: impl Into<String>) -> Self {
        ApiError {
            kind: ErrorKind::Forbidden,
            msg: msg.into(),
            field: None,
        }
    }

    pub fn forbidden_field(field: impl Into<String>, msg: impl Into<String>) -> Self {
        ApiError {
            kind: ErrorKind::Forbidden,
            msg: msg.into(),
            field: Some(field.into()),
        }
    }

    pub fn not_found(msg: impl Into<String>) -> Self {
        ApiError {
            kind: ErrorKind::NotFound,
            msg: msg.into(),
            field: None,
        }
    }

    pub fn throttled() -> Self {
        ApiError {
            kind: ErrorKind::Throttled,
            msg: "The service is busy right now; retry after the time in Retry-After.".into(),
            field: None,
        }
    }

    /// 429: over a per-user quota; `msg` says which and when it frees up.
    pub fn rate_limited(msg: impl Into<String>) -> Self {
        ApiError {
            kind: ErrorKind::RateLimited,
            msg: msg.into(),
            field: None,
        }
    }

    pub fn internal() -> Self {
        ApiError {
            kind: ErrorKind::Internal,
            msg: "Something went wrong on our side; the request id identifies it in our logs.".into(),
            field: None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{} ({}): {}", self.kind.key(), field, self.msg),
            None => write!(f, "{}: {}", self.kind.key(), self.msg),
        }
    }
}

impl std::error::Error for ApiError {}

/// What a store can fail with. Callers see only the class, never the detail.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Throttled, or failing in a way that passes (a 5xx, a timeout, a dropped connection),
    /// through all of the SDK's retries: the caller may try again shortly.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Anything else: the detail goes to the log.
    #[error("store failure: {0}")]
    Failure(String),
    /// A listing would read more sessions than its budget ([`crate::domain::ReadBudget`]),
    /// this many; the listing use case says what to narrow.
    #[error("listing over its read budget of {0} sessions")]
    ReadBudget(usize),
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "store unavailable");
                ApiError::throttled()
            }
            StoreError::Failure(detail) => {
                tracing::error!(%detail, "store failure");
                ApiError::internal()
            }
            StoreError::ReadBudget(budget) => ApiError::invalid(
                "filters",
                format!("This listing would read more than {budget} sessions; narrow its filters."),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DETAIL: &str = "ResourceNotFoundException: table tokens-prod in arn:aws:dynamodb:eu-west-1:123456789012";

    #[test]
    fn store_failures_reach_callers_as_their_class_only() {
        let failure = ApiError::from(StoreError::Failure(DETAIL.into()));
        assert_eq!(
            (failure.kind.status(), failure.kind.code(), failure.kind.key()),
            (500, "E2", "internal")
        );
        let throttled = ApiError::from(StoreError::Unavailable(DETAIL.into()));
        assert_eq!(
            (throttled.kind.status(), throttled.kind.code(), throttled.kind.key()),
            (503, "E3", "throttled")
        );
        for error in [failure, throttled] {
            assert!(
                !error.msg.contains("arn:") && !error.msg.contains("ResourceNotFound"),
                "{error}"
            );
        }
    }
}
