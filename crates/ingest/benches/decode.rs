//! Decoder throughput: `ingest/<format>/decode_10k`, each over a batch of 10 000
//! samples shaped like node_exporter output (10 000 series of one sample each, the
//! shape Prometheus remote_write shards send), built in memory at start-up.
//!
//! `cargo bench -p wk-ingest --bench decode -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prost::Message;
use wk_ingest::influx::Precision;
use wk_ingest::otlp::proto::{
    AnyValue, ExportMetricsServiceRequest, Gauge, KeyValue, Metric, MetricData, NumberDataPoint, NumberValue, Resource,
    ResourceMetrics, ScopeMetrics, Sum, Value,
};
use wk_ingest::remote_write::proto::{Label, RequestV2, Sample, TimeSeries, TimeSeriesV2, WriteRequest};
use wk_ingest::{Decoder, Limits};

const SAMPLES: usize = 10_000;
const T0: i64 = 1_700_000_000_000;
const NOW: i64 = T0 + 60_000;

/// node_exporter-like series: name, extra label name, values of that label.
const FAMILIES: [(&str, &str, usize); 8] = [
    ("node_cpu_seconds_total", "cpu", 64),
    ("node_network_receive_bytes_total", "device", 16),
    ("node_network_transmit_bytes_total", "device", 16),
    ("node_filesystem_avail_bytes", "mountpoint", 12),
    ("node_disk_read_bytes_total", "device", 12),
    ("node_memory_MemAvailable_bytes", "numa", 2),
    ("node_load1", "", 1),
    ("node_softnet_processed_total", "cpu", 64),
];

/// The label sets of `SAMPLES` series spread over 40 instances.
fn label_sets() -> Vec<Vec<(String, String)>> {
    let mut out = Vec::with_capacity(SAMPLES);
    'outer: for instance in 0.. {
        for (name, extra, values) in FAMILIES {
            for v in 0..values {
                let mut labels = vec![("__name__".to_owned(), name.to_owned())];
                if !extra.is_empty() {
                    labels.push((extra.to_owned(), format!("{extra}{v}")));
                }
                labels.push(("instance".to_owned(), format!("10.0.{}.{}:9100", instance / 250, instance % 250)));
                labels.push(("job".to_owned(), "node".to_owned()));
                if name == "node_cpu_seconds_total" {
                    labels.push(("mode".to_owned(), "idle".to_owned()));
                }
                labels.sort();
                out.push(labels);
                if out.len() == SAMPLES {
                    break 'outer;
                }
            }
        }
    }
    out
}

fn remote_write_v1(sets: &[Vec<(String, String)>]) -> Vec<u8> {
    let timeseries = sets
        .iter()
        .enumerate()
        .map(|(i, labels)| TimeSeries {
            labels: labels.iter().map(|(n, v)| Label { name: n.clone(), value: v.clone() }).collect(),
            samples: vec![Sample { value: i as f64 * 1.5, timestamp: T0 }],
            ..TimeSeries::default()
        })
        .collect();
    let proto = WriteRequest { timeseries, metadata: vec![] }.encode_to_vec();
    snap::raw::Encoder::new().compress_vec(&proto).unwrap()
}

fn remote_write_v2(sets: &[Vec<(String, String)>]) -> Vec<u8> {
    let mut symbols: Vec<String> = vec![String::new()];
    let mut index = std::collections::HashMap::new();
    let mut intern = |s: &str| {
        *index.entry(s.to_owned()).or_insert_with(|| {
            symbols.push(s.to_owned());
            (symbols.len() - 1) as u32
        })
    };
    let timeseries = sets
        .iter()
        .enumerate()
        .map(|(i, labels)| TimeSeriesV2 {
            labels_refs: labels.iter().flat_map(|(n, v)| [intern(n), intern(v)]).collect(),
            samples: vec![Sample { value: i as f64 * 1.5, timestamp: T0 }],
            ..TimeSeriesV2::default()
        })
        .collect();
    let request = RequestV2 { symbols, timeseries };
    snap::raw::Encoder::new().compress_vec(&request.encode_to_vec()).unwrap()
}

/// Telegraf-like line protocol: 2 000 lines of 5 fields.
fn line_protocol() -> Vec<u8> {
    let mut body = String::new();
    for i in 0..SAMPLES / 5 {
        body.push_str(&format!(
            "cpu,cpu=cpu{},host=web-{} usage_idle={}.5,usage_user=1.25,usage_system=0.75,usage_iowait=0i,online=true {}\n",
            i % 64,
            i / 64,
            i % 100,
            T0 * 1_000_000
        ));
    }
    body.into_bytes()
}

/// An OTLP request of 100 metrics with 100 points each, from 10 resources.
fn otlp_protobuf() -> Vec<u8> {
    let kv =
        |k: &str, v: String| KeyValue { key: k.into(), value: Some(AnyValue { value: Some(Value::StringValue(v)) }) };
    let resource_metrics = (0..10)
        .map(|r| {
            let metrics = (0..10)
                .map(|m| {
                    let points = (0..100)
                        .map(|p| NumberDataPoint {
                            attributes: vec![
                                kv("http.route", format!("/api/v{}", p % 10)),
                                kv("http.status_code", format!("{}", 200 + p / 10)),
                            ],
                            time_unix_nano: T0 as u64 * 1_000_000,
                            value: Some(NumberValue::AsDouble(p as f64)),
                            flags: 0,
                        })
                        .collect();
                    let data = if m % 2 == 0 {
                        MetricData::Sum(Sum { data_points: points, aggregation_temporality: 2, is_monotonic: true })
                    } else {
                        MetricData::Gauge(Gauge { data_points: points })
                    };
                    Metric {
                        name: format!("http.server.metric{m}"),
                        description: "A metric.".into(),
                        unit: "s".into(),
                        data: Some(data),
                    }
                })
                .collect();
            ResourceMetrics {
                resource: Some(Resource {
                    attributes: vec![
                        kv("service.name", "checkout".into()),
                        kv("service.instance.id", format!("pod-{r}")),
                        kv("host.name", format!("node-{r}")),
                    ],
                }),
                scope_metrics: vec![ScopeMetrics { metrics }],
            }
        })
        .collect();
    ExportMetricsServiceRequest { resource_metrics }.encode_to_vec()
}

fn bench_decoders(c: &mut Criterion) {
    let sets = label_sets();
    let v1 = remote_write_v1(&sets);
    let v2 = remote_write_v2(&sets);
    let lp = line_protocol();
    let otlp = otlp_protobuf();
    let mut decoder = Decoder::new(Limits::default());
    let v2_type = "application/x-protobuf;proto=io.prometheus.write.v2.Request";
    let otlp_samples = decoder.otlp(&otlp, Some("application/x-protobuf"), None, NOW).unwrap().sample_count();
    assert_eq!(decoder.remote_write(&v1, None, Some("snappy"), NOW).unwrap().sample_count(), SAMPLES);
    assert_eq!(decoder.remote_write(&v2, Some(v2_type), Some("snappy"), NOW).unwrap().sample_count(), SAMPLES);
    assert_eq!(decoder.influx(&lp, None, Precision::Nanoseconds, NOW).unwrap().sample_count(), SAMPLES);

    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(SAMPLES as u64));
    group.bench_function("remote_write_v1/decode_10k", |b| {
        b.iter(|| decoder.remote_write(black_box(&v1), None, Some("snappy"), NOW).unwrap())
    });
    group.bench_function("remote_write_v2/decode_10k", |b| {
        b.iter(|| decoder.remote_write(black_box(&v2), Some(v2_type), Some("snappy"), NOW).unwrap())
    });
    group.bench_function("line_protocol/decode_10k", |b| {
        b.iter(|| decoder.influx(black_box(&lp), None, Precision::Nanoseconds, NOW).unwrap())
    });
    // 10 000 points plus one target_info sample per resource.
    group.throughput(Throughput::Elements(otlp_samples as u64));
    group.bench_function("otlp_protobuf/decode_10k", |b| {
        b.iter(|| decoder.otlp(black_box(&otlp), Some("application/x-protobuf"), None, NOW).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench_decoders);
criterion_main!(benches);
