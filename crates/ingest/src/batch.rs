//! The decoded form of one ingestion request, common to every wire format.
//!
//! The types are plain owned data with public fields so that an adapter into the
//! storage model (`wk-model`) is a simple move. Labels are `(name, value)` pairs
//! sorted by name, without duplicates, empty names or empty values; the metric name
//! is the `__name__` label.

/// The label name that holds the metric name.
pub const METRIC_NAME_LABEL: &str = "__name__";

/// The bit pattern Prometheus uses to mark a series stale. Decoders preserve it
/// bit-exactly; compare with [`Sample::is_stale_marker`], never with `==`.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// One sample: a timestamp in milliseconds since the Unix epoch and a value.
///
/// NaN and ±Inf are valid values; the stale marker ([`STALE_NAN_BITS`]) is kept bit-exactly.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Milliseconds since the Unix epoch.
    pub t_ms: i64,
    /// The value.
    pub v: f64,
}

impl Sample {
    /// Whether the value is the Prometheus stale marker.
    pub fn is_stale_marker(&self) -> bool {
        self.v.to_bits() == STALE_NAN_BITS
    }
}

/// One series with its samples, in the order the sender sent them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    /// `(name, value)` pairs sorted by name, including `__name__`.
    pub labels: Vec<(String, String)>,
    /// The samples of this series in this request; never empty in a decoded batch.
    pub samples: Vec<Sample>,
}

impl Series {
    /// The value of the `__name__` label, or `""` if there is none.
    pub fn metric_name(&self) -> &str {
        self.label(METRIC_NAME_LABEL).unwrap_or("")
    }

    /// The value of label `name`, if present.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// The Prometheus metric type of a metric family, as sent in metadata.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// The sender did not say.
    #[default]
    Unknown,
    /// A monotonically increasing counter.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A classic or native histogram.
    Histogram,
    /// A histogram of values that go up and down (OpenMetrics).
    GaugeHistogram,
    /// A summary with quantiles.
    Summary,
    /// An info metric (OpenMetrics).
    Info,
    /// A state set (OpenMetrics).
    StateSet,
}

impl MetricType {
    /// The name as in the exposition format and the `/api/v1/metadata` API.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Unknown => "unknown",
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
        }
    }
}

/// Metadata of one metric family: type, help text and unit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    /// The metric family name (for a histogram, without `_bucket`/`_sum`/`_count`).
    pub metric_family_name: String,
    /// The metric type.
    pub metric_type: MetricType,
    /// The help text; may be empty.
    pub help: String,
    /// The unit; may be empty.
    pub unit: String,
}

/// Why one series (or some of its samples) was not accepted; the rest of the request was.
///
/// [`as_str`](RejectReason::as_str) gives a stable snake_case name for a `reason` label
/// on a self-metric such as `watchkeeper_ingest_rejected_samples_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// The series has no `__name__` label.
    MissingMetricName,
    /// A label name is the empty string.
    EmptyLabelName,
    /// The same label name appears twice.
    DuplicateLabelName,
    /// More labels than [`Limits::max_labels_per_series`](crate::Limits::max_labels_per_series).
    TooManyLabels,
    /// A label name longer than [`Limits::max_label_name_len`](crate::Limits::max_label_name_len).
    LabelNameTooLong,
    /// A label value longer than [`Limits::max_label_value_len`](crate::Limits::max_label_value_len).
    LabelValueTooLong,
    /// A sample timestamp is further ahead of `now` than [`Limits::max_future_ms`](crate::Limits::max_future_ms).
    TooFarInFuture,
    /// The series carries native histograms, which are not supported yet.
    NativeHistogramUnsupported,
    /// An OTLP metric with delta temporality; only cumulative is supported.
    DeltaTemporalityUnsupported,
    /// An OTLP metric without data, or with a data type we do not know.
    UnsupportedMetricType,
    /// An OTLP data point whose fields contradict each other (bucket counts that do
    /// not match the bounds, an exponential histogram scale out of range).
    MalformedDataPoint,
}

impl RejectReason {
    /// A stable snake_case name for metric labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::MissingMetricName => "missing_metric_name",
            RejectReason::EmptyLabelName => "empty_label_name",
            RejectReason::DuplicateLabelName => "duplicate_label_name",
            RejectReason::TooManyLabels => "too_many_labels",
            RejectReason::LabelNameTooLong => "label_name_too_long",
            RejectReason::LabelValueTooLong => "label_value_too_long",
            RejectReason::TooFarInFuture => "too_far_in_future",
            RejectReason::NativeHistogramUnsupported => "native_histogram_unsupported",
            RejectReason::DeltaTemporalityUnsupported => "delta_temporality_unsupported",
            RejectReason::UnsupportedMetricType => "unsupported_metric_type",
            RejectReason::MalformedDataPoint => "malformed_data_point",
        }
    }
}

impl std::fmt::Display for RejectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rejected series, or the rejected samples of one series.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejection {
    /// Where the item sits in the request: the `timeseries` index for remote_write,
    /// the 1-based line number for line protocol, the metric's running index over all
    /// resources and scopes for OTLP.
    pub index: usize,
    /// The metric name, as far as it is known (may be empty).
    pub metric: String,
    /// The typed reason.
    pub reason: RejectReason,
    /// A sentence for the sender naming the label, limit or timestamp at fault.
    pub detail: String,
    /// How many samples were dropped (histogram samples count one each).
    pub samples: usize,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "series {} ({:?}): {}: {}", self.index, self.metric, self.reason, self.detail)
    }
}

/// Counters for things a decoder tolerated and dropped without rejecting anything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Exemplars received and dropped (not stored yet).
    pub exemplars_dropped: usize,
    /// Line protocol string fields skipped (they have no numeric value).
    pub string_fields_skipped: usize,
}

/// The decoded content of one request: accepted series, metadata, rejections.
///
/// The caller appends `series`, reports `rejections` to the sender (for example a
/// 400 naming the first few, after accepting the rest) and counts them by reason.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    /// Series that passed validation, each with at least one sample.
    pub series: Vec<Series>,
    /// Metric family metadata, as sent.
    pub metadata: Vec<Metadata>,
    /// Series or samples not accepted, with typed reasons.
    pub rejections: Vec<Rejection>,
    /// Counters of tolerated, dropped content.
    pub stats: DecodeStats,
}

impl Batch {
    /// The number of accepted samples.
    pub fn sample_count(&self) -> usize {
        self.series.iter().map(|s| s.samples.len()).sum()
    }

    /// The number of rejected samples.
    pub fn rejected_sample_count(&self) -> usize {
        self.rejections.iter().map(|r| r.samples).sum()
    }

    /// Whether the request carried nothing at all.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty() && self.metadata.is_empty() && self.rejections.is_empty()
    }
}
