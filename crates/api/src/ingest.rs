//! Push ingestion endpoints.
//!
//! Each request is decoded and appended on the blocking pool (decoding and a durable
//! commit are CPU and disk work, not async work). A request either is fully accounted
//! for — every sample stored or rejected with a reason — or, when storage cannot take
//! it, nothing of it is acknowledged: the commit is all or nothing.
//!
//! Answers follow each protocol's conventions: remote_write 204, or 400 naming the
//! rejections (the accepted rest is stored, as Prometheus does), 415 for a wrong
//! content type, 413 over a size limit, 429 or 503 with `Retry-After` when the sender
//! should back off and retry; OTLP 200 with `partial_success`; Influx 204, or 400 with
//! InfluxDB's JSON error shapes.

mod append;
mod handlers;
mod metrics;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::post;
use tokio::sync::Semaphore;
use wk_ingest::Limits;
use wk_storage::Appendable;

pub use append::{AppendOutcome, append_batch};
pub use metrics::IngestMetrics;

/// Settings of the ingestion endpoints.
#[derive(Clone, Debug)]
pub struct IngestOptions {
    /// Decoder limits (body size, series, samples, labels).
    pub limits: Limits,
    /// Requests decoded and appended at once; more wait up to `queue_wait`.
    pub max_concurrent_requests: usize,
    /// How long a request waits for a slot before it is answered 429.
    pub queue_wait: Duration,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            max_concurrent_requests: std::thread::available_parallelism().map(|n| n.get() * 2).unwrap_or(4),
            queue_wait: Duration::from_secs(5),
        }
    }
}

/// What the handlers share.
#[derive(Clone, Debug)]
pub(crate) struct IngestState {
    pub(crate) store: Arc<dyn Appendable>,
    pub(crate) options: Arc<IngestOptions>,
    pub(crate) slots: Arc<Semaphore>,
    pub(crate) metrics: IngestMetrics,
    pub(crate) metadata: Arc<crate::metadata::MetadataCache>,
}

/// The ingestion routes, writing into `store`.
pub fn router(
    store: Arc<dyn Appendable>,
    options: IngestOptions,
    metrics: IngestMetrics,
    metadata: Arc<crate::metadata::MetadataCache>,
) -> Router {
    let slots = Arc::new(Semaphore::new(options.max_concurrent_requests.max(1)));
    let state = IngestState { store, options: Arc::new(options), slots, metrics, metadata };
    let max_body = state.options.limits.max_body_bytes;
    Router::new()
        .route("/api/v1/write", post(handlers::remote_write))
        .route("/v1/metrics", post(handlers::otlp))
        .route("/write", post(handlers::influx_v1))
        .route("/api/v2/write", post(handlers::influx_v2))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}
