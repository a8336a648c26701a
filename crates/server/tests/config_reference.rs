//! `docs/configuration.md` must describe every key the loader accepts. The list of
//! accepted keys comes from the loader itself: an unknown key at each place makes it
//! name every key it expected there.

use std::path::Path;

const PLACES: &[(&str, &str)] = &[
    ("top level", "zzz_unknown: 1\n"),
    ("global", "global:\n  zzz_unknown: 1\n"),
    ("web", "web:\n  zzz_unknown: 1\n"),
    ("web.tls_config", "web:\n  tls_config:\n    cert_file: a\n    key_file: b\n    zzz_unknown: 1\n"),
    ("otlp", "otlp:\n  zzz_unknown: 1\n"),
    ("otlp.grpc", "otlp:\n  grpc:\n    zzz_unknown: 1\n"),
    ("storage", "storage:\n  zzz_unknown: 1\n"),
    ("storage.wal", "storage:\n  wal:\n    zzz_unknown: 1\n"),
    ("storage.limits", "storage:\n  limits:\n    zzz_unknown: 1\n"),
    ("alerting", "alerting:\n  zzz_unknown: 1\n"),
    ("host_agent", "host_agent:\n  zzz_unknown: 1\n"),
    ("agent", "agent:\n  zzz_unknown: 1\n"),
    ("remote_write", "remote_write:\n  - url: http://a/\n    zzz_unknown: 1\n"),
    ("remote_write.queue_config", "remote_write:\n  - url: http://a/\n    queue_config:\n      zzz_unknown: 1\n"),
    ("query", "query:\n  zzz_unknown: 1\n"),
    ("self_monitoring", "self_monitoring:\n  zzz_unknown: 1\n"),
    ("probes", "probes:\n  - name: a\n    type: tcp\n    target: a:1\n    zzz_unknown: 1\n"),
    ("probes.http", "probes:\n  - name: a\n    type: http\n    target: http://a/\n    http:\n      zzz_unknown: 1\n"),
    ("probes.dns", "probes:\n  - name: a\n    type: dns\n    target: 127.0.0.1\n    dns:\n      zzz_unknown: 1\n"),
    ("heartbeats", "heartbeats:\n  - name: a\n    period: 1m\n    zzz_unknown: 1\n"),
    ("scrape config", "scrape_configs:\n  - job_name: a\n    zzz_unknown: 1\n"),
    ("static_configs", "scrape_configs:\n  - job_name: a\n    static_configs:\n      - zzz_unknown: 1\n"),
    ("file_sd_configs", "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - zzz_unknown: 1\n"),
    ("dns_sd_configs", "scrape_configs:\n  - job_name: a\n    dns_sd_configs:\n      - zzz_unknown: 1\n"),
    ("http_sd_configs", "scrape_configs:\n  - job_name: a\n    http_sd_configs:\n      - zzz_unknown: 1\n"),
    ("relabel_configs", "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - zzz_unknown: 1\n"),
    ("basic_auth", "scrape_configs:\n  - job_name: a\n    basic_auth:\n      zzz_unknown: 1\n"),
    ("authorization", "scrape_configs:\n  - job_name: a\n    authorization:\n      zzz_unknown: 1\n"),
    ("oauth2", "scrape_configs:\n  - job_name: a\n    oauth2:\n      zzz_unknown: 1\n"),
    ("tls_config", "scrape_configs:\n  - job_name: a\n    tls_config:\n      zzz_unknown: 1\n"),
    ("http_headers", "scrape_configs:\n  - job_name: a\n    http_headers:\n      X-A:\n        zzz_unknown: 1\n"),
];

fn expected_keys(yaml: &str) -> Vec<String> {
    let err = wk_server::config::parse(yaml, Path::new("probe.yml")).unwrap_err().to_string();
    let list = err
        .split("expected one of ")
        .nth(1)
        .unwrap_or_else(|| panic!("no key list in {err:?}"))
        .lines()
        .next()
        .unwrap();
    list.split(", ").map(|k| k.trim_matches('`').to_owned()).collect()
}

#[test]
fn every_accepted_key_is_documented() {
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
    let doc = std::fs::read_to_string(&doc_path).unwrap();
    let mut missing = Vec::new();
    for (place, yaml) in PLACES {
        let keys = expected_keys(yaml);
        assert!(!keys.is_empty(), "{place}: no keys");
        for key in keys {
            if !doc.contains(&format!("`{key}`")) {
                missing.push(format!("{place}: `{key}`"));
            }
        }
    }
    assert!(missing.is_empty(), "undocumented in docs/configuration.md:\n{}", missing.join("\n"));
}

/// Every route the server answers is listed in docs/http-api.md.
#[test]
fn every_route_is_documented() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/http-api.md")).unwrap();
    for route in [
        "/-/healthy",
        "/-/ready",
        "/-/reload",
        "/metrics",
        "/api/v1/query",
        "/api/v1/query_range",
        "/api/v1/series",
        "/api/v1/labels",
        "/api/v1/label/NAME/values",
        "/api/v1/metadata",
        "/api/v1/query_exemplars",
        "/api/v1/format_query",
        "/api/v1/status/buildinfo",
        "/api/v1/status/runtimeinfo",
        "/api/v1/status/flags",
        "/api/v1/status/config",
        "/api/v1/status/tsdb",
        "/api/v1/targets",
        "/federate",
        "/api/v1/status/queries",
        "/api/v1/write",
        "/v1/metrics",
        "/write",
        "/api/v1/heartbeat/NAME",
        "/api/v2/write",
    ] {
        let forms = [format!("`{route}`"), format!(" {route}`"), format!("`{route} "), format!(" {route},")];
        assert!(forms.iter().any(|f| doc.contains(f.as_str())), "{route} is not in docs/http-api.md");
    }
}
