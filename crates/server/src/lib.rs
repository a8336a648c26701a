//! `wk-server` is Watchkeeper's composition root: it reads the configuration, takes the
//! data directory, starts the HTTP server and every subsystem in order, reloads on
//! request, and stops them in reverse order. It is the only crate that names concrete
//! engines; tests run the whole server in-process through [`Server`].
//!
//! Map:
//! - [`config`]: the configuration file (a superset of `prometheus.yml`), its loading,
//!   validation and error reporting.
//! - [`data_dir`]: the data directory and its exclusive lock.
//! - [`logging`]: `tracing` subscriber setup (`--log.level`, `--log.format`).
//! - [`self_metrics`]: the process's own metrics served on `/metrics`.
//! - [`http`]: the router (`/-/healthy`, `/-/ready`, `/-/reload`, `/metrics`,
//!   `/api/v1/status/config`) and its middleware (limits, timeouts, request metrics).
//! - [`listener`]: the accept loop (plain or TLS) with graceful draining; [`tls`] keeps
//!   the certificate fresh from disk.
//! - [`status`]: `/api/v1/targets` and `/api/v1/status/tsdb`, and applying
//!   reloaded scrape configurations.
//! - [`storage`]: the storage engines, opened in the data directory, and their
//!   periodic maintenance; [`admin`]: the TSDB admin API (series deletion).
//! - [`reload`]: the live configuration and the reload procedure.
//! - [`server`]: start, run until a signal, stop.
//! - [`agent`]: `watchkeeper agent`: collectors writing to `wk-agent`'s disk queues,
//!   sent on with remote_write.

pub mod admin;
pub mod agent;
pub mod config;
pub mod data_dir;
mod error;
pub mod http;
pub mod listener;
pub mod logging;
pub mod reload;
pub mod self_metrics;
pub mod server;
pub mod status;
pub mod storage;
pub mod tls;

pub use error::{Error, Result};
pub use server::{Server, ServerOptions};
