//! Reading a block file through a memory map.
//!
//! Open checks the header, the footer's checksum and the checksum of every index
//! section, then walks the index once to prove every offset and symbol id in it is
//! in bounds, so later reads cannot go astray. Series data is checked against its
//! own CRC each time it is decoded. A damaged file is reported with its path and
//! what is wrong; nothing here panics on bad bytes.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;
use roaring::RoaringBitmap;
use wk_model::{Labels, Matcher, Sample};
use wk_wal::{Mapped, WalFs};

use super::codec::decode_series;
use super::format::{
    self, BlockMeta, FRAME_LEN, Frame, NAME_LEN, PAIR_LEN, SECTIONS, SERIES_FIXED, Section, SectionId, i64_at, u16_at,
    u32_at, u64_at,
};
use super::tombstones::Tombstones;
use crate::error::{Result, TsdbError};
use crate::index::select::{self, LabelIndex};

/// An immutable, memory-mapped block: series, their samples over `[mint, maxt)`,
/// and an index by label pair. Shared as `Arc<Block>`; a block deleted by
/// retention stays readable by queries that still hold it.
#[derive(Debug)]
pub struct Block {
    path: PathBuf,
    name: String,
    bytes: Mapped,
    sections: [Section; SECTIONS],
    meta: BlockMeta,
    n_symbols: usize,
    n_series: usize,
    n_names: usize,
    n_pairs: usize,
    n_frames: usize,
    /// The file's format version (frames stored as is from 3 on).
    version: u8,
    tombstones: RwLock<Arc<Tombstones>>,
    /// Recently used decompressed frames: sequential reads hit them, and so do
    /// repeated queries for a few series (a dashboard panel refreshing).
    frame_cache: parking_lot::Mutex<FrameCache>,
    /// Bytes of the data section read through the map since its pages were
    /// last released (see [`RELEASE_BYTES`]).
    pub(super) mapped_reads: std::sync::atomic::AtomicU64,
}

/// Bytes of block data read through the map after which its pages are taken
/// out of the process's resident memory (they stay in the page cache): a query
/// over a day of 100k series reads 700 MiB of blocks, which would otherwise
/// all count in the server's resident set, and stay there.
pub(super) const RELEASE_BYTES: u64 = 64 << 20;

/// Decompressed frames kept per block: 512 frames of about 16 KiB, so at most
/// about 8 MiB per block, filled only as queries read it. A query for a few
/// hundred series touches a frame or two per series in each block (the series
/// of one host sit in runs of the label order, one run per CPU): in a 16 h
/// block of 3,000 series, `node_cpu_seconds_total{mode=~"user|system"}` over
/// 30 hosts reads a few hundred frames, which 64 kept frames re-inflated on
/// every run.
const FRAME_CACHE: usize = 512;

/// The content of a frame: in the map, or decompressed.
enum FrameBytes<'a> {
    Stored(&'a [u8]),
    Inflated(Arc<[u8]>),
}

impl std::ops::Deref for FrameBytes<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            FrameBytes::Stored(bytes) => bytes,
            FrameBytes::Inflated(content) => content,
        }
    }
}

/// The least recently used decompressed frames of one block, by frame index.
#[derive(Debug, Default)]
struct FrameCache {
    /// `(frame index, content, last use)`.
    frames: Vec<(u32, Arc<[u8]>, u64)>,
    clock: u64,
}

impl FrameCache {
    fn get(&mut self, index: u32) -> Option<Arc<[u8]>> {
        self.clock += 1;
        let clock = self.clock;
        self.frames.iter_mut().find(|(i, _, _)| *i == index).map(|(_, content, used)| {
            *used = clock;
            Arc::clone(content)
        })
    }

    /// Keeps `content` as frame `index`, evicting the least recently used
    /// frame when full.
    fn insert(&mut self, index: u32, content: Arc<[u8]>) {
        self.clock += 1;
        if self.frames.iter().any(|(i, _, _)| *i == index) {
            return;
        }
        if self.frames.len() >= FRAME_CACHE
            && let Some(oldest) = self.frames.iter().enumerate().min_by_key(|(_, f)| f.2).map(|(k, _)| k)
        {
            self.frames.swap_remove(oldest);
        }
        self.frames.push((index, content, self.clock));
    }
}

/// One series-table entry as read from the map.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SeriesView<'a> {
    labels: &'a [u8],
    pub data_off: u64,
    pub data_len: u32,
    pub mint: i64,
    pub maxt: i64,
    pub samples: u32,
    pub crc: u32,
}

impl Block {
    /// Opens and validates the block file at `path` (tombstones beside it are
    /// loaded too). Fails with [`TsdbError::InvalidBlock`] naming the file and
    /// the damage, or [`TsdbError::Io`].
    pub fn open(fs: &dyn WalFs, path: &Path) -> Result<Block> {
        let bytes =
            fs.map(path).map_err(|source| TsdbError::Io { op: "map block", path: path.to_path_buf(), source })?;
        let invalid = |detail: &str| TsdbError::InvalidBlock { path: path.to_path_buf(), detail: detail.to_owned() };
        let (sections, mut meta, version) = format::decode_footer(&bytes).map_err(invalid)?;
        for id in [
            SectionId::Symbols,
            SectionId::Series,
            SectionId::LabelIndex,
            SectionId::Postings,
            SectionId::Meta,
            SectionId::Frames,
        ] {
            let s = sections[id as usize];
            let body = &bytes[s.offset as usize..(s.offset + s.len) as usize];
            if crc32c::crc32c(body) != s.crc {
                return Err(invalid(&format!("{id:?} section checksum mismatch")));
            }
        }
        let meta_bytes = section_bytes(&bytes, sections[SectionId::Meta as usize]);
        format::decode_meta(meta_bytes, &mut meta).map_err(|e| invalid(&format!("meta section: {e}")))?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(format::BLOCK_SUFFIX))
            .ok_or_else(|| invalid("file name does not end in .wkb"))?
            .to_owned();
        let mut block = Block {
            path: path.to_path_buf(),
            name,
            bytes,
            sections,
            meta,
            version,
            n_symbols: 0,
            n_series: 0,
            n_names: 0,
            n_pairs: 0,
            n_frames: 0,
            tombstones: RwLock::new(Arc::new(Tombstones::default())),
            frame_cache: parking_lot::Mutex::new(FrameCache::default()),
            mapped_reads: std::sync::atomic::AtomicU64::new(0),
        };
        block.validate().map_err(invalid)?;
        let tombstones = Tombstones::load(fs, &block.tombstones_path(), block.n_series)?;
        block.tombstones = RwLock::new(Arc::new(tombstones));
        Ok(block)
    }

    /// The block's name: its file stem, `<mint>_<maxt>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The block file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the block's tombstones are kept.
    pub fn tombstones_path(&self) -> PathBuf {
        self.path.with_extension("tombstones")
    }

    /// The block's facts.
    pub fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    /// The file's size in bytes.
    pub fn size_bytes(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// Bytes of the (compressed) series data section.
    pub fn data_bytes(&self) -> u64 {
        self.sections[SectionId::Data as usize].len
    }

    /// Number of series.
    pub fn num_series(&self) -> usize {
        self.n_series
    }

    /// The current tombstones.
    pub fn tombstones(&self) -> Arc<Tombstones> {
        Arc::clone(&self.tombstones.read())
    }

    pub(crate) fn set_tombstones(&self, t: Tombstones) {
        *self.tombstones.write() = Arc::new(t);
    }

    fn section(&self, id: SectionId) -> &[u8] {
        section_bytes(&self.bytes, self.sections[id as usize])
    }

    /// Walks every table once; afterwards accessors may rely on their bounds.
    fn validate(&mut self) -> std::result::Result<(), &'static str> {
        let sym = self.section(SectionId::Symbols);
        let n_symbols = u32_at(sym, 0).ok_or("symbols section truncated")? as usize;
        let strings_at = 4 + (n_symbols + 1) * 4;
        if strings_at > sym.len() {
            return Err("symbol table larger than its section");
        }
        let mut prev: Option<&str> = None;
        for i in 0..n_symbols {
            let (a, b) = (u32_at(sym, 4 + i * 4).unwrap_or(0) as usize, u32_at(sym, 8 + i * 4).unwrap_or(0) as usize);
            let s = (a <= b)
                .then(|| sym.get(strings_at + a..strings_at + b))
                .flatten()
                .ok_or("symbol outside its section")?;
            let s = std::str::from_utf8(s).map_err(|_| "symbol is not UTF-8")?;
            if prev.is_some_and(|p| p >= s) {
                return Err("symbols not sorted");
            }
            prev = Some(s);
        }
        self.n_symbols = n_symbols;

        let frames = self.section(SectionId::Frames);
        let n_frames = u32_at(frames, 0).ok_or("frames section truncated")? as usize;
        if 4 + n_frames * FRAME_LEN != frames.len() {
            return Err("frames table size does not match its count");
        }
        let data_len = self.sections[SectionId::Data as usize].len;
        let (mut next_offset, mut next_ustart) = (0u64, 0u64);
        for i in 0..n_frames {
            let f = format::frame_at(frames, i).ok_or("frames table")?;
            if f.offset != next_offset || f.ustart != next_ustart || f.ulen == 0 {
                return Err("frames not contiguous");
            }
            next_offset = f.offset + u64::from(f.len);
            next_ustart = f.ustart + u64::from(f.ulen);
        }
        if next_offset != data_len {
            return Err("frames do not cover the data section");
        }
        self.n_frames = n_frames;

        let series = self.section(SectionId::Series);
        let n_series = u32_at(series, 0).ok_or("series section truncated")? as usize;
        if 4 + n_series * 8 > series.len() {
            return Err("series table larger than its section");
        }
        for i in 0..n_series {
            let at = u64_at(series, 4 + i * 8).ok_or("series table")? as usize;
            let n = u16_at(series, at).ok_or("series entry outside its section")? as usize;
            let end = at.checked_add(SERIES_FIXED + n * 8).ok_or("series entry bounds")?;
            if end > series.len() || n == 0 {
                return Err("series entry outside its section");
            }
            for j in 0..n * 2 {
                if u32_at(series, at + 2 + j * 4).ok_or("series entry")? as usize >= n_symbols {
                    return Err("series label symbol out of range");
                }
            }
            let base = at + 2 + n * 8;
            let off = u64_at(series, base).ok_or("series entry")?;
            let len = u64::from(u32_at(series, base + 8).ok_or("series entry")?);
            let fits = self.frame_of(off).is_some_and(|(_, f)| off + len <= f.ustart + u64::from(f.ulen));
            if !fits {
                return Err("series data outside its frame");
            }
        }
        self.n_series = n_series;

        let li = self.section(SectionId::LabelIndex);
        let n_names = u32_at(li, 0).ok_or("label index truncated")? as usize;
        let pairs_at = 4 + n_names * NAME_LEN;
        let n_pairs = u32_at(li, pairs_at).ok_or("label index truncated")? as usize;
        if pairs_at + 4 + n_pairs * PAIR_LEN != li.len() {
            return Err("label index size does not match its counts");
        }
        let postings_len = self.section(SectionId::Postings).len() / 4;
        let mut prev_first = 0usize;
        for i in 0..n_names {
            let name = u32_at(li, 4 + i * NAME_LEN).ok_or("label index")? as usize;
            let first = u32_at(li, 8 + i * NAME_LEN).ok_or("label index")? as usize;
            if name >= n_symbols || first > n_pairs || (i > 0 && first <= prev_first) || (i == 0 && first != 0) {
                return Err("label name entry out of range");
            }
            prev_first = first;
        }
        for i in 0..n_pairs {
            let at = pairs_at + 4 + i * PAIR_LEN;
            let value = u32_at(li, at).ok_or("label index")? as usize;
            let off = u64_at(li, at + 4).ok_or("label index")?;
            let len = u64::from(u32_at(li, at + 12).ok_or("label index")?);
            if value >= n_symbols || off.checked_add(len).is_none_or(|e| e > postings_len as u64) {
                return Err("label pair entry out of range");
            }
        }
        let postings = self.section(SectionId::Postings);
        if !postings.len().is_multiple_of(4) {
            return Err("postings section not a whole number of ids");
        }
        if postings.chunks_exact(4).any(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")) as usize >= n_series) {
            return Err("posting refers to a missing series");
        }
        self.n_names = n_names;
        self.n_pairs = n_pairs;
        Ok(())
    }

    /// Symbol `id` (validated at open).
    fn symbol(&self, id: u32) -> &str {
        let sym = self.section(SectionId::Symbols);
        let strings_at = 4 + (self.n_symbols + 1) * 4;
        let i = id as usize;
        let (a, b) = (u32_at(sym, 4 + i * 4).unwrap_or(0) as usize, u32_at(sym, 8 + i * 4).unwrap_or(0) as usize);
        sym.get(strings_at + a..strings_at + b).and_then(|s| std::str::from_utf8(s).ok()).unwrap_or("")
    }

    /// Finds the id of symbol `s`.
    fn lookup_symbol(&self, s: &str) -> Option<u32> {
        let (mut lo, mut hi) = (0usize, self.n_symbols);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.symbol(mid as u32).cmp(s) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid as u32),
            }
        }
        None
    }

    /// The pair range `[first, end)` of label name `name`.
    fn name_pairs(&self, name: &str) -> Option<(usize, usize)> {
        let id = self.lookup_symbol(name)?;
        let li = self.section(SectionId::LabelIndex);
        let name_at = |i: usize| u32_at(li, 4 + i * NAME_LEN).unwrap_or(u32::MAX);
        let (mut lo, mut hi) = (0usize, self.n_names);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match name_at(mid).cmp(&id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    let first = u32_at(li, 8 + mid * NAME_LEN).unwrap_or(0) as usize;
                    let end = if mid + 1 < self.n_names {
                        u32_at(li, 8 + (mid + 1) * NAME_LEN).unwrap_or(0) as usize
                    } else {
                        self.n_pairs
                    };
                    return Some((first, end));
                }
            }
        }
        None
    }

    /// Pair `i`: (value symbol, postings offset in ids, count).
    fn pair(&self, i: usize) -> (u32, usize, usize) {
        let li = self.section(SectionId::LabelIndex);
        let at = 4 + self.n_names * NAME_LEN + 4 + i * PAIR_LEN;
        (
            u32_at(li, at).unwrap_or(0),
            u64_at(li, at + 4).unwrap_or(0) as usize,
            u32_at(li, at + 12).unwrap_or(0) as usize,
        )
    }

    fn postings(&self, off: usize, len: usize) -> RoaringBitmap {
        let p = self.section(SectionId::Postings);
        let ids = p.get(off * 4..(off + len) * 4).unwrap_or(&[]);
        let mut out = RoaringBitmap::new();
        for c in ids.chunks_exact(4) {
            let id = u32::from_le_bytes(c.try_into().expect("4 bytes"));
            if out.try_push(id).is_err() {
                out.insert(id);
            }
        }
        out
    }

    /// Series-table entry `id` (validated at open).
    pub(crate) fn series(&self, id: u32) -> Option<SeriesView<'_>> {
        let s = self.section(SectionId::Series);
        let at = u64_at(s, 4 + id as usize * 8)? as usize;
        let n = u16_at(s, at)? as usize;
        let base = at + 2 + n * 8;
        Some(SeriesView {
            labels: s.get(at + 2..base)?,
            data_off: u64_at(s, base)?,
            data_len: u32_at(s, base + 8)?,
            mint: i64_at(s, base + 12)?,
            maxt: i64_at(s, base + 20)?,
            samples: u32_at(s, base + 28)?,
            crc: u32_at(s, base + 32)?,
        })
    }

    /// The labels of series `id`.
    pub fn labels(&self, id: u32) -> Labels {
        let Some(view) = self.series(id) else {
            return Labels::empty();
        };
        let pairs: Vec<(&str, &str)> = view
            .labels
            .chunks_exact(8)
            .map(|p| {
                let n = u32::from_le_bytes(p[..4].try_into().expect("4 bytes"));
                let v = u32::from_le_bytes(p[4..].try_into().expect("4 bytes"));
                (self.symbol(n), self.symbol(v))
            })
            .collect();
        Labels::from_sorted(pairs)
    }

    /// Label names of series `id`.
    fn label_name_ids(&self, id: u32) -> impl Iterator<Item = u32> + '_ {
        self.series(id)
            .map(|v| v.labels)
            .unwrap_or(&[])
            .chunks_exact(8)
            .map(|p| u32::from_le_bytes(p[..4].try_into().expect("4 bytes")))
    }

    /// Decodes series `id`'s samples inside `[mint, maxt]` into `out` (cleared
    /// first), without samples its tombstones delete. Fails with
    /// [`TsdbError::InvalidBlock`] when its data fails the checksum or does
    /// not decode.
    pub fn samples(&self, id: u32, mint: i64, maxt: i64, out: &mut Vec<Sample>) -> Result<()> {
        out.clear();
        self.append_samples(id, mint, maxt, out)
    }

    /// Samples series `id` holds in the block (0 for an unknown id).
    pub fn series_len(&self, id: u32) -> usize {
        self.series(id).map_or(0, |v| v.samples as usize)
    }

    /// Like [`samples`](Self::samples), appending to `out` (whose existing
    /// samples are left alone), so the parts of a series from several blocks
    /// land in one vector without a copy each.
    pub fn append_samples(&self, id: u32, mint: i64, maxt: i64, out: &mut Vec<Sample>) -> Result<()> {
        let base = out.len();
        let invalid = |detail: String| TsdbError::InvalidBlock { path: self.path.clone(), detail };
        let view = self.series(id).ok_or_else(|| invalid(format!("series {id} missing")))?;
        if view.maxt < mint || view.mint > maxt {
            return Ok(());
        }
        let (index, frame) =
            self.frame_of(view.data_off).ok_or_else(|| invalid(format!("series {id} data outside the file")))?;
        let content = self.frame_content(index, frame, view.data_len)?;
        let start = (view.data_off - frame.ustart) as usize;
        let blob = content
            .get(start..start + view.data_len as usize)
            .ok_or_else(|| invalid(format!("series {id} data outside its frame")))?;
        if crc32c::crc32c(blob) != view.crc {
            return Err(invalid(format!("series {} data checksum mismatch", self.labels(id))));
        }
        let fail = |out: &mut Vec<Sample>, detail: String| {
            out.truncate(base);
            Err(invalid(detail))
        };
        if let Err(e) = decode_series(blob, out) {
            return fail(out, format!("series {}: {e}", self.labels(id)));
        }
        if out.len() - base != view.samples as usize {
            return fail(out, format!("series {}: sample count differs from the index", self.labels(id)));
        }
        // A series' samples are in time order: keep the run inside [mint, maxt].
        let tail = &out[base..];
        let (lo, hi) = (tail.partition_point(|s| s.t < mint), tail.partition_point(|s| s.t <= maxt));
        if lo > 0 || hi < tail.len() {
            out.truncate(base + hi.max(lo));
            out.drain(base..base + lo);
        }
        let tomb = self.tombstones.read();
        if let Some(intervals) = tomb.get(id) {
            let mut k = base;
            for i in base..out.len() {
                let s = out[i];
                if !intervals.iter().any(|&(a, b)| a <= s.t && s.t <= b) {
                    out[k] = s;
                    k += 1;
                }
            }
            out.truncate(k);
        }
        Ok(())
    }

    /// Counts `len` bytes of the data section read through the map; past
    /// [`RELEASE_BYTES`], releases the section's pages from resident memory.
    /// Readers still using a page fault it in again, with the same bytes.
    pub(super) fn note_mapped_read(&self, len: u32) {
        use std::sync::atomic::Ordering::Relaxed;
        let total = self.mapped_reads.fetch_add(u64::from(len), Relaxed) + u64::from(len);
        if total >= RELEASE_BYTES && self.mapped_reads.swap(0, Relaxed) >= RELEASE_BYTES {
            let s = self.sections[SectionId::Data as usize];
            self.bytes.release(s.offset as usize, s.len as usize);
        }
    }

    /// The frames table (for tests of how frames are stored).
    #[cfg(test)]
    pub(crate) fn frames(&self) -> Vec<Frame> {
        (0..self.n_frames).filter_map(|i| format::frame_at(self.section(SectionId::Frames), i)).collect()
    }

    /// The frame holding uncompressed offset `off`, by binary search.
    fn frame_of(&self, off: u64) -> Option<(u32, Frame)> {
        let frames = self.section(SectionId::Frames);
        let (mut lo, mut hi) = (0usize, self.n_frames);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let f = format::frame_at(frames, mid)?;
            if off < f.ustart {
                hi = mid;
            } else if off >= f.ustart + u64::from(f.ulen) {
                lo = mid + 1;
            } else {
                return Some((mid as u32, f));
            }
        }
        None
    }

    /// The content of frame `index`: in the map for a frame stored as is (the
    /// caller checks the checksum of the series blob it reads there), else
    /// decompressed (checksum checked, size bounded by the table), from the
    /// cache when recently used. `used` is how many of its bytes the caller
    /// reads (counted by [`note_mapped_read`](Self::note_mapped_read)).
    fn frame_content(&self, index: u32, f: Frame, used: u32) -> Result<FrameBytes<'_>> {
        let invalid = |detail: String| TsdbError::InvalidBlock { path: self.path.clone(), detail };
        let data = self.section(SectionId::Data);
        let compressed = data
            .get(f.offset as usize..(f.offset + u64::from(f.len)) as usize)
            .ok_or_else(|| invalid(format!("frame {index} outside the data section")))?;
        if f.is_stored(self.version) {
            self.note_mapped_read(used);
            return Ok(FrameBytes::Stored(compressed));
        }
        if let Some(content) = self.frame_cache.lock().get(index) {
            return Ok(FrameBytes::Inflated(content));
        }
        self.note_mapped_read(f.len);
        if crc32c::crc32c(compressed) != f.crc {
            return Err(invalid(format!("frame {index} checksum mismatch")));
        }
        let mut content = Vec::with_capacity(f.ulen as usize);
        use std::io::Read;
        let read = flate2::read::DeflateDecoder::new(compressed)
            .take(u64::from(f.ulen) + 1)
            .read_to_end(&mut content)
            .map_err(|e| invalid(format!("frame {index} does not decompress: {e}")))?;
        if read != f.ulen as usize {
            return Err(invalid(format!("frame {index} decompresses to {read} bytes, not {}", f.ulen)));
        }
        let content: Arc<[u8]> = Arc::from(content);
        self.frame_cache.lock().insert(index, Arc::clone(&content));
        Ok(FrameBytes::Inflated(content))
    }

    /// Returns the ids of the series matching `matchers` whose data overlaps
    /// `[mint, maxt]`, ascending (which is label order).
    ///
    /// With at least one `name="value"` matcher, the postings lists are
    /// intersected in place in the map, shortest first (binary search into the
    /// longer ones), and the other matchers are checked against each
    /// candidate's own labels: no bitmap is built for the large lists a metric
    /// name or a `job` label has. Otherwise the generic bitmap evaluation runs.
    pub fn select_ids(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<u32> {
        let overlaps = |id: u32| self.series(id).is_some_and(|v| v.mint <= maxt && mint <= v.maxt);
        let (exact, rest): (Vec<&Matcher>, Vec<&Matcher>) =
            matchers.iter().partition(|m| m.op() == wk_model::MatchOp::Eq && !m.value().is_empty());
        if exact.is_empty() {
            return select::select(self, matchers).iter().filter(|&id| overlaps(id)).collect();
        }
        let mut lists = Vec::with_capacity(exact.len());
        for m in exact {
            match self.pair_range(m.name(), m.value()) {
                Some(list) => lists.push(list),
                None => return Vec::new(),
            }
        }
        lists.sort_by_key(|&(_, len)| len);
        let (off, len) = lists[0];
        let mut ids: Vec<u32> = self.postings_slice(off, len).chunks_exact(4).map(read_u32).collect();
        for &(off, len) in &lists[1..] {
            let other = self.postings_slice(off, len);
            ids.retain(|&id| contains_sorted(other, id));
            if ids.is_empty() {
                return ids;
            }
        }
        ids.retain(|&id| overlaps(id) && rest.iter().all(|m| m.matches(self.label_value(id, m.name()).unwrap_or(""))));
        ids
    }

    /// The postings (offset, length) of `name=value`, if the pair exists.
    fn pair_range(&self, name: &str, value: &str) -> Option<(usize, usize)> {
        let (first, end) = self.name_pairs(name)?;
        let v = self.lookup_symbol(value)?;
        let (mut lo, mut hi) = (first, end);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let (pv, off, len) = self.pair(mid);
            match pv.cmp(&v) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some((off, len)),
            }
        }
        None
    }

    fn postings_slice(&self, off: usize, len: usize) -> &[u8] {
        self.section(SectionId::Postings).get(off * 4..(off + len) * 4).unwrap_or(&[])
    }

    /// The value of label `name` of series `id`, if it has the label.
    fn label_value(&self, id: u32, name: &str) -> Option<&str> {
        let view = self.series(id)?;
        view.labels.chunks_exact(8).find_map(|p| {
            let (n, v) = (read_u32(&p[..4]), read_u32(&p[4..]));
            (self.symbol(n) == name).then(|| self.symbol(v))
        })
    }

    /// Sorted distinct label names of the series matching `matchers`.
    pub fn label_names(&self, matchers: &[Matcher]) -> Vec<String> {
        let mut ids: Vec<u32> = if matchers.is_empty() {
            let li = self.section(SectionId::LabelIndex);
            (0..self.n_names).filter_map(|i| u32_at(li, 4 + i * NAME_LEN)).collect()
        } else {
            select::select(self, matchers).iter().flat_map(|id| self.label_name_ids(id).collect::<Vec<_>>()).collect()
        };
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter().map(|id| self.symbol(id).to_owned()).collect()
    }

    /// Sorted distinct values of label `name` over the series matching `matchers`.
    pub fn label_values(&self, name: &str, matchers: &[Matcher]) -> Vec<String> {
        let Some((first, end)) = self.name_pairs(name) else {
            return Vec::new();
        };
        let refs = (!matchers.is_empty()).then(|| select::select(self, matchers));
        (first..end)
            .filter_map(|i| {
                let (v, off, len) = self.pair(i);
                match &refs {
                    None => Some(self.symbol(v).to_owned()),
                    Some(refs) => (!refs.is_disjoint(&self.postings(off, len))).then(|| self.symbol(v).to_owned()),
                }
            })
            .collect()
    }

    /// Re-reads every series' data and checks its checksum and encoding (a full
    /// scrub, for tests and `fsck`-like checks).
    pub fn verify(&self) -> Result<()> {
        let data = self.section(SectionId::Data);
        if crc32c::crc32c(data) != self.sections[SectionId::Data as usize].crc {
            return Err(TsdbError::InvalidBlock {
                path: self.path.clone(),
                detail: "data section checksum mismatch".into(),
            });
        }
        let mut buf = Vec::new();
        for id in 0..self.n_series as u32 {
            self.samples(id, i64::MIN, i64::MAX, &mut buf)?;
        }
        Ok(())
    }
}

fn read_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes(b.try_into().expect("4 bytes"))
}

/// Binary search for `id` in a sorted list of little-endian u32s.
fn contains_sorted(list: &[u8], id: u32) -> bool {
    let (mut lo, mut hi) = (0usize, list.len() / 4);
    while lo < hi {
        let mid = (lo + hi) / 2;
        match read_u32(&list[mid * 4..mid * 4 + 4]).cmp(&id) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}

fn section_bytes(bytes: &[u8], s: Section) -> &[u8] {
    bytes.get(s.offset as usize..(s.offset + s.len) as usize).unwrap_or(&[])
}

impl LabelIndex for Block {
    fn all_series(&self) -> Cow<'_, RoaringBitmap> {
        let mut all = RoaringBitmap::new();
        all.insert_range(0..self.n_series as u32);
        Cow::Owned(all)
    }

    fn pair_postings(&self, name: &str, value: &str) -> Option<Cow<'_, RoaringBitmap>> {
        self.pair_range(name, value).map(|(off, len)| Cow::Owned(self.postings(off, len)))
    }

    fn union_values(&self, name: &str, keep: &dyn Fn(&str) -> bool) -> RoaringBitmap {
        let mut out = RoaringBitmap::new();
        if let Some((first, end)) = self.name_pairs(name) {
            for i in first..end {
                let (v, off, len) = self.pair(i);
                if keep(self.symbol(v)) {
                    out |= self.postings(off, len);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod frame_cache_tests {
    use super::*;

    #[test]
    fn the_least_recently_used_frame_is_evicted() {
        let mut cache = FrameCache::default();
        let content = |i: u32| -> Arc<[u8]> { Arc::from(i.to_le_bytes().to_vec()) };
        for i in 0..FRAME_CACHE as u32 {
            cache.insert(i, content(i));
        }
        // Frame 0 is used again, so frame 1 is the oldest when one more comes.
        assert_eq!(cache.get(0).as_deref(), Some(&0u32.to_le_bytes()[..]));
        cache.insert(FRAME_CACHE as u32, content(FRAME_CACHE as u32));
        assert!(cache.get(1).is_none());
        assert!(cache.get(0).is_some() && cache.get(2).is_some() && cache.get(FRAME_CACHE as u32).is_some());
        assert_eq!(cache.frames.len(), FRAME_CACHE);
    }
}
