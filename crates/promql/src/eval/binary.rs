//! Binary operators: arithmetic, comparisons (filtering or `bool`), `atan2`, and the
//! set operators `and`, `or`, `unless`, with `on`/`ignoring` matching and
//! `group_left`/`group_right`, following Prometheus 3's `VectorBinop`.

use std::collections::{HashMap, HashSet};

use promql_parser::parser::{BinModifier, BinaryExpr, LabelModifier, VectorMatchCardinality};
use wk_model::{Labels, LabelsBuilder, METRIC_NAME};

use super::{Evaluator, NAME_LABELS, StepValue};
use crate::error::eval_err;
use crate::{InstantSample, Result, Vector};

/// Applies `op` to two floats; returns the value and whether a comparison holds
/// (always true for arithmetic).
pub(crate) fn apply(op: &str, l: f64, r: f64) -> (f64, bool) {
    match op {
        "+" => (l + r, true),
        "-" => (l - r, true),
        "*" => (l * r, true),
        "/" => (l / r, true),
        "%" => (l % r, true),
        "^" => (l.powf(r), true),
        "atan2" => (l.atan2(r), true),
        "==" => (l, l == r),
        "!=" => (l, l != r),
        ">" => (l, l > r),
        "<" => (l, l < r),
        ">=" => (l, l >= r),
        "<=" => (l, l <= r),
        _ => (f64::NAN, false),
    }
}

fn is_comparison(op: &str) -> bool {
    matches!(op, "==" | "!=" | ">" | "<" | ">=" | "<=")
}

/// Evaluates a binary expression at `ts`.
pub(crate) fn eval(ev: &mut Evaluator<'_>, b: &BinaryExpr, ts: i64) -> Result<StepValue> {
    let op = b.op.to_string();
    let modifier = b.modifier.clone().unwrap_or_default();
    if modifier.fill_values.lhs.is_some() || modifier.fill_values.rhs.is_some() {
        return eval_err("unsupported: fill modifiers are not implemented yet");
    }
    let return_bool = modifier.return_bool;
    let lhs = ev.eval(&b.lhs, ts)?;
    let rhs = ev.eval(&b.rhs, ts)?;
    match (lhs, rhs) {
        (StepValue::Scalar(l), StepValue::Scalar(r)) => {
            let (v, keep) = apply(&op, l, r);
            Ok(StepValue::Scalar(if is_comparison(&op) {
                if keep { 1.0 } else { 0.0 }
            } else {
                v
            }))
        }
        (StepValue::Vector(l), StepValue::Scalar(r)) => Ok(StepValue::Vector(vector_scalar(
            &op,
            l,
            r,
            false,
            return_bool,
            ts,
        ))),
        (StepValue::Scalar(l), StepValue::Vector(r)) => Ok(StepValue::Vector(vector_scalar(
            &op,
            r,
            l,
            true,
            return_bool,
            ts,
        ))),
        (StepValue::Vector(l), StepValue::Vector(r)) => {
            let out = match op.as_str() {
                "and" | "or" | "unless" => set_op(&op, l, r, &modifier.matching),
                _ => vector_vector(ev, &op, l, r, &modifier, ts)?,
            };
            Ok(StepValue::Vector(out))
        }
        _ => eval_err(format!("invalid operand types for binary operator {op}")),
    }
}

fn vector_scalar(op: &str, vec: Vector, s: f64, swap: bool, return_bool: bool, ts: i64) -> Vector {
    let drop = !is_comparison(op) || return_bool;
    let mut out = Vec::with_capacity(vec.len());
    for mut sample in vec {
        let (l, r) = if swap { (s, sample.f) } else { (sample.f, s) };
        let (mut v, mut keep) = apply(op, l, r);
        if is_comparison(op) && swap {
            v = r;
        }
        if return_bool {
            v = if keep { 1.0 } else { 0.0 };
            keep = true;
        }
        if keep {
            sample.f = v;
            sample.t = ts;
            sample.drop_name |= drop;
            out.push(sample);
        }
    }
    out
}

/// Returns the labels `metric` is matched on.
pub(crate) fn signature(metric: &Labels, matching: &Option<LabelModifier>) -> Labels {
    match matching {
        Some(LabelModifier::Include(on)) => Labels::from_sorted(
            metric
                .iter()
                .filter(|(n, _)| on.labels.iter().any(|l| l == n)),
        ),
        Some(LabelModifier::Exclude(ign)) => Labels::from_sorted(
            metric
                .iter()
                .filter(|(n, _)| *n != METRIC_NAME && !ign.labels.iter().any(|l| l == n)),
        ),
        None => Labels::from_sorted(metric.iter().filter(|(n, _)| *n != METRIC_NAME)),
    }
}

fn set_op(op: &str, lhs: Vector, rhs: Vector, matching: &Option<LabelModifier>) -> Vector {
    match op {
        "and" => {
            let right: HashSet<Labels> =
                rhs.iter().map(|s| signature(&s.metric, matching)).collect();
            lhs.into_iter()
                .filter(|s| right.contains(&signature(&s.metric, matching)))
                .collect()
        }
        "unless" => {
            let right: HashSet<Labels> =
                rhs.iter().map(|s| signature(&s.metric, matching)).collect();
            lhs.into_iter()
                .filter(|s| !right.contains(&signature(&s.metric, matching)))
                .collect()
        }
        _ => {
            let left: HashSet<Labels> =
                lhs.iter().map(|s| signature(&s.metric, matching)).collect();
            let mut out = lhs;
            out.extend(
                rhs.into_iter()
                    .filter(|s| !left.contains(&signature(&s.metric, matching))),
            );
            out
        }
    }
}

fn vector_vector(
    ev: &mut Evaluator<'_>,
    op: &str,
    lhs: Vector,
    rhs: Vector,
    modifier: &BinModifier,
    ts: i64,
) -> Result<Vector> {
    let matching = &modifier.matching;
    let card = &modifier.card;
    let one_to_many = matches!(card, VectorMatchCardinality::OneToMany(_));
    let (lhs, rhs) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
    if lhs.is_empty() || rhs.is_empty() {
        return Ok(Vec::new());
    }
    let mut right: HashMap<Labels, usize> = HashMap::with_capacity(rhs.len());
    for (i, rs) in rhs.iter().enumerate() {
        let sig = signature(&rs.metric, matching);
        if let Some(&j) = right.get(&sig) {
            let side = if one_to_many { "left" } else { "right" };
            let (mut a, mut b) = (&rs.metric, &rhs[j].metric);
            if a > b {
                std::mem::swap(&mut a, &mut b);
            }
            return eval_err(format!(
                "found duplicate series for the match group {sig} on the {side} hand-side of the operation: [{a}, {b}];many-to-many matching not allowed: matching labels must be unique on one side"
            ));
        }
        right.insert(sig, i);
    }
    let include: Vec<String> = match card {
        VectorMatchCardinality::ManyToOne(l) | VectorMatchCardinality::OneToMany(l) => {
            l.labels.clone()
        }
        _ => Vec::new(),
    };
    let one_to_one = matches!(card, VectorMatchCardinality::OneToOne);
    let mut matched: HashMap<Labels, HashSet<Labels>> = HashMap::new();
    let mut out = Vec::new();
    for ls in &lhs {
        ev.check()?;
        let sig = signature(&ls.metric, matching);
        let Some(&ri) = right.get(&sig) else { continue };
        let rs = &rhs[ri];
        if one_to_one && matched.insert(sig.clone(), HashSet::new()).is_some() {
            // Checked before filtering, so a comparison cannot hide the ambiguity.
            return eval_err(
                "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
            );
        }
        let (fl, fr) = if one_to_many {
            (rs.f, ls.f)
        } else {
            (ls.f, rs.f)
        };
        let (mut v, keep) = apply(op, fl, fr);
        if modifier.return_bool {
            v = if keep { 1.0 } else { 0.0 };
        } else if !keep {
            continue;
        }
        let metric = result_metric(
            &ls.metric,
            &rs.metric,
            matching,
            !is_comparison(op),
            one_to_one,
            &include,
        );
        if !one_to_one && !matched.entry(sig).or_default().insert(metric.clone()) {
            return eval_err(
                "multiple matches for labels: grouping labels must ensure unique matches",
            );
        }
        out.push(InstantSample {
            metric,
            t: ts,
            f: v,
            drop_name: modifier.return_bool || (is_comparison(op) && ls.drop_name),
        });
    }
    Ok(out)
}

/// Builds the labels of a result element, as Prometheus's `resultMetric`:
/// arithmetic drops the name, one-to-one matching keeps only (or drops) the
/// matching labels, and `group_x(...)` labels come from the "one" side.
fn result_metric(
    lhs: &Labels,
    rhs: &Labels,
    matching: &Option<LabelModifier>,
    drop_name: bool,
    one_to_one: bool,
    include: &[String],
) -> Labels {
    if !drop_name && one_to_one && matching.is_none() && include.is_empty() {
        return lhs.clone();
    }
    let mut b = LabelsBuilder::from_labels(lhs);
    if drop_name {
        for l in NAME_LABELS {
            b.del(l);
        }
    }
    if one_to_one {
        match matching {
            Some(LabelModifier::Include(on)) => {
                for (n, _) in lhs.iter() {
                    if !on.labels.iter().any(|l| l == n) {
                        b.del(n);
                    }
                }
            }
            Some(LabelModifier::Exclude(ign)) => {
                for l in &ign.labels {
                    b.del(l);
                }
            }
            None => {}
        }
    }
    for l in include {
        match rhs.get(l) {
            Some(v) => b.set(l, v),
            None => b.del(l),
        };
    }
    b.build().unwrap_or_else(|_| lhs.clone())
}
