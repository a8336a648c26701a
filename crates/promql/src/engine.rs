//! The engine: options, cancellation and the two query entry points.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use promql_parser::parser::Expr;
use wk_storage::Querier;

use crate::eval::{Evaluator, MAX_MILLIS, StepValue};
use crate::{Annotations, PromqlError, Result, Value};

/// Options of the engine; owned by this crate, `Default` matches Prometheus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineOptions {
    /// How far back an instant selector looks for the latest sample, in
    /// milliseconds; 5 minutes by default (`--query.lookback-delta`).
    pub lookback_delta_ms: i64,
    /// Most samples one query may hold in memory at once, as Prometheus's
    /// `--query.max-samples`: the samples its selectors keep loaded (each selector
    /// reads once per query and keeps its series until the query ends), the
    /// samples of the one series a streamed aggregation is folding, the inner
    /// steps a subquery keeps, and the points of a range query's result. Samples
    /// a streamed aggregation has folded and dropped no longer count, so a long
    /// `sum`/`count` over many series passes while a query that materialises more
    /// fails with [`PromqlError::TooManySamples`]. 50 million by default.
    pub max_samples: usize,
    /// Wall-clock budget of one query; over it the query fails with
    /// [`PromqlError::Timeout`]. `None` means no deadline.
    pub timeout: Option<Duration>,
    /// Step of a subquery written without one (`x[1h:]`), in milliseconds; 1 minute
    /// by default (Prometheus uses the global evaluation interval).
    pub default_subquery_step_ms: i64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            lookback_delta_ms: 5 * 60 * 1000,
            max_samples: 50_000_000,
            timeout: Some(Duration::from_secs(120)),
            default_subquery_step_ms: 60 * 1000,
        }
    }
}

/// A flag shared between a running query and whoever may stop it. Cloning shares
/// the flag; the evaluator checks it in its inner loops.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// Creates a token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every query holding this token to stop with [`PromqlError::Canceled`].
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Returns true once [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// What a query returns: its value and the annotations collected on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// The result value.
    pub value: Value,
    /// Warnings and infos, as Prometheus reports them next to the data.
    pub annotations: Annotations,
}

/// The PromQL engine. Stateless apart from its options; share it freely.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    opts: EngineOptions,
}

/// Parses a query with `promql-parser`, mapping its error to [`PromqlError::Parse`].
pub fn parse(query: &str) -> Result<Expr> {
    promql_parser::parser::parse(query).map_err(PromqlError::Parse)
}

/// Parses a series selector such as the `match[]` parameters of the series and label
/// APIs (`up{job="node"}`, `{__name__=~"node_.*"}`) into groups of matchers; a
/// selector with `or` yields one group per alternative. Anything but a plain
/// selector is a [`PromqlError::Parse`].
pub fn parse_series_selector(text: &str) -> Result<Vec<Vec<wk_model::Matcher>>> {
    match parse(text)? {
        Expr::VectorSelector(vs) => crate::eval::selector::matcher_groups(&vs),
        other => Err(PromqlError::Parse(format!(
            "expected a series selector, got {}",
            match other {
                Expr::MatrixSelector(_) => "a range selector",
                _ => "an expression",
            }
        ))),
    }
}

impl Engine {
    /// Creates an engine with `opts`.
    pub fn new(opts: EngineOptions) -> Self {
        Self { opts }
    }

    /// Returns the options the engine runs with.
    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// Evaluates `expr` at `t` (milliseconds). Instant-vector expressions give a
    /// [`Value::Vector`], range selectors and subqueries a [`Value::Matrix`].
    pub fn instant(&self, querier: &dyn Querier, expr: &Expr, t: i64) -> Result<QueryResult> {
        self.instant_with(querier, expr, t, &CancelToken::new())
    }

    /// Like [`instant`](Self::instant), stoppable through `cancel`.
    pub fn instant_with(
        &self,
        querier: &dyn Querier,
        expr: &Expr,
        t: i64,
        cancel: &CancelToken,
    ) -> Result<QueryResult> {
        let t = t.clamp(-MAX_MILLIS, MAX_MILLIS);
        let mut ev = self.evaluator(querier, expr, t, t, 0, cancel);
        let value = match ev.eval(expr, t)? {
            StepValue::Scalar(v) => Value::Scalar { t, v },
            StepValue::String(s) => Value::String { t, s },
            StepValue::Vector(v) => Value::Vector(crate::eval::finish_vector(v, t)?),
            StepValue::Matrix(m) => Value::Matrix(crate::eval::finish_matrix(m)?),
        };
        Ok(QueryResult { value, annotations: ev.annotations })
    }

    /// Evaluates `expr` at every `step` milliseconds from `start` to `end`
    /// inclusive, giving a [`Value::Matrix`] sorted by labels. The expression must
    /// be a scalar or an instant vector. Times beyond about ±285,000 years are
    /// clamped; the number of steps is not limited here (the HTTP layer caps it, as
    /// Prometheus does), but the deadline and cancellation apply.
    pub fn range(&self, querier: &dyn Querier, expr: &Expr, start: i64, end: i64, step: i64) -> Result<QueryResult> {
        self.range_with(querier, expr, start, end, step, &CancelToken::new())
    }

    /// Like [`range`](Self::range), stoppable through `cancel`.
    pub fn range_with(
        &self,
        querier: &dyn Querier,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
        cancel: &CancelToken,
    ) -> Result<QueryResult> {
        if step <= 0 {
            return Err(PromqlError::Eval(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if end < start {
            return Err(PromqlError::Eval("end timestamp must not be before start time".into()));
        }
        let kind = expr.value_type();
        if !matches!(
            kind,
            promql_parser::parser::value::ValueType::Scalar | promql_parser::parser::value::ValueType::Vector
        ) {
            return Err(PromqlError::Eval(format!(
                "invalid expression type \"{kind}\" for range query, must be Scalar or instant Vector"
            )));
        }
        let (start, end) = (start.clamp(-MAX_MILLIS, MAX_MILLIS), end.clamp(-MAX_MILLIS, MAX_MILLIS));
        let step = step.min(MAX_MILLIS);
        let mut ev = self.evaluator(querier, expr, start, end, step, cancel);
        let m = ev.eval_range(expr, start, end, step)?;
        Ok(QueryResult { value: Value::Matrix(crate::eval::finish_matrix(m)?), annotations: ev.annotations })
    }

    fn evaluator<'a>(
        &'a self,
        querier: &'a dyn Querier,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
        cancel: &CancelToken,
    ) -> Evaluator<'a> {
        let deadline = self.opts.timeout.map(|d| Instant::now() + d);
        Evaluator::new(querier, &self.opts, expr, (start, end, step), cancel.clone(), deadline)
    }
}
