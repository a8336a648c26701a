//! A range function over a subquery (`max_over_time(rate(x[5m])[30m:1m])`) over
//! all steps at once, when the subquery's inner expression is one of this
//! module's shapes: the inner expression is evaluated once over the union of the
//! inner steps the outer steps need, and each inner series then serves as the
//! "samples" of a range function whose windows slide over it, as over a range
//! selector. The per-step evaluator instead builds each step's window as a
//! matrix (a label clone per series and step) before applying the function.
//!
//! The function's arithmetic is the per-step code's ([`range::apply`]) on the
//! same points (the subquery's window at an outer step is exactly the inner
//! steps in `(end - range, end]`), and the output is ranked in the per-step
//! order (the subquery's matrix is sorted by labels).

use promql_parser::parser::{Call, Expr, SubqueryExpr};
use wk_model::Sample;

use super::{StepMatrix, StepSeries, seek};
use crate::Result;
use crate::eval::functions::{range, unwrap_parens};
use crate::eval::{Evaluator, subquery};

/// Most inner steps this path evaluates at once; beyond it the per-step path
/// (with its chunked subquery) applies.
const MAX_INNER_STEPS: usize = 1 << 16;

/// Evaluates `c` at `steps` when it is a range function over a subquery whose
/// inner expression this module evaluates over whole ranges; `None` otherwise,
/// and when a scalar argument or the inner expression fails (the per-step
/// evaluator then reports the error in its own order).
pub(super) fn eval(ev: &mut Evaluator<'_>, c: &Call, steps: &[i64], result: bool) -> Result<Option<StepMatrix>> {
    let name = c.func.name;
    if !range::is_range_fn(name) || name == "absent_over_time" {
        return Ok(None);
    }
    let args: Vec<&Expr> = c.args.args.iter().map(|a| a.as_ref()).collect();
    let Some(sq) = args.iter().find_map(|a| match unwrap_parens(a) {
        Expr::Subquery(sq) => Some(sq),
        _ => None,
    }) else {
        return Ok(None);
    };
    let before = ev.annotations.clone();
    let got = compute(ev, name, &args, sq, steps, result);
    if !matches!(got, Ok(Some(_))) {
        ev.annotations = before;
    }
    match got {
        Err(crate::PromqlError::TooManySamples | crate::PromqlError::Canceled | crate::PromqlError::Timeout) => got,
        Err(_) => Ok(None),
        ok => ok,
    }
}

fn compute(
    ev: &mut Evaluator<'_>,
    name: &str,
    args: &[&Expr],
    sq: &SubqueryExpr,
    steps: &[i64],
    result: bool,
) -> Result<Option<StepMatrix>> {
    let mut scalars = Vec::with_capacity(steps.len());
    for &ts in steps {
        let mut s = Vec::new();
        for a in args {
            if !matches!(unwrap_parens(a), Expr::Subquery(_)) {
                s.push(ev.eval_scalar(unwrap_parens(a), ts)?);
            }
        }
        range::check_params(ev, name, &s)?;
        scalars.push(s);
    }
    let Some((inner_steps, _)) = subquery::union_steps(ev, sq, steps, MAX_INNER_STEPS) else {
        return Ok(None);
    };
    let Some(inner) = super::eval(ev, &sq.expr, &inner_steps, false)? else {
        return Ok(None);
    };
    let inner = inner.0;
    // The per-step matrix is sorted by labels; equal labels (with different
    // name-drop flags) would keep an order this path does not track.
    let mut by_labels: Vec<usize> = (0..inner.len()).collect();
    by_labels.sort_by(|&a, &b| inner[a].metric.cmp(&inner[b].metric));
    if by_labels.windows(2).any(|w| inner[w[0]].metric == inner[w[1]].metric) {
        return Ok(None);
    }
    let mut rank = vec![0u64; inner.len()];
    for (pos, &i) in by_labels.iter().enumerate() {
        rank[i] = pos as u64;
    }
    let held: usize = inner.iter().map(|s| s.points.len()).sum();
    ev.add_samples(held)?;
    let windows: Vec<(i64, i64)> = steps.iter().map(|&ts| subquery::range_window(ev, sq, ts)).collect();
    let drops = range::drops_name(name);
    let counter = matches!(name, "rate" | "increase");
    let mut per_step = vec![0usize; if result { steps.len() } else { 0 }];
    let mut out = Vec::new();
    for (i, s) in inner.into_iter().enumerate() {
        ev.check()?;
        let (mut lo, mut hi) = (0, 0);
        let mut noted = false;
        let mut points = Vec::new();
        for (k, &ts) in steps.iter().enumerate() {
            let window = windows[k];
            lo = seek(&s.points, lo, window.0);
            hi = seek(&s.points, hi, window.1).max(lo);
            let p = &s.points[lo..hi];
            if p.is_empty() {
                continue;
            }
            if counter && !noted {
                noted = true;
                range::counter_info(ev, &s.metric);
            }
            if let Some(v) = range::apply(name, p, &scalars[k], window, ts) {
                points.push(Sample::new(ts, v));
                if result {
                    per_step[k] += 1;
                }
            }
        }
        if !points.is_empty() {
            let order = vec![rank[i]; points.len()];
            out.push(StepSeries { metric: s.metric, drop_name: s.drop_name || drops, points, order });
        }
    }
    for n in per_step {
        ev.add_samples(n)?;
    }
    Ok(Some(StepMatrix(out)))
}
