//! The in-memory head: recent samples of every active series.
//!
//! - `head.rs` (this file): [`Head`], its options, series creation and sharding.
//! - `series`: per-series chunks and the order/duplicate rules.
//! - [`append`]: [`HeadAppender`], the batch writer.
//! - [`read`]: [`HeadQuerier`], reads with time filtering.
//! - [`limits`]: [`Limits`] on new series.
//! - [`stats`]: [`HeadStats`] counters.
//!
//! Locking: the index sits behind one `RwLock` (read for lookups and queries, write
//! only to create a series); series state sits in [`SHARDS`] mutex-protected vectors,
//! series `r` at position `r / SHARDS` of shard `r % SHARDS`. Lock order is always
//! index, then shard. No lock is taken per sample beyond one shard mutex.

pub mod append;
pub mod limits;
pub mod read;
pub(crate) mod series;
pub mod stats;
mod storage;

use parking_lot::{Mutex, RwLock};
use wk_model::Labels;
use wk_storage::{AppendError, SeriesRef};

pub use append::HeadAppender;
pub use limits::Limits;
pub use read::HeadQuerier;
pub use stats::HeadStats;

use crate::TsdbError;
use crate::chunk::SAMPLES_PER_CHUNK;
use crate::index::{CardinalityReport, Index};
use series::MemSeries;

/// Number of series shards (a power of two).
pub const SHARDS: usize = 64;

/// Options of the head; owned by this crate, `Default` is production-ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadOptions {
    /// Samples per chunk before it is cut; 120 as in Prometheus.
    pub chunk_samples: u16,
    /// Out-of-order window in milliseconds, relative to the newest sample of the
    /// same series; 0 rejects every older sample with "out of order sample".
    pub ooo_window_ms: i64,
    /// Limits on new series.
    pub limits: Limits,
}

impl Default for HeadOptions {
    fn default() -> Self {
        Self { chunk_samples: SAMPLES_PER_CHUNK, ooo_window_ms: 0, limits: Limits::default() }
    }
}

/// The in-memory time-series head. Shared by reference between any number of
/// appenders and queriers on any threads.
#[derive(Debug)]
pub struct Head {
    opts: HeadOptions,
    index: RwLock<Index>,
    shards: Box<[Mutex<Vec<MemSeries>>]>,
    stats: HeadStats,
}

impl Head {
    /// Creates an empty head; fails when options are inconsistent.
    pub fn new(opts: HeadOptions) -> Result<Self, TsdbError> {
        if opts.chunk_samples < 2 {
            return Err(TsdbError::InvalidOptions { detail: "chunk_samples must be at least 2".into() });
        }
        if opts.ooo_window_ms < 0 {
            return Err(TsdbError::InvalidOptions { detail: "ooo_window_ms must not be negative".into() });
        }
        Ok(Self {
            opts,
            index: RwLock::new(Index::default()),
            shards: (0..SHARDS).map(|_| Mutex::new(Vec::new())).collect(),
            stats: HeadStats::default(),
        })
    }

    /// Returns the options the head runs with.
    pub fn options(&self) -> &HeadOptions {
        &self.opts
    }

    /// Returns a new, empty batch writer.
    pub fn appender(&self) -> HeadAppender<'_> {
        HeadAppender::new(self)
    }

    /// Returns a querier over the head.
    pub fn querier(&self) -> HeadQuerier<'_> {
        HeadQuerier::new(self)
    }

    /// Returns the counters.
    pub fn stats(&self) -> &HeadStats {
        &self.stats
    }

    /// Returns the number of series.
    pub fn num_series(&self) -> usize {
        self.index.read().len()
    }

    /// Returns the cardinality report with the `top_n` largest entries per list.
    pub fn cardinality(&self, top_n: usize) -> CardinalityReport {
        self.index.read().cardinality(top_n)
    }

    /// Finds or creates the series `labels`, enforcing limits on creation. Rejections
    /// are counted.
    pub(crate) fn get_or_create(&self, labels: &Labels) -> Result<SeriesRef, AppendError> {
        let hash = labels.stable_hash();
        if let Some(r) = self.index.read().lookup(labels, hash) {
            return Ok(SeriesRef(r));
        }
        self.create(labels, hash).inspect_err(|e| self.stats.add_rejected(e, 1))
    }

    fn create(&self, labels: &Labels, hash: u64) -> Result<SeriesRef, AppendError> {
        let limits = &self.opts.limits;
        limits.check_labels(labels)?;
        let mut index = self.index.write();
        if let Some(r) = index.lookup(labels, hash) {
            return Ok(SeriesRef(r));
        }
        let per_metric = labels.metric_name().map_or(0, |m| index.series_for_metric(m));
        limits.check_counts(index.len() as u64, u64::from(per_metric))?;
        let r = index.create(labels, hash);
        let mut shard = self.shards[r as usize % SHARDS].lock();
        debug_assert_eq!(shard.len(), r as usize / SHARDS, "shard position invariant");
        shard.push(MemSeries::default());
        drop(shard);
        drop(index);
        self.stats.add_series();
        Ok(SeriesRef(r))
    }

    /// Finds or creates the series `labels` while replaying the WAL. Limits are not
    /// applied: the series was accepted before the restart, and lowering a limit
    /// must not drop acknowledged data.
    pub(crate) fn replay_series(&self, labels: &Labels) -> SeriesRef {
        let hash = labels.stable_hash();
        if let Some(r) = self.index.read().lookup(labels, hash) {
            return SeriesRef(r);
        }
        let mut index = self.index.write();
        if let Some(r) = index.lookup(labels, hash) {
            return SeriesRef(r);
        }
        let r = index.create(labels, hash);
        let mut shard = self.shards[r as usize % SHARDS].lock();
        debug_assert_eq!(shard.len(), r as usize / SHARDS, "shard position invariant");
        shard.push(MemSeries::default());
        SeriesRef(r)
    }

    /// Applies one replayed sample with the same rules as a commit. Returns true
    /// when it was stored, false for a duplicate.
    pub(crate) fn replay_sample(&self, r: SeriesRef, t: i64, v: f64) -> Result<bool, AppendError> {
        let (window, chunk_samples) = (self.opts.ooo_window_ms, self.opts.chunk_samples);
        self.with_series(r, |s| s.append(t, v, window, chunk_samples))
    }

    /// Returns true when `r` names an existing series.
    pub(crate) fn contains(&self, r: SeriesRef) -> bool {
        let shard = self.shards[r.index() % SHARDS].lock();
        r.index() / SHARDS < shard.len()
    }

    /// Runs `f` on series `r` under its shard lock. Panics on an unknown ref (an
    /// internal invariant: refs come from the index).
    pub(crate) fn with_series<T>(&self, r: SeriesRef, f: impl FnOnce(&mut MemSeries) -> T) -> T {
        let mut shard = self.shards[r.index() % SHARDS].lock();
        f(&mut shard[r.index() / SHARDS])
    }

    /// Locks shard `i` for a batch of operations.
    pub(crate) fn shard(&self, i: usize) -> parking_lot::MutexGuard<'_, Vec<MemSeries>> {
        self.shards[i].lock()
    }

    pub(crate) fn index(&self) -> &RwLock<Index> {
        &self.index
    }

    /// Returns an estimate of the head's heap bytes (index arrays, postings, chunks);
    /// the memory example measures the real figure with a counting allocator.
    pub fn heap_bytes_estimate(&self) -> usize {
        let series: usize = self
            .shards
            .iter()
            .map(|s| {
                let s = s.lock();
                s.capacity() * std::mem::size_of::<MemSeries>() + s.iter().map(MemSeries::heap_bytes).sum::<usize>()
            })
            .sum();
        series + self.index.read().heap_bytes_estimate()
    }
}
