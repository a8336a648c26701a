//! Subqueries: an instant-vector expression evaluated at regular steps inside a
//! window, giving a range vector.
//!
//! Inner steps are aligned to multiples of the subquery step, so consecutive
//! outer steps of a range query share most of them. Each subquery node keeps its
//! inner results by time and drops those that fell out of the window, so a range
//! query evaluates every inner step once rather than once per outer step.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use promql_parser::parser::SubqueryExpr;
use wk_model::{Labels, Sample};

use super::{Evaluator, duration_millis, offset_millis};
use crate::{Matrix, Result, Series};

/// The inner results of one subquery node kept between outer steps: each inner
/// step's samples refer to their series by number, so stitching a window into
/// series costs no label hashing or cloning per point.
#[derive(Debug, Default)]
pub(crate) struct InnerSteps {
    /// Series numbers by labels and name-drop flag, and the series in number order.
    ids: HashMap<(Labels, bool), usize>,
    series: Vec<(Labels, bool)>,
    /// `(series number, value)` at each inner step time.
    steps: BTreeMap<i64, Rc<Vec<(usize, f64)>>>,
}

/// Evaluates `sq` at `ts`. The inner steps are the multiples of the subquery step
/// inside `(t - range, t]`, where `t` is `ts` (or the `@` time) minus the offset, as
/// in Prometheus 3.
pub(crate) fn eval(ev: &mut Evaluator<'_>, sq: &SubqueryExpr, ts: i64) -> Result<Matrix> {
    let step = sq.step.map_or(ev.opts.default_subquery_step_ms, duration_millis).max(1);
    let end = ev.at_time(&sq.at).unwrap_or(ts) - offset_millis(&sq.offset);
    let mint = end - duration_millis(sq.range);
    let mut start = step * mint.div_euclid(step);
    if start <= mint {
        start += step;
    }
    let key = sq as *const SubqueryExpr as usize;
    let mut inner = ev.subquery_steps.remove(&key).unwrap_or_default();
    inner.steps = inner.steps.split_off(&start);
    // Output series index per series number, in order of first appearance.
    let mut slot: HashMap<usize, usize> = HashMap::new();
    let mut out: Matrix = Vec::new();
    let mut t = start;
    while t <= end {
        let vec = match inner.steps.get(&t) {
            Some(v) => Rc::clone(v),
            None => {
                let vec = ev.eval_vector(&sq.expr, t)?;
                let v = Rc::new(inner.number(vec));
                inner.steps.insert(t, Rc::clone(&v));
                v
            }
        };
        for &(id, f) in vec.iter() {
            let i = *slot.entry(id).or_insert_with(|| {
                let (metric, drop_name) = &inner.series[id];
                out.push(Series { metric: metric.clone(), points: Vec::new(), drop_name: *drop_name });
                out.len() - 1
            });
            out[i].points.push(Sample::new(t, f));
        }
        t = t.saturating_add(step);
    }
    ev.subquery_steps.insert(key, inner);
    out.sort_by(|a, b| a.metric.cmp(&b.metric));
    Ok(out)
}

impl InnerSteps {
    /// Replaces the labels of an inner step's samples by series numbers.
    fn number(&mut self, vec: crate::Vector) -> Vec<(usize, f64)> {
        vec.into_iter()
            .map(|s| {
                let next = self.series.len();
                let id = *self.ids.entry((s.metric, s.drop_name)).or_insert_with_key(|k| {
                    self.series.push(k.clone());
                    next
                });
                (id, s.f)
            })
            .collect()
    }
}
