//! Segment files: naming, the file header, listing and creation.
//!
//! A WAL directory holds numbered segment files named by their number in
//! eight (or more) decimal digits: `00000001`, `00000002`, … Numbers only
//! grow; a gap can only come from [`truncate_before`](crate::Wal::truncate_before).
//!
//! Each segment starts with a 12-byte header:
//!
//! ```text
//! offset  size  field
//! 0       4     magic     b"WKWL"
//! 4       1     version   format version, currently 1
//! 5       3     reserved  zero
//! 8       4     crc       u32 little-endian CRC-32C of bytes 0..8
//! ```
//!
//! Record frames (see [`record`](crate::record)) follow the header.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::fs::{WalFile, WalFs};

/// The magic bytes at the start of every segment file.
pub const SEGMENT_MAGIC: [u8; 4] = *b"WKWL";

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;

/// Size of the segment header in bytes.
pub const SEGMENT_HEADER_LEN: usize = 12;

/// Default size at which the writer moves on to a new segment: 128 MiB.
pub const DEFAULT_SEGMENT_SIZE: u64 = 128 << 20;

/// Returns the file name of segment `number`, e.g. `00000042`.
pub fn segment_name(number: u64) -> String {
    format!("{number:08}")
}

/// Parses a segment file name; `None` for anything that is not eight or
/// more ASCII digits (temporary files, checkpoints, stray files).
pub fn parse_segment_name(name: &str) -> Option<u64> {
    if name.len() < 8 || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

/// Returns the path of segment `number` in `dir`.
pub fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(segment_name(number))
}

/// Returns the encoded segment header.
pub fn encode_header() -> [u8; SEGMENT_HEADER_LEN] {
    let mut header = [0u8; SEGMENT_HEADER_LEN];
    header[..4].copy_from_slice(&SEGMENT_MAGIC);
    header[4] = FORMAT_VERSION;
    let crc = crc32c::crc32c(&header[..8]);
    header[8..].copy_from_slice(&crc.to_le_bytes());
    header
}

/// What a segment's first bytes say about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderCheck {
    /// A valid header of the current version.
    Valid,
    /// The file is shorter than a header (a creation cut short).
    Short,
    /// The header's checksum or magic does not match: damaged bytes.
    Corrupt,
    /// A valid header of another format version.
    Unsupported(u8),
}

/// Checks the header at the start of `file`.
pub fn check_header(file: &[u8]) -> HeaderCheck {
    let Some(header) = file.get(..SEGMENT_HEADER_LEN) else {
        return HeaderCheck::Short;
    };
    let crc = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
    if header[..4] != SEGMENT_MAGIC || crc32c::crc32c(&header[..8]) != crc {
        return HeaderCheck::Corrupt;
    }
    if header[4] != FORMAT_VERSION {
        return HeaderCheck::Unsupported(header[4]);
    }
    HeaderCheck::Valid
}

/// Lists the segment numbers in `dir`, ascending. Other entries are ignored.
pub fn list_segments(fs: &dyn WalFs, dir: &Path) -> Result<Vec<u64>> {
    let entries = fs.list_dir(dir).map_err(|e| Error::io("list directory", dir, e))?;
    let mut numbers: Vec<u64> =
        entries.iter().filter(|entry| !entry.is_dir).filter_map(|entry| parse_segment_name(&entry.name)).collect();
    numbers.sort_unstable();
    Ok(numbers)
}

/// Creates segment `number` in `dir` durably: the file is created, its header
/// written and synced, then the directory synced. Returns the open handle,
/// positioned after the header.
pub fn create_segment(fs: &dyn WalFs, dir: &Path, number: u64) -> Result<Arc<dyn WalFile>> {
    let path = segment_path(dir, number);
    let file = fs.create(&path).map_err(|e| Error::io("create segment", &path, e))?;
    file.write_all(&encode_header()).map_err(|e| Error::io("write segment header", &path, e))?;
    file.sync_data().map_err(|e| Error::io("fsync segment", &path, e))?;
    fs.sync_dir(dir).map_err(|e| Error::io("fsync directory", dir, e))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimFs;

    #[test]
    fn names_are_eight_digits_and_parse_back() {
        assert_eq!(segment_name(1), "00000001");
        assert_eq!(segment_name(123_456_789), "123456789");
        assert_eq!(parse_segment_name("00000001"), Some(1));
        assert_eq!(parse_segment_name("123456789"), Some(123_456_789));
        for bad in ["0000001", "checkpoint.00000001", "00000001.tmp", "0000000a", ""] {
            assert_eq!(parse_segment_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn header_checks() {
        let header = encode_header();
        assert_eq!(&header[..4], b"WKWL");
        assert_eq!(check_header(&header), HeaderCheck::Valid);
        assert_eq!(check_header(&header[..11]), HeaderCheck::Short);
        let mut flipped = header;
        flipped[1] ^= 4;
        assert_eq!(check_header(&flipped), HeaderCheck::Corrupt);
        let mut future = header;
        future[4] = 9;
        let crc = crc32c::crc32c(&future[..8]);
        future[8..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(check_header(&future), HeaderCheck::Unsupported(9));
    }

    #[test]
    fn created_segments_are_listed_in_order_and_survive_power_cut() {
        let fs = SimFs::new();
        let dir = Path::new("/wal");
        fs.create_dir_all(dir).unwrap();
        fs.sync_dir(Path::new("/")).unwrap();
        for n in [3, 1, 2] {
            create_segment(&fs, dir, n).unwrap();
        }
        fs.create(&dir.join("junk.tmp")).unwrap();
        fs.power_cut(1, true);
        assert_eq!(list_segments(&fs, dir).unwrap(), vec![1, 2, 3]);
        let bytes = fs.read(&segment_path(dir, 2)).unwrap();
        assert_eq!(bytes, encode_header());
    }
}
