//! Bit-level writer and reader, most significant bit first.

use crate::TsdbError;

/// Appends bits to an owned byte buffer, most significant bit first.
#[derive(Debug, Clone, Default)]
pub struct BitWriter {
    buf: Vec<u8>,
    /// Unused low bits in the last byte (0 when a new byte is needed).
    free: u8,
}

impl BitWriter {
    /// Creates a writer whose buffer starts with `header` (byte-aligned).
    pub fn with_header(header: &[u8]) -> Self {
        Self::with_header_and_capacity(header, header.len() + 14)
    }

    /// Creates a writer whose buffer starts with `header` and has room for
    /// `capacity` bytes in all before it grows.
    pub fn with_header_and_capacity(header: &[u8], capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity.max(header.len()));
        buf.extend_from_slice(header);
        Self { buf, free: 0 }
    }

    /// Writes one bit.
    pub fn write_bit(&mut self, bit: bool) {
        self.write_bits(u64::from(bit), 1);
    }

    /// Writes the low `nbits` (at most 64) of `value`, most significant first:
    /// the free low bits of the last byte first, then whole bytes, then the rest.
    #[inline]
    pub fn write_bits(&mut self, value: u64, nbits: u32) {
        debug_assert!(nbits <= 64);
        if nbits == 0 {
            return;
        }
        let mut left = nbits;
        if self.free > 0 {
            let free = u32::from(self.free);
            let take = left.min(free);
            let bits = (value >> (left - take)) & ((1u64 << take) - 1);
            let last = self.buf.last_mut().expect("free bits imply a last byte");
            *last |= (bits as u8) << (free - take);
            self.free -= take as u8;
            left -= take;
        }
        if left == 0 {
            return;
        }
        self.grow_for(left.div_ceil(8) as usize);
        while left >= 8 {
            left -= 8;
            self.buf.push((value >> left) as u8);
        }
        if left > 0 {
            self.buf.push(((value << (8 - left)) as u8) & !((1u8 << (8 - left)) - 1));
            self.free = (8 - left) as u8;
        }
    }

    /// Writes a byte-sized group of bits (not necessarily aligned).
    pub fn write_byte(&mut self, b: u8) {
        self.write_bits(u64::from(b), 8);
    }

    /// Grows capacity by about a quarter instead of doubling, to keep the slack of
    /// many small open chunks low.
    fn grow_for(&mut self, bytes: usize) {
        if self.buf.capacity() - self.buf.len() < bytes {
            let extra = (self.buf.len() / 4).max(16).max(bytes);
            self.buf.reserve_exact(extra);
        }
    }

    /// Returns the bytes written so far (the last byte may be partial).
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Returns the bytes for in-place header updates.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    /// Returns the heap bytes owned.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Consumes the writer, returning its bytes without spare capacity.
    pub fn into_boxed(self) -> Box<[u8]> {
        self.buf.into_boxed_slice()
    }
}

/// Reads bits from a byte slice through a 64-bit register refilled a byte at a
/// time; every read is bounds-checked and fails with [`TsdbError::CorruptChunk`]
/// past the end.
#[derive(Debug, Clone)]
pub struct BitReader<'a> {
    data: &'a [u8],
    /// Next byte of `data` to load into `buf`.
    next: usize,
    /// Unread bits, left-aligned (most significant first).
    buf: u64,
    /// Number of unread bits in `buf`.
    valid: u32,
}

impl<'a> BitReader<'a> {
    /// Creates a reader positioned at bit 0 of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, next: 0, buf: 0, valid: 0 }
    }

    /// Returns the current bit position.
    pub fn position(&self) -> usize {
        self.next * 8 - self.valid as usize
    }

    /// Returns a corruption error at the current position.
    pub fn corrupt(&self, detail: &'static str) -> TsdbError {
        TsdbError::CorruptChunk { detail, bit_offset: self.position() }
    }

    /// Reads one bit.
    #[inline]
    pub fn read_bit(&mut self) -> Result<bool, TsdbError> {
        Ok(self.read_bits(1)? == 1)
    }

    #[inline]
    fn refill(&mut self) {
        while self.valid <= 56 && self.next < self.data.len() {
            self.buf |= u64::from(self.data[self.next]) << (56 - self.valid);
            self.valid += 8;
            self.next += 1;
        }
    }

    /// Reads `nbits` (at most 64) bits as the low bits of a `u64`.
    #[inline]
    pub fn read_bits(&mut self, nbits: u32) -> Result<u64, TsdbError> {
        if nbits == 0 {
            return Ok(0);
        }
        if nbits > 64 {
            return Err(self.corrupt("bit read wider than 64"));
        }
        if nbits > self.valid {
            self.refill();
            if nbits > self.valid {
                if nbits > 56 && self.next < self.data.len() {
                    // The register holds at least 57 bits here; split the read.
                    let high = self.read_bits(32)?;
                    let low = self.read_bits(nbits - 32)?;
                    return Ok((high << (nbits - 32)) | low);
                }
                return Err(self.corrupt("unexpected end of chunk"));
            }
        }
        let out = self.buf >> (64 - nbits);
        self.buf = self.buf.checked_shl(nbits).unwrap_or(0);
        self.valid -= nbits;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_mixed_widths() {
        let mut w = BitWriter::with_header(&[0xAB]);
        let items = [(1u64, 1u32), (0b101, 3), (u64::MAX, 64), (0x1234, 14), (0, 5), (7, 3)];
        for (v, n) in items {
            w.write_bits(v, n);
        }
        let bytes = w.bytes().to_vec();
        let mut r = BitReader::new(&bytes);
        assert_eq!(r.read_bits(8).unwrap(), 0xAB);
        for (v, n) in items {
            let mask = if n == 64 { u64::MAX } else { (1 << n) - 1 };
            assert_eq!(r.read_bits(n).unwrap(), v & mask);
        }
        assert!(r.read_bits(9).is_err());
    }
}
