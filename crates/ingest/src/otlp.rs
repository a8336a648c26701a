//! OTLP metrics (OTLP/HTTP, `POST /v1/metrics`), protobuf and JSON bodies, translated
//! to Prometheus series.
//!
//! - [`proto`]: the messages, with prost and serde derives.
//! - [`json`]: number forms of the OTLP/JSON mapping.
//! - [`metric_name`]: OTLP name and unit to Prometheus name.
//! - [`translate`]: the translation rules (see there for every decision).

pub mod json;
pub mod metric_name;
pub mod proto;
pub mod translate;

use prost::Message;

use crate::batch::Batch;
use crate::error::{Error, Result};
use crate::limits::Limits;
use proto::ExportMetricsServiceRequest;

/// Decodes an uncompressed OTLP/HTTP protobuf `ExportMetricsServiceRequest`.
///
/// Fails on invalid protobuf (including invalid UTF-8 in a string) or a request
/// over a limit; metrics with delta temporality, no data, or contradictory points
/// are rejections. An empty request gives an empty batch.
pub fn decode_protobuf(bytes: &[u8], limits: &Limits, now_ms: i64) -> Result<Batch> {
    limits.check_body(bytes.len())?;
    let request = ExportMetricsServiceRequest::decode(bytes).map_err(|source| Error::Protobuf {
        message: "opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest",
        source,
    })?;
    translate::translate(request, limits, now_ms)
}

/// Decodes an uncompressed OTLP/JSON `ExportMetricsServiceRequest`; like
/// [`decode_protobuf`], with JSON errors carrying line and column.
pub fn decode_json(bytes: &[u8], limits: &Limits, now_ms: i64) -> Result<Batch> {
    limits.check_body(bytes.len())?;
    let request: ExportMetricsServiceRequest = serde_json::from_slice(bytes).map_err(Error::Json)?;
    translate::translate(request, limits, now_ms)
}

#[cfg(test)]
mod tests;
