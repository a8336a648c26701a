//! The evaluator: one query's state and the dispatch over the syntax tree.
//!
//! Every expression can be evaluated at one timestamp at a time
//! ([`Evaluator::eval`]); a range query evaluates its expression at each step and
//! stitches the results into series. Selectors read storage once per query (over
//! the time span the whole query needs, see [`bounds`]) and serve every step from
//! memory. The shapes that dominate range queries (a selector, a range function
//! over one, aggregations of either, these combined with a number or with each
//! other, and range functions over subqueries of them) are instead evaluated over all steps at
//! once by `range_eval`, with the same arithmetic, as the whole query or for the
//! per-step evaluator to read step by step; so are the inner steps of a
//! subquery whose inner expression has such a shape (see `subquery`).

mod aggregation;
mod binary;
mod bounds;
mod functions;
mod range_eval;
pub(crate) mod selector;
mod subquery;

use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Instant, SystemTime};

use promql_parser::parser::{AggregateExpr, AtModifier, Expr, Offset};
use wk_model::{Labels, METRIC_NAME, Sample};
use wk_storage::Querier;

use crate::error::eval_err;
use crate::{Annotations, CancelToken, EngineOptions, Matrix, PromqlError, Result, Series, Vector};
pub(crate) use selector::LoadedSeries;

/// The value of an expression at one evaluation time.
#[derive(Debug, Clone)]
pub(crate) enum StepValue {
    Scalar(f64),
    String(String),
    Vector(Vector),
    Matrix(Matrix),
}

impl StepValue {
    fn type_name(&self) -> &'static str {
        match self {
            StepValue::Scalar(_) => "scalar",
            StepValue::String(_) => "string",
            StepValue::Vector(_) => "instant vector",
            StepValue::Matrix(_) => "range vector",
        }
    }
}

/// The state of one running query.
#[allow(missing_debug_implementations)]
pub(crate) struct Evaluator<'a> {
    pub(crate) querier: &'a dyn Querier,
    pub(crate) opts: &'a EngineOptions,
    /// Query start and end (equal for an instant query), milliseconds.
    pub(crate) start: i64,
    pub(crate) end: i64,
    /// Range query step, 0 for an instant query.
    pub(crate) step: i64,
    data_mint: i64,
    data_maxt: i64,
    cache: HashMap<usize, Rc<Vec<LoadedSeries>>>,
    /// Aggregations below the result of a range query, evaluated over all steps
    /// before the per-step loop (see `range_eval`), by node, with the step times.
    step_cache: HashMap<usize, Rc<range_eval::StepMatrix>>,
    step_times: Vec<i64>,
    /// Inner results of each subquery node by inner step time; see `subquery`.
    subquery_steps: HashMap<usize, subquery::InnerSteps>,
    /// Samples the query holds in memory now, counted against
    /// [`EngineOptions::max_samples`].
    held: usize,
    pub(crate) annotations: Annotations,
    cancel: CancelToken,
    deadline: Option<Instant>,
    ticks: u32,
}

impl<'a> Evaluator<'a> {
    pub(crate) fn new(
        querier: &'a dyn Querier,
        opts: &'a EngineOptions,
        expr: &Expr,
        (start, end, step): (i64, i64, i64),
        cancel: CancelToken,
        deadline: Option<Instant>,
    ) -> Self {
        let (data_mint, data_maxt) = bounds::data_bounds(expr, start, end, opts);
        Self {
            querier,
            opts,
            start,
            end,
            step,
            data_mint,
            data_maxt,
            cache: HashMap::new(),
            step_cache: HashMap::new(),
            step_times: Vec::new(),
            subquery_steps: HashMap::new(),
            held: 0,
            annotations: Annotations::default(),
            cancel,
            deadline,
            ticks: 0,
        }
    }

    /// Checks cancellation and the deadline; cheap enough for inner loops (one
    /// relaxed atomic load; the clock is read on the first and every 256th call).
    pub(crate) fn check(&mut self) -> Result<()> {
        if self.cancel.is_cancelled() {
            return Err(PromqlError::Canceled);
        }
        self.ticks = self.ticks.wrapping_add(1);
        if self.ticks % 256 != 1 {
            return Ok(());
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(PromqlError::Timeout);
        }
        Ok(())
    }

    /// Accounts `n` more samples held in memory by the query; fails when the
    /// query would then hold more than the limit at once.
    pub(crate) fn add_samples(&mut self, n: usize) -> Result<()> {
        self.held = self.held.saturating_add(n);
        if self.held > self.opts.max_samples {
            return Err(PromqlError::TooManySamples);
        }
        Ok(())
    }

    /// Accounts `n` samples counted by [`add_samples`](Self::add_samples) that
    /// the query no longer holds.
    pub(crate) fn release_samples(&mut self, n: usize) {
        self.held = self.held.saturating_sub(n);
    }

    /// Evaluates `expr` at `ts` milliseconds.
    pub(crate) fn eval(&mut self, expr: &Expr, ts: i64) -> Result<StepValue> {
        self.check()?;
        match expr {
            Expr::Aggregate(a) => match self.cached_step(a, ts) {
                Some(vec) => Ok(StepValue::Vector(vec)),
                None => aggregation::eval(self, a, ts),
            },
            Expr::Unary(u) => match self.eval(&u.expr, ts)? {
                StepValue::Scalar(v) => Ok(StepValue::Scalar(-v)),
                StepValue::Vector(mut vec) => {
                    for s in &mut vec {
                        s.f = -s.f;
                        s.t = ts;
                        s.drop_name = true;
                    }
                    Ok(StepValue::Vector(vec))
                }
                other => eval_err(format!(
                    "unary expression only allowed on expressions of type scalar or instant vector, got {}",
                    other.type_name()
                )),
            },
            Expr::Binary(b) => binary::eval(self, b, ts),
            Expr::Paren(p) => self.eval(&p.expr, ts),
            Expr::Subquery(s) => subquery::eval(self, s, ts).map(StepValue::Matrix),
            Expr::NumberLiteral(n) => Ok(StepValue::Scalar(n.val)),
            Expr::StringLiteral(s) => Ok(StepValue::String(s.val.clone())),
            Expr::VectorSelector(vs) => selector::instant(self, vs, ts).map(StepValue::Vector),
            Expr::MatrixSelector(ms) => selector::range(self, ms, ts).map(StepValue::Matrix),
            Expr::Call(c) => functions::call(self, c, ts),
            Expr::Extension(_) => eval_err("extension expressions are not supported"),
        }
    }

    /// Evaluates `expr` at `ts` and requires an instant vector.
    pub(crate) fn eval_vector(&mut self, expr: &Expr, ts: i64) -> Result<Vector> {
        match self.eval(expr, ts)? {
            StepValue::Vector(v) => Ok(v),
            other => eval_err(format!("expected instant vector, got {}", other.type_name())),
        }
    }

    /// Evaluates `expr` at `ts` and requires a scalar.
    pub(crate) fn eval_scalar(&mut self, expr: &Expr, ts: i64) -> Result<f64> {
        match self.eval(expr, ts)? {
            StepValue::Scalar(v) => Ok(v),
            other => eval_err(format!("expected scalar, got {}", other.type_name())),
        }
    }

    /// Evaluates `expr` at every step from `start` to `end` and stitches the
    /// per-step results into series, keyed by labels (and name-drop flag).
    /// Shapes that `range_eval` knows are evaluated over all steps at once, the
    /// whole query or the aggregations inside it; the rest step by step.
    pub(crate) fn eval_range(&mut self, expr: &Expr, start: i64, end: i64, step: i64) -> Result<Matrix> {
        let steps = range_eval::step_times(start, end, step);
        if let Some(m) = range_eval::eval(self, expr, &steps, true)? {
            return Ok(m.into_matrix());
        }
        self.step_times = steps;
        self.precompute(expr);
        let mut out = SeriesBuilder::default();
        let steps = self.step_times.clone();
        for ts in steps {
            let points: Vec<(Labels, bool, f64)> = match self.eval(expr, ts)? {
                StepValue::Scalar(v) => vec![(Labels::empty(), false, v)],
                StepValue::Vector(vec) => {
                    check_duplicates(&vec)?;
                    vec.into_iter().map(|s| (s.metric, s.drop_name, s.f)).collect()
                }
                other => {
                    return eval_err(format!(
                        "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                        other.type_name()
                    ));
                }
            };
            self.add_samples(points.len())?;
            for (metric, drop_name, f) in points {
                out.push(&metric, drop_name, Sample::new(ts, f));
            }
        }
        Ok(out.series)
    }

    /// Evaluates over all steps the aggregations of `expr` that `range_eval`
    /// knows, outside subqueries (whose inner steps are other times), and plans
    /// the inner steps of the outermost subqueries (see `subquery::plan`). A
    /// failure is left to the per-step evaluation to meet and report in its own
    /// order.
    fn precompute(&mut self, expr: &Expr) {
        match expr {
            Expr::Aggregate(a) => {
                let before = self.annotations.clone();
                let steps = std::mem::take(&mut self.step_times);
                let got = range_eval::eval(self, expr, &steps, false);
                self.step_times = steps;
                match got {
                    Ok(Some(m)) => {
                        self.step_cache.insert(a as *const AggregateExpr as usize, Rc::new(m));
                    }
                    Ok(None) => {
                        self.precompute(&a.expr);
                        if let Some(p) = &a.param {
                            self.precompute(p);
                        }
                    }
                    Err(_) => self.annotations = before,
                }
            }
            Expr::Unary(u) => self.precompute(&u.expr),
            Expr::Binary(b) => {
                self.precompute(&b.lhs);
                self.precompute(&b.rhs);
            }
            Expr::Paren(p) => self.precompute(&p.expr),
            Expr::Call(c) => {
                for a in &c.args.args {
                    self.precompute(a);
                }
            }
            Expr::Subquery(sq) => {
                let steps = std::mem::take(&mut self.step_times);
                subquery::plan(self, sq, &steps);
                self.step_times = steps;
            }
            Expr::NumberLiteral(_)
            | Expr::StringLiteral(_)
            | Expr::VectorSelector(_)
            | Expr::MatrixSelector(_)
            | Expr::Extension(_) => {}
        }
    }

    /// The vector of a precomputed aggregation at step time `ts`, if any.
    fn cached_step(&self, a: &AggregateExpr, ts: i64) -> Option<Vector> {
        let m = self.step_cache.get(&(a as *const AggregateExpr as usize))?;
        self.step_times.binary_search(&ts).ok()?;
        Some(m.vector_at(ts))
    }

    /// Resolves an `@` modifier to milliseconds.
    pub(crate) fn at_time(&self, at: &Option<AtModifier>) -> Option<i64> {
        at.as_ref().map(|a| at_millis(a, self.start, self.end))
    }
}

/// Stitches per-step samples into series keyed by labels and name-drop flag,
/// cloning a label set only for a series it has not seen yet.
#[derive(Debug, Default)]
pub(crate) struct SeriesBuilder {
    /// Series index per label set, one slot per name-drop flag.
    index: HashMap<Labels, [usize; 2]>,
    pub(crate) series: Matrix,
}

impl SeriesBuilder {
    /// Appends `point` to the series `(metric, drop_name)`.
    pub(crate) fn push(&mut self, metric: &Labels, drop_name: bool, point: Sample) {
        let d = usize::from(drop_name);
        let i = match self.index.get(metric).map(|slots| slots[d]) {
            Some(i) if i != usize::MAX => i,
            _ => {
                self.series.push(Series { metric: metric.clone(), points: Vec::new(), drop_name });
                let i = self.series.len() - 1;
                self.index.entry(metric.clone()).or_insert([usize::MAX; 2])[d] = i;
                i
            }
        };
        self.series[i].points.push(point);
    }
}

/// Resolves an `@` modifier to milliseconds, given the query's start and end.
pub(crate) fn at_millis(at: &AtModifier, start: i64, end: i64) -> i64 {
    match at {
        AtModifier::Start => start,
        AtModifier::End => end,
        AtModifier::At(t) => system_time_millis(*t),
    }
}

fn system_time_millis(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => duration_millis(d),
        Err(e) => -duration_millis(e.duration()),
    }
}

/// The largest magnitude of a time or duration the evaluator works with, in
/// milliseconds (about 285,000 years): sums of a few such values cannot overflow
/// an `i64`, so absurd `@`, `offset` or range values saturate instead of wrapping.
pub(crate) const MAX_MILLIS: i64 = 1 << 53;

/// Converts a duration to milliseconds, saturating at [`MAX_MILLIS`].
pub(crate) fn duration_millis(d: std::time::Duration) -> i64 {
    d.as_millis().min(MAX_MILLIS as u128) as i64
}

/// Converts an `offset` modifier to signed milliseconds.
pub(crate) fn offset_millis(o: &Option<Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => duration_millis(*d),
        Some(Offset::Neg(d)) => -duration_millis(*d),
    }
}

/// Fails with Prometheus's message when two samples share a label set.
pub(crate) fn check_duplicates(vec: &Vector) -> Result<()> {
    if vec.len() < 2 {
        return Ok(());
    }
    let mut seen = std::collections::HashSet::with_capacity(vec.len());
    for s in vec {
        if !seen.insert(&s.metric) {
            return eval_err("vector cannot contain metrics with the same labelset");
        }
    }
    Ok(())
}

/// The labels that go with the metric name: Prometheus 3 drops the type and unit
/// labels (`__type__`, `__unit__`) together with `__name__`.
pub(crate) const NAME_LABELS: [&str; 3] = [METRIC_NAME, "__type__", "__unit__"];

/// Removes `__name__` (and the type and unit labels) from a label set whose name
/// is due to be dropped.
pub(crate) fn drop_metric_name(l: &Labels) -> Labels {
    Labels::from_sorted(l.iter().filter(|(n, _)| !NAME_LABELS.contains(n)))
}

/// Applies delayed name removal to an instant query's vector and checks that the
/// label sets stay unique.
pub(crate) fn finish_vector(mut v: Vector, t: i64) -> Result<Vector> {
    for s in &mut v {
        if s.drop_name {
            s.metric = drop_metric_name(&s.metric);
            s.drop_name = false;
        }
        s.t = t;
    }
    check_duplicates(&v)?;
    Ok(v)
}

/// Applies delayed name removal to a matrix and sorts it by labels. Series that
/// end up with the same labels are merged when their timestamps do not overlap,
/// and are an error when they do (as in Prometheus).
pub(crate) fn finish_matrix(m: Matrix) -> Result<Matrix> {
    let mut merged: std::collections::BTreeMap<Labels, Series> = Default::default();
    for mut s in m {
        if s.drop_name {
            s.metric = drop_metric_name(&s.metric);
            s.drop_name = false;
        }
        match merged.entry(s.metric.clone()) {
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(s);
            }
            std::collections::btree_map::Entry::Occupied(mut e) => {
                let points = &mut e.get_mut().points;
                points.extend(s.points);
                points.sort_by_key(|p| p.t);
                if points.windows(2).any(|w| w[0].t == w[1].t) {
                    return eval_err("vector cannot contain metrics with the same labelset");
                }
            }
        }
    }
    Ok(merged.into_values().collect())
}
