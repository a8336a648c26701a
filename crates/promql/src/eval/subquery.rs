//! Subqueries: an instant-vector expression evaluated at regular steps inside a
//! window, giving a range vector.
//!
//! Inner steps are aligned to multiples of the subquery step, so consecutive
//! outer steps of a range query share most of them. Each subquery node keeps its
//! inner results by time and drops those that fell out of the window, so a range
//! query evaluates every inner step once rather than once per outer step.
//!
//! In a range query, a subquery outside other subqueries knows every inner step
//! it will need (the union of its windows over the outer steps, see [`plan`]).
//! When its inner expression is a shape that `range_eval` evaluates over all
//! steps at once (`rate(x[5m])`, `sum by (job) (...)`), missing inner steps are
//! computed that way, a chunk of planned steps at a time, with the same
//! arithmetic and order as step by step; otherwise, or when that fails (the
//! per-step evaluation then reports the error in its own order), step by step.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use promql_parser::parser::SubqueryExpr;
use wk_model::{Labels, Sample};

use super::{Evaluator, duration_millis, offset_millis, range_eval};
use crate::{Matrix, Result, Series};

/// Most inner steps one whole-range chunk covers (at least one window's worth):
/// bounds what a chunk holds while most queries need one chunk.
const CHUNK_STEPS: usize = 256;

/// Most inner steps a plan may list; a subquery needing more is evaluated step
/// by step.
const MAX_PLANNED: usize = 1 << 20;

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
    /// Inner step times still to evaluate over a whole range, ascending, when the
    /// node was planned (see [`plan`]); `None` once step by step.
    planned: Option<std::collections::VecDeque<i64>>,
    /// Inner steps in one window.
    window_steps: usize,
    /// Each series' position among `series` sorted by labels (equal labels, equal
    /// rank), for as many series as it covers.
    label_rank: Vec<usize>,
}

/// The step of `sq` and its inner step times at outer time `ts`: the multiples of
/// the step inside `(t - range, t]`, where `t` is `ts` (or the `@` time) minus the
/// offset, as in Prometheus 3.
fn window(ev: &Evaluator<'_>, sq: &SubqueryExpr, ts: i64) -> (i64, i64, i64) {
    let step = sq.step.map_or(ev.opts.default_subquery_step_ms, duration_millis).max(1);
    let end = ev.at_time(&sq.at).unwrap_or(ts) - offset_millis(&sq.offset);
    let mint = end - duration_millis(sq.range);
    let mut start = step * mint.div_euclid(step);
    if start <= mint {
        start += step;
    }
    (step, start, end)
}

/// Records the inner steps `sq` needs over the outer steps `outer` (ascending), so
/// that they can be evaluated over a whole range; nothing when there are too many.
pub(crate) fn plan(ev: &mut Evaluator<'_>, sq: &SubqueryExpr, outer: &[i64]) {
    let Some((times, window_steps)) = union_steps(ev, sq, outer, MAX_PLANNED) else {
        return;
    };
    let key = sq as *const SubqueryExpr as usize;
    let inner = ev.subquery_steps.entry(key).or_default();
    inner.planned = Some(times.into());
    inner.window_steps = window_steps;
}

/// The inner steps `sq` needs over the outer steps `outer` (ascending), ascending,
/// and the most inner steps one window holds; `None` when more than `max`.
pub(crate) fn union_steps(
    ev: &Evaluator<'_>,
    sq: &SubqueryExpr,
    outer: &[i64],
    max: usize,
) -> Option<(Vec<i64>, usize)> {
    let mut times = Vec::new();
    let mut next = i64::MIN;
    let mut window_steps = 0;
    for &ts in outer {
        let (step, start, end) = window(ev, sq, ts);
        window_steps = window_steps.max(usize::try_from((end - start) / step + 1).unwrap_or(0));
        let mut t = start.max(next);
        while t <= end {
            if times.len() >= max {
                return None;
            }
            times.push(t);
            t = t.saturating_add(step);
        }
        next = next.max(t);
    }
    Some((times, window_steps))
}

/// The window `(start, end]` a range function over `sq` covers at outer time `ts`.
pub(crate) fn range_window(ev: &Evaluator<'_>, sq: &SubqueryExpr, ts: i64) -> (i64, i64) {
    let end = ev.at_time(&sq.at).unwrap_or(ts) - offset_millis(&sq.offset);
    (end - duration_millis(sq.range), end)
}

/// Evaluates the planned inner steps from `t` on (a chunk of them) over their
/// whole range, when `t` is planned and the inner expression allows it; leaves
/// the node to step-by-step evaluation otherwise. The inner steps it keeps count
/// against the sample limit (as those evaluated step by step do) until they
/// leave the window.
fn eval_chunk(ev: &mut Evaluator<'_>, sq: &SubqueryExpr, inner: &mut InnerSteps, t: i64) -> Result<()> {
    let Some(planned) = inner.planned.as_mut() else {
        return Ok(());
    };
    while planned.front().is_some_and(|&p| p < t) {
        planned.pop_front();
    }
    if planned.front() != Some(&t) {
        inner.planned = None;
        return Ok(());
    }
    let n = planned.len().min(CHUNK_STEPS.max(inner.window_steps));
    let chunk: Vec<i64> = planned.drain(..n).collect();
    let before = ev.annotations.clone();
    match range_eval::eval(ev, &sq.expr, &chunk, false) {
        Ok(Some(m)) => {
            let (series, rows) = m.into_rows(&chunk);
            let mut ids = vec![usize::MAX; series.len()];
            for (&t, row) in chunk.iter().zip(rows) {
                ev.add_samples(row.len())?;
                let row = row.into_iter().map(|(i, f)| (inner.id(&mut ids[i], &series[i]), f)).collect();
                inner.steps.insert(t, Rc::new(row));
            }
        }
        Ok(None) => inner.planned = None,
        Err(_) => {
            ev.annotations = before;
            inner.planned = None;
        }
    }
    Ok(())
}

/// Evaluates `sq` at `ts`, over the inner steps of [`window`].
pub(crate) fn eval(ev: &mut Evaluator<'_>, sq: &SubqueryExpr, ts: i64) -> Result<Matrix> {
    let (step, start, end) = window(ev, sq, ts);
    let key = sq as *const SubqueryExpr as usize;
    let mut inner = ev.subquery_steps.remove(&key).unwrap_or_default();
    let kept = inner.steps.split_off(&start);
    ev.release_samples(inner.steps.values().map(|v| v.len()).sum());
    inner.steps = kept;
    // Output series index per series number (`usize::MAX` for none yet), in
    // order of first appearance.
    let mut slot: Vec<usize> = vec![usize::MAX; inner.series.len()];
    // A series' points in the window, bounded: windows can hold billions of steps.
    let points_cap = usize::try_from((end - start) / step + 1).unwrap_or(0).min(1024);
    let mut out: Matrix = Vec::new();
    let mut out_ids: Vec<usize> = Vec::new();
    let mut t = start;
    while t <= end {
        if inner.planned.is_some() && !inner.steps.contains_key(&t) {
            eval_chunk(ev, sq, &mut inner, t)?;
        }
        let vec = match inner.steps.get(&t) {
            Some(v) => Rc::clone(v),
            None => {
                let vec = ev.eval_vector(&sq.expr, t)?;
                ev.add_samples(vec.len())?;
                let v = Rc::new(inner.number(vec));
                inner.steps.insert(t, Rc::clone(&v));
                v
            }
        };
        slot.resize(inner.series.len(), usize::MAX);
        for &(id, f) in vec.iter() {
            if slot[id] == usize::MAX {
                let (metric, drop_name) = &inner.series[id];
                let points = Vec::with_capacity(points_cap);
                out.push(Series { metric: metric.clone(), points, drop_name: *drop_name });
                slot[id] = out.len() - 1;
                out_ids.push(id);
            }
            out[slot[id]].points.push(Sample::new(t, f));
        }
        t = t.saturating_add(step);
    }
    // Sorted by labels, as a stable sort by labels would (series of equal labels
    // and different name-drop flags stay in order of first appearance).
    let rank = inner.label_ranks();
    let mut order: Vec<usize> = (0..out.len()).collect();
    order.sort_by_key(|&i| rank[out_ids[i]]);
    let mut slots: Vec<Option<Series>> = out.into_iter().map(Some).collect();
    let out = order.into_iter().filter_map(|i| slots[i].take()).collect();
    ev.subquery_steps.insert(key, inner);
    Ok(out)
}

impl InnerSteps {
    /// The number of `series`, given its number cached in `id` (`usize::MAX` for
    /// none yet).
    fn id(&mut self, id: &mut usize, series: &(Labels, bool)) -> usize {
        if *id == usize::MAX {
            let next = self.series.len();
            *id = *self.ids.entry(series.clone()).or_insert_with_key(|k| {
                self.series.push(k.clone());
                next
            });
        }
        *id
    }

    /// Each series' rank in label order, recomputed when series were added.
    fn label_ranks(&mut self) -> &[usize] {
        if self.label_rank.len() != self.series.len() {
            let mut by_labels: Vec<usize> = (0..self.series.len()).collect();
            by_labels.sort_by(|&a, &b| self.series[a].0.cmp(&self.series[b].0));
            self.label_rank = vec![0; self.series.len()];
            for (pos, w) in by_labels.iter().enumerate() {
                let tie = pos > 0 && self.series[by_labels[pos - 1]].0 == self.series[*w].0;
                self.label_rank[*w] = if tie { self.label_rank[by_labels[pos - 1]] } else { pos };
            }
        }
        &self.label_rank
    }

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
