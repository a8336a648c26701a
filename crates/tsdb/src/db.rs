//! The durable database: the in-memory [`Head`] behind a write-ahead log.
//!
//! - `db.rs` (this file): [`Db`], its options, open with replay, close, stats.
//! - [`appender`]: [`DbAppender`], the commit protocol (log, fsync, apply in log order).
//! - `replay`: rebuilding the head from WAL records.
//! - `wal_records`: the series and samples record codec.
//!
//! Directory layout: the WAL lives in `<dir>/wal` (format in
//! `docs/storage-format.md`); `<dir>/clean_shutdown` exists only between a
//! successful [`Db::close`] and the next open.
//!
//! - [`blocks`]: persistent blocks: cutting the head, WAL checkpoints,
//!   compaction, retention ([`Db::maintain`]).
//! - `querier`: [`DbQuerier`], blocks and head merged.
//!
//! Blocks live in `<dir>/blocks` (format in `docs/storage-format.md`).

pub mod appender;
pub mod blocks;
mod querier;
pub(crate) mod replay;
pub(crate) mod wal_records;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use roaring::RoaringBitmap;
use wk_wal::{RealFs, ReplayReport, Wal, WalFs, WalOptions};

pub use appender::DbAppender;
pub use blocks::MaintainReport;
pub use querier::DbQuerier;

use crate::error::{Result, TsdbError};
use crate::head::{Head, HeadOptions};
use appender::ApplyOrder;
use blocks::BlockSet;

/// Name of the clean-shutdown marker file inside the data directory.
pub const CLEAN_SHUTDOWN_FILE: &str = "clean_shutdown";
/// Most threads that apply replayed samples (one per core up to this).
const MAX_REPLAY_WORKERS: usize = 8;
/// Contents of the clean-shutdown marker: magic and format version 1.
const CLEAN_SHUTDOWN_CONTENTS: &[u8] = b"WKCLEAN\x01";

/// Two hours, the default block range (as Prometheus).
pub const DEFAULT_BLOCK_RANGE_MS: i64 = 2 * 3600 * 1000;
/// Fifteen days, the default time retention (as Prometheus).
pub const DEFAULT_RETENTION_MS: i64 = 15 * 24 * 3600 * 1000;

/// Options of a [`Db`]; `Default` is production-ready (fsync on every commit,
/// 2 h blocks, 15 days of retention).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbOptions {
    /// Options of the in-memory head.
    pub head: HeadOptions,
    /// Options of the write-ahead log in `<dir>/wal`.
    pub wal: WalOptions,
    /// Time range of a block cut from the head, in milliseconds; compacted
    /// blocks span 3, 9 and 27 times this.
    pub block_range_ms: i64,
    /// Blocks whose data is all older than the newest sample minus this are
    /// deleted; 0 keeps data forever.
    pub retention_ms: i64,
    /// The oldest blocks are deleted while blocks and WAL together take more
    /// bytes than this; 0 for no size limit.
    pub retention_bytes: u64,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            head: HeadOptions::default(),
            wal: WalOptions::default(),
            block_range_ms: DEFAULT_BLOCK_RANGE_MS,
            retention_ms: DEFAULT_RETENTION_MS,
            retention_bytes: 0,
        }
    }
}

/// What [`Db::open`] found and rebuilt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// The WAL's own report: records read, torn tail truncated, corrupt regions skipped.
    pub replay: ReplayReport,
    /// Series in the head after replay.
    pub series: u64,
    /// Samples stored in the head by replay.
    pub samples: u64,
    /// Wall time of the whole open, replay included.
    pub duration: Duration,
    /// True when the previous process did not close the database (crash, kill,
    /// power loss); false for a clean close and for a new, empty directory.
    pub unclean_shutdown: bool,
    /// Samples dropped because the record that created their series was lost to
    /// damage; they are never attached to another series.
    pub samples_without_series: u64,
    /// Samples the head rejected on replay, exactly as their commit rejected them
    /// (a concurrent appender had written the series first).
    pub samples_rejected: u64,
    /// WAL records that passed their checksum but do not decode as TSDB records.
    pub undecodable_records: u64,
    /// Blocks loaded.
    pub blocks: usize,
    /// Damaged block files renamed aside (`*.wkb.corrupt`) instead of served.
    pub blocks_quarantined: Vec<PathBuf>,
}

/// A snapshot of the database's counters for self-monitoring; plain numbers, read
/// with relaxed ordering (each exact, not necessarily from the same instant).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DbStats {
    /// Series in the head (gauge).
    pub head_series: u64,
    /// Samples committed since open (replayed samples excluded).
    pub samples_appended: u64,
    /// Bytes written to WAL segments since open.
    pub wal_bytes_written: u64,
    /// WAL fsyncs since open (one per commit group).
    pub wal_fsyncs: u64,
    /// Total time spent in WAL fsyncs since open, in seconds.
    pub wal_fsync_seconds: f64,
    /// Damaged WAL regions found since open (replay included).
    pub wal_corruptions: u64,
    /// Torn WAL tails truncated at open.
    pub wal_truncations: u64,
    /// WAL segment files on disk (gauge).
    pub wal_segments: u64,
    /// Duration of the open that rebuilt the head, replay included.
    pub replay_duration: Duration,
    /// Whether the open found that the previous shutdown was unclean.
    pub unclean_shutdown: bool,
    /// Persistent blocks (gauge).
    pub blocks: u64,
    /// Bytes of the persistent blocks (gauge).
    pub block_bytes: u64,
    /// Oldest sample time covered by a block, or `None` without blocks.
    pub oldest_block_mint: Option<i64>,
    /// Blocks cut from the head since open.
    pub blocks_cut: u64,
    /// Compactions since open.
    pub compactions: u64,
    /// Failed head cuts since open.
    pub cut_failures: u64,
    /// Failed compactions since open.
    pub compaction_failures: u64,
    /// Blocks deleted by retention since open.
    pub retention_deletions: u64,
    /// WAL checkpoints written since open.
    pub checkpoints: u64,
    /// Damaged blocks set aside at open.
    pub blocks_quarantined: u64,
}

/// Counters of the block life cycle.
#[derive(Debug, Default)]
pub(crate) struct DbCounters {
    pub blocks_cut: AtomicU64,
    pub compactions: AtomicU64,
    pub cut_failures: AtomicU64,
    pub compaction_failures: AtomicU64,
    pub retention_deletions: AtomicU64,
    pub checkpoints: AtomicU64,
    pub quarantined: AtomicU64,
}

/// The time-series database: a [`Head`] made durable by a write-ahead log. The
/// contract: a sample whose commit returned `Ok` survives `kill -9`, power loss
/// and a torn WAL tail. Shared by reference between any number of appenders and
/// queriers on any threads.
#[derive(Debug)]
pub struct Db {
    dir: PathBuf,
    fs: Arc<dyn WalFs>,
    head: Head,
    wal: Wal,
    /// This open's epoch: the first WAL segment it writes, written into every record.
    epoch: u64,
    /// Refs whose series record this process has written to the WAL.
    logged: RwLock<RoaringBitmap>,
    order: ApplyOrder,
    replay_duration: Duration,
    unclean_shutdown: bool,
    options: DbOptions,
    /// Persistent blocks and the head's query bound, swapped together.
    blocks: RwLock<BlockSet>,
    /// Held by [`Db::maintain`] so that cuts, compactions and retention never
    /// run concurrently.
    maintenance: Mutex<()>,
    counters: DbCounters,
}

impl Db {
    /// Opens (or creates) the database in `dir` on the real file system; see
    /// [`Db::open_with_fs`].
    pub fn open(dir: &Path, options: DbOptions) -> Result<(Db, OpenReport)> {
        Self::open_with_fs(Arc::new(RealFs::new()), dir, options)
    }

    /// Opens (or creates) the database in `dir` on `fs`: replays the WAL in
    /// `dir/wal` into a new head (truncating a torn tail, skipping damaged
    /// records, both reported), detects whether the previous shutdown was clean,
    /// and logs a summary line.
    ///
    /// Fails with [`TsdbError::InvalidOptions`] for bad head options,
    /// [`TsdbError::Wal`] when the WAL cannot be read or written (I/O error,
    /// unknown segment version), and [`TsdbError::Io`] when the shutdown marker
    /// cannot be removed. Damage is never an error.
    pub fn open_with_fs(fs: Arc<dyn WalFs>, dir: &Path, options: DbOptions) -> Result<(Db, OpenReport)> {
        let started = Instant::now();
        if options.block_range_ms < 1 {
            return Err(TsdbError::InvalidOptions { detail: "block_range_ms must be at least 1".into() });
        }
        if options.retention_ms < 0 {
            return Err(TsdbError::InvalidOptions { detail: "retention_ms must not be negative".into() });
        }
        let head = Head::new(options.head.clone())?;
        let loaded = blocks::load(&*fs, &dir.join(blocks::BLOCKS_DIR))?;
        let blocks_max = loaded.blocks.iter().map(|b| b.meta().maxt).max();
        if let Some(t) = blocks_max {
            // Samples below the newest block's end are in blocks: replay skips
            // them and appends reject them as out of bounds.
            head.raise_min_valid(t);
        }
        let wal_dir = dir.join("wal");
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_REPLAY_WORKERS);
        let (opened, counts) = replay::run(&head, workers, |replay| {
            // A long replay says how far it got every few seconds, so an operator
            // watching a restart after a crash knows it is progressing.
            let mut progress = ReplayProgress::new(&wal_dir);
            Wal::open_with(Arc::clone(&fs), &wal_dir, options.wal.clone(), |rec| {
                progress.record(rec.payload.len());
                replay.apply(rec.payload)
            })
        });
        let (wal, wal_report) = opened.map_err(|source| TsdbError::Wal { dir: wal_dir.clone(), source })?;
        let marker = dir.join(CLEAN_SHUTDOWN_FILE);
        let marker_found = fs.file_len(&marker).is_ok();
        let had_wal = wal_report.segments_read > 0 || wal_report.checkpoint.is_some();
        let unclean_shutdown = had_wal && !marker_found;
        if marker_found {
            // A crash from now on must be reported as unclean.
            fs.remove_file(&marker).and_then(|()| fs.sync_dir(dir)).map_err(|source| TsdbError::Io {
                op: "remove clean-shutdown marker",
                path: marker.clone(),
                source,
            })?;
        }
        let report = OpenReport {
            series: head.num_series() as u64,
            samples: counts.samples,
            duration: started.elapsed(),
            unclean_shutdown,
            samples_without_series: counts.samples_without_series,
            samples_rejected: counts.samples_rejected,
            undecodable_records: counts.undecodable_records,
            replay: wal_report,
            blocks: loaded.blocks.len(),
            blocks_quarantined: loaded.quarantined.clone(),
        };
        log_open(dir, &report);
        let epoch = wal.active_segment();
        let db = Db {
            dir: dir.to_path_buf(),
            fs,
            head,
            wal,
            epoch,
            logged: RwLock::new(RoaringBitmap::new()),
            order: ApplyOrder::default(),
            replay_duration: report.duration,
            unclean_shutdown,
            options,
            blocks: RwLock::new(BlockSet { blocks: loaded.blocks, head_min: blocks_max.unwrap_or(i64::MIN) }),
            maintenance: Mutex::new(()),
            counters: DbCounters::default(),
        };
        db.counters.quarantined.store(loaded.quarantined.len() as u64, Ordering::Relaxed);
        Ok((db, report))
    }

    /// Returns a new, empty batch writer; see [`DbAppender`].
    pub fn appender(&self) -> DbAppender<'_> {
        DbAppender::new(self)
    }

    /// Returns a querier over everything committed: the blocks as of now and
    /// the head.
    pub fn querier(&self) -> DbQuerier<'_> {
        let set = self.blocks.read().clone();
        DbQuerier::new(self.head.querier(), set)
    }

    /// Returns the persistent blocks, oldest first.
    pub fn blocks(&self) -> Vec<Arc<crate::block::Block>> {
        self.blocks.read().blocks.clone()
    }

    /// Returns the options the database runs with.
    pub fn options(&self) -> &DbOptions {
        &self.options
    }

    /// Returns the in-memory head, for reads, cardinality and memory statistics.
    /// Writing through [`Head::appender`] bypasses the WAL: such samples are lost
    /// on restart; write through [`Db::appender`].
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// Returns the data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Returns a snapshot of the counters for self-monitoring.
    pub fn stats(&self) -> DbStats {
        let wal = self.wal.stats();
        let nanos = wal.fsync_nanos_total.load(Ordering::Relaxed);
        let set = self.blocks.read().clone();
        let c = &self.counters;
        DbStats {
            head_series: self.head.num_series() as u64,
            samples_appended: self.head.stats().samples_appended(),
            wal_bytes_written: wal.bytes_written.load(Ordering::Relaxed),
            wal_fsyncs: wal.fsyncs.load(Ordering::Relaxed),
            wal_fsync_seconds: Duration::from_nanos(nanos).as_secs_f64(),
            wal_corruptions: wal.corruptions_detected.load(Ordering::Relaxed),
            wal_truncations: wal.truncations.load(Ordering::Relaxed),
            wal_segments: wal.segments.load(Ordering::Relaxed),
            replay_duration: self.replay_duration,
            unclean_shutdown: self.unclean_shutdown,
            blocks: set.blocks.len() as u64,
            block_bytes: set.blocks.iter().map(|b| b.size_bytes()).sum(),
            oldest_block_mint: set.blocks.first().map(|b| b.meta().mint),
            blocks_cut: c.blocks_cut.load(Ordering::Relaxed),
            compactions: c.compactions.load(Ordering::Relaxed),
            cut_failures: c.cut_failures.load(Ordering::Relaxed),
            compaction_failures: c.compaction_failures.load(Ordering::Relaxed),
            retention_deletions: c.retention_deletions.load(Ordering::Relaxed),
            checkpoints: c.checkpoints.load(Ordering::Relaxed),
            blocks_quarantined: c.quarantined.load(Ordering::Relaxed),
        }
    }

    /// Syncs the WAL and writes the clean-shutdown marker, so that the next open
    /// reports a clean shutdown. Fails with [`TsdbError::Wal`] when the last sync
    /// fails (acknowledged data is still safe: it was synced at commit) and with
    /// [`TsdbError::Io`] when the marker cannot be written; the next open then
    /// reports an unclean shutdown.
    pub fn close(self) -> Result<()> {
        let Db { dir, fs, wal, .. } = self;
        let wal_dir = wal.dir().to_path_buf();
        wal.close().map_err(|source| TsdbError::Wal { dir: wal_dir, source })?;
        let marker = dir.join(CLEAN_SHUTDOWN_FILE);
        let io = |source| TsdbError::Io { op: "write clean-shutdown marker", path: marker.clone(), source };
        let file = fs.create(&marker).map_err(io)?;
        file.write_all(CLEAN_SHUTDOWN_CONTENTS).and_then(|()| file.sync_data()).map_err(io)?;
        fs.sync_dir(&dir).map_err(io)?;
        tracing::info!(dir = %dir.display(), "TSDB closed cleanly");
        Ok(())
    }
}

fn log_open(dir: &Path, report: &OpenReport) {
    tracing::info!(
        dir = %dir.display(),
        series = report.series,
        samples = report.samples,
        duration_ms = report.duration.as_millis() as u64,
        clean_shutdown = !report.unclean_shutdown,
        wal_records = report.replay.records,
        torn_tail = report.replay.torn_tail.is_some(),
        corrupt_regions = report.replay.corrupt_records,
        "TSDB head replayed from WAL"
    );
    if report.samples_without_series > 0 || report.undecodable_records > 0 {
        tracing::warn!(
            dir = %dir.display(),
            samples_without_series = report.samples_without_series,
            undecodable_records = report.undecodable_records,
            "TSDB WAL damage lost samples on replay"
        );
    }
}

/// Logs replay progress at most every [`ReplayProgress::EVERY`].
struct ReplayProgress<'a> {
    dir: &'a Path,
    started: Instant,
    last_log: Instant,
    records: u64,
    bytes: u64,
}

impl<'a> ReplayProgress<'a> {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(5);

    fn new(dir: &'a Path) -> Self {
        let now = Instant::now();
        Self { dir, started: now, last_log: now, records: 0, bytes: 0 }
    }

    fn record(&mut self, len: usize) {
        self.records += 1;
        self.bytes += len as u64;
        if self.records.is_multiple_of(4096) && self.last_log.elapsed() >= Self::EVERY {
            self.last_log = Instant::now();
            tracing::info!(
                dir = %self.dir.display(),
                records = self.records,
                mib = self.bytes >> 20,
                seconds = self.started.elapsed().as_secs(),
                "replaying the TSDB WAL"
            );
        }
    }
}
