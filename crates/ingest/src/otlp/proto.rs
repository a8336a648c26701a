//! The OTLP metrics messages we decode, written by hand from
//! `opentelemetry/proto/{collector/metrics,metrics,common,resource}/v1/*.proto`.
//!
//! Each struct derives both `prost::Message` (OTLP/HTTP protobuf) and
//! `serde::Deserialize` (the OTLP/JSON mapping: lowerCamelCase names, 64-bit
//! integers as strings or numbers, enums as integers, unknown fields ignored).
//! The three messages with a `oneof` deserialize through helper structs in
//! [`json`](super::json) that name each case as a plain optional field, so a
//! malformed case is a JSON error with line and column, not a silent `None`.
//! Fields we never read (exemplars, min/max, flags other than "no recorded value",
//! schema URLs, scope attributes) are left out; prost and serde skip them.

use serde::Deserialize;

use super::json::{f64_any, opt_f64_any, u64_any, vec_u64_any};

/// `ExportMetricsServiceRequest`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ExportMetricsServiceRequest {
    /// One entry per resource (process, host, pod).
    #[prost(message, repeated, tag = "1")]
    pub resource_metrics: Vec<ResourceMetrics>,
}

/// `ResourceMetrics`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ResourceMetrics {
    /// The resource whose attributes become `job`, `instance` and `target_info`.
    #[prost(message, optional, tag = "1")]
    pub resource: Option<Resource>,
    /// Metrics grouped by instrumentation scope.
    #[prost(message, repeated, tag = "2")]
    pub scope_metrics: Vec<ScopeMetrics>,
}

/// `Resource`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Resource {
    /// Resource attributes such as `service.name`.
    #[prost(message, repeated, tag = "1")]
    pub attributes: Vec<KeyValue>,
}

/// `ScopeMetrics`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ScopeMetrics {
    /// The metrics of this scope.
    #[prost(message, repeated, tag = "2")]
    pub metrics: Vec<Metric>,
}

/// `Metric`. Deserialized from JSON through [`MetricJson`](super::json::MetricJson),
/// which names each `data` case as its own field.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Metric {
    /// The OpenTelemetry metric name, such as `http.server.request.duration`.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Becomes the help text.
    #[prost(string, tag = "2")]
    pub description: String,
    /// A UCUM unit such as `s`, `By` or `1`.
    #[prost(string, tag = "3")]
    pub unit: String,
    /// The data; `None` if the sender set no (or an unknown) data type.
    #[prost(oneof = "MetricData", tags = "5, 7, 9, 10, 11")]
    pub data: Option<MetricData>,
}

/// `Metric.data`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum MetricData {
    /// A gauge.
    #[prost(message, tag = "5")]
    Gauge(Gauge),
    /// A sum (counter if monotonic).
    #[prost(message, tag = "7")]
    Sum(Sum),
    /// An explicit-bucket histogram.
    #[prost(message, tag = "9")]
    Histogram(Histogram),
    /// An exponential histogram.
    #[prost(message, tag = "10")]
    ExponentialHistogram(ExponentialHistogram),
    /// A summary.
    #[prost(message, tag = "11")]
    Summary(Summary),
}

/// `Gauge`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Gauge {
    /// The points.
    #[prost(message, repeated, tag = "1")]
    pub data_points: Vec<NumberDataPoint>,
}

/// `AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE`; 1 is delta.
pub const TEMPORALITY_CUMULATIVE: i32 = 2;

/// `DataPointFlags.FLAG_NO_RECORDED_VALUE`: the point marks a stale series.
pub const FLAG_NO_RECORDED_VALUE: u32 = 1;

/// `Sum`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Sum {
    /// The points.
    #[prost(message, repeated, tag = "1")]
    pub data_points: Vec<NumberDataPoint>,
    /// 0 unspecified, 1 delta, 2 cumulative.
    #[prost(int32, tag = "2")]
    pub aggregation_temporality: i32,
    /// Whether the sum only goes up (a counter).
    #[prost(bool, tag = "3")]
    pub is_monotonic: bool,
}

/// `Histogram`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Histogram {
    /// The points.
    #[prost(message, repeated, tag = "1")]
    pub data_points: Vec<HistogramDataPoint>,
    /// 0 unspecified, 1 delta, 2 cumulative.
    #[prost(int32, tag = "2")]
    pub aggregation_temporality: i32,
}

/// `ExponentialHistogram`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ExponentialHistogram {
    /// The points.
    #[prost(message, repeated, tag = "1")]
    pub data_points: Vec<ExponentialHistogramDataPoint>,
    /// 0 unspecified, 1 delta, 2 cumulative.
    #[prost(int32, tag = "2")]
    pub aggregation_temporality: i32,
}

/// `Summary`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Summary {
    /// The points.
    #[prost(message, repeated, tag = "1")]
    pub data_points: Vec<SummaryDataPoint>,
}

/// `NumberDataPoint`. Deserialized from JSON through
/// [`NumberDataPointJson`](super::json::NumberDataPointJson).
#[derive(Clone, PartialEq, prost::Message)]
pub struct NumberDataPoint {
    /// Point attributes; become labels.
    #[prost(message, repeated, tag = "7")]
    pub attributes: Vec<KeyValue>,
    /// Nanoseconds since the epoch.
    #[prost(fixed64, tag = "3")]
    pub time_unix_nano: u64,
    /// The value.
    #[prost(oneof = "NumberValue", tags = "4, 6")]
    pub value: Option<NumberValue>,
    /// `DataPointFlags` bits.
    #[prost(uint32, tag = "8")]
    pub flags: u32,
}

/// `NumberDataPoint.value`.
#[derive(Clone, Copy, PartialEq, prost::Oneof)]
pub enum NumberValue {
    /// A float value.
    #[prost(double, tag = "4")]
    AsDouble(f64),
    /// An integer value.
    #[prost(sfixed64, tag = "6")]
    AsInt(i64),
}

/// `HistogramDataPoint`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HistogramDataPoint {
    /// Point attributes; become labels.
    #[prost(message, repeated, tag = "9")]
    pub attributes: Vec<KeyValue>,
    /// Nanoseconds since the epoch.
    #[prost(fixed64, tag = "3")]
    #[serde(deserialize_with = "u64_any")]
    pub time_unix_nano: u64,
    /// Number of observations.
    #[prost(fixed64, tag = "4")]
    #[serde(deserialize_with = "u64_any")]
    pub count: u64,
    /// Sum of observations, if recorded.
    #[prost(double, optional, tag = "5")]
    #[serde(deserialize_with = "opt_f64_any")]
    pub sum: Option<f64>,
    /// Per-bucket (not cumulative) counts; one more than `explicit_bounds`.
    #[prost(fixed64, repeated, tag = "6")]
    #[serde(deserialize_with = "vec_u64_any")]
    pub bucket_counts: Vec<u64>,
    /// Upper bounds (inclusive) of all buckets but the last.
    #[prost(double, repeated, tag = "7")]
    pub explicit_bounds: Vec<f64>,
    /// `DataPointFlags` bits.
    #[prost(uint32, tag = "10")]
    pub flags: u32,
}

/// `ExponentialHistogramDataPoint`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ExponentialHistogramDataPoint {
    /// Point attributes; become labels.
    #[prost(message, repeated, tag = "1")]
    pub attributes: Vec<KeyValue>,
    /// Nanoseconds since the epoch.
    #[prost(fixed64, tag = "3")]
    #[serde(deserialize_with = "u64_any")]
    pub time_unix_nano: u64,
    /// Number of observations.
    #[prost(fixed64, tag = "4")]
    #[serde(deserialize_with = "u64_any")]
    pub count: u64,
    /// Sum of observations, if recorded.
    #[prost(double, optional, tag = "5")]
    #[serde(deserialize_with = "opt_f64_any")]
    pub sum: Option<f64>,
    /// Resolution: bucket boundaries are powers of `2^(2^-scale)`.
    #[prost(sint32, tag = "6")]
    pub scale: i32,
    /// Observations in the zero bucket.
    #[prost(fixed64, tag = "7")]
    #[serde(deserialize_with = "u64_any")]
    pub zero_count: u64,
    /// Buckets of positive observations.
    #[prost(message, optional, tag = "8")]
    pub positive: Option<Buckets>,
    /// Buckets of negative observations.
    #[prost(message, optional, tag = "9")]
    pub negative: Option<Buckets>,
    /// `DataPointFlags` bits.
    #[prost(uint32, tag = "10")]
    pub flags: u32,
    /// Width of the zero bucket: observations in `[-zero_threshold, zero_threshold]`.
    #[prost(double, tag = "14")]
    #[serde(deserialize_with = "f64_any")]
    pub zero_threshold: f64,
}

/// `ExponentialHistogramDataPoint.Buckets`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Buckets {
    /// Index of the first bucket.
    #[prost(sint32, tag = "1")]
    pub offset: i32,
    /// Per-bucket counts.
    #[prost(uint64, repeated, tag = "2")]
    #[serde(deserialize_with = "vec_u64_any")]
    pub bucket_counts: Vec<u64>,
}

/// `SummaryDataPoint`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SummaryDataPoint {
    /// Point attributes; become labels.
    #[prost(message, repeated, tag = "7")]
    pub attributes: Vec<KeyValue>,
    /// Nanoseconds since the epoch.
    #[prost(fixed64, tag = "3")]
    #[serde(deserialize_with = "u64_any")]
    pub time_unix_nano: u64,
    /// Number of observations.
    #[prost(fixed64, tag = "4")]
    #[serde(deserialize_with = "u64_any")]
    pub count: u64,
    /// Sum of observations.
    #[prost(double, tag = "5")]
    #[serde(deserialize_with = "f64_any")]
    pub sum: f64,
    /// Quantile values.
    #[prost(message, repeated, tag = "6")]
    pub quantile_values: Vec<ValueAtQuantile>,
    /// `DataPointFlags` bits.
    #[prost(uint32, tag = "8")]
    pub flags: u32,
}

/// `SummaryDataPoint.ValueAtQuantile`.
#[derive(Clone, Copy, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ValueAtQuantile {
    /// The quantile, in `[0, 1]`.
    #[prost(double, tag = "1")]
    #[serde(deserialize_with = "f64_any")]
    pub quantile: f64,
    /// The value at that quantile.
    #[prost(double, tag = "2")]
    #[serde(deserialize_with = "f64_any")]
    pub value: f64,
}

/// `KeyValue`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct KeyValue {
    /// The attribute name, such as `service.name`.
    #[prost(string, tag = "1")]
    pub key: String,
    /// The value.
    #[prost(message, optional, tag = "2")]
    pub value: Option<AnyValue>,
}

/// `AnyValue`. Deserialized from JSON through [`AnyValueJson`](super::json::AnyValueJson).
#[derive(Clone, PartialEq, prost::Message)]
pub struct AnyValue {
    /// The value; `None` for an empty value.
    #[prost(oneof = "Value", tags = "1, 2, 3, 4, 5, 6, 7")]
    pub value: Option<Value>,
}

/// `AnyValue.value`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Value {
    /// A string.
    #[prost(string, tag = "1")]
    StringValue(String),
    /// A boolean.
    #[prost(bool, tag = "2")]
    BoolValue(bool),
    /// An integer.
    #[prost(int64, tag = "3")]
    IntValue(i64),
    /// A float.
    #[prost(double, tag = "4")]
    DoubleValue(f64),
    /// An array.
    #[prost(message, tag = "5")]
    ArrayValue(ArrayValue),
    /// A nested map.
    #[prost(message, tag = "6")]
    KvlistValue(KeyValueList),
    /// Raw bytes. OTLP/JSON sends them in base64, which is also their label
    /// form, so the JSON decoder keeps that text as a [`Value::StringValue`].
    #[prost(bytes = "vec", tag = "7")]
    BytesValue(Vec<u8>),
}

/// `ArrayValue`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ArrayValue {
    /// The elements.
    #[prost(message, repeated, tag = "1")]
    pub values: Vec<AnyValue>,
}

/// `KeyValueList`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct KeyValueList {
    /// The entries.
    #[prost(message, repeated, tag = "1")]
    pub values: Vec<KeyValue>,
}
