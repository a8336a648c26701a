//! The public API of the engine: instant and range queries, limits, cancellation,
//! annotations and errors, over a wk-tsdb head.

use std::time::Duration;

use wk_model::{Labels, STALE_NAN, Sample};
use wk_promql::{CancelToken, Engine, EngineOptions, PromqlError, Value, parse};
use wk_storage::Appender;
use wk_tsdb::{Head, HeadOptions};

/// `up{instance="i<n>"}` for n in 0..series, one sample every 15 s for 10 min.
fn head(series: usize) -> Head {
    let head = Head::new(HeadOptions::default()).unwrap();
    let mut app = head.appender();
    for i in 0..series {
        let l = Labels::from_pairs([("__name__", "up_total"), ("instance", &format!("i{i}"))]).unwrap();
        for k in 0..40 {
            app.append(None, &l, Sample::new(k * 15_000, k as f64)).unwrap();
        }
    }
    app.commit().unwrap();
    drop(app);
    head
}

#[test]
fn instant_and_range_queries() {
    let h = head(3);
    let e = Engine::default();
    let q = h.querier();
    let r = e.instant(&q, &parse("sum(up_total)").unwrap(), 300_000).unwrap();
    let Value::Vector(v) = r.value else { panic!("want vector") };
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].f, 60.0);
    let r = e.range(&q, &parse("rate(up_total[1m])").unwrap(), 120_000, 300_000, 60_000).unwrap();
    let Value::Matrix(m) = r.value else { panic!("want matrix") };
    assert_eq!(m.len(), 3);
    assert!(m.iter().all(|s| s.points.len() == 4 && s.metric.metric_name().is_none()));
    assert!((m[0].points[0].v - 1.0 / 15.0).abs() < 1e-12);
}

#[test]
fn staleness_marker_ends_a_series() {
    let h = Head::new(HeadOptions::default()).unwrap();
    let l = Labels::from_pairs([("__name__", "x")]).unwrap();
    let mut app = h.appender();
    app.append(None, &l, Sample::new(0, 1.0)).unwrap();
    app.append(None, &l, Sample::new(10_000, STALE_NAN)).unwrap();
    app.commit().unwrap();
    let e = Engine::default();
    let at = |t| e.instant(&h.querier(), &parse("x").unwrap(), t).unwrap().value;
    assert!(matches!(at(5_000), Value::Vector(v) if v.len() == 1));
    assert!(matches!(at(20_000), Value::Vector(v) if v.is_empty()));
}

#[test]
fn lookback_is_configurable_and_left_open() {
    let h = head(1);
    let e = Engine::new(EngineOptions { lookback_delta_ms: 60_000, ..EngineOptions::default() });
    let expr = parse("up_total").unwrap();
    // The last sample is at 585 s; (645 s - 60 s, 645 s] excludes it.
    let r = e.instant(&h.querier(), &expr, 645_000).unwrap();
    assert!(matches!(r.value, Value::Vector(v) if v.is_empty()));
    let r = e.instant(&h.querier(), &expr, 644_999).unwrap();
    assert!(matches!(r.value, Value::Vector(v) if v.len() == 1));
}

#[test]
fn sample_limit_stops_the_query() {
    let h = head(10);
    let e = Engine::new(EngineOptions { max_samples: 100, ..EngineOptions::default() });
    let err = e.instant(&h.querier(), &parse("sum(up_total)").unwrap(), 600_000).unwrap_err();
    assert_eq!(err, PromqlError::TooManySamples);
    assert_eq!(err.to_string(), "query processing would load too many samples into memory in query execution");
}

#[test]
fn sample_limit_counts_what_is_held_at_once() {
    // 200 series x 40 samples: 8,000 samples loaded in all, 40 per series.
    let h = head(200);
    let q = h.querier();
    let e = Engine::new(EngineOptions { max_samples: 1_000, ..EngineOptions::default() });
    // Streamed folds hold one series' samples at a time plus a few states.
    for text in ["count(up_total)", "sum(rate(up_total[1m]))", "max(up_total)"] {
        let r = e.range(&q, &parse(text).unwrap(), 60_000, 585_000, 15_000);
        assert!(r.is_ok(), "{text}: {r:?}");
    }
    // Materialising every series (selector, per-step evaluation, or a result
    // over the limit) is refused with Prometheus's error.
    for text in ["up_total", "rate(up_total[1m]) * 2", "sort(up_total)", "topk(200, up_total)"] {
        let err = e.range(&q, &parse(text).unwrap(), 60_000, 585_000, 15_000).unwrap_err();
        assert_eq!(err, PromqlError::TooManySamples, "{text}");
    }
}

#[test]
fn cancellation_and_deadline() {
    let h = head(2);
    let expr = parse("max_over_time(up_total[5m:15s])").unwrap();
    let token = CancelToken::new();
    token.cancel();
    let e = Engine::default();
    let err = e.range_with(&h.querier(), &expr, 0, 600_000, 15_000, &token).unwrap_err();
    assert_eq!(err, PromqlError::Canceled);
    let e = Engine::new(EngineOptions { timeout: Some(Duration::ZERO), ..EngineOptions::default() });
    let err = e.range(&h.querier(), &expr, 0, 600_000, 15_000).unwrap_err();
    assert_eq!(err, PromqlError::Timeout);
    assert!(err.is_retryable());
}

#[test]
fn errors_and_annotations_use_prometheus_wording() {
    let h = head(2);
    let e = Engine::default();
    let q = h.querier();
    let err = e.instant(&q, &parse("up_total + on() up_total").unwrap(), 300_000).unwrap_err();
    assert!(err.to_string().starts_with("found duplicate series for the match group {}"));
    assert!(err.is_bad_request());
    let r = e.instant(&q, &parse("rate(up_total[1m])").unwrap(), 300_000).unwrap();
    assert!(r.annotations.is_empty());
    let h2 = Head::new(HeadOptions::default()).unwrap();
    let mut app = h2.appender();
    let l = Labels::from_pairs([("__name__", "temp")]).unwrap();
    app.append(None, &l, Sample::new(0, 1.0)).unwrap();
    app.append(None, &l, Sample::new(15_000, 2.0)).unwrap();
    app.commit().unwrap();
    let r = e.instant(&h2.querier(), &parse("rate(temp[1m])").unwrap(), 30_000).unwrap();
    assert_eq!(
        r.annotations.infos.iter().next().map(String::as_str),
        Some("PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"temp\"")
    );
    let err = e.range(&q, &parse("up_total[5m]").unwrap(), 0, 10, 1).unwrap_err();
    assert!(err.to_string().contains("for range query, must be Scalar or instant Vector"));
    assert!(matches!(parse("sum(").unwrap_err(), PromqlError::Parse(_)));
}

#[test]
fn absurd_times_saturate_instead_of_panicking() {
    let h = head(1);
    let e = Engine::default();
    let q = h.querier();
    for query in [
        "up_total offset 100000000y",
        "up_total offset -100000000y",
        "rate(up_total[100000000y])",
        "up_total @ 9999999999999",
        "max_over_time(up_total[1000y:1y] @ -9999999999999)",
    ] {
        let Ok(expr) = parse(query) else { continue };
        e.instant(&q, &expr, i64::MAX).unwrap();
        e.instant(&q, &expr, i64::MIN).unwrap();
        e.range(&q, &expr, i64::MIN, i64::MAX, i64::MAX).unwrap();
    }
}
