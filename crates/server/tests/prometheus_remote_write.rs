//! The real Prometheus from Debian, configured to remote_write into Watchkeeper: what
//! it scraped arrives complete and in order. Prometheus scrapes itself every second;
//! after a few seconds its own samples of `prometheus_tsdb_head_series` (read back from
//! Prometheus's query API) must all be in Watchkeeper, with the same timestamps and
//! values, up to the newest one Watchkeeper has.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TestEnv, request};
use wk_model::{MatchOp, Matcher};

struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_prometheus(dir: &std::path::Path, ours: SocketAddr) -> (Prometheus, SocketAddr) {
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ['{addr}']\nremote_write:\n  - url: http://{ours}/api/v1/write\n    queue_config:\n      batch_send_deadline: 500ms\n      min_backoff: 50ms\n      max_backoff: 1s\n"
        ),
    )
    .unwrap();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("prometheus-data").display()))
        .arg(format!("--web.listen-address={addr}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus not found: scripts/test.sh installs Debian's prometheus package");
    (Prometheus(child), addr)
}

/// `(timestamp ms, value)` pairs of `query` as Prometheus returns them for a range vector.
async fn prometheus_samples(addr: SocketAddr, query: &str) -> Vec<(i64, f64)> {
    let response = request(addr, "GET", &format!("/api/v1/query?query={query}"), &[], "").await;
    let json: serde_json::Value = serde_json::from_str(&response.body).unwrap_or_default();
    let Some(values) = json["data"]["result"][0]["values"].as_array() else { return Vec::new() };
    values
        .iter()
        .map(|p| ((p[0].as_f64().unwrap() * 1000.0).round() as i64, p[1].as_str().unwrap().parse().unwrap()))
        .collect()
}

fn our_samples(server: &wk_server::Server, name: &str) -> Vec<(i64, f64)> {
    let store = server.storage().queryable();
    let querier = store.querier();
    let matchers =
        [Matcher::new(MatchOp::Eq, "__name__", name).unwrap(), Matcher::new(MatchOp::Eq, "job", "prometheus").unwrap()];
    let mut set = querier.select(&matchers, i64::MIN, i64::MAX).unwrap();
    match set.next() {
        Some(series) => series.unwrap().samples.iter().map(|s| (s.t, s.v)).collect(),
        None => Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_remote_write_arrives_complete_and_in_order() {
    let env = TestEnv::new("host_agent:\n  enabled: false\n");
    let server = env.start().await;
    let (_prometheus, prom_addr) = start_prometheus(env.path(), server.local_addr());

    let name = "prometheus_tsdb_head_series";
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut ours = Vec::new();
    while Instant::now() < deadline {
        ours = our_samples(&server, name);
        if ours.len() >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(ours.len() >= 6, "Prometheus's samples did not arrive within 60s: {ours:?}");
    assert!(ours.windows(2).all(|w| w[0].0 < w[1].0), "in order, no duplicates: {ours:?}");

    let theirs = prometheus_samples(prom_addr, &format!("{name}%7Bjob%3D%22prometheus%22%7D%5B5m%5D")).await;
    let newest_ours = ours.last().unwrap().0;
    let expected: Vec<(i64, f64)> = theirs.into_iter().filter(|(t, _)| *t <= newest_ours).collect();
    assert!(expected.len() >= 6, "Prometheus's own view is too short: {expected:?}");
    assert_eq!(
        ours.iter().filter(|(t, _)| *t >= expected[0].0).cloned().collect::<Vec<_>>(),
        expected,
        "complete and equal"
    );

    // Prometheus's `up` for its own job went through too, as 1s.
    let up = our_samples(&server, "up");
    assert!(!up.is_empty() && up.iter().all(|(_, v)| *v == 1.0), "{up:?}");
    server.shutdown().await.unwrap();
}
