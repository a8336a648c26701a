//! Vector-to-vector arithmetic and comparisons (`a / b`, `a > bool b`, with
//! `on`/`ignoring` and `group_left`/`group_right`) over all steps at once, when
//! both operands are this module's shapes.
//!
//! The per-step evaluator hashes every sample's matching labels and builds every
//! result's label set at every step. Here both operands are evaluated over the
//! whole range first, each series is matched once, the result labels of each
//! matched pair are built once, and the values are combined point by point with
//! the per-step code's arithmetic ([`Pairing`]), in the per-step output order
//! (the many side's order at each step).
//!
//! The per-step evaluator fails at a step where matching is ambiguous (two
//! series of the "one" side with the same matching labels, two "many" series
//! meeting one partner one-to-one, two results with the same labels). Such
//! operands are left to it (`None`): it reports the error at the step where it
//! arises, or evaluates correctly when the ambiguous series never meet at one
//! step. So are `fill` modifiers and the set operators.

use std::collections::{HashMap, HashSet};

use promql_parser::parser::BinaryExpr;
use wk_model::{Labels, Sample};

use super::{StepMatrix, StepSeries};
use crate::eval::Evaluator;
use crate::eval::binary::{Pairing, signature};
use crate::{PromqlError, Result};

/// Evaluates `b` at `steps` when both operands are vectors this module
/// evaluates over whole ranges and their matching is unambiguous; `None`
/// otherwise, and when an operand fails (the per-step evaluator then reports
/// the error in its own order).
pub(super) fn eval(ev: &mut Evaluator<'_>, b: &BinaryExpr, steps: &[i64], result: bool) -> Result<Option<StepMatrix>> {
    let op = b.op.to_string();
    let modifier = b.modifier.clone().unwrap_or_default();
    if matches!(op.as_str(), "and" | "or" | "unless")
        || modifier.fill_values.lhs.is_some()
        || modifier.fill_values.rhs.is_some()
    {
        return Ok(None);
    }
    let before = ev.annotations.clone();
    let got = operands(ev, b, steps);
    let (lhs, rhs) = match got {
        Ok(Some(sides)) => sides,
        Err(e @ (PromqlError::TooManySamples | PromqlError::Canceled | PromqlError::Timeout)) => return Err(e),
        Ok(None) | Err(_) => {
            ev.annotations = before;
            return Ok(None);
        }
    };
    let pairing = Pairing::new(&op, &modifier, 0);
    let (many, one) = if pairing.one_to_many { (rhs, lhs) } else { (lhs, rhs) };
    let Some(pairs) = match_series(&many, &one, &pairing, &modifier.matching) else {
        ev.annotations = before;
        return Ok(None);
    };
    let mut out = Vec::with_capacity(pairs.len());
    let mut per_step = vec![0usize; if result { steps.len() } else { 0 }];
    for (i, j, metric) in pairs {
        ev.check()?;
        let (l, r) = (&many.0[i], &one.0[j]);
        let most = l.points.len().min(r.points.len());
        let (mut points, mut order) = (Vec::with_capacity(most), Vec::with_capacity(most));
        let (mut a, mut c, mut k) = (0, 0, 0);
        while a < l.points.len() && c < r.points.len() {
            let (lp, rp) = (l.points[a], r.points[c]);
            if lp.t < rp.t {
                a += 1;
                continue;
            }
            if rp.t < lp.t {
                c += 1;
                continue;
            }
            if let Some(v) = pairing.value(lp.v, rp.v) {
                if result {
                    k += steps[k..].partition_point(|&t| t < lp.t);
                    per_step[k] += 1;
                }
                points.push(Sample::new(lp.t, v));
                order.push(l.order[a]);
            }
            a += 1;
            c += 1;
        }
        if !points.is_empty() {
            out.push(StepSeries { metric, drop_name: pairing.drops_name(l.drop_name), points, order });
        }
    }
    for n in per_step {
        ev.add_samples(n)?;
    }
    Ok(Some(StepMatrix(out)))
}

/// Both operands over `steps`, left first (as each step evaluates them), or
/// `None` when either is not one of this module's shapes.
fn operands(ev: &mut Evaluator<'_>, b: &BinaryExpr, steps: &[i64]) -> Result<Option<(StepMatrix, StepMatrix)>> {
    let Some(lhs) = super::eval(ev, &b.lhs, steps, false)? else {
        return Ok(None);
    };
    let Some(rhs) = super::eval(ev, &b.rhs, steps, false)? else {
        return Ok(None);
    };
    Ok(Some((lhs, rhs)))
}

/// The matched pairs `(many series, one series, result labels)`; `None` when
/// the matching could be ambiguous at some step (see the module comment).
fn match_series(
    many: &StepMatrix,
    one: &StepMatrix,
    pairing: &Pairing<'_>,
    matching: &Option<promql_parser::parser::LabelModifier>,
) -> Option<Vec<(usize, usize, Labels)>> {
    let mut partner: HashMap<Labels, usize> = HashMap::with_capacity(one.0.len());
    for (j, s) in one.0.iter().enumerate() {
        if partner.insert(signature(&s.metric, matching), j).is_some() {
            return None;
        }
    }
    let mut taken = vec![false; one.0.len()];
    let mut results = HashSet::with_capacity(many.0.len());
    let mut pairs = Vec::with_capacity(many.0.len());
    for (i, s) in many.0.iter().enumerate() {
        let Some(&j) = partner.get(&signature(&s.metric, matching)) else {
            continue;
        };
        if pairing.one_to_one && std::mem::replace(&mut taken[j], true) {
            return None;
        }
        let metric = pairing.metric(&s.metric, &one.0[j].metric);
        if !results.insert(metric.clone()) {
            return None;
        }
        pairs.push((i, j, metric));
    }
    Some(pairs)
}
