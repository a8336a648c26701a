//! The Prometheus query API, targets and TSDB status of a running server, over real
//! sockets, on data written through remote_write and scraped from a local exporter.

mod common;

use std::time::Duration;

use common::{TestEnv, request};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wk_ingest::remote_write::proto::{Label, Sample, TimeSeries, WriteRequest};

async fn get_json(addr: std::net::SocketAddr, path: &str) -> (u16, Value) {
    let response = request(addr, "GET", path, &[], "").await;
    let json = serde_json::from_str(&response.body).unwrap_or_else(|e| panic!("{path}: {e}: {}", response.body));
    (response.status, json)
}

async fn write_series(addr: std::net::SocketAddr, name: &str, instance: &str, samples: &[(i64, f64)]) {
    let request = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![
                Label { name: "__name__".into(), value: name.into() },
                Label { name: "instance".into(), value: instance.into() },
                Label { name: "job".into(), value: "api".into() },
            ],
            samples: samples.iter().map(|(t, v)| Sample { value: *v, timestamp: *t }).collect(),
            exemplars: vec![],
            histograms: vec![],
        }],
        metadata: vec![],
    };
    let response = common::remote_write(addr, &request).await;
    assert_eq!(response.status, 204, "{response:?}");
}

#[tokio::test]
async fn query_api_answers_like_prometheus() {
    let env = TestEnv::new("host_agent:\n  enabled: false\n");
    let server = env.start().await;
    let addr = server.local_addr();
    // 10 minutes of a counter growing by 15 every 15 s, for two instances.
    let base = 1_700_000_000_000i64;
    let samples: Vec<(i64, f64)> = (0..40).map(|i| (base + i * 15_000, (i * 15) as f64)).collect();
    write_series(addr, "http_requests_total", "a", &samples).await;
    write_series(addr, "http_requests_total", "b", &samples).await;
    let at = (base + 39 * 15_000) as f64 / 1000.0;

    let (status, json) = get_json(addr, &format!("/api/v1/query?query=http_requests_total&time={at}")).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["status"], "success");
    assert_eq!(json["data"]["resultType"], "vector");
    let result = json["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 2);
    assert_eq!(result[0]["metric"]["__name__"], "http_requests_total");
    assert_eq!(result[0]["value"][1], "585");
    assert_eq!(result[0]["value"][0].as_f64().unwrap(), at);

    let q = "sum%20by%20(job)%20(rate(http_requests_total%5B5m%5D))";
    let (_, json) = get_json(addr, &format!("/api/v1/query?query={q}&time={at}")).await;
    let result = &json["data"]["result"][0];
    assert_eq!(result["metric"], serde_json::json!({"job": "api"}), "rate drops the name");
    let rate: f64 = result["value"][1].as_str().unwrap().parse().unwrap();
    assert!((rate - 2.0).abs() < 1e-9, "two instances at 1/s each: {rate}");

    let start = (base + 20 * 15_000) as f64 / 1000.0;
    let (_, json) =
        get_json(addr, &format!("/api/v1/query_range?query=http_requests_total&start={start}&end={at}&step=60")).await;
    assert_eq!(json["data"]["resultType"], "matrix");
    assert_eq!(json["data"]["result"][0]["values"].as_array().unwrap().len(), 5);

    // POST form, as Grafana sends it.
    let form = format!("query=http_requests_total%7Binstance%3D%22b%22%7D&time={at}");
    let posted =
        request(addr, "POST", "/api/v1/query", &[("Content-Type", "application/x-www-form-urlencoded")], &form).await;
    let json: Value = serde_json::from_str(&posted.body).unwrap();
    assert_eq!(json["data"]["result"].as_array().unwrap().len(), 1);

    let (_, json) = get_json(addr, "/api/v1/series?match%5B%5D=http_requests_total%7Binstance%3D%22a%22%7D").await;
    assert_eq!(json["data"], serde_json::json!([{"__name__": "http_requests_total", "instance": "a", "job": "api"}]));
    let (_, json) = get_json(addr, "/api/v1/labels").await;
    assert_eq!(json["data"], serde_json::json!(["__name__", "instance", "job"]));
    let (_, json) = get_json(addr, "/api/v1/label/instance/values").await;
    assert_eq!(json["data"], serde_json::json!(["a", "b"]));
    let (_, json) = get_json(addr, "/api/v1/status/buildinfo").await;
    assert_eq!(json["data"]["version"], env!("CARGO_PKG_VERSION"));
    let (_, json) = get_json(addr, "/api/v1/format_query?query=sum(rate(x%5B5m%5D))by(job)").await;
    assert_eq!(json["data"], "sum by (job) (rate(x[5m]))");
    let (_, json) = get_json(addr, "/api/v1/query_exemplars?query=up").await;
    assert_eq!(json["data"], serde_json::json!([]));
    let (_, json) = get_json(addr, "/api/v1/status/runtimeinfo").await;
    assert_eq!(json["data"]["reloadConfigSuccess"], true);
    let (_, json) = get_json(addr, "/api/v1/status/flags").await;
    assert!(json["data"]["storage.path"].as_str().unwrap().ends_with("data"), "{json}");
    let (_, json) = get_json(addr, "/api/v1/status/tsdb").await;
    assert_eq!(json["data"]["headStats"]["numSeries"], 2);
    assert_eq!(
        json["data"]["seriesCountByMetricName"][0],
        serde_json::json!({"name": "http_requests_total", "value": 2})
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn query_api_errors_like_prometheus() {
    let env = TestEnv::new("host_agent:\n  enabled: false\n");
    let server = env.start().await;
    let addr = server.local_addr();
    let cases: &[(&str, u16, &str, &str)] = &[
        ("/api/v1/query?query=sum(", 400, "bad_data", "invalid parameter \"query\""),
        ("/api/v1/query", 400, "bad_data", "query must not be empty"),
        ("/api/v1/query?query=up&time=yesterday", 400, "bad_data", "invalid parameter \"time\""),
        (
            "/api/v1/query_range?query=up&start=10&end=5&step=1",
            400,
            "bad_data",
            "end timestamp must not be before start time",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=10&step=0",
            400,
            "bad_data",
            "zero or negative query resolution step",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=100000&step=1",
            400,
            "bad_data",
            "exceeded maximum resolution of 11,000 points",
        ),
        ("/api/v1/series", 400, "bad_data", "no match[] parameter provided"),
        ("/api/v1/series?match%5B%5D=rate(x%5B5m%5D)", 400, "bad_data", "invalid parameter \"match[]\""),
    ];
    for (path, status, kind, message) in cases {
        let (got, json) = get_json(addr, path).await;
        assert_eq!(got, *status, "{path}: {json}");
        assert_eq!(json["status"], "error", "{path}");
        assert_eq!(json["errorType"], *kind, "{path}");
        assert!(json["error"].as_str().unwrap().contains(message), "{path}: {json}");
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn sample_limit_counts_samples_held_at_once_and_answers_422() {
    let env = TestEnv::new("host_agent:\n  enabled: false\nquery:\n  max_samples: 100\n");
    let server = env.start().await;
    let addr = server.local_addr();
    // 10 series x 40 samples: 400 loaded in all, 40 per series.
    let base = 1_700_000_000_000i64;
    let samples: Vec<(i64, f64)> = (0..40).map(|i| (base + i * 15_000, i as f64)).collect();
    for i in 0..10 {
        write_series(addr, "held_total", &format!("i{i}"), &samples).await;
    }
    let (start, end) = ((base + 60_000) as f64 / 1000.0, (base + 585_000) as f64 / 1000.0);
    let range = |q: &str| format!("/api/v1/query_range?query={q}&start={start}&end={end}&step=60");
    // A streamed fold holds one series at a time.
    let (status, json) = get_json(addr, &range("sum(rate(held_total%5B1m%5D))")).await;
    assert_eq!(status, 200, "{json}");
    // The raw selector must hold every series at once.
    let (status, json) = get_json(addr, &range("held_total")).await;
    assert_eq!(status, 422, "{json}");
    assert_eq!(json["errorType"], "execution");
    assert_eq!(json["error"], "query processing would load too many samples into memory in query execution");
    server.shutdown().await.unwrap();
}

/// Serves a fixed exposition on every request.
async fn exporter(body: &'static str) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {
                            let head = format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\r\n",
                                body.len()
                            );
                            if stream.write_all(head.as_bytes()).await.is_err()
                                || stream.write_all(body.as_bytes()).await.is_err()
                            {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn scrape_jobs_from_the_config_are_scraped_queryable_and_listed() {
    let target =
        exporter("# HELP demo_value A demo gauge.\n# TYPE demo_value gauge\ndemo_value{kind=\"x\"} 42\n").await;
    let env = TestEnv::new(&format!(
        "host_agent:\n  enabled: false\nscrape_configs:\n  - job_name: demo\n    scrape_interval: 200ms\n    scrape_timeout: 100ms\n    static_configs:\n      - targets: ['{target}']\n"
    ));
    let server = env.start().await;
    let addr = server.local_addr();
    let mut value = Value::Null;
    for _ in 0..100 {
        let (_, json) = get_json(addr, "/api/v1/query?query=demo_value").await;
        value = json["data"]["result"][0].clone();
        if !value.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(value["value"][1], "42", "{value}");
    assert_eq!(value["metric"]["job"], "demo");
    assert_eq!(value["metric"]["instance"], target.to_string());
    let (_, json) = get_json(addr, "/api/v1/query?query=up%7Bjob%3D%22demo%22%7D").await;
    assert_eq!(json["data"]["result"][0]["value"][1], "1");
    let federated = request(addr, "GET", "/federate?match%5B%5D=demo_value", &[], "").await;
    assert_eq!(federated.status, 200);
    let expected = format!("demo_value{{instance=\"{target}\",job=\"demo\",kind=\"x\"}} 42 ");
    assert!(federated.body.contains(&expected), "{}", federated.body);
    assert!(federated.body.starts_with("# TYPE demo_value untyped\n"), "{}", federated.body);
    // The target's HELP and TYPE reach the metadata API.
    let (_, json) = get_json(addr, "/api/v1/metadata?metric=demo_value").await;
    assert_eq!(json["data"]["demo_value"][0]["type"], "gauge", "{json}");
    assert_eq!(json["data"]["demo_value"][0]["help"], "A demo gauge.", "{json}");
    let (_, json) = get_json(addr, "/api/v1/targets").await;
    let active = &json["data"]["activeTargets"][0];
    assert_eq!(active["scrapePool"], "demo");
    assert_eq!(active["health"], "up", "{active}");

    // A reload that removes the job stops scraping it.
    env.write_config("host_agent:\n  enabled: false\n");
    assert_eq!(request(addr, "POST", "/-/reload", &[], "").await.status, 200);
    let mut gone = false;
    for _ in 0..100 {
        let (_, json) = get_json(addr, "/api/v1/targets").await;
        if json["data"]["activeTargets"].as_array().is_some_and(|a| a.is_empty()) {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "the removed job's target is gone after reload");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn timeouts_stop_the_work_and_running_queries_are_listed() {
    let env = TestEnv::new("host_agent:\n  enabled: false\nquery:\n  timeout: 300ms\n  max_samples: 2000000000\n");
    let server = env.start().await;
    let addr = server.local_addr();
    let (_, json) = get_json(addr, "/api/v1/status/queries").await;
    assert_eq!(json["data"], serde_json::json!([]));

    // Millions of subquery steps: far more than 300 ms of work.
    let heavy = "/api/v1/query?query=count_over_time(vector(1)%5B30d%3A1ms%5D)";
    let listing = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        get_json(addr, "/api/v1/status/queries").await.1
    };
    let (answer, listed) = tokio::join!(get_json(addr, heavy), listing);
    assert_eq!(listed["data"][0]["query"], "count_over_time(vector(1)[30d:1ms])", "{listed}");
    assert_eq!(listed["data"][0]["type"], "instant");
    let (status, json) = answer;
    assert_eq!(status, 503, "{json}");
    assert_eq!(json["errorType"], "timeout");

    // The cancelled evaluation really stops: it leaves the running list promptly.
    let mut stopped = false;
    for _ in 0..50 {
        let (_, json) = get_json(addr, "/api/v1/status/queries").await;
        if json["data"].as_array().is_some_and(|a| a.is_empty()) {
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(stopped, "the timed-out query kept running");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn serve_scrapes_itself_by_default() {
    let env = TestEnv::new("host_agent:\n  enabled: false\nself_monitoring:\n  interval: 200ms\n");
    let server = env.start().await;
    let addr = server.local_addr();
    let mut up = Value::Null;
    for _ in 0..100 {
        let (_, json) = get_json(addr, "/api/v1/query?query=up%7Bjob%3D%22watchkeeper%22%7D").await;
        up = json["data"]["result"][0].clone();
        if !up.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(up["value"][1], "1", "{up}");
    assert_eq!(up["metric"]["instance"], addr.to_string());
    let (_, json) = get_json(addr, "/api/v1/query?query=watchkeeper_build_info").await;
    assert_eq!(json["data"]["result"][0]["metric"]["job"], "watchkeeper");
    server.shutdown().await.unwrap();
}
