//! `docs/self-monitoring.md` must list every metric family that `/metrics` exposes.

mod common;

use common::{TestEnv, request};

#[tokio::test]
async fn every_exposed_metric_is_documented() {
    let doc_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/self-monitoring.md");
    let doc = std::fs::read_to_string(&doc_path).unwrap();
    let env = TestEnv::new("");
    let server = env.start().await;
    let metrics = request(server.local_addr(), "GET", "/metrics", &[], "").await.body;
    server.shutdown().await.unwrap();
    let families: Vec<&str> = metrics.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next()).collect();
    assert!(families.len() >= 10, "too few families: {families:?}");
    let missing: Vec<&str> = families.into_iter().filter(|f| !doc.contains(&format!("`{f}`"))).collect();
    assert!(missing.is_empty(), "undocumented in docs/self-monitoring.md: {missing:?}");
}
