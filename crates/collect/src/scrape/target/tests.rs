//! Target population cases, after Prometheus's documented behaviour.

use super::*;
use crate::relabel::{Action, Rule};

fn job(yaml_params: &[(&str, &[&str])]) -> ScrapeConfig {
    let mut job = ScrapeConfig::default();
    job.job_name.value = "node".to_owned();
    job.scrape_interval = Some(PromDuration::from_secs(15));
    job.scrape_timeout = Some(PromDuration::from_secs(10));
    job.params =
        yaml_params.iter().map(|(n, v)| ((*n).to_owned(), v.iter().map(|s| (*s).to_owned()).collect())).collect();
    job
}

fn group(targets: &[&[(&str, &str)]], labels: &[(&str, &str)]) -> TargetGroup {
    TargetGroup {
        source: "static/0".to_owned(),
        targets: targets.iter().map(|t| t.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()).collect(),
        labels: labels.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect(),
    }
}

fn active(p: Populated) -> Target {
    match p {
        Populated::Active(t) => t,
        Populated::Dropped { discovered } => panic!("dropped: {discovered:?}"),
    }
}

#[test]
fn defaults_and_instance() {
    let g = group(&[&[("__address__", "host-1:9100")]], &[("env", "prod")]);
    let t = active(populate(&job(&[]), &[], &g, &g.targets[0]).unwrap());
    let public: Vec<_> = t.public_labels().collect();
    assert_eq!(public, vec![("env", "prod"), ("instance", "host-1:9100"), ("job", "node")]);
    assert_eq!(t.get("__scheme__"), Some("http"));
    assert_eq!(t.get("__metrics_path__"), Some("/metrics"));
    assert_eq!(t.url(&BTreeMap::new()), "http://host-1:9100/metrics");
    assert_eq!((t.interval, t.timeout), (PromDuration::from_secs(15), PromDuration::from_secs(10)));
}

#[test]
fn target_labels_win_over_group_labels_and_meta_labels_go() {
    let g = group(&[&[("__address__", "a:1"), ("env", "canary"), ("__meta_filepath", "/x.json")]], &[("env", "prod")]);
    let t = active(populate(&job(&[]), &[], &g, &g.targets[0]).unwrap());
    assert_eq!(t.get("env"), Some("canary"));
    assert_eq!(t.get("__meta_filepath"), None);
    assert!(t.discovered.iter().any(|(n, _)| n == "__meta_filepath"), "kept in the discovered labels");
}

#[test]
fn relabeling_sets_instance_path_params_and_can_drop() {
    let rules = vec![
        Rule::new(Action::Replace, vec!["__address__".into()], ";", "(.*):9100", 0, "instance", "$1").unwrap(),
        Rule::new(Action::Replace, vec![], ";", "(.*)", 0, "__metrics_path__", "/probe").unwrap(),
        Rule::new(Action::Replace, vec!["__address__".into()], ";", "(.*)", 0, "__param_target", "$1").unwrap(),
        Rule::new(Action::Drop, vec!["env".into()], ";", "dev", 0, "", "$1").unwrap(),
    ];
    let g = group(&[&[("__address__", "web:9100")], &[("__address__", "db:9100"), ("env", "dev")]], &[]);
    let t = active(populate(&job(&[("module", &["http_2xx"])]), &rules, &g, &g.targets[0]).unwrap());
    assert_eq!(t.get("instance"), Some("web"));
    assert_eq!(
        t.url(&job(&[("module", &["http_2xx"])]).params),
        "http://web:9100/probe?module=http_2xx&target=web%3A9100"
    );
    assert!(matches!(populate(&job(&[]), &rules, &g, &g.targets[1]).unwrap(), Populated::Dropped { .. }));
}

#[test]
fn invalid_targets_say_why() {
    let g = group(&[&[("__address__", "http://x/metrics")], &[("env", "no-address")]], &[]);
    assert_eq!(
        populate(&job(&[]), &[], &g, &g.targets[0]).unwrap_err(),
        "\"http://x/metrics\" is not a valid hostname"
    );
    assert_eq!(populate(&job(&[]), &[], &g, &g.targets[1]).unwrap_err(), "no address");
    let rules = vec![Rule::new(Action::Replace, vec![], ";", "(.*)", 0, "__scrape_timeout__", "1m").unwrap()];
    let g = group(&[&[("__address__", "a:1")]], &[]);
    assert!(populate(&job(&[]), &rules, &g, &g.targets[0]).unwrap_err().contains("greater than scrape interval"));
}

#[test]
fn per_target_interval_from_relabeling() {
    let rules = vec![Rule::new(Action::Replace, vec![], ";", "(.*)", 0, "__scrape_interval__", "1m").unwrap()];
    let g = group(&[&[("__address__", "a:1")]], &[]);
    let t = active(populate(&job(&[]), &rules, &g, &g.targets[0]).unwrap());
    assert_eq!(t.interval, PromDuration::from_secs(60));
}
