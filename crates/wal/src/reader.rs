//! Recovery and replay: reading every record back, repairing a torn tail and
//! skipping damage.
//!
//! Rules, applied to each segment in ascending order (after the newest
//! checkpoint, if any):
//!
//! 1. A frame that is not valid at position `p` starts a damaged region. The
//!    reader scans forward byte by byte for the next valid frame (length within
//!    the maximum, known type, matching CRC).
//! 2. If one is found at `q`, the bytes `p..q` are counted as one corrupt
//!    record, logged with `tracing::warn!` naming segment and offset, and
//!    reading resumes at `q`. Every intact record after the damage is kept.
//! 3. If none is found and this is the last segment, `p..end` is a *torn
//!    tail*: a write cut short by a crash. When opening for writing it is
//!    truncated (durably) and reported in [`ReplayReport::torn_tail`].
//! 4. If none is found in any other segment (or in a checkpoint), the bytes
//!    are counted as corrupt; nothing is truncated.
//! 5. A segment header that fails its checksum is counted in
//!    [`ReplayReport::corrupt_headers`] and its records are still read. A last
//!    segment that is shorter than a header, or has a damaged header and no
//!    valid record, is a creation cut short: it is removed (reported as a torn
//!    tail at offset 0) and its number reused. A header of an unknown version
//!    is an error.
//!
//! No input makes the reader panic or allocate more than the file's size.

use std::path::Path;
use std::sync::atomic::Ordering;

use crate::error::{Error, Result};
use crate::fs::WalFs;
use crate::record::{self, FRAME_HEADER_LEN, Frame};
use crate::segment::{self, HeaderCheck, SEGMENT_HEADER_LEN};
use crate::stats::WalStats;

/// Where a replayed record was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordSource {
    /// From file `file` of checkpoint `checkpoint` (`checkpoint.NNNNNNNN`).
    Checkpoint {
        /// The checkpoint number: the last segment it covers.
        checkpoint: u64,
        /// The file number inside the checkpoint directory.
        file: u64,
    },
    /// From the WAL segment with this number.
    Segment(u64),
}

/// One record handed to a replay callback. The payload is borrowed from a
/// buffer that is reused after the callback returns; copy what you keep.
#[derive(Debug, Clone, Copy)]
pub struct ReplayRecord<'a> {
    /// The file the record was read from.
    pub source: RecordSource,
    /// Byte offset of the record's frame in that file.
    pub offset: u64,
    /// The bytes passed to `append` (or to the checkpoint writer).
    pub payload: &'a [u8],
}

/// A torn tail found at the end of the last segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TornTail {
    /// The segment number.
    pub segment: u64,
    /// Byte offset where the valid data ends (the new file length).
    pub offset: u64,
    /// How many bytes were cut off (or, read-only, would be).
    pub bytes_truncated: u64,
}

/// What a replay found: how much was read and how much damage was handled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// The checkpoint replayed first, by number, if any.
    pub checkpoint: Option<u64>,
    /// Number of segment files read (checkpoint files excluded).
    pub segments_read: u64,
    /// The highest segment number seen (including a removed empty one).
    pub last_segment: Option<u64>,
    /// Records delivered to the callback, checkpoint included.
    pub records: u64,
    /// Payload bytes delivered to the callback.
    pub payload_bytes: u64,
    /// Damaged regions skipped (each may cover one or several records).
    pub corrupt_records: u64,
    /// Bytes in skipped damaged regions.
    pub corrupt_bytes: u64,
    /// Segment or checkpoint files whose header was damaged or cut short.
    pub corrupt_headers: u64,
    /// Segment numbers missing between the first and last segment.
    pub missing_segments: u64,
    /// The torn tail of the last segment, if there was one.
    pub torn_tail: Option<TornTail>,
}

impl ReplayReport {
    /// Returns whether any damage (corruption, torn tail, missing segment) was found.
    pub fn damage_found(&self) -> bool {
        self.corrupt_records > 0 || self.corrupt_headers > 0 || self.missing_segments > 0 || self.torn_tail.is_some()
    }
}

/// The result of scanning one file's bytes.
#[derive(Debug, Default)]
pub(crate) struct FileScan {
    /// Offset where a torn tail starts, for the last segment only.
    pub torn_at: Option<usize>,
}

/// Finds the next valid frame at or after `from`.
fn next_valid(buf: &[u8], from: usize, max: u32) -> Option<usize> {
    let last_start = buf.len().checked_sub(FRAME_HEADER_LEN)?;
    (from..=last_start).find(|&q| matches!(record::decode(buf, q, max), Frame::Valid { .. }))
}

/// Scans the frames of one file from `start`; see the module rules.
pub(crate) fn scan_file(
    buf: &[u8],
    start: usize,
    max: u32,
    last: bool,
    mut on_record: impl FnMut(usize, &[u8]),
    mut on_corrupt: impl FnMut(usize, usize),
) -> FileScan {
    let mut pos = start;
    while pos < buf.len() {
        if let Frame::Valid { payload, len } = record::decode(buf, pos, max) {
            on_record(pos, payload);
            pos += len;
            continue;
        }
        match next_valid(buf, pos + 1, max) {
            Some(next) => {
                on_corrupt(pos, next - pos);
                pos = next;
            }
            None if last => return FileScan { torn_at: Some(pos) },
            None => {
                on_corrupt(pos, buf.len() - pos);
                break;
            }
        }
    }
    FileScan::default()
}

/// One replay in progress: where to read, what to tell, what was found.
pub(crate) struct Replayer<'a> {
    /// The file system to read from.
    pub fs: &'a dyn WalFs,
    /// The maximum record size in bytes.
    pub max: u32,
    /// Counters to bump for damage found.
    pub stats: &'a WalStats,
    /// What was found so far.
    pub report: ReplayReport,
    /// Receives every record, in order.
    pub visit: &'a mut dyn FnMut(ReplayRecord<'_>),
}

impl std::fmt::Debug for Replayer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replayer").field("report", &self.report).finish_non_exhaustive()
    }
}

impl Replayer<'_> {
    /// Reads one segment or checkpoint file and delivers its records.
    ///
    /// Returns the torn-tail offset for a last segment (not yet truncated).
    pub(crate) fn replay_file(&mut self, path: &Path, source: RecordSource, last: bool) -> Result<Option<usize>> {
        let bytes = self.fs.read(path).map_err(|e| Error::io("read", path, e))?;
        let header = segment::check_header(&bytes);
        match header {
            HeaderCheck::Short if last => return Ok(Some(0)),
            HeaderCheck::Unsupported(version) => {
                return Err(Error::UnsupportedVersion {
                    path: path.to_owned(),
                    version,
                    supported: segment::FORMAT_VERSION,
                });
            }
            _ => {}
        }
        let records_before = self.report.records;
        let report = &mut self.report;
        let visit = &mut *self.visit;
        let stats = self.stats;
        let scan = scan_file(
            &bytes,
            SEGMENT_HEADER_LEN,
            self.max,
            last,
            |offset, payload| {
                report.records += 1;
                report.payload_bytes += payload.len() as u64;
                visit(ReplayRecord { source, offset: offset as u64, payload });
            },
            |offset, len| {
                tracing::warn!(path = %path.display(), offset, len, "WAL corrupt record skipped");
                report.corrupt_records += 1;
                report.corrupt_bytes += len as u64;
                stats.corruptions_detected.fetch_add(1, Ordering::Relaxed);
            },
        );
        if header != HeaderCheck::Valid {
            if last && self.report.records == records_before {
                // A header that never made it to disk intact, with nothing
                // after it: a segment creation cut short. Drop the file.
                return Ok(Some(0));
            }
            tracing::warn!(path = %path.display(), len = bytes.len(), "WAL file header damaged, records read anyway");
            self.report.corrupt_headers += 1;
            self.stats.corruptions_detected.fetch_add(1, Ordering::Relaxed);
        }
        Ok(scan.torn_at)
    }

    /// Replays the segments `numbers` (ascending) of `dir`. With `repair`,
    /// the torn tail of the last segment is truncated, or the segment removed
    /// if even its header is incomplete.
    pub(crate) fn replay_segments(&mut self, dir: &Path, numbers: &[u64], repair: bool) -> Result<()> {
        for (i, &number) in numbers.iter().enumerate() {
            if let Some(&prev) = i.checked_sub(1).and_then(|p| numbers.get(p))
                && number > prev + 1
            {
                tracing::warn!(dir = %dir.display(), after = prev, before = number, "WAL segments missing");
                self.report.missing_segments += number - prev - 1;
            }
            let last = repair && i + 1 == numbers.len();
            let path = segment::segment_path(dir, number);
            let torn = self.replay_file(&path, RecordSource::Segment(number), last)?;
            self.report.segments_read += 1;
            self.report.last_segment = Some(number);
            if let Some(offset) = torn {
                self.repair_tail(dir, number, offset)?;
            }
        }
        Ok(())
    }

    fn repair_tail(&mut self, dir: &Path, segment: u64, offset: usize) -> Result<()> {
        let fs = self.fs;
        let path = segment::segment_path(dir, segment);
        let len = fs.file_len(&path).map_err(|e| Error::io("stat", &path, e))?;
        let cut = len.saturating_sub(offset as u64);
        tracing::warn!(path = %path.display(), offset, bytes = cut, "WAL torn tail truncated");
        if offset == 0 {
            fs.remove_file(&path).map_err(|e| Error::io("remove segment", &path, e))?;
            fs.sync_dir(dir).map_err(|e| Error::io("fsync directory", dir, e))?;
        } else {
            fs.set_len(&path, offset as u64).map_err(|e| Error::io("truncate segment", &path, e))?;
        }
        self.stats.truncations.fetch_add(1, Ordering::Relaxed);
        self.report.torn_tail = Some(TornTail { segment, offset: offset as u64, bytes_truncated: cut });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(payloads: &[&[u8]]) -> (Vec<u8>, Vec<usize>) {
        let mut buf = segment::encode_header().to_vec();
        let mut starts = Vec::new();
        for p in payloads {
            starts.push(buf.len());
            record::encode(&mut buf, p, 1024).unwrap();
        }
        (buf, starts)
    }

    /// Records, corrupt regions (offset, length) and torn-tail offset.
    type Scanned = (Vec<Vec<u8>>, Vec<(usize, usize)>, Option<usize>);

    fn scan(buf: &[u8], last: bool) -> Scanned {
        let mut records = Vec::new();
        let mut corrupt = Vec::new();
        let scan = scan_file(
            buf,
            SEGMENT_HEADER_LEN,
            1024,
            last,
            |_, p| records.push(p.to_vec()),
            |o, l| corrupt.push((o, l)),
        );
        (records, corrupt, scan.torn_at)
    }

    #[test]
    fn middle_corruption_is_skipped_and_following_records_kept() {
        let (mut buf, starts) = frames(&[b"one", b"two", b"three"]);
        buf[starts[1] + 10] ^= 0xff;
        let (records, corrupt, torn) = scan(&buf, true);
        assert_eq!(records, vec![b"one".to_vec(), b"three".to_vec()]);
        assert_eq!(corrupt, vec![(starts[1], starts[2] - starts[1])]);
        assert_eq!(torn, None);
    }

    #[test]
    fn damaged_end_is_torn_only_in_the_last_segment() {
        let (buf, starts) = frames(&[b"one", b"two"]);
        let cut = &buf[..buf.len() - 1];
        assert_eq!(scan(cut, true), (vec![b"one".to_vec()], vec![], Some(starts[1])));
        let (records, corrupt, torn) = scan(cut, false);
        assert_eq!(records, vec![b"one".to_vec()]);
        assert_eq!(corrupt, vec![(starts[1], cut.len() - starts[1])]);
        assert_eq!(torn, None);
    }

    #[test]
    fn zero_filled_tail_is_torn() {
        let (mut buf, _) = frames(&[b"one"]);
        let end = buf.len();
        buf.resize(end + 4096, 0);
        assert_eq!(scan(&buf, true), (vec![b"one".to_vec()], vec![], Some(end)));
    }
}
