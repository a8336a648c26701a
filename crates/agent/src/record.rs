//! The records of the agent's queue: one per committed batch, self-contained so that
//! replay after a restart needs no other state.
//!
//! ```text
//! offset  size  field
//! 0       1     kind      1 = a batch of series with their samples
//! 1       4     samples   u32 little-endian: samples in the batch (counted without decoding)
//! 5       n     body      snappy block format of a protobuf prometheus.WriteRequest
//!                         (remote_write 1.0): every series with its full label set
//! ```
//!
//! Label sets are repeated in every record, which costs bytes but makes each record
//! decodable alone: deleting old segments can never orphan a series. Snappy makes
//! the repetition cheap, since a scrape's series share names and target labels.

use prost::Message;
use wk_ingest::remote_write::proto::{Label, Sample, TimeSeries, WriteRequest};

/// The kind byte of a batch record.
pub const KIND_BATCH: u8 = 1;

/// Why a record could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The record is empty or of a kind this build does not know.
    #[error("unknown queue record kind {0:?}")]
    UnknownKind(Option<u8>),
    /// The snappy block is damaged.
    #[error("queue record: snappy: {0}")]
    Snappy(String),
    /// The protobuf message is damaged.
    #[error("queue record: protobuf: {0}")]
    Protobuf(String),
}

/// Encodes `series` as one queue record.
pub fn encode(series: Vec<TimeSeries>) -> Vec<u8> {
    let samples = u32::try_from(sample_count(&series)).unwrap_or(u32::MAX);
    let request = WriteRequest { timeseries: series, metadata: Vec::new() };
    let raw = request.encode_to_vec();
    let mut out = vec![0u8; HEADER_LEN + snap::raw::max_compress_len(raw.len())];
    out[0] = KIND_BATCH;
    out[1..HEADER_LEN].copy_from_slice(&samples.to_le_bytes());
    // Compression into a buffer of max_compress_len cannot fail.
    let n = snap::raw::Encoder::new()
        .compress(&raw, &mut out[HEADER_LEN..])
        .expect("snappy buffer sized by max_compress_len");
    out.truncate(HEADER_LEN + n);
    out
}

/// Bytes before the snappy body.
const HEADER_LEN: usize = 5;

/// The sample count a record declares, without decoding it; 0 for a damaged one.
pub fn declared_samples(record: &[u8]) -> u64 {
    match record.get(..HEADER_LEN) {
        Some([KIND_BATCH, a, b, c, d]) => u64::from(u32::from_le_bytes([*a, *b, *c, *d])),
        _ => 0,
    }
}

/// Decodes a queue record into its series.
pub fn decode(record: &[u8]) -> Result<Vec<TimeSeries>, RecordError> {
    match record.first() {
        Some(&KIND_BATCH) if record.len() >= HEADER_LEN => {}
        other => return Err(RecordError::UnknownKind(other.copied())),
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(&record[HEADER_LEN..])
        .map_err(|e| RecordError::Snappy(e.to_string()))?;
    let request = WriteRequest::decode(raw.as_slice()).map_err(|e| RecordError::Protobuf(e.to_string()))?;
    Ok(request.timeseries)
}

/// Counts the samples of decoded series.
pub fn sample_count(series: &[TimeSeries]) -> u64 {
    series.iter().map(|s| s.samples.len() as u64).sum()
}

/// Builds one series from `(name, value)` labels and `(t, v)` samples.
pub fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: labels.iter().map(|(n, v)| Label { name: (*n).to_owned(), value: (*v).to_owned() }).collect(),
        samples: samples.iter().map(|&(timestamp, value)| Sample { value, timestamp }).collect(),
        exemplars: Vec::new(),
        histograms: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_labels_samples_and_nan_bits() {
        let stale = f64::from_bits(wk_model::STALE_NAN_BITS);
        let input = vec![series(&[("__name__", "up"), ("job", "a")], &[(1, 1.0), (2, stale)])];
        let back = decode(&encode(input.clone())).unwrap();
        assert_eq!(back[0].labels, input[0].labels);
        assert_eq!(back[0].samples[1].value.to_bits(), wk_model::STALE_NAN_BITS);
        assert_eq!(sample_count(&back), 2);
        assert_eq!(declared_samples(&encode(input)), 2);
    }

    #[test]
    fn damage_is_an_error_not_a_panic() {
        let good = encode(vec![series(&[("__name__", "x")], &[(1, 2.0)])]);
        assert_eq!(decode(&[]), Err(RecordError::UnknownKind(None)));
        assert_eq!(decode(&[9, 1, 2]), Err(RecordError::UnknownKind(Some(9))));
        assert!(matches!(decode(&good[..good.len() / 2]), Err(RecordError::Snappy(_))));
        for i in 1..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x5a;
            let _ = decode(&bad);
        }
    }
}
