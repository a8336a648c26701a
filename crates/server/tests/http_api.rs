//! The built-in HTTP endpoints of a server started in-process, over real sockets.

mod common;

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use common::{TestEnv, request};

#[tokio::test]
async fn health_readiness_and_not_found() {
    let env = TestEnv::new("");
    let server = env.start().await;
    let addr = server.local_addr();

    let healthy = request(addr, "GET", "/-/healthy", &[], "").await;
    assert_eq!(healthy.status, 200);
    assert_eq!(healthy.body, "Watchkeeper is Healthy.\n");
    assert_eq!(request(addr, "HEAD", "/-/healthy", &[], "").await.status, 200);
    let ready = request(addr, "GET", "/-/ready", &[], "").await;
    assert_eq!(ready.status, 200);
    let missing = request(addr, "GET", "/no/such/page", &[], "").await;
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("/no/such/page"), "{}", missing.body);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn metrics_cover_build_process_http_and_reload_state() {
    let env = TestEnv::new("");
    let server = env.start().await;
    let addr = server.local_addr();
    request(addr, "GET", "/-/healthy", &[], "").await;
    request(addr, "GET", "/nope", &[], "").await;

    let text = request(addr, "GET", "/metrics", &[], "").await;
    assert_eq!(text.status, 200);
    assert_eq!(text.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    let rustc = format!("rustc_version=\"{}", env!("CARGO_PKG_RUST_VERSION").split('.').next().unwrap());
    assert!(text.body.contains(&rustc), "build info names the compiler: {}", text.body);
    for needle in [
        "watchkeeper_build_info{version=\"",
        "process_cpu_seconds_total ",
        "process_resident_memory_bytes ",
        "process_open_fds ",
        "process_max_fds ",
        "process_start_time_seconds ",
        "watchkeeper_http_requests_total{handler=\"/-/healthy\",code=\"200\"} 1",
        "watchkeeper_http_requests_total{handler=\"other\",code=\"404\"} 1",
        "watchkeeper_http_request_duration_seconds_bucket{handler=\"/-/healthy\",le=\"+Inf\"} 1",
        "watchkeeper_config_last_reload_successful 1",
        "watchkeeper_config_last_reload_success_timestamp_seconds ",
        "watchkeeper_ready 1",
    ] {
        assert!(text.body.contains(needle), "missing {needle:?} in:\n{}", text.body);
    }

    let om = request(addr, "GET", "/metrics", &[("Accept", "application/openmetrics-text; version=1.0.0")], "").await;
    assert!(om.header("content-type").unwrap().starts_with("application/openmetrics-text"));
    assert!(om.body.ends_with("# EOF\n"), "{}", om.body);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn oversized_body_gets_413_and_slow_request_gets_503() {
    let env = TestEnv::new("web:\n  max_request_body_size: 1KB\n  request_timeout: 200ms\n");
    let slow = Router::new().route(
        "/test/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late"
        }),
    );
    let server = wk_server::Server::start_with_routes(env.options(), slow).await.unwrap();
    let addr = server.local_addr();

    let big = "x".repeat(2048);
    let rejected = request(addr, "POST", "/-/reload", &[], &big).await;
    assert_eq!(rejected.status, 413, "{rejected:?}");
    let small = request(addr, "POST", "/-/reload", &[], "ok").await;
    assert_eq!(small.status, 200, "{small:?}");

    let started = std::time::Instant::now();
    let timed_out = request(addr, "GET", "/test/slow", &[], "").await;
    assert_eq!(timed_out.status, 503);
    assert!(started.elapsed() < Duration::from_secs(4), "timeout did not cut the request short");
    let metrics = request(addr, "GET", "/metrics", &[], "").await.body;
    assert!(metrics.contains("watchkeeper_http_requests_total{handler=\"/-/reload\",code=\"413\"} 1"), "{metrics}");
    assert!(metrics.contains("watchkeeper_http_requests_total{handler=\"/test/slow\",code=\"503\"} 1"), "{metrics}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn config_api_shows_the_config_with_secrets_redacted() {
    let env = TestEnv::new(
        "scrape_configs:\n  - job_name: node\n    basic_auth:\n      username: admin\n      password: hunter2\n    static_configs:\n      - targets: ['localhost:9100']\n",
    );
    let server = env.start().await;
    let body = request(server.local_addr(), "GET", "/api/v1/status/config", &[], "").await.body;
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], "success");
    let yaml = json["data"]["yaml"].as_str().unwrap();
    assert!(yaml.contains("job_name: node"), "{yaml}");
    assert!(yaml.contains("password: <secret>"), "{yaml}");
    assert!(!body.contains("hunter2"), "secret leaked: {body}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn second_server_on_the_same_data_directory_is_refused() {
    let env = TestEnv::new("");
    let first = env.start().await;
    let err = wk_server::Server::start(env.options()).await.unwrap_err().to_string();
    let data = std::fs::canonicalize(env.path().join("data")).unwrap();
    assert!(err.contains(&data.display().to_string()), "{err}");
    assert!(err.contains("lock file"), "{err}");
    first.shutdown().await.unwrap();
    let again = env.start().await;
    again.shutdown().await.unwrap();
}

#[tokio::test]
async fn host_agent_writes_into_storage_and_can_be_disabled() {
    let env = TestEnv::new("host_agent:\n  interval: 1h\n  instance: test-host\n");
    let server = env.start().await;
    let addr = server.local_addr();
    let mut series = 0.0;
    for _ in 0..100 {
        let metrics = request(addr, "GET", "/metrics", &[], "").await.body;
        series = metrics
            .lines()
            .find_map(|l| l.strip_prefix("watchkeeper_tsdb_head_series "))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
        if series > 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(series > 20.0, "the first host agent round lands at start: {series} series");
    server.shutdown().await.unwrap();

    let env = TestEnv::new("host_agent:\n  enabled: false\n");
    let server = env.start().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let metrics = request(server.local_addr(), "GET", "/metrics", &[], "").await.body;
    assert!(metrics.contains("watchkeeper_tsdb_head_series 0"), "{metrics}");
    server.shutdown().await.unwrap();
}
