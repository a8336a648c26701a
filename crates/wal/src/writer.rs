//! The WAL handle: opening (with replay), appending, syncing, segment rolls,
//! checkpoints and truncation. The concurrency (group commit, poisoning,
//! the interval flusher) lives in the private `group_commit` module.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;

use crate::checkpoint::{self, CheckpointInfo};
use crate::error::{Error, Result};
use crate::fs::{WalFile, WalFs};
use crate::group_commit::Shared;
use crate::options::{FsyncMode, WalOptions};
use crate::reader::{ReplayRecord, ReplayReport, Replayer};
use crate::record;
use crate::segment;
use crate::stats::WalStats;

/// A log sequence number: the position just after a batch's last record.
///
/// Ordered by segment, then byte offset, so a later append has a larger Lsn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn {
    /// The segment the batch ended in.
    pub segment: u64,
    /// Byte offset after the batch's last frame in that segment.
    pub offset: u64,
}

/// A batch written by [`Wal::write`] and not yet known to be durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteTicket {
    /// The batch's number: 1, 2, 3… in write order since the log was opened,
    /// without gaps; 0 for an empty batch.
    pub seq: u64,
    /// The position just after the batch's last record.
    pub lsn: Lsn,
}

/// A segmented, checksummed write-ahead log. See the [crate docs](crate).
///
/// `Wal` is `Send + Sync`; share it with `Arc` and append from any thread.
/// Dropping it stops the interval flusher and makes a last best-effort sync.
#[derive(Debug)]
pub struct Wal {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
}

impl Wal {
    /// Opens (or creates) the WAL in `dir`, recovering it, and discards the
    /// replayed records; see [`Wal::open_with`] to receive them.
    pub fn open(fs: Arc<dyn WalFs>, dir: impl AsRef<Path>, options: WalOptions) -> Result<(Wal, ReplayReport)> {
        Self::open_with(fs, dir, options, |_| {})
    }

    /// Opens (or creates) the WAL in `dir`: replays the newest checkpoint and
    /// every later segment in order, handing each record to `visit`, repairs
    /// a torn tail, skips and reports corrupt records, then starts a new
    /// segment for appends.
    ///
    /// Fails on I/O errors and on segments of an unknown format version; all
    /// damage is reported in the returned [`ReplayReport`] instead.
    pub fn open_with(
        fs: Arc<dyn WalFs>,
        dir: impl AsRef<Path>,
        options: WalOptions,
        mut visit: impl FnMut(ReplayRecord<'_>),
    ) -> Result<(Wal, ReplayReport)> {
        options.validate()?;
        let dir = dir.as_ref().to_path_buf();
        create_dir_durably(&*fs, &dir)?;
        let stats = Arc::new(WalStats::default());
        let cp = checkpoint::list(&*fs, &dir, true)?.last().copied();
        let mut replayer = Replayer {
            fs: &*fs,
            max: options.max_record_size,
            stats: &stats,
            report: ReplayReport::default(),
            visit: &mut visit,
        };
        if let Some(number) = cp {
            replayer.report.checkpoint = Some(number);
            checkpoint::replay(&mut replayer, &dir, number)?;
        }
        let after = cp.unwrap_or(0);
        let numbers: Vec<u64> = segment::list_segments(&*fs, &dir)?.into_iter().filter(|&n| n > after).collect();
        if let (Some(cp), Some(&first)) = (cp, numbers.first())
            && first > cp + 1
        {
            tracing::warn!(dir = %dir.display(), checkpoint = cp, first, "WAL segments missing after checkpoint");
            replayer.report.missing_segments += first - cp - 1;
        }
        replayer.replay_segments(&dir, &numbers, true)?;
        let report = replayer.report;
        let existing = segment::list_segments(&*fs, &dir)?;
        let next = existing.last().copied().unwrap_or(0).max(after) + 1;
        let file = segment::create_segment(&*fs, &dir, next)?;
        stats.segments.store(existing.len() as u64 + 1, Ordering::Relaxed);
        stats.segments_created.fetch_add(1, Ordering::Relaxed);
        let wal = Self::start(fs, dir, options, stats, file, next);
        Ok((wal, report))
    }

    fn start(
        fs: Arc<dyn WalFs>,
        dir: PathBuf,
        options: WalOptions,
        stats: Arc<WalStats>,
        file: Arc<dyn WalFile>,
        segment: u64,
    ) -> Wal {
        let shared = Arc::new(Shared::new(fs, dir, options, stats, file, segment));
        let flusher = match shared.options.fsync {
            FsyncMode::Always => None,
            FsyncMode::Interval(every) => {
                let shared = Arc::clone(&shared);
                Some(std::thread::spawn(move || shared.flush_every(every)))
            }
        };
        Wal { shared, flusher }
    }

    /// Appends `records` as one batch, in order, and returns the Lsn after
    /// the last one.
    ///
    /// Under [`FsyncMode::Always`] the records are durable when this returns
    /// `Ok`. A batch may be split across segments and is not atomic: after a
    /// crash during an unacknowledged append, a prefix of its records may be
    /// replayed. Each record itself is all-or-nothing. Fails without writing
    /// anything if a record exceeds the maximum size; fails with
    /// [`Error::Poisoned`] after an earlier unrecoverable failure.
    pub fn append(&self, records: &[&[u8]]) -> Result<Lsn> {
        let ticket = self.write(records)?;
        self.complete(ticket)
    }

    /// First half of [`Wal::append`]: writes `records` as one batch and
    /// returns its [`WriteTicket`] without waiting for durability. Pass the
    /// ticket to [`Wal::complete`] before acknowledging anything.
    ///
    /// Callers that must apply batches elsewhere in exactly the order the log
    /// holds them use [`WriteTicket::seq`]: batches are numbered 1, 2, 3…
    /// in write order since open, without gaps; a failed write takes no
    /// number, and an empty batch gets number 0. Fails like [`Wal::append`].
    pub fn write(&self, records: &[&[u8]]) -> Result<WriteTicket> {
        let max = self.shared.options.max_record_size;
        for rec in records {
            record::check_size(rec.len(), max)?;
        }
        let mut st = self.shared.state.lock();
        self.shared.check_poisoned(&st)?;
        if records.is_empty() {
            return Ok(WriteTicket { seq: 0, lsn: st.lsn() });
        }
        self.shared.write_batch(&mut st, records)?;
        st.written += 1;
        let stats = &self.shared.stats;
        stats.records_written.fetch_add(records.len() as u64, Ordering::Relaxed);
        stats.batches_written.fetch_add(1, Ordering::Relaxed);
        Ok(WriteTicket { seq: st.written, lsn: st.lsn() })
    }

    /// Second half of [`Wal::append`]: under [`FsyncMode::Always`], blocks
    /// until the batch of `ticket` is durable, sharing one fsync with every
    /// concurrent writer (group commit); under [`FsyncMode::Interval`],
    /// returns at once. Returns the batch's Lsn. Fails with an I/O error or
    /// [`Error::Poisoned`] when the fsync failed; the batch then counts as
    /// not written (it may or may not be replayed after a restart).
    pub fn complete(&self, ticket: WriteTicket) -> Result<Lsn> {
        if self.shared.options.fsync == FsyncMode::Always {
            let mut st = self.shared.state.lock();
            self.shared.wait_durable(&mut st, ticket.seq)?;
        }
        Ok(ticket.lsn)
    }

    /// Makes everything appended so far durable and returns the Lsn it
    /// covers. Joins an fsync already in flight when possible.
    pub fn sync(&self) -> Result<Lsn> {
        let mut st = self.shared.state.lock();
        self.shared.check_poisoned(&st)?;
        let seq = st.written;
        let lsn = st.lsn();
        self.shared.wait_durable(&mut st, seq)?;
        Ok(lsn)
    }

    /// Closes the active segment (syncing it) and starts the next one;
    /// returns the new active segment number. Every segment below it is
    /// complete and can be checkpointed.
    pub fn roll(&self) -> Result<u64> {
        let mut st = self.shared.state.lock();
        self.shared.check_poisoned(&st)?;
        self.shared.roll(&mut st)?;
        Ok(st.segment)
    }

    /// Returns the number of the segment appends currently go to.
    pub fn active_segment(&self) -> u64 {
        self.shared.state.lock().segment
    }

    /// Lists the segment numbers present in the WAL directory, ascending.
    pub fn segments(&self) -> Result<Vec<u64>> {
        segment::list_segments(&*self.shared.fs, &self.shared.dir)
    }

    /// Writes checkpoint `through_segment` atomically from `records` (the
    /// live state as of the end of that segment) and removes older
    /// checkpoints. Segments up to `through_segment` are then no longer
    /// replayed; remove them with [`Wal::truncate_before`]. Fails with
    /// [`Error::InvalidSegment`] unless `through_segment` is below the active
    /// segment (call [`Wal::roll`] first).
    pub fn write_checkpoint<I>(&self, through_segment: u64, records: I) -> Result<CheckpointInfo>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let active = self.active_segment();
        if through_segment >= active {
            return Err(Error::InvalidSegment { what: "a checkpoint", segment: through_segment, active });
        }
        let sh = &self.shared;
        let max = sh.options.max_record_size;
        let info = checkpoint::write(&*sh.fs, &sh.dir, through_segment, sh.options.segment_size, max, records)?;
        sh.stats.checkpoints_written.fetch_add(1, Ordering::Relaxed);
        Ok(info)
    }

    /// Durably removes every segment numbered below `segment`; returns how
    /// many were removed. Fails with [`Error::InvalidSegment`] if `segment`
    /// is above the active segment. The caller must have checkpointed what
    /// it still needs from them.
    pub fn truncate_before(&self, segment: u64) -> Result<u64> {
        let active = self.active_segment();
        if segment > active {
            return Err(Error::InvalidSegment { what: "truncation", segment, active });
        }
        let removed = checkpoint::remove_segments_before(&*self.shared.fs, &self.shared.dir, segment)?;
        let left = self.segments()?.len() as u64;
        self.shared.stats.segments.store(left, Ordering::Relaxed);
        Ok(removed)
    }

    /// Reads, without repairing anything, the newest checkpoint and the
    /// segments after it up to and including `through_segment`, handing each
    /// record to `visit`; for building the next checkpoint. Damage is counted
    /// in the report (never as a torn tail). Fails with
    /// [`Error::InvalidSegment`] unless `through_segment` is below the active
    /// segment, whose tail may be half written.
    pub fn replay_through(
        &self,
        through_segment: u64,
        mut visit: impl FnMut(ReplayRecord<'_>),
    ) -> Result<ReplayReport> {
        let active = self.active_segment();
        if through_segment >= active {
            return Err(Error::InvalidSegment { what: "a read-only replay", segment: through_segment, active });
        }
        let sh = &self.shared;
        let cp = checkpoint::list(&*sh.fs, &sh.dir, false)?.last().copied();
        let mut replayer = Replayer {
            fs: &*sh.fs,
            max: sh.options.max_record_size,
            stats: &sh.stats,
            report: ReplayReport::default(),
            visit: &mut visit,
        };
        if let Some(number) = cp {
            replayer.report.checkpoint = Some(number);
            checkpoint::replay(&mut replayer, &sh.dir, number)?;
        }
        let after = cp.unwrap_or(0);
        let numbers: Vec<u64> = self.segments()?.into_iter().filter(|&n| n > after && n <= through_segment).collect();
        replayer.replay_segments(&sh.dir, &numbers, false)?;
        Ok(replayer.report)
    }

    /// Returns the live counters of this log.
    pub fn stats(&self) -> &Arc<WalStats> {
        &self.shared.stats
    }

    /// Returns the WAL directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Returns the options the log was opened with.
    pub fn options(&self) -> &WalOptions {
        &self.shared.options
    }

    /// Syncs what was appended and closes the log, reporting a failure of
    /// that last sync (which `Drop` can only log).
    pub fn close(mut self) -> Result<()> {
        self.stop_flusher();
        self.sync().map(|_| ())
    }

    fn stop_flusher(&mut self) {
        *self.shared.stop.lock() = true;
        self.shared.stop_signal.notify_all();
        if let Some(handle) = self.flusher.take()
            && handle.join().is_err()
        {
            tracing::error!(dir = %self.shared.dir.display(), "WAL flusher thread panicked");
        }
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        self.stop_flusher();
        let st = self.shared.state.lock();
        if st.poisoned.is_none() && st.written > st.synced {
            drop(st);
            if let Err(e) = self.sync() {
                tracing::warn!(error = %e, "WAL sync on drop failed");
            }
        }
    }
}

/// Creates `dir` and its missing ancestors, syncing the parent of each
/// directory created so that the whole path survives a power cut.
fn create_dir_durably(fs: &dyn WalFs, dir: &Path) -> Result<()> {
    crate::fs::create_dir_durably(fs, dir).map_err(|e| Error::io("create directory", dir, e))
}
