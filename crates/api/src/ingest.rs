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
//! InfluxDB's JSON error shapes. OTLP/gRPC ([`grpc`]) is served on its own port by a
//! router that shares the slots, metrics and metadata of the HTTP routes.

mod append;
pub mod grpc;
mod handlers;
mod metrics;
mod series_cache;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::post;
use series_cache::SeriesCache;
use tokio::sync::Semaphore;
use wk_ingest::{Decoder, Limits};
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
    /// How many series the remote_write series cache remembers (sent label bytes
    /// to label set and series ref; about 150 bytes each plus the labels); 0
    /// turns it off. Known series then skip label validation and the store's
    /// lookup by labels.
    pub series_cache_entries: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            max_concurrent_requests: std::thread::available_parallelism().map(|n| n.get() * 2).unwrap_or(4),
            queue_wait: Duration::from_secs(5),
            series_cache_entries: 1 << 20,
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
    pub(crate) series_cache: Arc<SeriesCache>,
    pub(crate) decoders: Arc<DecoderPool>,
}

/// Decoders kept between requests, so that their decompression buffers are
/// allocated once instead of per request.
#[derive(Debug)]
pub(crate) struct DecoderPool {
    limits: Limits,
    idle: Mutex<Vec<Decoder>>,
    max_idle: usize,
}

impl DecoderPool {
    /// Buffers above this size are freed after the request, not kept.
    const MAX_KEPT_BUFFER: usize = 8 << 20;

    fn new(limits: Limits, max_idle: usize) -> Self {
        Self { limits, idle: Mutex::new(Vec::new()), max_idle }
    }

    /// An idle decoder, or a new one.
    pub(crate) fn take(&self) -> Decoder {
        let idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
        idle.unwrap_or_else(|| Decoder::new(self.limits.clone()))
    }

    /// Returns `decoder` to the pool (or drops it when the pool is full or its
    /// buffer grew large).
    pub(crate) fn put(&self, decoder: Decoder) {
        if decoder.scratch_capacity() > Self::MAX_KEPT_BUFFER {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < self.max_idle {
            idle.push(decoder);
        }
    }
}

/// Push ingestion into one store: the HTTP routes and the OTLP/gRPC router, sharing
/// one set of request slots, counters and metadata, so both transports of OTLP
/// behave and are counted alike.
#[derive(Clone, Debug)]
pub struct Ingest {
    state: IngestState,
}

impl Ingest {
    /// Ingestion writing into `store`.
    pub fn new(
        store: Arc<dyn Appendable>,
        options: IngestOptions,
        metrics: IngestMetrics,
        metadata: Arc<crate::metadata::MetadataCache>,
    ) -> Self {
        let slots = Arc::new(Semaphore::new(options.max_concurrent_requests.max(1)));
        let series_cache = Arc::new(SeriesCache::new(options.series_cache_entries));
        let decoders = Arc::new(DecoderPool::new(options.limits.clone(), options.max_concurrent_requests.max(1)));
        let options = Arc::new(options);
        Self { state: IngestState { store, options, slots, metrics, metadata, series_cache, decoders } }
    }

    /// The HTTP routes: remote_write, OTLP/HTTP, Influx v1 and v2.
    pub fn http_router(&self) -> Router {
        let max_body = self.state.options.limits.max_body_bytes;
        Router::new()
            .route("/api/v1/write", post(handlers::remote_write))
            .route("/v1/metrics", post(handlers::otlp))
            .route("/write", post(handlers::influx_v1))
            .route("/api/v2/write", post(handlers::influx_v2))
            .layer(DefaultBodyLimit::max(max_body))
            .with_state(self.state.clone())
    }

    /// The router of the OTLP/gRPC port: `MetricsService/Export`, and `UNIMPLEMENTED`
    /// for every other path.
    pub fn otlp_grpc_router(&self, options: grpc::GrpcOptions) -> Router {
        grpc::router(self.state.clone(), options)
    }
}

/// The HTTP ingestion routes, writing into `store` (see [`Ingest::http_router`]).
pub fn router(
    store: Arc<dyn Appendable>,
    options: IngestOptions,
    metrics: IngestMetrics,
    metadata: Arc<crate::metadata::MetadataCache>,
) -> Router {
    Ingest::new(store, options, metrics, metadata).http_router()
}
