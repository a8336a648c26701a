//! The XOR chunk: Gorilla-style compression of float samples.
//!
//! Layout: a 2-byte big-endian sample count, then a bit stream. The first sample is a
//! zigzag varint timestamp and the 64 raw value bits; the second a zigzag varint
//! timestamp delta and an XOR-coded value; every later one a delta-of-delta timestamp
//! in one of five widths (`0`, `10`+14 bits, `110`+17, `1110`+20, `1111`+64) and an
//! XOR-coded value (`0` same bits; `10` + meaningful bits inside the previous
//! window; `11` + 5-bit leading zeros + 6-bit length + bits). Timestamp arithmetic
//! wraps, so any `i64` sequence round-trips; values round-trip bit-exactly (NaN
//! payloads, the staleness marker, `-0.0`).

use wk_model::Sample;

use super::bits::{BitReader, BitWriter};
use crate::TsdbError;

const NO_WINDOW: u8 = 0xff;

/// Builds one XOR chunk by appending samples; owns the growing byte buffer.
#[derive(Debug, Clone)]
pub struct XorAppender {
    w: BitWriter,
    count: u16,
    leading: u8,
    trailing: u8,
    t: i64,
    t_delta: i64,
    v: u64,
}

impl Default for XorAppender {
    fn default() -> Self {
        Self::new()
    }
}

impl XorAppender {
    /// Creates an empty chunk.
    pub fn new() -> Self {
        Self::with_writer(BitWriter::with_header(&[0, 0]))
    }

    /// Creates an empty chunk with room for `bytes` bytes (header included)
    /// before its buffer grows: a series' next chunk is usually about as large
    /// as its last one, and one allocation up front replaces a dozen small
    /// reallocations.
    pub fn with_capacity(bytes: usize) -> Self {
        Self::with_writer(BitWriter::with_header_and_capacity(&[0, 0], bytes))
    }

    fn with_writer(w: BitWriter) -> Self {
        Self { w, count: 0, leading: NO_WINDOW, trailing: 0, t: 0, t_delta: 0, v: 0 }
    }

    /// Returns the number of samples appended.
    pub fn count(&self) -> u16 {
        self.count
    }

    /// Returns the last appended timestamp and value bits, if any.
    pub fn last(&self) -> Option<(i64, u64)> {
        (self.count > 0).then_some((self.t, self.v))
    }

    /// Returns the encoded chunk so far; it decodes with [`XorIter`].
    pub fn bytes(&self) -> &[u8] {
        self.w.bytes()
    }

    /// Returns the heap bytes owned, including spare capacity.
    pub fn heap_bytes(&self) -> usize {
        self.w.capacity()
    }

    /// Consumes the appender, returning the chunk bytes without spare capacity.
    pub fn finish(self) -> Box<[u8]> {
        self.w.into_boxed()
    }

    /// Appends a sample. The codec accepts any timestamp order; the head only
    /// appends increasing timestamps. Panics if the chunk already holds `u16::MAX`
    /// samples (an internal invariant: the head cuts chunks far earlier).
    pub fn append(&mut self, t: i64, v: f64) {
        let bits = v.to_bits();
        match self.count {
            0 => {
                write_varint(&mut self.w, zigzag(t));
                self.w.write_bits(bits, 64);
            }
            1 => {
                self.t_delta = t.wrapping_sub(self.t);
                write_varint(&mut self.w, zigzag(self.t_delta));
                self.write_value(bits);
            }
            _ => {
                let delta = t.wrapping_sub(self.t);
                self.write_dod(delta.wrapping_sub(self.t_delta));
                self.t_delta = delta;
                self.write_value(bits);
            }
        }
        self.t = t;
        self.v = bits;
        self.count = self.count.checked_add(1).expect("chunk sample count overflow");
        self.w.bytes_mut()[..2].copy_from_slice(&self.count.to_be_bytes());
    }

    fn write_dod(&mut self, dod: i64) {
        if dod == 0 {
            self.w.write_bit(false);
            return;
        }
        for (prefix, prefix_len, nbits) in [(0b10u64, 2, 14), (0b110, 3, 17), (0b1110, 4, 20)] {
            if fits(dod, nbits) {
                let payload = (dod as u64) & ((1u64 << nbits) - 1);
                self.w.write_bits((prefix << nbits) | payload, prefix_len + nbits);
                return;
            }
        }
        self.w.write_bits(0b1111, 4);
        self.w.write_bits(dod as u64, 64);
    }

    fn write_value(&mut self, bits: u64) {
        let x = bits ^ self.v;
        if x == 0 {
            self.w.write_bit(false);
            return;
        }
        let leading = (x.leading_zeros() as u8).min(31);
        let trailing = x.trailing_zeros() as u8;
        if self.leading != NO_WINDOW && leading >= self.leading && trailing >= self.trailing {
            let sig = 64 - u32::from(self.leading) - u32::from(self.trailing);
            if sig <= 62 {
                // `10` and the meaningful bits in one write.
                self.w.write_bits((0b10 << sig) | (x >> self.trailing), 2 + sig);
            } else {
                self.w.write_bits(0b10, 2);
                self.w.write_bits(x >> self.trailing, sig);
            }
            return;
        }
        self.leading = leading;
        self.trailing = trailing;
        let sig = 64 - u32::from(leading) - u32::from(trailing);
        // `11`, 5 bits of leading zeros and 6 bits of length in one write.
        let header = (0b11 << 11) | (u64::from(leading) << 6) | (u64::from(sig) & 0x3f);
        self.w.write_bits(header, 13);
        self.w.write_bits(x >> trailing, sig);
    }
}

/// Returns true when `x` fits the `nbits` delta-of-delta bucket (Prometheus's range:
/// `-(2^(n-1) - 1) ..= 2^(n-1)`).
fn fits(x: i64, nbits: u32) -> bool {
    let half = 1i64 << (nbits - 1);
    -(half - 1) <= x && x <= half
}

fn zigzag(x: i64) -> u64 {
    ((x << 1) ^ (x >> 63)) as u64
}

fn unzigzag(x: u64) -> i64 {
    ((x >> 1) as i64) ^ -((x & 1) as i64)
}

fn write_varint(w: &mut BitWriter, mut x: u64) {
    while x >= 0x80 {
        w.write_byte((x as u8) | 0x80);
        x >>= 7;
    }
    w.write_byte(x as u8);
}

fn read_varint(r: &mut BitReader<'_>) -> Result<u64, TsdbError> {
    let mut out = 0u64;
    for shift in (0..64).step_by(7) {
        let b = r.read_bits(8)?;
        if shift == 63 && b > 1 {
            return Err(r.corrupt("varint overflows 64 bits"));
        }
        out |= (b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(out);
        }
    }
    Err(r.corrupt("varint longer than 10 bytes"))
}

/// Decodes an XOR chunk, yielding samples in stored order. Borrowing the bytes;
/// the first error ends the iteration and is yielded once.
#[derive(Debug, Clone)]
pub struct XorIter<'a> {
    r: BitReader<'a>,
    remaining: u16,
    read: u16,
    leading: u8,
    trailing: u8,
    t: i64,
    t_delta: i64,
    v: u64,
    failed: bool,
}

impl<'a> XorIter<'a> {
    /// Starts decoding `chunk`; fails when it is shorter than its header.
    pub fn new(chunk: &'a [u8]) -> Result<Self, TsdbError> {
        let Some(header) = chunk.get(..2) else {
            return Err(TsdbError::CorruptChunk { detail: "chunk shorter than its header", bit_offset: 0 });
        };
        Ok(Self {
            remaining: u16::from_be_bytes([header[0], header[1]]),
            r: BitReader::new(&chunk[2..]),
            read: 0,
            leading: NO_WINDOW,
            trailing: 0,
            t: 0,
            t_delta: 0,
            v: 0,
            failed: false,
        })
    }

    /// Returns the number of samples the header announces.
    pub fn len_hint(&self) -> usize {
        usize::from(self.remaining) + usize::from(self.read)
    }

    /// Decodes the remaining samples, appending those with `mint <= t <=
    /// maxt` to `out` and stopping at the first past `maxt` (a chunk's
    /// timestamps increase). On an error `out` may hold part of the chunk.
    pub fn append_range(mut self, mint: i64, maxt: i64, out: &mut Vec<Sample>) -> Result<(), TsdbError> {
        while self.remaining > 0 {
            let s = self.decode()?;
            self.remaining -= 1;
            self.read += 1;
            if s.t > maxt {
                break;
            }
            if mint <= s.t {
                out.push(s);
            }
        }
        Ok(())
    }

    #[inline]
    fn decode(&mut self) -> Result<Sample, TsdbError> {
        match self.read {
            0 => {
                self.t = unzigzag(read_varint(&mut self.r)?);
                self.v = self.r.read_bits(64)?;
            }
            1 => {
                self.t_delta = unzigzag(read_varint(&mut self.r)?);
                self.t = self.t.wrapping_add(self.t_delta);
                self.read_value()?;
            }
            _ => {
                let dod = self.read_dod()?;
                self.t_delta = self.t_delta.wrapping_add(dod);
                self.t = self.t.wrapping_add(self.t_delta);
                self.read_value()?;
            }
        }
        Ok(Sample::new(self.t, f64::from_bits(self.v)))
    }

    #[inline]
    fn read_dod(&mut self) -> Result<i64, TsdbError> {
        let mut prefix = 0;
        while prefix < 4 && self.r.read_bit()? {
            prefix += 1;
        }
        let nbits = match prefix {
            0 => return Ok(0),
            1 => 14,
            2 => 17,
            3 => 20,
            _ => return Ok(self.r.read_bits(64)? as i64),
        };
        let raw = self.r.read_bits(nbits)? as i64;
        let half = 1i64 << (nbits - 1);
        Ok(if raw > half { raw - (1i64 << nbits) } else { raw })
    }

    #[inline]
    fn read_value(&mut self) -> Result<(), TsdbError> {
        if !self.r.read_bit()? {
            return Ok(());
        }
        if self.r.read_bit()? {
            let leading = self.r.read_bits(5)? as u8;
            let sig = match self.r.read_bits(6)? as u8 {
                0 => 64,
                n => n,
            };
            if u32::from(leading) + u32::from(sig) > 64 {
                return Err(self.r.corrupt("xor window wider than 64 bits"));
            }
            self.leading = leading;
            self.trailing = 64 - leading - sig;
        } else if self.leading == NO_WINDOW {
            return Err(self.r.corrupt("xor window reused before it was set"));
        }
        let sig = 64 - u32::from(self.leading) - u32::from(self.trailing);
        let bits = self.r.read_bits(sig)?;
        self.v ^= bits << self.trailing;
        Ok(())
    }
}

impl Iterator for XorIter<'_> {
    type Item = Result<Sample, TsdbError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 || self.failed {
            return None;
        }
        let item = self.decode();
        self.remaining -= 1;
        self.read += 1;
        self.failed = item.is_err();
        Some(item)
    }
}

#[cfg(test)]
mod tests;
