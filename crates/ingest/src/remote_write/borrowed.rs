//! Remote write 1.0 decoded without copying: a [`BorrowedBatch`] whose label
//! names and values are `&str` slices of the request body.
//!
//! This is the ingest server's path: it hands each series' labels straight to the
//! appender (or to a cache of label sets it has seen) instead of allocating two
//! `String`s per label and dropping them again. The content, rejections and
//! limits are exactly those of [`v1::decode`](super::v1::decode), which stays the
//! reference: a property test checks that both agree on arbitrary input, and
//! whenever this decoder meets anything it does not accept, the reference decoder
//! runs instead and names the problem.

use prost::Message;
use prost::encoding::{DecodeContext, WireType, check_wire_type, decode_key, decode_varint, skip_field};

use super::proto::MetricMetadata;
use super::{histogram_detail, metric_type};
use crate::batch::{Batch, DecodeStats, Metadata, RejectReason, Rejection, Sample, Series};
use crate::limits::Limits;

/// One accepted series of a [`BorrowedBatch`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeriesView<'b> {
    /// `(name, value)` pairs sorted by name, validated as [`Limits::admit`] does.
    pub labels: &'b [(&'b str, &'b str)],
    /// The samples, in the order the sender sent them; never empty.
    pub samples: &'b [Sample],
    /// The encoded `Label` fields of the series exactly as sent (from the first to
    /// the last), for a cache keyed by the sender's bytes. Equal bytes mean equal
    /// labels; different bytes may still mean equal labels (another order).
    pub sent_labels: &'b [u8],
}

#[derive(Clone, Debug)]
struct SeriesSpan {
    labels: (u32, u32),
    samples: (u32, u32),
    sent: (u32, u32),
}

/// A decoded remote_write 1.0 request that borrows the (decompressed) body.
#[derive(Debug, Default)]
pub struct BorrowedBatch<'a> {
    body: &'a [u8],
    labels: Vec<(&'a str, &'a str)>,
    samples: Vec<Sample>,
    series: Vec<SeriesSpan>,
    /// Metric family metadata, as sent.
    pub metadata: Vec<Metadata>,
    /// Series or samples not accepted, with typed reasons, in request order.
    pub rejections: Vec<Rejection>,
    /// Counters of tolerated, dropped content.
    pub stats: DecodeStats,
}

impl<'a> BorrowedBatch<'a> {
    /// The accepted series, in request order.
    pub fn series(&self) -> impl ExactSizeIterator<Item = SeriesView<'_>> + '_ {
        self.series.iter().map(|s| SeriesView {
            labels: &self.labels[s.labels.0 as usize..s.labels.1 as usize],
            samples: &self.samples[s.samples.0 as usize..s.samples.1 as usize],
            sent_labels: &self.body[s.sent.0 as usize..s.sent.1 as usize],
        })
    }

    /// The number of accepted samples.
    pub fn sample_count(&self) -> usize {
        self.samples.len()
    }

    /// Copies the batch into an owned [`Batch`] (the form every other decoder returns).
    pub fn to_owned_batch(&self) -> Batch {
        let series = self
            .series()
            .map(|s| Series {
                labels: s.labels.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect(),
                samples: s.samples.to_vec(),
            })
            .collect();
        Batch { series, metadata: self.metadata.clone(), rejections: self.rejections.clone(), stats: self.stats }
    }
}

/// Decodes an uncompressed `prometheus.WriteRequest` as [`v1::decode`] does,
/// borrowing labels from `bytes`.
///
/// Returns `None` for anything this decoder does not accept: invalid protobuf,
/// invalid UTF-8, a request over a limit. The caller then runs [`v1::decode`],
/// which names the problem (the path [`Decoder::remote_write_borrowed`]
/// takes), so that the error a sender sees never depends on the path.
///
/// [`Decoder::remote_write_borrowed`]: crate::Decoder::remote_write_borrowed
pub fn try_decode<'a>(bytes: &'a [u8], limits: &Limits, now_ms: i64) -> Option<BorrowedBatch<'a>> {
    let mut st = State {
        batch: BorrowedBatch { body: bytes, ..BorrowedBatch::default() },
        limits,
        now_ms,
        scratch: Vec::with_capacity(16),
        index: 0,
        samples_seen: 0,
    };
    // Typical requests carry ~6 labels and 1 sample per ~40 bytes of series.
    st.batch.labels.reserve(bytes.len() / 12);
    st.batch.samples.reserve(bytes.len() / 40);
    st.batch.series.reserve(bytes.len() / 40);
    let mut buf = bytes;
    while !buf.is_empty() {
        let (tag, wire_type) = decode_key(&mut buf).ok()?;
        match tag {
            1 => {
                check_wire_type(WireType::LengthDelimited, wire_type).ok()?;
                let msg = take_delimited(&mut buf)?;
                st.time_series(offset(bytes, buf) - msg.len(), msg)?;
            }
            3 => {
                check_wire_type(WireType::LengthDelimited, wire_type).ok()?;
                let m = MetricMetadata::decode_length_delimited(&mut buf).ok()?;
                st.batch.metadata.push(Metadata {
                    metric_family_name: m.metric_family_name,
                    metric_type: metric_type(m.r#type),
                    help: m.help,
                    unit: m.unit,
                });
            }
            _ => skip_field(wire_type, tag, &mut buf, DecodeContext::default()).ok()?,
        }
    }
    Some(st.batch)
}

/// The position of `rest` inside `whole` (`rest` is a suffix of it).
fn offset(whole: &[u8], rest: &[u8]) -> usize {
    whole.len() - rest.len()
}

/// Per-request decoding state.
struct State<'a, 'l> {
    batch: BorrowedBatch<'a>,
    limits: &'l Limits,
    now_ms: i64,
    /// The current series' labels, before validation.
    scratch: Vec<(&'a str, &'a str)>,
    index: usize,
    samples_seen: usize,
}

/// Takes one length-delimited payload from the front of `buf`.
fn take_delimited<'a>(buf: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = usize::try_from(decode_varint(buf).ok()?).ok()?;
    if len > buf.len() {
        return None;
    }
    let (msg, rest) = buf.split_at(len);
    *buf = rest;
    Some(msg)
}

impl<'a> State<'a, '_> {
    /// Decodes one `TimeSeries` (`msg`, which starts at `msg_at` in the body) and
    /// admits it or records its rejections.
    fn time_series(&mut self, msg_at: usize, msg: &'a [u8]) -> Option<()> {
        self.scratch.clear();
        let samples_start = self.batch.samples.len();
        let (mut sent_start, mut sent_end) = (usize::MAX, 0);
        let (mut exemplars, mut histograms) = (0, 0);
        let mut buf = msg;
        while !buf.is_empty() {
            let field_at = msg_at + offset(msg, buf);
            let (tag, wire_type) = decode_key(&mut buf).ok()?;
            match tag {
                1 => {
                    check_wire_type(WireType::LengthDelimited, wire_type).ok()?;
                    let label = take_delimited(&mut buf)?;
                    self.scratch.push(parse_label(label)?);
                    sent_start = sent_start.min(field_at);
                    sent_end = msg_at + offset(msg, buf);
                }
                2 => {
                    check_wire_type(WireType::LengthDelimited, wire_type).ok()?;
                    let sample = take_delimited(&mut buf)?;
                    self.batch.samples.push(parse_sample(sample)?);
                }
                3 | 4 => {
                    check_wire_type(WireType::LengthDelimited, wire_type).ok()?;
                    take_delimited(&mut buf)?;
                    if tag == 3 { exemplars += 1 } else { histograms += 1 }
                }
                _ => skip_field(wire_type, tag, &mut buf, DecodeContext::default()).ok()?,
            }
        }
        self.limits.check_series_count(self.index + 1).ok()?;
        self.samples_seen += self.batch.samples.len() - samples_start + histograms;
        self.limits.check_sample_count(self.samples_seen).ok()?;
        self.batch.stats.exemplars_dropped += exemplars;
        let sent = if sent_start == usize::MAX { (0, 0) } else { (sent_start, sent_end) };
        self.admit(samples_start, histograms, sent);
        self.index += 1;
        Some(())
    }

    /// [`Limits::admit`] over borrowed labels, plus the histogram rejection of
    /// `v1`: the same checks, in the same order, with the same rejections.
    fn admit(&mut self, samples_start: usize, histograms: usize, sent: (usize, usize)) {
        let index = self.index;
        let metric = |labels: &[(&str, &str)]| {
            labels.iter().find(|(n, _)| *n == crate::METRIC_NAME_LABEL).map_or("", |(_, v)| *v).to_owned()
        };
        if histograms > 0 {
            self.batch.rejections.push(Rejection {
                index,
                metric: metric(&self.scratch),
                reason: RejectReason::NativeHistogramUnsupported,
                detail: histogram_detail(histograms),
                samples: histograms,
            });
        }
        let n_samples = self.batch.samples.len() - samples_start;
        if n_samples == 0 {
            return;
        }
        if let Err((reason, detail)) = self.limits.check_label_pairs(&mut self.scratch) {
            let metric = metric(&self.scratch);
            self.batch.rejections.push(Rejection { index, metric, reason, detail, samples: n_samples });
            self.batch.samples.truncate(samples_start);
            return;
        }
        let horizon = self.now_ms.saturating_add(self.limits.max_future_ms);
        let series_samples = &self.batch.samples[samples_start..];
        if let Some(bad) = series_samples.iter().find(|s| s.t_ms > horizon).copied() {
            let mut kept = samples_start;
            for i in samples_start..self.batch.samples.len() {
                if self.batch.samples[i].t_ms <= horizon {
                    self.batch.samples[kept] = self.batch.samples[i];
                    kept += 1;
                }
            }
            let dropped = self.batch.samples.len() - kept;
            self.batch.samples.truncate(kept);
            self.batch.rejections.push(Rejection {
                index,
                metric: metric(&self.scratch),
                reason: RejectReason::TooFarInFuture,
                detail: self.limits.future_detail(bad.t_ms, self.now_ms),
                samples: dropped,
            });
        }
        if self.batch.samples.len() == samples_start {
            return;
        }
        let labels_start = self.batch.labels.len();
        self.batch.labels.extend_from_slice(&self.scratch);
        self.batch.series.push(SeriesSpan {
            labels: (labels_start as u32, self.batch.labels.len() as u32),
            samples: (samples_start as u32, self.batch.samples.len() as u32),
            sent: (sent.0 as u32, sent.1 as u32),
        });
    }
}

/// Decodes one `prometheus.Label`; fields as prost merges them (last one wins).
fn parse_label(msg: &[u8]) -> Option<(&str, &str)> {
    let (mut name, mut value) = ("", "");
    let mut buf = msg;
    while !buf.is_empty() {
        let (tag, wire_type) = decode_key(&mut buf).ok()?;
        match tag {
            1 | 2 => {
                check_wire_type(WireType::LengthDelimited, wire_type).ok()?;
                let s = std::str::from_utf8(take_delimited(&mut buf)?).ok()?;
                if tag == 1 { name = s } else { value = s }
            }
            _ => skip_field(wire_type, tag, &mut buf, DecodeContext::default()).ok()?,
        }
    }
    Some((name, value))
}

/// Decodes one `prometheus.Sample`; fields as prost merges them (last one wins).
fn parse_sample(msg: &[u8]) -> Option<Sample> {
    let mut sample = Sample { t_ms: 0, v: 0.0 };
    let mut buf = msg;
    while !buf.is_empty() {
        let (tag, wire_type) = decode_key(&mut buf).ok()?;
        match tag {
            1 => {
                check_wire_type(WireType::SixtyFourBit, wire_type).ok()?;
                let (bits, rest) = buf.split_first_chunk::<8>()?;
                sample.v = f64::from_le_bytes(*bits);
                buf = rest;
            }
            2 => {
                check_wire_type(WireType::Varint, wire_type).ok()?;
                sample.t_ms = decode_varint(&mut buf).ok()? as i64;
            }
            _ => skip_field(wire_type, tag, &mut buf, DecodeContext::default()).ok()?,
        }
    }
    Some(sample)
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::remote_write::proto::{self, Label, TimeSeries, WriteRequest};

    fn ts(labels: &[(&str, &str)], samples: &[i64]) -> TimeSeries {
        TimeSeries {
            labels: labels.iter().map(|(n, v)| Label { name: (*n).to_owned(), value: (*v).to_owned() }).collect(),
            samples: samples.iter().map(|&timestamp| proto::Sample { value: 1.0, timestamp }).collect(),
            exemplars: vec![],
            histograms: vec![],
        }
    }

    #[test]
    fn labels_borrow_sorted_and_sent_bytes_identify_the_sender_encoding() {
        let req = WriteRequest {
            timeseries: vec![
                ts(&[("job", "node"), ("__name__", "up"), ("empty", "")], &[1, 2]),
                ts(&[("__name__", "up"), ("job", "node")], &[3]),
                ts(&[("job", "node"), ("__name__", "up"), ("empty", "")], &[4]),
            ],
            metadata: vec![],
        };
        let bytes = req.encode_to_vec();
        let batch = try_decode(&bytes, &Limits::default(), 10).unwrap();
        let series: Vec<SeriesView<'_>> = batch.series().collect();
        assert_eq!(series.len(), 3);
        for s in &series {
            assert_eq!(s.labels, [("__name__", "up"), ("job", "node")]);
        }
        assert_eq!(series[0].samples.len(), 2);
        assert_eq!(series[0].sent_labels, series[2].sent_labels);
        assert_ne!(series[0].sent_labels, series[1].sent_labels);
        assert_eq!(batch.sample_count(), 4);
    }

    #[test]
    fn refuses_what_the_reference_must_name() {
        assert!(try_decode(&[0x0a, 0x05, 0x01], &Limits::default(), 0).is_none());
        let req = WriteRequest { timeseries: vec![ts(&[("__name__", "a")], &[1]); 3], metadata: vec![] };
        let limits = Limits { max_series_per_request: 2, ..Limits::default() };
        assert!(try_decode(&req.encode_to_vec(), &limits, 0).is_none());
    }
}
