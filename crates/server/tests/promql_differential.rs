//! Differential test against the real Prometheus from Debian (2.42): the same
//! generated data is remote-written into both, then a few hundred instant and range
//! queries over every function and operator family run on both HTTP APIs and the
//! results are compared series by series.
//!
//! Sample timestamps sit 7 s off the 15 s grid and every evaluation time and range
//! is a multiple of 15 s, so no sample ever falls on a range boundary, where
//! Prometheus 2.x (left-closed) and 3.x (left-open, which Watchkeeper follows) differ.
//! Functions that 2.42 lacks are not compared; KNOWN_DIFFERENCES lists the queries
//! whose answers differ by design, each with the reason.

mod common;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TestEnv, request};
use serde_json::Value;
use wk_ingest::remote_write::proto::{Label, Sample, TimeSeries, WriteRequest};

struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const STEP_MS: i64 = 15_000;
const POINTS: i64 = 240; // one hour

/// Queries whose answers differ between Prometheus 2.42 and Prometheus 3.x semantics.
const SUBQUERY_BOUNDARY: &str = "Prometheus 3 evaluates a subquery over (t-range, t] and 2.42 over [t-range, t]; \
     subquery steps are aligned to the step, so the left boundary point is in 2.42's answer and not in ours";
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    ("avg_over_time(http_requests_total[15m:30s])", SUBQUERY_BOUNDARY),
    ("avg_over_time(room_temperature_celsius[15m:30s])", SUBQUERY_BOUNDARY),
    ("avg_over_time(request_duration_seconds_bucket[15m:30s])", SUBQUERY_BOUNDARY),
];

/// Prometheus 3 renamed `holt_winters` to `double_exponential_smoothing`; the same
/// computation is compared under each version's name.
fn ours_name(query: &str) -> String {
    query.replace("holt_winters", "double_exponential_smoothing")
}

fn series_set(base: i64) -> Vec<TimeSeries> {
    let mut out = Vec::new();
    let label = |n: &str, v: &str| Label { name: n.into(), value: v.into() };
    let ts = |i: i64| base + i * STEP_MS + 7_000;
    for (i, instance) in ["a:9100", "b:9100", "c:9100"].iter().enumerate() {
        for (j, code) in ["200", "500"].iter().enumerate() {
            let rate = (i + 1) as f64 * if j == 0 { 1.0 } else { 0.1 };
            let samples = (0..POINTS)
                .map(|k| {
                    // A counter reset two thirds of the way for instance c.
                    let v = if i == 2 && k >= 160 { (k - 160) as f64 * rate * 15.0 } else { k as f64 * rate * 15.0 };
                    Sample { value: v, timestamp: ts(k) }
                })
                .collect();
            out.push(TimeSeries {
                labels: vec![
                    label("__name__", "http_requests_total"),
                    label("code", code),
                    label("instance", instance),
                    label("job", "api"),
                ],
                samples,
                exemplars: vec![],
                histograms: vec![],
            });
        }
        let samples = (0..POINTS)
            .map(|k| Sample { value: 20.0 + (i as f64) + ((k as f64) / 10.0).sin() * 3.0, timestamp: ts(k) })
            .collect();
        out.push(TimeSeries {
            labels: vec![
                label("__name__", "room_temperature_celsius"),
                label("instance", instance),
                label("job", "sensors"),
            ],
            samples,
            exemplars: vec![],
            histograms: vec![],
        });
        let mut cumulative = 0.0;
        for (b, le) in ["0.1", "0.5", "1", "+Inf"].iter().enumerate() {
            cumulative += (b + 1) as f64 * (i + 1) as f64;
            let per_step = cumulative;
            out.push(TimeSeries {
                labels: vec![
                    label("__name__", "request_duration_seconds_bucket"),
                    label("instance", instance),
                    label("job", "api"),
                    label("le", le),
                ],
                samples: (0..POINTS).map(|k| Sample { value: k as f64 * per_step, timestamp: ts(k) }).collect(),
                exemplars: vec![],
                histograms: vec![],
            });
        }
    }
    out
}

async fn remote_write(addr: SocketAddr, series: &[TimeSeries]) {
    let response = common::remote_write(addr, &WriteRequest { timeseries: series.to_vec(), metadata: vec![] }).await;
    assert!(response.status == 204 || response.status == 200, "{addr}: {response:?}");
}

fn queries() -> Vec<String> {
    let selectors = ["http_requests_total", "room_temperature_celsius", "request_duration_seconds_bucket"];
    let mut q: Vec<String> = Vec::new();
    for s in selectors {
        q.push(s.to_owned());
        q.push(format!("{s}{{instance=~\"a.*|b.*\"}}"));
        q.push(format!("{s}{{instance!=\"a:9100\"}}"));
        q.push(format!("{s} offset 5m"));
        for f in ["rate", "irate", "increase", "delta", "idelta", "deriv", "resets", "changes"] {
            q.push(format!("{f}({s}[5m])"));
        }
        for f in [
            "avg_over_time",
            "min_over_time",
            "max_over_time",
            "sum_over_time",
            "count_over_time",
            "last_over_time",
            "stddev_over_time",
            "stdvar_over_time",
            "present_over_time",
        ] {
            q.push(format!("{f}({s}[10m])"));
        }
        q.push(format!("quantile_over_time(0.9, {s}[10m])"));
        q.push(format!("predict_linear({s}[10m], 600)"));
        q.push(format!("timestamp({s})"));
        for a in ["sum", "avg", "min", "max", "count", "group", "stddev", "stdvar"] {
            q.push(format!("{a} by (instance) ({s})"));
            q.push(format!("{a} without (instance) ({s})"));
        }
        q.push(format!("topk(2, {s})"));
        q.push(format!("bottomk(1, {s})"));
        q.push(format!("quantile by (job) (0.5, {s})"));
        q.push(format!("count_values(\"value\", round({s}))"));
        for m in ["abs", "ceil", "floor", "exp", "ln", "log2", "log10", "sqrt", "sgn"] {
            q.push(format!("{m}({s})"));
        }
        q.push(format!("round({s}, 0.5)"));
        q.push(format!("clamp({s}, 10, 100)"));
        q.push(format!("clamp_min({s}, 21)"));
        q.push(format!("clamp_max({s}, 21)"));
        q.push(format!("{s} > 20"));
        q.push(format!("{s} > bool 20"));
        q.push(format!("{s} * 2 + 1"));
        q.push(format!("-{s}"));
        q.push(format!("{s} % 7"));
        q.push(format!("{s} ^ 2"));
        q.push(format!("absent({s}{{job=\"nope\"}})"));
        q.push(format!("absent_over_time({s}{{job=\"nope\"}}[5m])"));
        q.push(format!("label_replace({s}, \"host\", \"$1\", \"instance\", \"(.*):.*\")"));
        q.push(format!("label_join({s}, \"both\", \"/\", \"instance\", \"job\")"));
        q.push(format!("sort(sum by (instance) ({s}))"));
        q.push(format!("sort_desc(sum by (instance) ({s}))"));
        q.push(format!("max_over_time(rate({s}[5m])[15m:1m])"));
        q.push(format!("avg_over_time({s}[15m:30s])"));
    }
    q.extend(
        [
            "sum by (instance) (rate(http_requests_total[5m]))",
            "sum by (code) (rate(http_requests_total[5m])) / ignoring(code) group_left sum(rate(http_requests_total[5m]))",
            "rate(http_requests_total{code=\"500\"}[5m]) / on(instance, job) rate(http_requests_total{code=\"200\"}[5m])",
            "http_requests_total and on(instance) room_temperature_celsius",
            "http_requests_total unless on(instance) room_temperature_celsius{instance=\"a:9100\"}",
            "room_temperature_celsius or http_requests_total",
            "histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))",
            "histogram_quantile(0.5, sum by (le, instance) (rate(request_duration_seconds_bucket[5m])))",
            "histogram_quantile(0.99, rate(request_duration_seconds_bucket[5m]))",
            "scalar(sum(room_temperature_celsius))",
            "vector(1) + scalar(count(room_temperature_celsius))",
            "time()",
            "minute(vector(time()))",
            "hour(vector(time()))",
            "day_of_week(vector(time()))",
            "pi() * 2",
            "count(count by (instance) (http_requests_total))",
            "sum(http_requests_total) / count(http_requests_total)",
            "rate(http_requests_total[1m] offset 10m)",
            "holt_winters(room_temperature_celsius[10m], 0.5, 0.5)",
            "sin(room_temperature_celsius)",
            "atan2(room_temperature_celsius, 2)",
            "room_temperature_celsius == on(instance) max by (instance) (room_temperature_celsius)",
        ]
        .map(str::to_owned),
    );
    q
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The result normalised for comparison: resultType and (labels → points).
/// A result type and its series (labels as JSON → points).
type Normalised = (String, BTreeMap<String, Vec<(f64, f64)>>);

fn normalise(json: &Value) -> Result<Normalised, String> {
    if json["status"] != "success" {
        return Err(json["errorType"].as_str().unwrap_or("?").to_owned());
    }
    let kind = json["data"]["resultType"].as_str().unwrap_or_default().to_owned();
    let result = &json["data"]["result"];
    let point =
        |p: &Value| (p[0].as_f64().unwrap_or(f64::NAN), p[1].as_str().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN));
    let mut out = BTreeMap::new();
    match kind.as_str() {
        "scalar" => {
            out.insert(String::new(), vec![point(result)]);
        }
        "vector" | "matrix" => {
            for s in result.as_array().cloned().unwrap_or_default() {
                let labels = serde_json::to_string(&s["metric"]).unwrap();
                let points = match s.get("values") {
                    Some(values) => values.as_array().unwrap().iter().map(point).collect(),
                    None => vec![point(&s["value"])],
                };
                out.insert(labels, points);
            }
        }
        _ => {}
    }
    Ok((kind, out))
}

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn compare(ours: &Value, theirs: &Value) -> Result<(), String> {
    let (a, b) = (normalise(ours), normalise(theirs));
    match (a, b) {
        (Err(x), Err(y)) if x == y => Ok(()),
        (Ok((ka, sa)), Ok((kb, sb))) => {
            if ka != kb {
                return Err(format!("result type {ka} vs {kb}"));
            }
            if sa.keys().collect::<Vec<_>>() != sb.keys().collect::<Vec<_>>() {
                return Err(format!("series differ:\n  ours   {:?}\n  theirs {:?}", sa.keys(), sb.keys()));
            }
            for (labels, pa) in &sa {
                let pb = &sb[labels];
                if pa.len() != pb.len() || pa.iter().zip(pb).any(|(x, y)| !same(x.0, y.0) || !same(x.1, y.1)) {
                    return Err(format!("{labels}: ours {pa:?}\n  theirs {pb:?}"));
                }
            }
            Ok(())
        }
        (a, b) => Err(format!("ours {:?} vs theirs {:?}", a.map(|x| x.0), b.map(|x| x.0))),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_results_match_prometheus() {
    let env = TestEnv::new("host_agent:\n  enabled: false\n");
    let server = env.start().await;
    let ours = server.local_addr();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let theirs: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    std::fs::write(env.path().join("prometheus.yml"), "global:\n  scrape_interval: 1h\n").unwrap();
    let _prometheus = Prometheus(
        Command::new("prometheus")
            .arg(format!("--config.file={}", env.path().join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", env.path().join("prom-data").display()))
            .arg(format!("--web.listen-address={theirs}"))
            .arg("--web.enable-remote-write-receiver")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus not found: scripts/test.sh installs Debian's prometheus package"),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if tokio::net::TcpStream::connect(theirs).await.is_ok()
            && request(theirs, "GET", "/-/ready", &[], "").await.status == 200
        {
            break;
        }
        assert!(Instant::now() < deadline, "Prometheus did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let base = (now - (POINTS + 4) * STEP_MS) / 60_000 * 60_000;
    let data = series_set(base);
    remote_write(ours, &data).await;
    remote_write(theirs, &data).await;

    let end_s = (base + (POINTS - 2) * STEP_MS) / 1000;
    let start_s = end_s - 30 * 60;
    let mut mismatches = Vec::new();
    let mut compared = 0;
    for query in queries() {
        let known = KNOWN_DIFFERENCES.iter().any(|(q, _)| *q == query);
        let paths = |q: &str| {
            let encoded = percent_encode(q);
            [
                format!("/api/v1/query?query={encoded}&time={end_s}"),
                format!("/api/v1/query?query={encoded}&time={}", end_s - 17 * 15),
                format!("/api/v1/query_range?query={encoded}&start={start_s}&end={end_s}&step=60"),
            ]
        };
        for (our_path, path) in paths(&ours_name(&query)).into_iter().zip(paths(&query)) {
            let a: Value = serde_json::from_str(&request(ours, "GET", &our_path, &[], "").await.body).unwrap();
            let b: Value = serde_json::from_str(&request(theirs, "GET", &path, &[], "").await.body).unwrap();
            compared += 1;
            if let Err(difference) = compare(&a, &b)
                && !known
            {
                mismatches.push(format!("{query} [{}]: {difference}", path.split('?').next().unwrap()));
            }
        }
    }
    assert!(compared > 300, "only {compared} comparisons");
    assert!(mismatches.is_empty(), "{} of {compared} comparisons differ:\n{}", mismatches.len(), mismatches.join("\n"));
    server.shutdown().await.unwrap();
}
