//! OTLP metrics to Prometheus series, after the OpenTelemetry to Prometheus
//! compatibility specification.
//!
//! - Names: [`metric_name::build`] (unit suffixes, `_total`, `_ratio`).
//! - Labels: point attributes, sanitized; attributes that sanitize to the same name
//!   are joined with `;` in the order of their original keys. `service.name` (with
//!   `service.namespace/` in front when set) becomes `job`, `service.instance.id`
//!   becomes `instance`; these override point attributes of the same name.
//! - Gauges and non-monotonic sums become gauges; monotonic sums become counters.
//! - Delta temporality is **rejected** per metric with
//!   [`RejectReason::DeltaTemporalityUnsupported`], as Prometheus does by default:
//!   converting deltas to cumulative values needs state across requests.
//! - Histograms become `_bucket{le}` (cumulative), `_sum` (when recorded) and `_count`.
//! - Exponential histograms are converted to classic buckets, see [`exponential_buckets`].
//! - Summaries become `{quantile}` series plus `_sum` and `_count`.
//! - Points flagged "no recorded value" become the stale marker.
//! - Every resource with attributes beyond the identifying ones yields a
//!   `target_info` gauge of value 1 carrying them, at the resource's latest timestamp.

use super::metric_name::{self, Kind};
use super::proto::{
    AnyValue, ExponentialHistogramDataPoint, ExportMetricsServiceRequest, FLAG_NO_RECORDED_VALUE, HistogramDataPoint,
    KeyValue, Metric, MetricData, NumberValue, ResourceMetrics, TEMPORALITY_CUMULATIVE, Value,
};
use crate::batch::{Batch, METRIC_NAME_LABEL, Metadata, MetricType, RejectReason, Rejection, STALE_NAN_BITS};
use crate::batch::{Sample, Series};
use crate::error::Result;
use crate::limits::Limits;
use crate::names::sanitize_label_name;

type Labels = Vec<(String, String)>;

/// Translates a decoded request into a batch.
pub fn translate(request: ExportMetricsServiceRequest, limits: &Limits, now_ms: i64) -> Result<Batch> {
    let mut t = Translator { limits, now_ms, batch: Batch::default(), metric_index: 0 };
    for rm in request.resource_metrics {
        t.resource(rm)?;
    }
    Ok(t.batch)
}

struct Translator<'a> {
    limits: &'a Limits,
    now_ms: i64,
    batch: Batch,
    metric_index: usize,
}

impl Translator<'_> {
    fn resource(&mut self, rm: ResourceMetrics) -> Result<()> {
        let attributes = rm.resource.map(|r| r.attributes).unwrap_or_default();
        let identity = identity_labels(&attributes);
        let mut latest: Option<i64> = None;
        for scope in rm.scope_metrics {
            for metric in scope.metrics {
                self.metric(metric, &identity, &mut latest)?;
                self.metric_index += 1;
            }
        }
        let rest: Vec<KeyValue> = attributes
            .into_iter()
            .filter(|kv| !matches!(kv.key.as_str(), "service.name" | "service.namespace" | "service.instance.id"))
            .collect();
        if let (Some(t_ms), false) = (latest, rest.is_empty()) {
            let labels = point_labels(rest, &identity);
            self.emit_owned(labels, "target_info".to_owned(), t_ms, 1.0)?;
        }
        Ok(())
    }

    fn metric(&mut self, metric: Metric, identity: &Labels, latest: &mut Option<i64>) -> Result<()> {
        let Metric { name, description, unit, data } = metric;
        let reject = |this: &mut Self, reason, detail: String, samples| {
            let index = this.metric_index;
            this.batch.rejections.push(Rejection { index, metric: name.clone(), reason, detail, samples });
        };
        let (kind, metric_type, points) = match &data {
            None => {
                reject(
                    self,
                    RejectReason::UnsupportedMetricType,
                    "the metric has no data, or data of a type this decoder does not know".into(),
                    0,
                );
                return Ok(());
            }
            Some(MetricData::Gauge(g)) => (Kind::Gauge, MetricType::Gauge, g.data_points.len()),
            Some(MetricData::Sum(s)) if s.is_monotonic => (Kind::Counter, MetricType::Counter, s.data_points.len()),
            Some(MetricData::Sum(s)) => (Kind::Gauge, MetricType::Gauge, s.data_points.len()),
            Some(MetricData::Histogram(h)) => (Kind::Distribution, MetricType::Histogram, h.data_points.len()),
            Some(MetricData::ExponentialHistogram(h)) => {
                (Kind::Distribution, MetricType::Histogram, h.data_points.len())
            }
            Some(MetricData::Summary(s)) => (Kind::Distribution, MetricType::Summary, s.data_points.len()),
        };
        let temporality = match &data {
            Some(MetricData::Sum(s)) => s.aggregation_temporality,
            Some(MetricData::Histogram(h)) => h.aggregation_temporality,
            Some(MetricData::ExponentialHistogram(h)) => h.aggregation_temporality,
            _ => TEMPORALITY_CUMULATIVE,
        };
        if temporality != TEMPORALITY_CUMULATIVE {
            let detail = format!(
                "aggregation temporality {temporality} is not supported, only cumulative (2); \
                 configure the exporter for cumulative temporality or add the collector's deltatocumulative processor"
            );
            reject(self, RejectReason::DeltaTemporalityUnsupported, detail, points);
            return Ok(());
        }
        let prom_name = metric_name::build(&name, &unit, kind);
        self.batch.metadata.push(Metadata {
            metric_family_name: prom_name.clone(),
            metric_type,
            help: description,
            unit,
        });
        let mut malformed = Vec::new();
        match data {
            Some(MetricData::Gauge(g)) => self.numbers(&prom_name, g.data_points, identity, latest)?,
            Some(MetricData::Sum(s)) => self.numbers(&prom_name, s.data_points, identity, latest)?,
            Some(MetricData::Histogram(h)) => {
                for p in h.data_points {
                    let t_ms = track(latest, p.time_unix_nano);
                    match explicit_buckets(&p) {
                        Ok(buckets) => {
                            let point = ClassicPoint { t_ms, flags: p.flags, sum: p.sum, count: p.count, buckets };
                            self.histogram(&prom_name, p.attributes, identity, point)?;
                        }
                        Err(detail) => malformed.push(detail),
                    }
                }
            }
            Some(MetricData::ExponentialHistogram(h)) => {
                for p in h.data_points {
                    let t_ms = track(latest, p.time_unix_nano);
                    match exponential_buckets(&p) {
                        Ok(buckets) => {
                            let point = ClassicPoint { t_ms, flags: p.flags, sum: p.sum, count: p.count, buckets };
                            self.histogram(&prom_name, p.attributes, identity, point)?;
                        }
                        Err(detail) => malformed.push(detail),
                    }
                }
            }
            Some(MetricData::Summary(s)) => self.summaries(&prom_name, s.data_points, identity, latest)?,
            None => {}
        }
        for detail in malformed {
            reject(self, RejectReason::MalformedDataPoint, detail, 1);
        }
        Ok(())
    }

    fn summaries(
        &mut self,
        name: &str,
        points: Vec<super::proto::SummaryDataPoint>,
        identity: &Labels,
        latest: &mut Option<i64>,
    ) -> Result<()> {
        for p in points {
            let t_ms = track(latest, p.time_unix_nano);
            let labels = point_labels(p.attributes, identity);
            let value = |v: f64| if p.flags & FLAG_NO_RECORDED_VALUE != 0 { stale() } else { v };
            for q in &p.quantile_values {
                let extra = Some(("quantile", format_float(q.quantile)));
                self.emit(&labels, name.to_owned(), extra, t_ms, value(q.value))?;
            }
            self.emit(&labels, format!("{name}_sum"), None, t_ms, value(p.sum))?;
            self.emit_owned(labels, format!("{name}_count"), t_ms, value(p.count as f64))?;
        }
        Ok(())
    }

    fn numbers(
        &mut self,
        name: &str,
        points: Vec<super::proto::NumberDataPoint>,
        identity: &Labels,
        latest: &mut Option<i64>,
    ) -> Result<()> {
        for p in points {
            let t_ms = track(latest, p.time_unix_nano);
            let v = match p.value {
                _ if p.flags & FLAG_NO_RECORDED_VALUE != 0 => stale(),
                Some(NumberValue::AsDouble(v)) => v,
                Some(NumberValue::AsInt(i)) => i as f64,
                None => 0.0,
            };
            let labels = point_labels(p.attributes, identity);
            self.emit_owned(labels, name.to_owned(), t_ms, v)?;
        }
        Ok(())
    }

    /// Emits the classic series of one histogram point.
    fn histogram(
        &mut self,
        name: &str,
        attributes: Vec<KeyValue>,
        identity: &Labels,
        point: ClassicPoint,
    ) -> Result<()> {
        let ClassicPoint { t_ms, flags, sum, count, buckets } = point;
        let labels = point_labels(attributes, identity);
        let value = |v: f64| if flags & FLAG_NO_RECORDED_VALUE != 0 { stale() } else { v };
        let bucket_name = format!("{name}_bucket");
        for (le, cumulative) in buckets {
            self.emit(&labels, bucket_name.clone(), Some(("le", format_float(le))), t_ms, value(cumulative as f64))?;
        }
        self.emit(&labels, bucket_name, Some(("le", "+Inf".to_owned())), t_ms, value(count as f64))?;
        if let Some(sum) = sum {
            self.emit(&labels, format!("{name}_sum"), None, t_ms, value(sum))?;
        }
        self.emit_owned(labels, format!("{name}_count"), t_ms, value(count as f64))
    }

    /// Builds one series with a copy of `base` (minus a label named like `extra`),
    /// `extra` and the metric name, and admits it.
    fn emit(&mut self, base: &Labels, name: String, extra: Option<(&str, String)>, t_ms: i64, v: f64) -> Result<()> {
        let mut labels = Vec::with_capacity(base.len() + 2);
        labels.extend(base.iter().filter(|(n, _)| Some(n.as_str()) != extra.as_ref().map(|e| e.0)).cloned());
        if let Some((n, v)) = extra {
            labels.push((n.to_owned(), v));
        }
        self.emit_owned(labels, name, t_ms, v)
    }

    /// Adds the metric name to `labels` and admits the series through the limits.
    fn emit_owned(&mut self, mut labels: Labels, name: String, t_ms: i64, v: f64) -> Result<()> {
        let seen = self.batch.series.len() + 1;
        self.limits.check_series_count(seen)?;
        self.limits.check_sample_count(seen)?;
        labels.push((METRIC_NAME_LABEL.to_owned(), name));
        let series = Series { labels, samples: vec![Sample { t_ms, v }] };
        self.limits.admit(&mut self.batch, self.metric_index, series, self.now_ms);
        Ok(())
    }
}

/// One histogram point in classic form, whichever OTLP histogram it came from.
struct ClassicPoint {
    t_ms: i64,
    flags: u32,
    sum: Option<f64>,
    count: u64,
    /// `(le, cumulative count)` pairs in increasing `le`, without `+Inf`.
    buckets: Vec<(f64, u64)>,
}

fn stale() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Converts nanoseconds to milliseconds and remembers the latest timestamp.
fn track(latest: &mut Option<i64>, ns: u64) -> i64 {
    let t_ms = (ns / 1_000_000) as i64;
    *latest = Some(latest.map_or(t_ms, |l| l.max(t_ms)));
    t_ms
}

/// Formats a bound or quantile as Prometheus does (`0.25`, `1000`, `+Inf`).
fn format_float(f: f64) -> String {
    if f == f64::INFINITY {
        "+Inf".to_owned()
    } else if f == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        format!("{f}")
    }
}

/// `job` and `instance` from the identifying resource attributes.
fn identity_labels(attributes: &[KeyValue]) -> Labels {
    let get = |key: &str| attributes.iter().find(|kv| kv.key == key).map(|kv| any_to_string(kv.value.clone()));
    let mut out = Vec::new();
    if let Some(service) = get("service.name") {
        let job = match get("service.namespace").filter(|ns| !ns.is_empty()) {
            Some(ns) => format!("{ns}/{service}"),
            None => service,
        };
        out.push(("job".to_owned(), job));
    }
    if let Some(instance) = get("service.instance.id") {
        out.push(("instance".to_owned(), instance));
    }
    out
}

/// Point attributes as sanitized labels, merged with the resource identity.
fn point_labels(attributes: Vec<KeyValue>, identity: &Labels) -> Labels {
    let mut triples: Vec<(String, String, String)> =
        attributes.into_iter().map(|kv| (sanitize_label_name(&kv.key), kv.key, any_to_string(kv.value))).collect();
    if !triples.is_sorted_by(|a, b| (&a.0, &a.1) <= (&b.0, &b.1)) {
        triples.sort_unstable_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    }
    let mut labels: Labels = Vec::with_capacity(triples.len() + identity.len() + 2);
    for (name, _, value) in triples {
        match labels.last_mut() {
            Some((last, joined)) if *last == name => {
                joined.push(';');
                joined.push_str(&value);
            }
            _ => labels.push((name, value)),
        }
    }
    for (name, value) in identity {
        match labels.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1.clone_from(value),
            None => labels.push((name.clone(), value.clone())),
        }
    }
    labels
}

/// The string form of an attribute value, as the OpenTelemetry collector gives it.
fn any_to_string(value: Option<AnyValue>) -> String {
    match value.and_then(|v| v.value) {
        None => String::new(),
        Some(Value::StringValue(s)) => s,
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(Value::BytesValue(b)) => base64(&b),
        Some(Value::ArrayValue(a)) => {
            let items: Vec<String> = a.values.into_iter().map(|v| format!("{:?}", any_to_string(Some(v)))).collect();
            format!("[{}]", items.join(","))
        }
        Some(Value::KvlistValue(l)) => {
            let items: Vec<String> =
                l.values.into_iter().map(|kv| format!("{:?}:{:?}", kv.key, any_to_string(kv.value))).collect();
            format!("{{{}}}", items.join(","))
        }
    }
}

/// Cumulative `(le, count)` pairs of an explicit-bucket histogram point, without `+Inf`.
fn explicit_buckets(p: &HistogramDataPoint) -> std::result::Result<Vec<(f64, u64)>, String> {
    if p.bucket_counts.is_empty() {
        return Ok(Vec::new());
    }
    if p.bucket_counts.len() != p.explicit_bounds.len() + 1 {
        return Err(format!(
            "histogram point has {} bucket counts for {} explicit bounds; expected one more count than bounds",
            p.bucket_counts.len(),
            p.explicit_bounds.len()
        ));
    }
    let mut cumulative = 0u64;
    Ok(p.explicit_bounds
        .iter()
        .zip(&p.bucket_counts)
        .map(|(&le, &c)| {
            cumulative = cumulative.saturating_add(c);
            (le, cumulative)
        })
        .collect())
}

/// Converts an exponential histogram point to cumulative classic buckets.
///
/// At scale `s` the bucket boundaries are powers of `base = 2^(2^-s)`; positive
/// bucket `i` holds observations in `(base^i, base^(i+1)]`, so it becomes
/// `le = base^(i+1)`. Negative bucket `i` holds `[-base^(i+1), -base^i)` and becomes
/// `le = -base^i`, visited from the most negative up. The zero bucket becomes
/// `le = zero_threshold`. Counts are accumulated in that order and `+Inf` carries the
/// total count. The conversion is exact for bucket counts; bounds are computed in
/// `f64`, and the boundary of a negative bucket moves from exclusive to inclusive
/// (a difference only for observations exactly on a power of the base).
/// Scales outside `-10..=20` (the OTLP range) are rejected.
pub fn exponential_buckets(p: &ExponentialHistogramDataPoint) -> std::result::Result<Vec<(f64, u64)>, String> {
    if !(-10..=20).contains(&p.scale) {
        return Err(format!("exponential histogram scale {} is outside -10..=20", p.scale));
    }
    let factor = (-f64::from(p.scale)).exp2();
    let power = |index: i64| (index as f64 * factor).exp2();
    let mut out = Vec::new();
    let mut cumulative = 0u64;
    if let Some(neg) = &p.negative {
        for (k, &c) in neg.bucket_counts.iter().enumerate().rev() {
            cumulative = cumulative.saturating_add(c);
            out.push((-power(i64::from(neg.offset) + k as i64), cumulative));
        }
    }
    cumulative = cumulative.saturating_add(p.zero_count);
    out.push((p.zero_threshold, cumulative));
    if let Some(pos) = &p.positive {
        for (k, &c) in pos.bucket_counts.iter().enumerate() {
            cumulative = cumulative.saturating_add(c);
            out.push((power(i64::from(pos.offset) + k as i64 + 1), cumulative));
        }
    }
    Ok(out)
}

/// Standard base64 with padding, the string form of a bytes attribute.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
