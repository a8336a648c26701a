//! Runs parsed scripts against a `wk_tsdb` head and classifies every `eval` as
//! passed, failed (with the reason) or unsupported (with the feature).

use promql_parser::parser::{Expr, VectorSelector};
use std::collections::BTreeMap;

use regex::Regex;
use wk_model::{Labels, Sample};
use wk_promql::{Engine, PromqlError, QueryResult, Value};
use wk_storage::Appender;
use wk_tsdb::{Head, HeadOptions};

use super::script::{AnnoExpect, Check, Command, EvalCase, EvalKind, Expected};
use super::series_desc::SeqValue;

/// The outcome of one `eval`.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The result matched every expectation.
    Pass,
    /// Something did not match; the text says what.
    Fail(String),
    /// The case needs a feature we lack; the text names it.
    Unsupported(String),
}

/// Runs every command of one script; returns `(line, query, outcome)` per eval.
pub fn run_script(cmds: &[Command]) -> Vec<(usize, String, Outcome)> {
    let engine = Engine::default();
    let mut head = new_head();
    let mut skipped_series: Vec<(Option<Labels>, String)> = Vec::new();
    let mut out = Vec::new();
    for cmd in cmds {
        match cmd {
            Command::Clear => {
                head = new_head();
                skipped_series.clear();
            }
            Command::Load { interval, series, skipped, nhcb, .. } => {
                if *nhcb {
                    skipped_series.extend(nhcb_series(series));
                }
                skipped_series.extend(skipped.iter().cloned());
                load(&head, *interval, series);
            }
            Command::Eval(case) => {
                let outcome = if let Some(u) = &case.unsupported {
                    Outcome::Unsupported(u.clone())
                } else if let Some(why) = touches_skipped(&case.query, &skipped_series) {
                    Outcome::Unsupported(why)
                } else {
                    run_eval(&engine, &head, case)
                };
                out.push((case.line, case.query.clone(), outcome));
            }
        }
    }
    out
}

fn new_head() -> Head {
    Head::new(HeadOptions { ooo_window_ms: 1 << 50, ..HeadOptions::default() }).expect("default head options are valid")
}

/// The native histograms with custom buckets that `load_with_nhcb` derives from
/// classic histograms (named without the `_bucket`/`_count`/`_sum` suffix, without
/// `le`); this runner loads only the classic float series.
fn nhcb_series(series: &[(Labels, Vec<SeqValue>)]) -> Vec<(Option<Labels>, String)> {
    let mut out = Vec::new();
    for (labels, _) in series {
        let Some(name) = labels.metric_name() else {
            continue;
        };
        let Some(base) = ["_bucket", "_count", "_sum"].iter().find_map(|s| name.strip_suffix(s)) else {
            continue;
        };
        let pairs =
            labels.iter().filter(|(n, _)| *n != "le").map(|(n, v)| if n == "__name__" { (n, base) } else { (n, v) });
        out.push((
            Some(Labels::from_sorted(pairs)),
            "native histograms: the query selects what `load_with_nhcb` derives".to_owned(),
        ));
    }
    out
}

/// Returns why a query cannot be judged when one of its selectors matches a
/// series the runner could not load.
fn touches_skipped(query: &str, skipped: &[(Option<Labels>, String)]) -> Option<String> {
    if skipped.is_empty() {
        return None;
    }
    let Ok(expr) = wk_promql::parse(query) else {
        return None;
    };
    let mut selectors = Vec::new();
    collect_selectors(&expr, &mut selectors);
    for (labels, why) in skipped {
        let Some(labels) = labels else {
            return Some(why.clone());
        };
        if selectors.iter().any(|vs| selects(vs, labels)) {
            return Some(why.clone());
        }
    }
    None
}

fn collect_selectors<'a>(e: &'a Expr, out: &mut Vec<&'a VectorSelector>) {
    match e {
        Expr::VectorSelector(vs) => out.push(vs),
        Expr::MatrixSelector(ms) => out.push(&ms.vs),
        Expr::Aggregate(a) => {
            collect_selectors(&a.expr, out);
            if let Some(p) = &a.param {
                collect_selectors(p, out);
            }
        }
        Expr::Unary(u) => collect_selectors(&u.expr, out),
        Expr::Binary(b) => {
            collect_selectors(&b.lhs, out);
            collect_selectors(&b.rhs, out);
        }
        Expr::Paren(p) => collect_selectors(&p.expr, out),
        Expr::Subquery(s) => collect_selectors(&s.expr, out),
        Expr::Call(c) => c.args.args.iter().for_each(|a| collect_selectors(a, out)),
        _ => {}
    }
}

fn selects(vs: &VectorSelector, labels: &Labels) -> bool {
    if let Some(n) = &vs.name
        && labels.metric_name() != Some(n.as_str())
    {
        return false;
    }
    let value = |n: &str| labels.get(n).unwrap_or("");
    let all = |ms: &[promql_parser::label::Matcher]| ms.iter().all(|m| m.is_match(value(&m.name)));
    all(&vs.matchers.matchers) && (vs.matchers.or_matchers.is_empty() || vs.matchers.or_matchers.iter().any(|g| all(g)))
}

/// Appends the samples of a `load` block; a series listed twice keeps the later
/// value at a shared timestamp, as Prometheus's loader does.
fn load(head: &Head, interval: i64, series: &[(Labels, Vec<SeqValue>)]) {
    let mut merged: BTreeMap<&Labels, BTreeMap<i64, f64>> = BTreeMap::new();
    for (labels, values) in series {
        let m = merged.entry(labels).or_default();
        for (i, v) in values.iter().enumerate() {
            if let SeqValue::Float(f) = v {
                m.insert(i as i64 * interval, *f);
            }
        }
    }
    let mut app = head.appender();
    for (labels, samples) in merged {
        let mut hint = None;
        for (t, v) in samples {
            if let Ok(r) = app.append(hint, labels, Sample::new(t, v)) {
                hint = Some(r);
            }
        }
    }
    app.commit().expect("commit to the in-memory head");
}

fn run_eval(engine: &Engine, head: &Head, case: &EvalCase) -> Outcome {
    let expr = match wk_promql::parse(&case.query) {
        Ok(e) => e,
        Err(e) => {
            return if case.fail == Some(Check::Any) {
                Outcome::Pass
            } else {
                Outcome::Unsupported(parser_gap(&case.query, &e.to_string()))
            };
        }
    };
    let q = head.querier();
    let res = match case.kind {
        EvalKind::Instant(t) => engine.instant(&q, &expr, t),
        EvalKind::Range(s, e, step) => engine.range(&q, &expr, s, e, step),
    };
    match (res, &case.fail) {
        (Err(PromqlError::Eval(m)), _) if m.starts_with("unsupported:") => {
            Outcome::Unsupported(m.trim_start_matches("unsupported: ").to_owned())
        }
        (Err(e), Some(check)) => {
            if check_text(check, &e.to_string()) {
                Outcome::Pass
            } else {
                Outcome::Fail(format!("error {e:?} does not match {check:?}"))
            }
        }
        (Err(e), None) => Outcome::Fail(format!("unexpected error: {e}")),
        (Ok(_), Some(_)) => Outcome::Fail("expected an error, got a result".into()),
        (Ok(r), None) => match check_annotations(case, &r) {
            Some(f) => Outcome::Fail(f),
            None => match compare(case, &r.value) {
                // step() and range() legitimately differ between the two forms.
                Outcome::Pass
                    if !case.query.to_lowercase().contains("step()")
                        && !case.query.to_lowercase().contains("range()") =>
                {
                    same_as_range(engine, head, &expr, case.kind, &r.value)
                }
                other => other,
            },
        },
    }
}

/// Like Prometheus's harness, checks that an instant query agrees with the same
/// expression run as a one-step range query.
fn same_as_range(engine: &Engine, head: &Head, expr: &Expr, kind: EvalKind, v: &Value) -> Outcome {
    let EvalKind::Instant(t) = kind else {
        return Outcome::Pass;
    };
    let want: Vec<(Labels, f64)> = match v {
        Value::Vector(vec) => vec.iter().map(|s| (s.metric.clone(), s.f)).collect(),
        Value::Scalar { v, .. } => vec![(Labels::empty(), *v)],
        _ => return Outcome::Pass,
    };
    let got = match engine.range(&head.querier(), expr, t, t, 60_000) {
        Ok(QueryResult { value: Value::Matrix(m), .. }) => m,
        Ok(other) => {
            return Outcome::Fail(format!("range form returned {}", other.value.type_name()));
        }
        Err(e) => return Outcome::Fail(format!("range form failed: {e}")),
    };
    let same = got.len() == want.len()
        && want
            .iter()
            .all(|(l, f)| got.iter().any(|s| &s.metric == l && s.points.len() == 1 && almost_equal(s.points[0].v, *f)));
    if same { Outcome::Pass } else { Outcome::Fail("the one-step range query disagrees with the instant query".into()) }
}

/// Names the grammar a parse failure points at, for the report.
fn parser_gap(query: &str, err: &str) -> String {
    let gap = if query.contains(" anchored") || query.contains(" smoothed") {
        "`anchored`/`smoothed` range modifiers"
    } else if query.contains("</") || query.contains(">/") {
        "histogram trim operators `</` and `>/`"
    } else if err.contains("inside brackets")
        || query.contains("offset (")
        || query.contains("offset -(")
        || query.contains("offset step")
        || query.contains("offset STEP")
        || query.contains("offset min_of")
        || query.contains("offset max_of")
        || query.contains("offset range")
        || query.contains("offset -")
        || query.contains("offset +")
    {
        "duration expressions (arithmetic, `step()`, `range()`, `min_of()` in `[...]` and `offset`)"
    } else if err.contains("at least one non-empty match") {
        "selectors whose matchers all match the empty string (info() data selectors)"
    } else {
        return format!("parser: {}", err.lines().next().unwrap_or("").chars().take(70).collect::<String>());
    };
    format!("parser lacks {gap}")
}

/// Strips Prometheus's position suffix (` (1:23)` or its regex form), which our
/// parser cannot produce.
fn strip_position(s: &str) -> String {
    let re = Regex::new(r"\s*(\(\d+:\d+\)|\\\(\[0-9\]\+:\[0-9\]\+\\\)|\\\(\d+:\d+\\\))$").unwrap();
    re.replace(s, "").into_owned()
}

fn check_text(check: &Check, text: &str) -> bool {
    match check {
        Check::Any => true,
        Check::Msg(m) => strip_position(m) == text,
        Check::Regex(r) => Regex::new(&strip_position(r)).is_ok_and(|re| re.is_match(text)),
    }
}

fn check_kind(kind: &str, want: &AnnoExpect, got: &std::collections::BTreeSet<String>) -> Option<String> {
    if want.none && !got.is_empty() {
        return Some(format!("expected no {kind}, got {got:?}"));
    }
    for c in &want.checks {
        if !got.iter().any(|g| check_text(c, g)) {
            return Some(format!("expected {kind} {c:?}, got {got:?}"));
        }
    }
    None
}

fn check_annotations(case: &EvalCase, r: &QueryResult) -> Option<String> {
    check_kind("warning", &case.warn, &r.annotations.warnings)
        .or_else(|| check_kind("info", &case.info, &r.annotations.infos))
}

/// Prometheus's test tolerance.
fn almost_equal(a: f64, b: f64) -> bool {
    const MIN_NORMAL: f64 = 2.2250738585072014e-308;
    const EPS: f64 = 0.000001;
    if a.is_nan() && b.is_nan() || a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < EPS * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < EPS
}

fn compare(case: &EvalCase, got: &Value) -> Outcome {
    let res = match (&case.expected, got) {
        (Expected::Scalar(want), Value::Scalar { v, .. }) => {
            if almost_equal(*want, *v) {
                Ok(())
            } else {
                Err(format!("expected scalar {want}, got {v}"))
            }
        }
        (Expected::String(want), Value::String { s, .. }) => {
            if want == s {
                Ok(())
            } else {
                Err(format!("expected string {want:?}, got {s:?}"))
            }
        }
        (Expected::Series(want), Value::Vector(vec)) => {
            let got: Vec<(Labels, Vec<Sample>)> =
                vec.iter().map(|s| (s.metric.clone(), vec![Sample::new(0, s.f)])).collect();
            let want: Vec<(Labels, Vec<Sample>)> = want.iter().map(|(l, v)| (l.clone(), expand(v, 0, 0))).collect();
            compare_series(&want, &got, case.ordered)
        }
        (Expected::Series(want), Value::Matrix(m)) => {
            let (start, step) = match (case.kind, case.range_vector) {
                (EvalKind::Range(s, _, step), _) => (s, step),
                (EvalKind::Instant(_), Some((s, _, step))) => (s, step),
                (EvalKind::Instant(_), None) => {
                    return Outcome::Fail("got a range vector, expectation lacks `expect range vector`".into());
                }
            };
            let got: Vec<(Labels, Vec<Sample>)> = m.iter().map(|s| (s.metric.clone(), s.points.clone())).collect();
            let want: Vec<(Labels, Vec<Sample>)> =
                want.iter().map(|(l, v)| (l.clone(), expand(v, start, step))).collect();
            compare_series(&want, &got, false)
        }
        (want, got) => Err(format!("expected {want:?}, got {} {got}", got.type_name())),
    };
    match res {
        Ok(()) => Outcome::Pass,
        Err(e) => Outcome::Fail(e),
    }
}

fn expand(v: &[SeqValue], start: i64, step: i64) -> Vec<Sample> {
    v.iter()
        .enumerate()
        .filter_map(|(i, x)| match x {
            SeqValue::Float(f) => Some(Sample::new(start + i as i64 * step, *f)),
            SeqValue::Omitted => None,
        })
        .collect()
}

fn compare_series(want: &[(Labels, Vec<Sample>)], got: &[(Labels, Vec<Sample>)], ordered: bool) -> Result<(), String> {
    if want.len() != got.len() {
        return Err(format!(
            "expected {} series, got {}: {:?}",
            want.len(),
            got.len(),
            got.iter().map(|g| g.0.to_string()).collect::<Vec<_>>()
        ));
    }
    for (i, (wl, wp)) in want.iter().enumerate() {
        let Some(pos) = got.iter().position(|(gl, _)| gl == wl) else {
            return Err(format!("expected series {wl} not in result"));
        };
        if ordered && pos != i {
            return Err(format!("series {wl} at position {pos}, expected {i}"));
        }
        let gp = &got[pos].1;
        let same = gp.len() == wp.len() && gp.iter().zip(wp).all(|(g, w)| g.t == w.t && almost_equal(g.v, w.v));
        if !same {
            let show = |p: &[Sample]| p.iter().map(|s| format!("{}@{}", s.v, s.t)).collect::<Vec<_>>().join(" ");
            return Err(format!("series {wl}: expected [{}], got [{}]", show(wp), show(gp)));
        }
    }
    Ok(())
}
