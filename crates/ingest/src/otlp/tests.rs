use super::proto::*;
use super::*;
use crate::batch::{MetricType, RejectReason, STALE_NAN_BITS, Series};

const NOW: i64 = 1_700_000_100_000;

/// Renders series as `name{labels} value @t` lines, for golden comparisons.
fn render(series: &[Series]) -> Vec<String> {
    series
        .iter()
        .map(|s| {
            let labels: Vec<String> =
                s.labels.iter().filter(|(n, _)| n != "__name__").map(|(n, v)| format!("{n}={v:?}")).collect();
            format!("{}{{{}}} {} @{}", s.metric_name(), labels.join(","), s.samples[0].v, s.samples[0].t_ms)
        })
        .collect()
}

/// The shape of the metrics example in the OTLP specification (`examples/metrics.json`).
const SPEC_EXAMPLE: &str = r#"{
  "resourceMetrics": [{
    "resource": {"attributes": [
      {"key": "service.name", "value": {"stringValue": "my.service"}},
      {"key": "service.namespace", "value": {"stringValue": "shop"}},
      {"key": "service.instance.id", "value": {"stringValue": "pod-1"}},
      {"key": "host.name", "value": {"stringValue": "node-7"}}
    ]},
    "scopeMetrics": [{
      "scope": {"name": "my.library", "version": "1.0.0", "attributes": []},
      "metrics": [
        {"name": "my.counter", "unit": "1", "description": "I am a Counter",
         "sum": {"aggregationTemporality": 2, "isMonotonic": true, "dataPoints": [
           {"asDouble": 5, "startTimeUnixNano": "1544712660300000000", "timeUnixNano": "1700000000000000000",
            "attributes": [{"key": "my.counter.attr", "value": {"stringValue": "some value"}}]}]}},
        {"name": "my.gauge", "unit": "1", "description": "I am a Gauge",
         "gauge": {"dataPoints": [{"asInt": "10", "timeUnixNano": 1700000000000000000}]}},
        {"name": "my.histogram", "unit": "ms", "description": "I am a Histogram",
         "histogram": {"aggregationTemporality": 2, "dataPoints": [
           {"startTimeUnixNano": "1544712660300000000", "timeUnixNano": "1700000001000000000",
            "count": "2", "sum": 2, "bucketCounts": ["1", 1], "explicitBounds": [1], "min": 0, "max": 2,
            "attributes": [{"key": "my.histogram.attr", "value": {"intValue": "7"}}]}]}},
        {"name": "my.delta", "unit": "s",
         "sum": {"aggregationTemporality": 1, "isMonotonic": true, "dataPoints": [{"asInt": 1}]}}
      ]
    }]
  }]
}"#;

#[test]
fn golden_spec_json_example() {
    let batch = decode_json(SPEC_EXAMPLE.as_bytes(), &Limits::default(), NOW).unwrap();
    let id = r#"instance="pod-1",job="shop/my.service""#;
    let want = vec![
        format!(r#"my_counter_total{{{id},my_counter_attr="some value"}} 5 @1700000000000"#),
        format!(r#"my_gauge_ratio{{{id}}} 10 @1700000000000"#),
        format!(r#"my_histogram_milliseconds_bucket{{{id},le="1",my_histogram_attr="7"}} 1 @1700000001000"#),
        format!(r#"my_histogram_milliseconds_bucket{{{id},le="+Inf",my_histogram_attr="7"}} 2 @1700000001000"#),
        format!(r#"my_histogram_milliseconds_sum{{{id},my_histogram_attr="7"}} 2 @1700000001000"#),
        format!(r#"my_histogram_milliseconds_count{{{id},my_histogram_attr="7"}} 2 @1700000001000"#),
        format!(r#"target_info{{host_name="node-7",{id}}} 1 @1700000001000"#),
    ];
    assert_eq!(render(&batch.series), want);
    let types: Vec<_> = batch.metadata.iter().map(|m| (m.metric_family_name.as_str(), m.metric_type)).collect();
    assert_eq!(
        types,
        [
            ("my_counter_total", MetricType::Counter),
            ("my_gauge_ratio", MetricType::Gauge),
            ("my_histogram_milliseconds", MetricType::Histogram)
        ]
    );
    assert_eq!(batch.metadata[0].help, "I am a Counter");
    assert_eq!(batch.rejections.len(), 1);
    let r = &batch.rejections[0];
    assert_eq!((r.index, r.metric.as_str(), r.reason), (3, "my.delta", RejectReason::DeltaTemporalityUnsupported));
}

#[test]
fn protobuf_and_json_agree() {
    let json: ExportMetricsServiceRequest = serde_json::from_str(SPEC_EXAMPLE).unwrap();
    let from_pb = decode_protobuf(&json.encode_to_vec(), &Limits::default(), NOW).unwrap();
    let from_json = decode_json(SPEC_EXAMPLE.as_bytes(), &Limits::default(), NOW).unwrap();
    assert_eq!(from_pb, from_json);
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue { key: key.into(), value: Some(AnyValue { value: Some(Value::StringValue(value.into())) }) }
}

fn request(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource { attributes: vec![kv("service.name", "api")] }),
            scope_metrics: vec![ScopeMetrics { metrics }],
        }],
    }
}

fn metric(name: &str, unit: &str, data: MetricData) -> Metric {
    Metric { name: name.into(), description: String::new(), unit: unit.into(), data: Some(data) }
}

fn run(req: &ExportMetricsServiceRequest) -> Batch {
    decode_protobuf(&req.encode_to_vec(), &Limits::default(), NOW).unwrap()
}

#[test]
fn exponential_histogram_to_classic_buckets() {
    let point = ExponentialHistogramDataPoint {
        time_unix_nano: 1_700_000_000_000_000_000,
        count: 10,
        sum: Some(20.0),
        scale: 0,
        zero_count: 1,
        zero_threshold: 0.0,
        positive: Some(Buckets { offset: 0, bucket_counts: vec![2, 3] }),
        negative: Some(Buckets { offset: 1, bucket_counts: vec![4] }),
        ..Default::default()
    };
    let h = ExponentialHistogram { data_points: vec![point], aggregation_temporality: 2 };
    let batch = run(&request(vec![metric("rpc.latency", "s", MetricData::ExponentialHistogram(h))]));
    assert_eq!(
        render(&batch.series),
        [
            r#"rpc_latency_seconds_bucket{job="api",le="-2"} 4 @1700000000000"#,
            r#"rpc_latency_seconds_bucket{job="api",le="0"} 5 @1700000000000"#,
            r#"rpc_latency_seconds_bucket{job="api",le="2"} 7 @1700000000000"#,
            r#"rpc_latency_seconds_bucket{job="api",le="4"} 10 @1700000000000"#,
            r#"rpc_latency_seconds_bucket{job="api",le="+Inf"} 10 @1700000000000"#,
            r#"rpc_latency_seconds_sum{job="api"} 20 @1700000000000"#,
            r#"rpc_latency_seconds_count{job="api"} 10 @1700000000000"#,
        ]
    );
    let fine = ExponentialHistogramDataPoint {
        scale: 1,
        positive: Some(Buckets { offset: 0, bucket_counts: vec![1] }),
        ..Default::default()
    };
    let le = translate::exponential_buckets(&fine).unwrap()[1].0;
    assert!((le - std::f64::consts::SQRT_2).abs() < 1e-12);
    let bad = ExponentialHistogramDataPoint { scale: 21, ..Default::default() };
    assert!(translate::exponential_buckets(&bad).is_err());
}

#[test]
fn summary_and_non_monotonic_sum() {
    let summary = Summary {
        data_points: vec![SummaryDataPoint {
            time_unix_nano: 2_000_000,
            count: 3,
            sum: 1.5,
            quantile_values: vec![ValueAtQuantile { quantile: 0.5, value: 0.4 }],
            ..Default::default()
        }],
    };
    let sum = Sum {
        data_points: vec![NumberDataPoint {
            time_unix_nano: 2_000_000,
            value: Some(NumberValue::AsInt(-3)),
            ..Default::default()
        }],
        aggregation_temporality: 2,
        is_monotonic: false,
    };
    let batch = run(&request(vec![
        metric("gc.pause", "s", MetricData::Summary(summary)),
        metric("queue.depth", "{item}", MetricData::Sum(sum)),
    ]));
    assert_eq!(
        render(&batch.series),
        [
            r#"gc_pause_seconds{job="api",quantile="0.5"} 0.4 @2"#,
            r#"gc_pause_seconds_sum{job="api"} 1.5 @2"#,
            r#"gc_pause_seconds_count{job="api"} 3 @2"#,
            r#"queue_depth{job="api"} -3 @2"#,
        ]
    );
    assert_eq!(batch.metadata[1].metric_type, MetricType::Gauge);
}

#[test]
fn stale_flag_nan_collisions_and_malformed_points() {
    let gauge = Gauge {
        data_points: vec![
            NumberDataPoint {
                flags: FLAG_NO_RECORDED_VALUE,
                value: Some(NumberValue::AsDouble(1.0)),
                ..Default::default()
            },
            NumberDataPoint {
                attributes: vec![kv("a.b", "1"), kv("a-b", "2")],
                value: Some(NumberValue::AsDouble(f64::NAN)),
                ..Default::default()
            },
        ],
    };
    let hist = Histogram {
        data_points: vec![HistogramDataPoint {
            bucket_counts: vec![1, 2, 3],
            explicit_bounds: vec![1.0],
            ..Default::default()
        }],
        aggregation_temporality: 2,
    };
    let batch = run(&request(vec![
        metric("g", "", MetricData::Gauge(gauge)),
        metric("h", "", MetricData::Histogram(hist)),
        Metric { name: "empty".into(), ..Default::default() },
    ]));
    assert_eq!(batch.series[0].samples[0].v.to_bits(), STALE_NAN_BITS);
    assert!(batch.series[1].samples[0].v.is_nan() && !batch.series[1].samples[0].is_stale_marker());
    assert_eq!(batch.series[1].label("a_b"), Some("2;1"), "joined in the order of the original keys");
    let reasons: Vec<_> = batch.rejections.iter().map(|r| (r.index, r.reason)).collect();
    assert_eq!(reasons, [(1, RejectReason::MalformedDataPoint), (2, RejectReason::UnsupportedMetricType)]);
}

#[test]
fn empty_and_invalid_bodies() {
    assert!(decode_protobuf(&[], &Limits::default(), NOW).unwrap().is_empty());
    assert!(decode_json(b"{}", &Limits::default(), NOW).unwrap().is_empty());
    let err = decode_json(b"{\n  \"resourceMetrics\": 5\n}", &Limits::default(), NOW).unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
    assert_eq!(err.http_status(), 400);
    let err = decode_protobuf(&[0x0a, 0xff], &Limits::default(), NOW).unwrap_err();
    assert!(matches!(err, Error::Protobuf { .. }), "{err}");
}

#[test]
fn json_numbers_accept_strings_and_specials() {
    let body = r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","gauge":{"dataPoints":[
        {"asDouble":"NaN","timeUnixNano":"1000000"},{"asDouble":"-Infinity","timeUnixNano":2000000},
        {"asInt":"-9","timeUnixNano":"3000000","unknownField":{"nested":[1,2]}}]}}]}]}]}"#;
    let batch = decode_json(body.as_bytes(), &Limits::default(), NOW).unwrap();
    let values: Vec<f64> = batch.series.iter().map(|s| s.samples[0].v).collect();
    assert!(values[0].is_nan());
    assert_eq!(&values[1..], [f64::NEG_INFINITY, -9.0]);
    assert_eq!(batch.series[2].samples[0].t_ms, 3);
}

#[test]
fn malformed_oneof_case_is_a_json_error_not_a_missing_metric() {
    let body = "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[\n{\"name\":\"x\",\"gauge\":{\"dataPoints\":\"oops\"}}]}]}]}";
    let err = decode_json(body.as_bytes(), &Limits::default(), NOW).unwrap_err();
    assert!(matches!(err, Error::Json(_)), "{err}");
    assert!(err.to_string().contains("line 2"), "{err}");
}

#[test]
fn bytes_attributes_are_base64_in_both_encodings() {
    let json = r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","gauge":{"dataPoints":[
        {"asInt":1,"attributes":[{"key":"b","value":{"bytesValue":"AAEC/w=="}}]}]}}]}]}]}"#;
    let from_json = decode_json(json.as_bytes(), &Limits::default(), NOW).unwrap();
    assert_eq!(from_json.series[0].label("b"), Some("AAEC/w=="));
    let bytes = AnyValue { value: Some(Value::BytesValue(vec![0, 1, 2, 255])) };
    let gauge = Gauge {
        data_points: vec![NumberDataPoint {
            attributes: vec![KeyValue { key: "b".into(), value: Some(bytes) }],
            value: Some(NumberValue::AsInt(1)),
            ..Default::default()
        }],
    };
    let from_pb = run(&request(vec![metric("x", "", MetricData::Gauge(gauge))]));
    assert_eq!(from_pb.series[0].label("b"), Some("AAEC/w=="));
}
