//! Limits that protect the head from unbounded cardinality.

use wk_model::Labels;
use wk_model::labels::is_valid_label_name;
use wk_storage::{AppendError, LimitReason};

/// Limits on new series. A breach rejects only the new series (with a typed
/// [`AppendError`], counted per reason); samples of existing series are never
/// rejected by a limit. Zero means unlimited for the counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Maximum number of series in the head; 0 for unlimited.
    pub max_series: u64,
    /// Maximum number of series per metric name; 0 for unlimited.
    pub max_series_per_metric: u64,
    /// Maximum number of series per scrape target (series with the same `job`
    /// and `instance` labels; series lacking either are not counted); 0 for
    /// unlimited.
    pub max_series_per_target: u64,
    /// Maximum labels per series, `__name__` included.
    pub max_labels_per_series: usize,
    /// Maximum label name length in bytes.
    pub max_label_name_len: usize,
    /// Maximum label value length in bytes.
    pub max_label_value_len: usize,
}

impl Default for Limits {
    /// Unlimited series; 64 labels of at most 256-byte names and 4 KiB values.
    fn default() -> Self {
        Self {
            max_series: 0,
            max_series_per_metric: 0,
            max_series_per_target: 0,
            max_labels_per_series: 64,
            max_label_name_len: 256,
            max_label_value_len: 4096,
        }
    }
}

impl Limits {
    /// Checks the shape of a new series' labels (count, lengths, names), before any
    /// lock is taken.
    pub fn check_labels(&self, labels: &Labels) -> Result<(), AppendError> {
        if labels.is_empty() {
            return Err(AppendError::InvalidLabels { detail: "empty labelset".into() });
        }
        let count = labels.len();
        if count > self.max_labels_per_series {
            return Err(AppendError::TooManyLabels { count, limit: self.max_labels_per_series });
        }
        for (name, value) in labels {
            let too_long = |which, len, limit| AppendError::LabelLimit {
                which,
                name: name.chars().take(64).collect(),
                len,
                limit,
            };
            if name.len() > self.max_label_name_len {
                return Err(too_long("name", name.len(), self.max_label_name_len));
            }
            if value.len() > self.max_label_value_len {
                return Err(too_long("value", value.len(), self.max_label_value_len));
            }
            if !is_valid_label_name(name) {
                return Err(AppendError::InvalidLabels { detail: format!("invalid label name {name:?}") });
            }
        }
        Ok(())
    }

    /// Checks the series counts, given the current total and the counts of the
    /// new series' metric name and target (`None` when it has no target).
    pub fn check_counts(&self, total: u64, per_metric: u64, per_target: Option<u64>) -> Result<(), AppendError> {
        if self.max_series > 0 && total >= self.max_series {
            return Err(AppendError::SeriesLimit { reason: LimitReason::MaxSeries, limit: self.max_series });
        }
        if self.max_series_per_metric > 0 && per_metric >= self.max_series_per_metric {
            return Err(AppendError::SeriesLimit {
                reason: LimitReason::MaxSeriesPerMetric,
                limit: self.max_series_per_metric,
            });
        }
        if self.max_series_per_target > 0 && per_target.is_some_and(|n| n >= self.max_series_per_target) {
            return Err(AppendError::SeriesLimit {
                reason: LimitReason::MaxSeriesPerTarget,
                limit: self.max_series_per_target,
            });
        }
        Ok(())
    }
}
