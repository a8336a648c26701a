//! Functions over a range vector: `rate`, `increase`, `delta` (extrapolated as in
//! Prometheus 3), `irate`, `idelta`, `deriv`, `predict_linear`, double exponential
//! smoothing, `changes`, `resets`, `absent_over_time` and the `*_over_time` family.

use promql_parser::parser::{Expr, MatrixSelector};
use wk_model::{Labels, Sample, is_stale_nan};

use super::stats::{kahan_avg, kahan_sum_inc, linear_regression, quantile};
use super::{absent_labels, sample, unwrap_parens};
use crate::error::eval_err;
use crate::eval::{Evaluator, StepValue, duration_millis, offset_millis, selector};
use crate::value::format_float;
use crate::{Result, Vector};

/// The window `(start, end]` in milliseconds that a range argument covers at `ts`.
fn window_of(ev: &Evaluator<'_>, arg: &Expr, ts: i64) -> (i64, i64) {
    let (range, offset, at) = match unwrap_parens(arg) {
        Expr::MatrixSelector(ms) => (ms.range, &ms.vs.offset, &ms.vs.at),
        Expr::Subquery(sq) => (sq.range, &sq.offset, &sq.at),
        _ => return (ts, ts),
    };
    let end = ev.at_time(at).unwrap_or(ts) - offset_millis(offset);
    (end - duration_millis(range), end)
}

pub(crate) fn is_range_fn(name: &str) -> bool {
    matches!(
        name,
        "rate"
            | "increase"
            | "delta"
            | "irate"
            | "idelta"
            | "deriv"
            | "predict_linear"
            | "holt_winters"
            | "double_exponential_smoothing"
            | "changes"
            | "resets"
            | "absent_over_time"
            | "quantile_over_time"
    ) || name.ends_with("_over_time")
}

/// Evaluates `name` if it takes a range vector; `None` otherwise.
pub(crate) fn call(ev: &mut Evaluator<'_>, name: &str, args: &[&Expr], ts: i64) -> Result<Option<StepValue>> {
    if !is_range_fn(name) {
        return Ok(None);
    }
    if let Some(out) = over_selector(ev, name, args, ts)? {
        return Ok(Some(StepValue::Vector(out)));
    }
    let mut scalars = Vec::new();
    let mut matrix_arg = args[0];
    let mut matrix = Vec::new();
    for a in args {
        match ev.eval(a, ts)? {
            StepValue::Scalar(v) => scalars.push(v),
            StepValue::Matrix(m) => {
                matrix_arg = a;
                matrix = m;
            }
            _ => return eval_err(format!("unexpected argument type for {name}()")),
        }
    }
    if name == "absent_over_time" {
        let out = if matrix.is_empty() {
            vec![sample(absent_labels(unwrap_parens(matrix_arg)), ts, 1.0, false)]
        } else {
            Vec::new()
        };
        return Ok(Some(StepValue::Vector(out)));
    }
    let window = window_of(ev, matrix_arg, ts);
    check_params(ev, name, &scalars)?;
    let mut out = Vec::with_capacity(matrix.len());
    for s in matrix {
        ev.check()?;
        if matches!(name, "rate" | "increase") {
            counter_info(ev, &s.metric);
        }
        if let Some(f) = apply(name, &s.points, &scalars, window, ts) {
            out.push(sample(s.metric, ts, f, s.drop_name || drops_name(name)));
        }
    }
    Ok(Some(StepValue::Vector(out)))
}

pub(crate) fn drops_name(name: &str) -> bool {
    !matches!(name, "last_over_time" | "first_over_time")
}

/// A range function over a plain range selector (the common `rate(x[5m])`
/// shape): each series' window is read as a slice of the loaded samples, without
/// building a matrix first.
pub(crate) struct OverSelector<'e> {
    pub(crate) name: &'e str,
    pub(crate) ms: &'e MatrixSelector,
    arg: &'e Expr,
    args: &'e [&'e Expr],
}

impl<'e> OverSelector<'e> {
    /// Recognises the shape; `None` when no argument is a range selector or the
    /// function needs the whole matrix (`absent_over_time`).
    pub(crate) fn of(name: &'e str, args: &'e [&'e Expr]) -> Option<Self> {
        if !is_range_fn(name) || name == "absent_over_time" {
            return None;
        }
        let (ms, arg) = args.iter().rev().find_map(|a| match unwrap_parens(a) {
            Expr::MatrixSelector(ms) => Some((ms, *a)),
            _ => None,
        })?;
        Some(Self { name, ms, arg, args })
    }

    /// True when the function's output keeps no metric name.
    pub(crate) fn drops_name(&self) -> bool {
        drops_name(self.name)
    }

    /// Evaluates the scalar arguments at `ts` and checks them.
    pub(crate) fn scalars(&self, ev: &mut Evaluator<'_>, ts: i64) -> Result<Vec<f64>> {
        let mut scalars = Vec::new();
        for a in self.args {
            if !matches!(unwrap_parens(a), Expr::MatrixSelector(_)) {
                scalars.push(ev.eval_scalar(unwrap_parens(a), ts)?);
            }
        }
        check_params(ev, self.name, &scalars)?;
        Ok(scalars)
    }

    /// The window `(start, end]` the selector covers at `ts`.
    pub(crate) fn window(&self, ev: &Evaluator<'_>, ts: i64) -> (i64, i64) {
        window_of(ev, self.arg, ts)
    }

    /// The function's value over `samples` in `window` at `ts`, or `None` when the
    /// series has no output; `present` is set when the window held a sample
    /// (which is when `rate` and `increase` check the name for a counter).
    pub(crate) fn value(
        &self,
        samples: &[Sample],
        scalars: &[f64],
        window: (i64, i64),
        ts: i64,
        buf: &mut Vec<Sample>,
        present: &mut bool,
    ) -> Option<f64> {
        let lo = samples.partition_point(|p| p.t <= window.0);
        let hi = samples.partition_point(|p| p.t <= window.1);
        self.value_of(&samples[lo..hi.max(lo)], true, false, scalars, window, ts, buf, present)
    }

    /// Whether the function is `rate` or `increase`, which look for counter
    /// resets in every window (see [`value_of`](Self::value_of)'s `no_resets`).
    pub(crate) fn counts_resets(&self) -> bool {
        matches!(self.name, "rate" | "increase")
    }

    /// Like [`value`](Self::value), given the samples in the window;
    /// `may_be_stale` false promises that none of them is a staleness marker,
    /// and `no_resets` true that no sample is below the one before it (the
    /// caller counted resets over the whole series once).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn value_of<'p>(
        &self,
        mut points: &'p [Sample],
        may_be_stale: bool,
        no_resets: bool,
        scalars: &[f64],
        window: (i64, i64),
        ts: i64,
        buf: &'p mut Vec<Sample>,
        present: &mut bool,
    ) -> Option<f64> {
        if no_resets && !may_be_stale && self.counts_resets() {
            *present = !points.is_empty();
            return extrapolated_rate(points, window, false, true, self.name == "rate");
        }
        if may_be_stale && points.iter().any(|p| is_stale_nan(p.v)) {
            buf.clear();
            buf.extend(points.iter().filter(|p| !is_stale_nan(p.v)));
            points = buf;
        }
        *present = !points.is_empty();
        if points.is_empty() {
            return None;
        }
        apply(self.name, points, scalars, window, ts)
    }

    /// Adds the info `rate` and `increase` give for a series whose name does not
    /// look like a counter.
    pub(crate) fn note_series(&self, ev: &mut Evaluator<'_>, metric: &Labels) {
        if matches!(self.name, "rate" | "increase") {
            counter_info(ev, metric);
        }
    }
}

/// Evaluates the fast path at `ts`; `None` when the arguments do not have its
/// shape.
fn over_selector(ev: &mut Evaluator<'_>, name: &str, args: &[&Expr], ts: i64) -> Result<Option<Vector>> {
    let Some(f) = OverSelector::of(name, args) else {
        return Ok(None);
    };
    let scalars = f.scalars(ev, ts)?;
    let series = selector::load(ev, &f.ms.vs)?;
    let window = f.window(ev, ts);
    let mut buf = Vec::new();
    let mut out = Vec::new();
    for s in series.iter() {
        ev.check()?;
        let mut present = false;
        let v = f.value(&s.samples, &scalars, window, ts, &mut buf, &mut present);
        if present {
            f.note_series(ev, &s.metric);
        }
        if let Some(v) = v {
            out.push(sample(s.metric.clone(), ts, v, f.drops_name()));
        }
    }
    Ok(Some(out))
}

pub(crate) fn check_params(ev: &mut Evaluator<'_>, name: &str, scalars: &[f64]) -> Result<()> {
    match name {
        "quantile_over_time" => {
            let q = scalars[0];
            if !(0.0..=1.0).contains(&q) {
                ev.annotations.warn(format!("quantile value should be between 0 and 1, got {}", format_float(q)));
            }
        }
        "holt_winters" | "double_exponential_smoothing" => {
            let (sf, tf) = (scalars[0], scalars[1]);
            if sf <= 0.0 || sf >= 1.0 || sf.is_nan() {
                return eval_err(format!("invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"));
            }
            if tf <= 0.0 || tf >= 1.0 || tf.is_nan() {
                return eval_err(format!("invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}"));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Adds Prometheus's info when `rate`/`increase` reads a series whose name does not
/// look like a counter.
pub(crate) fn counter_info(ev: &mut Evaluator<'_>, metric: &Labels) {
    let Some(name) = metric.metric_name() else {
        return;
    };
    if ["_total", "_sum", "_count", "_bucket"].iter().any(|suffix| name.ends_with(suffix)) {
        return;
    }
    ev.annotations
        .info(format!("metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {name:?}"));
}

/// Computes `name` over the points of one series; `None` drops the series.
pub(crate) fn apply(name: &str, p: &[Sample], scalars: &[f64], window: (i64, i64), ts: i64) -> Option<f64> {
    let vals = || p.iter().map(|s| s.v).collect::<Vec<f64>>();
    Some(match name {
        "rate" => extrapolated_rate(p, window, true, true, true)?,
        "increase" => extrapolated_rate(p, window, true, true, false)?,
        "delta" => extrapolated_rate(p, window, false, false, false)?,
        "irate" => instant_value(p, true)?,
        "idelta" => instant_value(p, false)?,
        "deriv" if p.len() >= 2 => linear_regression(p, p[0].t).0,
        "predict_linear" if p.len() >= 2 => {
            let (slope, intercept) = linear_regression(p, ts);
            slope * scalars[0] + intercept
        }
        "holt_winters" | "double_exponential_smoothing" if p.len() >= 2 => smoothing(p, scalars[0], scalars[1]),
        "changes" => p.windows(2).filter(|w| w[0].v != w[1].v && !(w[0].v.is_nan() && w[1].v.is_nan())).count() as f64,
        "resets" => p.windows(2).filter(|w| w[1].v < w[0].v).count() as f64,
        "sum_over_time" => {
            let (s, c) = p.iter().fold((0.0, 0.0), |(s, c), x| kahan_sum_inc(x.v, s, c));
            s + c
        }
        "avg_over_time" => kahan_avg(&vals()),
        "count_over_time" => p.len() as f64,
        "min_over_time" => p[1..].iter().fold(p[0].v, |m, x| if m > x.v || m.is_nan() { x.v } else { m }),
        "max_over_time" => p[1..].iter().fold(p[0].v, |m, x| if m < x.v || m.is_nan() { x.v } else { m }),
        "last_over_time" => p[p.len() - 1].v,
        "first_over_time" => p[0].v,
        "ts_of_last_over_time" => p[p.len() - 1].t as f64 / 1000.0,
        "ts_of_first_over_time" => p[0].t as f64 / 1000.0,
        "ts_of_max_over_time" => extreme_ts(p, |cur, best| cur >= best),
        "ts_of_min_over_time" => extreme_ts(p, |cur, best| cur <= best),
        "present_over_time" => 1.0,
        "stddev_over_time" => variance(p).sqrt(),
        "stdvar_over_time" => variance(p),
        "quantile_over_time" => quantile(scalars[0], vals()),
        "mad_over_time" if p.iter().any(|s| s.v.is_nan()) => f64::NAN,
        "mad_over_time" => {
            let v = vals();
            let median = quantile(0.5, v.clone());
            quantile(0.5, v.iter().map(|x| (x - median).abs()).collect())
        }
        _ => return None,
    })
}

/// Timestamp in seconds of the sample that `better` prefers (the latest on ties);
/// NaN loses to every number.
fn extreme_ts(p: &[Sample], better: impl Fn(f64, f64) -> bool) -> f64 {
    let mut best = p[0];
    for s in &p[1..] {
        if better(s.v, best.v) || best.v.is_nan() {
            best = *s;
        }
    }
    best.t as f64 / 1000.0
}

fn variance(p: &[Sample]) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for s in p {
        count += 1.0;
        let delta = s.v - (mean + c_mean);
        (mean, c_mean) = kahan_sum_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_sum_inc(delta * (s.v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

/// Prometheus's `extrapolatedRate` for float samples in the window
/// `(start, end]`; `resets` false skips looking for counter resets (the caller
/// knows there are none), which changes nothing else.
fn extrapolated_rate(p: &[Sample], (start, end): (i64, i64), resets: bool, counter: bool, rate: bool) -> Option<f64> {
    if p.len() < 2 {
        return None;
    }
    let (first, last) = (p[0], p[p.len() - 1]);
    let mut result = last.v - first.v;
    // Checking for a reset first skips the dependent additions in the common case.
    if counter && resets && p.windows(2).any(|w| w[1].v < w[0].v) {
        for w in p.windows(2) {
            if w[1].v < w[0].v {
                result += w[0].v;
            }
        }
    }
    let mut to_start = (first.t - start) as f64 / 1000.0;
    let mut to_end = (end - last.t) as f64 / 1000.0;
    let sampled = (last.t - first.t) as f64 / 1000.0;
    let avg_step = sampled / (p.len() - 1) as f64;
    let threshold = avg_step * 1.1;
    if to_start >= threshold {
        to_start = avg_step / 2.0;
    }
    if counter {
        let mut to_zero = to_start;
        if result > 0.0 && first.v >= 0.0 {
            to_zero = sampled * (first.v / result);
        }
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg_step / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if rate {
        factor /= (end - start) as f64 / 1000.0;
    }
    Some(result * factor)
}

/// `irate` and `idelta`: from the last two samples.
fn instant_value(p: &[Sample], rate: bool) -> Option<f64> {
    if p.len() < 2 {
        return None;
    }
    let (prev, last) = (p[p.len() - 2], p[p.len() - 1]);
    let mut v = if rate && last.v < prev.v { last.v } else { last.v - prev.v };
    let interval = last.t - prev.t;
    if interval == 0 {
        return None;
    }
    if rate {
        v /= interval as f64 / 1000.0;
    }
    Some(v)
}

/// Double exponential smoothing (formerly `holt_winters`).
fn smoothing(p: &[Sample], sf: f64, tf: f64) -> f64 {
    let (mut s0, mut s1) = (0.0, p[0].v);
    let mut b = p[1].v - p[0].v;
    for (i, x) in p.iter().enumerate().skip(1) {
        let scaled = sf * x.v;
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        (s0, s1) = (s1, scaled + y);
    }
    s1
}
