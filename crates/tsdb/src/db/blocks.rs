//! Persistent blocks of a [`Db`]: loading them at open, cutting the head into
//! blocks, WAL checkpoints, compaction and retention.
//!
//! The life of a sample: WAL and head → (head spans 1.5 block ranges) a level-0
//! block of `block_range` → (all blocks of an aligned window of 3×, 9×, 27× that
//! range are in) one compacted block → (older than retention, or the oldest
//! while over the size limit) deleted.
//!
//! Order of a cut, so that nothing is lost or seen twice at any crash point:
//! 1. raise the head's `min_valid` to the block's end: no sample below it enters
//!    the head any more (commits re-check it under the shard lock);
//! 2. write the block (tmp file, fsync, rename, fsync dir) and publish it to
//!    queriers together with the head's new query bound;
//! 3. truncate the head below the bound;
//! 4. checkpoint the WAL (series still needed, samples at or above the bound) and
//!    remove the segments it covers.
//!
//! A crash after 2 replays samples below the bound, which replay skips (they are
//! in the block); a crash during 4 leaves the previous checkpoint and segments.

use std::collections::{BinaryHeap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use wk_model::{Labels, Sample};
use wk_wal::WalFs;

use super::Db;
use super::wal_records::{self, Decoded, RefSample};
use crate::block::{BLOCK_SUFFIX, Block, BlockMeta, BlockWriter};
use crate::error::{Result, TsdbError};

/// Name of the blocks directory inside the data directory.
pub const BLOCKS_DIR: &str = "blocks";
/// Suffix given to a block file that failed validation at open.
pub const CORRUPT_SUFFIX: &str = ".corrupt";

/// The blocks queriers see, and the head's lower bound that goes with them.
#[derive(Debug, Clone, Default)]
pub(crate) struct BlockSet {
    /// Sorted by `mint`.
    pub blocks: Vec<Arc<Block>>,
    /// Head samples below this are in blocks; queriers read the head from here.
    pub head_min: i64,
}

impl BlockSet {
    fn max_t(&self) -> Option<i64> {
        self.blocks.iter().map(|b| b.meta().maxt).max()
    }
}

/// What [`load`] found in the blocks directory.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pub blocks: Vec<Arc<Block>>,
    /// Blocks that failed validation and were renamed `*.wkb.corrupt`.
    pub quarantined: Vec<PathBuf>,
    /// Blocks removed because a compacted block replaces them.
    pub superseded: usize,
}

fn io<'p>(op: &'static str, path: &'p Path) -> impl FnOnce(std::io::Error) -> TsdbError + 'p {
    move |source| TsdbError::Io { op, path: path.to_path_buf(), source }
}

/// Opens every block in `dir` (creating it), removing unfinished files,
/// quarantining damaged blocks and removing blocks a complete compacted block
/// lists as its sources.
pub(crate) fn load(fs: &dyn WalFs, dir: &Path) -> Result<Loaded> {
    wk_wal::create_dir_durably(fs, dir).map_err(io("create blocks directory", dir))?;
    let mut loaded = Loaded::default();
    let mut entries = fs.list_dir(dir).map_err(io("list blocks directory", dir))?;
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    for entry in entries.iter().filter(|e| !e.is_dir) {
        let path = dir.join(&entry.name);
        if entry.name.ends_with(".tmp") {
            tracing::info!(path = %path.display(), "removing unfinished block file");
            fs.remove_file(&path).map_err(io("remove unfinished block", &path))?;
            continue;
        }
        if !entry.name.ends_with(BLOCK_SUFFIX) {
            continue;
        }
        match Block::open(fs, &path) {
            Ok(b) => loaded.blocks.push(Arc::new(b)),
            Err(TsdbError::InvalidBlock { path: bad, detail }) => {
                // Keep running on the rest: a damaged file must not crash-loop the
                // process. It is kept aside for inspection.
                let aside = PathBuf::from(format!("{}{CORRUPT_SUFFIX}", path.display()));
                tracing::error!(block = %path.display(), file = %bad.display(), error = %detail, moved_to = %aside.display(), "damaged TSDB block quarantined; its samples are not served");
                fs.rename(&path, &aside).map_err(io("quarantine damaged block", &path))?;
                loaded.quarantined.push(aside);
            }
            Err(e) => return Err(e),
        }
    }
    let sources: HashSet<String> = loaded.blocks.iter().flat_map(|b| b.meta().sources.iter().cloned()).collect();
    let (superseded, keep): (Vec<_>, Vec<_>) = loaded.blocks.drain(..).partition(|b| sources.contains(b.name()));
    for b in &superseded {
        tracing::info!(block = %b.path().display(), "removing block replaced by a compacted block");
        remove_block_files(fs, b)?;
    }
    loaded.superseded = superseded.len();
    loaded.blocks = keep;
    loaded.blocks.sort_by_key(|b| (b.meta().mint, b.meta().maxt));
    for pair in loaded.blocks.windows(2) {
        if pair[0].meta().maxt > pair[1].meta().mint {
            tracing::warn!(a = pair[0].name(), b = pair[1].name(), "TSDB blocks overlap; queries merge them");
        }
    }
    Ok(loaded)
}

fn remove_block_files(fs: &dyn WalFs, b: &Block) -> Result<()> {
    let tomb = b.tombstones_path();
    if fs.file_len(&tomb).is_ok() {
        fs.remove_file(&tomb).map_err(io("remove tombstones", &tomb))?;
    }
    fs.remove_file(b.path()).map_err(io("remove block", b.path()))
}

/// Floor division for possibly negative timestamps.
fn align_down(t: i64, range: i64) -> i64 {
    t.div_euclid(range) * range
}

/// What one [`Db::maintain`] run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaintainReport {
    /// Blocks cut from the head.
    pub blocks_cut: u32,
    /// Compactions run.
    pub compactions: u32,
    /// Blocks deleted by time retention.
    pub deleted_by_time: u32,
    /// Blocks deleted by size retention.
    pub deleted_by_size: u32,
    /// WAL checkpoints written.
    pub checkpoints: u32,
}

/// What [`Db::delete_series`] deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteReport {
    /// Head series that had samples in the range.
    pub head_series: u64,
    /// (block, series) pairs that received a tombstone.
    pub block_series: u64,
}

/// Name of the snapshots directory inside the data directory.
pub const SNAPSHOTS_DIR: &str = "snapshots";

impl Db {
    /// Rewrites every block that has tombstones without the deleted samples,
    /// as Prometheus's `/api/v1/admin/tsdb/clean_tombstones`, and returns how
    /// many blocks were rewritten. The new block lists the old one as its
    /// source, so a crash at any point leaves either the old block with its
    /// tombstones or the new one.
    pub fn clean_tombstones(&self) -> Result<usize> {
        let _one = self.maintenance.lock();
        let dir = self.blocks_dir();
        let mut rewritten = 0;
        // Bound first: a guard in the loop header would live through the loop.
        let blocks = self.blocks.read().blocks.clone();
        for old in blocks {
            if old.tombstones().is_empty() {
                continue;
            }
            let meta = BlockMeta {
                mint: old.meta().mint,
                maxt: old.meta().maxt,
                level: old.meta().level,
                sources: vec![old.name().to_owned()],
                ..Default::default()
            };
            let base = crate::block::block_name(meta.mint, meta.maxt);
            let name = (1..)
                .map(|n| format!("{base}-r{n}"))
                .find(|n| self.fs.file_len(&dir.join(format!("{n}{BLOCK_SUFFIX}"))).is_err())
                .expect("an unused name");
            let mut writer = BlockWriter::create_named(&*self.fs, &dir, meta, name)?;
            let tmp = writer.tmp_path().to_path_buf();
            let written = merge_into(std::slice::from_ref(&old), &mut writer).and_then(|()| writer.finish());
            let path = written.inspect_err(|_| self.discard_tmp(&tmp))?;
            let new = match path {
                Some(p) => Some(Arc::new(Block::open(&*self.fs, &p)?)),
                None => None,
            };
            {
                let mut set = self.blocks.write();
                set.blocks.retain(|b| !Arc::ptr_eq(b, &old));
                if let Some(b) = &new {
                    set.blocks.push(Arc::clone(b));
                }
                set.blocks.sort_by_key(|b| (b.meta().mint, b.meta().maxt));
            }
            remove_block_files(&*self.fs, &old)?;
            rewritten += 1;
            tracing::info!(block = old.name(), "TSDB block rewritten without its deleted samples");
        }
        Ok(rewritten)
    }

    /// Writes a snapshot of the database to `<dir>/snapshots/<name>/blocks/`:
    /// every block (hard links: no copy, no pause) and, unless `skip_head`, one
    /// more block holding the head's samples. The snapshot directory is itself
    /// a data directory Watchkeeper can open. Returns its path.
    pub fn snapshot(&self, name: &str, skip_head: bool) -> Result<PathBuf> {
        let _one = self.maintenance.lock();
        let root = self.dir.join(SNAPSHOTS_DIR).join(name);
        let dir = root.join(BLOCKS_DIR);
        wk_wal::create_dir_durably(&*self.fs, &dir).map_err(io("create snapshot directory", &dir))?;
        let blocks = self.blocks.read().blocks.clone();
        for b in blocks {
            let to = dir.join(format!("{}{BLOCK_SUFFIX}", b.name()));
            self.fs.link_or_copy(b.path(), &to).map_err(io("link block into snapshot", &to))?;
            let tomb = b.tombstones_path();
            if self.fs.file_len(&tomb).is_ok() {
                let to = to.with_extension("tombstones");
                self.fs.link_or_copy(&tomb, &to).map_err(io("link tombstones into snapshot", &to))?;
            }
        }
        if !skip_head && let Some((lo, hi)) = self.head.time_range() {
            let head_min = self.blocks.read().head_min;
            let lo = lo.max(head_min);
            let meta = BlockMeta { mint: lo, maxt: hi.saturating_add(1), ..Default::default() };
            let querier = self.head.querier();
            let mut writer = BlockWriter::create(&*self.fs, &dir, meta)?;
            for (labels, r) in querier.sorted_series(&[], lo, hi) {
                let samples = querier
                    .series_samples(r, &labels, lo, hi)
                    .map_err(|e| TsdbError::HeadRead { detail: e.to_string() })?;
                writer.add_series(&labels, &samples)?;
            }
            writer.finish()?;
        }
        self.fs.sync_dir(&dir).map_err(io("fsync snapshot directory", &dir))?;
        tracing::info!(path = %root.display(), skip_head, "TSDB snapshot written");
        Ok(root)
    }

    /// Deletes the samples in `[mint, maxt]` (inclusive, milliseconds) of every
    /// series matching `matchers`, as Prometheus's
    /// `/api/v1/admin/tsdb/delete_series`. Head deletions are logged in the WAL
    /// before they apply (so they survive a crash); blocks get tombstones that
    /// hide the samples at once and compaction later drops for good. Fails with
    /// [`TsdbError::Unavailable`] when the log cannot be written, and
    /// [`TsdbError::Io`] when a tombstones file cannot be.
    pub fn delete_series(&self, matchers: &[wk_model::Matcher], mint: i64, maxt: i64) -> Result<DeleteReport> {
        let _one = self.maintenance.lock();
        let mut report = DeleteReport::default();
        let querier = self.head.querier();
        let mut refs: Vec<u32> = querier.sorted_series(matchers, mint, maxt).into_iter().map(|(_, r)| r.0).collect();
        refs.sort_unstable();
        if !refs.is_empty() {
            let (mut records, newly) = super::appender::unlogged_series_records(self, &refs);
            let entries: Vec<_> = refs.iter().map(|&r| wal_records::Deletion { r, mint, maxt }).collect();
            let mut buf = Vec::new();
            wal_records::encode_deletions(&mut buf, self.epoch, &entries);
            records.push(buf);
            let slices: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
            super::appender::log_then_apply(self, &slices, &newly, || {
                for &r in &refs {
                    self.head.delete_range(wk_storage::SeriesRef(r), mint, maxt);
                }
            })
            .map_err(|e| TsdbError::Unavailable { detail: format!("logging the deletion: {e}") })?;
            report.head_series = refs.len() as u64;
        }
        let blocks = self.blocks.read().blocks.clone();
        for b in blocks {
            let ids = b.select_ids(matchers, mint, maxt);
            if ids.is_empty() {
                continue;
            }
            let mut t = (*b.tombstones()).clone();
            for &id in &ids {
                t.add(id, mint, maxt);
            }
            t.store(&*self.fs, &b.tombstones_path())?;
            b.set_tombstones(t);
            report.block_series += ids.len() as u64;
        }
        tracing::info!(
            ?matchers,
            mint,
            maxt,
            head_series = report.head_series,
            block_series = report.block_series,
            "TSDB series deleted"
        );
        Ok(report)
    }

    /// Runs the storage's periodic work: cuts the head into blocks when it spans
    /// 1.5 block ranges (then checkpoints and truncates the WAL), compacts
    /// finished windows, and applies retention. Retention runs even when cutting
    /// or compaction failed (for example on a full disk), and the first error is
    /// returned after everything was tried. Only one run at a time; others wait.
    pub fn maintain(&self) -> Result<MaintainReport> {
        let _one = self.maintenance.lock();
        let mut report = MaintainReport::default();
        let mut first_err = None;
        let cut = self.cut_blocks(&mut report);
        if let Err(e) = cut {
            self.counters.cut_failures.fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %e, "cutting the TSDB head into a block failed; will retry");
            first_err = Some(e);
        } else if let Err(e) = self.compact(&mut report) {
            self.counters.compaction_failures.fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %e, "TSDB compaction failed; will retry");
            first_err = Some(e);
        }
        if let Err(e) = self.apply_retention(&mut report) {
            tracing::error!(error = %e, "TSDB retention failed; will retry");
            first_err.get_or_insert(e);
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    fn blocks_dir(&self) -> PathBuf {
        self.dir.join(BLOCKS_DIR)
    }

    /// Cuts level-0 blocks while the head spans at least 1.5 block ranges.
    fn cut_blocks(&self, report: &mut MaintainReport) -> Result<()> {
        let range = self.options.block_range_ms;
        loop {
            let Some((min_t, max_t)) = self.head.time_range() else {
                return Ok(());
            };
            if max_t.saturating_sub(min_t) < range / 2 * 3 {
                return Ok(());
            }
            // From the head's oldest sample, not from `min_valid`: a cut that
            // failed (full disk) has raised `min_valid` past data it did not
            // write, and this retry must cover that data.
            let start = align_down(min_t, range);
            let end = start + range;
            self.cut_block(start, end)?;
            report.blocks_cut += 1;
            self.checkpoint_wal(end)?;
            report.checkpoints += 1;
        }
    }

    /// Cuts the head's samples in `[start, end)` into a block (steps 1–3 of the
    /// module docs).
    pub(crate) fn cut_block(&self, start: i64, end: i64) -> Result<()> {
        let started = Instant::now();
        self.head.raise_min_valid(end);
        let querier = self.head.querier();
        let series = querier.sorted_series(&[], start, end - 1);
        let dir = self.blocks_dir();
        let meta = BlockMeta { mint: start, maxt: end, level: 0, ..Default::default() };
        let mut writer = BlockWriter::create(&*self.fs, &dir, meta)?;
        let tmp = writer.tmp_path().to_path_buf();
        let written = (|| {
            for (labels, r) in &series {
                let samples = querier
                    .series_samples(*r, labels, start, end - 1)
                    .map_err(|e| TsdbError::HeadRead { detail: e.to_string() })?;
                writer.add_series(labels, &samples)?;
            }
            writer.finish()
        })();
        let path = written.inspect_err(|_| self.discard_tmp(&tmp))?;
        let block = match path {
            Some(p) => Some(Arc::new(Block::open(&*self.fs, &p)?)),
            None => None,
        };
        {
            let mut set = self.blocks.write();
            if let Some(b) = &block {
                set.blocks.push(Arc::clone(b));
                set.blocks.sort_by_key(|b| (b.meta().mint, b.meta().maxt));
            }
            set.head_min = set.head_min.max(end);
        }
        let emptied = self.head.truncate(end);
        let collected = self.head.gc();
        self.counters.blocks_cut.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            mint = start,
            maxt = end,
            series = block.as_ref().map_or(0, |b| b.meta().num_series),
            samples = block.as_ref().map_or(0, |b| b.meta().num_samples),
            bytes = block.as_ref().map_or(0, |b| b.size_bytes()),
            series_without_head_samples = emptied,
            series_garbage_collected = collected,
            duration_ms = started.elapsed().as_millis() as u64,
            "TSDB head cut into a block"
        );
        Ok(())
    }

    /// Removes a block file left unfinished by a failed write (logged, not
    /// fatal: the next open removes leftovers too).
    fn discard_tmp(&self, tmp: &Path) {
        if self.fs.file_len(tmp).is_ok()
            && let Err(e) = self.fs.remove_file(tmp)
        {
            tracing::warn!(path = %tmp.display(), error = %e, "could not remove an unfinished block file");
        }
    }

    /// Writes a WAL checkpoint holding what replay still needs once the head
    /// holds nothing below `keep_from`, then removes the segments it covers.
    pub(crate) fn checkpoint_wal(&self, keep_from: i64) -> Result<()> {
        let wal_err = |source| TsdbError::Wal { dir: self.wal.dir().to_path_buf(), source };
        let active = self.wal.roll().map_err(wal_err)?;
        let through = active - 1;
        // Pass 1: which series of earlier processes still have samples to keep.
        let mut referenced: HashSet<(u64, u32)> = HashSet::new();
        let mut buf = Vec::new();
        self.wal
            .replay_through(through, |rec| {
                if let Ok(Decoded::Samples { epoch }) = wal_records::decode_into(rec.payload, &mut buf)
                    && epoch != self.epoch
                {
                    referenced.extend(buf.iter().filter(|s| s.t >= keep_from).map(|s| (epoch, s.r)));
                }
            })
            .map_err(wal_err)?;
        // Pass 2: stream the kept records into the checkpoint.
        let epoch = self.epoch;
        let (records, info) = std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(64);
            let producer = scope.spawn(move || {
                let mut buf = Vec::new();
                let mut kept = 0u64;
                let result = self.wal.replay_through(through, |rec| {
                    let out = match wal_records::decode_into(rec.payload, &mut buf) {
                        Ok(Decoded::Series { epoch: e, series }) => {
                            let keep: Vec<(u32, &Labels)> = series
                                .iter()
                                .filter(|(r, _)| e == epoch || referenced.contains(&(e, *r)))
                                .map(|(r, l)| (*r, l))
                                .collect();
                            (!keep.is_empty()).then(|| {
                                let mut out = Vec::new();
                                wal_records::encode_series(&mut out, e, keep.into_iter());
                                out
                            })
                        }
                        Ok(Decoded::Samples { epoch: e }) => {
                            let keep: Vec<RefSample> = buf.iter().filter(|s| s.t >= keep_from).copied().collect();
                            (!keep.is_empty()).then(|| {
                                let mut out = Vec::new();
                                wal_records::encode_samples(&mut out, e, keep.into_iter());
                                out
                            })
                        }
                        Ok(Decoded::Deletions { epoch: e, entries }) => {
                            // Kept in log order: they delete the samples before them.
                            let keep: Vec<_> = entries
                                .into_iter()
                                .filter(|d| d.maxt >= keep_from && (e == epoch || referenced.contains(&(e, d.r))))
                                .collect();
                            (!keep.is_empty()).then(|| {
                                let mut out = Vec::new();
                                wal_records::encode_deletions(&mut out, e, &keep);
                                out
                            })
                        }
                        Err(_) => None,
                    };
                    if let Some(out) = out {
                        kept += 1;
                        // The consumer only stops early on an error, reported below.
                        let _ = tx.send(out);
                    }
                });
                drop(tx);
                result.map(|_| kept)
            });
            let info = self.wal.write_checkpoint(through, rx.iter());
            let records = producer.join().expect("checkpoint reader panicked");
            (records, info)
        });
        records.map_err(wal_err)?;
        let info = info.map_err(wal_err)?;
        let removed = self.wal.truncate_before(through + 1).map_err(wal_err)?;
        self.counters.checkpoints.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            checkpoint = info.number,
            records = info.records,
            bytes = info.bytes,
            segments_removed = removed,
            "TSDB WAL checkpointed and truncated"
        );
        Ok(())
    }

    /// The compaction ranges: 3×, 9× and 27× the block range, capped at a tenth
    /// of the time retention (as Prometheus caps its block sizes).
    fn compaction_ranges(&self) -> Vec<i64> {
        let base = self.options.block_range_ms;
        let cap = if self.options.retention_ms > 0 { self.options.retention_ms / 10 } else { i64::MAX };
        [3, 9, 27].iter().map(|m| base.saturating_mul(*m)).filter(|&r| r <= cap).collect()
    }

    /// Merges the blocks of every finished aligned window, smallest ranges first.
    fn compact(&self, report: &mut MaintainReport) -> Result<()> {
        for range in self.compaction_ranges() {
            loop {
                let set = self.blocks.read().clone();
                let group = plan(&set, range);
                if group.len() < 2 {
                    break;
                }
                self.compact_group(&group)?;
                report.compactions += 1;
            }
        }
        Ok(())
    }

    fn compact_group(&self, group: &[Arc<Block>]) -> Result<()> {
        let started = Instant::now();
        let mint = group.iter().map(|b| b.meta().mint).min().unwrap_or(0);
        let maxt = group.iter().map(|b| b.meta().maxt).max().unwrap_or(0);
        let meta = BlockMeta {
            mint,
            maxt,
            level: group.iter().map(|b| b.meta().level).max().unwrap_or(0) + 1,
            sources: group.iter().map(|b| b.name().to_owned()).collect(),
            ..Default::default()
        };
        let dir = self.blocks_dir();
        let mut writer = BlockWriter::create(&*self.fs, &dir, meta)?;
        let tmp = writer.tmp_path().to_path_buf();
        let written = merge_into(group, &mut writer).and_then(|()| writer.finish());
        let path = written.inspect_err(|_| self.discard_tmp(&tmp))?;
        let new = match path {
            Some(p) => Some(Arc::new(Block::open(&*self.fs, &p)?)),
            None => None,
        };
        {
            let mut set = self.blocks.write();
            set.blocks.retain(|b| !group.iter().any(|g| Arc::ptr_eq(b, g)));
            if let Some(b) = &new {
                set.blocks.push(Arc::clone(b));
            }
            set.blocks.sort_by_key(|b| (b.meta().mint, b.meta().maxt));
        }
        for b in group {
            remove_block_files(&*self.fs, b)?;
        }
        self.counters.compactions.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            mint,
            maxt,
            sources = group.len(),
            series = new.as_ref().map_or(0, |b| b.meta().num_series),
            bytes = new.as_ref().map_or(0, |b| b.size_bytes()),
            duration_ms = started.elapsed().as_millis() as u64,
            "TSDB blocks compacted"
        );
        Ok(())
    }

    /// Deletes blocks past the time retention, then the oldest blocks while the
    /// blocks and the WAL together exceed the size retention.
    fn apply_retention(&self, report: &mut MaintainReport) -> Result<()> {
        let set = self.blocks.read().clone();
        let newest = set.max_t().into_iter().chain(self.head.time_range().map(|(_, hi)| hi)).max();
        let mut doomed: Vec<(Arc<Block>, &'static str)> = Vec::new();
        if let (Some(newest), true) = (newest, self.options.retention_ms > 0) {
            let horizon = newest.saturating_sub(self.options.retention_ms);
            for b in set.blocks.iter().filter(|b| b.meta().maxt <= horizon) {
                doomed.push((Arc::clone(b), "time"));
            }
        }
        if self.options.retention_bytes > 0 {
            let mut total = self.wal_bytes() + set.blocks.iter().map(|b| b.size_bytes()).sum::<u64>();
            for b in &set.blocks {
                if total <= self.options.retention_bytes {
                    break;
                }
                total = total.saturating_sub(b.size_bytes());
                if !doomed.iter().any(|(d, _)| Arc::ptr_eq(d, b)) {
                    doomed.push((Arc::clone(b), "size"));
                }
            }
        }
        if doomed.is_empty() {
            return Ok(());
        }
        self.blocks.write().blocks.retain(|b| !doomed.iter().any(|(d, _)| Arc::ptr_eq(b, d)));
        for (b, reason) in &doomed {
            remove_block_files(&*self.fs, b)?;
            match *reason {
                "time" => report.deleted_by_time += 1,
                _ => report.deleted_by_size += 1,
            }
            self.counters.retention_deletions.fetch_add(1, Ordering::Relaxed);
            tracing::info!(block = b.name(), reason, bytes = b.size_bytes(), "TSDB block deleted by retention");
        }
        Ok(())
    }

    /// Bytes of the WAL directory (segments and checkpoint).
    pub(crate) fn wal_bytes(&self) -> u64 {
        fn walk(fs: &dyn WalFs, dir: &Path) -> u64 {
            fs.list_dir(dir)
                .map(|es| {
                    es.iter()
                        .map(|e| {
                            let p = dir.join(&e.name);
                            if e.is_dir { walk(fs, &p) } else { fs.file_len(&p).unwrap_or(0) }
                        })
                        .sum()
                })
                .unwrap_or(0)
        }
        walk(&*self.fs, self.wal.dir())
    }
}

/// Picks the first aligned window of `range` that is complete (entirely below
/// the head) and holds at least two blocks.
fn plan(set: &BlockSet, range: i64) -> Vec<Arc<Block>> {
    let mut i = 0;
    while i < set.blocks.len() {
        let window = align_down(set.blocks[i].meta().mint, range);
        let group: Vec<Arc<Block>> = set.blocks[i..]
            .iter()
            .take_while(|b| align_down(b.meta().mint, range) == window)
            .filter(|b| b.meta().maxt <= window + range)
            .cloned()
            .collect();
        let taken = set.blocks[i..].iter().take_while(|b| align_down(b.meta().mint, range) == window).count();
        if group.len() >= 2 && window + range <= set.head_min {
            return group;
        }
        i += taken.max(1);
    }
    Vec::new()
}

/// One source block's cursor in a k-way merge by labels.
#[derive(Debug, PartialEq, Eq)]
struct Cursor {
    labels: Labels,
    block: usize,
    id: u32,
}

impl Ord for Cursor {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Reversed: BinaryHeap is a max-heap. Ties go to the older block first.
        other.labels.cmp(&self.labels).then(other.block.cmp(&self.block))
    }
}

impl PartialOrd for Cursor {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Streams the union of `blocks`' series in label order into `writer`, merging
/// samples of equal series and dropping tombstoned ones.
fn merge_into(blocks: &[Arc<Block>], writer: &mut BlockWriter<'_>) -> Result<()> {
    let mut heap = BinaryHeap::new();
    for (i, b) in blocks.iter().enumerate() {
        if b.num_series() > 0 {
            heap.push(Cursor { labels: b.labels(0), block: i, id: 0 });
        }
    }
    let (mut merged, mut buf) = (Vec::<Sample>::new(), Vec::new());
    while let Some(top) = heap.pop() {
        merged.clear();
        let labels = top.labels.clone();
        let mut next = Some(top);
        while let Some(c) = next {
            let b = &blocks[c.block];
            b.samples(c.id, i64::MIN, i64::MAX, &mut buf)?;
            merged.extend_from_slice(&buf);
            if (c.id as usize) + 1 < b.num_series() {
                heap.push(Cursor { labels: b.labels(c.id + 1), block: c.block, id: c.id + 1 });
            }
            next = heap.peek().is_some_and(|p| p.labels == labels).then(|| heap.pop()).flatten();
        }
        sort_dedup(&mut merged);
        writer.add_series(&labels, &merged)?;
    }
    Ok(())
}

/// Sorts samples by time and keeps the first of equal timestamps (older
/// sources come first).
pub(crate) fn sort_dedup(samples: &mut Vec<Sample>) {
    if samples.windows(2).all(|w| w[0].t < w[1].t) {
        return;
    }
    samples.sort_by_key(|s| s.t);
    samples.dedup_by_key(|s| s.t);
}
