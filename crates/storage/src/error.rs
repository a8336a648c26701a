//! Typed rejection reasons and query failures.
//!
//! Two enums live here on purpose: an [`AppendError`] rejects one sample or one new
//! series and is counted per reason while the rest of a batch goes on, whereas a
//! [`QueryError`] fails a whole request. Keeping them apart lets each caller match
//! exhaustively on what it can actually receive.

/// Which series limit a new series breached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitReason {
    /// The engine holds its maximum number of series.
    MaxSeries,
    /// The metric name holds its maximum number of series.
    MaxSeriesPerMetric,
    /// The scrape target (`job` and `instance` labels) holds its maximum
    /// number of series.
    MaxSeriesPerTarget,
}

impl LimitReason {
    /// Returns a stable snake_case name, for metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitReason::MaxSeries => "max_series",
            LimitReason::MaxSeriesPerMetric => "max_series_per_metric",
            LimitReason::MaxSeriesPerTarget => "max_series_per_target",
        }
    }

    /// What the limit is per, in messages.
    fn scope(self) -> &'static str {
        match self {
            LimitReason::MaxSeries => "instance",
            LimitReason::MaxSeriesPerMetric => "metric",
            LimitReason::MaxSeriesPerTarget => "target",
        }
    }
}

/// Why one sample (or the new series it would create) was rejected.
///
/// Messages reuse Prometheus's wording where users grep for it. Limits reject only
/// new series, never samples of existing ones.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum AppendError {
    /// Older than the newest sample of its series, with no out-of-order window.
    #[error("out of order sample")]
    OutOfOrder,
    /// Older than the series' newest sample minus the out-of-order window.
    #[error("too old sample")]
    TooOld,
    /// Older than the oldest time the engine still accepts (after truncation).
    #[error("out of bounds")]
    OutOfBounds,
    /// Same timestamp as a stored sample, with a different value.
    #[error("duplicate sample for timestamp")]
    DuplicateSampleDifferentValue,
    /// A new series would breach a series limit.
    #[error("per-{} series limit of {limit} exceeded, rejecting new series", .reason.scope())]
    SeriesLimit {
        /// Which limit.
        reason: LimitReason,
        /// The configured limit.
        limit: u64,
    },
    /// A new series has too many labels.
    #[error("series has {count} labels, more than the limit of {limit}")]
    TooManyLabels {
        /// Labels in the rejected series.
        count: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A label name or value of a new series is longer than allowed.
    #[error("label {which} of {name:?} is {len} bytes, longer than the limit of {limit}")]
    LabelLimit {
        /// `"name"` or `"value"`.
        which: &'static str,
        /// The label name (truncated to 64 bytes).
        name: String,
        /// Length in bytes.
        len: usize,
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The label set is invalid (for example empty, or a bad name).
    #[error("invalid labels: {detail}")]
    InvalidLabels {
        /// What is wrong.
        detail: String,
    },
    /// The engine is shutting down or failed; retrying later may help.
    #[error("storage unavailable: {detail}")]
    Unavailable {
        /// What happened.
        detail: String,
    },
}

impl AppendError {
    /// Returns a stable snake_case reason, for the `reason` label of rejection
    /// counters.
    pub fn reason(&self) -> &'static str {
        match self {
            AppendError::OutOfOrder => "out_of_order",
            AppendError::TooOld => "too_old",
            AppendError::OutOfBounds => "out_of_bounds",
            AppendError::DuplicateSampleDifferentValue => "duplicate_sample",
            AppendError::SeriesLimit { reason, .. } => reason.as_str(),
            AppendError::TooManyLabels { .. } => "max_labels_per_series",
            AppendError::LabelLimit { which: "name", .. } => "max_label_name_length",
            AppendError::LabelLimit { .. } => "max_label_value_length",
            AppendError::InvalidLabels { .. } => "invalid_labels",
            AppendError::Unavailable { .. } => "unavailable",
        }
    }

    /// Returns true when sending the same sample again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, AppendError::Unavailable { .. })
    }
}

/// Why a query could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Stored data of a series could not be decoded.
    #[error("corrupt data in series {series}: {detail}")]
    Corrupt {
        /// The series' labels, formatted.
        series: String,
        /// What the decoder found.
        detail: String,
    },
    /// The engine is shutting down or failed.
    #[error("storage unavailable: {detail}")]
    Unavailable {
        /// What happened.
        detail: String,
    },
}

/// Result alias of this crate, defaulting to [`QueryError`].
pub type Result<T, E = QueryError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_users_grep_for() {
        assert_eq!(AppendError::OutOfOrder.to_string(), "out of order sample");
        assert_eq!(AppendError::DuplicateSampleDifferentValue.to_string(), "duplicate sample for timestamp");
        let e = AppendError::SeriesLimit { reason: LimitReason::MaxSeriesPerMetric, limit: 5 };
        assert_eq!(e.to_string(), "per-metric series limit of 5 exceeded, rejecting new series");
        assert_eq!(e.reason(), "max_series_per_metric");
    }
}
