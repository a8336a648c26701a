//! Reading the head.

use wk_model::{Labels, Matcher, Sample};
use wk_storage::{Querier, QueryError, Series, SeriesRef, SeriesSet};

use super::Head;
use super::series::Snapshot;
use crate::chunk::XorIter;

/// A [`Querier`] over a [`Head`]. Cheap to create; borrows the head. Each selected
/// series is copied out under its shard lock when the iterator reaches it, so no
/// lock is held while the caller consumes samples.
#[derive(Debug, Clone, Copy)]
pub struct HeadQuerier<'h> {
    head: &'h Head,
}

impl<'h> HeadQuerier<'h> {
    pub(crate) fn new(head: &'h Head) -> Self {
        Self { head }
    }

    /// Returns the refs matching `matchers` with data overlapping `[mint, maxt]`,
    /// sorted by label set, with their labels.
    pub(crate) fn sorted_series(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<(Labels, SeriesRef)> {
        let index = self.head.index().read();
        let refs: Vec<u32> = index
            .select_refs(matchers)
            .iter()
            .filter(|&r| self.head.with_series(SeriesRef(r), |s| s.overlaps(mint, maxt)))
            .collect();
        let mut series: Vec<(Labels, SeriesRef)> = refs.into_iter().map(|r| (index.labels(r), SeriesRef(r))).collect();
        drop(index);
        series.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        series
    }
}

impl HeadQuerier<'_> {
    /// Returns series `r`'s samples inside `[mint, maxt]`.
    pub(crate) fn series_samples(
        &self,
        r: SeriesRef,
        labels: &Labels,
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Sample>, QueryError> {
        let mut out = Vec::new();
        materialize(self.snapshot(r, mint, maxt), labels, mint, maxt, &mut out)?;
        Ok(out)
    }

    /// Copies out what series `r` holds in `[mint, maxt]` (chunk references
    /// and out-of-order samples), for [`materialize`].
    pub(crate) fn snapshot(&self, r: SeriesRef, mint: i64, maxt: i64) -> Snapshot {
        self.head.with_series(r, |s| s.snapshot(mint, maxt))
    }
}

/// Decodes a snapshot's samples inside `[mint, maxt]` and appends them to
/// `out` (whose existing samples are left alone), merging the out-of-order
/// list; `out` grows at most once, by the snapshot's own count.
pub(crate) fn materialize(
    snap: Snapshot,
    labels: &Labels,
    mint: i64,
    maxt: i64,
    out: &mut Vec<Sample>,
) -> Result<(), QueryError> {
    let base = out.len();
    out.reserve(snap.len());
    let corrupt = |e: crate::TsdbError| QueryError::Corrupt { series: labels.to_string(), detail: e.to_string() };
    for chunk in &snap.chunks {
        // Head chunks hold strictly increasing timestamps.
        if let Err(e) = XorIter::new(chunk).and_then(|iter| iter.append_range(mint, maxt, out)) {
            out.truncate(base);
            return Err(corrupt(e));
        }
    }
    if !snap.ooo.is_empty() {
        out.extend_from_slice(&snap.ooo);
        out[base..].sort_by_key(|s| s.t);
    }
    Ok(())
}

impl Querier for HeadQuerier<'_> {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<SeriesSet<'_>, QueryError> {
        let q = *self;
        let iter = self.sorted_series(matchers, mint, maxt).into_iter().filter_map(move |(labels, r)| {
            let mut samples = Vec::new();
            match materialize(q.snapshot(r, mint, maxt), &labels, mint, maxt, &mut samples) {
                Ok(()) if samples.is_empty() => None,
                Ok(()) => Some(Ok(Series { labels, samples })),
                Err(e) => Some(Err(e)),
            }
        });
        Ok(Box::new(iter))
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, QueryError> {
        Ok(self.head.index().read().label_names(matchers))
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, QueryError> {
        Ok(self.head.index().read().label_values(name, matchers))
    }
}
