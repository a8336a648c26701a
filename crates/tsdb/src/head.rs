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

use std::sync::atomic::{AtomicI64, Ordering};

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

/// One shard's series behind its mutex, alone on its cache lines: two shard
/// mutexes sharing a line would make threads working on different shards (the
/// replay workers, concurrent commits) bounce that line on every lock.
#[derive(Debug)]
#[repr(align(128))]
struct Shard(Mutex<Vec<MemSeries>>);

impl std::ops::Deref for Shard {
    type Target = Mutex<Vec<MemSeries>>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// One operation of the WAL on a series, replayed by [`Head::replay_run`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum ReplayOp {
    /// A sample `(t, v)`.
    Sample(i64, f64),
    /// A deletion of the samples in `[mint, maxt]`.
    Delete(i64, i64),
}

/// What [`Head::replay_run`] calls did: samples stored and rejected, and the
/// oldest and newest stored timestamp (`i64::MAX`/`MIN` when none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RunCounts {
    pub stored: u64,
    pub rejected: u64,
    pub lo: i64,
    pub hi: i64,
}

impl Default for RunCounts {
    fn default() -> Self {
        Self { stored: 0, rejected: 0, lo: i64::MAX, hi: i64::MIN }
    }
}

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
    shards: Box<[Shard]>,
    stats: HeadStats,
    /// Samples older than this are rejected as out of bounds: their time range
    /// has been (or is being) cut into a block.
    min_valid: AtomicI64,
    /// Oldest and newest sample timestamps in the head (`i64::MAX`/`MIN` when
    /// empty); the oldest is a lower bound after truncation.
    min_t: AtomicI64,
    max_t: AtomicI64,
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
            shards: (0..SHARDS).map(|_| Shard(Mutex::new(Vec::new()))).collect(),
            stats: HeadStats::default(),
            min_valid: AtomicI64::new(i64::MIN),
            min_t: AtomicI64::new(i64::MAX),
            max_t: AtomicI64::new(i64::MIN),
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
        let per_target = index.series_for_target(labels).map(u64::from);
        limits.check_counts(index.len() as u64, u64::from(per_metric), per_target)?;
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

    /// Applies a run of replayed operations on series `r`, in the given (log)
    /// order, under one shard lock: samples with the same rules as a commit
    /// (a sample older than the head's lower bound is in a block already and
    /// skipped; a duplicate is skipped; a rejection is counted), deletions after
    /// the samples before them. `counts` receives what was stored and rejected
    /// and the stored time range; the caller reports the range with
    /// [`Head::note_times`], once per batch.
    pub(crate) fn replay_run(&self, r: SeriesRef, ops: impl IntoIterator<Item = ReplayOp>, counts: &mut RunCounts) {
        let (window, chunk_samples) = (self.opts.ooo_window_ms, self.opts.chunk_samples);
        let mut shard = self.shards[r.index() % SHARDS].lock();
        // Read under the shard lock, as a commit does.
        let min_valid = self.min_valid();
        let series = &mut shard[r.index() / SHARDS];
        for op in ops {
            match op {
                ReplayOp::Sample(t, _) if t < min_valid => {}
                ReplayOp::Sample(t, v) => match series.append(t, v, window, chunk_samples) {
                    Ok(true) => {
                        counts.stored += 1;
                        counts.lo = counts.lo.min(t);
                        counts.hi = counts.hi.max(t);
                    }
                    Ok(false) => {}
                    Err(_) => counts.rejected += 1,
                },
                ReplayOp::Delete(mint, maxt) => {
                    if let Err(e) = series.delete_range(mint, maxt, chunk_samples) {
                        tracing::error!(error = %e, "TSDB head chunk did not decode while deleting; series left unchanged");
                    }
                }
            }
        }
    }

    /// Deletes series `r`'s samples in `[mint, maxt]`.
    pub(crate) fn delete_range(&self, r: SeriesRef, mint: i64, maxt: i64) {
        let chunk_samples = self.opts.chunk_samples;
        if let Err(e) = self.with_series(r, |s| s.delete_range(mint, maxt, chunk_samples)) {
            tracing::error!(error = %e, "TSDB head chunk did not decode while deleting; series left unchanged");
        }
    }

    /// Returns the lower bound of sample timestamps the head accepts.
    pub fn min_valid(&self) -> i64 {
        self.min_valid.load(Ordering::SeqCst)
    }

    /// Raises the lower bound of accepted timestamps to `t` (never lowers it).
    /// A commit checks it under the series' shard lock, so once this returns, no
    /// sample below `t` can enter the head.
    pub(crate) fn raise_min_valid(&self, t: i64) {
        self.min_valid.fetch_max(t, Ordering::SeqCst);
    }

    /// Records that samples between `lo` and `hi` were stored.
    pub(crate) fn note_times(&self, lo: i64, hi: i64) {
        self.min_t.fetch_min(lo, Ordering::Relaxed);
        self.max_t.fetch_max(hi, Ordering::Relaxed);
    }

    /// Returns the oldest and newest sample timestamps stored, or `None` when the
    /// head holds nothing. After a truncation the oldest is a lower bound.
    pub fn time_range(&self) -> Option<(i64, i64)> {
        let (lo, hi) = (self.min_t.load(Ordering::Relaxed), self.max_t.load(Ordering::Relaxed));
        (lo <= hi).then_some((lo, hi))
    }

    /// Drops every chunk and sample older than `before` (which must be at or
    /// below [`Head::min_valid`]); chunks straddling it are kept whole, readers
    /// filter them. Returns the number of series left without samples.
    pub(crate) fn truncate(&self, before: i64) -> usize {
        debug_assert!(before <= self.min_valid());
        let mut empty = 0;
        let mut new_min = i64::MAX;
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            // Collected series stay in their slot (refs are never reused); they
            // hold nothing and are not counted again.
            for s in shard.iter_mut().filter(|s| !s.dead) {
                match s.truncate_before(before) {
                    Some(first) => new_min = new_min.min(first.max(before)),
                    None => empty += 1,
                }
            }
        }
        if new_min == i64::MAX {
            // Empty: the next sample sets both bounds again.
            self.min_t.store(i64::MAX, Ordering::Relaxed);
            self.max_t.store(i64::MIN, Ordering::Relaxed);
        } else {
            self.min_t.store(new_min, Ordering::Relaxed);
        }
        empty
    }

    /// Returns true when `r` names an existing, live series.
    pub(crate) fn contains(&self, r: SeriesRef) -> bool {
        let shard = self.shards[r.index() % SHARDS].lock();
        shard.get(r.index() / SHARDS).is_some_and(|s| !s.dead)
    }

    /// Removes the series that hold no sample and have none pending (after a
    /// truncation: series that stopped receiving samples) from the index, so
    /// that they stop counting against limits and stop showing in label
    /// listings. Their refs are never reused; a stale ref is detected and the
    /// series looked up again by labels. Returns how many were removed.
    pub(crate) fn gc(&self) -> usize {
        let mut candidates = Vec::new();
        for (i, shard) in self.shards.iter().enumerate() {
            let shard = shard.lock();
            for (pos, s) in shard.iter().enumerate() {
                if !s.dead && s.pending == 0 && s.is_empty() {
                    candidates.push((pos * SHARDS + i) as u32);
                }
            }
        }
        if candidates.is_empty() {
            return 0;
        }
        let mut index = self.index.write();
        let mut removed = Vec::with_capacity(candidates.len());
        for r in candidates {
            let mut shard = self.shards[r as usize % SHARDS].lock();
            let s = &mut shard[r as usize / SHARDS];
            // Re-checked under the index write lock: no appender can look the
            // series up now, and `pending` shows one that already did.
            if !s.dead && s.pending == 0 && s.is_empty() {
                *s = MemSeries::default();
                s.dead = true;
                removed.push(r);
            }
        }
        index.remove_all(&removed);
        removed.len()
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
