//! Disk protection on a real, small file system (a 32 MiB tmpfs mounted for the
//! test; the suite runs as root, as CI does): writes are refused with a retryable 503
//! before the disk is full, the process keeps running, and writes resume by themselves
//! once space is freed.

mod common;
#[path = "../../tsdb/tests/support/small_fs.rs"]
mod small_fs;

use std::time::Duration;

use common::{OTLP_EXPORT, TestEnv, grpc_call, grpc_frame, otlp_gauge_request, request};
use small_fs::{Mount, fill_leaving};
use wk_ingest::remote_write::proto::{Label, Sample, TimeSeries, WriteRequest};

async fn write(addr: std::net::SocketAddr, t: i64) -> common::Response {
    let request = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![Label { name: "__name__".into(), value: "disk_test".into() }],
            samples: vec![Sample { value: 1.0, timestamp: t }],
            exemplars: vec![],
            histograms: vec![],
        }],
        metadata: vec![],
    };
    common::remote_write(addr, &request).await
}

#[tokio::test]
async fn writes_stop_before_the_disk_is_full_and_resume_by_themselves() {
    let scratch = tempfile::tempdir().unwrap();
    let fs = scratch.path().join("small-fs");
    let _mount = Mount::tmpfs(&fs, "32m");
    let env = TestEnv::new(&format!(
        "host_agent:\n  enabled: false\nstorage:\n  path: {}\n  min_free_space: 8MB\n",
        fs.join("data").display()
    ));
    let mut options = env.options();
    options.overrides.storage_path = None;
    let server = wk_server::Server::start(options).await.unwrap();
    let addr = server.local_addr();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    assert_eq!(write(addr, now).await.status, 204);

    // Leave 4 MiB free: under the 8 MB watermark, far from full.
    let filler = fill_leaving(&fs, 4 << 20);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let refused = write(addr, now + 1000).await;
    assert_eq!(refused.status, 503, "{refused:?}");
    assert!(refused.header("retry-after").is_some(), "senders are told to retry");
    assert!(refused.body.contains("disk almost full") && refused.body.contains("small-fs"), "{}", refused.body);
    // OTLP/gRPC: UNAVAILABLE with RetryInfo, the gRPC form of 503 + Retry-After.
    let grpc = server.otlp_grpc_addr().unwrap();
    let body = grpc_frame(false, &otlp_gauge_request("disk_test_grpc", 1.0));
    let answer = grpc_call(grpc, OTLP_EXPORT, &[("content-type", "application/grpc")], body).await;
    let (code, message) = answer.status();
    assert_eq!(code, Some(14), "UNAVAILABLE: {message}");
    assert!(message.contains("disk almost full"), "{message}");
    assert!(answer.status_header("grpc-status-details-bin").is_some(), "RetryInfo tells the exporter to retry");
    let metrics = request(addr, "GET", "/metrics", &[], "").await.body;
    assert!(metrics.contains("watchkeeper_storage_disk_full 1"), "{metrics}");
    assert_eq!(request(addr, "GET", "/-/healthy", &[], "").await.status, 200, "the process keeps running");

    std::fs::remove_file(&filler).unwrap();
    let mut resumed = false;
    for _ in 0..40 {
        if write(addr, now + 2000).await.status == 204 {
            resumed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(resumed, "writes resume once space is freed");
    let metrics = request(addr, "GET", "/metrics", &[], "").await.body;
    assert!(metrics.contains("watchkeeper_storage_disk_full 0"), "{metrics}");
    server.shutdown().await.unwrap();
}
