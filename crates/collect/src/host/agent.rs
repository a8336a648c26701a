//! The host agent's loop: every interval, collect the host's families and append them
//! to the store with `job` and `instance` labels, writing staleness markers for series
//! that disappeared since the previous round (an unmounted filesystem, a removed
//! network interface), as Prometheus does for a scrape target.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use wk_config::PromDuration;
use wk_storage::{AppendError, Appendable};

use super::{HostCollector, HostOptions};
pub use crate::writer::Round;
use crate::writer::{FamilyWriter, now_ms};

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

/// The agent's state between rounds.
#[derive(Debug)]
pub struct HostAgent {
    collector: HostCollector,
    instance: String,
    writer: FamilyWriter,
}

impl HostAgent {
    /// An agent with the given labels, reading the live host.
    pub fn new(config: &HostAgentConfig, options: HostOptions) -> Self {
        let instance = config.instance.clone().unwrap_or_else(host_name);
        let writer =
            FamilyWriter::new(vec![("job".to_owned(), config.job.clone()), ("instance".to_owned(), instance.clone())]);
        Self { collector: HostCollector::new(options), instance, writer }
    }

    /// The `instance` label the agent writes.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Collects once and appends everything at `now_ms` in one batch.
    pub fn round(&mut self, store: &dyn Appendable, now_ms: i64) -> Result<Round, AppendError> {
        let families = self.collector.collect();
        self.writer.write(store, &families, now_ms)
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
            let result = agent.round(store.as_ref(), now_ms());
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
