//! Remote write 1.0: `prometheus.WriteRequest` into a [`Batch`].

use prost::Message;
use prost::encoding::{DecodeContext, WireType, check_wire_type, decode_key, skip_field};

use super::proto::{Label, MetricMetadata, TimeSeries, raw};
use super::{histogram_detail, metric_type};
use crate::batch::{Batch, Metadata, RejectReason, Rejection, Sample, Series};
use crate::error::{Error, Result};
use crate::limits::Limits;

/// Decodes an uncompressed `prometheus.WriteRequest`.
///
/// Fails for a payload that is not valid protobuf, holds invalid UTF-8 in a label,
/// or is over a request limit. Series with invalid labels, native histograms, or
/// samples too far ahead of `now_ms` are rejected one by one in
/// [`Batch::rejections`]; the others are returned. An empty request is valid and
/// gives an empty batch.
///
/// The request is decoded one `TimeSeries` at a time straight into the batch,
/// never as a whole `WriteRequest`: that saves building and dropping a second
/// vector of every series, which measurably slowed the benchmark.
pub fn decode(bytes: &[u8], limits: &Limits, now_ms: i64) -> Result<Batch> {
    let protobuf_error =
        |source| locate_invalid_utf8(bytes).unwrap_or(Error::Protobuf { message: "prometheus.WriteRequest", source });
    let mut batch = Batch::default();
    let mut buf = bytes;
    let (mut index, mut samples) = (0, 0);
    while !buf.is_empty() {
        let (tag, wire_type) = decode_key(&mut buf).map_err(protobuf_error)?;
        match tag {
            1 => {
                check_wire_type(WireType::LengthDelimited, wire_type).map_err(protobuf_error)?;
                let ts = TimeSeries::decode_length_delimited(&mut buf).map_err(protobuf_error)?;
                limits.check_series_count(index + 1)?;
                samples += ts.samples.len() + ts.histograms.len();
                limits.check_sample_count(samples)?;
                add_series(&mut batch, index, ts, limits, now_ms);
                index += 1;
            }
            3 => {
                check_wire_type(WireType::LengthDelimited, wire_type).map_err(protobuf_error)?;
                let m = MetricMetadata::decode_length_delimited(&mut buf).map_err(protobuf_error)?;
                batch.metadata.push(Metadata {
                    metric_family_name: m.metric_family_name,
                    metric_type: metric_type(m.r#type),
                    help: m.help,
                    unit: m.unit,
                });
            }
            _ => skip_field(wire_type, tag, &mut buf, DecodeContext::default()).map_err(protobuf_error)?,
        }
    }
    Ok(batch)
}

/// Converts one decoded `TimeSeries` and admits it (or rejects its histograms).
fn add_series(batch: &mut Batch, index: usize, ts: TimeSeries, limits: &Limits, now_ms: i64) {
    batch.stats.exemplars_dropped += ts.exemplars.len();
    // Both collects reuse the decoded vectors in place: same size and alignment.
    let labels = ts.labels.into_iter().map(|Label { name, value }| (name, value)).collect();
    let samples = ts.samples.into_iter().map(|s| Sample { t_ms: s.timestamp, v: s.value }).collect();
    let series = Series { labels, samples };
    if !ts.histograms.is_empty() {
        batch.rejections.push(Rejection {
            index,
            metric: series.metric_name().to_owned(),
            reason: RejectReason::NativeHistogramUnsupported,
            detail: histogram_detail(ts.histograms.len()),
            samples: ts.histograms.len(),
        });
    }
    if !series.samples.is_empty() {
        limits.admit(batch, index, series, now_ms);
    }
}

/// After a failed decode: if the payload is valid protobuf apart from invalid
/// UTF-8 in a label, the error naming that series and label.
fn locate_invalid_utf8(bytes: &[u8]) -> Option<Error> {
    let raw = raw::WriteRequest::decode(bytes).ok()?;
    raw.timeseries.iter().enumerate().find_map(|(series, ts)| {
        ts.labels.iter().enumerate().find_map(|(index, l)| {
            let field = if std::str::from_utf8(&l.name).is_err() {
                "label name"
            } else if std::str::from_utf8(&l.value).is_err() {
                "label value"
            } else {
                return None;
            };
            Some(Error::InvalidUtf8 { series, field, index })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::STALE_NAN_BITS;
    use crate::remote_write::proto::{self, WriteRequest};

    pub(crate) fn label(n: &str, v: &str) -> Label {
        Label { name: n.to_owned(), value: v.to_owned() }
    }

    fn ts(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels: labels.iter().map(|(n, v)| label(n, v)).collect(),
            samples: samples.iter().map(|&(timestamp, value)| proto::Sample { value, timestamp }).collect(),
            exemplars: vec![],
            histograms: vec![],
        }
    }

    fn run(req: &WriteRequest) -> Result<Batch> {
        decode(&req.encode_to_vec(), &Limits::default(), 10_000)
    }

    #[test]
    fn golden_two_series_and_metadata() {
        let req = WriteRequest {
            timeseries: vec![
                ts(&[("__name__", "up"), ("job", "node"), ("instance", "a:9100")], &[(1000, 1.0), (2000, 0.0)]),
                ts(&[("__name__", "node_load1"), ("instance", "a:9100")], &[(1000, 0.25)]),
            ],
            metadata: vec![MetricMetadata {
                r#type: 2,
                metric_family_name: "node_load1".into(),
                help: "1m load average.".into(),
                unit: String::new(),
            }],
        };
        let batch = run(&req).unwrap();
        let got: Vec<String> = batch.series.iter().map(|s| format!("{:?} {:?}", s.labels, s.samples)).collect();
        assert_eq!(
            got,
            [
                r#"[("__name__", "up"), ("instance", "a:9100"), ("job", "node")] [Sample { t_ms: 1000, v: 1.0 }, Sample { t_ms: 2000, v: 0.0 }]"#,
                r#"[("__name__", "node_load1"), ("instance", "a:9100")] [Sample { t_ms: 1000, v: 0.25 }]"#,
            ]
        );
        assert_eq!(batch.metadata[0].metric_type, crate::MetricType::Gauge);
        assert_eq!(batch.metadata[0].help, "1m load average.");
        assert!(batch.rejections.is_empty());
    }

    #[test]
    fn empty_request_is_valid_and_empty() {
        assert!(decode(&[], &Limits::default(), 0).unwrap().is_empty());
    }

    #[test]
    fn nan_inf_and_stale_marker_are_kept_bit_exact() {
        let stale = f64::from_bits(STALE_NAN_BITS);
        let req = WriteRequest {
            timeseries: vec![ts(
                &[("__name__", "x")],
                &[(1, f64::NAN), (2, f64::INFINITY), (3, f64::NEG_INFINITY), (4, stale)],
            )],
            metadata: vec![],
        };
        let s = &run(&req).unwrap().series[0].samples;
        assert!(s[0].v.is_nan() && !s[0].is_stale_marker());
        assert_eq!((s[1].v, s[2].v), (f64::INFINITY, f64::NEG_INFINITY));
        assert_eq!(s[3].v.to_bits(), STALE_NAN_BITS);
    }

    #[test]
    fn native_histograms_rejected_per_series_exemplars_counted() {
        let mut with_hist = ts(&[("__name__", "h")], &[]);
        with_hist.histograms.push(vec![0x08, 0x01]);
        let mut with_ex = ts(&[("__name__", "c")], &[(1, 1.0)]);
        with_ex.exemplars.push(vec![0x11, 0, 0, 0, 0, 0, 0, 0, 0]);
        let batch = run(&WriteRequest { timeseries: vec![with_hist, with_ex], metadata: vec![] }).unwrap();
        assert_eq!(batch.series.len(), 1);
        assert_eq!(batch.rejections[0].reason, RejectReason::NativeHistogramUnsupported);
        assert_eq!((batch.rejections[0].index, batch.rejections[0].metric.as_str()), (0, "h"));
        assert!(batch.rejections[0].detail.contains("not supported yet"));
        assert_eq!(batch.stats.exemplars_dropped, 1);
    }

    #[test]
    fn invalid_utf8_names_series_and_label() {
        let bad = ts(&[("__name__", "x"), ("a", "\u{1}\u{2}")], &[(1, 1.0)]);
        let req = WriteRequest { timeseries: vec![ts(&[("__name__", "ok")], &[(1, 1.0)]), bad], metadata: vec![] };
        let mut bytes = req.encode_to_vec();
        let at = bytes.windows(2).position(|w| w == [1, 2]).unwrap();
        bytes[at..at + 2].copy_from_slice(&[0xff, 0xfe]);
        let err = decode(&bytes, &Limits::default(), 0).unwrap_err();
        assert_eq!(err.to_string(), "series 1: label value 1 is not valid UTF-8");
        assert_eq!(err.http_status(), 400);
    }

    #[test]
    fn invalid_protobuf_is_a_protobuf_error() {
        let err = decode(&[0x0a, 0x05, 0x01], &Limits::default(), 0).unwrap_err();
        assert!(matches!(err, Error::Protobuf { message: "prometheus.WriteRequest", .. }), "{err}");
    }

    #[test]
    fn duplicate_and_huge_labels_reject_only_that_series() {
        let huge = "v".repeat(100_000);
        let req = WriteRequest {
            timeseries: vec![
                ts(&[("__name__", "a"), ("x", "1"), ("x", "2")], &[(1, 1.0)]),
                ts(&[("__name__", "b"), ("x", &huge)], &[(1, 1.0)]),
                ts(&[("__name__", "c")], &[(1, 1.0)]),
            ],
            metadata: vec![],
        };
        let batch = run(&req).unwrap();
        assert_eq!(batch.series.len(), 1);
        let reasons: Vec<_> = batch.rejections.iter().map(|r| (r.index, r.reason)).collect();
        assert_eq!(reasons, [(0, RejectReason::DuplicateLabelName), (1, RejectReason::LabelValueTooLong)]);
    }

    #[test]
    fn too_many_series_is_413() {
        let req = WriteRequest { timeseries: vec![ts(&[("__name__", "a")], &[(1, 1.0)]); 3], metadata: vec![] };
        let limits = Limits { max_series_per_request: 2, ..Limits::default() };
        assert_eq!(decode(&req.encode_to_vec(), &limits, 0).unwrap_err().http_status(), 413);
    }
}
