//! [`DbQuerier`]: the persistent blocks and the head, merged into one sorted
//! series set.
//!
//! Blocks cover disjoint time ranges below the head's query bound, so a series'
//! samples are the concatenation of its parts, oldest block first, head last;
//! parts that overlap anyway (blocks left overlapping by an interrupted
//! compaction) are merged by timestamp, keeping the older source's sample.

use std::sync::Arc;

use wk_model::{Labels, Matcher, Sample};
use wk_storage::{Querier, QueryError, Series, SeriesRef, SeriesSet, SplitSet};

use super::blocks::{BlockSet, sort_dedup};
use crate::block::Block;
use crate::head::HeadQuerier;
use crate::head::read::materialize;
use crate::head::series::Snapshot;

/// A [`Querier`] over a [`crate::Db`]: the blocks as of its creation and the
/// head. Cheap to create; holds the blocks alive while it lives.
#[derive(Debug, Clone)]
pub struct DbQuerier<'d> {
    head: HeadQuerier<'d>,
    blocks: Vec<Arc<Block>>,
    head_min: i64,
}

/// Where one part of a series lives.
#[derive(Debug, Clone, Copy)]
enum Part {
    Block(usize, u32),
    Head(SeriesRef),
}

impl<'d> DbQuerier<'d> {
    pub(crate) fn new(head: HeadQuerier<'d>, set: BlockSet) -> Self {
        Self { head, blocks: set.blocks, head_min: set.head_min }
    }

    /// Appends the samples of `part` inside `[mint, maxt]` to `out`.
    fn read_part(
        &self,
        part: Read,
        labels: &Labels,
        mint: i64,
        maxt: i64,
        out: &mut Vec<Sample>,
    ) -> Result<(), QueryError> {
        match part {
            Read::Block(b, id) => self.blocks[b]
                .append_samples(id, mint, maxt, out)
                .map_err(|e| QueryError::Corrupt { series: labels.to_string(), detail: e.to_string() }),
            Read::Head(snap) => materialize(snap, labels, mint.max(self.head_min), maxt, out),
        }
    }
}

/// A part about to be read: a head part's chunks are referenced already, so
/// its sample count is known before reading.
enum Read {
    Block(usize, u32),
    Head(Snapshot),
}

impl DbQuerier<'_> {
    /// The parts of every series matching `matchers` with data in `[mint,
    /// maxt]`, sorted by labels; a series' parts are adjacent, oldest first.
    fn parts(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<(Labels, Part)> {
        let mut parts: Vec<(Labels, Part)> = Vec::new();
        for (i, b) in self.blocks.iter().enumerate() {
            let meta = b.meta();
            if meta.maxt <= mint || meta.mint > maxt {
                continue;
            }
            parts.extend(b.select_ids(matchers, mint, maxt).into_iter().map(|id| (b.labels(id), Part::Block(i, id))));
        }
        let head_mint = mint.max(self.head_min);
        if head_mint <= maxt {
            parts.extend(
                self.head.sorted_series(matchers, head_mint, maxt).into_iter().map(|(l, r)| (l, Part::Head(r))),
            );
        }
        if !self.blocks.is_empty() {
            // Stable: parts of one series stay oldest first.
            parts.sort_by(|a, b| a.0.cmp(&b.0));
        }
        parts
    }

    /// Reads the next series of `parts`: `None` at the end, else the series,
    /// or `Ok(None)` when it has no sample in `[mint, maxt]`.
    fn next_series(
        &self,
        parts: &mut std::iter::Peekable<std::vec::IntoIter<(Labels, Part)>>,
        mint: i64,
        maxt: i64,
    ) -> Option<Result<Option<Series>, QueryError>> {
        let (labels, first) = parts.next()?;
        let rest = std::iter::from_fn(|| parts.next_if(|(l, _)| *l == labels).map(|(_, p)| p));
        let reads: Vec<Read> = std::iter::once(first)
            .chain(rest)
            .map(|p| match p {
                Part::Block(b, id) => Read::Block(b, id),
                Part::Head(r) => Read::Head(self.head.snapshot(r, mint.max(self.head_min), maxt)),
            })
            .collect();
        // Sized once: the blocks' index counts and the head's chunk headers
        // bound the samples, so the parts land without a regrowth copy.
        let capacity = reads
            .iter()
            .map(|r| match r {
                Read::Block(b, id) => self.blocks[*b].series_len(*id),
                Read::Head(snap) => snap.len(),
            })
            .sum();
        let mut samples = Vec::with_capacity(capacity);
        let mut sorted = true;
        for part in reads {
            let before = samples.len();
            if let Err(e) = self.read_part(part, &labels, mint, maxt, &mut samples) {
                return Some(Err(e));
            }
            // Parts are oldest first and normally disjoint in time.
            if before > 0 && samples.len() > before && samples[before].t <= samples[before - 1].t {
                sorted = false;
            }
        }
        if !sorted {
            sort_dedup(&mut samples);
        }
        if samples.is_empty() {
            return Some(Ok(None));
        }
        // A block part is decoded whole and cut to the range: a short range
        // over a long block keeps a small part of what was sized, and the
        // vector lives on in the query.
        if samples.capacity() > 2 * samples.len() + 64 {
            samples.shrink_to_fit();
        }
        Some(Ok(Some(Series { labels, samples })))
    }
}

impl Querier for DbQuerier<'_> {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<SeriesSet<'_>, QueryError> {
        let mut parts = self.parts(matchers, mint, maxt).into_iter().peekable();
        let iter = std::iter::from_fn(move || {
            loop {
                match self.next_series(&mut parts, mint, maxt)? {
                    Ok(Some(series)) => return Some(Ok(series)),
                    Ok(None) => {}
                    Err(e) => return Some(Err(e)),
                }
            }
        });
        Ok(Box::new(iter))
    }

    /// Deals the series out round-robin: reading a series (inflating block
    /// frames, decoding columns and head chunks) is most of a query over many
    /// series, and each set does its own.
    fn select_split(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        n: usize,
        min_per_set: usize,
    ) -> Result<Option<Vec<SplitSet<'_>>>, QueryError> {
        let parts = self.parts(matchers, mint, maxt);
        // Parts of one series are adjacent: a run per series.
        let runs: Vec<usize> = parts.chunk_by(|a, b| a.0 == b.0).map(<[_]>::len).collect();
        let n = n.min(runs.len() / min_per_set.max(1)).max(1);
        let mut shards: Vec<Vec<(Labels, Part)>> = (0..n).map(|_| Vec::new()).collect();
        let mut parts = parts.into_iter();
        for (series, &len) in runs.iter().enumerate() {
            shards[series % n].extend(parts.by_ref().take(len));
        }
        let sets = shards
            .into_iter()
            .map(|shard| {
                let mut parts = shard.into_iter().peekable();
                Box::new(std::iter::from_fn(move || self.next_series(&mut parts, mint, maxt))) as SplitSet<'_>
            })
            .collect();
        Ok(Some(sets))
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, QueryError> {
        let mut names = self.head.label_names(matchers)?;
        for b in &self.blocks {
            names.extend(b.label_names(matchers));
        }
        names.sort_unstable();
        names.dedup();
        Ok(names)
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, QueryError> {
        let mut values = self.head.label_values(name, matchers)?;
        for b in &self.blocks {
            values.extend(b.label_values(name, matchers));
        }
        values.sort_unstable();
        values.dedup();
        Ok(values)
    }
}
