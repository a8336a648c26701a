//! Remote write 2.0: `io.prometheus.write.v2.Request` into a [`Batch`].
//!
//! Labels, help texts and units are references into the request's symbol table.
//! Every reference is checked; one out of range fails the request with an error
//! naming the series, because the payload is malformed. `created_timestamp` is not
//! used yet (no created-timestamp zero injection).

use prost::Message;

use super::proto::{RequestV2, TimeSeriesV2, raw};
use super::{histogram_detail, metric_type};
use crate::batch::{Batch, Metadata, MetricType, RejectReason, Rejection, Sample, Series};
use crate::error::{Error, Result};
use crate::limits::Limits;

/// Decodes an uncompressed `io.prometheus.write.v2.Request`.
///
/// Fails for invalid protobuf, invalid UTF-8 in a symbol, a non-empty symbol table
/// whose first entry is not `""`, an odd number of label references, a reference
/// out of range, or a request over a limit. Per-series problems are rejections, as
/// in [`v1::decode`](super::v1::decode). Metadata is returned once per run of
/// consecutive series with the same metric name and metadata.
pub fn decode(bytes: &[u8], limits: &Limits, now_ms: i64) -> Result<Batch> {
    let request = RequestV2::decode(bytes).map_err(|source| {
        locate_invalid_utf8(bytes).unwrap_or(Error::Protobuf { message: "io.prometheus.write.v2.Request", source })
    })?;
    limits.check_series_count(request.timeseries.len())?;
    let samples = request.timeseries.iter().map(|ts| ts.samples.len() + ts.histograms.len()).sum();
    limits.check_sample_count(samples)?;
    let symbols = decode_symbols(request.symbols)?;

    let mut batch = Batch { series: Vec::with_capacity(request.timeseries.len()), ..Batch::default() };
    for (index, mut ts) in request.timeseries.into_iter().enumerate() {
        batch.stats.exemplars_dropped += ts.exemplars.len();
        let series = decode_series(index, &symbols, &mut ts)?;
        if let Some(metadata) = decode_metadata(index, &symbols, &ts, series.metric_name())?
            && batch.metadata.last() != Some(&metadata)
        {
            batch.metadata.push(metadata);
        }
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
            limits.admit(&mut batch, index, series, now_ms);
        }
    }
    Ok(batch)
}

/// After a failed decode: if the payload is valid protobuf apart from invalid
/// UTF-8 in a symbol, the error naming that symbol.
fn locate_invalid_utf8(bytes: &[u8]) -> Option<Error> {
    let raw = raw::RequestV2::decode(bytes).ok()?;
    let index = raw.symbols.iter().position(|s| std::str::from_utf8(s).is_err())?;
    Some(Error::InvalidUtf8Symbol { index })
}

/// Validates the symbol table.
fn decode_symbols(symbols: Vec<String>) -> Result<Vec<String>> {
    if let Some(first) = symbols.first().filter(|s| !s.is_empty()) {
        return Err(Error::FirstSymbolNotEmpty { first: first.chars().take(64).collect() });
    }
    Ok(symbols)
}

/// Looks up symbol `reference` for `field` of series `series`.
fn symbol<'a>(symbols: &'a [String], series: usize, field: &'static str, reference: u32) -> Result<&'a str> {
    symbols.get(reference as usize).map(String::as_str).ok_or(Error::SymbolRefOutOfRange {
        series,
        field,
        reference,
        symbols: symbols.len(),
    })
}

/// Resolves the labels and takes the samples of one series.
fn decode_series(index: usize, symbols: &[String], ts: &mut TimeSeriesV2) -> Result<Series> {
    if !ts.labels_refs.len().is_multiple_of(2) {
        return Err(Error::OddLabelRefs { series: index, len: ts.labels_refs.len() });
    }
    let labels = ts
        .labels_refs
        .chunks_exact(2)
        .map(|pair| {
            let name = symbol(symbols, index, "label name", pair[0])?;
            let value = symbol(symbols, index, "label value", pair[1])?;
            Ok((name.to_owned(), value.to_owned()))
        })
        .collect::<Result<Vec<_>>>()?;
    // Reuses the decoded vector in place: same size and alignment.
    let samples =
        std::mem::take(&mut ts.samples).into_iter().map(|s| Sample { t_ms: s.timestamp, v: s.value }).collect();
    Ok(Series { labels, samples })
}

/// Resolves the metadata of one series; `None` if the sender sent none.
fn decode_metadata(index: usize, symbols: &[String], ts: &TimeSeriesV2, name: &str) -> Result<Option<Metadata>> {
    let Some(m) = ts.metadata else { return Ok(None) };
    let help = symbol(symbols, index, "help", m.help_ref)?;
    let unit = symbol(symbols, index, "unit", m.unit_ref)?;
    let metric_type = metric_type(m.r#type);
    if metric_type == MetricType::Unknown && help.is_empty() && unit.is_empty() {
        return Ok(None);
    }
    Ok(Some(Metadata {
        metric_family_name: name.to_owned(),
        metric_type,
        help: help.to_owned(),
        unit: unit.to_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote_write::proto::{self, MetadataV2};

    /// Labels and `(timestamp, value)` samples of one test series.
    type TestSeries<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);

    /// Builds a request with an interned symbol table, as a 2.0 sender does.
    pub(crate) fn request(series: &[TestSeries<'_>]) -> RequestV2 {
        let mut symbols = vec![String::new()];
        let mut intern = |s: &str| match symbols.iter().position(|x| x == s) {
            Some(i) => i as u32,
            None => {
                symbols.push(s.to_owned());
                (symbols.len() - 1) as u32
            }
        };
        let timeseries = series
            .iter()
            .map(|(labels, samples)| TimeSeriesV2 {
                labels_refs: labels.iter().flat_map(|(n, v)| [intern(n), intern(v)]).collect(),
                samples: samples.iter().map(|&(timestamp, value)| proto::Sample { value, timestamp }).collect(),
                ..TimeSeriesV2::default()
            })
            .collect();
        RequestV2 { symbols, timeseries }
    }

    fn run(req: &RequestV2) -> Result<Batch> {
        decode(&req.encode_to_vec(), &Limits::default(), 10_000)
    }

    #[test]
    fn golden_series_with_metadata() {
        let mut req = request(&[
            (&[("__name__", "http_requests_total"), ("code", "200")], &[(1000, 10.0)]),
            (&[("__name__", "http_requests_total"), ("code", "500")], &[(1000, 1.0)]),
        ]);
        req.symbols.push("Requests served.".to_owned());
        let help_ref = (req.symbols.len() - 1) as u32;
        for ts in &mut req.timeseries {
            ts.metadata = Some(MetadataV2 { r#type: 1, help_ref, unit_ref: 0 });
        }
        let batch = run(&req).unwrap();
        assert_eq!(batch.series.len(), 2);
        assert_eq!(batch.series[1].labels[1], ("code".to_owned(), "500".to_owned()));
        assert_eq!(batch.series[1].samples, [Sample { t_ms: 1000, v: 1.0 }]);
        assert_eq!(
            batch.metadata,
            [Metadata {
                metric_family_name: "http_requests_total".into(),
                metric_type: MetricType::Counter,
                help: "Requests served.".into(),
                unit: String::new(),
            }]
        );
    }

    #[test]
    fn empty_request_is_valid() {
        assert!(decode(&[], &Limits::default(), 0).unwrap().is_empty());
    }

    #[test]
    fn bad_references_name_the_series() {
        let mut req = request(&[(&[("__name__", "a")], &[(1, 1.0)]), (&[("__name__", "b")], &[(1, 1.0)])]);
        req.timeseries[1].labels_refs[1] = 99;
        let err = run(&req).unwrap_err();
        assert_eq!(
            err.to_string(),
            "series 1: label value reference 99 is out of range (the symbol table has 4 entries)"
        );
        req.timeseries[1].labels_refs.pop();
        assert!(matches!(run(&req).unwrap_err(), Error::OddLabelRefs { series: 1, len: 1 }));
    }

    #[test]
    fn first_symbol_must_be_empty() {
        let mut req = request(&[(&[("__name__", "a")], &[(1, 1.0)])]);
        req.symbols[0] = "oops".to_owned();
        assert!(matches!(run(&req).unwrap_err(), Error::FirstSymbolNotEmpty { .. }));
        req.symbols[0] = "\u{1}\u{2}".to_owned();
        let mut bytes = req.encode_to_vec();
        let at = bytes.windows(2).position(|w| w == [1, 2]).unwrap();
        bytes[at] = 0xff;
        assert!(matches!(decode(&bytes, &Limits::default(), 0).unwrap_err(), Error::InvalidUtf8Symbol { index: 0 }));
    }

    #[test]
    fn histograms_rejected_metadata_ref_checked() {
        let mut req = request(&[(&[("__name__", "h")], &[])]);
        req.timeseries[0].histograms.push(vec![]);
        let batch = run(&req).unwrap();
        assert!(batch.series.is_empty());
        assert_eq!(batch.rejections[0].reason, RejectReason::NativeHistogramUnsupported);
        req.timeseries[0].metadata = Some(MetadataV2 { r#type: 3, help_ref: 42, unit_ref: 0 });
        assert!(matches!(run(&req).unwrap_err(), Error::SymbolRefOutOfRange { field: "help", .. }));
    }
}
