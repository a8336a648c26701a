//! Writing collected metric families into storage, shared by the host agent, probes
//! and heartbeats: each round is one batch with the writer's base labels added, and
//! series that were written last round but not this one get a staleness marker, as
//! Prometheus does for a scrape target.

use std::collections::HashSet;

use wk_model::{Labels, STALE_NAN, Sample};
use wk_storage::{AppendError, Appendable};

use crate::family::MetricFamily;

/// What one round wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// Samples appended (staleness markers included).
    pub appended: u64,
    /// Staleness markers written for series that disappeared.
    pub stale: u64,
    /// Samples the store rejected, or series whose labels were invalid.
    pub rejected: u64,
}

/// Remembers the series of the previous round, to mark vanished ones stale.
#[derive(Debug, Default)]
pub struct FamilyWriter {
    base: Vec<(String, String)>,
    previous: HashSet<Labels>,
}

impl FamilyWriter {
    /// A writer adding `base` labels (`job`, `instance`, …) to every series; a base
    /// label overrides a family label of the same name.
    pub fn new(base: Vec<(String, String)>) -> Self {
        Self { base, previous: HashSet::new() }
    }

    /// Writes `families` at `now_ms` in one batch, plus staleness markers.
    pub fn write(
        &mut self,
        store: &dyn Appendable,
        families: &[MetricFamily],
        now_ms: i64,
    ) -> Result<Round, AppendError> {
        let mut current = HashSet::with_capacity(self.previous.len().max(16));
        let mut appender = store.appender();
        let mut round = Round::default();
        for family in families {
            for sample in &family.samples {
                let pairs = sample
                    .labels
                    .iter()
                    .filter(|(n, _)| !self.base.iter().any(|(b, _)| b == n))
                    .map(|(n, v)| (*n, v.as_str()))
                    .chain(self.base.iter().map(|(n, v)| (n.as_str(), v.as_str())))
                    .chain([("__name__", family.name.as_str())]);
                let Ok(labels) = Labels::from_pairs(pairs) else {
                    round.rejected += 1;
                    continue;
                };
                match appender.append(None, &labels, Sample { t: now_ms, v: sample.value }) {
                    Ok(_) => round.appended += 1,
                    Err(_) => round.rejected += 1,
                }
                current.insert(labels);
            }
        }
        for gone in self.previous.difference(&current) {
            if appender.append(None, gone, Sample { t: now_ms, v: STALE_NAN }).is_ok() {
                round.stale += 1;
                round.appended += 1;
            }
        }
        let summary = appender.commit()?;
        round.rejected += summary.rejected.iter().map(|(_, n)| n).sum::<u64>();
        self.previous = current;
        Ok(round)
    }

    /// Marks every series of the last round stale (the source was removed).
    pub fn retire(&mut self, store: &dyn Appendable, now_ms: i64) -> Result<Round, AppendError> {
        self.write(store, &[], now_ms)
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
