//! The `storage:` section.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use wk_config::{ByteSize, Location, Problems, PromDuration, Value};

/// Where and how data is stored.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// The data directory; `--storage.path` overrides it. Default `./data`. One process
    /// at a time may use it (a lock file guards it). Changing it needs a restart.
    pub path: PathBuf,
    /// Write-ahead log durability.
    pub wal: WalConfig,
    /// How far behind a series' newest sample an older sample is still accepted.
    /// Default 0s: older samples are rejected as "out of order sample", as Prometheus.
    pub out_of_order_window: PromDuration,
    /// Limits on new series; a breach rejects only the new series, never samples of
    /// existing ones.
    pub limits: LimitsConfig,
    /// Writes are refused (retryably, 503) while less than this is free on the data
    /// directory's file system, and resume by themselves. Default 256MB.
    pub min_free_space: ByteSize,
    /// How long and how much data is kept.
    pub retention: RetentionConfig,
    /// Time range of a block cut from the in-memory head. Default 2h, as
    /// Prometheus; compacted blocks span 3, 9 and 27 times this.
    pub block_duration: PromDuration,
    /// Prometheus's `storage.tsdb` settings, accepted for compatibility; its
    /// `out_of_order_time_window` is used when `out_of_order_window` is not set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tsdb: Option<Value>,
    /// Prometheus's `storage.exemplars` settings, accepted for compatibility.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exemplars: Option<Value>,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from("data"),
            wal: WalConfig::default(),
            out_of_order_window: PromDuration::default(),
            limits: LimitsConfig::default(),
            min_free_space: ByteSize(256 << 20),
            retention: RetentionConfig::default(),
            block_duration: PromDuration::from_secs(2 * 3600),
            tsdb: None,
            exemplars: None,
        }
    }
}

/// `storage.retention`: whole blocks are deleted, oldest first, once either
/// limit is passed.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Data older than the newest sample minus this is deleted. Default 15d (as
    /// Prometheus); 0s keeps data forever.
    pub time: PromDuration,
    /// The oldest blocks are deleted while blocks and WAL together take more than
    /// this. Default 0B: no size limit. Applied even when compaction fails.
    pub size: ByteSize,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self { time: PromDuration::from_secs(15 * 24 * 3600), size: ByteSize(0) }
    }
}

/// `storage.wal`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WalConfig {
    /// `always` (default): a write is acknowledged only once it is on disk; nothing
    /// acknowledged is ever lost. `interval`: acknowledged once handed to the
    /// operating system and synced every `fsync_interval`; a power cut may lose up to
    /// that much (a `kill -9` loses nothing).
    pub fsync: FsyncPolicy,
    /// The sync interval for `fsync: interval`. Default 1s.
    pub fsync_interval: PromDuration,
}

impl Default for WalConfig {
    fn default() -> Self {
        Self { fsync: FsyncPolicy::Always, fsync_interval: PromDuration::from_secs(1) }
    }
}

/// When the write-ahead log is synced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FsyncPolicy {
    /// Before every acknowledgement (group commit shares the fsyncs).
    Always,
    /// Every `fsync_interval`.
    Interval,
}

/// `storage.limits`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Most series in the head; 0 for no limit.
    pub max_series: u64,
    /// Most series per metric name; 0 for no limit.
    pub max_series_per_metric: u64,
    /// Most series per scrape target (same `job` and `instance` labels); 0 for no
    /// limit.
    pub max_series_per_target: u64,
    /// Most labels per series, `__name__` included. Default 64.
    pub max_labels_per_series: usize,
    /// Longest label name in bytes. Default 256.
    pub max_label_name_length: usize,
    /// Longest label value in bytes. Default 4096.
    pub max_label_value_length: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_series: 0,
            max_series_per_metric: 0,
            max_series_per_target: 0,
            max_labels_per_series: 64,
            max_label_name_length: 256,
            max_label_value_length: 4096,
        }
    }
}

impl StorageConfig {
    /// The out-of-order window in force: ours, or Prometheus's
    /// `storage.tsdb.out_of_order_time_window`.
    pub fn effective_out_of_order_window(&self) -> PromDuration {
        if !self.out_of_order_window.get().is_zero() {
            return self.out_of_order_window;
        }
        match &self.tsdb {
            Some(Value::Map(map)) => match map.get("out_of_order_time_window") {
                Some(Value::String(text)) => PromDuration::parse(text).unwrap_or_default(),
                _ => PromDuration::default(),
            },
            _ => PromDuration::default(),
        }
    }

    pub(crate) fn validate(&self, problems: &mut Problems) {
        if let Some(Value::Map(map)) = &self.tsdb
            && let Some(Value::String(text)) = map.get("out_of_order_time_window")
            && let Err(e) = PromDuration::parse(text)
        {
            problems.error(Location::UNKNOWN, format!("storage.tsdb.out_of_order_time_window: {e}"));
        }
        if self.wal.fsync == FsyncPolicy::Interval && self.wal.fsync_interval.get().is_zero() {
            problems.error(Location::UNKNOWN, "storage.wal.fsync_interval must be greater than 0s");
        }
        if self.block_duration.get() < std::time::Duration::from_secs(60) {
            problems.error(Location::UNKNOWN, "storage.block_duration must be at least 1m");
        }
        if self.limits.max_labels_per_series == 0 {
            problems.error(Location::UNKNOWN, "storage.limits.max_labels_per_series must be at least 1");
        }
    }
}
