//! The TSDB's records inside WAL frames: new series and samples.
//!
//! Layout (byte by byte in `docs/storage-format.md`, "TSDB WAL records"): a type
//! byte, a format version byte, the writer's epoch (uvarint), an entry count
//! (uvarint), then the entries. Series entries carry `(ref, labels)`; sample
//! entries carry zigzag-varint deltas of ref and timestamp from the previous entry
//! and the value's raw `f64` bits (8 bytes little-endian), so NaN payloads and the
//! staleness marker survive bit-exactly.
//!
//! Decoding never panics and never allocates more than the payload's size allows.

use wk_model::Labels;

/// Format version written into every record.
pub(crate) const FORMAT_VERSION: u8 = 1;
/// Type byte of a series record.
pub(crate) const TYPE_SERIES: u8 = 1;
/// Type byte of a samples record.
pub(crate) const TYPE_SAMPLES: u8 = 2;
/// Type byte of a deletions record.
pub(crate) const TYPE_DELETIONS: u8 = 3;

/// Samples per samples record (about 11 bytes each, so records stay below 1 MiB).
pub(crate) const MAX_SAMPLES_PER_RECORD: usize = 64 * 1024;
/// Payload size after which a series record is closed and another one started.
pub(crate) const SERIES_RECORD_SOFT_LIMIT: usize = 1 << 20;

/// One sample addressed by the writer's series ref.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RefSample {
    pub r: u32,
    pub t: i64,
    pub v: f64,
}

/// A decoded record (owned; tests use it).
#[cfg(test)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum WalRecord {
    /// Series created by epoch `epoch`, with the refs its samples use.
    Series { epoch: u64, series: Vec<(u32, Labels)> },
    /// Samples written by epoch `epoch`.
    Samples { epoch: u64, samples: Vec<RefSample> },
    /// Deleted intervals.
    Deletions { epoch: u64, entries: Vec<Deletion> },
}

/// Why a record does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("record is empty")]
    Empty,
    #[error("unknown record type {0}")]
    UnknownType(u8),
    #[error("unsupported record format version {0}")]
    UnsupportedVersion(u8),
    #[error("record truncated")]
    Truncated,
    #[error("varint too long")]
    VarintOverflow,
    #[error("entry count {0} larger than the record")]
    CountTooLarge(u64),
    #[error("label string is not UTF-8")]
    NotUtf8,
    #[error("invalid label set")]
    InvalidLabels,
    #[error("trailing bytes after the last entry")]
    TrailingBytes,
}

fn put_uvarint(out: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

fn put_varint(out: &mut Vec<u8>, x: i64) {
    put_uvarint(out, ((x << 1) ^ (x >> 63)) as u64);
}

fn put_header(out: &mut Vec<u8>, kind: u8, epoch: u64, count: usize) {
    out.push(kind);
    out.push(FORMAT_VERSION);
    put_uvarint(out, epoch);
    put_uvarint(out, count as u64);
}

/// Appends a series record for `series` to `out` (cleared first).
pub(crate) fn encode_series<'a>(
    out: &mut Vec<u8>,
    epoch: u64,
    series: impl ExactSizeIterator<Item = (u32, &'a Labels)>,
) {
    out.clear();
    put_header(out, TYPE_SERIES, epoch, series.len());
    for (r, labels) in series {
        put_uvarint(out, u64::from(r));
        put_uvarint(out, labels.len() as u64);
        for (name, value) in labels {
            put_uvarint(out, name.len() as u64);
            out.extend_from_slice(name.as_bytes());
            put_uvarint(out, value.len() as u64);
            out.extend_from_slice(value.as_bytes());
        }
    }
}

/// Appends a samples record for `samples` to `out` (cleared first).
pub(crate) fn encode_samples(out: &mut Vec<u8>, epoch: u64, samples: impl ExactSizeIterator<Item = RefSample>) {
    out.clear();
    out.reserve(samples.len() * 11 + 12);
    put_header(out, TYPE_SAMPLES, epoch, samples.len());
    let (mut prev_r, mut prev_t) = (0i64, 0i64);
    for s in samples {
        put_varint(out, i64::from(s.r) - prev_r);
        put_varint(out, s.t.wrapping_sub(prev_t));
        out.extend_from_slice(&s.v.to_bits().to_le_bytes());
        (prev_r, prev_t) = (i64::from(s.r), s.t);
    }
}

/// One deleted interval of a series, inclusive, addressed by the writer's ref.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deletion {
    pub r: u32,
    pub mint: i64,
    pub maxt: i64,
}

/// Appends a deletions record for `entries` to `out` (cleared first).
pub(crate) fn encode_deletions(out: &mut Vec<u8>, epoch: u64, entries: &[Deletion]) {
    out.clear();
    put_header(out, TYPE_DELETIONS, epoch, entries.len());
    for d in entries {
        put_uvarint(out, u64::from(d.r));
        put_varint(out, d.mint);
        put_varint(out, d.maxt);
    }
}

/// A bounds-checked reader over a record's bytes.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self.buf.get(self.pos).ok_or(DecodeError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    fn uvarint(&mut self) -> Result<u64, DecodeError> {
        let mut x = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                return Err(DecodeError::VarintOverflow);
            }
            x |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(x);
            }
        }
        Err(DecodeError::VarintOverflow)
    }

    fn varint(&mut self) -> Result<i64, DecodeError> {
        let u = self.uvarint()?;
        Ok((u >> 1) as i64 ^ -((u & 1) as i64))
    }

    fn bytes(&mut self, n: u64) -> Result<&'a [u8], DecodeError> {
        let n = usize::try_from(n).map_err(|_| DecodeError::Truncated)?;
        if n > self.remaining() {
            return Err(DecodeError::Truncated);
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn str(&mut self) -> Result<&'a str, DecodeError> {
        let len = self.uvarint()?;
        std::str::from_utf8(self.bytes(len)?).map_err(|_| DecodeError::NotUtf8)
    }

    /// Reads an entry count and checks that `min_entry` bytes per entry fit.
    fn count(&mut self, min_entry: usize) -> Result<usize, DecodeError> {
        let n = self.uvarint()?;
        match usize::try_from(n) {
            Ok(c) if c.saturating_mul(min_entry) <= self.remaining() => Ok(c),
            _ => Err(DecodeError::CountTooLarge(n)),
        }
    }
}

/// Returns the type byte, epoch and a reader positioned at the entry count.
fn header(payload: &[u8]) -> Result<(u8, u64, Reader<'_>), DecodeError> {
    let mut r = Reader { buf: payload, pos: 0 };
    let kind = r.byte().map_err(|_| DecodeError::Empty)?;
    if !matches!(kind, TYPE_SERIES | TYPE_SAMPLES | TYPE_DELETIONS) {
        return Err(DecodeError::UnknownType(kind));
    }
    let version = r.byte()?;
    if version != FORMAT_VERSION {
        return Err(DecodeError::UnsupportedVersion(version));
    }
    let epoch = r.uvarint()?;
    Ok((kind, epoch, r))
}

fn decode_series_entries(r: &mut Reader<'_>) -> Result<Vec<(u32, Labels)>, DecodeError> {
    let count = r.count(2)?;
    let mut series = Vec::with_capacity(count);
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for _ in 0..count {
        let sref = u32::try_from(r.uvarint()?).map_err(|_| DecodeError::VarintOverflow)?;
        let n = r.count(2)?;
        pairs.clear();
        for _ in 0..n {
            pairs.push((r.str()?, r.str()?));
        }
        let labels = Labels::from_pairs(pairs.iter().copied()).map_err(|_| DecodeError::InvalidLabels)?;
        if labels.is_empty() || labels.len() != n {
            return Err(DecodeError::InvalidLabels);
        }
        series.push((sref, labels));
    }
    Ok(series)
}

/// Decodes the samples of a samples record into `out` (cleared first).
fn decode_sample_entries(r: &mut Reader<'_>, out: &mut Vec<RefSample>) -> Result<(), DecodeError> {
    out.clear();
    let count = r.count(10)?;
    out.reserve(count);
    let (mut prev_r, mut prev_t) = (0i64, 0i64);
    for _ in 0..count {
        let sref = prev_r.checked_add(r.varint()?).ok_or(DecodeError::VarintOverflow)?;
        let t = prev_t.wrapping_add(r.varint()?);
        let bits: [u8; 8] = r.bytes(8)?.try_into().map_err(|_| DecodeError::Truncated)?;
        let r32 = u32::try_from(sref).map_err(|_| DecodeError::VarintOverflow)?;
        out.push(RefSample { r: r32, t, v: f64::from_bits(u64::from_le_bytes(bits)) });
        (prev_r, prev_t) = (sref, t);
    }
    Ok(())
}

/// What [`decode_into`] found; samples are left in the caller's buffer.
#[derive(Debug, PartialEq)]
pub(crate) enum Decoded {
    Series { epoch: u64, series: Vec<(u32, Labels)> },
    Samples { epoch: u64 },
    Deletions { epoch: u64, entries: Vec<Deletion> },
}

fn decode_deletion_entries(r: &mut Reader<'_>) -> Result<Vec<Deletion>, DecodeError> {
    let count = r.count(3)?;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let id = u32::try_from(r.uvarint()?).map_err(|_| DecodeError::InvalidLabels)?;
        let (mint, maxt) = (r.varint()?, r.varint()?);
        out.push(Deletion { r: id, mint, maxt });
    }
    Ok(out)
}

/// Decodes one record, reusing `samples` for a samples record's entries so that
/// replay does not allocate per record.
pub(crate) fn decode_into(payload: &[u8], samples: &mut Vec<RefSample>) -> Result<Decoded, DecodeError> {
    let (kind, epoch, mut r) = header(payload)?;
    let decoded = if kind == TYPE_SERIES {
        Decoded::Series { epoch, series: decode_series_entries(&mut r)? }
    } else if kind == TYPE_DELETIONS {
        Decoded::Deletions { epoch, entries: decode_deletion_entries(&mut r)? }
    } else {
        decode_sample_entries(&mut r, samples)?;
        Decoded::Samples { epoch }
    };
    if r.remaining() != 0 {
        return Err(DecodeError::TrailingBytes);
    }
    Ok(decoded)
}

/// Decodes one record into an owned [`WalRecord`].
#[cfg(test)]
pub(crate) fn decode(payload: &[u8]) -> Result<WalRecord, DecodeError> {
    let mut samples = Vec::new();
    Ok(match decode_into(payload, &mut samples)? {
        Decoded::Series { epoch, series } => WalRecord::Series { epoch, series },
        Decoded::Samples { epoch } => WalRecord::Samples { epoch, samples },
        Decoded::Deletions { epoch, entries } => WalRecord::Deletions { epoch, entries },
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use wk_model::STALE_NAN;

    use super::*;

    fn samples_record(epoch: u64, samples: &[RefSample]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_samples(&mut out, epoch, samples.iter().copied());
        out
    }

    fn same_bits(a: &[RefSample], b: &[RefSample]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.r == y.r && x.t == y.t && x.v.to_bits() == y.v.to_bits())
    }

    #[test]
    fn stale_nan_and_nan_payloads_survive() {
        let samples = [
            RefSample { r: 3, t: 1000, v: STALE_NAN },
            RefSample { r: 0, t: -5, v: f64::from_bits(0x7ff8_dead_beef_0001) },
            RefSample { r: u32::MAX, t: i64::MIN, v: -0.0 },
            RefSample { r: 1, t: i64::MAX, v: f64::INFINITY },
        ];
        let mut out = Vec::new();
        let rec = samples_record(7, &samples);
        assert_eq!(decode_into(&rec, &mut out), Ok(Decoded::Samples { epoch: 7 }));
        assert!(same_bits(&out, &samples));
    }

    #[test]
    fn series_round_trip_and_exact_bytes() {
        let labels = Labels::from_pairs([("__name__", "up"), ("job", "a")]).unwrap();
        let mut out = Vec::new();
        encode_series(&mut out, 2, [(5u32, &labels)].into_iter());
        let mut want = vec![TYPE_SERIES, FORMAT_VERSION, 2, 1, 5, 2, 8];
        want.extend_from_slice(b"__name__");
        want.extend_from_slice(&[2, b'u', b'p', 3, b'j', b'o', b'b', 1, b'a']);
        assert_eq!(out, want);
        assert_eq!(decode(&out), Ok(WalRecord::Series { epoch: 2, series: vec![(5, labels)] }));
    }

    #[test]
    fn garbage_is_rejected() {
        assert_eq!(decode(&[]), Err(DecodeError::Empty));
        assert_eq!(decode(&[9, 1]), Err(DecodeError::UnknownType(9)));
        assert_eq!(decode(&[TYPE_SAMPLES, 2, 0, 0]), Err(DecodeError::UnsupportedVersion(2)));
        assert_eq!(decode(&[TYPE_SAMPLES, 1, 0, 0xff, 0xff, 0xff, 0x0f]), Err(DecodeError::CountTooLarge(0x1ff_ffff)));
        assert_eq!(decode(&[TYPE_SAMPLES, 1, 0, 0, 0]), Err(DecodeError::TrailingBytes));
        let empty_labels = [TYPE_SERIES, 1, 0, 1, 0, 0];
        assert_eq!(decode(&empty_labels), Err(DecodeError::InvalidLabels));
    }

    fn arb_labels() -> impl Strategy<Value = Labels> {
        proptest::collection::btree_map("[a-z_][a-z0-9_]{0,8}", "\\PC{1,12}", 1..6)
            .prop_map(|m| Labels::from_pairs(m.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap())
    }

    proptest! {
        #[test]
        fn samples_round_trip(epoch: u64, raw in proptest::collection::vec((any::<u32>(), any::<i64>(), any::<u64>()), 0..200)) {
            let samples: Vec<RefSample> = raw.iter().map(|&(r, t, b)| RefSample { r, t, v: f64::from_bits(b) }).collect();
            let mut out = Vec::new();
            prop_assert_eq!(decode_into(&samples_record(epoch, &samples), &mut out), Ok(Decoded::Samples { epoch }));
            prop_assert!(same_bits(&out, &samples));
        }

        #[test]
        fn series_round_trip(epoch: u64, series in proptest::collection::vec((any::<u32>(), arb_labels()), 0..20)) {
            let mut out = Vec::new();
            encode_series(&mut out, epoch, series.iter().map(|(r, l)| (*r, l)));
            prop_assert_eq!(decode(&out), Ok(WalRecord::Series { epoch, series }));
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn damaged_records_never_panic(epoch: u64, n in 1usize..50, flip in any::<(usize, u8)>(), cut in any::<usize>()) {
            let samples: Vec<RefSample> = (0..n).map(|i| RefSample { r: i as u32, t: i as i64 * 15_000, v: i as f64 }).collect();
            let mut rec = samples_record(epoch, &samples);
            let i = flip.0 % rec.len();
            rec[i] ^= flip.1;
            let _ = decode(&rec);
            rec.truncate(cut % rec.len());
            let _ = decode(&rec);
        }
    }
}
