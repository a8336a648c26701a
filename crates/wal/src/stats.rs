//! Counters that higher layers export as self-metrics.
//!
//! The WAL does not depend on a metrics crate: it bumps plain atomics, and the
//! server reads them when it is scraped. Suggested metric names follow
//! `docs/self-monitoring.md` conventions, e.g. `watchkeeper_wal_fsyncs_total`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Live counters of one [`Wal`](crate::Wal), shared through
/// [`Wal::stats`](crate::Wal::stats). All counters only grow, except
/// `segments`, which is a gauge. Reads use relaxed ordering: each value is
/// exact, but two values read one after the other may be from different moments.
#[derive(Debug, Default)]
pub struct WalStats {
    /// Bytes written to segment files (frames, headers excluded).
    pub bytes_written: AtomicU64,
    /// Records appended.
    pub records_written: AtomicU64,
    /// Calls to `append` that returned `Ok`.
    pub batches_written: AtomicU64,
    /// `fdatasync` calls on segment files (one per commit group).
    pub fsyncs: AtomicU64,
    /// Sum of `fdatasync` durations, in nanoseconds.
    pub fsync_nanos_total: AtomicU64,
    /// Duration of the most recent `fdatasync`, in nanoseconds.
    pub fsync_nanos_last: AtomicU64,
    /// Damaged regions and headers found while replaying.
    pub corruptions_detected: AtomicU64,
    /// Torn tails truncated while opening.
    pub truncations: AtomicU64,
    /// Segment files currently in the WAL directory (gauge).
    pub segments: AtomicU64,
    /// Segment files created since open (rolls included).
    pub segments_created: AtomicU64,
    /// Checkpoints written since open.
    pub checkpoints_written: AtomicU64,
}

impl WalStats {
    /// Records one fsync that took `took`.
    pub(crate) fn record_fsync(&self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.fsyncs.fetch_add(1, Ordering::Relaxed);
        self.fsync_nanos_total.fetch_add(nanos, Ordering::Relaxed);
        self.fsync_nanos_last.store(nanos, Ordering::Relaxed);
    }

    /// Returns the mean fsync duration so far, or zero before the first fsync.
    pub fn mean_fsync(&self) -> Duration {
        let count = self.fsyncs.load(Ordering::Relaxed);
        let total = self.fsync_nanos_total.load(Ordering::Relaxed);
        Duration::from_nanos(total.checked_div(count).unwrap_or(0))
    }
}
