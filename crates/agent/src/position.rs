//! The durable "delivered up to" position of a queue, in the file `delivered`
//! beside its segments.
//!
//! ```text
//! offset  size  field
//! 0       4     magic     b"WKQP"
//! 4       1     version   1
//! 5       8     segment   u64 little-endian
//! 13      8     offset    u64 little-endian: byte offset in that segment
//! 21      4     crc       u32 little-endian CRC-32C of bytes 0..21
//! ```
//!
//! It is replaced atomically (write `delivered.tmp`, fsync, rename, fsync the
//! directory), so a crash leaves either the old or the new position.

use std::io::Write;
use std::path::Path;

/// A place in the queue: every record before it counts as handled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// Segment number.
    pub segment: u64,
    /// Byte offset in the segment (0 means its start).
    pub offset: u64,
}

const MAGIC: &[u8; 4] = b"WKQP";
const VERSION: u8 = 1;
const LEN: usize = 25;
/// File name of the position file.
pub const FILE_NAME: &str = "delivered";

/// Encodes a position as the file's bytes.
pub fn encode(position: Position) -> [u8; LEN] {
    let mut out = [0u8; LEN];
    out[..4].copy_from_slice(MAGIC);
    out[4] = VERSION;
    out[5..13].copy_from_slice(&position.segment.to_le_bytes());
    out[13..21].copy_from_slice(&position.offset.to_le_bytes());
    let crc = crc32c::crc32c(&out[..21]);
    out[21..].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Decodes the file's bytes; `None` when they are not a valid position.
pub fn decode(bytes: &[u8]) -> Option<Position> {
    if bytes.len() != LEN || &bytes[..4] != MAGIC || bytes[4] != VERSION {
        return None;
    }
    let crc = u32::from_le_bytes(bytes[21..25].try_into().ok()?);
    if crc32c::crc32c(&bytes[..21]) != crc {
        return None;
    }
    let segment = u64::from_le_bytes(bytes[5..13].try_into().ok()?);
    let offset = u64::from_le_bytes(bytes[13..21].try_into().ok()?);
    Some(Position { segment, offset })
}

/// Reads the position in `dir`: `Ok(None)` when there is none yet or it is damaged
/// (logged; the queue then resends from its oldest segment).
pub fn load(dir: &Path) -> std::io::Result<Option<Position>> {
    let path = dir.join(FILE_NAME);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let found = decode(&bytes);
            if found.is_none() {
                tracing::warn!(path = %path.display(), "queue position file damaged; resending from the oldest segment");
            }
            Ok(found)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Durably replaces the position in `dir`.
pub fn store(dir: &Path, position: Position) -> std::io::Result<()> {
    let tmp = dir.join("delivered.tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(&encode(position))?;
    file.sync_data()?;
    drop(file);
    std::fs::rename(&tmp, dir.join(FILE_NAME))?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let p = Position { segment: 7, offset: 4096 };
        assert_eq!(decode(&encode(p)), Some(p));
        for i in 0..LEN {
            let mut bad = encode(p);
            bad[i] ^= 1;
            assert_eq!(decode(&bad), None, "flipped byte {i}");
        }
        assert_eq!(decode(&encode(p)[..10]), None);
    }

    #[test]
    fn store_then_load() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        store(dir.path(), Position { segment: 3, offset: 12 }).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(Position { segment: 3, offset: 12 }));
    }
}
