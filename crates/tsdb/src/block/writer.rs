//! Writing a block file: series data streamed first, then the index sections and
//! the footer, all through the `WalFs` trait so power cuts can be simulated.
//!
//! Atomicity: the file is written as `<name>.wkb.tmp`, fsynced, renamed to
//! `<name>.wkb` and the directory fsynced. A crash leaves either no block or a
//! complete one; leftover `.tmp` files are removed when the database opens.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use wk_model::{Labels, Sample};
use wk_wal::{WalFile, WalFs};

use super::codec::encode_series;
use super::format::{self, BlockMeta, FOOTER_LEN, FRAME_TARGET, Frame, HEADER, Section, SectionId};
use crate::error::{Result, TsdbError};

/// Bytes buffered before a write to the file.
const FLUSH_AT: usize = 1 << 20;

/// Per-series facts gathered while the data section is written.
#[derive(Debug)]
struct SeriesEntry {
    labels: Labels,
    data_off: u64,
    data_len: u32,
    mint: i64,
    maxt: i64,
    samples: u32,
    crc: u32,
}

/// Writes one block. Series must be added in ascending label order, each with
/// ascending, distinct timestamps; [`BlockWriter::finish`] publishes the file.
#[derive(Debug)]
pub struct BlockWriter<'a> {
    fs: &'a dyn WalFs,
    dir: PathBuf,
    name: String,
    tmp: PathBuf,
    file: Arc<dyn WalFile>,
    buf: Vec<u8>,
    written: u64,
    data_crc: u32,
    meta: BlockMeta,
    series: Vec<SeriesEntry>,
    blob: Vec<u8>,
    /// Uncompressed series data of the frame being filled.
    frame: Vec<u8>,
    /// Where that frame starts in the uncompressed stream.
    frame_start: u64,
    frames: Vec<Frame>,
}

impl<'a> BlockWriter<'a> {
    /// Starts block `meta` (its `mint`/`maxt` are the block's time range,
    /// `[mint, maxt)`) in directory `dir`, which must exist.
    pub fn create(fs: &'a dyn WalFs, dir: &Path, meta: BlockMeta) -> Result<Self> {
        let name = format::block_name(meta.mint, meta.maxt);
        Self::create_named(fs, dir, meta, name)
    }

    /// Like [`BlockWriter::create`] with an explicit file stem (a rewritten
    /// block must not take its source's name).
    pub fn create_named(fs: &'a dyn WalFs, dir: &Path, meta: BlockMeta, name: String) -> Result<Self> {
        let tmp = dir.join(format!("{name}{}{}", format::BLOCK_SUFFIX, format::TMP_SUFFIX));
        let file = fs.create(&tmp).map_err(|source| TsdbError::Io { op: "create block", path: tmp.clone(), source })?;
        let mut w = Self {
            fs,
            dir: dir.to_path_buf(),
            name,
            tmp,
            file,
            buf: Vec::with_capacity(FLUSH_AT * 2),
            written: 0,
            data_crc: 0,
            meta: BlockMeta { num_series: 0, num_samples: 0, ..meta },
            series: Vec::new(),
            blob: Vec::new(),
            frame: Vec::with_capacity(FRAME_TARGET * 2),
            frame_start: 0,
            frames: Vec::new(),
        };
        w.buf.extend_from_slice(&HEADER);
        Ok(w)
    }

    /// Adds one series. Samples outside `[mint, maxt)` of the block are a bug of
    /// the caller and rejected, as are labels out of order.
    pub fn add_series(&mut self, labels: &Labels, samples: &[Sample]) -> Result<()> {
        let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
            return Ok(());
        };
        if let Some(prev) = self.series.last()
            && prev.labels >= *labels
        {
            return Err(self.invalid(format!("series {labels} added after {}", prev.labels)));
        }
        if first.t < self.meta.mint || last.t >= self.meta.maxt {
            return Err(self.invalid(format!("series {labels} has samples outside the block's range")));
        }
        self.blob.clear();
        encode_series(samples, &mut self.blob);
        if !self.frame.is_empty() && self.frame.len() + self.blob.len() > FRAME_TARGET {
            self.flush_frame()?;
        }
        let data_off = self.frame_start + self.frame.len() as u64;
        let crc = crc32c::crc32c(&self.blob);
        let data_len = u32::try_from(self.blob.len()).map_err(|_| self.invalid("series data over 4 GiB".into()))?;
        self.frame.extend_from_slice(&self.blob);
        self.series.push(SeriesEntry {
            labels: labels.clone(),
            data_off,
            data_len,
            mint: first.t,
            maxt: last.t,
            samples: u32::try_from(samples.len()).map_err(|_| self.invalid("over 2^32 samples".into()))?,
            crc,
        });
        self.meta.num_series += 1;
        self.meta.num_samples += samples.len() as u64;
        Ok(())
    }

    /// Compresses the pending frame (raw deflate, level 6: with the zlib-rs
    /// backend, level 1 left real node_exporter blocks 14% larger, and level 6
    /// writes as fast here, the column codec having done most of the work),
    /// or stores it as is when deflate saves less than an eighth of it: then
    /// the columns are mostly noise, and inflating them on every read (a
    /// fifth of a full-scan query's time) buys next to nothing.
    fn flush_frame(&mut self) -> Result<()> {
        use std::io::Write;
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&self.frame).map_err(self.io("compress block frame"))?;
        let compressed = enc.finish().map_err(self.io("compress block frame"))?;
        let stored: &[u8] =
            if compressed.len() >= self.frame.len() - self.frame.len() / 8 { &self.frame } else { &compressed };
        let too_big = || self.invalid("a compressed frame over 4 GiB".into());
        let frame = Frame {
            offset: self.data_len(),
            len: u32::try_from(stored.len()).map_err(|_| too_big())?,
            ustart: self.frame_start,
            ulen: u32::try_from(self.frame.len()).map_err(|_| too_big())?,
            crc: crc32c::crc32c(stored),
        };
        self.data_crc = crc32c::crc32c_append(self.data_crc, stored);
        self.buf.extend_from_slice(stored);
        self.frames.push(frame);
        self.frame_start += self.frame.len() as u64;
        self.frame.clear();
        self.flush_if_full()
    }

    /// The temporary file being written (removed by the caller on failure).
    pub fn tmp_path(&self) -> &Path {
        &self.tmp
    }

    /// Returns the number of series added so far.
    pub fn num_series(&self) -> u64 {
        self.meta.num_series
    }

    fn data_len(&self) -> u64 {
        self.written + self.buf.len() as u64 - HEADER.len() as u64
    }

    fn invalid(&self, detail: String) -> TsdbError {
        TsdbError::InvalidBlock { path: self.tmp.clone(), detail }
    }

    fn io(&self, op: &'static str) -> impl FnOnce(std::io::Error) -> TsdbError + '_ {
        move |source| TsdbError::Io { op, path: self.tmp.clone(), source }
    }

    fn flush_if_full(&mut self) -> Result<()> {
        if self.buf.len() >= FLUSH_AT {
            self.file.write_all(&self.buf).map_err(self.io("write block"))?;
            self.written += self.buf.len() as u64;
            self.buf.clear();
        }
        Ok(())
    }

    /// Writes the index sections and the footer, syncs, and renames the file
    /// into place. Returns the final path, or `None` (and removes the file) when
    /// no series was added.
    pub fn finish(mut self) -> Result<Option<PathBuf>> {
        if self.series.is_empty() {
            drop(self.file);
            self.fs.remove_file(&self.tmp).map_err(|source| TsdbError::Io {
                op: "remove empty block",
                path: self.tmp.clone(),
                source,
            })?;
            return Ok(None);
        }
        if !self.frame.is_empty() {
            self.flush_frame()?;
        }
        let mut sections = [Section::default(); format::SECTIONS];
        sections[SectionId::Data as usize] =
            Section { offset: HEADER.len() as u64, len: self.data_len(), crc: self.data_crc };

        // Symbols: every distinct label string, sorted, so symbol order is string order.
        let mut symbols: Vec<&str> =
            self.series.iter().flat_map(|s| s.labels.iter().flat_map(|(n, v)| [n, v])).collect();
        symbols.sort_unstable();
        symbols.dedup();
        let sym = |s: &str| symbols.binary_search(&s).expect("every label string is a symbol") as u32;

        let mut section = Vec::new();
        format::encode_symbols(&symbols, &mut section);
        let symbols_bytes = std::mem::take(&mut section);

        // Series table and postings per pair; series ids are positions, which are
        // in label order.
        let mut pairs: BTreeMap<(u32, u32), Vec<u32>> = BTreeMap::new();
        let mut entries = Vec::with_capacity(self.series.len());
        for (id, s) in self.series.iter().enumerate() {
            let ids: Vec<(u32, u32)> = s.labels.iter().map(|(n, v)| (sym(n), sym(v))).collect();
            for &p in &ids {
                pairs.entry(p).or_default().push(id as u32);
            }
            entries.push(format::SeriesRecord {
                labels: ids,
                data_off: s.data_off,
                data_len: s.data_len,
                mint: s.mint,
                maxt: s.maxt,
                samples: s.samples,
                crc: s.crc,
            });
        }
        format::encode_series_table(&entries, &mut section);
        let series_bytes = std::mem::take(&mut section);
        let mut postings = Vec::new();
        format::encode_label_index(&pairs, &mut section, &mut postings);
        let label_index_bytes = std::mem::take(&mut section);
        format::encode_meta(&self.meta, &mut section);
        let meta_bytes = std::mem::take(&mut section);
        format::encode_frames(&self.frames, &mut section);
        let frames_bytes = section;

        let mut offset = HEADER.len() as u64 + self.data_len();
        for (id, bytes) in [
            (SectionId::Symbols, &symbols_bytes),
            (SectionId::Series, &series_bytes),
            (SectionId::LabelIndex, &label_index_bytes),
            (SectionId::Postings, &postings),
            (SectionId::Meta, &meta_bytes),
            (SectionId::Frames, &frames_bytes),
        ] {
            sections[id as usize] = Section { offset, len: bytes.len() as u64, crc: crc32c::crc32c(bytes) };
            offset += bytes.len() as u64;
            self.buf.extend_from_slice(bytes);
            self.flush_if_full()?;
        }
        format::encode_footer(&sections, &self.meta, &mut self.buf);
        debug_assert_eq!(offset + FOOTER_LEN as u64, self.written + self.buf.len() as u64);
        self.file.write_all(&self.buf).map_err(self.io("write block"))?;
        self.buf.clear();
        self.file.sync_data().map_err(self.io("fsync block"))?;
        let path = self.dir.join(format!("{}{}", self.name, format::BLOCK_SUFFIX));
        self.fs.rename(&self.tmp, &path).map_err(self.io("rename block"))?;
        self.fs.sync_dir(&self.dir).map_err(|source| TsdbError::Io {
            op: "fsync blocks directory",
            path: self.dir.clone(),
            source,
        })?;
        Ok(Some(path))
    }
}
