//! The `web:` section: Watchkeeper's own HTTP server.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use wk_config::{ByteSize, PromDuration};

/// The default listen address: loopback only, so nothing is exposed unauthenticated
/// unless the operator says so.
pub const DEFAULT_LISTEN_ADDRESS: &str = "127.0.0.1:9800";

/// Settings of the HTTP server that serves the API, the dashboard and `/metrics`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Address to listen on. `--web.listen-address` overrides it. Changing it needs a
    /// restart.
    pub listen_address: SocketAddr,
    /// HTTPS settings; plain HTTP when absent. Certificate and key are re-read when they
    /// change on disk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsServerConfig>,
    /// Longest time one request may take, from its first byte to the end of the
    /// response, before it is answered with 503. Default 5m, like Prometheus's
    /// `--web.read-timeout`.
    pub request_timeout: PromDuration,
    /// Longest time to wait for a request's headers on a new or idle connection.
    /// Default 30s.
    pub header_read_timeout: PromDuration,
    /// Largest request body accepted; larger requests get 413. Default 64MB.
    pub max_request_body_size: ByteSize,
    /// Most connections served at once; more wait in the accept queue. Default 512.
    pub max_connections: usize,
    /// How long shutdown waits for in-flight requests before closing them. Default 30s.
    pub shutdown_timeout: PromDuration,
    /// Serve the TSDB admin API (`/api/v1/admin/tsdb/delete_series`), like
    /// Prometheus's `--web.enable-admin-api`. Default false: it deletes data.
    pub enable_admin_api: bool,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            listen_address: DEFAULT_LISTEN_ADDRESS.parse().expect("valid default address"),
            tls_config: None,
            request_timeout: PromDuration::from_secs(300),
            header_read_timeout: PromDuration::from_secs(30),
            max_request_body_size: ByteSize(64 << 20),
            max_connections: 512,
            shutdown_timeout: PromDuration::from_secs(30),
            enable_admin_api: false,
        }
    }
}

/// Server certificate and key, PEM encoded.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsServerConfig {
    /// Certificate chain file (PEM), leaf first.
    pub cert_file: PathBuf,
    /// Private key file (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}
