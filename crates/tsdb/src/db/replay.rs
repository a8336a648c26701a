//! Rebuilding the head from the WAL at open.
//!
//! Records are applied in log order with the same rules as a commit, so the head
//! ends up as it was: a sample that a commit rejected late (a concurrent appender
//! wrote the series first) is rejected again here, because commits apply batches
//! in the order the log holds them.
//!
//! Series refs are per process: each open of the database is an *epoch* (the
//! number of the first WAL segment it writes), and WAL records carry it. Replay
//! maps `(epoch, ref)` to the ref the series gets in the new head. A sample whose
//! series record was lost to damage is counted, never attached to another series.
//!
//! Samples are applied in large batches, each sorted (stably) by series before it
//! is applied: with many series, consecutive samples of the log belong to
//! different series whose state is far apart in memory, and each would miss the
//! CPU caches. Sorted, a series' run of samples is applied under one lock with
//! its chunk in cache. Each series still sees its own operations in log order,
//! and no rule looks across series, so the head ends up the same.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use wk_model::Labels;
use wk_storage::SeriesRef;

use super::wal_records::{self, Decoded, RefSample};
use crate::head::{Head, ReplayOp, RunCounts, SHARDS};
use crate::index::mix_hash::MixMap;

/// Operations handed to a worker per message, and applied sorted by series.
/// Large enough that a batch holds several samples of each series even with
/// 100k series (24 bytes each: 24 MiB; with one message queued, one being
/// applied and one filling, up to ~72 MiB per worker during replay).
const LANE_BATCH: usize = 1024 * 1024;
/// Messages in flight per worker before the decoding thread waits.
const LANE_DEPTH: usize = 1;
/// WAL refs below this are mapped through a vector, the rest through a hash map.
const DENSE_REFS: u32 = 1 << 24;

/// Counts of one replay, folded into `OpenReport`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ReplayCounts {
    pub samples: u64,
    pub samples_without_series: u64,
    pub samples_rejected: u64,
    pub undecodable_records: u64,
}

/// A sample or a deletion, resolved to its series in the new head.
#[derive(Debug, Clone, Copy)]
struct Routed {
    r: SeriesRef,
    op: ReplayOp,
}

/// A worker's queue: operations on the shards it owns, in log order. Without a
/// worker (`tx` is `None`), full batches are applied on the calling thread.
#[derive(Debug)]
struct Lane {
    tx: Option<SyncSender<Vec<Routed>>>,
    /// Emptied batches coming back from the worker, for reuse.
    free: Option<Receiver<Vec<Routed>>>,
    pending: Vec<Routed>,
}

/// The series of one epoch's WAL refs in the new head: a vector for the dense
/// refs a head hands out, a map for any others.
#[derive(Debug, Default)]
struct RefMap {
    dense: Vec<Option<SeriesRef>>,
    sparse: MixMap<u32, SeriesRef>,
}

impl RefMap {
    fn insert(&mut self, wal_ref: u32, r: SeriesRef) {
        if wal_ref < DENSE_REFS {
            let i = wal_ref as usize;
            if self.dense.len() <= i {
                self.dense.resize(i + 1, None);
            }
            self.dense[i] = Some(r);
        } else {
            self.sparse.insert(wal_ref, r);
        }
    }

    #[inline]
    fn get(&self, wal_ref: u32) -> Option<SeriesRef> {
        match self.dense.get(wal_ref as usize) {
            Some(r) => *r,
            None if wal_ref < DENSE_REFS => None,
            None => self.sparse.get(&wal_ref).copied(),
        }
    }
}

/// Replay state: the ref maps of every epoch seen, a reusable decode buffer, and
/// the worker lanes samples are applied on.
///
/// The calling thread decodes records, creates series and resolves refs; samples
/// go to one worker per shard group, so each series is applied by one thread in
/// log order and workers never contend for a shard lock.
#[derive(Debug)]
pub(crate) struct Replay<'h> {
    head: &'h Head,
    refs: MixMap<u64, RefMap>,
    buf: Vec<RefSample>,
    lanes: Lanes<'h>,
    counts: ReplayCounts,
}

/// The lanes operations are queued on, by shard.
#[derive(Debug)]
struct Lanes<'h> {
    head: &'h Head,
    lanes: Vec<Lane>,
    /// The lane of each shard.
    lane_of: [u8; SHARDS],
    /// Operations per lane message.
    batch: usize,
    /// Applies batches on the calling thread (no workers).
    inline: Applier,
}

/// Runs `f` with a [`Replay`] into `head` that applies samples on `workers`
/// threads (inline when `workers` is 0 or 1), waits for every sample to be
/// applied, and returns `f`'s result with the counts.
pub(crate) fn run<T>(head: &Head, workers: usize, f: impl FnOnce(&mut Replay<'_>) -> T) -> (T, ReplayCounts) {
    run_with_batch(head, workers, LANE_BATCH, f)
}

/// [`run`] with `batch` operations per lane message (tests use small ones).
pub(crate) fn run_with_batch<T>(
    head: &Head,
    workers: usize,
    batch: usize,
    f: impl FnOnce(&mut Replay<'_>) -> T,
) -> (T, ReplayCounts) {
    let batch = batch.max(1);
    std::thread::scope(|scope| {
        let workers = if workers > 1 { workers.min(SHARDS) } else { 0 };
        let mut lanes = Vec::with_capacity(workers.max(1));
        let mut handles = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (tx, rx) = sync_channel(LANE_DEPTH);
            let (free_tx, free_rx) = sync_channel(LANE_DEPTH + 1);
            handles.push(scope.spawn(move || apply_lane(head, rx, free_tx)));
            lanes.push(Lane { tx: Some(tx), free: Some(free_rx), pending: Vec::new() });
        }
        if workers == 0 {
            lanes.push(Lane { tx: None, free: None, pending: Vec::new() });
        }
        let lane_of = std::array::from_fn(|shard| (shard % lanes.len()) as u8);
        let mut replay = Replay {
            head,
            refs: MixMap::default(),
            buf: Vec::new(),
            lanes: Lanes { head, lanes, lane_of, batch, inline: Applier::default() },
            counts: ReplayCounts::default(),
        };
        let out = f(&mut replay);
        for lane in &mut replay.lanes.lanes {
            let mut batch = std::mem::take(&mut lane.pending);
            match &lane.tx {
                // A failed send means the worker panicked; joining reports it.
                Some(tx) => drop(tx.send(batch)),
                None => replay.lanes.inline.apply(head, &mut batch),
            }
        }
        let (mut counts, mut applied) = (replay.counts, vec![replay.lanes.inline.counts]);
        drop(replay);
        for handle in handles {
            applied.push(handle.join().expect("WAL replay worker panicked"));
        }
        for c in applied {
            counts.samples += c.stored;
            counts.samples_rejected += c.rejected;
            if c.lo <= c.hi {
                head.note_times(c.lo, c.hi);
            }
        }
        (out, counts)
    })
}

/// Applies a worker's batches and hands the emptied ones back for reuse.
fn apply_lane(head: &Head, rx: Receiver<Vec<Routed>>, free: SyncSender<Vec<Routed>>) -> RunCounts {
    let mut applier = Applier::default();
    for mut batch in rx {
        applier.apply(head, &mut batch);
        // Full (the decoder has enough spares) or gone (it finished): drop it.
        let _ = free.try_send(batch);
    }
    applier.counts
}

/// Applies batches grouped by series, keeping its sort buffer across batches.
#[derive(Debug, Default)]
struct Applier {
    counts: RunCounts,
    scratch: Vec<Routed>,
}

/// Bits of the series ref sorted on per radix pass (a 16 KiB histogram).
const DIGIT_BITS: u32 = 11;

impl Applier {
    /// Applies `batch` grouped by series (a stable sort keeps each series' log
    /// order), one run and one shard lock per series, and clears it.
    fn apply(&mut self, head: &Head, batch: &mut Vec<Routed>) {
        self.sort_by_series(batch);
        for run in batch.chunk_by(|a, b| a.r == b.r) {
            head.replay_run(run[0].r, run.iter().map(|op| op.op), &mut self.counts);
        }
        batch.clear();
    }

    /// Sorts `batch` by series ref, stably: a least-significant-digit radix
    /// sort through the reused scratch buffer. Cheaper than a comparison sort
    /// of a million operations, and it allocates nothing once warm.
    fn sort_by_series(&mut self, batch: &mut Vec<Routed>) {
        let n = batch.len();
        let max = batch.iter().map(|op| op.r.0).max().unwrap_or(0);
        let passes = (u32::BITS - max.leading_zeros()).div_ceil(DIGIT_BITS);
        if self.scratch.len() < n {
            self.scratch.resize(n, Routed { r: SeriesRef(0), op: ReplayOp::Delete(0, 0) });
        }
        let mut at = [0usize; 1 << DIGIT_BITS];
        for pass in 0..passes {
            let shift = pass * DIGIT_BITS;
            let digit = |op: &Routed| ((op.r.0 >> shift) as usize) & ((1 << DIGIT_BITS) - 1);
            at.fill(0);
            for op in batch.iter() {
                at[digit(op)] += 1;
            }
            if at[digit(&batch[0])] == n {
                continue;
            }
            let mut start = 0;
            for slot in &mut at {
                (*slot, start) = (start, start + *slot);
            }
            for op in batch.iter() {
                let slot = &mut at[digit(op)];
                self.scratch[*slot] = *op;
                *slot += 1;
            }
            std::mem::swap(batch, &mut self.scratch);
            batch.truncate(n);
        }
    }
}

impl Replay<'_> {
    /// Applies one WAL record. Undecodable records are counted and skipped.
    pub(crate) fn apply(&mut self, payload: &[u8]) {
        match wal_records::decode_into(payload, &mut self.buf) {
            Ok(Decoded::Series { epoch, series }) => self.apply_series(epoch, &series),
            Ok(Decoded::Samples { epoch }) => self.apply_samples(epoch),
            Ok(Decoded::Deletions { epoch, entries }) => self.apply_deletions(epoch, &entries),
            Err(e) => {
                tracing::warn!(error = %e, len = payload.len(), "TSDB WAL record undecodable, skipped");
                self.counts.undecodable_records += 1;
            }
        }
    }

    fn apply_series(&mut self, epoch: u64, series: &[(u32, Labels)]) {
        let map = self.refs.entry(epoch).or_default();
        for (wal_ref, labels) in series {
            map.insert(*wal_ref, self.head.replay_series(labels));
        }
    }

    fn apply_samples(&mut self, epoch: u64) {
        let Some(map) = self.refs.get(&epoch) else {
            self.counts.samples_without_series += self.buf.len() as u64;
            return;
        };
        for s in &self.buf {
            let Some(r) = map.get(s.r) else {
                self.counts.samples_without_series += 1;
                continue;
            };
            let op = Routed { r, op: ReplayOp::Sample(s.t, s.v) };
            self.lanes.route(op);
        }
    }

    /// Queues deletions in log order: after every earlier sample of the series.
    fn apply_deletions(&mut self, epoch: u64, entries: &[super::wal_records::Deletion]) {
        let Some(map) = self.refs.get(&epoch) else {
            return;
        };
        for d in entries {
            if let Some(r) = map.get(d.r) {
                let op = Routed { r, op: ReplayOp::Delete(d.mint, d.maxt) };
                self.lanes.route(op);
            }
        }
    }
}

impl Lanes<'_> {
    /// Queues `op` on the lane of its series' shard; a full batch goes to the
    /// lane's worker, or is applied here when there is none.
    #[inline]
    fn route(&mut self, op: Routed) {
        let lane = &mut self.lanes[usize::from(self.lane_of[op.r.index() % SHARDS])];
        if lane.pending.capacity() == 0 {
            let spare = lane.free.as_ref().and_then(|free| free.try_recv().ok());
            lane.pending = spare.unwrap_or_else(|| Vec::with_capacity(self.batch));
        }
        lane.pending.push(op);
        if lane.pending.len() < self.batch {
            return;
        }
        match &lane.tx {
            Some(tx) => {
                let batch = std::mem::take(&mut lane.pending);
                // A failed send means the worker panicked; joining reports it.
                let _ = tx.send(batch);
            }
            None => self.inline.apply(self.head, &mut lane.pending),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn radix_sort_is_a_stable_sort_by_series(refs in proptest::collection::vec(
            prop_oneof![0u32..4, 0u32..5000, any::<u32>()], 0..3000)
        ) {
            let batch: Vec<Routed> =
                refs.iter().enumerate().map(|(i, &r)| Routed { r: SeriesRef(r), op: ReplayOp::Delete(i as i64, 0) }).collect();
            let mut want = batch.clone();
            want.sort_by_key(|op| op.r.0);
            let mut applier = Applier::default();
            // Twice, so the second sort runs on warm buffers.
            for _ in 0..2 {
                let mut got = batch.clone();
                applier.sort_by_series(&mut got);
                let key = |v: &[Routed]| v.iter().map(|op| (op.r.0, match op.op { ReplayOp::Delete(i, _) => i, ReplayOp::Sample(t, _) => t })).collect::<Vec<_>>();
                prop_assert_eq!(key(&got), key(&want));
            }
        }
    }
}
