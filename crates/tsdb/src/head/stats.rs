//! Counters of the head, read by self-monitoring.

use std::sync::atomic::{AtomicU64, Ordering};

use wk_storage::AppendError;

/// Every rejection reason the head counts, in the order of [`HeadStats::rejected`].
pub const REJECT_REASONS: [&str; 11] = [
    "out_of_order",
    "too_old",
    "out_of_bounds",
    "duplicate_sample",
    "max_series",
    "max_series_per_metric",
    "max_series_per_target",
    "max_labels_per_series",
    "max_label_name_length",
    "max_label_value_length",
    "invalid_labels",
];

/// Monotonic counters; cheap relaxed atomics updated per batch, not per sample.
#[derive(Debug, Default)]
pub struct HeadStats {
    samples_appended: AtomicU64,
    series_created: AtomicU64,
    rejected: [AtomicU64; REJECT_REASONS.len() + 1],
}

impl HeadStats {
    pub(crate) fn add_appended(&self, n: u64) {
        self.samples_appended.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_series(&self) {
        self.series_created.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_rejected(&self, e: &AppendError, n: u64) {
        let i = REJECT_REASONS.iter().position(|r| *r == e.reason()).unwrap_or(REJECT_REASONS.len());
        self.rejected[i].fetch_add(n, Ordering::Relaxed);
    }

    /// Returns the samples written since start.
    pub fn samples_appended(&self) -> u64 {
        self.samples_appended.load(Ordering::Relaxed)
    }

    /// Returns the series created since start.
    pub fn series_created(&self) -> u64 {
        self.series_created.load(Ordering::Relaxed)
    }

    /// Returns rejections since start per reason (see [`REJECT_REASONS`]; a last
    /// entry `"other"` counts reasons outside that list).
    pub fn rejected(&self) -> Vec<(&'static str, u64)> {
        REJECT_REASONS
            .iter()
            .copied()
            .chain(["other"])
            .zip(&self.rejected)
            .map(|(r, c)| (r, c.load(Ordering::Relaxed)))
            .collect()
    }

    /// Returns the rejections counted for `reason` (an [`AppendError::reason`]).
    pub fn rejected_for(&self, reason: &str) -> u64 {
        self.rejected().into_iter().find(|(r, _)| *r == reason).map_or(0, |(_, n)| n)
    }
}
