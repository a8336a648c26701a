//! Range queries evaluated over all steps at once, for the shapes that dominate
//! dashboards: a selector, a range function over a range selector
//! (`rate(x[5m])`), an aggregation of either (`sum by (instance) (rate(x[5m]))`,
//! `topk(5, ...)`), any of these combined with a number (`rate(x[5m]) * 8`) or
//! with each other (`a / on(x) b`, see `vector_binary`), and a range function
//! over a subquery of any of these (`max_over_time(rate(x[5m])[30m:1m])`, see
//! `over_subquery`).
//!
//! The per-step evaluator builds a fresh vector at every step, so it clones each
//! series' labels and hashes each series into its group once per step. Here the
//! series come from the selector's loaded set, identified by their index: the
//! values of step after step go into per-series (or per-group) point lists, group
//! membership is computed once per series, and labels are cloned once per output
//! series. The arithmetic is the per-step evaluator's own (the same window,
//! function, reduction and ranking code, fed values in the same order), so results
//! are identical to the bit.
//!
//! An aggregation evaluated here below another operator (`histogram_quantile(0.9,
//! sum by (le) (...))`) is computed once for the query and handed to the per-step
//! evaluator step by step ([`StepMatrix::vector_at`]), in the order the per-step
//! aggregation would have produced.

use std::collections::HashMap;

use promql_parser::parser::{AggregateExpr, BinaryExpr, Expr, LabelModifier, VectorSelector};
use wk_model::{Labels, Sample, is_stale_nan};

mod over_subquery;
mod streaming;
mod vector_binary;

use super::aggregation::{self, FoldOp, group_labels};
use super::functions::range::OverSelector;
use super::functions::unwrap_parens;
use super::{Evaluator, LoadedSeries, binary, offset_millis, selector};
use crate::{InstantSample, Matrix, PromqlError, Result, Series, Vector};

/// One output series of a node over all steps of the range query.
#[derive(Debug)]
pub(crate) struct StepSeries {
    metric: Labels,
    drop_name: bool,
    /// Points at step times, ascending.
    points: Vec<Sample>,
    /// For each point, its rank among the node's samples at that step in the
    /// per-step evaluator's order.
    order: Vec<u64>,
}

/// A node's samples at one step: `(series index, value)` in the per-step
/// evaluator's order.
pub(crate) type StepRow = Vec<(usize, f64)>;

/// A node's result at every step of the range query.
#[derive(Debug, Default)]
pub(crate) struct StepMatrix(Vec<StepSeries>);

impl StepMatrix {
    /// Converts to a matrix (for the query's result, which is sorted afterwards).
    pub(crate) fn into_matrix(self) -> Matrix {
        self.0
            .into_iter()
            .filter(|s| !s.points.is_empty())
            .map(|s| Series { metric: s.metric, points: s.points, drop_name: s.drop_name })
            .collect()
    }

    /// Splits the matrix into its output series (labels and name-drop flag) and,
    /// for each of `steps`, the `(series index, value)` of that step in the
    /// per-step evaluator's order: what [`vector_at`](Self::vector_at) gives at
    /// every step, without cloning a label set per point.
    pub(crate) fn into_rows(self, steps: &[i64]) -> (Vec<(Labels, bool)>, Vec<StepRow>) {
        let mut ranked: Vec<Vec<(u64, usize, f64)>> = vec![Vec::new(); steps.len()];
        let mut series = Vec::with_capacity(self.0.len());
        for (i, s) in self.0.into_iter().enumerate() {
            let mut k = 0;
            for (p, rank) in s.points.iter().zip(&s.order) {
                k += steps[k..].partition_point(|&t| t < p.t);
                if steps.get(k) == Some(&p.t) {
                    ranked[k].push((*rank, i, p.v));
                }
            }
            series.push((s.metric, s.drop_name));
        }
        let rows = ranked
            .into_iter()
            .map(|mut row| {
                row.sort_by_key(|(rank, _, _)| *rank);
                row.into_iter().map(|(_, i, v)| (i, v)).collect()
            })
            .collect();
        (series, rows)
    }

    /// The node's vector at step time `ts`, in the per-step evaluator's order.
    pub(crate) fn vector_at(&self, ts: i64) -> Vector {
        let mut out: Vec<(u64, InstantSample)> = Vec::new();
        for s in &self.0 {
            if let Ok(i) = s.points.binary_search_by_key(&ts, |p| p.t) {
                let sample =
                    InstantSample { metric: s.metric.clone(), t: ts, f: s.points[i].v, drop_name: s.drop_name };
                out.push((s.order[i], sample));
            }
        }
        out.sort_by_key(|(rank, _)| *rank);
        out.into_iter().map(|(_, s)| s).collect()
    }
}

/// The evaluation times of a range query, as the per-step loop visits them.
pub(crate) fn step_times(start: i64, end: i64, step: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let mut ts = start;
    while ts <= end {
        out.push(ts);
        match ts.checked_add(step) {
            Some(next) => ts = next,
            None => break,
        }
    }
    out
}

/// A node whose output series are the loaded series of one selector.
enum Leaf<'e> {
    Instant(&'e VectorSelector),
    RangeFn(OverSelector<'e>),
}

impl<'e> Leaf<'e> {
    fn of(expr: &'e Expr, args: &'e mut Vec<&'e Expr>) -> Option<Self> {
        match unwrap_parens(expr) {
            Expr::VectorSelector(vs) => Some(Leaf::Instant(vs)),
            Expr::Call(c) => {
                args.extend(c.args.args.iter().map(|a| a.as_ref()));
                OverSelector::of(c.func.name, args).map(Leaf::RangeFn)
            }
            _ => None,
        }
    }

    fn selector(&self) -> &'e VectorSelector {
        match self {
            Leaf::Instant(vs) => vs,
            Leaf::RangeFn(f) => &f.ms.vs,
        }
    }

    fn drop_name(&self) -> bool {
        match self {
            Leaf::Instant(_) => false,
            Leaf::RangeFn(f) => f.drops_name(),
        }
    }
}

/// Values of a leaf's series over a block of steps, step-major: series `i` at the
/// block's step `k` is `vals[k * n + i]` when `present[k * n + i]`.
#[derive(Default)]
struct Block {
    n: usize,
    vals: Vec<f64>,
    present: Vec<bool>,
}

impl Block {
    /// `(series index, value)` of the series with a value at the block's step `k`,
    /// in series order (the order of the per-step evaluator's vector).
    fn row(&self, k: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        let (vals, present) = (&self.vals[k * self.n..][..self.n], &self.present[k * self.n..][..self.n]);
        vals.iter().zip(present).enumerate().filter(|(_, (_, p))| **p).map(|(i, (v, _))| (i, *v))
    }
}

/// Most values one block holds (32 MiB of floats): blocks of steps bound the
/// memory a query over many series needs, while each series' samples are read
/// once per block, while they are in cache, rather than once per step.
const BLOCK_CELLS: usize = 1 << 22;

/// The per-step arguments of a leaf: for a range function, its scalar arguments
/// and window at each step.
pub(super) type StepArgs = Vec<(Vec<f64>, (i64, i64))>;

impl Leaf<'_> {
    /// Evaluates the per-step arguments at `steps`; stops at the first step where
    /// a scalar argument fails, returning the arguments before it and the error.
    fn step_args(&self, ev: &mut Evaluator<'_>, steps: &[i64]) -> (StepArgs, Option<PromqlError>) {
        let mut args = Vec::new();
        if let Leaf::RangeFn(f) = self {
            for &ts in steps {
                match f.scalars(ev, ts) {
                    Ok(scalars) => args.push((scalars, f.window(ev, ts))),
                    Err(e) => return (args, Some(e)),
                }
            }
        }
        (args, None)
    }

    /// What evaluating the leaf over a series takes from the evaluator, taken
    /// once so that [`values`](Self::values) can run on reader threads.
    fn params(&self, ev: &Evaluator<'_>) -> LeafParams {
        match self {
            Leaf::Instant(vs) => LeafParams {
                at: ev.at_time(&vs.at),
                offset: offset_millis(&vs.offset),
                lookback: ev.opts.lookback_delta_ms,
            },
            Leaf::RangeFn(_) => LeafParams::default(),
        }
    }

    /// Computes one series at each of `steps` (whose arguments are `args`),
    /// calling `out(k, value)` for each step `k` with a value. `noted` records
    /// that the series was checked for the `rate` counter-name info.
    #[allow(clippy::too_many_arguments)]
    fn series_values(
        &self,
        ev: &mut Evaluator<'_>,
        s: &LoadedSeries,
        steps: &[i64],
        args: &StepArgs,
        buf: &mut Vec<Sample>,
        noted: &mut bool,
        out: impl FnMut(usize, f64),
    ) {
        let present = self.values(&self.params(ev), &s.samples, steps, args, buf, out);
        if present && !*noted {
            *noted = true;
            self.note_series(ev, &s.metric);
        }
    }

    /// Adds the info a range function gives for a series it read a sample of
    /// (`rate` of a name that does not look like a counter).
    fn note_series(&self, ev: &mut Evaluator<'_>, metric: &Labels) {
        if let Leaf::RangeFn(f) = self {
            f.note_series(ev, metric);
        }
    }

    /// [`series_values`](Self::series_values) without the evaluator: returns
    /// whether a range function's window held a sample at some step (when the
    /// series is to be noted).
    fn values(
        &self,
        params: &LeafParams,
        samples: &[Sample],
        steps: &[i64],
        args: &StepArgs,
        buf: &mut Vec<Sample>,
        mut out: impl FnMut(usize, f64),
    ) -> bool {
        match self {
            Leaf::Instant(_) => {
                let LeafParams { at, offset, lookback } = *params;
                let mut end = 0;
                for (k, &ts) in steps.iter().enumerate() {
                    let t = at.unwrap_or(ts) - offset;
                    end = seek(samples, end, t);
                    if let Some(v) = latest(&samples[..end], t, lookback) {
                        out(k, v);
                    }
                }
                false
            }
            Leaf::RangeFn(f) => {
                let (mut lo, mut hi) = (0, 0);
                let may_be_stale = samples.iter().any(|p| is_stale_nan(p.v));
                // `rate` and `increase` look for counter resets in every window;
                // counted once over the series, a window without any (almost
                // all of them) skips the scan.
                let mut resets = Vec::new();
                if !may_be_stale && f.counts_resets() {
                    resets.reserve(samples.len());
                    let mut n = 0u32;
                    resets.push(0);
                    for w in samples.windows(2) {
                        n += u32::from(w[1].v < w[0].v);
                        resets.push(n);
                    }
                }
                let mut any = false;
                for (k, &ts) in steps.iter().enumerate() {
                    let (scalars, window) = &args[k];
                    lo = seek(samples, lo, window.0);
                    hi = seek(samples, hi, window.1).max(lo);
                    let no_resets = hi > lo && !resets.is_empty() && resets[hi - 1] == resets[lo];
                    let mut present = false;
                    let v =
                        f.value_of(&samples[lo..hi], may_be_stale, no_resets, scalars, *window, ts, buf, &mut present);
                    any |= present;
                    if let Some(v) = v {
                        out(k, v);
                    }
                }
                any
            }
        }
    }
}

/// The evaluator's settings an instant selector leaf needs per series.
#[derive(Debug, Clone, Copy, Default)]
struct LeafParams {
    at: Option<i64>,
    offset: i64,
    lookback: i64,
}

/// Computes a leaf over the query's evaluation times, block by block.
struct LeafStepper<'e> {
    leaf: Leaf<'e>,
    series: std::rc::Rc<Vec<LoadedSeries>>,
    /// Series already checked for the `rate` counter-name info.
    noted: Vec<bool>,
    buf: Vec<Sample>,
}

impl<'e> LeafStepper<'e> {
    fn new(ev: &mut Evaluator<'_>, leaf: Leaf<'e>, steps: &[i64]) -> Result<Self> {
        // Per step, a range function's scalar arguments are evaluated before
        // its selector loads, so their errors come first.
        if let (Leaf::RangeFn(f), Some(&ts)) = (&leaf, steps.first()) {
            f.scalars(ev, ts)?;
        }
        let series = selector::load(ev, leaf.selector())?;
        let noted = vec![false; series.len()];
        Ok(Self { leaf, series, noted, buf: Vec::new() })
    }

    /// How many steps one block covers.
    fn block_len(&self) -> usize {
        (BLOCK_CELLS / self.series.len().max(1)).max(1)
    }

    /// Fills `out` with the leaf's values at `steps` (at most
    /// [`block_len`](Self::block_len) of them). Returns how many leading steps it
    /// covers: all of them, or those before the step where evaluating a scalar
    /// argument failed, with that error, which the caller reports once it has used
    /// the steps before (as the per-step evaluator would have).
    fn block(
        &mut self,
        ev: &mut Evaluator<'_>,
        steps: &[i64],
        out: &mut Block,
    ) -> Result<(usize, Option<PromqlError>)> {
        let n = self.series.len();
        let (args, err) = self.leaf.step_args(ev, steps);
        let covered = match self.leaf {
            Leaf::Instant(_) => steps.len(),
            Leaf::RangeFn(_) => args.len(),
        };
        out.n = n;
        out.vals.clear();
        out.vals.resize(covered * n, 0.0);
        out.present.clear();
        out.present.resize(covered * n, false);
        for (i, s) in self.series.iter().enumerate() {
            ev.check()?;
            let (vals, present) = (&mut out.vals, &mut out.present);
            self.leaf.series_values(ev, s, &steps[..covered], &args, &mut self.buf, &mut self.noted[i], |k, v| {
                vals[k * n + i] = v;
                present[k * n + i] = true;
            });
        }
        Ok((covered, err))
    }
}

/// The number of `samples` (sorted by time) at or before `t`, found by walking
/// forward from `from` when `t` is not before the sample there (consecutive
/// steps move windows forward by about one sample), by binary search otherwise.
fn seek(samples: &[Sample], from: usize, t: i64) -> usize {
    if from > samples.len() || (from > 0 && samples[from - 1].t > t) {
        return samples.partition_point(|p| p.t <= t);
    }
    from + samples[from..].iter().take_while(|p| p.t <= t).count()
}

/// The value an instant selector takes at `t` from `samples`, the samples at
/// or before `t`: as [`selector::sample_at`], the newest unless it is older than
/// the lookback or a staleness marker.
fn latest(samples: &[Sample], t: i64, lookback: i64) -> Option<f64> {
    let last = samples.last()?;
    (last.t > t - lookback && !is_stale_nan(last.v)).then_some(last.v)
}

/// Evaluates `expr` at every time of `steps` when it has one of this module's
/// shapes; `None` otherwise (the caller then evaluates step by step).
/// With `result` set, the node is the query's result and its points count
/// against the sample limit step by step, as the per-step loop counts them.
pub(crate) fn eval(ev: &mut Evaluator<'_>, expr: &Expr, steps: &[i64], result: bool) -> Result<Option<StepMatrix>> {
    let mut args = Vec::new();
    match unwrap_parens(expr) {
        Expr::Aggregate(a) => aggregate(ev, a, steps, result),
        Expr::Binary(b) if !is_number(&b.lhs) && !is_number(&b.rhs) => vector_binary::eval(ev, b, steps, result),
        Expr::Binary(b) => vector_scalar(ev, b, steps, result),
        e => match Leaf::of(e, &mut args) {
            Some(leaf) => leaf_matrix(ev, leaf, steps, result).map(Some),
            None => match e {
                Expr::Call(c) => over_subquery::eval(ev, c, steps, result),
                _ => Ok(None),
            },
        },
    }
}

fn is_number(e: &Expr) -> bool {
    matches!(unwrap_parens(e), Expr::NumberLiteral(_))
}

/// A vector of this module's shapes combined with a number (`rate(x[5m]) * 8`,
/// `2 < sum by (job) (...)`), point by point with the per-step code's arithmetic;
/// `None` for other binary expressions.
fn vector_scalar(ev: &mut Evaluator<'_>, b: &BinaryExpr, steps: &[i64], result: bool) -> Result<Option<StepMatrix>> {
    let op = b.op.to_string();
    let (vector, s, swap) = match (unwrap_parens(&b.lhs), unwrap_parens(&b.rhs)) {
        (Expr::NumberLiteral(_), Expr::NumberLiteral(_)) => return Ok(None),
        (v, Expr::NumberLiteral(n)) => (v, n.val, false),
        (Expr::NumberLiteral(n), v) => (v, n.val, true),
        _ => return Ok(None),
    };
    if matches!(op.as_str(), "and" | "or" | "unless") {
        return Ok(None);
    }
    let Some(m) = eval(ev, vector, steps, false)? else {
        return Ok(None);
    };
    let return_bool = b.modifier.as_ref().is_some_and(|m| m.return_bool);
    let drop = binary::scalar_drops_name(&op, return_bool);
    let mut out = Vec::with_capacity(m.0.len());
    let mut per_step = vec![0usize; if result { steps.len() } else { 0 }];
    for mut series in m.0 {
        let mut k = 0;
        let (mut points, mut order) = (Vec::new(), Vec::new());
        for (p, rank) in series.points.iter().zip(&series.order) {
            if let Some(v) = binary::scalar_value(&op, p.v, s, swap, return_bool) {
                if result {
                    k += steps[k..].partition_point(|&t| t < p.t);
                    per_step[k] += 1;
                }
                points.push(Sample::new(p.t, v));
                order.push(*rank);
            }
        }
        if !points.is_empty() {
            (series.points, series.order) = (points, order);
            series.drop_name |= drop;
            out.push(series);
        }
    }
    for n in per_step {
        ev.add_samples(n)?;
    }
    Ok(Some(StepMatrix(out)))
}

fn leaf_matrix(ev: &mut Evaluator<'_>, leaf: Leaf<'_>, steps: &[i64], result: bool) -> Result<StepMatrix> {
    if let Leaf::Instant(vs) = leaf {
        return selector_matrix(ev, vs, steps, result);
    }
    let drop_name = leaf.drop_name();
    let mut stepper = LeafStepper::new(ev, leaf, steps)?;
    let mut points: Vec<Vec<Sample>> = vec![Vec::new(); stepper.series.len()];
    let mut block = Block::default();
    for chunk in steps.chunks(stepper.block_len()) {
        let (covered, err) = stepper.block(ev, chunk, &mut block)?;
        for (k, &ts) in chunk[..covered].iter().enumerate() {
            let n = block.row(k).map(|(i, v)| points[i].push(Sample::new(ts, v))).count();
            if result {
                ev.add_samples(n)?;
            }
        }
        if let Some(e) = err {
            return Err(e);
        }
    }
    let out = stepper
        .series
        .iter()
        .zip(points)
        .enumerate()
        .filter(|(_, (_, p))| !p.is_empty())
        .map(|(i, (s, points))| {
            let order = vec![i as u64; points.len()];
            StepSeries { metric: s.metric.clone(), drop_name, points, order }
        })
        .collect();
    Ok(StepMatrix(out))
}

/// An instant selector at every step, series by series: each series' samples
/// are walked once with a cursor (the step-major [`Block`] and a binary search
/// per step serve range functions, whose windows need more). The points are
/// those of [`selector::sample_at`]; with no per-step argument to fail, counting
/// them against the sample limit after the last step fails exactly when counting
/// step by step would.
fn selector_matrix(ev: &mut Evaluator<'_>, vs: &VectorSelector, steps: &[i64], result: bool) -> Result<StepMatrix> {
    let series = selector::load(ev, vs)?;
    let leaf = Leaf::Instant(vs);
    let params = leaf.params(ev);
    let mut out = Vec::with_capacity(series.len());
    let mut total = 0usize;
    for (i, s) in series.iter().enumerate() {
        ev.check()?;
        let mut points = Vec::with_capacity(if s.samples.is_empty() { 0 } else { steps.len() });
        leaf.values(&params, &s.samples, steps, &Vec::new(), &mut Vec::new(), |k, v| {
            points.push(Sample::new(steps[k], v));
        });
        if !points.is_empty() {
            total += points.len();
            let order = vec![i as u64; points.len()];
            out.push(StepSeries { metric: s.metric.clone(), drop_name: false, points, order });
        }
    }
    if result {
        ev.add_samples(total)?;
    }
    Ok(StepMatrix(out))
}

/// The groups of a leaf's series: the group of each series and each group's labels.
fn groups(series: &[LoadedSeries], modifier: &Option<LabelModifier>) -> (Vec<usize>, Vec<Labels>) {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut labels = Vec::new();
    let group_of = series
        .iter()
        .map(|s| {
            let key = group_labels(&s.metric, modifier);
            *index.entry(key).or_insert_with_key(|k| {
                labels.push(k.clone());
                labels.len() - 1
            })
        })
        .collect();
    (group_of, labels)
}

fn aggregate(ev: &mut Evaluator<'_>, a: &AggregateExpr, steps: &[i64], result: bool) -> Result<Option<StepMatrix>> {
    let op = a.op.to_string();
    let selecting = matches!(op.as_str(), "topk" | "bottomk" | "limitk" | "limit_ratio");
    if !aggregation::is_reducing(&op) && !selecting {
        return Ok(None);
    }
    let mut args = Vec::new();
    let Some(leaf) = Leaf::of(&a.expr, &mut args) else {
        return Ok(None);
    };
    if a.param.is_none()
        && let Some(fold) = FoldOp::of(&op)
        && let Some(m) = streaming::eval(ev, a, fold, &leaf, steps, result)?
    {
        return Ok(Some(m));
    }
    let leaf_drop = leaf.drop_name();
    // At each step the parameter is evaluated before the input, as per step; the
    // first step's evaluation loads the selector after it.
    let param_at = |ev: &mut Evaluator<'_>, ts: i64| a.param.as_ref().map(|p| ev.eval(p, ts)).transpose();
    let mut param = match steps.first() {
        Some(&ts) => param_at(ev, ts)?,
        None => None,
    };
    let mut stepper = LeafStepper::new(ev, leaf, steps)?;
    let mut agg = Aggregation::new(op, selecting, &stepper.series, &a.modifier, leaf_drop);
    let mut block = Block::default();
    let mut done = 0;
    for chunk in steps.chunks(stepper.block_len()) {
        let (covered, err) = stepper.block(ev, chunk, &mut block)?;
        for (k, &ts) in chunk[..covered].iter().enumerate() {
            if done > 0 {
                param = param_at(ev, ts)?;
            }
            done += 1;
            let n = agg.step(ev, ts, block.row(k), param.take(), &stepper.series)?;
            if result {
                ev.add_samples(n)?;
            }
        }
        if let Some(e) = err {
            if done > 0 {
                param_at(ev, chunk[covered])?;
            }
            return Err(e);
        }
    }
    Ok(Some(StepMatrix(agg.out.into_iter().flatten().collect())))
}

/// One aggregation over a leaf's series, fed step by step.
struct Aggregation {
    op: String,
    /// `topk`, `bottomk`, `limitk` or `limit_ratio`: output series are input series.
    selecting: bool,
    group_of: Vec<usize>,
    group_names: Vec<Labels>,
    leaf_drop: bool,
    /// Output series under construction: one slot per group (reducing operators)
    /// or per input series (selecting ones).
    out: Vec<Option<StepSeries>>,
    /// Scratch space reused across steps.
    members: Vec<Vec<usize>>,
    current: Vec<f64>,
    present: Vec<(usize, f64)>,
    vals: Vec<f64>,
}

impl Aggregation {
    fn new(
        op: String,
        selecting: bool,
        series: &[LoadedSeries],
        modifier: &Option<LabelModifier>,
        leaf_drop: bool,
    ) -> Self {
        let (group_of, group_names) = groups(series, modifier);
        let slots = if selecting { series.len() } else { group_names.len() };
        Self {
            op,
            selecting,
            members: vec![Vec::new(); group_names.len()],
            group_of,
            group_names,
            leaf_drop,
            out: (0..slots).map(|_| None).collect(),
            current: vec![0.0; series.len()],
            present: Vec::new(),
            vals: Vec::new(),
        }
    }

    /// Aggregates the input `row` of step `ts`; returns how many samples the
    /// step's output holds.
    fn step(
        &mut self,
        ev: &mut Evaluator<'_>,
        ts: i64,
        row: impl Iterator<Item = (usize, f64)>,
        param: Option<super::StepValue>,
        series: &[LoadedSeries],
    ) -> Result<usize> {
        // Groups in order of first appearance at this step, with their members.
        let mut step_groups = Vec::new();
        self.present.clear();
        for (i, v) in row {
            self.present.push((i, v));
            self.current[i] = v;
            let g = self.group_of[i];
            if self.members[g].is_empty() {
                step_groups.push(g);
            }
            self.members[g].push(i);
        }
        let n = if self.selecting {
            self.select_step(ev, ts, param, &step_groups, series)?
        } else {
            self.reduce_step(ev, ts, param, &step_groups)?
        };
        for &g in &step_groups {
            self.members[g].clear();
        }
        Ok(n)
    }

    fn reduce_step(
        &mut self,
        ev: &mut Evaluator<'_>,
        ts: i64,
        param: Option<super::StepValue>,
        step_groups: &[usize],
    ) -> Result<usize> {
        let q = match self.op.as_str() {
            "quantile" => Some(quantile_param(ev, param)?),
            _ => None,
        };
        for (rank, &g) in step_groups.iter().enumerate() {
            ev.check()?;
            self.vals.clear();
            self.vals.extend(self.members[g].iter().map(|&i| self.current[i]));
            let f = aggregation::reduce(&self.op, &self.vals, q)?;
            let name = &self.group_names[g];
            let drop_name = self.leaf_drop && name.metric_name().is_some();
            push(&mut self.out[g], name, drop_name, Sample::new(ts, f), rank as u64);
        }
        Ok(step_groups.len())
    }

    fn select_step(
        &mut self,
        ev: &mut Evaluator<'_>,
        ts: i64,
        param: Option<super::StepValue>,
        step_groups: &[usize],
        series: &[LoadedSeries],
    ) -> Result<usize> {
        let chosen = Chosen { members: &mut self.members, step_groups, present: &self.present };
        let keep = select(ev, &self.op, param, chosen, series, &self.current)?;
        for &(rank, i, f) in &keep {
            push(&mut self.out[i], &series[i].metric, self.leaf_drop, Sample::new(ts, f), rank);
        }
        Ok(keep.len())
    }
}

/// Appends a point to an output series, creating it on its first point.
fn push(slot: &mut Option<StepSeries>, metric: &Labels, drop_name: bool, point: Sample, rank: u64) {
    let s = slot.get_or_insert_with(|| StepSeries {
        metric: metric.clone(),
        drop_name,
        points: Vec::new(),
        order: Vec::new(),
    });
    s.points.push(point);
    s.order.push(rank);
}

fn quantile_param(ev: &mut Evaluator<'_>, p: Option<super::StepValue>) -> Result<f64> {
    let q = aggregation::scalar_param(p)?;
    if !(0.0..=1.0).contains(&q) {
        ev.annotations.warn(format!("quantile value should be between 0 and 1, got {}", crate::format_float(q)));
    }
    Ok(q)
}

/// The input of a selecting operator at one step.
struct Chosen<'a> {
    /// Members of each group, in input order (filled for the groups present).
    members: &'a mut [Vec<usize>],
    /// The groups present, in order of first appearance.
    step_groups: &'a [usize],
    /// `(series index, value)` present at this step, in input order.
    present: &'a [(usize, f64)],
}

/// Chooses the members `topk`, `bottomk`, `limitk` or `limit_ratio` keep at one
/// step: `(rank in the per-step output, series index, value)`.
fn select(
    ev: &mut Evaluator<'_>,
    op: &str,
    param: Option<super::StepValue>,
    input: Chosen<'_>,
    series: &[LoadedSeries],
    current: &[f64],
) -> Result<Vec<(u64, usize, f64)>> {
    let mut keep = Vec::new();
    if op == "limit_ratio" {
        let ratio = aggregation::ratio_param(ev, param)?;
        for &(i, f) in input.present {
            if aggregation::in_ratio(&series[i].metric, ratio) {
                keep.push((keep.len() as u64, i, f));
            }
        }
        return Ok(keep);
    }
    let k = aggregation::param_int(param)?;
    if k < 1 {
        return Ok(keep);
    }
    let k = k.min(input.present.len() as i64) as usize;
    for &g in input.step_groups {
        let m = &mut input.members[g];
        aggregation::rank(op, m, |i| current[i]);
        for &i in m.iter().take(k) {
            keep.push((keep.len() as u64, i, current[i]));
        }
    }
    Ok(keep)
}
