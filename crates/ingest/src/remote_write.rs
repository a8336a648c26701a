//! Prometheus remote_write 1.0 and 2.0.
//!
//! - [`proto`]: the protobuf messages, written by hand from the published specs.
//! - [`v1`]: `prometheus.WriteRequest` into a [`Batch`].
//! - [`v2`]: `io.prometheus.write.v2.Request` (symbol table) into a [`Batch`].
//! - [`borrowed`]: 1.0 again, labels borrowed from the body (the server's path).
//!
//! Native histograms are **rejected per series** with
//! [`RejectReason::NativeHistogramUnsupported`](crate::RejectReason::NativeHistogramUnsupported),
//! not converted: the float samples of the same request are accepted and the sender
//! is told which series were dropped. Exemplars are tolerated and counted in
//! [`DecodeStats::exemplars_dropped`](crate::DecodeStats::exemplars_dropped).

pub mod borrowed;
pub mod proto;
pub mod v1;
pub mod v2;

use crate::batch::{Batch, MetricType};
use crate::content::{RemoteWriteVersion, snappy_decompress_into};
use crate::error::Result;
use crate::limits::Limits;

/// Decodes a snappy-compressed remote_write body of the given version.
///
/// `scratch` holds the decompressed bytes; pass the same buffer for every request a
/// worker handles so that it is allocated once. `now_ms` is the receive time in
/// milliseconds since the epoch, for the future-timestamp limit.
pub fn decode(
    version: RemoteWriteVersion,
    body: &[u8],
    limits: &Limits,
    now_ms: i64,
    scratch: &mut Vec<u8>,
) -> Result<Batch> {
    snappy_decompress_into(body, limits, scratch)?;
    match version {
        RemoteWriteVersion::V1 => v1::decode(scratch, limits, now_ms),
        RemoteWriteVersion::V2 => v2::decode(scratch, limits, now_ms),
    }
}

/// Maps the metric type enum of either protocol version (they share numbering) to
/// [`MetricType`]; unknown numbers become [`MetricType::Unknown`].
pub(crate) fn metric_type(value: i32) -> MetricType {
    match value {
        1 => MetricType::Counter,
        2 => MetricType::Gauge,
        3 => MetricType::Histogram,
        4 => MetricType::GaugeHistogram,
        5 => MetricType::Summary,
        6 => MetricType::Info,
        7 => MetricType::StateSet,
        _ => MetricType::Unknown,
    }
}

/// The detail sentence of a native-histogram rejection.
pub(crate) fn histogram_detail(count: usize) -> String {
    format!("native histograms are not supported yet; {count} histogram sample(s) dropped, float samples kept")
}
