//! Subqueries: an instant-vector expression evaluated at regular steps inside a
//! window, giving a range vector.

use promql_parser::parser::SubqueryExpr;
use wk_model::Sample;

use super::{Evaluator, SeriesBuilder, offset_millis};
use crate::{Matrix, Result};

/// Evaluates `sq` at `ts`. The inner steps are the multiples of the subquery step
/// inside `(t - range, t]`, where `t` is `ts` (or the `@` time) minus the offset, as
/// in Prometheus 3.
pub(crate) fn eval(ev: &mut Evaluator<'_>, sq: &SubqueryExpr, ts: i64) -> Result<Matrix> {
    let step = sq
        .step
        .map_or(ev.opts.default_subquery_step_ms, |s| s.as_millis() as i64)
        .max(1);
    let end = ev.at_time(&sq.at).unwrap_or(ts) - offset_millis(&sq.offset);
    let mint = end - sq.range.as_millis() as i64;
    let mut start = step * mint.div_euclid(step);
    if start <= mint {
        start += step;
    }
    let mut out = SeriesBuilder::default();
    let mut t = start;
    while t <= end {
        let vec = ev.eval_vector(&sq.expr, t)?;
        for s in vec {
            out.push(s.metric, s.drop_name, Sample::new(t, s.f));
        }
        t += step;
    }
    let mut out = out.series;
    out.sort_by(|a, b| a.metric.cmp(&b.metric));
    Ok(out)
}
