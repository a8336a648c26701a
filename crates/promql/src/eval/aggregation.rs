//! Aggregation operators (`sum`, `avg`, `topk`, `quantile`, ... with `by` or
//! `without`), following Prometheus 3's `aggregation.go`: Kahan summation for `sum`
//! and `avg` (switching to an incremental mean before the sum overflows), Welford
//! for `stddev`/`stdvar`, and NaN ordered below every number in `topk`/`bottomk`.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use promql_parser::parser::{AggregateExpr, LabelModifier};
use wk_model::{Labels, LabelsBuilder, METRIC_NAME};

use super::{Evaluator, StepValue};
use crate::error::eval_err;
use crate::eval::functions::stats::{kahan_sum_inc, quantile};
use crate::value::format_float;
use crate::{InstantSample, Result, Vector};

/// Running state of one group.
#[derive(Debug, Clone, Default)]
struct Group {
    labels: Labels,
    members: Vec<usize>,
}

/// Returns the label set that identifies the group of `metric`.
pub(crate) fn group_labels(metric: &Labels, modifier: &Option<LabelModifier>) -> Labels {
    Labels::from_sorted(metric.iter().filter(|(n, _)| in_group(n, modifier)))
}

/// Evaluates an aggregation at `ts`.
pub(crate) fn eval(ev: &mut Evaluator<'_>, a: &AggregateExpr, ts: i64) -> Result<StepValue> {
    let op = a.op.to_string();
    let param = match &a.param {
        Some(p) => Some(ev.eval(p, ts)?),
        None => None,
    };
    let input = ev.eval_vector(&a.expr, ts)?;
    let out = match op.as_str() {
        "topk" | "bottomk" | "limitk" => {
            let k = param_int(param)?;
            select_k(&op, k, input, &a.modifier)
        }
        "limit_ratio" => {
            let ratio = ratio_param(ev, param)?;
            limit_ratio(ratio, input)
        }
        "count_values" => count_values(param, input, &a.modifier, ts)?,
        "quantile" => {
            let q = scalar_param(param)?;
            if !(0.0..=1.0).contains(&q) {
                ev.annotations.warn(format!("quantile value should be between 0 and 1, got {}", format_float(q)));
            }
            grouped(ev, &op, input, &a.modifier, ts, Some(q))?
        }
        _ => grouped(ev, &op, input, &a.modifier, ts, None)?,
    };
    Ok(StepValue::Vector(out))
}

pub(crate) fn scalar_param(p: Option<StepValue>) -> Result<f64> {
    match p {
        Some(StepValue::Scalar(v)) => Ok(v),
        _ => eval_err("expected scalar parameter"),
    }
}

pub(crate) fn param_int(p: Option<StepValue>) -> Result<i64> {
    let k = scalar_param(p)?;
    if k.is_nan() {
        return eval_err("Parameter value is NaN");
    }
    if k >= 9.223_372_036_854_776e18 || k <= -9.223_372_036_854_776e18 {
        return eval_err(format!("Scalar value {} overflows int64", format_float(k)));
    }
    Ok(k as i64)
}

pub(crate) fn ratio_param(ev: &mut Evaluator<'_>, p: Option<StepValue>) -> Result<f64> {
    let r = scalar_param(p)?;
    if r.is_nan() {
        return eval_err("Ratio value is NaN");
    }
    let capped = r.clamp(-1.0, 1.0);
    if capped != r {
        ev.annotations.warn(format!(
            "ratio value should be between -1 and 1, got {}, capping to {}",
            format_float(r),
            format_float(capped)
        ));
    }
    Ok(capped)
}

/// Groups `input` by its grouping labels, keeping first-appearance order. Keys
/// are hashed from the label pairs in place; a label set is built once per group.
fn groups_of(input: &Vector, modifier: &Option<LabelModifier>) -> Vec<Group> {
    let mut index: HashMap<u64, Vec<usize>> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    for (i, s) in input.iter().enumerate() {
        let pairs = || s.metric.iter().filter(|(n, _)| in_group(n, modifier));
        let mut h = std::hash::DefaultHasher::new();
        for (n, v) in pairs() {
            (n, v).hash(&mut h);
        }
        let slot = index.entry(h.finish()).or_default();
        let g = match slot.iter().copied().find(|&g| groups[g].labels.iter().eq(pairs())) {
            Some(g) => g,
            None => {
                groups.push(Group { labels: Labels::from_sorted(pairs()), ..Group::default() });
                slot.push(groups.len() - 1);
                groups.len() - 1
            }
        };
        groups[g].members.push(i);
    }
    groups
}

/// Returns true when label `name` is part of the grouping key.
pub(crate) fn in_group(name: &str, modifier: &Option<LabelModifier>) -> bool {
    match modifier {
        None => false,
        Some(LabelModifier::Include(by)) => by.labels.iter().any(|b| b == name),
        Some(LabelModifier::Exclude(without)) => name != METRIC_NAME && !without.labels.iter().any(|w| w == name),
    }
}

fn grouped(
    ev: &mut Evaluator<'_>,
    op: &str,
    input: Vector,
    modifier: &Option<LabelModifier>,
    ts: i64,
    q: Option<f64>,
) -> Result<Vector> {
    let mut out = Vec::new();
    for g in groups_of(&input, modifier) {
        ev.check()?;
        let vals: Vec<f64> = g.members.iter().map(|&i| input[i].f).collect();
        let f = reduce(op, &vals, q)?;
        // Grouping by a not yet dropped name keeps the promise to drop it.
        let drop_name = g.labels.metric_name().is_some() && g.members.iter().any(|&i| input[i].drop_name);
        out.push(InstantSample { metric: g.labels, t: ts, f, drop_name });
    }
    Ok(out)
}

/// Returns true when `op` folds each group into one value with [`reduce`].
pub(crate) fn is_reducing(op: &str) -> bool {
    matches!(op, "sum" | "avg" | "count" | "group" | "min" | "max" | "stddev" | "stdvar" | "quantile")
}

/// Folds the values of one group (non-empty, in input order) with `op`; `q` is
/// the parameter of `quantile`.
pub(crate) fn reduce(op: &str, vals: &[f64], q: Option<f64>) -> Result<f64> {
    if op == "quantile" {
        return Ok(quantile(q.unwrap_or(f64::NAN), vals.to_vec()));
    }
    let Some(op) = FoldOp::of(op) else {
        return eval_err(format!("unsupported aggregation {op:?}"));
    };
    let mut fold = Fold::default();
    for &v in vals {
        fold.push(op, v);
    }
    Ok(fold.finish(op))
}

/// The aggregations that fold values one at a time, in input order, without
/// holding them: every reducing one but `quantile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FoldOp {
    Sum,
    Avg,
    Count,
    Group,
    Min,
    Max,
    Stddev,
    Stdvar,
}

impl FoldOp {
    /// The fold of aggregation `op`, if it is one.
    pub(crate) fn of(op: &str) -> Option<Self> {
        Some(match op {
            "sum" => Self::Sum,
            "avg" => Self::Avg,
            "count" => Self::Count,
            "group" => Self::Group,
            "min" => Self::Min,
            "max" => Self::Max,
            "stddev" => Self::Stddev,
            "stdvar" => Self::Stdvar,
            _ => return None,
        })
    }
}

/// The running state of one group's fold, as Prometheus's `aggregation.go`
/// computes it: Kahan summation for `sum` and `avg` (switching to an incremental
/// mean before the sum overflows), Welford for `stddev`/`stdvar` (NaN once a
/// value is not finite), NaN replaced by any number for `min`/`max`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Fold {
    count: f64,
    /// Sum (`sum`, `avg`), extreme (`min`, `max`) or sum of squares (`stddev`).
    value: f64,
    kahan_c: f64,
    mean: f64,
    incremental: bool,
    non_finite: bool,
}

impl Fold {
    /// True before the first value.
    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0.0
    }

    /// Adds the next value of the group.
    pub(crate) fn push(&mut self, op: FoldOp, v: f64) {
        let first = self.count == 0.0;
        self.count += 1.0;
        match op {
            FoldOp::Sum => (self.value, self.kahan_c) = kahan_sum_inc(v, self.value, self.kahan_c),
            FoldOp::Count | FoldOp::Group => {}
            FoldOp::Min if first || self.value > v || self.value.is_nan() => self.value = v,
            FoldOp::Max if first || self.value < v || self.value.is_nan() => self.value = v,
            FoldOp::Min | FoldOp::Max => {}
            FoldOp::Avg if first => self.value = v,
            FoldOp::Avg => self.push_avg(v),
            FoldOp::Stddev | FoldOp::Stdvar => {
                self.non_finite |= !v.is_finite();
                if first {
                    self.mean = v;
                } else {
                    let delta = v - self.mean;
                    self.mean += delta / self.count;
                    self.value += delta * (v - self.mean);
                }
            }
        }
    }

    fn push_avg(&mut self, f: f64) {
        let count = self.count;
        if !self.incremental {
            let (ns, nc) = kahan_sum_inc(f, self.value, self.kahan_c);
            if !ns.is_infinite() {
                (self.value, self.kahan_c) = (ns, nc);
                return;
            }
            self.incremental = true;
            self.mean = self.value / (count - 1.0);
            self.kahan_c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (self.mean, self.kahan_c) = kahan_sum_inc(f / count, q * self.mean, q * self.kahan_c);
    }

    /// The group's result (the fold must have had a value).
    pub(crate) fn finish(&self, op: FoldOp) -> f64 {
        match op {
            FoldOp::Sum => self.value + self.kahan_c,
            FoldOp::Count => self.count,
            FoldOp::Group => 1.0,
            FoldOp::Min | FoldOp::Max => self.value,
            FoldOp::Avg if self.incremental => self.mean + self.kahan_c,
            FoldOp::Avg => self.value / self.count + self.kahan_c / self.count,
            FoldOp::Stddev | FoldOp::Stdvar if self.non_finite => f64::NAN,
            FoldOp::Stddev => (self.value / self.count).sqrt(),
            FoldOp::Stdvar => self.value / self.count,
        }
    }
}

/// `a` ranks above `b` for `topk` (NaN below every number).
fn above(a: f64, b: f64) -> bool {
    !a.is_nan() && (b.is_nan() || a > b)
}

fn select_k(op: &str, k: i64, input: Vector, modifier: &Option<LabelModifier>) -> Vector {
    if k < 1 {
        return Vec::new();
    }
    let k = k.min(input.len() as i64) as usize;
    let mut out = Vec::new();
    for g in groups_of(&input, modifier) {
        let mut members = g.members;
        rank(op, &mut members, |i| input[i].f);
        out.extend(members.into_iter().take(k).map(|i| input[i].clone()));
    }
    out
}

/// Orders the members of one group for `op`, stably: `topk` highest first,
/// `bottomk` lowest first (NaN last in both), `limitk` as they came.
pub(crate) fn rank(op: &str, members: &mut [usize], f: impl Fn(usize) -> f64) {
    match op {
        "topk" => members.sort_by(|&a, &b| order(above(f(a), f(b)), above(f(b), f(a)))),
        "bottomk" => members.sort_by(|&a, &b| order(below(f(a), f(b)), below(f(b), f(a)))),
        _ => {}
    }
}

/// `a` ranks above `b` for `bottomk` (NaN still last).
fn below(a: f64, b: f64) -> bool {
    !a.is_nan() && (b.is_nan() || a < b)
}

fn order(a_first: bool, b_first: bool) -> std::cmp::Ordering {
    match (a_first, b_first) {
        (true, _) => std::cmp::Ordering::Less,
        (_, true) => std::cmp::Ordering::Greater,
        _ => std::cmp::Ordering::Equal,
    }
}

fn limit_ratio(ratio: f64, input: Vector) -> Vector {
    input.into_iter().filter(|s| in_ratio(&s.metric, ratio)).collect()
}

/// Returns true when `limit_ratio(ratio, ...)` keeps the series `metric`: the
/// choice depends on the labels only, so it is stable across steps.
pub(crate) fn in_ratio(metric: &Labels, ratio: f64) -> bool {
    let offset = metric.stable_hash() as f64 / u64::MAX as f64;
    (ratio >= 0.0 && offset < ratio) || (ratio < 0.0 && offset >= 1.0 + ratio)
}

fn count_values(param: Option<StepValue>, input: Vector, modifier: &Option<LabelModifier>, ts: i64) -> Result<Vector> {
    let Some(StepValue::String(label)) = param else {
        return eval_err("expected string parameter for count_values");
    };
    if !wk_model::labels::is_valid_label_name(&label) {
        return eval_err(format!("invalid label name {label:?}"));
    }
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut out: Vector = Vec::new();
    for s in &input {
        let mut b = LabelsBuilder::from_labels(&group_labels(&s.metric, modifier));
        b.set(&label, &format_float(s.f));
        let key = b.build().unwrap_or_else(|_| Labels::empty());
        let i = *index.entry(key.clone()).or_insert_with(|| {
            out.push(InstantSample { metric: key, t: ts, f: 0.0, drop_name: false });
            out.len() - 1
        });
        out[i].f += 1.0;
    }
    Ok(out)
}
