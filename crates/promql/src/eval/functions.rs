//! Function calls: the dispatch by name, and the functions that need the
//! evaluator itself (`time`, `vector`, `scalar`, `absent`, `timestamp`, sorting).
//! The rest live by concern in `functions/`.

mod histogram;
mod info;
mod instant;
mod label;
pub(crate) mod range;
pub(crate) mod stats;

use promql_parser::parser::{Call, Expr};
use wk_model::{Labels, LabelsBuilder, METRIC_NAME};

use super::{Evaluator, StepValue, check_duplicates};
use crate::error::eval_err;
use crate::{InstantSample, Result, Vector};

/// Returns `e` without enclosing parentheses.
pub(crate) fn unwrap_parens(mut e: &Expr) -> &Expr {
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    e
}

/// Evaluates a function call at `ts`.
pub(crate) fn call(ev: &mut Evaluator<'_>, c: &Call, ts: i64) -> Result<StepValue> {
    let name = c.func.name;
    let args: Vec<&Expr> = c.args.args.iter().map(|a| a.as_ref()).collect();
    if let Some(v) = range::call(ev, name, &args, ts)? {
        return Ok(v);
    }
    if let Some(v) = instant::call(ev, name, &args, ts)? {
        return Ok(v);
    }
    let out = match name {
        "time" => return Ok(StepValue::Scalar(ts as f64 / 1000.0)),
        "pi" => return Ok(StepValue::Scalar(std::f64::consts::PI)),
        "step" => return Ok(StepValue::Scalar(ev.step as f64 / 1000.0)),
        "range" => return Ok(StepValue::Scalar((ev.end - ev.start) as f64 / 1000.0)),
        "start" => return Ok(StepValue::Scalar(ev.start as f64 / 1000.0)),
        "end" => return Ok(StepValue::Scalar(ev.end as f64 / 1000.0)),
        "min_of" | "max_of" => {
            let a = ev.eval_scalar(args[0], ts)?;
            let b = ev.eval_scalar(args[1], ts)?;
            let v = if name == "min_of" { stats::go_min(a, b) } else { stats::go_max(a, b) };
            return Ok(StepValue::Scalar(v));
        }
        "vector" => {
            let v = ev.eval_scalar(args[0], ts)?;
            vec![sample(Labels::empty(), ts, v, false)]
        }
        "scalar" => {
            let vec = ev.eval_vector(args[0], ts)?;
            let v = if vec.len() == 1 { vec[0].f } else { f64::NAN };
            return Ok(StepValue::Scalar(v));
        }
        "absent" => {
            let vec = ev.eval_vector(args[0], ts)?;
            if vec.is_empty() { vec![sample(absent_labels(args[0]), ts, 1.0, false)] } else { Vec::new() }
        }
        "timestamp" => {
            let raw = matches!(unwrap_parens(args[0]), Expr::VectorSelector(_));
            let mut vec = ev.eval_vector(args[0], ts)?;
            for s in &mut vec {
                s.f = if raw { s.t } else { ts } as f64 / 1000.0;
                s.t = ts;
                s.drop_name = true;
            }
            vec
        }
        "sort" | "sort_desc" => {
            sort_warning(ev);
            let mut vec = ev.eval_vector(args[0], ts)?;
            let desc = name == "sort_desc";
            vec.sort_by(|a, b| cmp_values(a.f, b.f, desc));
            vec
        }
        "sort_by_label" | "sort_by_label_desc" => {
            sort_warning(ev);
            let mut vec = ev.eval_vector(args[0], ts)?;
            let mut names = Vec::new();
            for a in &args[1..] {
                match ev.eval(a, ts)? {
                    StepValue::String(s) => names.push(s),
                    _ => return eval_err("sort_by_label expects label names"),
                }
            }
            label::sort_by_label(&mut vec, &names, name == "sort_by_label_desc");
            vec
        }
        "label_replace" => {
            let out = label::label_replace(ev, &args, ts)?;
            check_duplicates(&out)?;
            out
        }
        "label_join" => {
            let out = label::label_join(ev, &args, ts)?;
            check_duplicates(&out)?;
            out
        }
        "histogram_quantile" => histogram::histogram_quantile(ev, &args, ts)?,
        "info" => info::info(ev, &args, ts)?,
        "histogram_quantiles" => histogram::histogram_quantiles(ev, &args, ts)?,
        "histogram_fraction" => histogram::histogram_fraction(ev, &args, ts)?,
        "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev" | "histogram_stdvar" => {
            // These read native histograms only; float samples give no output.
            for a in &args {
                ev.eval(a, ts)?;
            }
            Vec::new()
        }
        other => {
            return eval_err(format!("unsupported: function {other}() is not implemented"));
        }
    };
    Ok(StepValue::Vector(out))
}

fn sort_warning(ev: &mut Evaluator<'_>) {
    if ev.step != 0 {
        ev.annotations.warn("sort is ineffective for range queries since results are always ordered by labels");
    }
}

/// Orders floats for `sort` (ascending) and `sort_desc`, with NaN last in both.
fn cmp_values(a: f64, b: f64, desc: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Equal,
        (true, false) => Greater,
        (false, true) => Less,
        _ if desc => b.partial_cmp(&a).unwrap_or(Equal),
        _ => a.partial_cmp(&b).unwrap_or(Equal),
    }
}

/// Builds one output element.
pub(crate) fn sample(metric: Labels, t: i64, f: f64, drop_name: bool) -> InstantSample {
    InstantSample { metric, t, f, drop_name }
}

/// The labels `absent(x{...})` reports: the equality matchers of a selector
/// (a label matched more than once is left out), without the metric name.
pub(crate) fn absent_labels(arg: &Expr) -> Labels {
    let vs = match arg {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Labels::empty(),
    };
    let mut b = LabelsBuilder::new();
    let mut has = std::collections::HashSet::new();
    for m in &vs.matchers.matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        if matches!(m.op, promql_parser::label::MatchOp::Equal) && has.insert(m.name.clone()) {
            b.set(&m.name, &m.value);
        } else {
            b.del(&m.name);
        }
    }
    b.build().unwrap_or_else(|_| Labels::empty())
}

/// Applies `f` to every element of an instant vector argument, dropping the name.
pub(crate) fn map_vector(vec: Vector, ts: i64, f: impl Fn(f64) -> f64) -> Vector {
    vec.into_iter().map(|s| sample(s.metric, ts, f(s.f), true)).collect()
}
