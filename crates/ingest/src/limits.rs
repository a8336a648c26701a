//! Limits that protect the process, and the per-series validation every decoder
//! runs before it hands a series to the caller.
//!
//! Request-wide limits (body size, series and sample counts) reject the whole
//! request with a 413 [`Error`]. Per-series checks reject only the
//! series at fault with a [`RejectReason`]; the decoder carries on with the rest.

use crate::batch::{Batch, METRIC_NAME_LABEL, RejectReason, Rejection, Series};
use crate::error::{Error, Result};

/// Ingestion limits. Every limit is configurable; [`Limits::default`] holds values
/// that no well-behaved sender reaches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest body accepted after decompression, in bytes.
    pub max_body_bytes: usize,
    /// The most series one request may carry (413 beyond).
    pub max_series_per_request: usize,
    /// The most samples one request may carry (413 beyond).
    pub max_samples_per_request: usize,
    /// The most labels one series may carry, `__name__` included.
    pub max_labels_per_series: usize,
    /// The longest label name, in bytes.
    pub max_label_name_len: usize,
    /// The longest label value, in bytes.
    pub max_label_value_len: usize,
    /// How far ahead of the supplied `now` a sample timestamp may be, in milliseconds.
    pub max_future_ms: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 << 20,
            max_series_per_request: 100_000,
            max_samples_per_request: 1_000_000,
            max_labels_per_series: 64,
            max_label_name_len: 1024,
            max_label_value_len: 4096,
            max_future_ms: 10 * 60 * 1000,
        }
    }
}

impl Limits {
    /// Fails with [`Error::BodyTooLarge`] if `size` exceeds the body limit.
    pub fn check_body(&self, size: usize) -> Result<()> {
        if size > self.max_body_bytes {
            return Err(Error::BodyTooLarge { size, limit: self.max_body_bytes });
        }
        Ok(())
    }

    /// Fails with [`Error::TooManySeries`] if `count` exceeds the series limit.
    pub fn check_series_count(&self, count: usize) -> Result<()> {
        if count > self.max_series_per_request {
            return Err(Error::TooManySeries { count, limit: self.max_series_per_request });
        }
        Ok(())
    }

    /// Fails with [`Error::TooManySamples`] if `count` exceeds the sample limit.
    pub fn check_sample_count(&self, count: usize) -> Result<()> {
        if count > self.max_samples_per_request {
            return Err(Error::TooManySamples { count, limit: self.max_samples_per_request });
        }
        Ok(())
    }

    /// Validates `series` and moves it into `batch.series`, or records a rejection.
    ///
    /// Labels with empty values are dropped (an empty value means "no such label"),
    /// and labels are sorted by name. Samples too far in the future are dropped and
    /// counted as one rejection; the series is kept with the rest of its samples.
    /// A series left without samples is not added. `index` and the metric name go
    /// into any [`Rejection`].
    pub fn admit(&self, batch: &mut Batch, index: usize, mut series: Series, now_ms: i64) {
        if let Err((reason, detail)) = self.check_labels(&mut series) {
            let metric = series.metric_name().to_owned();
            batch.rejections.push(Rejection { index, metric, reason, detail, samples: series.samples.len() });
            return;
        }
        let horizon = now_ms.saturating_add(self.max_future_ms);
        if let Some(bad) = series.samples.iter().find(|s| s.t_ms > horizon).copied() {
            let before = series.samples.len();
            series.samples.retain(|s| s.t_ms <= horizon);
            let detail = self.future_detail(bad.t_ms, now_ms);
            let metric = series.metric_name().to_owned();
            let samples = before - series.samples.len();
            batch.rejections.push(Rejection { index, metric, reason: RejectReason::TooFarInFuture, detail, samples });
        }
        if !series.samples.is_empty() {
            batch.series.push(series);
        }
    }

    /// Normalises and checks the labels of one series.
    fn check_labels(&self, series: &mut Series) -> std::result::Result<(), (RejectReason, String)> {
        self.check_label_pairs(&mut series.labels)
    }

    /// The detail sentence of a [`RejectReason::TooFarInFuture`] rejection.
    pub(crate) fn future_detail(&self, t_ms: i64, now_ms: i64) -> String {
        format!("timestamp {t_ms} ms is more than {} ms ahead of now ({now_ms} ms)", self.max_future_ms)
    }

    /// Normalises `(name, value)` pairs (drops empty values, sorts by name) and
    /// checks them; owned and borrowed labels go through the same code.
    pub(crate) fn check_label_pairs<S: AsRef<str>>(
        &self,
        labels: &mut Vec<(S, S)>,
    ) -> std::result::Result<(), (RejectReason, String)> {
        if labels.iter().any(|(_, v)| v.as_ref().is_empty()) {
            labels.retain(|(_, v)| !v.as_ref().is_empty());
        }
        if !labels.is_sorted_by(|a, b| a.0.as_ref() <= b.0.as_ref()) {
            labels.sort_unstable_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
        }
        if labels.iter().any(|(n, _)| n.as_ref().is_empty()) {
            return Err((RejectReason::EmptyLabelName, "a label has an empty name".to_owned()));
        }
        if let Some(w) = labels.windows(2).find(|w| w[0].0.as_ref() == w[1].0.as_ref()) {
            return Err((
                RejectReason::DuplicateLabelName,
                format!("label {:?} appears more than once", w[0].0.as_ref()),
            ));
        }
        if labels.len() > self.max_labels_per_series {
            let detail = format!("{} labels, more than the limit of {}", labels.len(), self.max_labels_per_series);
            return Err((RejectReason::TooManyLabels, detail));
        }
        for (name, value) in labels.iter() {
            let (name, value) = (name.as_ref(), value.as_ref());
            if name.len() > self.max_label_name_len {
                let detail = format!(
                    "label name {:?}… is {} bytes, longer than the limit of {}",
                    prefix(name),
                    name.len(),
                    self.max_label_name_len
                );
                return Err((RejectReason::LabelNameTooLong, detail));
            }
            if value.len() > self.max_label_value_len {
                let detail = format!(
                    "value of label {:?} is {} bytes, longer than the limit of {}",
                    prefix(name),
                    value.len(),
                    self.max_label_value_len
                );
                return Err((RejectReason::LabelValueTooLong, detail));
            }
        }
        if !labels.iter().any(|(n, _)| n.as_ref() == METRIC_NAME_LABEL) {
            return Err((RejectReason::MissingMetricName, "the series has no __name__ label".to_owned()));
        }
        Ok(())
    }
}

/// The first 64 bytes of `s` (on a character boundary), so that a huge label does
/// not make a huge error message.
fn prefix(s: &str) -> &str {
    let mut end = s.len().min(64);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Sample;

    fn series(labels: &[(&str, &str)], ts: &[i64]) -> Series {
        Series {
            labels: labels.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            samples: ts.iter().map(|&t_ms| Sample { t_ms, v: 1.0 }).collect(),
        }
    }

    fn admit(s: Series) -> Batch {
        let mut b = Batch::default();
        Limits::default().admit(&mut b, 7, s, 1_000_000);
        b
    }

    #[test]
    fn sorts_labels_and_drops_empty_values() {
        let b = admit(series(&[("job", "a"), ("__name__", "up"), ("empty", "")], &[1]));
        assert_eq!(b.series[0].labels, vec![("__name__".into(), "up".into()), ("job".into(), "a".into())]);
        assert!(b.rejections.is_empty());
    }

    #[test]
    fn rejects_label_problems_with_reason() {
        let long = "x".repeat(5000);
        let cases: Vec<(Series, RejectReason)> = vec![
            (series(&[("job", "a")], &[1]), RejectReason::MissingMetricName),
            (series(&[("__name__", "up"), ("", "a")], &[1]), RejectReason::EmptyLabelName),
            (series(&[("__name__", "up"), ("a", "1"), ("a", "2")], &[1]), RejectReason::DuplicateLabelName),
            (series(&[("__name__", "up"), ("a", &long)], &[1]), RejectReason::LabelValueTooLong),
            (series(&[("__name__", "up"), (&long, "a")], &[1]), RejectReason::LabelNameTooLong),
        ];
        for (s, reason) in cases {
            let b = admit(s);
            assert!(b.series.is_empty());
            assert_eq!(b.rejections[0].reason, reason);
            assert_eq!(b.rejections[0].index, 7);
            assert!(b.rejections[0].detail.len() < 200, "{}", b.rejections[0].detail);
        }
    }

    #[test]
    fn too_many_labels() {
        let names: Vec<String> = (0..70).map(|i| format!("l{i}")).collect();
        let mut labels: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
        labels.push(("__name__", "up"));
        assert_eq!(admit(series(&labels, &[1])).rejections[0].reason, RejectReason::TooManyLabels);
    }

    #[test]
    fn future_samples_are_dropped_rest_kept() {
        let b = admit(series(&[("__name__", "up")], &[1, 2_000_000, 3]));
        assert_eq!(b.series[0].samples.len(), 2);
        assert_eq!(b.rejections[0].reason, RejectReason::TooFarInFuture);
        assert_eq!(b.rejections[0].samples, 1);
        let b = admit(series(&[("__name__", "up")], &[2_000_000]));
        assert!(b.series.is_empty());
    }

    #[test]
    fn request_limits_map_to_413() {
        let l =
            Limits { max_series_per_request: 1, max_samples_per_request: 1, max_body_bytes: 1, ..Limits::default() };
        assert_eq!(l.check_series_count(2).unwrap_err().http_status(), 413);
        assert_eq!(l.check_sample_count(2).unwrap_err().http_status(), 413);
        assert_eq!(l.check_body(2).unwrap_err().http_status(), 413);
        assert!(l.check_series_count(1).is_ok());
    }
}
