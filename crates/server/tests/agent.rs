//! `watchkeeper agent` in-process, against real loopback servers: a Watchkeeper server
//! receiving remote_write, and a test receiver that can answer 503 (an outage).
//! The agent scrapes a tiny exporter whose counter goes up by one on every scrape, so
//! the values received must be exactly 1, 2, 3… with nothing missing.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use common::{TestEnv, request};
use wk_server::agent::{Agent, AgentOptions};

/// Serves `test_counter_total`, one higher on every scrape.
async fn start_exporter() -> (SocketAddr, Arc<AtomicU64>) {
    let served = Arc::new(AtomicU64::new(0));
    let app = Router::new()
        .route(
            "/metrics",
            get(|State(n): State<Arc<AtomicU64>>| async move {
                let v = n.fetch_add(1, Ordering::SeqCst) + 1;
                format!("# TYPE test_counter_total counter\ntest_counter_total {v}\n")
            }),
        )
        .with_state(served.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, served)
}

#[derive(Default)]
struct Receiver {
    down: AtomicBool,
    refused: AtomicU64,
    /// `(labels, timestamp, value)` of every sample received, in arrival order.
    samples: Mutex<Vec<(String, i64, f64)>>,
}

async fn receive(State(rx): State<Arc<Receiver>>, body: Bytes) -> impl IntoResponse {
    if rx.down.load(Ordering::SeqCst) {
        rx.refused.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::SERVICE_UNAVAILABLE, [("Retry-After", "1")], "down for the test").into_response();
    }
    let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
    let request = <wk_ingest::remote_write::proto::WriteRequest as prost::Message>::decode(raw.as_slice()).unwrap();
    let mut samples = rx.samples.lock().unwrap();
    for series in request.timeseries {
        let labels: Vec<String> = series.labels.iter().map(|l| format!("{}={}", l.name, l.value)).collect();
        for s in series.samples {
            samples.push((labels.join(","), s.timestamp, s.value));
        }
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn start_receiver() -> (SocketAddr, Arc<Receiver>) {
    let rx = Arc::new(Receiver::default());
    let app = Router::new().route("/api/v1/write", post(receive)).with_state(rx.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, rx)
}

fn agent_config(exporter: SocketAddr, host_agent: bool) -> String {
    format!(
        "global:\n  external_labels:\n    agent: a1\nhost_agent:\n  enabled: {host_agent}\n  interval: 1s\nself_monitoring:\n  enabled: false\nscrape_configs:\n  - job_name: exporter\n    scrape_interval: 200ms\n    scrape_timeout: 150ms\n    static_configs:\n      - targets: ['{exporter}']\n"
    )
}

fn options(env: &TestEnv, url: String) -> AgentOptions {
    AgentOptions {
        config_file: Some(env.config_path()),
        remote_write_url: Some(url),
        storage_path: Some(env.path().join("agent-data")),
        listen_address: Some("127.0.0.1:0".parse().unwrap()),
    }
}

/// Values of `test_counter_total` received, in arrival order.
fn counter_values(rx: &Receiver) -> Vec<(i64, f64)> {
    let samples = rx.samples.lock().unwrap();
    samples.iter().filter(|(l, _, _)| l.contains("__name__=test_counter_total")).map(|(_, t, v)| (*t, *v)).collect()
}

async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && !l.starts_with('#'))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} not in agent metrics:\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scraped_and_host_samples_reach_a_watchkeeper_server_and_are_queryable() {
    let server_env = TestEnv::new("host_agent:\n  enabled: false\nself_monitoring:\n  enabled: false\n");
    let server = server_env.start().await;
    let (exporter, served) = start_exporter().await;
    let env = TestEnv::new(&agent_config(exporter, true));
    let url = format!("http://{}/api/v1/write", server.local_addr());
    let mut opts = options(&env, url);
    std::fs::write(
        env.config_path(),
        format!(
            "{}remote_write:\n  - url: {}\n    queue_config:\n      batch_send_deadline: 200ms\n",
            agent_config(exporter, true),
            opts.remote_write_url.take().unwrap()
        ),
    )
    .unwrap();
    let agent = Agent::start(opts).await.unwrap();
    let addr = server.local_addr();
    let query = |q: &'static str| async move {
        let r = request(addr, "GET", &format!("/api/v1/query?query={q}"), &[], "").await;
        serde_json::from_str::<serde_json::Value>(&r.body).unwrap()
    };
    let start = Instant::now();
    loop {
        let counter = query("test_counter_total%7Bagent%3D%22a1%22%2Cjob%3D%22exporter%22%7D").await;
        let host = query("node_memory_MemTotal_bytes%7Bagent%3D%22a1%22%7D").await;
        let found = |v: &serde_json::Value| v["data"]["result"].as_array().is_some_and(|r| r.len() == 1);
        if found(&counter) && found(&host) && served.load(Ordering::SeqCst) >= 5 {
            let value: f64 = counter["data"]["result"][0]["value"][1].as_str().unwrap().parse().unwrap();
            assert!(value >= 1.0, "{counter}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "samples never became queryable: {counter} {host}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let metrics = request(agent.local_addr(), "GET", "/metrics", &[], "").await;
    assert!(metric(&metrics.body, "watchkeeper_agent_samples_sent_total") > 0.0);
    assert_eq!(request(agent.local_addr(), "GET", "/-/healthy", &[], "").await.status, 200);
    agent.shutdown().await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_buffers_on_disk_and_everything_arrives_in_order_afterwards() {
    let (exporter, served) = start_exporter().await;
    let (receiver, rx) = start_receiver().await;
    rx.down.store(true, Ordering::SeqCst);
    let env = TestEnv::new(&agent_config(exporter, false));
    let agent = Agent::start(options(&env, format!("http://{receiver}/api/v1/write"))).await.unwrap();

    // The outage: scrapes go on, the queue grows on disk, nothing is accepted.
    wait_until("15 scrapes during the outage", Duration::from_secs(20), || served.load(Ordering::SeqCst) >= 15).await;
    wait_until("refused attempts", Duration::from_secs(10), || rx.refused.load(Ordering::SeqCst) >= 1).await;
    let text = request(agent.local_addr(), "GET", "/metrics", &[], "").await.body;
    assert!(metric(&text, "watchkeeper_agent_queue_pending_samples") >= 15.0, "{text}");
    assert!(metric(&text, "watchkeeper_agent_queue_bytes") > 0.0);
    assert!(metric(&text, "watchkeeper_agent_requests_failed_total") >= 1.0);
    assert!(text.contains("503"), "last error names the status:\n{text}");
    assert!(counter_values(&rx).is_empty());

    // The server returns: the backlog and what follows arrive.
    let back_at = served.load(Ordering::SeqCst);
    rx.down.store(false, Ordering::SeqCst);
    let target = back_at + 5;
    wait_until("the backlog and later samples", Duration::from_secs(30), || {
        counter_values(&rx).iter().any(|(_, v)| *v >= target as f64)
    })
    .await;
    agent.shutdown().await.unwrap();

    let values = counter_values(&rx);
    let ts: Vec<i64> = values.iter().map(|(t, _)| *t).collect();
    assert!(ts.windows(2).all(|w| w[0] < w[1]), "timestamps in order, no duplicates: {ts:?}");
    let got: Vec<u64> = values.iter().map(|(_, v)| *v as u64).collect();
    let want: Vec<u64> = (1..=*got.last().unwrap()).collect();
    assert_eq!(got, want, "every scraped value arrives, in order, none missing");
    assert!(*got.last().unwrap() >= target);
    let samples = rx.samples.lock().unwrap();
    assert!(samples.iter().all(|(l, _, _)| l.contains("agent=a1")), "external label on every series");
}

#[tokio::test]
async fn agent_without_an_endpoint_or_with_a_bad_url_fails_clearly() {
    let env = TestEnv::new("host_agent:\n  enabled: false\n");
    let mut opts = options(&env, String::new());
    opts.remote_write_url = None;
    let err = Agent::start(opts.clone()).await.unwrap_err().to_string();
    assert!(err.contains("nowhere to send"), "{err}");
    opts.remote_write_url = Some("ftp://x/".to_owned());
    let err = Agent::start(opts).await.unwrap_err().to_string();
    assert!(err.contains("--remote-write") && err.contains("http://"), "{err}");
}
