//! The batch writer of the head.

use wk_model::{Labels, Sample};
use wk_storage::{AppendError, Appender, CommitSummary, SeriesRef};

use super::series::Accept;
use super::{Head, SHARDS};
use crate::index::mix_hash::MixMap;

/// A sample accepted by [`Appender::append`], waiting for commit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pending {
    pub r: SeriesRef,
    pub t: i64,
    pub v: f64,
}

/// Buffers samples for a [`Head`] and applies them on commit. One per writer
/// thread; it borrows the head and keeps its buffers across commits for reuse.
/// Dropping it without [`Appender::commit`] discards the batch, like a rollback.
///
/// Checks happen twice: on `append` against committed data plus this batch's newest
/// sample of the series (so callers learn of rejections at once), and again on
/// `commit` (because another appender may have written in between; such late
/// rejections are reported in [`CommitSummary`]).
#[derive(Debug)]
pub struct HeadAppender<'h> {
    head: &'h Head,
    pending: Vec<Pending>,
    /// Newest in-order `(t, value bits)` per series in this batch.
    newest: MixMap<u32, (i64, u64)>,
}

impl<'h> HeadAppender<'h> {
    pub(crate) fn new(head: &'h Head) -> Self {
        Self { head, pending: Vec::new(), newest: MixMap::default() }
    }

    /// Returns the number of samples buffered.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Returns true when nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Returns the buffered samples in append order, for the WAL encoder.
    pub(crate) fn pending(&self) -> &[Pending] {
        &self.pending
    }

    fn resolve(&self, hint: Option<SeriesRef>, labels: &Labels) -> Result<SeriesRef, AppendError> {
        match hint {
            Some(r) if self.head.contains(r) => Ok(r),
            _ => self.head.get_or_create(labels),
        }
    }

    /// Checks `sample` against series `r`; an accepted, non-duplicate sample
    /// counts as pending on the series until commit or rollback.
    fn check(&mut self, r: SeriesRef, sample: Sample) -> Result<Checked, AppendError> {
        if sample.t < self.head.min_valid() {
            self.head.stats.add_rejected(&AppendError::OutOfBounds, 1);
            return Err(AppendError::OutOfBounds);
        }
        let newest = self.newest.get(&r.0).copied();
        let window = self.head.opts.ooo_window_ms;
        let checked = self.head.with_series(r, |s| {
            if s.dead {
                return Ok(None);
            }
            let accept = s.check(sample.t, sample.v, window, newest)?;
            let in_order = s.last().is_none_or(|(t, _)| sample.t > t) && newest.is_none_or(|(t, _)| sample.t > t);
            if accept != Accept::Duplicate {
                s.pending += 1;
            }
            Ok::<_, AppendError>(Some((accept, in_order)))
        });
        let Some((accept, in_order)) = checked.inspect_err(|e| self.head.stats.add_rejected(e, 1))? else {
            return Ok(Checked::Dead);
        };
        if accept != Accept::Duplicate && in_order {
            self.newest.insert(r.0, (sample.t, sample.v.to_bits()));
        }
        Ok(Checked::Accepted(accept))
    }

    /// Releases the pending marks of the buffered samples (rollback, drop).
    fn release_pending(&mut self) {
        for p in self.pending.drain(..) {
            self.head.with_series(p.r, |s| s.pending = s.pending.saturating_sub(1));
        }
    }
}

/// The outcome of checking one sample.
enum Checked {
    Accepted(Accept),
    /// The series was garbage-collected after it was looked up.
    Dead,
}

impl Drop for HeadAppender<'_> {
    fn drop(&mut self) {
        self.release_pending();
    }
}

impl Appender for HeadAppender<'_> {
    /// See [`Appender::append`]. A `hint` is trusted when it names an existing series
    /// (as in Prometheus): pass only refs returned for the same labels by this head.
    fn append(&mut self, hint: Option<SeriesRef>, labels: &Labels, sample: Sample) -> Result<SeriesRef, AppendError> {
        let mut r = self.resolve(hint, labels)?;
        // A series garbage-collected between the lookup and the check is looked
        // up again by labels (which creates it anew).
        for _ in 0..3 {
            match self.check(r, sample)? {
                Checked::Dead => r = self.head.get_or_create(labels)?,
                Checked::Accepted(Accept::Duplicate) => return Ok(r),
                Checked::Accepted(_) => {
                    self.pending.push(Pending { r, t: sample.t, v: sample.v });
                    return Ok(r);
                }
            }
        }
        Err(AppendError::Unavailable { detail: format!("series {labels} keeps being garbage-collected") })
    }

    /// Applies the batch shard by shard (one lock per shard touched), in append
    /// order within each series. Never fails in the head; the WAL will add I/O
    /// failures here.
    fn commit(&mut self) -> Result<CommitSummary, AppendError> {
        let mut pending = std::mem::take(&mut self.pending);
        // Start at a shard that depends on the batch, so that concurrent committers
        // do not walk the shards in lockstep.
        let start = pending.first().map_or(0, |p| p.r.index().wrapping_mul(31));
        pending.sort_by_key(|p| (p.r.index() % SHARDS + SHARDS - start % SHARDS) % SHARDS);
        let (window, chunk_samples) = (self.head.opts.ooo_window_ms, self.head.opts.chunk_samples);
        let mut summary = CommitSummary::default();
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for group in pending.chunk_by(|a, b| a.r.index() % SHARDS == b.r.index() % SHARDS) {
            let mut shard = self.head.shard(group[0].r.index() % SHARDS);
            // Read under the shard lock: a block cut raises the bound before it
            // snapshots this shard, so nothing below it slips past the cut.
            let min_valid = self.head.min_valid();
            for p in group {
                let series = &mut shard[p.r.index() / SHARDS];
                series.pending = series.pending.saturating_sub(1);
                let stored = if p.t < min_valid {
                    Err(AppendError::OutOfBounds)
                } else {
                    shard[p.r.index() / SHARDS].append(p.t, p.v, window, chunk_samples)
                };
                if let Ok(true) = stored {
                    lo = lo.min(p.t);
                    hi = hi.max(p.t);
                }
                match stored {
                    Ok(true) => summary.appended += 1,
                    Ok(false) => {}
                    Err(e) => match summary.rejected.iter_mut().find(|(r, _)| *r == e) {
                        Some((_, n)) => *n += 1,
                        None => summary.rejected.push((e, 1)),
                    },
                }
            }
        }
        if lo <= hi {
            self.head.note_times(lo, hi);
        }
        self.head.stats.add_appended(summary.appended);
        for (e, n) in &summary.rejected {
            self.head.stats.add_rejected(e, *n);
        }
        pending.clear();
        self.pending = pending;
        self.newest.clear();
        Ok(summary)
    }

    fn rollback(&mut self) {
        self.release_pending();
        self.newest.clear();
    }
}
