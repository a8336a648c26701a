//! Runs every file of the checked-in fuzz corpus (`fuzz/corpus/<target>/`) through
//! its decoder, so the seeds and any crashers found by `cargo fuzz` stay fixed in
//! the default test suite without nightly.
//!
//! The generated seeds are golden files: `WK_BLESS=1 cargo test -p wk-ingest --test
//! fuzz_corpus` rewrites them (the hand-written ones are kept); otherwise the test
//! checks that they still match what the encoders produce.

use std::fs;
use std::path::{Path, PathBuf};

use prost::Message;
use wk_ingest::fuzzing::TARGETS;
use wk_ingest::otlp::proto::ExportMetricsServiceRequest;
use wk_ingest::remote_write::proto::{
    Label, MetadataV2, MetricMetadata, RequestV2, Sample, TimeSeries, TimeSeriesV2, WriteRequest,
};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target)
}

#[test]
fn every_corpus_file_decodes_without_panic() {
    for target in TARGETS {
        let mut files: Vec<PathBuf> = fs::read_dir(corpus_dir(target))
            .unwrap_or_else(|e| panic!("corpus for {target}: {e}"))
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no corpus for fuzz target {target}");
        for file in files {
            let data = fs::read(&file).unwrap();
            let outcome = wk_ingest::fuzz_decode(target, &data).expect("known target");
            if let Err(e) = &outcome {
                assert!((400..500).contains(&e.http_status()), "{}: {e}", file.display());
            }
        }
    }
}

#[test]
fn generated_seeds_are_current() {
    let bless = std::env::var_os("WK_BLESS").is_some();
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let path = corpus_dir(target).join(name);
        if bless {
            fs::create_dir_all(corpus_dir(target)).unwrap();
            fs::write(&path, bytes).unwrap();
        } else {
            let on_disk =
                fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (WK_BLESS=1 regenerates)", path.display()));
            assert_eq!(on_disk, bytes, "{} is stale: WK_BLESS=1 regenerates it", path.display());
        }
    };
    let v1 = v1_request().encode_to_vec();
    write("remote_write_v1", "seed-node-exporter", &v1);
    write("remote_write_v1", "seed-empty", &[]);
    let v2 = v2_request().encode_to_vec();
    write("remote_write_v2", "seed-with-metadata", &v2);
    let mut snappy = snap::raw::Encoder::new();
    write("snappy", "seed-v1", &snappy.compress_vec(&v1).unwrap());
    write("snappy", "seed-v2", &snappy.compress_vec(&v2).unwrap());
    write("snappy", "seed-truncated", &snappy.compress_vec(&v1).unwrap()[..20]);
    let json = fs::read(corpus_dir("otlp_json").join("seed-spec-example.json")).unwrap();
    let request: ExportMetricsServiceRequest = serde_json::from_slice(&json).unwrap();
    write("otlp_protobuf", "seed-spec-example", &request.encode_to_vec());
}

fn label(n: &str, v: &str) -> Label {
    Label { name: n.into(), value: v.into() }
}

fn v1_request() -> WriteRequest {
    let series = |name: &str, extra: (&str, &str), value: f64| TimeSeries {
        labels: vec![
            label("__name__", name),
            label(extra.0, extra.1),
            label("instance", "host:9100"),
            label("job", "node"),
        ],
        samples: vec![Sample { value, timestamp: 1_700_000_000_000 }, Sample { value, timestamp: 1_700_000_015_000 }],
        exemplars: vec![],
        histograms: vec![],
    };
    let mut with_histogram = series("rpc_duration_seconds", ("method", "get"), 0.0);
    with_histogram.samples.clear();
    with_histogram.histograms.push(vec![0x08, 0x02]);
    WriteRequest {
        timeseries: vec![
            series("node_cpu_seconds_total", ("cpu", "0"), 1234.5),
            series("node_filesystem_avail_bytes", ("mountpoint", "/"), 5e10),
            series("node_network_up", ("device", "eth0"), f64::from_bits(0x7ff0_0000_0000_0002)),
            with_histogram,
        ],
        metadata: vec![MetricMetadata {
            r#type: 1,
            metric_family_name: "node_cpu_seconds_total".into(),
            help: "Seconds the CPUs spent in each mode.".into(),
            unit: "seconds".into(),
        }],
    }
}

fn v2_request() -> RequestV2 {
    let symbols = ["", "__name__", "http_requests_total", "code", "200", "500", "Requests served.", "requests"];
    let ts = |code: u32, value: f64| TimeSeriesV2 {
        labels_refs: vec![1, 2, 3, code],
        samples: vec![Sample { value, timestamp: 1_700_000_000_000 }],
        metadata: Some(MetadataV2 { r#type: 1, help_ref: 6, unit_ref: 7 }),
        ..TimeSeriesV2::default()
    };
    RequestV2 { symbols: symbols.iter().map(|s| s.to_string()).collect(), timeseries: vec![ts(4, 10.0), ts(5, 1.0)] }
}
