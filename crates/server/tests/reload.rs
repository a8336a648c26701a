//! Reloading the configuration: a valid file comes into force, a broken one is
//! reported and the previous configuration keeps running.

mod common;

use common::{TestEnv, request};

const GOOD_V1: &str = "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: first\n";
const GOOD_V2: &str = "global:\n  scrape_interval: 30s\nscrape_configs:\n  - job_name: second\n";
const BROKEN: &str = "global:\n  scrape_interval: 30s\nscrape_configs:\n  - job_name: second\n    scrape_intervl: 1m\n";

fn config_yaml(body: &str) -> String {
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    json["data"]["yaml"].as_str().unwrap().to_owned()
}

fn reload_gauge(metrics: &str) -> &str {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("watchkeeper_config_last_reload_successful "))
        .expect("reload gauge present")
}

#[tokio::test]
async fn http_reload_applies_good_and_rejects_broken_config() {
    let env = TestEnv::new(GOOD_V1);
    let server = env.start().await;
    let addr = server.local_addr();
    assert!(
        config_yaml(&request(addr, "GET", "/api/v1/status/config", &[], "").await.body).contains("job_name: first")
    );

    env.write_config(GOOD_V2);
    let ok = request(addr, "POST", "/-/reload", &[], "").await;
    assert_eq!(ok.status, 200, "{ok:?}");
    let yaml = config_yaml(&request(addr, "GET", "/api/v1/status/config", &[], "").await.body);
    assert!(yaml.contains("job_name: second") && yaml.contains("scrape_interval: 30s"), "{yaml}");

    env.write_config(BROKEN);
    let failed = request(addr, "POST", "/-/reload", &[], "").await;
    assert_eq!(failed.status, 500);
    let expected = format!("{}:5:5: unknown field `scrape_intervl`", env.config_path().display());
    assert!(failed.body.contains(&expected), "want {expected:?} in {:?}", failed.body);
    let yaml = config_yaml(&request(addr, "GET", "/api/v1/status/config", &[], "").await.body);
    assert!(yaml.contains("job_name: second"), "old config must stay in force: {yaml}");
    assert_eq!(server.config().get().scrape_jobs().next().unwrap().job_name.value, "second");
    let metrics = request(addr, "GET", "/metrics", &[], "").await.body;
    assert_eq!(reload_gauge(&metrics), "0");
    assert!(metrics.contains("watchkeeper_config_reload_failures_total 1"), "{metrics}");

    env.write_config(GOOD_V1);
    assert_eq!(request(addr, "PUT", "/-/reload", &[], "").await.status, 200);
    let metrics = request(addr, "GET", "/metrics", &[], "").await.body;
    assert_eq!(reload_gauge(&metrics), "1");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn subscribers_see_each_new_config() {
    let env = TestEnv::new(GOOD_V1);
    let server = env.start().await;
    let mut changes = server.config().subscribe();
    env.write_config(GOOD_V2);
    server.config().reload().await.unwrap();
    changes.changed().await.unwrap();
    assert_eq!(changes.borrow().global().scrape_interval.to_string(), "30s");
    env.write_config("not: [valid");
    assert!(server.config().reload().await.is_err());
    assert!(!changes.has_changed().unwrap(), "a failed reload must not notify");
    server.shutdown().await.unwrap();
}
