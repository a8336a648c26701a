//! The `otlp:` section: Prometheus's OTLP translation settings (accepted, not acted on
//! yet) and Watchkeeper's OTLP/gRPC listener.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use serde_saphyr::Location;

use wk_config::{Problems, Value};

/// The default OTLP/gRPC listen address: the port OpenTelemetry SDKs and collectors
/// send to by default, on loopback only, like `web.listen_address`, so nothing is
/// exposed unauthenticated unless the operator says so.
pub const DEFAULT_OTLP_GRPC_LISTEN_ADDRESS: &str = "127.0.0.1:4317";

/// The `otlp:` section. The keys other than `grpc` are Prometheus's translation
/// settings; they load as Prometheus writes them and are reported as not supported yet.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpConfig {
    /// The OTLP/gRPC listener (`opentelemetry.proto.collector.metrics.v1.MetricsService`).
    pub grpc: OtlpGrpcConfig,
    /// Prometheus: resource attributes promoted to labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promote_resource_attributes: Option<Value>,
    /// Prometheus: promote every resource attribute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promote_all_resource_attributes: Option<Value>,
    /// Prometheus: attributes left out when all are promoted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignore_resource_attributes: Option<Value>,
    /// Prometheus: how OTLP names become Prometheus names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub translation_strategy: Option<Value>,
    /// Prometheus: keep `service.*` attributes on `target_info`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_identifying_resource_attributes: Option<Value>,
    /// Prometheus: store histograms as native histograms with custom buckets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub convert_histograms_to_nhcb: Option<Value>,
    /// Prometheus: add the instrumentation scope as labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promote_scope_metadata: Option<Value>,
    /// Prometheus: label name sanitization details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_name_underscore_sanitization: Option<Value>,
    /// Prometheus: label name sanitization details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_name_preserve_multiple_underscores: Option<Value>,
}

/// `otlp.grpc`: OTLP/gRPC metrics ingestion on its own port (HTTP/2 without TLS, or
/// with `web.tls_config` when that is set).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpGrpcConfig {
    /// Serve OTLP/gRPC. Default true.
    pub enabled: bool,
    /// Address to listen on. `--otlp.grpc.listen-address` overrides it. Default
    /// `127.0.0.1:4317`. Changing it needs a restart.
    pub listen_address: SocketAddr,
}

impl Default for OtlpGrpcConfig {
    fn default() -> Self {
        Self { enabled: true, listen_address: DEFAULT_OTLP_GRPC_LISTEN_ADDRESS.parse().expect("valid default address") }
    }
}

impl OtlpConfig {
    /// Reports Prometheus's translation settings as ignored, and a gRPC port that
    /// collides with the HTTP one.
    pub(crate) fn validate(&self, web_listen_address: SocketAddr, problems: &mut Problems) {
        let prometheus_keys = [
            ("promote_resource_attributes", &self.promote_resource_attributes),
            ("promote_all_resource_attributes", &self.promote_all_resource_attributes),
            ("ignore_resource_attributes", &self.ignore_resource_attributes),
            ("translation_strategy", &self.translation_strategy),
            ("keep_identifying_resource_attributes", &self.keep_identifying_resource_attributes),
            ("convert_histograms_to_nhcb", &self.convert_histograms_to_nhcb),
            ("promote_scope_metadata", &self.promote_scope_metadata),
            ("label_name_underscore_sanitization", &self.label_name_underscore_sanitization),
            ("label_name_preserve_multiple_underscores", &self.label_name_preserve_multiple_underscores),
        ];
        for (key, value) in prometheus_keys {
            if value.is_some() {
                problems.warning(Location::UNKNOWN, format!("otlp.{key} is not supported yet and is ignored"));
            }
        }
        let grpc = self.grpc.listen_address;
        if self.grpc.enabled && grpc.port() != 0 && grpc == web_listen_address {
            problems.error(
                Location::UNKNOWN,
                format!(
                    "otlp.grpc.listen_address {grpc} is also web.listen_address; give the gRPC listener its own port"
                ),
            );
        }
    }
}
