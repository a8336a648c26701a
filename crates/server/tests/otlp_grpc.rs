//! OTLP/gRPC through a running server over real loopback sockets: the official
//! OpenTelemetry Python SDK exports every metric type (scripts/py-venv.sh installs it;
//! scripts/test.sh runs that first), the stored series are read back through the
//! query API; then bad calls from a raw HTTP/2 client each get their gRPC status, and
//! the process keeps serving.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{OTLP_EXPORT, TestEnv, grpc_call, grpc_frame, otlp_gauge_request, request};
use serde_json::Value;

/// The venv's Python, where scripts/py-venv.sh puts it.
fn venv_python() -> PathBuf {
    let venv = match std::env::var_os("WK_PY_VENV") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
            target.join("py-venv")
        }
    };
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/py-venv.sh (scripts/test.sh does) to install the OpenTelemetry SDK",
        python.display()
    );
    python
}

/// Runs the exporter script against `endpoint`; returns its exit success and output.
fn export_with_python_sdk(endpoint: &str, compression: &str) -> (bool, String) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/otlp/export_metrics.py");
    let mut child = Command::new(venv_python())
        .arg(script)
        .args([endpoint, compression])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait for python").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("python output");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

/// `GET /api/v1/query?query=NAME` (a bare metric name): each series' labels and value.
async fn query(addr: std::net::SocketAddr, name: &str) -> Vec<(serde_json::Map<String, Value>, f64)> {
    let response = request(addr, "GET", &format!("/api/v1/query?query={name}"), &[], "").await;
    assert_eq!(response.status, 200, "{response:?}");
    let json: Value = serde_json::from_str(&response.body).unwrap();
    let result = json["data"]["result"].as_array().unwrap_or_else(|| panic!("no result in {json}"));
    let mut series: Vec<_> = result
        .iter()
        .map(|s| {
            let labels = s["metric"].as_object().unwrap().clone();
            let value = s["value"][1].as_str().unwrap().parse::<f64>().unwrap();
            (labels, value)
        })
        .collect();
    series.sort_by(|a, b| format!("{:?}", a.0).cmp(&format!("{:?}", b.0)));
    series
}

fn label<'a>(labels: &'a serde_json::Map<String, Value>, name: &str) -> &'a str {
    labels.get(name).and_then(Value::as_str).unwrap_or("")
}

fn env() -> TestEnv {
    TestEnv::new("host_agent:\n  enabled: false\nweb:\n  max_request_body_size: 1MB\n")
}

#[tokio::test]
async fn python_sdk_exports_every_metric_type_over_grpc() {
    let env = env();
    let server = env.start().await;
    let addr = server.local_addr();
    let grpc = server.otlp_grpc_addr().expect("OTLP/gRPC is on by default");
    assert_ne!(grpc.port(), addr.port());
    let endpoint = grpc.to_string();
    let (ok, output) = tokio::task::spawn_blocking(move || export_with_python_sdk(&endpoint, "gzip")).await.unwrap();
    assert!(ok, "the SDK reported a failed export:\n{output}");

    // Counter: `_total`, the `{request}` annotation dropped; resource → job/instance.
    let requests = query(addr, "app_requests_total").await;
    assert_eq!(requests.len(), 2, "{requests:?}");
    for (labels, value) in &requests {
        assert_eq!(label(labels, "job"), "checkout");
        assert_eq!(label(labels, "instance"), "pod-7");
        let want = if label(labels, "route") == "/pay" { 7.0 } else { 1.0 };
        assert_eq!(*value, want, "{labels:?}");
    }
    // Gauge with a unit; up-down counter (non-monotonic sum) as a gauge.
    let temperature = query(addr, "app_temperature_celsius").await;
    assert_eq!(temperature.len(), 1);
    assert_eq!(label(&temperature[0].0, "room"), "lab");
    assert_eq!(temperature[0].1, 21.5);
    let queue = query(addr, "app_queue_length").await;
    assert_eq!(queue.iter().map(|s| s.1).collect::<Vec<_>>(), vec![7.0]);
    // Histogram: cumulative buckets at the advised boundaries, sum and count.
    let buckets = query(addr, "app_latency_seconds_bucket").await;
    let by_le: Vec<(&str, f64)> = buckets.iter().map(|(l, v)| (label(l, "le"), *v)).collect();
    for expected in [("0.1", 1.0), ("1", 2.0), ("10", 4.0), ("+Inf", 4.0)] {
        assert!(by_le.contains(&expected), "{expected:?} not in {by_le:?}");
    }
    assert_eq!(query(addr, "app_latency_seconds_count").await[0].1, 4.0);
    assert!((query(addr, "app_latency_seconds_sum").await[0].1 - 14.35).abs() < 1e-9);
    // Exponential histogram, stored as classic buckets.
    assert_eq!(query(addr, "app_payload_size_bytes_count").await[0].1, 4.0);
    assert_eq!(query(addr, "app_payload_size_bytes_sum").await[0].1, 1007.0);
    let exp_buckets = query(addr, "app_payload_size_bytes_bucket").await;
    let inf = exp_buckets.iter().find(|(l, _)| label(l, "le") == "+Inf").expect("+Inf bucket");
    assert_eq!(inf.1, 4.0);
    let info = query(addr, "target_info").await;
    assert_eq!(label(&info[0].0, "host_name"), "web-7");

    // Uncompressed too; both calls are counted as gRPC and as OTLP samples.
    let endpoint = grpc.to_string();
    let (ok, output) = tokio::task::spawn_blocking(move || export_with_python_sdk(&endpoint, "none")).await.unwrap();
    assert!(ok, "uncompressed export failed:\n{output}");
    let metrics = request(addr, "GET", "/metrics", &[], "").await.body;
    assert!(
        metrics.contains(r#"watchkeeper_ingest_grpc_requests_total{method="Export",grpc_code="OK"} 2"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"watchkeeper_ingest_samples_total{protocol="otlp_grpc"}"#), "{metrics}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_grpc_calls_get_their_status_and_the_server_keeps_serving() {
    let env = env();
    let server = env.start().await;
    let grpc = server.otlp_grpc_addr().unwrap();
    let ct = ("content-type", "application/grpc");

    let garbage = grpc_call(grpc, OTLP_EXPORT, &[ct], grpc_frame(false, b"\xff\xff\xff\xff")).await;
    assert_eq!(garbage.http_status, 200);
    let (code, message) = garbage.status();
    assert_eq!(code, Some(3), "INVALID_ARGUMENT: {message}");
    assert!(message.contains("invalid protobuf"), "{message}");

    let wrong_type = grpc_call(grpc, OTLP_EXPORT, &[("content-type", "application/json")], b"{}".to_vec()).await;
    assert_eq!(wrong_type.http_status, 415, "{wrong_type:?}");

    // 2 MiB against the 1MB web.max_request_body_size: refused from the prefix.
    let huge = grpc_frame(false, &vec![0x0a; 2 << 20]);
    let oversized = grpc_call(grpc, OTLP_EXPORT, &[ct], huge).await;
    let (code, message) = oversized.status();
    assert_eq!(code, Some(8), "RESOURCE_EXHAUSTED: {message}");
    assert!(message.contains("larger than the limit of 1048576 bytes"), "{message}");
    assert!(oversized.status_header("grpc-status-details-bin").is_none(), "no retry advice: it would fail again");

    let mut truncated = grpc_frame(false, &otlp_gauge_request("g", 1.0));
    truncated.truncate(truncated.len() - 3);
    let (code, message) = grpc_call(grpc, OTLP_EXPORT, &[ct], truncated).await.status();
    assert_eq!(code, Some(13), "INTERNAL: {message}");
    assert!(message.contains("truncated message"), "{message}");

    let trace = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    let (code, _) = grpc_call(grpc, trace, &[ct], grpc_frame(false, b"")).await.status();
    assert_eq!(code, Some(12), "UNIMPLEMENTED");

    let encoding = [ct, ("grpc-encoding", "zstd")];
    let unknown = grpc_call(grpc, OTLP_EXPORT, &encoding, grpc_frame(true, b"x")).await;
    assert_eq!(unknown.status().0, Some(12));
    assert_eq!(unknown.status_header("grpc-accept-encoding").as_deref(), Some("gzip,identity"));

    // Unharmed: a good call still succeeds, and only its point was stored.
    let good =
        grpc_call(grpc, OTLP_EXPORT, &[ct], grpc_frame(false, &otlp_gauge_request("after_bad_calls", 3.0))).await;
    assert_eq!(good.status().0, Some(0), "{good:?}");
    assert_eq!(good.body, grpc_frame(false, b""), "an empty ExportMetricsServiceResponse");
    assert!(good.trailers.is_some(), "status in trailers after the message");
    let addr = server.local_addr();
    let stored = query(addr, "after_bad_calls").await;
    assert_eq!(stored.iter().map(|s| s.1).collect::<Vec<_>>(), vec![3.0]);
    assert!(query(addr, "g").await.is_empty(), "nothing of a refused call is stored");
    let metrics = request(addr, "GET", "/metrics", &[], "").await.body;
    assert!(
        metrics.contains(r#"watchkeeper_ingest_requests_failed_total{protocol="otlp_grpc",reason="too_large"} 1"#),
        "{metrics}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn grpc_listener_can_be_disabled_and_drains_on_shutdown() {
    let env = TestEnv::new("host_agent:\n  enabled: false\notlp:\n  grpc:\n    enabled: false\n");
    let server = env.start().await;
    assert_eq!(server.otlp_grpc_addr(), None);
    server.shutdown().await.unwrap();

    let env = TestEnv::new("host_agent:\n  enabled: false\n");
    let server = env.start().await;
    let grpc = server.otlp_grpc_addr().unwrap();
    assert_eq!(
        grpc_call(grpc, OTLP_EXPORT, &[("content-type", "application/grpc")], grpc_frame(false, b"")).await.status().0,
        Some(0)
    );
    server.shutdown().await.unwrap();
    let refused = tokio::net::TcpStream::connect(grpc).await;
    assert!(refused.is_err(), "the gRPC port is closed after shutdown");
}
