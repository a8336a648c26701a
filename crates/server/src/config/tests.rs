//! Golden tests for configuration loading. Each `testdata/config/*.bad.yml` has a
//! `*.bad.yml.errors` file with the exact lines `check config` prints for it (paths
//! relative to `testdata/config`); each `*.good.yml` a `*.good.yml.warnings` file.
//! `WK_BLESS=1 cargo test -p wk-server` rewrites them; reviewing the diff is the review.

use std::path::{Path, PathBuf};

use super::*;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/config")
}

fn upstream_corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/prometheus/config")
}

fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    files
}

/// Loads `file` with its path shown relative to its folder, as the golden files say.
fn outcome(file: &Path) -> (bool, String) {
    let text = std::fs::read_to_string(file).unwrap();
    let shown = Path::new(file.file_name().unwrap());
    match parse(&text, shown) {
        Ok(loaded) => (true, loaded.warnings.iter().map(|w| format!("{w}\n")).collect()),
        Err(e) => (false, e.lines().iter().map(|l| format!("{l}\n")).collect()),
    }
}

fn check_golden(file: &Path, expected_suffix: &str, printed: &str) {
    let golden = PathBuf::from(format!("{}{expected_suffix}", file.display()));
    if std::env::var_os("WK_BLESS").is_some() {
        std::fs::write(&golden, printed).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&golden)
        .unwrap_or_else(|_| panic!("{} is missing: run with WK_BLESS=1 and review it", golden.display()));
    assert_eq!(printed, expected, "{} differs from its golden file", file.display());
}

#[test]
fn bad_configs_print_the_expected_errors() {
    let files = files_ending(&testdata(), ".bad.yml");
    assert!(files.len() >= 10, "golden corpus missing");
    for file in files {
        let (ok, printed) = outcome(&file);
        assert!(!ok, "{} was accepted", file.display());
        for line in printed.lines() {
            let location = line.split(": ").next().unwrap();
            let parts: Vec<&str> = location.split(':').collect();
            assert_eq!(parts.len(), 3, "no FILE:LINE:COLUMN in {line:?}");
            assert!(parts[1].parse::<u32>().unwrap() > 0 && parts[2].parse::<u32>().unwrap() > 0, "{line:?}");
        }
        check_golden(&file, ".errors", &printed);
    }
}

#[test]
fn good_configs_load_with_the_expected_warnings() {
    for file in files_ending(&testdata(), ".good.yml") {
        let (ok, printed) = outcome(&file);
        assert!(ok, "{} was rejected:\n{printed}", file.display());
        check_golden(&file, ".warnings", &printed);
    }
}

#[test]
fn all_errors_are_reported_at_once() {
    let (_, printed) = outcome(&testdata().join("many_problems.bad.yml"));
    let count = printed.lines().count();
    assert!(count >= 6, "expected every problem, got {count}:\n{printed}");
}

#[test]
fn every_upstream_good_config_loads() {
    let files = files_ending(&upstream_corpus(), ".good.yml");
    assert!(files.len() > 40, "upstream corpus not found at {}", upstream_corpus().display());
    for file in files {
        let (ok, printed) = outcome(&file);
        assert!(ok, "{} rejected:\n{printed}", file.display());
    }
}

/// Upstream `*.bad.yml` files whose problem lies in parts Watchkeeper types and checks
/// today. The rest concern discovery mechanisms, remote write/read, tracing, OTLP and
/// TSDB settings, which are accepted as written and reported as not yet supported.
const UPSTREAM_BAD_CHECKED: &[&str] = &[
    "bearertoken.bad.yml",
    "bearertoken_basicauth.bad.yml",
    "dropequal.bad.yml",
    "dropequal1.bad.yml",
    "empty_alert_relabel_config.bad.yml",
    "empty_metric_relabel_config.bad.yml",
    "empty_scrape_config.bad.yml",
    "empty_scrape_config_action.bad.yml",
    "empty_static_config.bad.yml",
    "empty_target_relabel_config.bad.yml",
    "http_url_bad_scheme.bad.yml",
    "http_url_no_host.bad.yml",
    "http_url_no_scheme.bad.yml",
    "jobname.bad.yml",
    "jobname_dup.bad.yml",
    "keepequal.bad.yml",
    "keepequal1.bad.yml",
    "labeldrop.bad.yml",
    "labeldrop2.bad.yml",
    "labeldrop3.bad.yml",
    "labeldrop4.bad.yml",
    "labeldrop5.bad.yml",
    "labelkeep.bad.yml",
    "labelkeep2.bad.yml",
    "labelkeep3.bad.yml",
    "labelkeep4.bad.yml",
    "labelkeep5.bad.yml",
    "labelmap.bad.yml",
    "labelname.bad.yml",
    "labelvalue.bad.yml",
    "lowercase.bad.yml",
    "lowercase3.bad.yml",
    "metric_name_validation_scheme.bad.yml",
    "modulus_missing.bad.yml",
    "regex.bad.yml",
    "rules.bad.yml",
    "scrape_body_size_limit.bad.yml",
    "scrape_config_files_fallback_scrape_protocol2.bad.yml",
    "scrape_config_files_scrape_protocols.bad.yml",
    "scrape_config_files_scrape_protocols2.bad.yml",
    "scrape_config_files_fallback_scrape_protocol1.bad.yml",
    "scrape_config_utf8_conflicting.bad.yml",
    "scrape_interval.bad.yml",
    "section_key_dup.bad.yml",
    "target_label_hashmod_missing.bad.yml",
    "target_label_missing.bad.yml",
    "unknown_attr.bad.yml",
    "unknown_global_attr.bad.yml",
    "uppercase.bad.yml",
    "uppercase3.bad.yml",
    "url_in_targetgroup.bad.yml",
];

#[test]
fn upstream_bad_configs_in_checked_areas_are_rejected() {
    for name in UPSTREAM_BAD_CHECKED {
        let file = upstream_corpus().join(name);
        assert!(file.exists(), "{} missing from the upstream corpus", file.display());
        let (ok, printed) = outcome(&file);
        assert!(!ok, "{name} was accepted:\n{printed}");
    }
}

#[test]
fn empty_file_is_the_default_config() {
    let loaded = parse("", Path::new("empty.yml")).unwrap();
    assert_eq!(loaded.config.web.listen_address.to_string(), DEFAULT_LISTEN_ADDRESS);
    assert_eq!(loaded.config.global().scrape_interval, PromDuration::from_secs(60));
    assert_eq!(loaded.config.storage.path, Path::new("data"));
    let commented = parse("# nothing here\n", Path::new("c.yml")).unwrap();
    assert_eq!(commented.config.global().evaluation_interval, PromDuration::from_secs(60));
}

#[test]
fn scrape_defaults_come_from_global() {
    let text = "global:\n  scrape_interval: 5s\n  sample_limit: 10\nscrape_configs:\n  - job_name: a\n  - job_name: b\n    scrape_interval: 1m\n";
    let loaded = parse(text, Path::new("x.yml")).unwrap();
    let jobs: Vec<_> = loaded.config.scrape_jobs().collect();
    assert_eq!(jobs[0].scrape_interval, Some(PromDuration::from_secs(5)));
    // The default 10s timeout is capped at the shorter global interval, as in
    // Prometheus, and jobs inherit that global timeout.
    assert_eq!(jobs[0].scrape_timeout, Some(PromDuration::from_secs(5)));
    assert_eq!(jobs[1].scrape_timeout, Some(PromDuration::from_secs(5)));
    let text = "scrape_configs:\n  - job_name: a\n    scrape_interval: 2s\n";
    let loaded = parse(text, Path::new("x.yml")).unwrap();
    assert_eq!(loaded.config.scrape_jobs().next().unwrap().scrape_timeout, Some(PromDuration::from_secs(2)));
    assert_eq!(jobs[1].sample_limit, Some(10));
    assert!(jobs[1].honor_timestamps);
    assert_eq!(jobs[1].metrics_path, "/metrics");
}

#[test]
fn environment_references_expand_in_secrets() {
    // PATH is set in every environment this runs in; setting a variable would need
    // `unsafe` (edition 2024) and would race with other tests.
    let path = std::env::var("PATH").expect("PATH is set");
    let text = "scrape_configs:\n  - job_name: a\n    authorization:\n      credentials: x-${PATH}-y\n";
    let loaded = parse(text, Path::new("x.yml")).unwrap();
    let job = loaded.config.scrape_jobs().next().unwrap();
    let credentials = job.authorization.as_ref().unwrap().credentials.as_ref().unwrap();
    assert_eq!(credentials.expose(), format!("x-{path}-y"));
    assert!(!format!("{:?}", loaded.config).contains(&path), "Debug must not print secrets");
    assert!(!loaded.config.to_redacted_yaml().contains(&path));
}

#[test]
fn relabel_rules_from_the_file_compile_and_apply() {
    let loaded =
        parse(&std::fs::read_to_string(testdata().join("good_everything.good.yml")).unwrap(), Path::new("g.yml"))
            .unwrap();
    let job = loaded.config.scrape_jobs().next().unwrap();
    let rules: Vec<_> =
        job.relabel_configs.iter().filter_map(|r| r.value.as_ref()).map(|r| r.compile().unwrap()).collect();
    let mut labels = vec![("__address__".to_owned(), "web1:9100".to_owned()), ("tmp_x".to_owned(), "1".to_owned())];
    assert!(wk_collect::relabel::process(&mut labels, &rules));
    assert_eq!(
        labels,
        vec![("__address__".to_owned(), "web1:9100".to_owned()), ("host".to_owned(), "web1".to_owned())]
    );
}

#[test]
fn otlp_grpc_defaults_and_port_collision() {
    let loaded = parse("", Path::new("a.yml")).unwrap();
    assert!(loaded.config.otlp.grpc.enabled);
    assert_eq!(loaded.config.otlp.grpc.listen_address.to_string(), "127.0.0.1:4317");
    let loaded = parse("otlp:\n  grpc:\n    enabled: false\n", Path::new("a.yml")).unwrap();
    assert!(!loaded.config.otlp.grpc.enabled);
    let same = "web:\n  listen_address: 127.0.0.1:9000\notlp:\n  grpc:\n    listen_address: 127.0.0.1:9000\n";
    let err = parse(same, Path::new("a.yml")).unwrap_err().to_string();
    assert!(err.contains("otlp.grpc.listen_address 127.0.0.1:9000 is also web.listen_address"), "{err}");
    let disabled = format!("{same}    enabled: false\n");
    assert!(parse(&disabled, Path::new("a.yml")).is_ok());
    let yaml = parse("otlp:\n  grpc:\n    listen_address: 0.0.0.0:4317\n", Path::new("a.yml")).unwrap();
    assert!(yaml.config.to_redacted_yaml().contains("listen_address: 0.0.0.0:4317"));
}
