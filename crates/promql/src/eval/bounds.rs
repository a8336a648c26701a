//! The time span of stored data a query needs.
//!
//! Walks the syntax tree with the span of evaluation times each node sees, widened
//! by subquery ranges, shifted by offsets and pinned by `@` modifiers, and returns
//! the union of what every selector reads. Selectors then read this span once.

use promql_parser::parser::Expr;

use super::{at_millis, duration_millis, offset_millis};
use crate::EngineOptions;

/// Returns the inclusive `[mint, maxt]` of samples that evaluating `expr` between
/// `start` and `end` can touch.
pub(crate) fn data_bounds(expr: &Expr, start: i64, end: i64, opts: &EngineOptions) -> (i64, i64) {
    let mut acc = (i64::MAX, i64::MIN);
    walk(expr, (start, end), (start, end), opts, &mut acc);
    if acc.0 > acc.1 { (0, 0) } else { acc }
}

fn walk(expr: &Expr, span: (i64, i64), query: (i64, i64), opts: &EngineOptions, acc: &mut (i64, i64)) {
    let mut add = |lo: i64, hi: i64| {
        acc.0 = acc.0.min(lo);
        acc.1 = acc.1.max(hi);
    };
    match expr {
        Expr::VectorSelector(vs) => {
            let (lo, hi) = shifted(span, &vs.at, &vs.offset, query);
            add(lo - opts.lookback_delta_ms, hi);
        }
        Expr::MatrixSelector(ms) => {
            let (lo, hi) = shifted(span, &ms.vs.at, &ms.vs.offset, query);
            add(lo - duration_millis(ms.range), hi);
        }
        Expr::Subquery(sq) => {
            let (lo, hi) = shifted(span, &sq.at, &sq.offset, query);
            let step = sq.step.map_or(opts.default_subquery_step_ms, duration_millis);
            let inner = (lo - duration_millis(sq.range) - step, hi);
            walk(&sq.expr, inner, query, opts, acc);
        }
        Expr::Aggregate(a) => {
            walk(&a.expr, span, query, opts, acc);
            if let Some(p) = &a.param {
                walk(p, span, query, opts, acc);
            }
        }
        Expr::Unary(u) => walk(&u.expr, span, query, opts, acc),
        Expr::Binary(b) => {
            walk(&b.lhs, span, query, opts, acc);
            walk(&b.rhs, span, query, opts, acc);
        }
        Expr::Paren(p) => walk(&p.expr, span, query, opts, acc),
        Expr::Call(c) => {
            for a in &c.args.args {
                walk(a, span, query, opts, acc);
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

fn shifted(
    span: (i64, i64),
    at: &Option<promql_parser::parser::AtModifier>,
    offset: &Option<promql_parser::parser::Offset>,
    query: (i64, i64),
) -> (i64, i64) {
    let off = offset_millis(offset);
    match at {
        Some(a) => {
            let t = at_millis(a, query.0, query.1);
            (t - off, t - off)
        }
        None => (span.0 - off, span.1 - off),
    }
}
