//! `histogram_quantile` over classic histograms (`le` buckets), following
//! Prometheus 3's `BucketQuantile`: buckets are sorted and coalesced, tiny
//! floating-point deltas are ignored and decreases are forced monotonic (with an
//! info annotation).

use std::collections::HashMap;

use promql_parser::parser::Expr;
use wk_model::{Labels, METRIC_NAME};

use super::sample;
use crate::eval::Evaluator;
use crate::value::format_float;
use crate::{Result, Vector};

const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    upper: f64,
    count: f64,
}

/// `histogram_quantile(q, buckets)`.
pub(crate) fn histogram_quantile(
    ev: &mut Evaluator<'_>,
    args: &[&Expr],
    ts: i64,
) -> Result<Vector> {
    let q = ev.eval_scalar(args[0], ts)?;
    let input = ev.eval_vector(args[1], ts)?;
    if !(0.0..=1.0).contains(&q) {
        ev.annotations.warn(format!(
            "quantile value should be between 0 and 1, got {}",
            format_float(q)
        ));
    }
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<(Labels, Option<String>, Vec<Bucket>)> = Vec::new();
    for s in &input {
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
            let out = Labels::from_sorted(key.iter().filter(|(n, _)| *n != METRIC_NAME));
            groups.push((out, s.metric.metric_name().map(str::to_owned), Vec::new()));
            groups.len() - 1
        });
        groups[i].2.push(Bucket { upper, count: s.f });
    }
    let mut out = Vec::with_capacity(groups.len());
    for (labels, name, buckets) in groups {
        let (v, forced) = bucket_quantile(q, buckets);
        if forced {
            ev.annotations.info(format!(
                "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {:?}",
                name.unwrap_or_default()
            ));
        }
        out.push(sample(labels, ts, v, true));
    }
    Ok(out)
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
    b.sort_by(|x, y| {
        x.upper
            .partial_cmp(&y.upper)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
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
