//! Persistent blocks in a running server: data older than the head's span is cut
//! into blocks by the maintenance that runs at start, stays queryable across
//! restarts, is deleted through the admin API only when it is enabled, and shows
//! in `/metrics`.

mod common;

use common::{TestEnv, post, request};
use serde_json::Value;
use wk_ingest::remote_write::proto::{Label, Sample, TimeSeries, WriteRequest};

const HOUR: i64 = 3_600_000;
/// A fixed start far from "now", aligned to the 2h block range.
const T0: i64 = 1_700_000_000_000 / (2 * HOUR) * (2 * HOUR);

fn write_request(instance: &str, from: i64, to: i64) -> WriteRequest {
    WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![
                Label { name: "__name__".into(), value: "blocks_test".into() },
                Label { name: "instance".into(), value: instance.into() },
            ],
            samples: (from..to)
                .step_by(60_000)
                .map(|t| Sample { value: (t - T0) as f64 / 1000.0, timestamp: t })
                .collect(),
            exemplars: vec![],
            histograms: vec![],
        }],
        metadata: vec![],
    }
}

async fn count(addr: std::net::SocketAddr, instance: &str) -> usize {
    let path = format!(
        "/api/v1/query?query=count_over_time(blocks_test{{instance=%22{instance}%22}}[1d])&time={}",
        (T0 + 6 * HOUR) / 1000
    );
    let response = request(addr, "GET", &path, &[], "").await;
    let json: Value = serde_json::from_str(&response.body).unwrap();
    json["data"]["result"][0]["value"][1].as_str().map_or(0, |v| v.parse().unwrap())
}

async fn metric(addr: std::net::SocketAddr, name: &str) -> f64 {
    let body = request(addr, "GET", "/metrics", &[], "").await.body;
    body.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("{name} missing from /metrics"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn old_data_becomes_blocks_survives_restarts_and_can_be_deleted() {
    let env = TestEnv::new("storage:\n  retention:\n    time: 0s\n");
    let server = env.start().await;
    let addr = server.local_addr();
    for instance in ["a", "b"] {
        let response = common::remote_write(addr, &write_request(instance, T0, T0 + 5 * HOUR)).await;
        assert_eq!(response.status, 204, "{response:?}");
    }
    assert_eq!(count(addr, "a").await, 300);
    server.shutdown().await.unwrap();

    // Maintenance runs at start: the head spans 5 h, so 2 h blocks are cut.
    let server = env.start().await;
    let addr = server.local_addr();
    let mut cut = 0.0;
    for _ in 0..100 {
        cut = metric(addr, "watchkeeper_tsdb_head_cuts_total").await;
        if cut >= 1.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(cut >= 1.0, "no block cut at start");
    assert!(metric(addr, "watchkeeper_tsdb_blocks_loaded").await >= 1.0);
    assert!(metric(addr, "watchkeeper_tsdb_storage_blocks_bytes").await > 0.0);
    let blocks: Vec<_> = std::fs::read_dir(env.path().join("data/blocks"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".wkb"))
        .collect();
    assert!(!blocks.is_empty());
    assert_eq!(count(addr, "a").await, 300, "blocks and head together answer");
    // Samples below the newest block's end are now out of bounds.
    let response = common::remote_write(addr, &write_request("a", T0, T0 + 60_000)).await;
    assert_eq!(response.status, 400, "{response:?}");
    assert!(response.body.contains("out of bounds"), "{}", response.body);

    // Deleting needs the admin API switched on.
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let body = format!("match[]=blocks_test{{instance=%22b%22}}&start={}&end={}", T0 / 1000, (T0 + 5 * HOUR) / 1000);
    let response = post(addr, "/api/v1/admin/tsdb/delete_series", &form, body.as_bytes()).await;
    assert_eq!(response.status, 503);
    assert!(response.body.contains("admin APIs disabled"), "{}", response.body);
    server.shutdown().await.unwrap();

    env.write_config("storage:\n  retention:\n    time: 0s\nweb:\n  enable_admin_api: true\n");
    let server = env.start().await;
    let addr = server.local_addr();
    let response = post(addr, "/api/v1/admin/tsdb/delete_series", &form, b"start=0").await;
    assert_eq!(response.status, 400);
    assert!(response.body.contains("no match[] parameter provided"), "{}", response.body);
    let response = post(addr, "/api/v1/admin/tsdb/delete_series", &form, body.as_bytes()).await;
    assert_eq!(response.status, 204, "{response:?}");
    assert_eq!(count(addr, "b").await, 0);
    assert_eq!(count(addr, "a").await, 300);
    let tombstones = |env: &TestEnv| {
        std::fs::read_dir(env.path().join("data/blocks"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".tombstones"))
            .count()
    };
    assert!(tombstones(&env) > 0);
    // Cleaning rewrites the blocks without the deleted samples.
    let response = post(addr, "/api/v1/admin/tsdb/clean_tombstones", &form, b"").await;
    assert_eq!(response.status, 204, "{response:?}");
    assert_eq!(tombstones(&env), 0);
    assert_eq!(count(addr, "a").await, 300);
    // A snapshot is a data directory of its own.
    let response = post(addr, "/api/v1/admin/tsdb/snapshot", &form, b"skip_head=maybe").await;
    assert_eq!(response.status, 400, "{response:?}");
    let response = post(addr, "/api/v1/admin/tsdb/snapshot", &form, b"").await;
    assert_eq!(response.status, 200, "{response:?}");
    let json: Value = serde_json::from_str(&response.body).unwrap();
    let name = json["data"]["name"].as_str().unwrap().to_owned();
    assert!(env.path().join("data/snapshots").join(&name).join("blocks").is_dir());
    server.shutdown().await.unwrap();

    let snap = TestEnv::new("storage:\n  retention:\n    time: 0s\n");
    std::fs::create_dir_all(snap.path().join("data")).unwrap();
    std::fs::rename(env.path().join("data/snapshots").join(&name).join("blocks"), snap.path().join("data/blocks"))
        .unwrap();
    let snap_server = snap.start().await;
    assert_eq!(count(snap_server.local_addr(), "a").await, 300, "the snapshot serves the data");
    assert_eq!(count(snap_server.local_addr(), "b").await, 0);
    snap_server.shutdown().await.unwrap();

    let server = env.start().await;
    let addr = server.local_addr();
    assert_eq!(count(addr, "b").await, 0, "deletion survives a restart");
    assert_eq!(count(addr, "a").await, 300);
    server.shutdown().await.unwrap();
}
