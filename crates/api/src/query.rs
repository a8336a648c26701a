//! The Prometheus HTTP query API, identical in shape to Prometheus's so Grafana and
//! other clients can use Watchkeeper as a Prometheus data source: `/api/v1/query`,
//! `/api/v1/query_range`, `/api/v1/series`, `/api/v1/labels`,
//! `/api/v1/label/NAME/values`, `/api/v1/metadata`, `/api/v1/status/buildinfo`
//! `/api/v1/format_query`, `/api/v1/query_exemplars`, `/federate` and the list of
//! running queries `/api/v1/status/queries` (GET, and form POST where Prometheus
//! accepts it). Queries slower than a threshold are logged.
//!
//! Queries run on the blocking pool behind a bounded number of slots (a queue beyond
//! that, 503 when the wait runs out), with the engine's sample limit and a timeout
//! whose cancellation stops the evaluation; a client that goes away cancels its query.
//! Errors use Prometheus's envelope, `errorType` values and HTTP codes.

mod handlers;
mod params;
mod render;
mod running;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tokio::sync::Semaphore;
use wk_promql::{Engine, EngineOptions};
use wk_storage::Queryable;

pub use params::{
    all as all_params, collect as collect_params, one as one_param, parse_duration_param, parse_time_param,
};

/// Settings of the query API.
#[derive(Clone, Debug)]
pub struct QueryOptions {
    /// Engine settings: lookback, max samples, default timeout.
    pub engine: EngineOptions,
    /// Queries evaluated at once; more wait up to `queue_wait`.
    pub max_concurrent_queries: usize,
    /// How long a query waits for a slot before it is answered 503.
    pub queue_wait: Duration,
    /// Most points a range query may return per series (Prometheus: 11,000).
    pub max_points_per_series: i64,
    /// Version reported by `/api/v1/status/buildinfo`.
    pub version: String,
    /// Queries that take longer are logged at warning level with their text.
    pub slow_query_threshold: Duration,
}

impl Default for QueryOptions {
    fn default() -> Self {
        Self {
            engine: EngineOptions::default(),
            max_concurrent_queries: 20,
            queue_wait: Duration::from_secs(30),
            max_points_per_series: 11_000,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            slow_query_threshold: Duration::from_secs(10),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct QueryState {
    pub(crate) store: Arc<dyn Queryable>,
    pub(crate) engine: Arc<Engine>,
    pub(crate) options: Arc<QueryOptions>,
    pub(crate) slots: Arc<Semaphore>,
    pub(crate) running: Arc<running::RunningQueries>,
    pub(crate) metadata: Arc<crate::metadata::MetadataCache>,
}

/// The query routes, reading from `store`.
pub fn router(
    store: Arc<dyn Queryable>,
    options: QueryOptions,
    metadata: Arc<crate::metadata::MetadataCache>,
) -> Router {
    let state = QueryState {
        store,
        engine: Arc::new(Engine::new(options.engine.clone())),
        slots: Arc::new(Semaphore::new(options.max_concurrent_queries.max(1))),
        running: Arc::new(running::RunningQueries::default()),
        metadata,
        options: Arc::new(options),
    };
    Router::new()
        .route("/api/v1/query", get(handlers::query).post(handlers::query))
        .route("/api/v1/query_range", get(handlers::query_range).post(handlers::query_range))
        .route("/api/v1/series", get(handlers::series).post(handlers::series))
        .route("/api/v1/labels", get(handlers::labels).post(handlers::labels))
        .route("/api/v1/label/{name}/values", get(handlers::label_values))
        .route("/api/v1/metadata", get(handlers::metadata))
        .route("/api/v1/status/buildinfo", get(handlers::buildinfo))
        .route("/api/v1/format_query", get(handlers::format_query).post(handlers::format_query))
        .route("/api/v1/query_exemplars", get(handlers::query_exemplars).post(handlers::query_exemplars))
        .route("/federate", get(handlers::federate))
        .route("/api/v1/status/queries", get(handlers::running_queries))
        .with_state(state)
}
