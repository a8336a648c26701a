//! `info(v, {data selector})`: enriches series with the data labels of info
//! metrics (`target_info` by default) that share their identifying labels
//! (`instance`, `job`), as Prometheus 3's experimental `info()` does.

use std::collections::BTreeMap;

use promql_parser::parser::Expr;
use wk_model::{Labels, LabelsBuilder, METRIC_NAME, MatchOp, Matcher, is_stale_nan};

use super::unwrap_parens;
use crate::eval::{Evaluator, offset_millis};
use crate::{PromqlError, Result, Vector};

const IDENTIFYING: [&str; 2] = ["instance", "job"];

/// One info series as seen at the evaluation time.
#[derive(Debug)]
struct InfoSeries {
    labels: Labels,
    t: i64,
}

fn to_model(m: &promql_parser::label::Matcher) -> Result<Matcher> {
    use promql_parser::label::MatchOp as P;
    let op = match m.op {
        P::Equal => MatchOp::Eq,
        P::NotEqual => MatchOp::Neq,
        P::Re(_) => MatchOp::Re,
        P::NotRe(_) => MatchOp::Nre,
    };
    Matcher::new(op, m.name.clone(), m.value.clone()).map_err(|e| PromqlError::Parse(e.to_string()))
}

/// Splits the data selector into `__name__` matchers (default `target_info`;
/// `*_info` when all are negative) and data-label matchers.
fn selector_matchers(arg: Option<&&Expr>) -> Result<(Vec<Matcher>, Vec<Matcher>)> {
    let (mut names, mut data) = (Vec::new(), Vec::new());
    if let Some(Expr::VectorSelector(vs)) = arg.map(|a| unwrap_parens(a)) {
        if let Some(n) = &vs.name {
            names.push(Matcher::eq(METRIC_NAME, n.clone()));
        }
        for m in &vs.matchers.matchers {
            let m = to_model(m)?;
            if m.name() == METRIC_NAME {
                names.push(m);
            } else {
                data.push(m);
            }
        }
    }
    if names.is_empty() {
        names.push(Matcher::eq(METRIC_NAME, "target_info"));
    } else if !names.iter().any(|m| matches!(m.op(), MatchOp::Eq | MatchOp::Re)) {
        // Only negative name matchers: they narrow the info metrics (`*_info`).
        let info = Matcher::new(MatchOp::Re, METRIC_NAME, ".+_info").map_err(|e| PromqlError::Parse(e.to_string()))?;
        names.push(info);
    }
    Ok((names, data))
}

/// The time at which the info series are looked up: the `@` and `offset` on the
/// way down to the base selector (through functions, aggregations and subqueries)
/// apply to them too.
fn lookup_time(ev: &Evaluator<'_>, base: &Expr, ts: i64) -> i64 {
    match unwrap_parens(base) {
        Expr::VectorSelector(vs) => ev.at_time(&vs.at).unwrap_or(ts) - offset_millis(&vs.offset),
        Expr::MatrixSelector(ms) => ev.at_time(&ms.vs.at).unwrap_or(ts) - offset_millis(&ms.vs.offset),
        Expr::Subquery(sq) => {
            let t = ev.at_time(&sq.at).unwrap_or(ts) - offset_millis(&sq.offset);
            lookup_time(ev, &sq.expr, t)
        }
        Expr::Call(c) => c
            .args
            .args
            .iter()
            .find(|a| !matches!(a.as_ref(), Expr::NumberLiteral(_) | Expr::StringLiteral(_)))
            .map_or(ts, |a| lookup_time(ev, a, ts)),
        Expr::Aggregate(a) => lookup_time(ev, &a.expr, ts),
        Expr::Unary(u) => lookup_time(ev, &u.expr, ts),
        Expr::Binary(b) => lookup_time(ev, &b.lhs, ts),
        _ => ts,
    }
}

/// Reads the info series alive at `t`, keeping the latest per identifying labels
/// and metric name.
fn info_series(ev: &mut Evaluator<'_>, names: &[Matcher], data: &[Matcher], t: i64) -> Result<Vec<InfoSeries>> {
    let lookback = ev.opts.lookback_delta_ms;
    let set = ev.querier.select(names, t - lookback + 1, t)?;
    let mut latest: BTreeMap<(Vec<String>, String), InfoSeries> = BTreeMap::new();
    for series in set {
        let series = series?;
        let samples = series.samples;
        ev.add_samples(samples.len())?;
        let Some(last) = samples.last() else { continue };
        if is_stale_nan(last.v) || !data.iter().all(|m| m.matches(series.labels.get(m.name()).unwrap_or(""))) {
            continue;
        }
        let id: Vec<String> = IDENTIFYING.iter().map(|l| series.labels.get(l).unwrap_or("").to_owned()).collect();
        let name = series.labels.metric_name().unwrap_or("").to_owned();
        let entry = InfoSeries { labels: series.labels, t: last.t };
        match latest.get(&(id.clone(), name.clone())) {
            Some(old) if old.t >= entry.t => {}
            _ => {
                latest.insert((id, name), entry);
            }
        }
    }
    Ok(latest.into_values().collect())
}

/// Evaluates `info(v[, selector])` at `ts`.
pub(crate) fn info(ev: &mut Evaluator<'_>, args: &[&Expr], ts: i64) -> Result<Vector> {
    let base = ev.eval_vector(args[0], ts)?;
    let (names, data) = selector_matchers(args.get(1))?;
    let t = lookup_time(ev, args[0], ts);
    let infos = info_series(ev, &names, &data, t)?;
    let empty_ok = data.iter().all(Matcher::matches_empty);
    let mut out = Vec::with_capacity(base.len());
    for mut s in base {
        let own_name = s.metric.metric_name().unwrap_or("");
        // A base series that is itself a selected info metric passes through.
        let positive = names.iter().any(|m| matches!(m.op(), MatchOp::Eq | MatchOp::Re));
        if positive && names.iter().all(|m| m.matches(own_name)) {
            out.push(s);
            continue;
        }
        let matching: Vec<&InfoSeries> =
            infos.iter().filter(|i| IDENTIFYING.iter().all(|l| i.labels.get(l) == s.metric.get(l))).collect();
        if matching.is_empty() {
            if empty_ok {
                out.push(s);
            }
            continue;
        }
        let mut b = LabelsBuilder::from_labels(&s.metric);
        let mut added: BTreeMap<&str, &str> = BTreeMap::new();
        for i in matching {
            for (n, v) in i.labels.iter() {
                let wanted = if data.is_empty() {
                    n != METRIC_NAME && !IDENTIFYING.contains(&n)
                } else {
                    data.iter().any(|m| m.name() == n)
                };
                if wanted && s.metric.get(n).is_none() {
                    if added.insert(n, v).is_some_and(|old| old != v) {
                        return Err(PromqlError::Eval(format!(
                            "conflicting label: {n:?} has different values in the info metrics of {}",
                            s.metric
                        )));
                    }
                    b.set(n, v);
                }
            }
        }
        s.metric = b.build().map_err(|e| PromqlError::Eval(e.to_string()))?;
        s.t = ts;
        out.push(s);
    }
    Ok(out)
}
