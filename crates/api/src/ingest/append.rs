//! From a decoded batch to the store: one appender batch per request.

use std::collections::BTreeMap;

use wk_ingest::Batch;
use wk_model::{Labels, Sample};
use wk_storage::{AppendError, Appendable};

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
        let mut hint = None;
        for sample in &series.samples {
            match appender.append(hint, &labels, Sample { t: sample.t_ms, v: sample.v }) {
                Ok(r) => {
                    hint = Some(r);
                    outcome.appended += 1;
                }
                Err(e) if e.is_retryable() => {
                    appender.rollback();
                    return Err(e);
                }
                Err(e) => {
                    let t = sample.t_ms;
                    outcome.reject(e.reason(), 1, || format!("{labels:?} at {t}: {e}"));
                }
            }
        }
    }
    let summary = appender.commit()?;
    for (error, n) in summary.rejected {
        outcome.appended = outcome.appended.saturating_sub(n);
        outcome.reject(error.reason(), n, || error.to_string());
    }
    Ok(outcome)
}
