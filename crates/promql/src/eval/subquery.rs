//! Subqueries: an instant-vector expression evaluated at regular steps inside a
//! window, giving a range vector.
//!
//! Inner steps are aligned to multiples of the subquery step, so consecutive
//! outer steps of a range query share most of them. Each subquery node keeps its
//! inner results by time and drops those that fell out of the window, so a range
//! query evaluates every inner step once rather than once per outer step.

use std::rc::Rc;

use promql_parser::parser::SubqueryExpr;
use wk_model::Sample;

use super::{Evaluator, SeriesBuilder, duration_millis, offset_millis};
use crate::{Matrix, Result};

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
    let mut steps = ev.subquery_steps.remove(&key).unwrap_or_default();
    steps = steps.split_off(&start);
    let mut out = SeriesBuilder::default();
    let mut t = start;
    while t <= end {
        let vec = match steps.get(&t) {
            Some(v) => Rc::clone(v),
            None => {
                let v = Rc::new(ev.eval_vector(&sq.expr, t)?);
                steps.insert(t, Rc::clone(&v));
                v
            }
        };
        for s in vec.iter() {
            out.push(&s.metric, s.drop_name, Sample::new(t, s.f));
        }
        t = t.saturating_add(step);
    }
    ev.subquery_steps.insert(key, steps);
    let mut out = out.series;
    out.sort_by(|a, b| a.metric.cmp(&b.metric));
    Ok(out)
}
