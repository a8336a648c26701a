//! `wk-api` is Watchkeeper's HTTP surface above the engines (floor 4): routers the
//! server merges into its own. Every handler talks to storage through the
//! `wk-storage` traits and to wire formats through `wk-ingest`, so it names no engine.
//!
//! Map:
//! - [`ingest`]: push ingestion — Prometheus remote_write 1.0/2.0 (`POST
//!   /api/v1/write`), OTLP/HTTP metrics (`POST /v1/metrics`), InfluxDB line protocol
//!   (`POST /write`, `POST /api/v2/write`) — with limits, per-reason rejection
//!   counters and backpressure (429/503 with `Retry-After`); and OTLP/gRPC
//!   (`MetricsService/Export`, [`ingest::grpc`]) for the server's gRPC port.
//! - [`metadata`]: metric metadata reported by senders, for `/api/v1/metadata`.
//! - [`query`]: the Prometheus HTTP query API (`/api/v1/query`, `query_range`,
//!   `series`, `labels`, `label/NAME/values`, `metadata`, `status/buildinfo`).

pub mod ingest;
pub mod metadata;
pub mod query;
