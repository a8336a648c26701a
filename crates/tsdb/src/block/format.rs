//! The block file layout: header, sections, footer (byte by byte in
//! `docs/storage-format.md`, "Blocks"). All integers are little-endian; fixed-size
//! tables allow binary search straight in the memory map.

use std::collections::BTreeMap;

use super::codec::{CodecError, Cursor, put_uvarint};

/// File header: magic `"WKBK"`, format version 3, three reserved zero bytes.
/// (Version 1, without compressed frames, was never released.)
pub(crate) const HEADER: [u8; 8] = *b"WKBK\x03\0\0\0";
/// Trailing magic of the footer: `"WKBKEND"` and the version.
pub(crate) const FOOTER_MAGIC: [u8; 8] = *b"WKBKEND\x03";
/// The oldest version read. Version 2 differs from 3 only in that every frame
/// is deflated; from 3 on, a frame whose stored length equals its
/// uncompressed length is stored as is (see [`Frame::is_stored`]).
pub(crate) const OLDEST_VERSION: u8 = 2;
/// Number of sections.
pub(crate) const SECTIONS: usize = 7;
/// Uncompressed bytes of series data per compressed frame (a larger series
/// blob gets a frame of its own).
pub(crate) const FRAME_TARGET: usize = 16 << 10;
/// Bytes of a frames-table entry.
pub(crate) const FRAME_LEN: usize = 28;
/// Footer length: section table, block facts, CRC, magic.
pub(crate) const FOOTER_LEN: usize = SECTIONS * 20 + 32 + 4 + 8;
/// File name suffix of a block.
pub const BLOCK_SUFFIX: &str = ".wkb";
/// Suffix of a block being written.
pub(crate) const TMP_SUFFIX: &str = ".tmp";
/// Bytes of a series-table entry besides its labels.
pub(crate) const SERIES_FIXED: usize = 2 + 8 + 4 + 8 + 8 + 4 + 4;
/// Bytes of a label-index pair entry.
pub(crate) const PAIR_LEN: usize = 16;
/// Bytes of a label-index name entry.
pub(crate) const NAME_LEN: usize = 8;

/// The sections of a block file, in file order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SectionId {
    Data = 0,
    Symbols = 1,
    Series = 2,
    LabelIndex = 3,
    Postings = 4,
    Meta = 5,
    Frames = 6,
}

/// One compressed frame of the data section.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Frame {
    /// Offset of the compressed bytes from the start of the data section.
    pub offset: u64,
    /// Compressed length.
    pub len: u32,
    /// Offset of the frame's content in the uncompressed series-data stream.
    pub ustart: u64,
    /// Uncompressed length.
    pub ulen: u32,
    /// CRC-32C of the compressed bytes.
    pub crc: u32,
}

impl Frame {
    /// Whether the frame is stored as is, not deflated: in a version 3 block,
    /// when its stored length equals its content's. (The writer stores a frame
    /// as is when deflate saves less than an eighth of it, so a deflated frame
    /// is always shorter than its content.)
    pub(crate) fn is_stored(&self, version: u8) -> bool {
        version >= 3 && self.len == self.ulen
    }
}

pub(crate) fn encode_frames(frames: &[Frame], out: &mut Vec<u8>) {
    out.extend_from_slice(&(frames.len() as u32).to_le_bytes());
    for f in frames {
        out.extend_from_slice(&f.offset.to_le_bytes());
        out.extend_from_slice(&f.len.to_le_bytes());
        out.extend_from_slice(&f.ustart.to_le_bytes());
        out.extend_from_slice(&f.ulen.to_le_bytes());
        out.extend_from_slice(&f.crc.to_le_bytes());
    }
}

/// Frame `i` of a frames section (bounds checked by the caller's validation).
pub(crate) fn frame_at(section: &[u8], i: usize) -> Option<Frame> {
    let at = 4 + i * FRAME_LEN;
    Some(Frame {
        offset: u64_at(section, at)?,
        len: u32_at(section, at + 8)?,
        ustart: u64_at(section, at + 12)?,
        ulen: u32_at(section, at + 20)?,
        crc: u32_at(section, at + 24)?,
    })
}

/// Where a section lies and its checksum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Section {
    pub offset: u64,
    pub len: u64,
    pub crc: u32,
}

/// What a block holds; the footer and the meta section carry it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockMeta {
    /// Start of the block's time range (inclusive, milliseconds).
    pub mint: i64,
    /// End of the block's time range (exclusive).
    pub maxt: i64,
    /// Series in the block.
    pub num_series: u64,
    /// Samples in the block.
    pub num_samples: u64,
    /// 0 for a block cut from the head; one more than its highest source for a
    /// compacted block.
    pub level: u32,
    /// Names of the blocks this one was compacted from; they are deleted when
    /// found beside it at open (a crash between writing it and removing them).
    pub sources: Vec<String>,
}

/// Returns the file stem of the block covering `[mint, maxt)`.
pub fn block_name(mint: i64, maxt: i64) -> String {
    format!("{mint}_{maxt}")
}

/// A series-table entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SeriesRecord {
    pub labels: Vec<(u32, u32)>,
    pub data_off: u64,
    pub data_len: u32,
    pub mint: i64,
    pub maxt: i64,
    pub samples: u32,
    pub crc: u32,
}

pub(crate) fn encode_symbols(symbols: &[&str], out: &mut Vec<u8>) {
    out.extend_from_slice(&(symbols.len() as u32).to_le_bytes());
    let mut off = 0u32;
    out.extend_from_slice(&off.to_le_bytes());
    for s in symbols {
        off += s.len() as u32;
        out.extend_from_slice(&off.to_le_bytes());
    }
    for s in symbols {
        out.extend_from_slice(s.as_bytes());
    }
}

pub(crate) fn encode_series_table(entries: &[SeriesRecord], out: &mut Vec<u8>) {
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    let table = out.len();
    out.resize(table + entries.len() * 8, 0);
    let start = table - 4;
    for (i, e) in entries.iter().enumerate() {
        let at = (out.len() - start) as u64;
        out[table + i * 8..table + i * 8 + 8].copy_from_slice(&at.to_le_bytes());
        out.extend_from_slice(&(e.labels.len() as u16).to_le_bytes());
        for &(n, v) in &e.labels {
            out.extend_from_slice(&n.to_le_bytes());
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&e.data_off.to_le_bytes());
        out.extend_from_slice(&e.data_len.to_le_bytes());
        out.extend_from_slice(&e.mint.to_le_bytes());
        out.extend_from_slice(&e.maxt.to_le_bytes());
        out.extend_from_slice(&e.samples.to_le_bytes());
        out.extend_from_slice(&e.crc.to_le_bytes());
    }
}

/// Encodes the name and pair tables into `index` and the postings lists into
/// `postings`. `pairs` is ordered by (name symbol, value symbol).
pub(crate) fn encode_label_index(pairs: &BTreeMap<(u32, u32), Vec<u32>>, index: &mut Vec<u8>, postings: &mut Vec<u8>) {
    let mut names: Vec<(u32, u32)> = Vec::new();
    for (i, &(n, _)) in pairs.keys().enumerate() {
        if names.last().is_none_or(|&(last, _)| last != n) {
            names.push((n, i as u32));
        }
    }
    index.extend_from_slice(&(names.len() as u32).to_le_bytes());
    for (n, first) in names {
        index.extend_from_slice(&n.to_le_bytes());
        index.extend_from_slice(&first.to_le_bytes());
    }
    index.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    for (&(_, v), ids) in pairs {
        index.extend_from_slice(&v.to_le_bytes());
        index.extend_from_slice(&(postings.len() as u64 / 4).to_le_bytes());
        index.extend_from_slice(&(ids.len() as u32).to_le_bytes());
        for id in ids {
            postings.extend_from_slice(&id.to_le_bytes());
        }
    }
}

pub(crate) fn encode_meta(meta: &BlockMeta, out: &mut Vec<u8>) {
    out.push(1); // meta version
    put_uvarint(out, u64::from(meta.level));
    put_uvarint(out, meta.sources.len() as u64);
    for s in &meta.sources {
        put_uvarint(out, s.len() as u64);
        out.extend_from_slice(s.as_bytes());
    }
}

pub(crate) fn decode_meta(bytes: &[u8], meta: &mut BlockMeta) -> Result<(), CodecError> {
    let mut c = Cursor::new(bytes);
    if c.u8()? != 1 {
        return Err(CodecError::Invalid("unknown meta version"));
    }
    meta.level = u32::try_from(c.uvarint()?).map_err(|_| CodecError::Invalid("level"))?;
    let n = c.count(bytes.len())?;
    meta.sources = Vec::with_capacity(n);
    for _ in 0..n {
        let len = c.count(c.remaining())?;
        let s = std::str::from_utf8(c.bytes(len)?).map_err(|_| CodecError::Invalid("source name not UTF-8"))?;
        meta.sources.push(s.to_owned());
    }
    if !c.is_empty() {
        return Err(CodecError::Invalid("trailing bytes in meta"));
    }
    Ok(())
}

pub(crate) fn encode_footer(sections: &[Section; SECTIONS], meta: &BlockMeta, out: &mut Vec<u8>) {
    let start = out.len();
    for s in sections {
        out.extend_from_slice(&s.offset.to_le_bytes());
        out.extend_from_slice(&s.len.to_le_bytes());
        out.extend_from_slice(&s.crc.to_le_bytes());
    }
    out.extend_from_slice(&meta.mint.to_le_bytes());
    out.extend_from_slice(&meta.maxt.to_le_bytes());
    out.extend_from_slice(&meta.num_series.to_le_bytes());
    out.extend_from_slice(&meta.num_samples.to_le_bytes());
    let crc = crc32c::crc32c(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&FOOTER_MAGIC);
}

/// Reads a little-endian integer at `at`, if the bytes are there.
pub(crate) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

pub(crate) fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at.checked_add(8)?)?.try_into().ok()?))
}

pub(crate) fn i64_at(b: &[u8], at: usize) -> Option<i64> {
    u64_at(b, at).map(|x| x as i64)
}

pub(crate) fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at.checked_add(2)?)?.try_into().ok()?))
}

/// Decodes and checks the footer of a whole file: magic, version, CRC,
/// section bounds. Returns the sections, the facts and the format version.
pub(crate) fn decode_footer(file: &[u8]) -> Result<([Section; SECTIONS], BlockMeta, u8), &'static str> {
    if file.len() < HEADER.len() + FOOTER_LEN {
        return Err("file shorter than header and footer");
    }
    if file[..4] != HEADER[..4] {
        return Err("bad magic: not a block file");
    }
    let version = file[4];
    if !(OLDEST_VERSION..=HEADER[4]).contains(&version) {
        return Err("unsupported block format version");
    }
    if file[5..HEADER.len()] != HEADER[5..] {
        return Err("reserved header bytes are not zero");
    }
    let footer = &file[file.len() - FOOTER_LEN..];
    if footer[FOOTER_LEN - 8..FOOTER_LEN - 1] != FOOTER_MAGIC[..7] || footer[FOOTER_LEN - 1] != version {
        return Err("footer magic missing: file truncated or not a block");
    }
    let body = &footer[..FOOTER_LEN - 12];
    let crc = u32_at(footer, FOOTER_LEN - 12).ok_or("footer")?;
    if crc32c::crc32c(body) != crc {
        return Err("footer checksum mismatch");
    }
    let mut sections = [Section::default(); SECTIONS];
    let data_end = (file.len() - FOOTER_LEN) as u64;
    for (i, s) in sections.iter_mut().enumerate() {
        let at = i * 20;
        *s = Section {
            offset: u64_at(body, at).ok_or("footer")?,
            len: u64_at(body, at + 8).ok_or("footer")?,
            crc: u32_at(body, at + 16).ok_or("footer")?,
        };
        let end = s.offset.checked_add(s.len).ok_or("section bounds overflow")?;
        if s.offset < HEADER.len() as u64 || end > data_end {
            return Err("section outside the file");
        }
    }
    let at = SECTIONS * 20;
    let meta = BlockMeta {
        mint: i64_at(body, at).ok_or("footer")?,
        maxt: i64_at(body, at + 8).ok_or("footer")?,
        num_series: u64_at(body, at + 16).ok_or("footer")?,
        num_samples: u64_at(body, at + 24).ok_or("footer")?,
        level: 0,
        sources: Vec::new(),
    };
    if meta.mint >= meta.maxt {
        return Err("empty or inverted time range");
    }
    Ok((sections, meta, version))
}
