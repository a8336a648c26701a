//! The error type of `wk-model`.

/// Why a label set or a matcher could not be built.
///
/// Every variant carries the offending input so that an API layer can answer with a
/// 400 naming what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// A label name does not follow `[a-zA-Z_][a-zA-Z0-9_]*`.
    #[error("invalid label name {name:?}")]
    InvalidLabelName {
        /// The rejected name.
        name: String,
    },
    /// The value of `__name__` does not follow `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    #[error("invalid metric name {name:?}")]
    InvalidMetricName {
        /// The rejected metric name.
        name: String,
    },
    /// The same label name was given twice with different values.
    #[error("label name {name:?} is not unique: invalid sample")]
    DuplicateLabelName {
        /// The repeated name.
        name: String,
    },
    /// A regex matcher's pattern does not compile (RE2 syntax).
    #[error("error parsing regexp {pattern:?}: {message}")]
    InvalidRegex {
        /// The pattern as the user wrote it, without our anchors.
        pattern: String,
        /// The compiler's explanation.
        message: String,
    },
}

/// Result alias of this crate.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
