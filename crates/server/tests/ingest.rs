//! Push ingestion through a running server over real sockets: remote_write, OTLP and
//! Influx line protocol, good and bad input. Stored data is read back through the
//! storage traits.

mod common;

use common::{REMOTE_WRITE_HEADERS, TestEnv, post, snappy};
use prost::Message;
use wk_ingest::remote_write::proto::{Label, Sample, TimeSeries, WriteRequest};
use wk_model::{MatchOp, Matcher};

fn series(name: &str, extra: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    let mut labels = vec![Label { name: "__name__".into(), value: name.into() }];
    labels.extend(extra.iter().map(|(n, v)| Label { name: (*n).into(), value: (*v).into() }));
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    TimeSeries {
        labels,
        samples: samples.iter().map(|(t, v)| Sample { value: *v, timestamp: *t }).collect(),
        exemplars: vec![],
        histograms: vec![],
    }
}

fn stored(server: &wk_server::Server, name: &str) -> Vec<(String, Vec<(i64, f64)>)> {
    let store = server.storage().queryable();
    let querier = store.querier();
    let matchers = [Matcher::new(MatchOp::Eq, "__name__", name).unwrap()];
    querier
        .select(&matchers, i64::MIN, i64::MAX)
        .unwrap()
        .map(|s| {
            let s = s.unwrap();
            (format!("{:?}", s.labels), s.samples.iter().map(|x| (x.t, x.v)).collect())
        })
        .collect()
}

fn env() -> TestEnv {
    TestEnv::new("host_agent:\n  enabled: false\n")
}

#[tokio::test]
async fn remote_write_stores_samples_and_reports_rejections() {
    let env = env();
    let server = env.start().await;
    let addr = server.local_addr();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let request = WriteRequest {
        timeseries: vec![
            series("rw_test_total", &[("job", "a")], &[(now - 2000, 1.0), (now - 1000, 2.0)]),
            series("rw_special", &[("kind", "nan")], &[(now - 2000, f64::NAN), (now - 1000, f64::INFINITY)]),
        ],
        metadata: vec![],
    };
    let ok = post(addr, "/api/v1/write", REMOTE_WRITE_HEADERS, &snappy(&request)).await;
    assert_eq!(ok.status, 204, "{ok:?}");
    assert_eq!(ok.header("X-Prometheus-Remote-Write-Samples-Written"), Some("4"));
    assert_eq!(stored(&server, "rw_test_total")[0].1, vec![(now - 2000, 1.0), (now - 1000, 2.0)]);
    let special = &stored(&server, "rw_special")[0].1;
    assert!(special[0].1.is_nan() && special[1].1 == f64::INFINITY, "NaN and Inf are valid samples");

    // An older sample is out of order; the new one in the same request is kept.
    let request = WriteRequest {
        timeseries: vec![series("rw_test_total", &[("job", "a")], &[(now - 5000, 9.0), (now, 3.0)])],
        metadata: vec![],
    };
    let partial = post(addr, "/api/v1/write", REMOTE_WRITE_HEADERS, &snappy(&request)).await;
    assert_eq!(partial.status, 400, "{partial:?}");
    assert!(partial.body.contains("1 out_of_order"), "{}", partial.body);
    assert_eq!(stored(&server, "rw_test_total")[0].1.last(), Some(&(now, 3.0)));

    let metrics = common::request(addr, "GET", "/metrics", &[], "").await.body;
    assert!(metrics.contains("watchkeeper_ingest_samples_total{protocol=\"remote_write\"} 5"), "{metrics}");
    assert!(
        metrics
            .contains("watchkeeper_ingest_samples_rejected_total{protocol=\"remote_write\",reason=\"out_of_order\"} 1"),
        "{metrics}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_remote_write_requests_get_clear_4xx_and_store_nothing() {
    let env = env();
    let server = env.start().await;
    let addr = server.local_addr();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let good = snappy(&WriteRequest { timeseries: vec![series("never_stored", &[], &[(now, 1.0)])], metadata: vec![] });

    let truncated = post(addr, "/api/v1/write", REMOTE_WRITE_HEADERS, &good[..good.len() / 2]).await;
    assert_eq!(truncated.status, 400, "{truncated:?}");
    assert!(truncated.body.to_lowercase().contains("snappy"), "{}", truncated.body);

    let not_protobuf = snap::raw::Encoder::new().compress_vec(b"\xff\xff\xff\xff not protobuf").unwrap();
    let invalid = post(addr, "/api/v1/write", REMOTE_WRITE_HEADERS, &not_protobuf).await;
    assert_eq!(invalid.status, 400, "{invalid:?}");

    let wrong_type =
        post(addr, "/api/v1/write", &[("Content-Type", "text/plain"), ("Content-Encoding", "snappy")], &good).await;
    assert_eq!(wrong_type.status, 415, "{wrong_type:?}");

    let huge = "x".repeat(100_000);
    let huge_label = snappy(&WriteRequest {
        timeseries: vec![series("huge_label", &[("big", &huge)], &[(now, 1.0)])],
        metadata: vec![],
    });
    let rejected = post(addr, "/api/v1/write", REMOTE_WRITE_HEADERS, &huge_label).await;
    assert_eq!(rejected.status, 400, "{rejected:?}");
    assert!(rejected.body.contains("big"), "the label is named: {}", rejected.body);

    let empty = post(addr, "/api/v1/write", REMOTE_WRITE_HEADERS, &snappy(&WriteRequest::default())).await;
    assert_eq!(empty.status, 204, "an empty request is valid");

    assert!(stored(&server, "never_stored").is_empty());
    assert!(stored(&server, "huge_label").is_empty());
    // The server is unharmed.
    assert_eq!(common::request(addr, "GET", "/-/healthy", &[], "").await.status, 200);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn influx_v1_and_v2() {
    let env = env();
    let server = env.start().await;
    let addr = server.local_addr();
    let now_s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let body = format!("cpu,host=a usage_idle=97.5,usage_user=2i {now_s}\n");
    let v1 = post(addr, "/write?db=telegraf&precision=s", &[], body.as_bytes()).await;
    assert_eq!(v1.status, 204, "{v1:?}");
    assert_eq!(stored(&server, "cpu_usage_idle")[0].1, vec![(now_s * 1000, 97.5)]);
    assert_eq!(stored(&server, "cpu_usage_user")[0].1, vec![(now_s * 1000, 2.0)]);

    let body = format!("mem,host=a used=10 {}\n", (now_s + 1) * 1000);
    let v2 = post(addr, "/api/v2/write?org=o&bucket=b&precision=ms", &[], body.as_bytes()).await;
    assert_eq!(v2.status, 204, "{v2:?}");
    assert_eq!(stored(&server, "mem_used")[0].1, vec![((now_s + 1) * 1000, 10.0)]);

    let bad = post(addr, "/api/v2/write?precision=ms", &[], b"mem,host=a used= 1\n").await;
    assert_eq!(bad.status, 400);
    let json: serde_json::Value = serde_json::from_str(&bad.body).unwrap();
    assert_eq!(json["code"], "invalid");
    assert!(json["message"].as_str().unwrap().contains("line 1"), "{json}");
    let bad_precision = post(addr, "/write?precision=fortnight", &[], b"m v=1\n").await;
    assert_eq!(bad_precision.status, 400);
    assert!(bad_precision.body.contains("error"), "{}", bad_precision.body);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn otlp_json_and_protobuf() {
    let env = env();
    let server = env.start().await;
    let addr = server.local_addr();
    let now_ns = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let document = |value: u64, t_ns: u64| {
        format!(
            r#"{{"resourceMetrics":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"checkout"}}}},{{"key":"host.name","value":{{"stringValue":"web-7"}}}}]}},
        "scopeMetrics":[{{"metrics":[{{"name":"requests","unit":"1","sum":{{"aggregationTemporality":2,"isMonotonic":true,
        "dataPoints":[{{"asInt":"{value}","timeUnixNano":"{t_ns}","attributes":[{{"key":"route","value":{{"stringValue":"/pay"}}}}]}}]}}}}]}}]}}]}}"#
        )
    };
    let json = document(42, now_ns);
    let ok = post(addr, "/v1/metrics", &[("Content-Type", "application/json")], json.as_bytes()).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.body, "{}");
    let total = stored(&server, "requests_total");
    let names = server.storage().queryable().querier().label_values("__name__", &[]).unwrap();
    assert_eq!(total.len(), 1, "{total:?} among {names:?}");
    assert!(total[0].0.contains("checkout") && total[0].0.contains("/pay"), "{}", total[0].0);
    assert_eq!(total[0].1[0].1, 42.0);
    let info = stored(&server, "target_info");
    assert!(info.len() == 1 && info[0].0.contains("web-7"), "resource attributes in target_info: {info:?}");

    let request: wk_ingest::otlp::proto::ExportMetricsServiceRequest =
        serde_json::from_str(&document(43, now_ns + 1_000_000_000)).unwrap();
    let proto =
        post(addr, "/v1/metrics", &[("Content-Type", "application/x-protobuf")], &request.encode_to_vec()).await;
    assert_eq!(proto.status, 200, "{proto:?}");
    assert_eq!(stored(&server, "requests_total")[0].1.len(), 2);

    let garbage = post(addr, "/v1/metrics", &[("Content-Type", "application/x-protobuf")], b"\xff\xff\xff").await;
    assert_eq!(garbage.status, 400);
    let wrong = post(addr, "/v1/metrics", &[("Content-Type", "text/csv")], b"a,b").await;
    assert_eq!(wrong.status, 415);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn storage_limits_and_out_of_order_window_come_from_the_config() {
    let env = TestEnv::new(
        "host_agent:\n  enabled: false\nstorage:\n  out_of_order_window: 5m\n  limits:\n    max_series: 2\n",
    );
    let server = env.start().await;
    let addr = server.local_addr();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let request = WriteRequest {
        timeseries: vec![
            series("limited", &[("n", "1")], &[(now, 1.0)]),
            series("limited", &[("n", "2")], &[(now, 2.0)]),
            series("limited", &[("n", "3")], &[(now, 3.0)]),
        ],
        metadata: vec![],
    };
    let answer = post(addr, "/api/v1/write", REMOTE_WRITE_HEADERS, &snappy(&request)).await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert!(answer.body.contains("1 max_series"), "{}", answer.body);
    assert_eq!(stored(&server, "limited").len(), 2);

    // Samples of existing series are still accepted, and one a minute late too.
    let late =
        WriteRequest { timeseries: vec![series("limited", &[("n", "1")], &[(now - 60_000, 0.5)])], metadata: vec![] };
    let answer = post(addr, "/api/v1/write", REMOTE_WRITE_HEADERS, &snappy(&late)).await;
    assert_eq!(answer.status, 204, "inside the 5m window: {answer:?}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn reported_metadata_is_served_by_the_metadata_api() {
    use wk_ingest::remote_write::proto::MetricMetadata;
    let env = env();
    let server = env.start().await;
    let addr = server.local_addr();
    // Prometheus sends metadata on its own, in requests without samples (type 1 = counter).
    let request = WriteRequest {
        timeseries: vec![],
        metadata: vec![MetricMetadata {
            r#type: 1,
            metric_family_name: "http_requests_total".into(),
            help: "Requests served.".into(),
            unit: String::new(),
        }],
    };
    assert_eq!(post(addr, "/api/v1/write", REMOTE_WRITE_HEADERS, &snappy(&request)).await.status, 204);
    let body = common::request(addr, "GET", "/api/v1/metadata?metric=http_requests_total", &[], "").await.body;
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        json["data"],
        serde_json::json!({"http_requests_total": [{"type": "counter", "help": "Requests served.", "unit": ""}]})
    );
    let bad = common::request(addr, "GET", "/api/v1/metadata?limit=many", &[], "").await;
    assert_eq!(bad.status, 400);
    server.shutdown().await.unwrap();
}
