//! Probes and heartbeats configured in the file, running in a server, their series
//! read back through the query API.

mod common;

use std::time::Duration;

use common::{TestEnv, request};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn query(addr: std::net::SocketAddr, q: &str) -> Value {
    let body = request(addr, "GET", &format!("/api/v1/query?query={q}"), &[], "").await.body;
    let json: Value = serde_json::from_str(&body).unwrap();
    json["data"]["result"].clone()
}

async fn wait_for(addr: std::net::SocketAddr, q: &str) -> Value {
    for _ in 0..100 {
        let result = query(addr, q).await;
        if result.as_array().is_some_and(|r| !r.is_empty()) {
            return result;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no result for {q} within 5s");
}

async fn web_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nall ok\n").await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn configured_probes_write_blackbox_series() {
    let web = web_server().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let env = TestEnv::new(&format!(
        "host_agent:\n  enabled: false\nprobes:\n  - name: site\n    type: http\n    target: http://{web}/\n    interval: 200ms\n    timeout: 150ms\n    http:\n      fail_if_body_not_matches_regexp: ['ok']\n  - name: port\n    type: tcp\n    target: {closed}\n    interval: 200ms\n    timeout: 150ms\n"
    ));
    let server = env.start().await;
    let addr = server.local_addr();
    let site = wait_for(addr, "probe_success%7Bjob%3D%22site%22%7D").await;
    assert_eq!(site[0]["value"][1], "1", "{site}");
    assert_eq!(site[0]["metric"]["instance"], format!("http://{web}/"));
    let status = wait_for(addr, "probe_http_status_code%7Bjob%3D%22site%22%7D").await;
    assert_eq!(status[0]["value"][1], "200");
    let phases = wait_for(addr, "probe_http_duration_seconds%7Bjob%3D%22site%22%7D").await;
    assert_eq!(phases.as_array().unwrap().len(), 5, "{phases}");
    let port = wait_for(addr, "probe_success%7Bjob%3D%22port%22%7D").await;
    assert_eq!(port[0]["value"][1], "0", "nothing listens on {closed}");

    // A reload that removes the probe stops it and marks it stale.
    env.write_config("host_agent:\n  enabled: false\n");
    assert_eq!(request(addr, "POST", "/-/reload", &[], "").await.status, 200);
    let mut gone = false;
    for _ in 0..100 {
        if query(addr, "probe_success").await.as_array().is_some_and(|r| r.is_empty()) {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "removed probes go stale");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn heartbeats_check_in_and_survive_a_restart() {
    let config =
        "host_agent:\n  enabled: false\nheartbeats:\n  - name: nightly-backup\n    period: 1h\n    grace: 5m\n";
    let env = TestEnv::new(config);
    let server = env.start().await;
    let addr = server.local_addr();
    let up = wait_for(addr, "watchkeeper_heartbeat_up").await;
    assert_eq!(up[0]["value"][1], "0", "never checked in yet");
    assert_eq!(request(addr, "POST", "/api/v1/heartbeat/nightly-backup", &[], "").await.status, 204);
    let up = query(addr, "watchkeeper_heartbeat_up").await;
    assert_eq!(up[0]["value"][1], "1");
    assert_eq!(up[0]["metric"]["heartbeat"], "nightly-backup");
    let period = query(addr, "watchkeeper_heartbeat_period_seconds").await;
    assert_eq!(period[0]["value"][1], "3600");
    let unknown = request(addr, "POST", "/api/v1/heartbeat/nope", &[], "").await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.body.contains("nightly-backup"), "names the configured ones: {}", unknown.body);
    let seen = query(addr, "watchkeeper_heartbeat_last_seen_timestamp_seconds").await;
    let seen: f64 = seen[0]["value"][1].as_str().unwrap().parse().unwrap();
    server.shutdown().await.unwrap();

    let server = env.start().await;
    let addr = server.local_addr();
    let up = wait_for(addr, "watchkeeper_heartbeat_up").await;
    assert_eq!(up[0]["value"][1], "1", "the last check-in was recovered from storage");
    let again = query(addr, "watchkeeper_heartbeat_last_seen_timestamp_seconds").await;
    let again: f64 = again[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!((again - seen).abs() < 0.002, "{again} vs {seen}");
    server.shutdown().await.unwrap();
}
