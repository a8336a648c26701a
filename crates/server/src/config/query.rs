//! The `query:` section: limits of PromQL evaluation.

use serde::{Deserialize, Serialize};
use wk_config::{Location, Problems, PromDuration};

/// Query admission control and limits.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueryConfig {
    /// Longest a query may run; its work is stopped at the deadline. Default 2m.
    pub timeout: PromDuration,
    /// Most samples one query may hold in memory at once (as Prometheus's
    /// `--query.max-samples`); more is an error (422), never an out-of-memory
    /// kill. Default 50,000,000.
    pub max_samples: usize,
    /// Queries evaluated at once; more wait in a queue. Default 20.
    pub max_concurrent_queries: usize,
    /// How long a queued query waits for a slot before it is answered 503. Default 30s.
    pub queue_wait: PromDuration,
    /// How far back an instant selector looks for a sample. Default 5m.
    pub lookback_delta: PromDuration,
    /// Queries slower than this are logged with their text. Default 10s.
    pub slow_query_threshold: PromDuration,
}

impl Default for QueryConfig {
    fn default() -> Self {
        Self {
            timeout: PromDuration::from_secs(120),
            max_samples: 50_000_000,
            max_concurrent_queries: 20,
            queue_wait: PromDuration::from_secs(30),
            lookback_delta: PromDuration::from_secs(300),
            slow_query_threshold: PromDuration::from_secs(10),
        }
    }
}

impl QueryConfig {
    pub(crate) fn validate(&self, problems: &mut Problems) {
        if self.timeout.get().is_zero() {
            problems.error(Location::UNKNOWN, "query.timeout must be greater than 0s");
        }
        if self.max_concurrent_queries == 0 {
            problems.error(Location::UNKNOWN, "query.max_concurrent_queries must be at least 1");
        }
        if self.lookback_delta.get().is_zero() {
            problems.error(Location::UNKNOWN, "query.lookback_delta must be greater than 0s");
        }
    }

    /// The query API's options.
    pub fn options(&self) -> wk_api::query::QueryOptions {
        let mut options = wk_api::query::QueryOptions::default();
        options.engine.timeout = Some(self.timeout.get());
        options.engine.max_samples = self.max_samples;
        options.engine.lookback_delta_ms = self.lookback_delta.get().as_millis() as i64;
        options.max_concurrent_queries = self.max_concurrent_queries;
        options.queue_wait = self.queue_wait.get();
        options.slow_query_threshold = self.slow_query_threshold.get();
        options
    }
}
