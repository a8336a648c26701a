//! The column codec of block files: one series' samples as two integer columns.
//!
//! Head chunks favour cheap appends (XOR floats); blocks are written once and read
//! many times, so they spend CPU at write time to save bytes:
//!
//! - **Timestamps** are an integer column, usually delta-of-delta (a regular
//!   scrape interval costs almost nothing).
//! - **Values** that are decimals (`v == m / 10^k` exactly, `|m| < 2^53`, one `k`
//!   for the series) become the integer column of mantissas `m`; values that are
//!   not (NaN, the staleness marker, infinities, `-0.0`) are kept as exceptions
//!   with their exact bits. A series with too many exceptions falls back to XOR
//!   chunks.
//! - **Integer columns** pick the cheapest of raw, delta and delta-of-delta
//!   residuals and bit-pack them in groups of [`GROUP`] with a per-group minimum
//!   and bit width (frame of reference), so a constant run costs two bytes per
//!   group and a counter costs the bits its increments need.
//!
//! Every value round-trips bit-exactly. Decoding validates every length and never
//! panics or allocates more than the input allows; the byte layout is in
//! `docs/storage-format.md`, "Block series data".

use wk_model::Sample;

use crate::chunk::{XorAppender, XorIter};

/// Residuals per bit-packed group.
pub(crate) const GROUP: usize = 128;
/// Largest decimal exponent tried (`10^15` is exact in an `f64`).
const MAX_SCALE: u8 = 15;
/// Mantissas must stay below this to be exact in an `f64`.
const MAX_MANTISSA: f64 = 9_007_199_254_740_992.0; // 2^53
/// Samples per embedded XOR chunk in the fallback encoding.
const XOR_CHUNK: usize = 4096;

/// Value encodings (first byte of the value column).
const VALUES_DECIMAL: u8 = 0;
const VALUES_XOR: u8 = 1;

/// Why a series blob does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The blob ends before a field.
    #[error("series data truncated")]
    Truncated,
    /// A varint runs past 10 bytes.
    #[error("varint too long")]
    VarintOverflow,
    /// A field holds an impossible value.
    #[error("invalid series data: {0}")]
    Invalid(&'static str),
}

type Result<T> = std::result::Result<T, CodecError>;

pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

fn zigzag(x: i64) -> u64 {
    ((x << 1) ^ (x >> 63)) as u64
}

fn unzigzag(x: u64) -> i64 {
    ((x >> 1) as i64) ^ -((x & 1) as i64)
}

pub(crate) fn put_varint(out: &mut Vec<u8>, x: i64) {
    put_uvarint(out, zigzag(x));
}

/// A cursor over untrusted bytes.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        let b = *self.buf.get(self.pos).ok_or(CodecError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    /// The bytes not read yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or(CodecError::Truncated)?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    pub(crate) fn uvarint(&mut self) -> Result<u64> {
        let mut x = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.u8()?;
            if shift == 63 && b > 1 {
                return Err(CodecError::VarintOverflow);
            }
            x |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(x);
            }
        }
        Err(CodecError::VarintOverflow)
    }

    pub(crate) fn varint(&mut self) -> Result<i64> {
        self.uvarint().map(unzigzag)
    }

    /// Reads a count that must not exceed `max` (a bound derived from the input
    /// size, so that no allocation is larger than the input justifies).
    pub(crate) fn count(&mut self, max: usize) -> Result<usize> {
        let n = self.uvarint()?;
        usize::try_from(n).ok().filter(|&n| n <= max).ok_or(CodecError::Invalid("count larger than the data"))
    }
}

/// Appends `width`-bit values to a byte buffer, least significant bit first.
struct BitPacker<'a> {
    out: &'a mut Vec<u8>,
    acc: u128,
    nbits: u32,
}

impl<'a> BitPacker<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        Self { out, acc: 0, nbits: 0 }
    }

    fn push(&mut self, value: u64, width: u32) {
        if width == 0 {
            return;
        }
        self.acc |= u128::from(value) << self.nbits;
        self.nbits += width;
        while self.nbits >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.nbits -= 8;
        }
    }

    fn finish(self) {
        if self.nbits > 0 {
            self.out.push(self.acc as u8);
        }
    }
}

/// Reads `n` `width`-bit values written by [`BitPacker`] from the start of
/// `bytes` (which may run on past them) and appends each plus `min` (wrapping)
/// to `out`.
///
/// Values whose bits lie within a whole little-endian word read from the slice
/// (8 bytes for widths up to 56, 16 above) are taken with one unaligned load
/// and a shift, written in place; the slice usually runs on into the next
/// group, so only the last values of a series' column are assembled byte by
/// byte. Blocks are read a few hundred million values at a time, and this
/// loop was a quarter of a 24 h query's profile (and, when every group's last
/// values went through a zero-padded copy, half of it stalled there).
fn unpack_into(bytes: &[u8], width: u32, n: usize, min: i64, out: &mut Vec<i64>) {
    if width == 0 {
        out.extend(std::iter::repeat_n(min, n));
        return;
    }
    let mask = if width == 64 { u64::MAX } else { (1u64 << width) - 1 };
    let w = width as usize;
    let start = out.len();
    out.resize(start + n, 0);
    let dst = &mut out[start..];
    let word_len = if width <= 56 { 8 } else { 16 };
    let fast = if bytes.len() >= word_len { ((bytes.len() - word_len) * 8 / w + 1).min(n) } else { 0 };
    let mut pos = 0usize;
    if width <= 56 {
        for d in &mut dst[..fast] {
            let byte = pos >> 3;
            let word = u64::from_le_bytes(bytes[byte..byte + 8].try_into().expect("8 bytes"));
            *d = min.wrapping_add(((word >> (pos & 7)) & mask) as i64);
            pos += w;
        }
    } else {
        for d in &mut dst[..fast] {
            let byte = pos >> 3;
            let word = u128::from_le_bytes(bytes[byte..byte + 16].try_into().expect("16 bytes"));
            *d = min.wrapping_add(((word >> (pos & 7)) as u64 & mask) as i64);
            pos += w;
        }
    }
    for d in &mut dst[fast..] {
        let byte = pos >> 3;
        let word =
            bytes.get(byte..).unwrap_or(&[]).iter().take(16).rev().fold(0u128, |acc, &b| acc << 8 | u128::from(b));
        *d = min.wrapping_add(((word >> (pos & 7)) as u64 & mask) as i64);
        pos += w;
    }
}

fn bits_needed(x: u64) -> u32 {
    64 - x.leading_zeros()
}

/// Residuals of `vals` at `order` (0 raw, 1 delta, 2 delta-of-delta), wrapping.
fn residuals(vals: &[i64], order: u8) -> Vec<i64> {
    let mut r = vals.to_vec();
    for _ in 0..order {
        for i in (1..r.len()).rev() {
            r[i] = r[i].wrapping_sub(r[i - 1]);
        }
    }
    r
}

/// Bytes the groups of `res[skip..]` take when bit-packed.
fn packed_cost(res: &[i64], skip: usize) -> usize {
    res.get(skip..).unwrap_or(&[]).chunks(GROUP).map(|g| group_header(g).2 as usize * g.len() / 8 + 3).sum()
}

/// Returns (minimum, zigzagged minimum, width) of a group.
fn group_header(g: &[i64]) -> (i64, u64, u32) {
    let min = g.iter().copied().min().unwrap_or(0);
    let max_off = g.iter().map(|&x| x.wrapping_sub(min) as u64).max().unwrap_or(0);
    (min, zigzag(min), bits_needed(max_off))
}

/// Encodes an integer column of `vals.len()` values (the length is the caller's).
/// Layout: order byte, `order` leading values as zigzag varints, then groups of
/// up to [`GROUP`] residuals: zigzag varint minimum, width byte, packed offsets.
pub(crate) fn encode_ints(vals: &[i64], out: &mut Vec<u8>) {
    let mut best: Option<(usize, u8, Vec<i64>)> = None;
    for order in 0..=2u8 {
        let res = residuals(vals, order);
        let skip = usize::from(order).min(res.len());
        let cost = packed_cost(&res, skip) + skip * 4;
        if best.as_ref().is_none_or(|b| cost < b.0) {
            best = Some((cost, order, res));
        }
    }
    let (_, order, res) = best.expect("three orders tried");
    out.push(order);
    let skip = usize::from(order).min(res.len());
    for &x in &res[..skip] {
        put_varint(out, x);
    }
    for g in res[skip..].chunks(GROUP) {
        let (min, zmin, width) = group_header(g);
        put_uvarint(out, zmin);
        out.push(width as u8);
        let mut p = BitPacker::new(out);
        for &x in g {
            p.push(x.wrapping_sub(min) as u64, width);
        }
        p.finish();
    }
}

/// Decodes an integer column of exactly `n` values into `out` (cleared first).
pub(crate) fn decode_ints(c: &mut Cursor<'_>, n: usize, out: &mut Vec<i64>) -> Result<()> {
    out.clear();
    let order = c.u8()?;
    if order > 2 {
        return Err(CodecError::Invalid("unknown integer column order"));
    }
    let skip = usize::from(order).min(n);
    for _ in 0..skip {
        out.push(c.varint()?);
    }
    let mut left = n - skip;
    while left > 0 {
        let len = left.min(GROUP);
        let min = unzigzag(c.uvarint()?);
        let width = u32::from(c.u8()?);
        if width > 64 {
            return Err(CodecError::Invalid("bit width above 64"));
        }
        // The values are read from the rest of the blob: bytes past them (the
        // next group) let every word load stay whole.
        let rest = c.rest();
        c.bytes((len * width as usize).div_ceil(8))?;
        unpack_into(rest, width, len, min, out);
        left -= len;
    }
    // Undo the differences in one pass: running sums (order 1), or running
    // sums of running sums (order 2), wrapping as the encoder did.
    match order {
        1 => {
            let mut sum = 0i64;
            for v in out.iter_mut() {
                sum = sum.wrapping_add(*v);
                *v = sum;
            }
        }
        2 => {
            let (mut delta, mut sum) = (0i64, 0i64);
            for v in out.iter_mut() {
                delta = delta.wrapping_add(*v);
                sum = sum.wrapping_add(delta);
                *v = sum;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Returns the smallest `k` with `v == m / 10^k` exactly for an integer `m`
/// below 2^53, if any.
fn decimal_scale(v: f64) -> Option<u8> {
    if !v.is_finite() {
        return None;
    }
    (0..=MAX_SCALE).find(|&k| mantissa(v, k).is_some())
}

/// Returns `m` with `m / 10^k == v` bit-exactly, if it exists.
fn mantissa(v: f64, k: u8) -> Option<i64> {
    let scale = 10f64.powi(i32::from(k));
    let m = (v * scale).round();
    if !m.is_finite() || m.abs() >= MAX_MANTISSA {
        return None;
    }
    (from_mantissa(m as i64, scale).to_bits() == v.to_bits()).then_some(m as i64)
}

fn from_mantissa(m: i64, scale: f64) -> f64 {
    if scale == 1.0 { m as f64 } else { m as f64 / scale }
}

/// Encodes one series' samples (ascending, distinct timestamps) as a blob.
/// Layout: sample count (uvarint), the timestamp column, then the value column.
pub fn encode_series(samples: &[Sample], out: &mut Vec<u8>) {
    put_uvarint(out, samples.len() as u64);
    let ts: Vec<i64> = samples.iter().map(|s| s.t).collect();
    encode_ints(&ts, out);
    if !encode_decimal(samples, out) {
        encode_xor(samples, out);
    }
}

/// Tries the decimal encoding; returns false (writing nothing) when too many
/// values are not decimals.
fn encode_decimal(samples: &[Sample], out: &mut Vec<u8>) -> bool {
    let mut scale_k = 0u8;
    let mut exceptions = 0usize;
    for s in samples {
        match decimal_scale(s.v) {
            Some(k) => scale_k = scale_k.max(k),
            None => exceptions += 1,
        }
    }
    if exceptions * 8 > samples.len() {
        return false;
    }
    let mut mantissas = Vec::with_capacity(samples.len());
    let mut special: Vec<(usize, u64)> = Vec::new();
    for (i, s) in samples.iter().enumerate() {
        let m = match mantissa(s.v, scale_k) {
            Some(m) => m,
            None => {
                special.push((i, s.v.to_bits()));
                // Extrapolate linearly so that an exception inside a steady
                // counter leaves its delta-of-delta residuals at zero.
                match mantissas[..] {
                    [.., a, b] => 2i64.wrapping_mul(b).wrapping_sub(a),
                    [.., b] => b,
                    [] => 0,
                }
            }
        };
        mantissas.push(m);
    }
    if special.len() * 8 > samples.len() {
        return false;
    }
    out.push(VALUES_DECIMAL);
    out.push(scale_k);
    put_uvarint(out, special.len() as u64);
    let mut last = 0usize;
    for &(i, bits) in &special {
        put_uvarint(out, (i - last) as u64);
        out.extend_from_slice(&bits.to_le_bytes());
        last = i;
    }
    encode_ints(&mantissas, out);
    true
}

fn encode_xor(samples: &[Sample], out: &mut Vec<u8>) {
    out.push(VALUES_XOR);
    let chunks = samples.chunks(XOR_CHUNK);
    put_uvarint(out, chunks.len() as u64);
    for chunk in chunks {
        let mut app = XorAppender::new();
        for s in chunk {
            app.append(s.t, s.v);
        }
        let bytes = app.finish();
        put_uvarint(out, bytes.len() as u64);
        out.extend_from_slice(&bytes);
    }
}

thread_local! {
    /// The two integer columns of the series being decoded, kept per thread:
    /// a full-scan query decodes a series blob every few microseconds.
    static COLUMNS: std::cell::RefCell<(Vec<i64>, Vec<i64>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// Columns kept between calls at most (a 16 h series at 15 s has 3,840).
const KEEP_COLUMN: usize = 1 << 16;

/// Decodes a blob written by [`encode_series`] into `out` (appended).
pub fn decode_series(blob: &[u8], out: &mut Vec<Sample>) -> Result<()> {
    COLUMNS.with(|cols| match cols.try_borrow_mut() {
        Ok(mut cols) => {
            let (ts, ms) = &mut *cols;
            let got = decode_series_with(blob, out, ts, ms);
            if ts.capacity().max(ms.capacity()) > KEEP_COLUMN {
                *ts = Vec::new();
                *ms = Vec::new();
            }
            got
        }
        Err(_) => decode_series_with(blob, out, &mut Vec::new(), &mut Vec::new()),
    })
}

fn decode_series_with(blob: &[u8], out: &mut Vec<Sample>, ts: &mut Vec<i64>, ms: &mut Vec<i64>) -> Result<()> {
    let mut c = Cursor::new(blob);
    // A group of up to GROUP samples costs at least two header bytes, so the
    // blob's length bounds the count (and every allocation below).
    let n = c.count(blob.len().saturating_mul(GROUP))?;
    decode_ints(&mut c, n, ts)?;
    match c.u8()? {
        VALUES_DECIMAL => {
            let k = c.u8()?;
            if k > MAX_SCALE {
                return Err(CodecError::Invalid("decimal scale above 15"));
            }
            let n_special = c.count(c.remaining() / 9)?;
            let mut special = Vec::with_capacity(n_special);
            let mut at = 0usize;
            for _ in 0..n_special {
                at = at.checked_add(c.count(n)?).filter(|&i| i < n).ok_or(CodecError::Invalid("exception index"))?;
                let bits = u64::from_le_bytes(c.bytes(8)?.try_into().expect("8 bytes"));
                special.push((at, bits));
            }
            decode_ints(&mut c, n, ms)?;
            let scale = 10f64.powi(i32::from(k));
            out.reserve(n);
            let start = out.len();
            out.extend(ts.iter().zip(ms.iter()).map(|(&t, &m)| Sample::new(t, from_mantissa(m, scale))));
            for (i, bits) in special {
                out[start + i].v = f64::from_bits(bits);
            }
        }
        VALUES_XOR => {
            let chunks = c.count(n.max(1))?;
            let start = out.len();
            for _ in 0..chunks {
                let len = c.count(c.remaining())?;
                let bytes = c.bytes(len)?;
                let iter = XorIter::new(bytes).map_err(|_| CodecError::Invalid("embedded XOR chunk"))?;
                for s in iter {
                    let s = s.map_err(|_| CodecError::Invalid("embedded XOR chunk"))?;
                    if out.len() - start >= n {
                        return Err(CodecError::Invalid("more samples than the count"));
                    }
                    out.push(s);
                }
            }
            if out.len() - start != n {
                return Err(CodecError::Invalid("fewer samples than the count"));
            }
            for (s, &t) in out[start..].iter().zip(ts.iter()) {
                if s.t != t {
                    return Err(CodecError::Invalid("XOR chunk timestamps differ from the column"));
                }
            }
        }
        _ => return Err(CodecError::Invalid("unknown value encoding")),
    }
    if !c.is_empty() {
        return Err(CodecError::Invalid("trailing bytes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use wk_model::STALE_NAN;

    use super::*;

    fn round_trip(samples: &[Sample]) -> usize {
        let mut blob = Vec::new();
        encode_series(samples, &mut blob);
        let mut back = Vec::new();
        decode_series(&blob, &mut back).unwrap();
        assert_eq!(back.len(), samples.len());
        for (a, b) in back.iter().zip(samples) {
            assert!(a.bit_eq(b), "{a:?} != {b:?}");
        }
        blob.len()
    }

    #[test]
    fn regular_constant_series_cost_almost_nothing() {
        let samples: Vec<Sample> = (0..480).map(|i| Sample::new(1_000_000 + i * 15_000, 42.0)).collect();
        let bytes = round_trip(&samples);
        assert!(bytes < 40, "{bytes} bytes for a constant series");
    }

    #[test]
    fn decimal_counters_and_specials() {
        let mut samples: Vec<Sample> =
            (0..480).map(|i| Sample::new(i * 15_000 + (i % 3), (123_456 + i * 1501) as f64 / 100.0)).collect();
        samples[7].v = STALE_NAN;
        samples[100].v = -0.0;
        samples[200].v = f64::INFINITY;
        let bytes = round_trip(&samples);
        assert!(bytes < 480, "{bytes}");
        // The decimal path was taken: fewer bytes than XOR would need.
        let mut xor = Vec::new();
        encode_xor(&samples, &mut xor);
        assert!(bytes < xor.len(), "{bytes} vs xor {}", xor.len());
    }

    #[test]
    fn non_decimal_values_fall_back_to_xor() {
        let samples: Vec<Sample> = (0..300).map(|i| Sample::new(i, (i as f64).sqrt() * 1e-300)).collect();
        round_trip(&samples);
        let huge: Vec<Sample> = (0..10).map(|i| Sample::new(i, 1e300 * i as f64)).collect();
        round_trip(&huge);
        round_trip(&[]);
        round_trip(&[Sample::new(i64::MIN, f64::NAN), Sample::new(i64::MAX, f64::MIN_POSITIVE)]);
    }

    fn arb_value() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            (-1_000_000i64..1_000_000).prop_map(|m| m as f64 / 100.0),
            (0i64..1 << 40).prop_map(|m| m as f64),
            Just(STALE_NAN),
            Just(-0.0),
        ]
    }

    proptest! {
        #[test]
        fn packed_values_of_every_width_unpack(
            width in 0u32..=64,
            raw in proptest::collection::vec(any::<u64>(), 0..200),
            min in any::<i64>(),
            tail in proptest::collection::vec(any::<u8>(), 0..20),
        ) {
            let mask = if width == 64 { u64::MAX } else { (1u64 << width) - 1 };
            let vals: Vec<u64> = raw.iter().map(|v| v & mask).collect();
            let mut bytes = Vec::new();
            let mut packer = BitPacker::new(&mut bytes);
            for &v in &vals {
                packer.push(v, width);
            }
            packer.finish();
            prop_assert_eq!(bytes.len(), (vals.len() * width as usize).div_ceil(8));
            let want: Vec<i64> = std::iter::once(7).chain(vals.iter().map(|&v| min.wrapping_add(v as i64))).collect();
            let mut out = vec![7];
            unpack_into(&bytes, width, vals.len(), min, &mut out);
            prop_assert_eq!(&out, &want);
            // Bytes after the values (the next group) change nothing.
            bytes.extend_from_slice(&tail);
            out.truncate(1);
            unpack_into(&bytes, width, vals.len(), min, &mut out);
            prop_assert_eq!(out, want);
        }

        #[test]
        fn any_series_round_trips(
            start in any::<i64>(),
            steps in proptest::collection::vec((1i64..100_000, arb_value()), 0..600),
        ) {
            let mut t = start;
            let samples: Vec<Sample> = steps.iter().map(|&(d, v)| { t = t.wrapping_add(d); Sample::new(t, v) }).collect();
            round_trip(&samples);
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut out = Vec::new();
            let _ = decode_series(&bytes, &mut out);
        }

        #[test]
        fn flipped_bits_never_panic(steps in proptest::collection::vec((1i64..100, arb_value()), 1..200), flip in any::<usize>()) {
            let samples: Vec<Sample> = steps.iter().scan(0i64, |t, &(d, v)| { *t += d; Some(Sample::new(*t, v)) }).collect();
            let mut blob = Vec::new();
            encode_series(&samples, &mut blob);
            let at = flip % (blob.len() * 8);
            blob[at / 8] ^= 1 << (at % 8);
            let mut out = Vec::new();
            let _ = decode_series(&blob, &mut out);
            let _ = decode_series(&blob[..blob.len() / 2], &mut out);
        }
    }
}
