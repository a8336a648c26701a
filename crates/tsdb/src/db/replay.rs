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

use wk_model::Labels;
use wk_storage::SeriesRef;

use super::wal_records::{self, Decoded, RefSample};
use crate::head::Head;
use crate::index::mix_hash::MixMap;

/// Counts of one replay, folded into `OpenReport`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ReplayCounts {
    pub samples: u64,
    pub samples_without_series: u64,
    pub samples_rejected: u64,
    pub undecodable_records: u64,
}

/// Replay state: the ref maps of every epoch seen and a reusable sample buffer.
#[derive(Debug)]
pub(crate) struct Replay<'h> {
    head: &'h Head,
    refs: MixMap<u64, MixMap<u32, SeriesRef>>,
    buf: Vec<RefSample>,
    pub counts: ReplayCounts,
}

impl<'h> Replay<'h> {
    pub(crate) fn new(head: &'h Head) -> Self {
        Self { head, refs: MixMap::default(), buf: Vec::new(), counts: ReplayCounts::default() }
    }

    /// Applies one WAL record. Undecodable records are counted and skipped.
    pub(crate) fn apply(&mut self, payload: &[u8]) {
        match wal_records::decode_into(payload, &mut self.buf) {
            Ok(Decoded::Series { epoch, series }) => self.apply_series(epoch, &series),
            Ok(Decoded::Samples { epoch }) => self.apply_samples(epoch),
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
        let mut cached: Option<(u32, SeriesRef)> = None;
        for s in &self.buf {
            let r = match cached {
                Some((w, r)) if w == s.r => r,
                _ => match map.get(&s.r) {
                    Some(&r) => {
                        cached = Some((s.r, r));
                        r
                    }
                    None => {
                        self.counts.samples_without_series += 1;
                        continue;
                    }
                },
            };
            match self.head.replay_sample(r, s.t, s.v) {
                Ok(true) => self.counts.samples += 1,
                Ok(false) => {}
                Err(_) => self.counts.samples_rejected += 1,
            }
        }
    }
}
