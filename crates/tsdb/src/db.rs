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
//! The WAL is never truncated yet: without persistent blocks, the log is the only
//! copy of the data, so it grows until blocks and checkpoints exist.

pub mod appender;
pub(crate) mod replay;
pub(crate) mod wal_records;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use roaring::RoaringBitmap;
use wk_model::Matcher;
use wk_storage::{Querier, QueryError, SeriesSet};
use wk_wal::{RealFs, ReplayReport, Wal, WalFs, WalOptions};

pub use appender::DbAppender;

use crate::error::{Result, TsdbError};
use crate::head::{Head, HeadOptions, HeadQuerier};
use appender::ApplyOrder;

/// Name of the clean-shutdown marker file inside the data directory.
pub const CLEAN_SHUTDOWN_FILE: &str = "clean_shutdown";
/// Most threads that apply replayed samples (one per core up to this).
const MAX_REPLAY_WORKERS: usize = 8;
/// Contents of the clean-shutdown marker: magic and format version 1.
const CLEAN_SHUTDOWN_CONTENTS: &[u8] = b"WKCLEAN\x01";

/// Options of a [`Db`]; `Default` is production-ready (fsync on every commit).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbOptions {
    /// Options of the in-memory head.
    pub head: HeadOptions,
    /// Options of the write-ahead log in `<dir>/wal`.
    pub wal: WalOptions,
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
        let head = Head::new(options.head)?;
        let wal_dir = dir.join("wal");
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_REPLAY_WORKERS);
        let (opened, counts) = replay::run(&head, workers, |replay| {
            // A long replay says how far it got every few seconds, so an operator
            // watching a restart after a crash knows it is progressing.
            let mut progress = ReplayProgress::new(&wal_dir);
            Wal::open_with(Arc::clone(&fs), &wal_dir, options.wal, |rec| {
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
        };
        Ok((db, report))
    }

    /// Returns a new, empty batch writer; see [`DbAppender`].
    pub fn appender(&self) -> DbAppender<'_> {
        DbAppender::new(self)
    }

    /// Returns a querier over everything committed.
    pub fn querier(&self) -> DbQuerier<'_> {
        DbQuerier { head: self.head.querier() }
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

/// A [`Querier`] over a [`Db`]: today the head; persistent blocks will join it.
/// Cheap to create; borrows the database.
#[derive(Debug, Clone, Copy)]
pub struct DbQuerier<'d> {
    head: HeadQuerier<'d>,
}

impl Querier for DbQuerier<'_> {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<SeriesSet<'_>, QueryError> {
        self.head.select(matchers, mint, maxt)
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, QueryError> {
        self.head.label_names(matchers)
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, QueryError> {
        self.head.label_values(name, matchers)
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
