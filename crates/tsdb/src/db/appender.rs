//! The durable batch writer: validate against the head, log, then apply.
//!
//! Commit protocol, per batch:
//! 1. Encode a series record for every series of the batch not yet logged by this
//!    process, then the samples records.
//! 2. `Wal::write` the records as one batch; the WAL numbers batches 1, 2, 3… in
//!    the order they reach the log.
//! 3. `Wal::complete`: wait for the group-commit fsync.
//! 4. Wait until every batch with a lower number has been applied (or failed), then
//!    apply this one to the head. Applying in log order makes the head after a
//!    replay identical to the head before the crash, including which samples a
//!    racing appender made a commit reject late.

use parking_lot::{Condvar, Mutex};
use wk_model::{Labels, Sample};
use wk_storage::{AppendError, Appender, CommitSummary, SeriesRef};

use super::Db;
use super::wal_records::{self, RefSample};
use crate::head::HeadAppender;

/// Makes commits apply to the head in the order of their WAL batch numbers.
#[derive(Debug)]
pub(crate) struct ApplyOrder {
    next: Mutex<u64>,
    turn: Condvar,
}

impl Default for ApplyOrder {
    fn default() -> Self {
        // The WAL numbers the first batch after open 1.
        Self { next: Mutex::new(1), turn: Condvar::new() }
    }
}

/// The right to apply batch `seq`; dropping it passes the turn on, whether the
/// batch was applied or failed, so that later batches never wait forever.
#[derive(Debug)]
struct Turn<'a> {
    order: &'a ApplyOrder,
    seq: u64,
}

impl Turn<'_> {
    /// Blocks until every lower-numbered batch has passed its turn on.
    fn wait(&self) {
        let mut next = self.order.next.lock();
        while *next < self.seq {
            self.order.turn.wait(&mut next);
        }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.wait();
        let mut next = self.order.next.lock();
        *next = self.seq + 1;
        self.order.turn.notify_all();
    }
}

/// A batch writer for a [`Db`]: [`Appender::append`] checks each sample against
/// the head exactly as [`HeadAppender`] does (limits, order, duplicates; typed
/// rejections per sample) and buffers it; [`Appender::commit`] writes the batch to
/// the WAL, waits until it is durable (one fsync shared with concurrent commits)
/// and only then makes it visible. One per writer thread; it borrows the database
/// and keeps its buffers across commits. Dropping it without committing discards
/// the batch.
#[derive(Debug)]
pub struct DbAppender<'d> {
    db: &'d Db,
    inner: HeadAppender<'d>,
    /// Encoded records of the batch being committed, reused across commits.
    records: Vec<Vec<u8>>,
    /// Refs of the batch's series that this process has not logged yet.
    unlogged: Vec<u32>,
}

impl<'d> DbAppender<'d> {
    pub(crate) fn new(db: &'d Db) -> Self {
        Self { db, inner: db.head.appender(), records: Vec::new(), unlogged: Vec::new() }
    }

    /// Returns the number of samples buffered.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Returns true when nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Encodes the batch into `self.records`: series records first, so that replay
    /// meets a series before its samples even when the batch spans segments.
    fn encode(&mut self) -> usize {
        let pending = self.inner.pending();
        self.unlogged.clear();
        {
            let logged = self.db.logged.read();
            self.unlogged.extend(pending.iter().map(|p| p.r.0).filter(|r| !logged.contains(*r)));
        }
        self.unlogged.sort_unstable();
        self.unlogged.dedup();
        let mut used = 0;
        if !self.unlogged.is_empty() {
            let labels: Vec<(u32, Labels)> = {
                let index = self.db.head.index().read();
                self.unlogged.iter().map(|&r| (r, index.labels(r))).collect()
            };
            let mut start = 0;
            while start < labels.len() {
                let end = series_record_end(&labels, start);
                let buf = next_buf(&mut self.records, &mut used);
                wal_records::encode_series(buf, self.db.epoch, labels[start..end].iter().map(|(r, l)| (*r, l)));
                start = end;
            }
        }
        for chunk in pending.chunks(wal_records::MAX_SAMPLES_PER_RECORD) {
            let buf = next_buf(&mut self.records, &mut used);
            let samples = chunk.iter().map(|p| RefSample { r: p.r.0, t: p.t, v: p.v });
            wal_records::encode_samples(buf, self.db.epoch, samples);
        }
        used
    }

    /// Logs the batch and waits for durability; returns the turn to apply it.
    fn log(&mut self) -> Result<Turn<'d>, AppendError> {
        let used = self.encode();
        let refs: Vec<&[u8]> = self.records[..used].iter().map(Vec::as_slice).collect();
        let wal = &self.db.wal;
        let ticket = wal.write(&refs).map_err(unavailable)?;
        let turn = Turn { order: &self.db.order, seq: ticket.seq };
        // Later batches are behind this one in the log, so they may skip the
        // series records written here.
        if !self.unlogged.is_empty() {
            let mut logged = self.db.logged.write();
            logged.extend(self.unlogged.iter().copied());
        }
        wal.complete(ticket).map_err(unavailable)?;
        Ok(turn)
    }
}

/// Logs `records` as one WAL batch, waits until it is durable and until every
/// earlier batch was applied, then runs `apply`: the commit protocol for
/// changes other than appends (deletions). `newly_logged` are refs whose series
/// records are in `records`.
pub(crate) fn log_then_apply<T>(
    db: &Db,
    records: &[&[u8]],
    newly_logged: &[u32],
    apply: impl FnOnce() -> T,
) -> Result<T, AppendError> {
    let ticket = db.wal.write(records).map_err(unavailable)?;
    let turn = Turn { order: &db.order, seq: ticket.seq };
    if !newly_logged.is_empty() {
        db.logged.write().extend(newly_logged.iter().copied());
    }
    db.wal.complete(ticket).map_err(unavailable)?;
    turn.wait();
    let out = apply();
    drop(turn);
    Ok(out)
}

/// Encodes series records for those of `refs` (sorted, distinct) this process
/// has not logged yet; returns the records and the refs they cover.
pub(crate) fn unlogged_series_records(db: &Db, refs: &[u32]) -> (Vec<Vec<u8>>, Vec<u32>) {
    let unlogged: Vec<u32> = {
        let logged = db.logged.read();
        refs.iter().copied().filter(|r| !logged.contains(*r)).collect()
    };
    let labels: Vec<(u32, Labels)> = {
        let index = db.head.index().read();
        unlogged.iter().map(|&r| (r, index.labels(r))).collect()
    };
    let mut records = Vec::new();
    let mut start = 0;
    while start < labels.len() {
        let end = series_record_end(&labels, start);
        let mut buf = Vec::new();
        wal_records::encode_series(&mut buf, db.epoch, labels[start..end].iter().map(|(r, l)| (*r, l)));
        records.push(buf);
        start = end;
    }
    (records, unlogged)
}

/// Returns the end of the series record that starts at `start`.
fn series_record_end(labels: &[(u32, Labels)], start: usize) -> usize {
    let mut size = 0;
    let mut end = start;
    while end < labels.len() && (end == start || size < wal_records::SERIES_RECORD_SOFT_LIMIT) {
        size += 8 + labels[end].1.iter().map(|(n, v)| n.len() + v.len() + 4).sum::<usize>();
        end += 1;
    }
    end
}

fn next_buf<'a>(records: &'a mut Vec<Vec<u8>>, used: &mut usize) -> &'a mut Vec<u8> {
    if records.len() == *used {
        records.push(Vec::new());
    }
    *used += 1;
    &mut records[*used - 1]
}

fn unavailable(e: wk_wal::Error) -> AppendError {
    tracing::error!(error = %e, "TSDB commit failed: WAL write");
    AppendError::Unavailable { detail: format!("write-ahead log: {e}") }
}

impl Appender for DbAppender<'_> {
    /// See [`Appender::append`]; the checks are those of [`HeadAppender`]. A hint
    /// is trusted when it names an existing series of this database.
    fn append(&mut self, hint: Option<SeriesRef>, labels: &Labels, sample: Sample) -> Result<SeriesRef, AppendError> {
        self.inner.append(hint, labels, sample)
    }

    /// Makes the batch durable, then visible. Fails with
    /// [`AppendError::Unavailable`] (retryable) when the WAL cannot write or sync
    /// it; then nothing of the batch is visible, the batch is discarded, and after
    /// a restart it may or may not be replayed. Late rejections (a concurrent
    /// appender wrote the same series first) are reported in the summary.
    fn commit(&mut self) -> Result<CommitSummary, AppendError> {
        if self.inner.is_empty() {
            return self.inner.commit();
        }
        let turn = match self.log() {
            Ok(turn) => turn,
            Err(e) => {
                self.inner.rollback();
                return Err(e);
            }
        };
        turn.wait();
        let summary = self.inner.commit();
        drop(turn);
        summary
    }

    fn rollback(&mut self) {
        self.inner.rollback();
    }
}
