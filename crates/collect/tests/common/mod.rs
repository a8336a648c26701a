//! Fixtures shared by the scrape and discovery tests: jobs from YAML, a manager with
//! fast polling, queries of a real TSDB head, and polling with a deadline.
#![allow(dead_code)]

pub mod dnsmasq;

use std::sync::Arc;
use std::time::{Duration, Instant};

use wk_collect::scrape::{ScrapeConfig, ScrapeDefaults, ScrapeManager, ScrapeManagerOptions};
use wk_config::{Location, Problems, PromDuration};
use wk_model::{MatchOp, Matcher};
use wk_storage::Querier;
use wk_tsdb::{Head, HeadOptions};

/// A job from YAML, defaulted and validated as the configuration loader does, with a
/// 200 ms interval unless the YAML says otherwise.
pub fn job(yaml: &str) -> ScrapeConfig {
    let mut job: ScrapeConfig = serde_saphyr::from_str(yaml).unwrap();
    let defaults = ScrapeDefaults {
        scrape_interval: PromDuration::from_millis(200),
        scrape_timeout: PromDuration::from_millis(200),
        ..Default::default()
    };
    let mut problems = Problems::default();
    job.finalize(&defaults, Location::UNKNOWN, &mut problems);
    assert!(!problems.has_errors(), "{:?}", problems.into_sorted());
    job
}

pub fn manager(head: &Arc<Head>) -> ScrapeManager {
    ScrapeManager::with_options(
        head.clone(),
        ScrapeManagerOptions { file_sd_poll_interval: Duration::from_millis(100), ..Default::default() },
    )
}

pub type SeriesData = (String, Vec<(i64, f64)>);

/// Every series matching `name` and the `extra` equality matchers, formatted labels
/// and samples.
pub fn series(head: &Head, name: &str, extra: &[(&str, &str)]) -> Vec<SeriesData> {
    let mut matchers = vec![Matcher::new(MatchOp::Eq, "__name__", name).unwrap()];
    for (n, v) in extra {
        matchers.push(Matcher::new(MatchOp::Eq, *n, *v).unwrap());
    }
    let querier = head.querier();
    querier
        .select(&matchers, i64::MIN, i64::MAX)
        .unwrap()
        .map(|s| {
            let s = s.unwrap();
            (format!("{:?}", s.labels), s.samples.iter().map(|x| (x.t, x.v)).collect())
        })
        .collect()
}

/// The last sample of the only series matching, if there is exactly one.
pub fn last(head: &Head, name: &str, extra: &[(&str, &str)]) -> Option<(i64, f64)> {
    let found = series(head, name, extra);
    if found.len() != 1 {
        return None;
    }
    found[0].1.last().copied()
}

/// Polls `check` every 20 ms until it returns `Some`, failing after 6 s.
pub async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(6);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn new_head() -> Arc<Head> {
    Arc::new(Head::new(HeadOptions::default()).unwrap())
}
