//! The durable, size-bounded queue of one remote_write endpoint: a `wk-wal` log of
//! [records](crate::record), a reader that tails its segment files, and the
//! "delivered up to" [position](crate::position).
//!
//! - [`DiskQueue::append`] writes a record and returns once it is fsynced (the WAL's
//!   group commit), so what a scraper was told is committed survives `kill -9`.
//! - [`DiskQueue::read`] reads whole records from a position onwards, straight from
//!   the segment files (sealed ones completely; the active one up to its last whole
//!   frame).
//! - [`DiskQueue::ack`] durably advances the delivered position and deletes every
//!   segment wholly before it.
//! - The bound: after each append, while the segments hold more than
//!   `max_bytes`, the oldest segment is deleted (the active one is rolled first when
//!   it is the only one) and its unsent samples are counted as dropped.
//!
//! Locks: `state` is a std mutex held for bookkeeping and, when the bound is
//! breached, for deleting a segment; never across `.await`.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;
use wk_ingest::remote_write::proto::TimeSeries;
use wk_wal::record::{self as frame, Frame};
use wk_wal::segment::{SEGMENT_HEADER_LEN, segment_path};
use wk_wal::{FsyncMode, RealFs, Wal, WalOptions};

use crate::error::{Error, Result};
use crate::metrics::QueueMetrics;
use crate::position::{self, Position};
use crate::record;

/// Bytes read from a segment at a time (more when one record is larger).
const READ_CHUNK: u64 = 1 << 20;

/// What [`DiskQueue::read`] found.
#[derive(Debug, Default)]
pub struct ReadBatch {
    /// The series of every record read, in queue order.
    pub series: Vec<TimeSeries>,
    /// Samples in `series`.
    pub samples: u64,
    /// Records read.
    pub records: u64,
    /// The position after the last record read.
    pub end: Position,
}

#[derive(Debug)]
struct State {
    /// Every segment on disk and its size in bytes.
    sizes: BTreeMap<u64, u64>,
    /// Durably delivered up to here.
    delivered: Position,
    /// Nothing before this is read again: delivered, or dropped by the bound.
    floor: Position,
}

/// One endpoint's queue. See the [module docs](self).
#[derive(Debug)]
pub struct DiskQueue {
    name: String,
    dir: PathBuf,
    wal: Wal,
    max_bytes: u64,
    max_record: u32,
    state: Mutex<State>,
    notify: Notify,
    metrics: Arc<QueueMetrics>,
}

impl DiskQueue {
    /// Opens (or creates) the queue `name` in `dir`, bounded to `max_bytes` on disk.
    /// Replays the log (repairing a torn tail) and counts what is still unsent.
    pub fn open(name: &str, dir: &Path, max_bytes: u64) -> Result<Arc<Self>> {
        let options = WalOptions {
            segment_size: (max_bytes / 16).clamp(16 << 10, 64 << 20),
            fsync: FsyncMode::Always,
            ..WalOptions::default()
        };
        let max_record = options.max_record_size;
        let saved = position::load(dir).map_err(|e| Error::io("read the queue position", dir, e))?;
        let mut backlog = 0u64;
        let mut records = 0u64;
        let (wal, report) = Wal::open_with(Arc::new(RealFs::new()), dir, options, |rec| {
            if let wk_wal::RecordSource::Segment(segment) = rec.source
                && saved.is_none_or(|p| Position { segment, offset: rec.offset } >= p)
            {
                backlog += record::declared_samples(rec.payload);
                records += 1;
            }
        })?;
        if report.damage_found() {
            tracing::warn!(queue = name, ?report, "agent queue damage repaired at open");
        }
        let mut sizes = BTreeMap::new();
        for segment in wal.segments()? {
            sizes.insert(segment, file_len(&segment_path(dir, segment))?);
        }
        let first = sizes.keys().next().copied().unwrap_or(1);
        let delivered = saved.filter(|p| p.segment >= first).unwrap_or(Position { segment: first, offset: 0 });
        let metrics = Arc::new(QueueMetrics::default());
        metrics.pending_samples.store(backlog, Ordering::Relaxed);
        if backlog > 0 {
            tracing::info!(queue = name, samples = backlog, records, "agent queue holds unsent samples from before");
        }
        let queue = Self {
            name: name.to_owned(),
            dir: dir.to_owned(),
            wal,
            max_bytes,
            max_record,
            state: Mutex::new(State { sizes, delivered, floor: delivered }),
            notify: Notify::new(),
            metrics,
        };
        queue.update_gauges(&queue.lock());
        Ok(Arc::new(queue))
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The queue's counters.
    pub fn metrics(&self) -> &Arc<QueueMetrics> {
        &self.metrics
    }

    /// Where reading resumes: the delivered position (or later, if the bound dropped data).
    pub fn start(&self) -> Position {
        self.lock().floor
    }

    /// Waits until something is appended (or a spurious wake-up).
    pub async fn appended(&self) {
        self.notify.notified().await
    }

    /// Durably appends one encoded record holding `samples` samples, then enforces
    /// the size bound. Fails when the log cannot be written; nothing is then
    /// acknowledged.
    pub fn append(&self, rec: &[u8], samples: u64) -> Result<()> {
        let lsn = self.wal.append(&[rec])?;
        let mut st = self.lock();
        if !st.sizes.contains_key(&lsn.segment) {
            // The log rolled: the segments before it are complete; learn their sizes.
            let older: Vec<u64> = st.sizes.keys().copied().filter(|&s| s < lsn.segment).collect();
            for segment in older {
                let len = file_len(&segment_path(&self.dir, segment)).unwrap_or(0);
                st.sizes.insert(segment, len);
            }
        }
        let size = st.sizes.entry(lsn.segment).or_insert(0);
        *size = (*size).max(lsn.offset);
        self.metrics.samples_enqueued.fetch_add(samples, Ordering::Relaxed);
        self.metrics.pending_samples.fetch_add(samples, Ordering::Relaxed);
        let bounded = self.enforce_bound(&mut st);
        self.update_gauges(&st);
        drop(st);
        self.notify.notify_one();
        bounded
    }

    /// Deletes the oldest segments while the queue is over its bound.
    fn enforce_bound(&self, st: &mut State) -> Result<()> {
        while st.sizes.values().sum::<u64>() > self.max_bytes {
            let Some(&oldest) = st.sizes.keys().next() else { break };
            if oldest >= self.wal.active_segment() {
                let old = self.wal.roll()? - 1;
                let len = file_len(&segment_path(&self.dir, old)).unwrap_or(0);
                st.sizes.insert(old, len);
                st.sizes.insert(old + 1, SEGMENT_HEADER_LEN as u64);
                continue;
            }
            let from = if st.floor.segment == oldest { st.floor.offset } else { 0 };
            let dropped = if st.floor.segment > oldest { 0 } else { self.count_samples(oldest, from) };
            self.wal.truncate_before(oldest + 1)?;
            st.sizes.remove(&oldest);
            let next = Position { segment: oldest + 1, offset: 0 };
            st.floor = st.floor.max(next);
            self.metrics.samples_dropped.fetch_add(dropped, Ordering::Relaxed);
            sub(&self.metrics.pending_samples, dropped);
            if dropped > 0 {
                tracing::warn!(
                    queue = %self.name,
                    segment = oldest,
                    samples = dropped,
                    max_bytes = self.max_bytes,
                    "agent buffer full: dropped the oldest unsent samples"
                );
            }
        }
        Ok(())
    }

    /// Samples in `segment` from byte `from` on, read from the declared counts.
    fn count_samples(&self, segment: u64, from: u64) -> u64 {
        let bytes = std::fs::read(segment_path(&self.dir, segment)).unwrap_or_default();
        let mut pos = (from as usize).max(SEGMENT_HEADER_LEN);
        let mut samples = 0;
        while let Frame::Valid { payload, len } = frame::decode(&bytes, pos, self.max_record) {
            samples += record::declared_samples(payload);
            pos += len;
        }
        samples
    }

    /// Reads whole records from `from` (or the floor, if later) until at least
    /// `max_samples` samples or the end of what is written. Damaged records are
    /// skipped, logged and counted.
    pub fn read(&self, from: Position, max_samples: u64) -> Result<ReadBatch> {
        let mut pos = from.max(self.start());
        let mut out = ReadBatch { end: pos, ..ReadBatch::default() };
        loop {
            // Observed before reading: a segment below the active one is complete.
            let active = self.wal.active_segment();
            let Some(segment) = self.lock().sizes.range(pos.segment..).next().map(|(s, _)| *s) else { break };
            if segment != pos.segment {
                pos = Position { segment, offset: 0 };
            }
            let sealed = segment < active;
            let full = self.read_segment(&mut pos, sealed, max_samples, &mut out)?;
            out.end = pos;
            if full || !sealed {
                break;
            }
            pos = Position { segment: segment + 1, offset: 0 };
            out.end = pos;
        }
        Ok(out)
    }

    /// Reads records of one segment from `pos` on, advancing it; returns true once
    /// `max_samples` is reached. A sealed segment's damaged tail is skipped.
    fn read_segment(&self, pos: &mut Position, sealed: bool, max_samples: u64, out: &mut ReadBatch) -> Result<bool> {
        let path = segment_path(&self.dir, pos.segment);
        let mut file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(Error::io("open a queue segment", &path, e)),
        };
        let len = file.metadata().map_err(|e| Error::io("stat a queue segment", &path, e))?.len();
        pos.offset = pos.offset.max(SEGMENT_HEADER_LEN as u64);
        let mut want = READ_CHUNK;
        while pos.offset < len {
            let start = pos.offset;
            let chunk = want.min(len - start);
            let mut buf = Vec::with_capacity(chunk as usize);
            file.seek(SeekFrom::Start(start)).map_err(|e| Error::io("seek a queue segment", &path, e))?;
            (&mut file).take(chunk).read_to_end(&mut buf).map_err(|e| Error::io("read a queue segment", &path, e))?;
            let mut at = 0usize;
            loop {
                match frame::decode(&buf, at, self.max_record) {
                    Frame::Valid { payload, len: frame_len } => {
                        self.take_record(payload, pos.segment, start + at as u64, out);
                        at += frame_len;
                        pos.offset = start + at as u64;
                        if out.samples >= max_samples {
                            return Ok(true);
                        }
                    }
                    Frame::Incomplete => break,
                    Frame::Invalid if sealed => {
                        self.skip_damage(&path, pos, len);
                        return Ok(false);
                    }
                    // The active segment holds only whole frames or a write in progress.
                    Frame::Invalid => return Ok(false),
                }
            }
            if at > 0 {
                want = READ_CHUNK;
                continue;
            }
            if start + chunk < len {
                // One record larger than the chunk: read it whole (bounded by the record limit).
                want = (len - start).min(u64::from(self.max_record) + frame::FRAME_HEADER_LEN as u64);
                continue;
            }
            // The end of the file holds no whole frame: a write in progress in the
            // active segment, or a damaged tail of a sealed one.
            if sealed {
                self.skip_damage(&path, pos, len);
            }
            return Ok(false);
        }
        Ok(false)
    }

    fn skip_damage(&self, path: &Path, pos: &mut Position, len: u64) {
        tracing::warn!(queue = %self.name, path = %path.display(), offset = pos.offset, "damaged agent queue data skipped to the end of its segment");
        self.metrics.corrupt_records.fetch_add(1, Ordering::Relaxed);
        pos.offset = len;
    }

    fn take_record(&self, payload: &[u8], segment: u64, offset: u64, out: &mut ReadBatch) {
        match record::decode(payload) {
            Ok(series) => {
                out.samples += record::sample_count(&series);
                out.records += 1;
                out.series.extend(series);
            }
            Err(e) => {
                tracing::warn!(queue = %self.name, segment, offset, error = %e, "undecodable agent queue record skipped");
                self.metrics.corrupt_records.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Durably records that everything before `end` was handled (sent or given up
    /// on), and deletes the segments wholly before it. `samples` of the handled batch
    /// leave the pending count.
    pub fn ack(&self, end: Position, samples: u64) -> Result<()> {
        sub(&self.metrics.pending_samples, samples);
        let delivered = {
            let mut st = self.lock();
            if end <= st.delivered {
                return Ok(());
            }
            st.delivered = end;
            st.floor = st.floor.max(end);
            end
        };
        position::store(&self.dir, delivered).map_err(|e| Error::io("store the queue position", &self.dir, e))?;
        let mut st = self.lock();
        let below = delivered.segment.min(self.wal.active_segment());
        if st.sizes.keys().next().is_some_and(|&first| first < below) {
            self.wal.truncate_before(below)?;
            st.sizes.retain(|&s, _| s >= below);
        }
        self.update_gauges(&st);
        Ok(())
    }

    /// Bytes the queue's segments hold on disk.
    pub fn disk_bytes(&self) -> u64 {
        self.lock().sizes.values().sum()
    }

    /// Syncs and closes the log.
    pub fn close(&self) -> Result<()> {
        self.wal.sync()?;
        Ok(())
    }

    fn update_gauges(&self, st: &State) {
        self.metrics.disk_bytes.store(st.sizes.values().sum(), Ordering::Relaxed);
        self.metrics.segments.store(st.sizes.len() as u64, Ordering::Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn sub(counter: &std::sync::atomic::AtomicU64, n: u64) {
    let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| Some(v.saturating_sub(n)));
}

fn file_len(path: &Path) -> Result<u64> {
    std::fs::metadata(path).map(|m| m.len()).map_err(|e| Error::io("stat a queue segment", path, e))
}

#[cfg(test)]
mod tests;
