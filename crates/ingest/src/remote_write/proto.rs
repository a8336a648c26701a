//! Remote write protobuf messages, derived by hand with `prost` from the published
//! specifications (`prompb/types.proto`, `prompb/io/prometheus/write/v2/types.proto`).
//!
//! Field numbers and wire types are those of the specs. Deliberate deviations, none
//! of which change the wire format:
//!
//! - Exemplars and native histograms are kept as undecoded `bytes`: we count and
//!   reject them without paying to parse them. Tests build them from the encoded
//!   messages.

/// `prometheus.WriteRequest`: the remote write 1.0 request.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// The series with their samples.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    /// Metric family metadata, sent separately from the samples.
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// `prometheus.TimeSeries`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// Labels, sorted by name by well-behaved senders.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Float samples.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Encoded `prometheus.Exemplar` messages.
    #[prost(bytes = "vec", repeated, tag = "3")]
    pub exemplars: Vec<Vec<u8>>,
    /// Encoded `prometheus.Histogram` messages (native histograms).
    #[prost(bytes = "vec", repeated, tag = "4")]
    pub histograms: Vec<Vec<u8>>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    /// The label name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// The label value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample` (1.0) and `io.prometheus.write.v2.Sample` (2.0) share fields 1 and 2.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Sample {
    /// The value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// `prometheus.MetricMetadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricMetadata {
    /// `MetricMetadata.MetricType`: 0 unknown, 1 counter, 2 gauge, 3 histogram,
    /// 4 gauge histogram, 5 summary, 6 info, 7 state set.
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    /// The metric family name.
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    /// The help text.
    #[prost(string, tag = "4")]
    pub help: String,
    /// The unit.
    #[prost(string, tag = "5")]
    pub unit: String,
}

/// `io.prometheus.write.v2.Request`: the remote write 2.0 request.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RequestV2 {
    /// The symbol table; `symbols[0]` must be `""`.
    #[prost(string, repeated, tag = "4")]
    pub symbols: Vec<String>,
    /// The series.
    #[prost(message, repeated, tag = "5")]
    pub timeseries: Vec<TimeSeriesV2>,
}

/// `io.prometheus.write.v2.TimeSeries`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeriesV2 {
    /// Pairs of symbol references: name, value, name, value…
    #[prost(uint32, repeated, tag = "1")]
    pub labels_refs: Vec<u32>,
    /// Float samples.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Encoded `io.prometheus.write.v2.Histogram` messages.
    #[prost(bytes = "vec", repeated, tag = "3")]
    pub histograms: Vec<Vec<u8>>,
    /// Encoded `io.prometheus.write.v2.Exemplar` messages.
    #[prost(bytes = "vec", repeated, tag = "4")]
    pub exemplars: Vec<Vec<u8>>,
    /// Type, help and unit of the series' metric.
    #[prost(message, optional, tag = "5")]
    pub metadata: Option<MetadataV2>,
    /// Creation time of a counter or histogram in milliseconds; 0 if unknown.
    #[prost(int64, tag = "6")]
    pub created_timestamp: i64,
}

/// `io.prometheus.write.v2.Metadata`.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct MetadataV2 {
    /// `Metadata.MetricType`, numbered as in 1.0 (0 is unspecified).
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    /// Symbol reference of the help text.
    #[prost(uint32, tag = "3")]
    pub help_ref: u32,
    /// Symbol reference of the unit.
    #[prost(uint32, tag = "4")]
    pub unit_ref: u32,
}

/// Byte-typed views of the messages above, used only after a decode failed, to
/// find which label or symbol holds invalid UTF-8 (prost's own error does not say
/// which). Declaring the hot-path fields `string` instead is faster: prost decodes
/// a `bytes` field into a `Vec<u8>` through an intermediate `Bytes` copy.
pub(crate) mod raw {
    /// `prometheus.WriteRequest` with only what locates bad UTF-8.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct WriteRequest {
        #[prost(message, repeated, tag = "1")]
        pub timeseries: Vec<TimeSeries>,
    }

    /// `prometheus.TimeSeries` with only its labels.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TimeSeries {
        #[prost(message, repeated, tag = "1")]
        pub labels: Vec<Label>,
    }

    /// `prometheus.Label` as bytes.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Label {
        #[prost(bytes = "vec", tag = "1")]
        pub name: Vec<u8>,
        #[prost(bytes = "vec", tag = "2")]
        pub value: Vec<u8>,
    }

    /// `io.prometheus.write.v2.Request` with only its symbols, as bytes.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RequestV2 {
        #[prost(bytes = "vec", repeated, tag = "4")]
        pub symbols: Vec<Vec<u8>>,
    }
}
