//! A range query must give, at every step, exactly what an instant query at that
//! step gives: the range evaluator's whole-range paths (selectors, range
//! functions over selectors, aggregations of them, and those aggregations below
//! other operators) are checked against instant queries, to the bit, on data
//! with gaps, staleness markers, NaN, counter resets and equal values (for
//! `topk` ties).

use std::collections::BTreeMap;

use wk_model::{Labels, STALE_NAN, Sample};
use wk_promql::{Engine, Value, parse};
use wk_storage::Appender;
use wk_tsdb::{Db, DbOptions, Head, HeadOptions};

const STEP: i64 = 15_000;
const SCRAPES: i64 = 120;

/// 3 jobs x 4 instances x 3 modes of counters `c_total` and `d_total`, a gauge
/// `g`, and a histogram `h_bucket`; values from a fixed xorshift sequence.
fn head() -> Head {
    let head = Head::new(HeadOptions::default()).unwrap();
    let mut app = head.appender();
    fill(&mut app, 4);
    app.commit().unwrap();
    drop(app);
    head
}

/// Appends the data of [`head`] with `instances` instances per job.
fn fill(app: &mut impl Appender, instances: usize) {
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for job in ["a", "b", "c"] {
        for inst in 0..instances {
            let inst = format!("i{inst}");
            for mode in ["user", "system", "idle"] {
                let l = |name: &str| {
                    Labels::from_pairs([("__name__", name), ("instance", &inst), ("job", job), ("mode", mode)]).unwrap()
                };
                let (c, g, d) = (l("c_total"), l("g"), l("d_total"));
                let (mut counter, mut plain) = (0.0, 0.0);
                for k in 0..SCRAPES {
                    let r = next();
                    let t = k * STEP + (r % 3) as i64 * 1000;
                    // `d_total`: a counter with resets but no staleness markers
                    // (where `rate` skips scanning windows without a reset).
                    plain = if r % 23 == 5 { (r % 3) as f64 } else { plain + (r % 11) as f64 * 0.25 };
                    app.append(None, &d, Sample::new(t, plain)).unwrap();
                    match r % 29 {
                        0 => continue,
                        1 => counter = 0.0,
                        2 => {
                            app.append(None, &c, Sample::new(t, STALE_NAN)).unwrap();
                            continue;
                        }
                        _ => counter += (r % 7) as f64,
                    }
                    app.append(None, &c, Sample::new(t, counter)).unwrap();
                    let gv = match r % 31 {
                        3 => f64::NAN,
                        4 => f64::INFINITY,
                        _ => (r % 5) as f64,
                    };
                    app.append(None, &g, Sample::new(t, gv)).unwrap();
                }
            }
            let mut cum = [0.0; 4];
            for k in 0..SCRAPES {
                for (b, le) in ["0.1", "1", "10", "+Inf"].iter().enumerate() {
                    cum[b] += (next() % 4) as f64;
                    let l =
                        Labels::from_pairs([("__name__", "h_bucket"), ("instance", &inst), ("job", job), ("le", le)])
                            .unwrap();
                    let v: f64 = cum[..=b].iter().sum();
                    app.append(None, &l, Sample::new(k * STEP, v)).unwrap();
                }
            }
        }
    }
}

const QUERIES: &[&str] = &[
    "g",
    "c_total{mode=~\"user|idle\"}",
    "g offset 1m",
    "g @ 600",
    "rate(c_total[1m])",
    "increase(c_total[2m] offset 30s)",
    "rate(d_total[1m])",
    "increase(d_total[2m] offset 30s)",
    "sum by (job) (rate(d_total[1m]))",
    "irate(c_total[1m])",
    "resets(c_total[5m])",
    "avg_over_time(g[2m])",
    "quantile_over_time(0.3, g[2m])",
    "last_over_time(g[1m])",
    "predict_linear(g[2m], 60)",
    "sum(g)",
    "sum by (job) (rate(c_total[1m]))",
    "sum without (mode) (g)",
    "sum by (__name__) (g)",
    "sum by (__name__) (rate(c_total[1m]))",
    "avg by (instance) (g)",
    "min by (job) (g)",
    "max by (job) (rate(c_total[1m]))",
    "count by (mode) (c_total)",
    "group by (job) (g)",
    "stddev by (job) (g)",
    "stdvar(rate(c_total[1m]))",
    "quantile by (job) (0.75, g)",
    "quantile(scalar(sum(g)) / 100, g)",
    "topk(2, g)",
    "topk by (job) (3, rate(c_total[1m]))",
    "bottomk(4, g)",
    "limitk(2, g)",
    "limit_ratio(0.5, g)",
    "limit_ratio(-0.3, g)",
    "topk(scalar(count(g)) / 10, g)",
    "histogram_quantile(0.9, sum by (le) (rate(h_bucket[2m])))",
    "histogram_quantile(0.5, sum by (le, job) (rate(h_bucket[2m])))",
    "sum(rate(c_total[1m])) / sum(rate(c_total[2m]))",
    "max(sum by (job) (g))",
    "abs(sum by (instance) (g)) > 3",
    "topk(1, sum by (job) (g))",
    "count_values(\"v\", g)",
    "max_over_time(sum by (job) (rate(c_total[1m]))[5m:30s])",
    // Subqueries whose inner steps are evaluated over a whole range (and range
    // functions over them): a range function, a selector and aggregations
    // inside, with offsets, `@`, steps that do not divide the outer step,
    // windows wider than the data, more inner steps than one chunk, annotations
    // from inside, per-step scalar arguments, and nesting.
    "max_over_time(rate(c_total[1m])[5m:30s])",
    "max_over_time(rate(c_total[1m])[5m:45s])",
    "max_over_time(rate(g[1m])[2m:30s])",
    "avg_over_time(g[3m:20s] offset 1m)",
    "quantile_over_time(0.5, (g offset 30s)[4m:1m])",
    "min_over_time(sum by (job) (g)[2m:15s])",
    "sum_over_time(topk(2, g)[2m:30s])",
    "max_over_time(rate(c_total[1m])[5m:30s] @ 900)",
    "rate(sum by (job) (c_total)[3m:15s])",
    "count_over_time(rate(c_total[1m])[1h:1m])",
    "last_over_time(g[10m:7s])",
    "sum(max_over_time(rate(c_total[1m])[5m:30s]))",
    "max_over_time(max_over_time(rate(c_total[1m])[2m:30s])[4m:1m])",
    "max_over_time(quantile(scalar(sum(g)) / 100, g)[2m:30s])",
    "stddev_over_time(sum by (__name__) (rate(c_total[1m]))[2m:20s])",
    "max_over_time((rate(c_total[1m]) * 8)[5m:30s])",
    "quantile_over_time(scalar(sum(g)) / 40, g[3m:1m])",
    "max_over_time(rate(c_total[1m])[5m:30s]) * 2",
    "predict_linear(sum by (job) (g)[4m:20s] offset 30s, 60)",
    // A whole-range vector combined with a number.
    "rate(c_total[1m]) * 8",
    "8 * rate(c_total[1m])",
    "g > 2",
    "2 < g",
    "g > bool 2",
    "2 >= bool sum by (job) (g)",
    "sum by (job) (rate(c_total[1m])) / 60",
    "(rate(c_total[1m]) * 8) + 1",
    "topk(2, g) - 1",
    "1 / last_over_time(g[1m]) ^ 2",
    "c_total % 3 == 1",
    // Whole-range vectors combined with each other: one-to-one, filtering and
    // `bool` comparisons, `on`/`ignoring`, `group_left`/`group_right` (with
    // included labels), a ranked (`topk`) side, and inside a subquery.
    "rate(c_total[1m]) / g",
    "g > c_total",
    "c_total <= bool g",
    "(g - c_total) * 2",
    "g / on(job, instance) group_left sum by (job, instance) (g)",
    "sum by (job, instance) (g) - on(job, instance) group_right g",
    "rate(c_total[1m]) / ignoring(mode) group_left sum without (mode) (rate(c_total[1m]))",
    "g * on(job, instance, mode) group_left(le) max by (job, instance, mode, le) (c_total)",
    "topk(5, g) > bool on(job, instance, mode) rate(c_total[1m])",
    "sum by (job) (g) >= ignoring(mode) max by (job) (g)",
    "max_over_time((rate(c_total[1m]) / g)[5m:30s])",
    "sum(rate(c_total[1m])) / count(g)",
];

/// The points of a result by series, with values as bits (so NaN compares).
fn points(v: Value, at: i64) -> BTreeMap<String, Vec<(i64, u64)>> {
    let mut out: BTreeMap<String, Vec<(i64, u64)>> = BTreeMap::new();
    match v {
        Value::Vector(v) => {
            for s in v {
                out.entry(s.metric.to_string()).or_default().push((at, s.f.to_bits()));
            }
        }
        Value::Scalar { v, .. } => out.entry(String::new()).or_default().push((at, v.to_bits())),
        Value::Matrix(m) => {
            for s in m {
                out.entry(s.metric.to_string()).or_default().extend(s.points.iter().map(|p| (p.t, p.v.to_bits())));
            }
        }
        Value::String { .. } => panic!("string result"),
    }
    out
}

#[test]
fn every_step_of_a_range_query_equals_an_instant_query() {
    let h = head();
    check(&h.querier(), QUERIES);
}

/// Aggregations streamed from a selection large enough for storage to split
/// it over reader threads (which read and evaluate the series while the query
/// thread folds them), from blocks and the head, against instant queries,
/// which read on one thread; `rate` of a gauge adds an info from the readers.
#[test]
fn split_streamed_aggregations_equal_instant_queries() {
    let dir = tempfile::tempdir().unwrap();
    let options = DbOptions { block_range_ms: 10 * 60_000, retention_ms: 0, ..DbOptions::default() };
    let (db, _) = Db::open(dir.path(), options).unwrap();
    let mut app = db.appender();
    // 540 series of each metric: two readers of at least 256 series each.
    fill(&mut app, 60);
    app.commit().unwrap();
    drop(app);
    db.maintain().unwrap();
    assert!(!db.blocks().is_empty(), "part of the data should be in blocks");
    check(
        &db.querier(),
        &[
            "sum by (job) (rate(c_total[1m]))",
            "sum by (job) (rate(d_total[1m]))",
            "count by (mode) (c_total)",
            "avg without (instance) (g)",
            "stdvar(rate(c_total[1m]))",
            "max by (job) (g)",
            "sum(rate(g[1m]))",
            "histogram_quantile(0.9, sum by (le) (rate(h_bucket[2m])))",
        ],
    );
}

/// Checks every query of `queries`: a range query over the data equals the
/// instant queries at its steps, points (to the bit) and annotations.
fn check(q: &dyn wk_storage::Querier, queries: &[&str]) {
    let e = Engine::default();
    let (start, end, step) = (150_000, (SCRAPES - 1) * STEP, 30_000);
    for text in queries {
        let expr = parse(text).unwrap();
        let range = e.range(q, &expr, start, end, step).unwrap();
        let mut want: BTreeMap<String, Vec<(i64, u64)>> = BTreeMap::new();
        let mut annotations = wk_promql::Annotations::default();
        let mut t = start;
        while t <= end {
            let r = e.instant(q, &expr, t).unwrap();
            annotations.warnings.extend(r.annotations.warnings);
            annotations.infos.extend(r.annotations.infos);
            for (k, p) in points(r.value, t) {
                want.entry(k).or_default().extend(p);
            }
            t += step;
        }
        assert!(!want.is_empty(), "{text}: the data should give a result");
        assert_eq!(points(range.value, 0), want, "{text}");
        assert_eq!(range.annotations, annotations, "{text}");
    }
}
