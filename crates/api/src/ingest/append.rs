//! From a decoded batch to the store: one appender batch per request.

use std::collections::BTreeMap;

use wk_ingest::Batch;
use wk_ingest::remote_write::borrowed::BorrowedBatch;
use wk_model::{Labels, METRIC_NAME, Sample};
use wk_storage::{AppendError, Appendable, Appender, SeriesRef};

use super::series_cache::{self, SeriesCache};

/// What happened to a request's samples.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Samples stored.
    pub appended: u64,
    /// Samples rejected, by reason (decoder and storage reasons alike).
    pub rejected: BTreeMap<&'static str, u64>,
    /// Up to five sentences naming rejected series, for the sender.
    pub examples: Vec<String>,
}

impl AppendOutcome {
    /// Total samples rejected.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    fn reject(&mut self, reason: &'static str, n: u64, example: impl FnOnce() -> String) {
        *self.rejected.entry(reason).or_default() += n;
        if self.examples.len() < 5 {
            self.examples.push(example());
        }
    }

    /// A one-paragraph summary for a 400 answer.
    pub fn message(&self) -> String {
        let counts: Vec<String> = self.rejected.iter().map(|(r, n)| format!("{n} {r}")).collect();
        format!(
            "{} samples stored, {} rejected ({}): {}",
            self.appended,
            self.rejected_total(),
            counts.join(", "),
            self.examples.join("; ")
        )
    }
}

/// Appends every series of `batch` in one appender batch and commits it. Fails only
/// when the store cannot commit (nothing of the batch is then stored).
pub fn append_batch(store: &dyn Appendable, batch: &Batch) -> Result<AppendOutcome, AppendError> {
    let mut outcome = AppendOutcome::default();
    for rejection in &batch.rejections {
        outcome.reject(rejection.reason.as_str(), rejection.samples as u64, || rejection.to_string());
    }
    let mut appender = store.appender();
    for series in &batch.series {
        let labels = match Labels::from_pairs(series.labels.iter().map(|(n, v)| (n.as_str(), v.as_str()))) {
            Ok(labels) => labels,
            Err(e) => {
                let name = series.metric_name().to_owned();
                outcome.reject("invalid_labels", series.samples.len() as u64, || format!("series {name:?}: {e}"));
                continue;
            }
        };
        let samples = series.samples.iter().map(|s| Sample { t: s.t_ms, v: s.v });
        append_series(appender.as_mut(), None, &labels, samples, &mut outcome)?;
    }
    commit(appender.as_mut(), outcome)
}

/// [`append_batch`] for a remote_write 1.0 request decoded with borrowed labels:
/// the same outcome, but series whose sent labels are in `cache` skip building
/// their [`Labels`] and the store's lookup, and new series are added to it.
pub(crate) fn append_borrowed(
    store: &dyn Appendable,
    cache: &SeriesCache,
    batch: &BorrowedBatch<'_>,
) -> Result<AppendOutcome, AppendError> {
    let mut outcome = AppendOutcome::default();
    for rejection in &batch.rejections {
        outcome.reject(rejection.reason.as_str(), rejection.samples as u64, || rejection.to_string());
    }
    let mut appender = store.appender();
    for series in batch.series() {
        let key = series_cache::key(series.sent_labels);
        let samples = series.samples.iter().map(|s| Sample { t: s.t_ms, v: s.v });
        let hit = cache.with_hit(key, series.labels, |labels, r| {
            append_series(appender.as_mut(), Some(r), labels, samples.clone(), &mut outcome).map(|got| (got, r))
        });
        match hit {
            Some(result) => {
                if let (Some(got), cached) = result?
                    && got != cached
                {
                    // The store resolved the labels to another ref: remember that one.
                    let labels = Labels::from_sorted(series.labels.iter().copied());
                    cache.insert(key, labels, got);
                }
            }
            None => {
                let labels = match Labels::from_pairs(series.labels.iter().copied()) {
                    Ok(labels) => labels,
                    Err(e) => {
                        let name = series.labels.iter().find(|(n, _)| *n == METRIC_NAME).map_or("", |(_, v)| *v);
                        let n = series.samples.len() as u64;
                        outcome.reject("invalid_labels", n, || format!("series {name:?}: {e}"));
                        continue;
                    }
                };
                if let Some(r) = append_series(appender.as_mut(), None, &labels, samples, &mut outcome)? {
                    cache.insert(key, labels, r);
                }
            }
        }
    }
    commit(appender.as_mut(), outcome)
}

/// Appends the samples of one series; returns the ref of the series when a
/// sample was taken. A retryable store error rolls the whole batch back.
fn append_series(
    appender: &mut dyn Appender,
    mut hint: Option<SeriesRef>,
    labels: &Labels,
    samples: impl Iterator<Item = Sample>,
    outcome: &mut AppendOutcome,
) -> Result<Option<SeriesRef>, AppendError> {
    let mut stored = None;
    for sample in samples {
        match appender.append(hint, labels, sample) {
            Ok(r) => {
                hint = Some(r);
                stored = Some(r);
                outcome.appended += 1;
            }
            Err(e) if e.is_retryable() => {
                appender.rollback();
                return Err(e);
            }
            Err(e) => {
                let t = sample.t;
                outcome.reject(e.reason(), 1, || format!("{labels:?} at {t}: {e}"));
            }
        }
    }
    Ok(stored)
}

/// Commits the appender's batch and counts the samples it dropped late.
fn commit(appender: &mut dyn Appender, mut outcome: AppendOutcome) -> Result<AppendOutcome, AppendError> {
    let summary = appender.commit()?;
    for (error, n) in summary.rejected {
        outcome.appended = outcome.appended.saturating_sub(n);
        outcome.reject(error.reason(), n, || error.to_string());
    }
    Ok(outcome)
}
