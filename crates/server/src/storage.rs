//! The storage engines as the server holds them: opened in the data directory at
//! start, handed to collectors, ingesters and the query API through the
//! `wk-storage` traits, reported on `/metrics`, and closed last at shutdown.
//!
//! The TSDB is the durable [`wk_tsdb::Db`]: every acknowledged write is in its
//! write-ahead log (`DATA_DIR/wal`) before the write returns, and the head is rebuilt
//! from it at start.

mod disk_guard;

use std::path::Path;
use std::sync::Arc;

pub use disk_guard::DiskGuard;
use disk_guard::Guarded;

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use wk_storage::{Appendable, Queryable};
use wk_tsdb::{Db, DbOptions};

use crate::config::{FsyncPolicy, StorageConfig};
use crate::self_metrics::LateMetrics;
use crate::{Error, Result};

/// How often the TSDB's maintenance runs.
pub const MAINTAIN_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// The open engines.
#[derive(Debug, Clone)]
pub struct Storage {
    db: Arc<Db>,
    guard: Arc<DiskGuard>,
}

impl Storage {
    /// Opens the engines in the (locked) data directory, replaying the WAL. The
    /// replay is logged with its figures, and an unclean previous shutdown is said.
    pub fn open(dir: &Path, config: &StorageConfig) -> Result<Self> {
        let (db, report) = Db::open(dir, db_options(config))
            .map_err(|e| Error::Storage(format!("opening the TSDB in {}: {e}", dir.display())))?;
        if report.unclean_shutdown {
            tracing::warn!(
                series = report.series,
                samples = report.samples,
                "the previous run did not shut down cleanly; every acknowledged sample was recovered from the WAL"
            );
        }
        if report.replay.damage_found() || report.samples_without_series > 0 {
            tracing::warn!(report = ?report.replay, samples_without_series = report.samples_without_series, "WAL damage found and skipped");
        }
        let guard = Arc::new(DiskGuard::new(dir.to_owned(), config.min_free_space.0));
        Ok(Self { db: Arc::new(db), guard })
    }

    /// Where collectors and ingesters write; commits are refused (retryably) while
    /// the disk is almost full.
    pub fn appendable(&self) -> Arc<dyn Appendable> {
        Arc::new(Guarded { guard: self.guard.clone(), inner: self.db.clone() })
    }

    /// What the query API reads.
    pub fn queryable(&self) -> Arc<dyn Queryable> {
        self.db.clone()
    }

    /// The TSDB itself (cardinality reports, stats).
    pub fn db(&self) -> &Arc<Db> {
        &self.db
    }

    /// Runs the TSDB's maintenance (cutting the head into blocks, WAL
    /// checkpoints, compaction, retention) now and then every
    /// [`MAINTAIN_EVERY`] until `stop`, on the blocking pool.
    pub async fn run_maintenance(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            let db = self.db.clone();
            match tokio::task::spawn_blocking(move || db.maintain()).await {
                Ok(Ok(report)) if report != wk_tsdb::MaintainReport::default() => {
                    tracing::debug!(?report, "TSDB maintenance done");
                }
                Ok(Ok(_)) => {}
                // Logged with its cause by the engine; retried on the next round.
                Ok(Err(_)) => {}
                Err(e) => tracing::error!(error = %e, "TSDB maintenance panicked"),
            }
            tokio::select! {
                _ = tokio::time::sleep(MAINTAIN_EVERY) => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
        }
    }

    /// The engine's metrics for `/metrics`.
    pub fn metrics(&self) -> Arc<dyn LateMetrics> {
        Arc::new(StorageMetrics { db: self.db.clone(), guard: self.guard.clone() })
    }

    /// Syncs and closes the engines, writing the clean-shutdown marker. A request
    /// still finishing its write on the blocking pool holds the engine: close waits
    /// for it up to `wait`. Every acknowledged write is already durable, so if the
    /// engine is still in use after that, only the clean-shutdown marker is skipped
    /// (the next start reports an unclean shutdown and replays as usual).
    pub fn close(self, wait: std::time::Duration) -> Result<()> {
        let deadline = std::time::Instant::now() + wait;
        let mut db = self.db;
        loop {
            match Arc::try_unwrap(db) {
                Ok(db) => return db.close().map_err(|e| Error::Storage(format!("closing the TSDB: {e}"))),
                Err(shared) if std::time::Instant::now() < deadline => {
                    db = shared;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(_) => {
                    tracing::warn!("the TSDB is still in use at shutdown; closing without the clean-shutdown marker");
                    return Ok(());
                }
            }
        }
    }
}

/// The engine's options from the `storage:` section.
fn db_options(config: &StorageConfig) -> DbOptions {
    let mut options = DbOptions::default();
    options.head.ooo_window_ms = config.effective_out_of_order_window().get().as_millis() as i64;
    let limits = &config.limits;
    options.head.limits = wk_tsdb::Limits {
        max_series: limits.max_series,
        max_series_per_metric: limits.max_series_per_metric,
        max_series_per_target: limits.max_series_per_target,
        max_labels_per_series: limits.max_labels_per_series,
        max_label_name_len: limits.max_label_name_length,
        max_label_value_len: limits.max_label_value_length,
    };
    options.block_range_ms = config.block_duration.get().as_millis() as i64;
    options.retention_ms = config.retention.time.get().as_millis() as i64;
    options.retention_bytes = config.retention.size.0;
    options.wal.fsync = match config.wal.fsync {
        FsyncPolicy::Always => wk_wal::FsyncMode::Always,
        FsyncPolicy::Interval => wk_wal::FsyncMode::Interval(config.wal.fsync_interval.get()),
    };
    options
}

#[derive(Debug)]
struct StorageMetrics {
    db: Arc<Db>,
    guard: Arc<DiskGuard>,
}

impl LateMetrics for StorageMetrics {
    fn encode(&self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let stats = self.db.stats();
        let head = self.db.head();
        let gauges = [
            ("watchkeeper_tsdb_head_series", "Series held in the TSDB head", stats.head_series as f64),
            ("watchkeeper_tsdb_wal_segments", "Segment files in the write-ahead log", stats.wal_segments as f64),
            (
                "watchkeeper_tsdb_wal_replay_duration_seconds",
                "How long the write-ahead log replay took at start",
                stats.replay_duration.as_secs_f64(),
            ),
            (
                "watchkeeper_storage_disk_full",
                "1 while writes are refused because free space is below storage.min_free_space",
                if self.guard.is_full() { 1.0 } else { 0.0 },
            ),
            (
                "watchkeeper_storage_free_bytes",
                "Free bytes on the file system of the data directory",
                self.guard.free_bytes() as f64,
            ),
            ("watchkeeper_tsdb_blocks_loaded", "Persistent blocks on disk", stats.blocks as f64),
            ("watchkeeper_tsdb_storage_blocks_bytes", "Bytes of the persistent blocks", stats.block_bytes as f64),
            (
                "watchkeeper_tsdb_lowest_timestamp_seconds",
                "Oldest time covered by the stored data (blocks, else head)",
                stats.oldest_block_mint.or(head.time_range().map(|(lo, _)| lo)).map_or(f64::NAN, |t| t as f64 / 1000.0),
            ),
            (
                "watchkeeper_tsdb_unclean_shutdown",
                "1 if the previous run did not shut down cleanly (detected at start)",
                if stats.unclean_shutdown { 1.0 } else { 0.0 },
            ),
        ];
        for (name, help, value) in gauges {
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        let counters = [
            (
                "watchkeeper_tsdb_head_samples_appended",
                "Samples appended to the TSDB head",
                stats.samples_appended as f64,
            ),
            (
                "watchkeeper_tsdb_head_series_created",
                "Series created in the TSDB head",
                head.stats().series_created() as f64,
            ),
            (
                "watchkeeper_tsdb_wal_written_bytes",
                "Bytes written to the write-ahead log",
                stats.wal_bytes_written as f64,
            ),
            ("watchkeeper_tsdb_wal_fsyncs", "fsync calls on the write-ahead log", stats.wal_fsyncs as f64),
            ("watchkeeper_tsdb_wal_fsync_seconds", "Time spent in write-ahead log fsyncs", stats.wal_fsync_seconds),
            (
                "watchkeeper_tsdb_wal_corruptions",
                "Corrupt write-ahead log records found and skipped",
                stats.wal_corruptions as f64,
            ),
            ("watchkeeper_tsdb_wal_truncations", "Torn write-ahead log tails truncated", stats.wal_truncations as f64),
            ("watchkeeper_tsdb_head_cuts", "Blocks cut from the head", stats.blocks_cut as f64),
            (
                "watchkeeper_tsdb_head_cuts_failed",
                "Failed attempts to cut the head into a block",
                stats.cut_failures as f64,
            ),
            ("watchkeeper_tsdb_compactions", "Block compactions", stats.compactions as f64),
            ("watchkeeper_tsdb_compactions_failed", "Failed block compactions", stats.compaction_failures as f64),
            ("watchkeeper_tsdb_wal_checkpoints", "Write-ahead log checkpoints written", stats.checkpoints as f64),
            (
                "watchkeeper_tsdb_blocks_deleted_by_retention",
                "Blocks deleted by time or size retention",
                stats.retention_deletions as f64,
            ),
            (
                "watchkeeper_tsdb_blocks_quarantined",
                "Damaged blocks set aside at start (renamed *.wkb.corrupt)",
                stats.blocks_quarantined as f64,
            ),
        ];
        for (name, help, value) in counters {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(name, help, None, counter.metric_type())?)?;
        }
        let mut rejected = encoder.encode_descriptor(
            "watchkeeper_tsdb_samples_rejected",
            "Samples the TSDB rejected, by reason",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for (reason, count) in head.stats().rejected() {
            ConstCounter::new(count).encode(rejected.encode_family(&[("reason", reason)])?)?;
        }
        Ok(())
    }
}
