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

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use wk_model::Labels;
use wk_storage::SeriesRef;

use super::wal_records::{self, Decoded, RefSample};
use crate::head::{Head, SHARDS};
use crate::index::mix_hash::MixMap;

/// Samples handed to a worker per message.
const LANE_BATCH: usize = 8 * 1024;
/// Messages in flight per worker before the decoding thread waits.
const LANE_DEPTH: usize = 8;

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
enum Routed {
    Sample(SeriesRef, i64, f64),
    Delete(SeriesRef, i64, i64),
}

/// A worker's queue: samples of the shards it owns, in log order.
#[derive(Debug)]
struct Lane {
    tx: SyncSender<Vec<Routed>>,
    pending: Vec<Routed>,
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
    refs: MixMap<u64, MixMap<u32, SeriesRef>>,
    buf: Vec<RefSample>,
    lanes: Vec<Lane>,
    counts: ReplayCounts,
}

/// Runs `f` with a [`Replay`] into `head` that applies samples on `workers`
/// threads (inline when `workers` is 0 or 1), waits for every sample to be
/// applied, and returns `f`'s result with the counts.
pub(crate) fn run<T>(head: &Head, workers: usize, f: impl FnOnce(&mut Replay<'_>) -> T) -> (T, ReplayCounts) {
    std::thread::scope(|scope| {
        let workers = if workers > 1 { workers } else { 0 };
        let mut lanes = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (tx, rx) = sync_channel(LANE_DEPTH);
            handles.push(scope.spawn(move || apply_lane(head, rx)));
            lanes.push(Lane { tx, pending: Vec::with_capacity(LANE_BATCH) });
        }
        let mut replay =
            Replay { head, refs: MixMap::default(), buf: Vec::new(), lanes, counts: ReplayCounts::default() };
        let out = f(&mut replay);
        for lane in &mut replay.lanes {
            let batch = std::mem::take(&mut lane.pending);
            // A failed send means the worker panicked; joining reports it.
            let _ = lane.tx.send(batch);
        }
        let mut counts = replay.counts;
        drop(replay);
        for handle in handles {
            let (samples, rejected) = handle.join().expect("WAL replay worker panicked");
            counts.samples += samples;
            counts.samples_rejected += rejected;
        }
        (out, counts)
    })
}

/// Applies a worker's samples; returns (stored, rejected).
fn apply_lane(head: &Head, rx: Receiver<Vec<Routed>>) -> (u64, u64) {
    let (mut stored, mut rejected) = (0, 0);
    for batch in rx {
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for op in batch {
            match op {
                Routed::Sample(r, t, v) => match head.replay_sample(r, t, v) {
                    Ok(true) => {
                        stored += 1;
                        lo = lo.min(t);
                        hi = hi.max(t);
                    }
                    Ok(false) => {}
                    Err(_) => rejected += 1,
                },
                Routed::Delete(r, mint, maxt) => head.delete_range(r, mint, maxt),
            }
        }
        if lo <= hi {
            head.note_times(lo, hi);
        }
    }
    (stored, rejected)
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
            let Some(&r) = map.get(&s.r) else {
                self.counts.samples_without_series += 1;
                continue;
            };
            if self.lanes.is_empty() {
                match self.head.replay_sample(r, s.t, s.v) {
                    Ok(true) => {
                        self.counts.samples += 1;
                        self.head.note_times(s.t, s.t);
                    }
                    Ok(false) => {}
                    Err(_) => self.counts.samples_rejected += 1,
                }
                continue;
            }
            route(&mut self.lanes, Routed::Sample(r, s.t, s.v));
        }
    }

    /// Applies deletions in log order: after every earlier sample of the series.
    fn apply_deletions(&mut self, epoch: u64, entries: &[super::wal_records::Deletion]) {
        let Some(map) = self.refs.get(&epoch) else {
            return;
        };
        let resolved: Vec<Routed> =
            entries.iter().filter_map(|d| map.get(&d.r).map(|&r| Routed::Delete(r, d.mint, d.maxt))).collect();
        for op in resolved {
            match op {
                Routed::Delete(r, mint, maxt) if self.lanes.is_empty() => self.head.delete_range(r, mint, maxt),
                op => route(&mut self.lanes, op),
            }
        }
    }
}

/// Queues `op` on the lane of its series' shard.
fn route(lanes: &mut [Lane], op: Routed) {
    let (Routed::Sample(r, ..) | Routed::Delete(r, ..)) = op;
    let n = lanes.len();
    let lane = &mut lanes[(r.index() % SHARDS) % n];
    lane.pending.push(op);
    if lane.pending.len() == LANE_BATCH {
        let batch = std::mem::replace(&mut lane.pending, Vec::with_capacity(LANE_BATCH));
        // A failed send means the worker panicked; joining reports it.
        let _ = lane.tx.send(batch);
    }
}
