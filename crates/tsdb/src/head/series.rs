//! Per-series state in the head: the open chunk, closed chunks, out-of-order samples.

use std::sync::Arc;

use wk_model::Sample;
use wk_storage::AppendError;

use crate::chunk::{XorAppender, XorIter};

/// A full chunk: immutable compressed bytes, shared with readers without copying.
#[derive(Debug, Clone)]
pub(crate) struct ClosedChunk {
    pub mint: i64,
    pub maxt: i64,
    pub data: Arc<[u8]>,
}

/// What to do with a sample that passed the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accept {
    /// Newer than everything: goes to the open chunk.
    InOrder,
    /// Older, inside the out-of-order window and new: goes to the out-of-order list.
    OutOfOrder,
    /// Same timestamp and bit-identical value as a stored sample: nothing to do.
    Duplicate,
}

/// One series' samples. About 100 bytes plus its chunk bytes; the labels live in
/// the index arena, not here.
#[derive(Debug, Default)]
pub(crate) struct MemSeries {
    open: XorAppender,
    open_mint: i64,
    closed: Vec<ClosedChunk>,
    /// Sorted, distinct-timestamp samples older than the newest in-order sample.
    #[expect(clippy::box_collection, reason = "8 bytes per series instead of 24 for a rarely used list")]
    ooo: Option<Box<Vec<Sample>>>,
    /// Samples accepted by appenders but not committed or rolled back yet; a
    /// series with pending samples is never garbage-collected.
    pub pending: u32,
    /// Removed by garbage collection: its ref is no longer valid for appends.
    pub dead: bool,
}

impl MemSeries {
    /// Returns the newest in-order timestamp and value bits.
    pub fn last(&self) -> Option<(i64, u64)> {
        self.open.last()
    }

    /// Decides whether `(t, v)` may be appended. `pending` is the newest in-order
    /// sample buffered by the calling appender but not committed yet.
    pub fn check(&self, t: i64, v: f64, window: i64, pending: Option<(i64, u64)>) -> Result<Accept, AppendError> {
        let last = match (self.last(), pending) {
            (Some(a), Some(b)) => Some(if b.0 > a.0 { b } else { a }),
            (a, b) => a.or(b),
        };
        let Some((last_t, last_v)) = last else {
            return Ok(Accept::InOrder);
        };
        if t > last_t {
            return Ok(Accept::InOrder);
        }
        if t == last_t {
            return same_value(last_v, v);
        }
        if window <= 0 {
            return Err(AppendError::OutOfOrder);
        }
        if t < last_t.saturating_sub(window) {
            return Err(AppendError::TooOld);
        }
        match self.value_at(t)? {
            Some(bits) => same_value(bits, v),
            None => Ok(Accept::OutOfOrder),
        }
    }

    /// Checks and stores `(t, v)`, cutting the open chunk at `chunk_samples`.
    /// Returns true when a sample was stored (false for a duplicate).
    pub fn append(&mut self, t: i64, v: f64, window: i64, chunk_samples: u16) -> Result<bool, AppendError> {
        match self.check(t, v, window, None)? {
            Accept::Duplicate => Ok(false),
            Accept::InOrder => {
                if self.open.count() >= chunk_samples {
                    self.cut();
                }
                if self.open.count() == 0 {
                    self.open_mint = t;
                }
                self.open.append(t, v);
                Ok(true)
            }
            Accept::OutOfOrder => {
                let ooo = self.ooo.get_or_insert_with(Default::default);
                let at = ooo.partition_point(|s| s.t < t);
                ooo.insert(at, Sample::new(t, v));
                Ok(true)
            }
        }
    }

    /// Closes the open chunk and opens one sized like it (a series' chunks are
    /// usually of similar size): one allocation per chunk instead of a growth
    /// step every few samples. The open chunk's peak size is unchanged.
    fn cut(&mut self) {
        let maxt = self.open.last().map_or(self.open_mint, |(t, _)| t);
        let data = Arc::from(self.open.bytes());
        self.open = XorAppender::with_capacity(self.open.bytes().len());
        self.closed.push(ClosedChunk { mint: self.open_mint, maxt, data });
    }

    /// Returns the value bits stored at exactly `t`, searching the out-of-order
    /// list and the one chunk whose range covers `t`.
    fn value_at(&self, t: i64) -> Result<Option<u64>, AppendError> {
        if let Some(ooo) = &self.ooo
            && let Ok(i) = ooo.binary_search_by_key(&t, |s| s.t)
        {
            return Ok(Some(ooo[i].v.to_bits()));
        }
        let bytes: &[u8] = if self.open.count() > 0 && t >= self.open_mint {
            self.open.bytes()
        } else {
            match self.closed.iter().find(|c| c.mint <= t && t <= c.maxt) {
                Some(c) => &c.data,
                None => return Ok(None),
            }
        };
        let unavailable = |e: crate::TsdbError| AppendError::Unavailable { detail: e.to_string() };
        for s in XorIter::new(bytes).map_err(unavailable)? {
            let s = s.map_err(unavailable)?;
            if s.t == t {
                return Ok(Some(s.v.to_bits()));
            }
        }
        Ok(None)
    }

    /// Returns true when the series may hold samples in `[mint, maxt]`.
    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        let in_range = |lo: i64, hi: i64| lo <= maxt && mint <= hi;
        self.open.last().is_some_and(|(t, _)| in_range(self.open_mint, t))
            || self.closed.iter().any(|c| in_range(c.mint, c.maxt))
            || self.ooo.as_ref().is_some_and(|o| o.iter().any(|s| mint <= s.t && s.t <= maxt))
    }

    /// Copies out what a reader needs for `[mint, maxt]`: shared closed chunks, a
    /// copy of the open chunk, and the out-of-order samples in range.
    pub fn snapshot(&self, mint: i64, maxt: i64) -> Snapshot {
        let mut chunks: Vec<Arc<[u8]>> =
            self.closed.iter().filter(|c| c.mint <= maxt && mint <= c.maxt).map(|c| Arc::clone(&c.data)).collect();
        if self.open.last().is_some_and(|(t, _)| self.open_mint <= maxt && mint <= t) {
            chunks.push(Arc::from(self.open.bytes()));
        }
        let ooo = self
            .ooo
            .as_ref()
            .map_or_else(Vec::new, |o| o.iter().filter(|s| mint <= s.t && s.t <= maxt).copied().collect());
        Snapshot { chunks, ooo }
    }

    /// Removes the samples in `[mint, maxt]`, re-encoding the chunks that held
    /// them. Fails, changing nothing, when a chunk does not decode.
    pub fn delete_range(&mut self, mint: i64, maxt: i64, chunk_samples: u16) -> Result<(), crate::TsdbError> {
        if !self.overlaps(mint, maxt) {
            return Ok(());
        }
        let mut all = Vec::new();
        let chunks = self.closed.iter().map(|c| &c.data[..]).chain((self.open.count() > 0).then(|| self.open.bytes()));
        for bytes in chunks {
            for s in XorIter::new(bytes)? {
                all.push(s?);
            }
        }
        if let Some(ooo) = &self.ooo {
            all.extend_from_slice(ooo);
            all.sort_by_key(|s| s.t);
        }
        let mut fresh = MemSeries { pending: self.pending, ..MemSeries::default() };
        for s in all.into_iter().filter(|s| s.t < mint || s.t > maxt) {
            if fresh.open.count() >= chunk_samples {
                fresh.cut();
            }
            if fresh.open.count() == 0 {
                fresh.open_mint = s.t;
            }
            fresh.open.append(s.t, s.v);
        }
        *self = fresh;
        Ok(())
    }

    /// Returns true when the series holds no sample at all.
    pub fn is_empty(&self) -> bool {
        self.open.count() == 0 && self.closed.is_empty() && self.ooo.is_none()
    }

    /// Drops chunks whose samples are all older than `t` and out-of-order
    /// samples older than `t`; returns the oldest timestamp bound left (a
    /// straddling chunk's start), or `None` when nothing is left.
    pub fn truncate_before(&mut self, t: i64) -> Option<i64> {
        self.closed.retain(|c| c.maxt >= t);
        if let Some(ooo) = &mut self.ooo {
            ooo.retain(|s| s.t >= t);
            if ooo.is_empty() {
                self.ooo = None;
            }
        }
        if self.open.last().is_some_and(|(last, _)| last < t) {
            self.open = XorAppender::default();
        }
        let open = self.open.last().map(|_| self.open_mint);
        let closed = self.closed.first().map(|c| c.mint);
        let ooo = self.ooo.as_ref().and_then(|o| o.first()).map(|s| s.t);
        [open, closed, ooo].into_iter().flatten().min()
    }

    /// Returns the heap bytes this series owns (chunks and lists, with spare
    /// capacity), for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        self.open.heap_bytes()
            + self.closed.capacity() * std::mem::size_of::<ClosedChunk>()
            + self.closed.iter().map(|c| c.data.len() + 16).sum::<usize>()
            + self.ooo.as_ref().map_or(0, |o| o.capacity() * 16 + 24)
    }
}

fn same_value(stored: u64, v: f64) -> Result<Accept, AppendError> {
    if stored == v.to_bits() { Ok(Accept::Duplicate) } else { Err(AppendError::DuplicateSampleDifferentValue) }
}

/// A reader's private copy of one series' data in a time range.
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub chunks: Vec<Arc<[u8]>>,
    pub ooo: Vec<Sample>,
}

impl Snapshot {
    /// Samples the snapshot holds, as its chunk headers count them (some may
    /// fall outside the range it was taken for).
    pub fn len(&self) -> usize {
        let in_chunks: usize = self.chunks.iter().map(|c| XorIter::new(c).map_or(0, |it| it.len_hint())).sum();
        in_chunks + self.ooo.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_rules() {
        let mut s = MemSeries::default();
        assert!(s.append(10, 1.0, 0, 2).unwrap());
        assert!(!s.append(10, 1.0, 0, 2).unwrap());
        assert_eq!(s.append(10, 2.0, 0, 2), Err(AppendError::DuplicateSampleDifferentValue));
        assert_eq!(s.append(9, 2.0, 0, 2), Err(AppendError::OutOfOrder));
        for t in 11..15 {
            s.append(t, t as f64, 5, 2).unwrap();
        }
        assert_eq!(s.closed.len(), 2);
        assert_eq!(s.append(8, 0.0, 5, 2), Err(AppendError::TooOld));
        assert_eq!(s.append(11, 0.5, 5, 2), Err(AppendError::DuplicateSampleDifferentValue));
        assert!(!s.append(11, 11.0, 5, 2).unwrap());
        assert!(s.append(9, 9.0, 5, 2).unwrap());
        assert_eq!(s.value_at(9).unwrap(), Some(9.0f64.to_bits()));
        assert!(s.overlaps(9, 9) && !s.overlaps(0, 8));
        let snap = s.snapshot(12, 13);
        assert_eq!(snap.chunks.len(), 1);
    }
}
