//! Record framing: how one record is laid out in a segment.
//!
//! Every record is a frame of a 9-byte header followed by the payload:
//!
//! ```text
//! offset  size  field
//! 0       4     length   u32 little-endian: payload length in bytes (type byte excluded)
//! 4       4     crc      u32 little-endian: CRC-32C (Castagnoli) of the type byte and the payload
//! 8       1     type     u8 record type; 1 = data record; every other value is invalid
//! 9       len   payload  the caller's bytes, opaque to the WAL
//! ```
//!
//! Frames follow each other without padding. A frame is *valid* when its
//! length is at most the configured maximum record size, the whole frame lies
//! inside the file, the type is known and the CRC matches. Anything else is
//! damage, handled by the [reader](crate::reader).

use crate::error::{Error, Result};

/// Size of a frame header in bytes.
pub const FRAME_HEADER_LEN: usize = 9;

/// Default maximum payload size of one record: 16 MiB.
pub const DEFAULT_MAX_RECORD_SIZE: u32 = 16 << 20;

/// The record type byte of a data record (the only type written today).
pub const RECORD_TYPE_DATA: u8 = 1;

/// The CRC-32C stored in a frame: over the type byte, then the payload.
fn frame_crc(kind: u8, payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&[kind]), payload)
}

/// Returns the encoded size of a frame carrying `payload_len` bytes.
pub fn frame_len(payload_len: usize) -> usize {
    FRAME_HEADER_LEN + payload_len
}

/// Appends the frame for `payload` to `out`.
///
/// Fails with [`Error::RecordTooLarge`] (and leaves `out` untouched) when the
/// payload is longer than `max_record_size` bytes.
pub fn encode(out: &mut Vec<u8>, payload: &[u8], max_record_size: u32) -> Result<()> {
    check_size(payload.len(), max_record_size)?;
    let len = payload.len() as u32;
    out.reserve(frame_len(payload.len()));
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&frame_crc(RECORD_TYPE_DATA, payload).to_le_bytes());
    out.push(RECORD_TYPE_DATA);
    out.extend_from_slice(payload);
    Ok(())
}

/// Fails with [`Error::RecordTooLarge`] if a payload of `size` bytes exceeds
/// `max_record_size`.
pub fn check_size(size: usize, max_record_size: u32) -> Result<()> {
    if size > max_record_size as usize {
        return Err(Error::RecordTooLarge { size, max: max_record_size });
    }
    Ok(())
}

/// The outcome of decoding the bytes at one position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A valid frame; `len` is the whole frame's size in bytes.
    Valid {
        /// The payload, borrowed from the input.
        payload: &'a [u8],
        /// Header plus payload, in bytes.
        len: usize,
    },
    /// The input ends before the frame does (header cut short, or a plausible
    /// length that runs past the end).
    Incomplete,
    /// The bytes are not a frame: absurd length, unknown type, or CRC mismatch.
    Invalid,
}

/// Decodes the frame starting at `buf[pos..]` without allocating.
///
/// Never panics, whatever the bytes: a length field above `max_record_size`
/// is rejected before it is used, so a damaged length cannot cause a large
/// allocation or an out-of-bounds read.
pub fn decode(buf: &[u8], pos: usize, max_record_size: u32) -> Frame<'_> {
    let Some(rest) = buf.get(pos..) else {
        return Frame::Incomplete;
    };
    let Some(header) = rest.get(..FRAME_HEADER_LEN) else {
        return Frame::Incomplete;
    };
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let kind = header[8];
    if len > max_record_size || kind != RECORD_TYPE_DATA {
        return Frame::Invalid;
    }
    let total = frame_len(len as usize);
    let Some(payload) = rest.get(FRAME_HEADER_LEN..total) else {
        return Frame::Incomplete;
    };
    if frame_crc(kind, payload) != crc {
        return Frame::Invalid;
    }
    Frame::Valid { payload, len: total }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(&mut out, payload, DEFAULT_MAX_RECORD_SIZE).unwrap();
        out
    }

    #[test]
    fn round_trips_payloads_of_many_sizes() {
        for size in [0usize, 1, 8, 9, 255, 4096, 70_000] {
            let payload: Vec<u8> = (0..size).map(|i| (i * 31) as u8).collect();
            let buf = encoded(&payload);
            assert_eq!(buf.len(), frame_len(size));
            assert_eq!(decode(&buf, 0, DEFAULT_MAX_RECORD_SIZE), Frame::Valid { payload: &payload, len: buf.len() });
        }
    }

    #[test]
    fn layout_is_length_crc_type_payload() {
        let buf = encoded(b"abc");
        assert_eq!(&buf[0..4], &3u32.to_le_bytes());
        assert_eq!(&buf[4..8], &crc32c::crc32c(b"\x01abc").to_le_bytes());
        assert_eq!(buf[8], RECORD_TYPE_DATA);
        assert_eq!(&buf[9..], b"abc");
    }

    #[test]
    fn rejects_records_over_the_maximum() {
        let mut out = Vec::new();
        let err = encode(&mut out, &[0; 11], 10).unwrap_err();
        assert!(matches!(err, Error::RecordTooLarge { size: 11, max: 10 }));
        assert!(out.is_empty());
        encode(&mut out, &[0; 10], 10).unwrap();
    }

    #[test]
    fn every_prefix_is_incomplete_and_every_bit_flip_is_caught() {
        let buf = encoded(b"hello, wal");
        for cut in 0..buf.len() {
            assert_eq!(decode(&buf[..cut], 0, 1024), Frame::Incomplete, "cut {cut}");
        }
        for bit in 0..buf.len() * 8 {
            let mut bad = buf.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(!matches!(decode(&bad, 0, 1024), Frame::Valid { .. }), "bit {bit}");
        }
    }

    #[test]
    fn absurd_length_is_invalid_without_allocating() {
        let mut buf = encoded(b"x");
        buf[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode(&buf, 0, DEFAULT_MAX_RECORD_SIZE), Frame::Invalid);
        assert_eq!(decode(&buf, buf.len() + 5, 10), Frame::Incomplete);
    }
}
