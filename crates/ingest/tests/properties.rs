//! Property tests for every decoder: arbitrary bytes never panic, and what an
//! encoder writes decodes back to the same series (remote_write 1.0 and 2.0, line
//! protocol).

use std::collections::BTreeMap;

use proptest::prelude::*;
use prost::Message;
use wk_ingest::content::{gunzip_into, snappy_decompress_into};
use wk_ingest::influx::{self, Precision};
use wk_ingest::names::{sanitize_label_name, sanitize_metric_name};
use wk_ingest::remote_write::proto::{Label, RequestV2, Sample as PSample, TimeSeries, TimeSeriesV2, WriteRequest};
use wk_ingest::remote_write::{self, v1, v2};
use wk_ingest::{Decoder, Limits, RemoteWriteVersion, otlp};

const NOW: i64 = 1_700_000_000_000;

/// One generated series: sorted, unique labels (with `__name__`) and samples.
#[derive(Debug, Clone)]
struct GenSeries {
    labels: BTreeMap<String, String>,
    samples: Vec<(i64, u64)>,
}

fn gen_series() -> impl Strategy<Value = GenSeries> {
    let labels = prop::collection::btree_map("[a-z_][a-z0-9_]{0,8}", "\\PC{1,12}", 0..6);
    let samples = prop::collection::vec((-NOW..NOW, any::<u64>()), 1..5);
    ("[a-zA-Z_:][a-zA-Z0-9_:]{0,20}", labels, samples).prop_map(|(name, mut labels, samples)| {
        labels.insert("__name__".to_owned(), name);
        GenSeries { labels, samples }
    })
}

/// Checks that a decoded batch holds exactly the generated series, bit for bit.
fn assert_same(batch: &wk_ingest::Batch, want: &[GenSeries]) {
    assert!(batch.rejections.is_empty(), "{:?}", batch.rejections);
    assert_eq!(batch.series.len(), want.len());
    for (got, want) in batch.series.iter().zip(want) {
        let labels: Vec<(String, String)> = want.labels.clone().into_iter().collect();
        assert_eq!(got.labels, labels);
        let samples: Vec<(i64, u64)> = got.samples.iter().map(|s| (s.t_ms, s.v.to_bits())).collect();
        assert_eq!(samples, want.samples);
    }
}

proptest! {
    #[test]
    fn remote_write_v1_round_trip(series in prop::collection::vec(gen_series(), 0..8)) {
        let request = WriteRequest {
            timeseries: series.iter().map(|s| TimeSeries {
                labels: s.labels.iter().map(|(n, v)| Label { name: n.clone(), value: v.clone() }).collect(),
                samples: s.samples.iter().map(|&(timestamp, bits)| PSample { value: f64::from_bits(bits), timestamp }).collect(),
                ..TimeSeries::default()
            }).collect(),
            metadata: vec![],
        };
        let body = snap::raw::Encoder::new().compress_vec(&request.encode_to_vec()).unwrap();
        let batch = Decoder::new(Limits::default())
            .remote_write(&body, Some("application/x-protobuf"), Some("snappy"), NOW)
            .unwrap();
        assert_same(&batch, &series);
    }

    #[test]
    fn remote_write_v2_round_trip(series in prop::collection::vec(gen_series(), 0..8)) {
        let mut symbols: Vec<String> = vec![String::new()];
        let mut intern = |s: &str| match symbols.iter().position(|x| x == s) {
            Some(i) => i as u32,
            None => { symbols.push(s.to_owned()); (symbols.len() - 1) as u32 }
        };
        let timeseries = series.iter().map(|s| TimeSeriesV2 {
            labels_refs: s.labels.iter().flat_map(|(n, v)| [intern(n), intern(v)]).collect(),
            samples: s.samples.iter().map(|&(timestamp, bits)| PSample { value: f64::from_bits(bits), timestamp }).collect(),
            ..TimeSeriesV2::default()
        }).collect();
        let request = RequestV2 { symbols, timeseries };
        let body = snap::raw::Encoder::new().compress_vec(&request.encode_to_vec()).unwrap();
        let ct = "application/x-protobuf;proto=io.prometheus.write.v2.Request";
        let batch = Decoder::new(Limits::default()).remote_write(&body, Some(ct), Some("snappy"), NOW).unwrap();
        assert_same(&batch, &series);
    }

    #[test]
    fn line_protocol_round_trip(lines in prop::collection::vec(gen_line(), 0..6)) {
        let mut body = String::new();
        for line in &lines {
            body.push_str(&line.encode());
            body.push('\n');
        }
        let batch = influx::decode(body.as_bytes(), Precision::Milliseconds, &Limits::default(), NOW).unwrap();
        prop_assert!(batch.rejections.is_empty(), "{:?}", batch.rejections);
        let mut got = batch.series.iter();
        for line in &lines {
            for (field, value) in &line.fields {
                let s = got.next().expect("a series per field");
                let name = sanitize_metric_name(&format!("{}_{}", sanitize_metric_name(&line.measurement), field));
                prop_assert_eq!(s.metric_name(), name.as_str());
                for (k, v) in &line.tags {
                    prop_assert_eq!(s.label(&sanitize_label_name(k)), Some(v.as_str()));
                }
                prop_assert_eq!(s.samples[0].v, *value);
                prop_assert_eq!(s.samples[0].t_ms, line.timestamp);
            }
        }
        prop_assert!(got.next().is_none());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let l = Limits::default();
        let _ = v1::decode(&bytes, &l, NOW);
        let _ = v2::decode(&bytes, &l, NOW);
        let mut scratch = Vec::new();
        let _ = remote_write::decode(RemoteWriteVersion::V1, &bytes, &l, NOW, &mut scratch);
        let _ = snappy_decompress_into(&bytes, &l, &mut scratch);
        let _ = gunzip_into(&bytes, &l, &mut scratch);
        let _ = otlp::decode_protobuf(&bytes, &l, NOW);
        let _ = otlp::decode_json(&bytes, &l, NOW);
        let _ = influx::decode(&bytes, Precision::Nanoseconds, &l, NOW);
    }

    #[test]
    fn arbitrary_text_never_panics_line_protocol(text in "[a-z0-9 ,=\"\\\\.ieu\\-\n#tTfF]{0,200}") {
        let _ = influx::decode(text.as_bytes(), Precision::Seconds, &Limits::default(), NOW);
    }

    #[test]
    fn arbitrary_json_shapes_never_panic(text in r#"[\[\]{}:,"a-zA-Z0-9 .\-]{0,200}"#) {
        let _ = otlp::decode_json(text.as_bytes(), &Limits::default(), NOW);
    }
}

/// One generated line protocol point.
#[derive(Debug, Clone)]
struct GenLine {
    measurement: String,
    tags: BTreeMap<String, String>,
    fields: Vec<(String, f64)>,
    timestamp: i64,
}

impl GenLine {
    fn encode(&self) -> String {
        let esc = |s: &str, specials: &[char]| {
            let mut out = String::new();
            for c in s.chars() {
                if specials.contains(&c) {
                    out.push('\\');
                }
                out.push(c);
            }
            out
        };
        let mut line = esc(&self.measurement, &[',', ' ']);
        for (k, v) in &self.tags {
            line.push_str(&format!(",{}={}", esc(k, &[',', ' ', '=']), esc(v, &[',', ' ', '='])));
        }
        let fields: Vec<String> =
            self.fields.iter().map(|(k, v)| format!("{}={v:?}", esc(k, &[',', ' ', '=']))).collect();
        format!("{} {} {}", line, fields.join(","), self.timestamp)
    }
}

fn gen_line() -> impl Strategy<Value = GenLine> {
    // Tag keys are distinct after sanitization (letters only); values may hold specials.
    let tags = prop::collection::btree_map("[a-z]{1,6}", "[a-zA-Z0-9 ,=._-]{1,10}", 0..4);
    let fields = prop::collection::btree_map("[a-z][a-z0-9 ,=_]{0,6}", -1e12f64..1e12, 1..4);
    ("[a-zA-Z][a-zA-Z0-9 ,=._-]{0,12}", tags, fields, -NOW..NOW).prop_map(|(measurement, tags, fields, timestamp)| {
        GenLine { measurement, tags, fields: fields.into_iter().collect(), timestamp }
    })
}

/// A remote_write 1.0 series as a careless sender may write it: labels in any
/// order, empty and duplicate names, empty values, future timestamps, histograms,
/// exemplars.
fn gen_messy_series() -> impl Strategy<Value = TimeSeries> {
    let label = ("(__name__|job|a|b|)", "(x|y|)");
    let labels = prop::collection::vec(label, 0..5);
    let samples = prop::collection::vec((NOW - 10..NOW + 20 * 60 * 1000, any::<u64>()), 0..4);
    (labels, samples, 0..2usize, 0..2usize).prop_map(|(labels, samples, exemplars, histograms)| TimeSeries {
        labels: labels.into_iter().map(|(name, value)| Label { name, value }).collect(),
        samples: samples
            .into_iter()
            .map(|(timestamp, bits)| PSample { value: f64::from_bits(bits), timestamp })
            .collect(),
        exemplars: vec![vec![0x11, 0, 0, 0, 0, 0, 0, 0, 0]; exemplars],
        histograms: vec![vec![0x08, 0x01]; histograms],
    })
}

/// The borrowed decoder agrees with the reference decoder: the same batch when it
/// accepts a request, and it leaves to the reference every request that one rejects.
fn assert_borrowed_agrees(bytes: &[u8], limits: &Limits) {
    let reference = v1::decode(bytes, limits, NOW);
    match remote_write::borrowed::try_decode(bytes, limits, NOW) {
        Some(borrowed) => {
            let reference = reference.expect("the borrowed decoder accepted what the reference rejects");
            assert!(wk_ingest::fuzzing::same_batch(&borrowed.to_owned_batch(), &reference));
            assert_eq!(borrowed.sample_count(), reference.sample_count());
        }
        None => assert!(reference.is_err(), "the borrowed decoder refused a valid request"),
    }
}

proptest! {
    #[test]
    fn remote_write_v1_borrowed_matches_reference(series in prop::collection::vec(gen_messy_series(), 0..8)) {
        let bytes = WriteRequest { timeseries: series, metadata: vec![] }.encode_to_vec();
        assert_borrowed_agrees(&bytes, &Limits::default());
        assert_borrowed_agrees(&bytes, &Limits { max_series_per_request: 3, max_samples_per_request: 5, max_labels_per_series: 3, ..Limits::default() });
        for cut in [1, bytes.len() / 2, bytes.len().saturating_sub(1)] {
            assert_borrowed_agrees(&bytes[..cut.min(bytes.len())], &Limits::default());
        }
    }

    #[test]
    fn remote_write_v1_borrowed_matches_reference_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        assert_borrowed_agrees(&bytes, &Limits::default());
    }
}
