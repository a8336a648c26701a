//! The one error type of this crate.
//!
//! Messages reuse Prometheus's wording, because users and tools grep for it and the
//! upstream test scripts compare it.

use wk_storage::QueryError;

/// Why a PromQL query could not be parsed or evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PromqlError {
    /// The query text is not valid PromQL (or uses syntax the parser lacks).
    #[error("parse error: {0}")]
    Parse(String),
    /// The query is valid but cannot be evaluated, for example a many-to-many match.
    /// The message is Prometheus's.
    #[error("{0}")]
    Eval(String),
    /// The query would hold more samples than [`crate::EngineOptions::max_samples`].
    #[error("query processing would load too many samples into memory in query execution")]
    TooManySamples,
    /// The query's [`crate::CancelToken`] was cancelled.
    #[error("query was canceled in query execution")]
    Canceled,
    /// The query ran past its deadline.
    #[error("query timed out in query execution")]
    Timeout,
    /// The storage engine failed while the query read from it.
    #[error(transparent)]
    Storage(#[from] QueryError),
}

impl PromqlError {
    /// Returns true when the same query may succeed later (storage unavailable or a
    /// deadline hit); false for errors in the query itself.
    pub fn is_retryable(&self) -> bool {
        matches!(self, PromqlError::Timeout | PromqlError::Storage(QueryError::Unavailable { .. }))
    }

    /// Returns true when the error is the caller's fault (a bad query or one over a
    /// limit), so an HTTP layer answers 400/422 rather than 500.
    pub fn is_bad_request(&self) -> bool {
        matches!(self, PromqlError::Parse(_) | PromqlError::Eval(_))
    }
}

/// Result alias of this crate.
pub type Result<T, E = PromqlError> = std::result::Result<T, E>;

/// Shorthand for an evaluation error with Prometheus's message.
pub(crate) fn eval_err<T>(msg: impl Into<String>) -> Result<T> {
    Err(PromqlError::Eval(msg.into()))
}
