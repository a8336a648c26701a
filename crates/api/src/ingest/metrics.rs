//! Ingestion counters: samples accepted and rejected per protocol and reason.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ProtocolLabels {
    pub(crate) protocol: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RejectLabels {
    pub(crate) protocol: &'static str,
    pub(crate) reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct GrpcLabels {
    pub(crate) method: &'static str,
    pub(crate) grpc_code: &'static str,
}

/// The counters, registered once in the server's registry.
#[derive(Clone, Debug, Default)]
pub struct IngestMetrics {
    pub(crate) samples: Family<ProtocolLabels, Counter>,
    pub(crate) rejected: Family<RejectLabels, Counter>,
    pub(crate) requests_failed: Family<RejectLabels, Counter>,
    pub(crate) grpc_requests: Family<GrpcLabels, Counter>,
}

impl IngestMetrics {
    /// Creates the counters and registers them in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "watchkeeper_ingest_samples",
            "Samples accepted by push ingestion, by protocol",
            metrics.samples.clone(),
        );
        registry.register(
            "watchkeeper_ingest_samples_rejected",
            "Samples rejected by push ingestion, by protocol and reason",
            metrics.rejected.clone(),
        );
        registry.register(
            "watchkeeper_ingest_requests_failed",
            "Push requests refused as a whole, by protocol and reason",
            metrics.requests_failed.clone(),
        );
        registry.register(
            "watchkeeper_ingest_grpc_requests",
            "OTLP/gRPC calls answered, by method and gRPC status code",
            metrics.grpc_requests.clone(),
        );
        metrics
    }

    pub(crate) fn accepted(&self, protocol: &'static str, n: u64) {
        self.samples.get_or_create(&ProtocolLabels { protocol }).inc_by(n);
    }

    pub(crate) fn reject(&self, protocol: &'static str, reason: &'static str, n: u64) {
        self.rejected.get_or_create(&RejectLabels { protocol, reason }).inc_by(n);
    }

    pub(crate) fn request_failed(&self, protocol: &'static str, reason: &'static str) {
        self.requests_failed.get_or_create(&RejectLabels { protocol, reason }).inc();
    }

    pub(crate) fn grpc_request(&self, method: &'static str, code: super::grpc::Code) {
        self.grpc_requests.get_or_create(&GrpcLabels { method, grpc_code: code.name() }).inc();
    }
}
