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
    let return_bool = modifier.return_bool;
    let lhs = ev.eval(&b.lhs, ts)?;
    let rhs = ev.eval(&b.rhs, ts)?;
    match (lhs, rhs) {
        (StepValue::Scalar(l), StepValue::Scalar(r)) => {
            let (v, keep) = apply(&op, l, r);
            Ok(StepValue::Scalar(if is_comparison(&op) { if keep { 1.0 } else { 0.0 } } else { v }))
        }
        (StepValue::Vector(l), StepValue::Scalar(r)) => {
            Ok(StepValue::Vector(vector_scalar(&op, l, r, false, return_bool, ts)))
        }
        (StepValue::Scalar(l), StepValue::Vector(r)) => {
            Ok(StepValue::Vector(vector_scalar(&op, r, l, true, return_bool, ts)))
        }
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
    let drop = scalar_drops_name(op, return_bool);
    let mut out = Vec::with_capacity(vec.len());
    for mut sample in vec {
        if let Some(v) = scalar_value(op, sample.f, s, swap, return_bool) {
            sample.f = v;
            sample.t = ts;
            sample.drop_name |= drop;
            out.push(sample);
        }
    }
    out
}

/// True when a vector-to-scalar operation drops the metric name of its result
/// (arithmetic, and comparisons with `bool`).
pub(crate) fn scalar_drops_name(op: &str, return_bool: bool) -> bool {
    !is_comparison(op) || return_bool
}

/// The value a vector sample `f` takes in a vector-to-scalar operation with the
/// scalar `s` (on the left with `swap`), or `None` when a comparison filters the
/// sample out.
pub(crate) fn scalar_value(op: &str, f: f64, s: f64, swap: bool, return_bool: bool) -> Option<f64> {
    let (l, r) = if swap { (s, f) } else { (f, s) };
    let (mut v, keep) = apply(op, l, r);
    if is_comparison(op) && swap {
        v = r;
    }
    if return_bool {
        return Some(if keep { 1.0 } else { 0.0 });
    }
    keep.then_some(v)
}

/// Returns the labels `metric` is matched on.
pub(crate) fn signature(metric: &Labels, matching: &Option<LabelModifier>) -> Labels {
    match matching {
        Some(LabelModifier::Include(on)) => {
            Labels::from_sorted(metric.iter().filter(|(n, _)| on.labels.iter().any(|l| l == n)))
        }
        Some(LabelModifier::Exclude(ign)) => {
            Labels::from_sorted(metric.iter().filter(|(n, _)| *n != METRIC_NAME && !ign.labels.iter().any(|l| l == n)))
        }
        None => Labels::from_sorted(metric.iter().filter(|(n, _)| *n != METRIC_NAME)),
    }
}

fn set_op(op: &str, lhs: Vector, rhs: Vector, matching: &Option<LabelModifier>) -> Vector {
    match op {
        "and" => {
            let right: HashSet<Labels> = rhs.iter().map(|s| signature(&s.metric, matching)).collect();
            lhs.into_iter().filter(|s| right.contains(&signature(&s.metric, matching))).collect()
        }
        "unless" => {
            let right: HashSet<Labels> = rhs.iter().map(|s| signature(&s.metric, matching)).collect();
            lhs.into_iter().filter(|s| !right.contains(&signature(&s.metric, matching))).collect()
        }
        _ => {
            let left: HashSet<Labels> = lhs.iter().map(|s| signature(&s.metric, matching)).collect();
            let mut out = lhs;
            out.extend(rhs.into_iter().filter(|s| !left.contains(&signature(&s.metric, matching))));
            out
        }
    }
}

/// Vector-to-vector arithmetic and comparison. With `group_right` the sides are
/// swapped first, so "left" below means the "many" side; `fill_left`/`fill_right`
/// values stand in for a missing sample of that (swapped) side, as in Prometheus.
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
    let fill = &modifier.fill_values;
    let one_to_many = matches!(card, VectorMatchCardinality::OneToMany(_));
    let (lhs, rhs) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
    if (lhs.is_empty() && fill.lhs.is_none()) || (rhs.is_empty() && fill.rhs.is_none()) {
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
    let ctx = Pairing::new(op, modifier, ts);
    let mut matched: HashMap<Labels, HashSet<Labels>> = HashMap::new();
    let mut rhs_used = vec![false; rhs.len()];
    let mut out = Vec::new();
    for ls in &lhs {
        ev.check()?;
        let sig = signature(&ls.metric, matching);
        let rs = match right.get(&sig) {
            Some(&ri) => {
                rhs_used[ri] = true;
                if ctx.one_to_one && matched.insert(sig.clone(), HashSet::new()).is_some() {
                    // Checked before filtering, so a comparison cannot hide the ambiguity.
                    return eval_err(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                    );
                }
                (rhs[ri].metric.clone(), rhs[ri].f)
            }
            None => match fill.rhs {
                Some(f) => (Labels::empty(), f),
                None => continue,
            },
        };
        let Some(sample) = ctx.pair((&ls.metric, ls.f, ls.drop_name), (&rs.0, rs.1)) else {
            continue;
        };
        if !ctx.one_to_one && !matched.entry(sig).or_default().insert(sample.metric.clone()) {
            return eval_err("multiple matches for labels: grouping labels must ensure unique matches");
        }
        out.push(sample);
    }
    if let Some(fl) = fill.lhs {
        for (rs, _) in rhs.iter().zip(&rhs_used).filter(|(_, used)| !**used) {
            let group = signature(&rs.metric, matching);
            if let Some(sample) = ctx.pair((&group, fl, false), (&rs.metric, rs.f)) {
                out.push(sample);
            }
        }
    }
    Ok(out)
}

/// What one vector-to-vector operation needs to combine a pair of samples.
#[derive(Debug)]
pub(crate) struct Pairing<'a> {
    op: &'a str,
    matching: &'a Option<LabelModifier>,
    pub(crate) one_to_one: bool,
    /// `group_right`: the sides are swapped, so "left" is the right operand.
    pub(crate) one_to_many: bool,
    return_bool: bool,
    include: Vec<String>,
    ts: i64,
}

impl<'a> Pairing<'a> {
    /// The pairing of operator `op` with `modifier`, for step time `ts`.
    pub(crate) fn new(op: &'a str, modifier: &'a BinModifier, ts: i64) -> Self {
        let card = &modifier.card;
        Pairing {
            op,
            matching: &modifier.matching,
            one_to_one: matches!(card, VectorMatchCardinality::OneToOne),
            one_to_many: matches!(card, VectorMatchCardinality::OneToMany(_)),
            return_bool: modifier.return_bool,
            include: match card {
                VectorMatchCardinality::ManyToOne(l) | VectorMatchCardinality::OneToMany(l) => l.labels.clone(),
                _ => Vec::new(),
            },
            ts,
        }
    }

    /// Combines a (many-side) left sample with a right sample; `None` when a
    /// comparison filters the pair out.
    fn pair(&self, (lm, lf, ldrop): (&Labels, f64, bool), (rm, rf): (&Labels, f64)) -> Option<InstantSample> {
        let v = self.value(lf, rf)?;
        Some(InstantSample { metric: self.metric(lm, rm), t: self.ts, f: v, drop_name: self.drops_name(ldrop) })
    }

    /// The value of a (many-side) left value with a right one; `None` when a
    /// comparison filters the pair out.
    pub(crate) fn value(&self, lf: f64, rf: f64) -> Option<f64> {
        let (fl, fr) = if self.one_to_many { (rf, lf) } else { (lf, rf) };
        let (v, keep) = apply(self.op, fl, fr);
        if self.return_bool {
            return Some(if keep { 1.0 } else { 0.0 });
        }
        keep.then_some(v)
    }

    /// The labels of the result of a (many-side) left series with a right one.
    pub(crate) fn metric(&self, lm: &Labels, rm: &Labels) -> Labels {
        result_metric(lm, rm, self.matching, !is_comparison(self.op), self.one_to_one, &self.include)
    }

    /// Whether the result's name is dropped, given the left sample's flag.
    pub(crate) fn drops_name(&self, ldrop: bool) -> bool {
        self.return_bool || (is_comparison(self.op) && ldrop)
    }
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
