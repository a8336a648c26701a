//! Tombstones: deleted time ranges per series of one block.
//!
//! Blocks are immutable, so a deletion is recorded beside the block in
//! `<name>.tombstones` and applied when samples are read; compaction rewrites the
//! data without them. The file is replaced atomically (tmp, fsync, rename, fsync
//! of the directory). Layout: magic `"WKTS"`, version 1, three zero bytes, entry
//! count (u32), then entries of series id (u32), mint and maxt (i64, inclusive),
//! then a CRC-32C of everything before it; little-endian.

use std::collections::BTreeMap;
use std::path::Path;

use wk_wal::WalFs;

use super::format::{i64_at, u32_at};
use crate::error::{Result, TsdbError};

const MAGIC: [u8; 8] = *b"WKTS\x01\0\0\0";
const ENTRY: usize = 20;

/// Deleted, inclusive time intervals per series id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tombstones {
    by_series: BTreeMap<u32, Vec<(i64, i64)>>,
}

impl Tombstones {
    /// Returns the deleted intervals of series `id`.
    pub fn get(&self, id: u32) -> Option<&[(i64, i64)]> {
        self.by_series.get(&id).map(Vec::as_slice)
    }

    /// Returns true when nothing is deleted.
    pub fn is_empty(&self) -> bool {
        self.by_series.is_empty()
    }

    /// Number of (series, interval) entries.
    pub fn len(&self) -> usize {
        self.by_series.values().map(Vec::len).sum()
    }

    /// Adds a deleted interval.
    pub fn add(&mut self, id: u32, mint: i64, maxt: i64) {
        let list = self.by_series.entry(id).or_default();
        if !list.contains(&(mint, maxt)) {
            list.push((mint, maxt));
        }
    }

    /// Returns true when `t` of series `id` is deleted.
    pub fn deletes(&self, id: u32, t: i64) -> bool {
        self.get(id).is_some_and(|l| l.iter().any(|&(a, b)| a <= t && t <= b))
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&(self.len() as u32).to_le_bytes());
        for (&id, list) in &self.by_series {
            for &(a, b) in list {
                out.extend_from_slice(&id.to_le_bytes());
                out.extend_from_slice(&a.to_le_bytes());
                out.extend_from_slice(&b.to_le_bytes());
            }
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Loads the tombstones at `path`; a missing file means none. Damage is an
    /// [`TsdbError::InvalidBlock`] naming the file: deletions must not be
    /// silently forgotten.
    pub fn load(fs: &dyn WalFs, path: &Path, n_series: usize) -> Result<Tombstones> {
        let bytes = match fs.read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Tombstones::default()),
            Err(source) => return Err(TsdbError::Io { op: "read tombstones", path: path.to_path_buf(), source }),
        };
        let invalid = |detail: &str| TsdbError::InvalidBlock { path: path.to_path_buf(), detail: detail.to_owned() };
        if bytes.len() < MAGIC.len() + 8 || bytes[..MAGIC.len()] != MAGIC {
            return Err(invalid("not a tombstones file (bad magic or version)"));
        }
        let body = &bytes[..bytes.len() - 4];
        if u32_at(&bytes, bytes.len() - 4) != Some(crc32c::crc32c(body)) {
            return Err(invalid("tombstones checksum mismatch"));
        }
        let n = u32_at(body, MAGIC.len()).ok_or_else(|| invalid("truncated"))? as usize;
        if body.len() != MAGIC.len() + 4 + n * ENTRY {
            return Err(invalid("tombstones size does not match the entry count"));
        }
        let mut t = Tombstones::default();
        for i in 0..n {
            let at = MAGIC.len() + 4 + i * ENTRY;
            let id = u32_at(body, at).ok_or_else(|| invalid("truncated"))?;
            let (a, b) = (i64_at(body, at + 4).unwrap_or(0), i64_at(body, at + 12).unwrap_or(0));
            if id as usize >= n_series || a > b {
                return Err(invalid("tombstone entry out of range"));
            }
            t.add(id, a, b);
        }
        Ok(t)
    }

    /// Writes the tombstones to `path` atomically.
    pub fn store(&self, fs: &dyn WalFs, path: &Path) -> Result<()> {
        let io = |op| move |source| TsdbError::Io { op, path: path.to_path_buf(), source };
        let tmp = path.with_extension("tombstones.tmp");
        let file = fs.create(&tmp).map_err(io("create tombstones"))?;
        file.write_all(&self.encode()).map_err(io("write tombstones"))?;
        file.sync_data().map_err(io("fsync tombstones"))?;
        fs.rename(&tmp, path).map_err(io("rename tombstones"))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        fs.sync_dir(dir).map_err(io("fsync blocks directory"))
    }
}
