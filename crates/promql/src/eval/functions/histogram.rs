//! `histogram_quantile` over classic histograms (`le` buckets), following
//! Prometheus 3's `BucketQuantile`: buckets are sorted and coalesced, tiny
//! floating-point deltas are ignored and decreases are forced monotonic (with an
//! info annotation).

use std::collections::HashMap;

use promql_parser::parser::Expr;
use wk_model::{Labels, LabelsBuilder};

use super::sample;
use crate::eval::{Evaluator, NAME_LABELS, StepValue, check_duplicates};
use crate::value::format_float;
use crate::{Result, Vector};

const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    upper: f64,
    count: f64,
}

/// A classic histogram: output labels (without `le` and name), metric name and
/// buckets.
type BucketGroup = (Labels, Option<String>, Vec<Bucket>);

/// Groups the `le` series of `input` into histograms, warning about series whose
/// `le` is missing or malformed.
fn bucket_groups(ev: &mut Evaluator<'_>, input: &Vector) -> Vec<BucketGroup> {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<BucketGroup> = Vec::new();
    for s in input {
        let le = s.metric.get("le").unwrap_or("");
        let Some(upper) = parse_le(le) else {
            ev.annotations.warn(format!(
                "bucket label \"le\" is missing or has a malformed value of {le:?} for metric name {:?}",
                s.metric.metric_name().unwrap_or("")
            ));
            continue;
        };
        let key = Labels::from_sorted(s.metric.iter().filter(|(n, _)| *n != "le"));
        let i = *index.entry(key.clone()).or_insert_with(|| {
            let out = Labels::from_sorted(key.iter().filter(|(n, _)| !NAME_LABELS.contains(n)));
            groups.push((out, s.metric.metric_name().map(str::to_owned), Vec::new()));
            groups.len() - 1
        });
        groups[i].2.push(Bucket { upper, count: s.f });
    }
    groups
}

fn quantile_warning(ev: &mut Evaluator<'_>, q: f64) {
    if !(0.0..=1.0).contains(&q) {
        ev.annotations.warn(format!("quantile value should be between 0 and 1, got {}", format_float(q)));
    }
}

fn monotonicity_info(ev: &mut Evaluator<'_>, name: &Option<String>) {
    ev.annotations.info(format!(
        "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {:?}",
        name.as_deref().unwrap_or_default()
    ));
}

/// `histogram_quantile(q, buckets)`.
pub(crate) fn histogram_quantile(ev: &mut Evaluator<'_>, args: &[&Expr], ts: i64) -> Result<Vector> {
    let q = ev.eval_scalar(args[0], ts)?;
    let input = ev.eval_vector(args[1], ts)?;
    quantile_warning(ev, q);
    let mut out = Vec::new();
    for (labels, name, buckets) in bucket_groups(ev, &input) {
        let (v, forced) = bucket_quantile(q, buckets);
        if forced {
            monotonicity_info(ev, &name);
        }
        out.push(sample(labels, ts, v, true));
    }
    Ok(out)
}

/// `histogram_quantiles(buckets, "label", q...)`: one output series per quantile,
/// told apart by `label`.
pub(crate) fn histogram_quantiles(ev: &mut Evaluator<'_>, args: &[&Expr], ts: i64) -> Result<Vector> {
    let input = ev.eval_vector(args[0], ts)?;
    let label = match ev.eval(args[1], ts)? {
        StepValue::String(s) => s,
        _ => return crate::error::eval_err("histogram_quantiles expects a label name"),
    };
    let mut qs = Vec::new();
    for a in &args[2..] {
        let q = ev.eval_scalar(a, ts)?;
        quantile_warning(ev, q);
        qs.push(q);
    }
    let mut out = Vec::new();
    for (labels, name, buckets) in bucket_groups(ev, &input) {
        let mut forced_any = false;
        for &q in &qs {
            let (v, forced) = bucket_quantile(q, buckets.clone());
            forced_any |= forced;
            let mut b = LabelsBuilder::from_labels(&labels);
            b.set(&label, &quantile_label(q));
            let metric = b.build().map_err(|e| crate::PromqlError::Eval(e.to_string()))?;
            out.push(sample(metric, ts, v, true));
        }
        if forced_any {
            monotonicity_info(ev, &name);
        }
    }
    check_duplicates(&out)?;
    Ok(out)
}

/// Formats a quantile for a label value with at least one decimal (`0.0`, `0.25`).
fn quantile_label(q: f64) -> String {
    let s = format_float(q);
    if s.contains(['.', 'e', 'I', 'N']) { s } else { format!("{s}.0") }
}

/// `histogram_fraction(lower, upper, buckets)` over classic histograms.
pub(crate) fn histogram_fraction(ev: &mut Evaluator<'_>, args: &[&Expr], ts: i64) -> Result<Vector> {
    let lower = ev.eval_scalar(args[0], ts)?;
    let upper = ev.eval_scalar(args[1], ts)?;
    let input = ev.eval_vector(args[2], ts)?;
    let mut out = Vec::new();
    for (labels, _, buckets) in bucket_groups(ev, &input) {
        out.push(sample(labels, ts, bucket_fraction(lower, upper, buckets), true));
    }
    Ok(out)
}

/// The fraction of observations between `lower` and `upper`, interpolating
/// linearly inside finite buckets; a value inside a bucket with an infinite bound
/// counts as sitting on its finite bound. The first bucket starts at 0 when its
/// upper bound is positive, as for `histogram_quantile`.
fn bucket_fraction(lower: f64, upper: f64, mut b: Vec<Bucket>) -> f64 {
    b.sort_by(|x, y| x.upper.partial_cmp(&y.upper).unwrap_or(std::cmp::Ordering::Equal));
    if b.last().is_none_or(|l| l.upper != f64::INFINITY) {
        return f64::NAN;
    }
    let b = coalesce(b);
    let count = b[b.len() - 1].count;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let rank_at = |v: f64| -> f64 {
        let mut rank = 0.0;
        for (i, x) in b.iter().enumerate() {
            let lo = match i {
                0 if x.upper > 0.0 => 0.0,
                0 => f64::NEG_INFINITY,
                _ => b[i - 1].upper,
            };
            if lo >= v {
                return rank;
            }
            if v < x.upper {
                return if lo == f64::NEG_INFINITY {
                    x.count
                } else if x.upper == f64::INFINITY {
                    rank
                } else {
                    rank + (x.count - rank) * (v - lo) / (x.upper - lo)
                };
            }
            rank = x.count;
        }
        count
    };
    (rank_at(upper).min(count) - rank_at(lower).min(count)) / count
}

fn parse_le(s: &str) -> Option<f64> {
    match s.trim() {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        t => t.parse().ok(),
    }
}

/// Returns the quantile and whether the buckets had to be forced monotonic.
fn bucket_quantile(q: f64, mut b: Vec<Bucket>) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    b.sort_by(|x, y| x.upper.partial_cmp(&y.upper).unwrap_or(std::cmp::Ordering::Equal));
    if b.last().is_none_or(|l| l.upper != f64::INFINITY) {
        return (f64::NAN, false);
    }
    let mut b = coalesce(b);
    let forced = ensure_monotonic(&mut b);
    if b.len() < 2 {
        return (f64::NAN, false);
    }
    let observations = b[b.len() - 1].count;
    if observations == 0.0 {
        return (f64::NAN, false);
    }
    let mut rank = q * observations;
    let i = b[..b.len() - 1].partition_point(|x| x.count < rank);
    if i == b.len() - 1 {
        return (b[b.len() - 2].upper, forced);
    }
    if i == 0 && b[0].upper <= 0.0 {
        return (b[0].upper, forced);
    }
    let (mut start, end, mut count) = (0.0, b[i].upper, b[i].count);
    if i > 0 {
        start = b[i - 1].upper;
        count -= b[i - 1].count;
        rank -= b[i - 1].count;
    }
    (start + (end - start) * (rank / count), forced)
}

fn coalesce(b: Vec<Bucket>) -> Vec<Bucket> {
    let mut out: Vec<Bucket> = Vec::with_capacity(b.len());
    for x in b {
        match out.last_mut() {
            Some(l) if l.upper == x.upper => l.count += x.count,
            _ => out.push(x),
        }
    }
    out
}

fn ensure_monotonic(b: &mut [Bucket]) -> bool {
    let mut forced = false;
    let mut prev = b[0].count;
    for x in b.iter_mut().skip(1) {
        let curr = x.count;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, SMALL_DELTA_TOLERANCE) {
            x.count = prev;
            continue;
        }
        if curr < prev {
            x.count = prev;
            forced = true;
            continue;
        }
        prev = curr;
    }
    forced
}

/// Prometheus's `almost.Equal`: relative comparison with `epsilon`.
pub(crate) fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    const MIN_NORMAL: f64 = 2.2250738585072014e-308;
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < epsilon * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}
