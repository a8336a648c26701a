//! The host agent's loop: every interval, collect the host's families and append them
//! to the store with `job` and `instance` labels, writing staleness markers for series
//! that disappeared since the previous round (an unmounted filesystem, a removed
//! network interface), as Prometheus does for a scrape target.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use wk_config::PromDuration;
use wk_model::{Labels, STALE_NAN, Sample};
use wk_storage::{AppendError, Appendable};

use super::{HostCollector, HostOptions};
use crate::family::MetricFamily;

/// The `host_agent:` section: the built-in node_exporter, on by default.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostAgentConfig {
    /// Collect the host's metrics. Default true.
    pub enabled: bool,
    /// How often. Default 15s.
    pub interval: PromDuration,
    /// The `job` label of every series. Default `node`.
    pub job: String,
    /// The `instance` label; the host name when not set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

impl Default for HostAgentConfig {
    fn default() -> Self {
        Self { enabled: true, interval: PromDuration::from_secs(15), job: "node".to_owned(), instance: None }
    }
}

/// What one round wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// Samples appended (staleness markers included).
    pub appended: u64,
    /// Staleness markers written for series that disappeared.
    pub stale: u64,
    /// Samples the store rejected.
    pub rejected: u64,
}

/// The agent's state between rounds.
#[derive(Debug)]
pub struct HostAgent {
    collector: HostCollector,
    job: String,
    instance: String,
    previous: HashSet<Labels>,
}

impl HostAgent {
    /// An agent with the given labels, reading the live host.
    pub fn new(config: &HostAgentConfig, options: HostOptions) -> Self {
        let instance = config.instance.clone().unwrap_or_else(host_name);
        Self { collector: HostCollector::new(options), job: config.job.clone(), instance, previous: HashSet::new() }
    }

    /// The `instance` label the agent writes.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Collects once and appends everything at `now_ms` in one batch.
    pub fn round(&mut self, store: &dyn Appendable, now_ms: i64) -> Result<Round, AppendError> {
        let families = self.collector.collect();
        let mut current = HashSet::with_capacity(self.previous.len().max(256));
        let mut appender = store.appender();
        let mut round = Round::default();
        for family in &families {
            for labels in self.series_labels(family) {
                let (labels, value) = labels;
                match appender.append(None, &labels, Sample { t: now_ms, v: value }) {
                    Ok(_) => round.appended += 1,
                    Err(_) => round.rejected += 1,
                }
                current.insert(labels);
            }
        }
        for gone in self.previous.difference(&current) {
            if appender.append(None, gone, Sample { t: now_ms, v: STALE_NAN }).is_ok() {
                round.stale += 1;
                round.appended += 1;
            }
        }
        let summary = appender.commit()?;
        round.rejected += summary.rejected.iter().map(|(_, n)| n).sum::<u64>();
        self.previous = current;
        Ok(round)
    }

    fn series_labels<'a>(&'a self, family: &'a MetricFamily) -> impl Iterator<Item = (Labels, f64)> + 'a {
        family.samples.iter().filter_map(move |sample| {
            let pairs = sample.labels.iter().map(|(n, v)| (*n, v.as_str())).chain([
                ("__name__", family.name.as_str()),
                ("job", self.job.as_str()),
                ("instance", self.instance.as_str()),
            ]);
            Labels::from_pairs(pairs).ok().map(|labels| (labels, sample.value))
        })
    }
}

/// Runs rounds every `interval` until `shutdown` turns true. Collection runs on the
/// blocking pool (it reads files); a failed round is logged and the next one tried.
pub async fn run(
    mut agent: HostAgent,
    store: Arc<dyn Appendable>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(interval.max(Duration::from_millis(100)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        let store = store.clone();
        let result = tokio::task::spawn_blocking(move || {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            let result = agent.round(store.as_ref(), now);
            (agent, result)
        })
        .await;
        match result {
            Ok((returned, outcome)) => {
                agent = returned;
                match outcome {
                    Ok(round) if round.rejected > 0 => {
                        tracing::warn!(rejected = round.rejected, "host agent: the store rejected samples")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "host agent: writing a round failed"),
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "host agent round panicked; the agent stops");
                return;
            }
        }
    }
}

fn host_name() -> String {
    rustix::system::uname().nodename().to_string_lossy().into_owned()
}
