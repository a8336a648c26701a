//! Checkpoints: a compacted copy of live state that replaces old segments.
//!
//! The TSDB periodically writes the records it still needs (for example the
//! series that are alive) as a checkpoint, then deletes the segments the
//! checkpoint covers. The WAL does not know what the records mean.
//!
//! A checkpoint is a directory `checkpoint.NNNNNNNN` beside the segments,
//! where `NNNNNNNN` is the number of the last segment whose content it
//! covers. Inside are files `00000001`, `00000002`, … with the same header and
//! record framing as segments. It is written atomically:
//!
//! 1. write the files in `checkpoint.NNNNNNNN.tmp`, fsync each, fsync the tmp dir;
//! 2. rename the tmp dir to `checkpoint.NNNNNNNN`, fsync the WAL directory;
//! 3. remove older checkpoints.
//!
//! At replay the newest complete checkpoint is read first, then only the
//! segments numbered above it. Leftover `.tmp` directories (a crash during
//! step 1) are removed when the WAL opens.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fs::WalFs;
use crate::reader::{RecordSource, Replayer};
use crate::record;
use crate::segment::{self, SEGMENT_HEADER_LEN};

const PREFIX: &str = "checkpoint.";
const TMP_SUFFIX: &str = ".tmp";

/// What [`Wal::write_checkpoint`](crate::Wal::write_checkpoint) wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointInfo {
    /// The checkpoint number: the last segment it covers.
    pub number: u64,
    /// The checkpoint directory.
    pub path: PathBuf,
    /// Records written.
    pub records: u64,
    /// Bytes written, headers and frames included.
    pub bytes: u64,
}

/// Returns the directory name of checkpoint `number`, e.g. `checkpoint.00000042`.
pub fn checkpoint_name(number: u64) -> String {
    format!("{PREFIX}{number:08}")
}

/// Parses a complete checkpoint directory name (not a `.tmp` one).
pub fn parse_checkpoint_name(name: &str) -> Option<u64> {
    segment::parse_segment_name(name.strip_prefix(PREFIX)?)
}

/// Lists complete checkpoints in `dir`, ascending, and removes leftover
/// temporary checkpoint directories when `clean` is set.
pub(crate) fn list(fs: &dyn WalFs, dir: &Path, clean: bool) -> Result<Vec<u64>> {
    let entries = fs.list_dir(dir).map_err(|e| Error::io("list directory", dir, e))?;
    let mut numbers = Vec::new();
    for entry in entries.iter().filter(|e| e.is_dir) {
        if let Some(n) = parse_checkpoint_name(&entry.name) {
            numbers.push(n);
        } else if clean && entry.name.starts_with(PREFIX) && entry.name.ends_with(TMP_SUFFIX) {
            let path = dir.join(&entry.name);
            tracing::info!(path = %path.display(), "removing unfinished WAL checkpoint");
            fs.remove_dir_all(&path).map_err(|e| Error::io("remove directory", &path, e))?;
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}

/// Replays every file of checkpoint `number` in `dir`.
pub(crate) fn replay(replayer: &mut Replayer<'_>, dir: &Path, number: u64) -> Result<()> {
    let cp_dir = dir.join(checkpoint_name(number));
    for file in segment::list_segments(replayer.fs, &cp_dir)? {
        let path = segment::segment_path(&cp_dir, file);
        let source = RecordSource::Checkpoint { checkpoint: number, file };
        replayer.replay_file(&path, source, false)?;
    }
    Ok(())
}

/// Writes checkpoint `number` atomically (see the module docs) and removes
/// older checkpoints. Files roll at `segment_size` bytes.
pub(crate) fn write<I>(
    fs: &dyn WalFs,
    dir: &Path,
    number: u64,
    segment_size: u64,
    max_record_size: u32,
    records: I,
) -> Result<CheckpointInfo>
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    let tmp = dir.join(format!("{}{TMP_SUFFIX}", checkpoint_name(number)));
    if fs.list_dir(&tmp).is_ok() {
        fs.remove_dir_all(&tmp).map_err(|e| Error::io("remove directory", &tmp, e))?;
    }
    fs.create_dir_all(&tmp).map_err(|e| Error::io("create directory", &tmp, e))?;
    let mut info = CheckpointInfo { number, path: dir.join(checkpoint_name(number)), records: 0, bytes: 0 };
    let mut file_no = 1;
    let mut file = segment::create_segment(fs, &tmp, file_no)?;
    let mut file_len = SEGMENT_HEADER_LEN as u64;
    let mut buf = Vec::new();
    for rec in records {
        let rec = rec.as_ref();
        let frame = record::frame_len(rec.len()) as u64;
        if file_len + buf.len() as u64 + frame > segment_size && file_len + buf.len() as u64 > SEGMENT_HEADER_LEN as u64
        {
            let path = segment::segment_path(&tmp, file_no);
            finish_file(&*file, &path, &mut buf)?;
            file_no += 1;
            file = segment::create_segment(fs, &tmp, file_no)?;
            file_len = SEGMENT_HEADER_LEN as u64;
            info.bytes += SEGMENT_HEADER_LEN as u64;
        }
        record::encode(&mut buf, rec, max_record_size)?;
        info.records += 1;
        info.bytes += frame;
        if buf.len() >= 1 << 20 {
            let path = segment::segment_path(&tmp, file_no);
            file.write_all(&buf).map_err(|e| Error::io("write checkpoint", &path, e))?;
            file_len += buf.len() as u64;
            buf.clear();
        }
    }
    finish_file(&*file, &segment::segment_path(&tmp, file_no), &mut buf)?;
    info.bytes += SEGMENT_HEADER_LEN as u64;
    publish(fs, dir, &tmp, &info)?;
    Ok(info)
}

fn finish_file(file: &dyn crate::fs::WalFile, path: &Path, buf: &mut Vec<u8>) -> Result<()> {
    file.write_all(buf).map_err(|e| Error::io("write checkpoint", path, e))?;
    buf.clear();
    file.sync_data().map_err(|e| Error::io("fsync checkpoint", path, e))
}

/// Renames the finished tmp directory into place and drops older checkpoints.
fn publish(fs: &dyn WalFs, dir: &Path, tmp: &Path, info: &CheckpointInfo) -> Result<()> {
    fs.sync_dir(tmp).map_err(|e| Error::io("fsync directory", tmp, e))?;
    if fs.list_dir(&info.path).is_ok() {
        fs.remove_dir_all(&info.path).map_err(|e| Error::io("remove directory", &info.path, e))?;
    }
    fs.rename(tmp, &info.path).map_err(|e| Error::io("rename checkpoint", tmp, e))?;
    fs.sync_dir(dir).map_err(|e| Error::io("fsync directory", dir, e))?;
    for old in list(fs, dir, false)?.into_iter().filter(|&n| n < info.number) {
        let path = dir.join(checkpoint_name(old));
        fs.remove_dir_all(&path).map_err(|e| Error::io("remove directory", &path, e))?;
    }
    fs.sync_dir(dir).map_err(|e| Error::io("fsync directory", dir, e))
}

/// Removes the segments of `dir` numbered below `segment`; returns how many.
pub(crate) fn remove_segments_before(fs: &dyn WalFs, dir: &Path, segment: u64) -> Result<u64> {
    let mut removed = 0;
    for number in segment::list_segments(fs, dir)?.into_iter().filter(|&n| n < segment) {
        let path = segment::segment_path(dir, number);
        fs.remove_file(&path).map_err(|e| Error::io("remove segment", &path, e))?;
        removed += 1;
    }
    fs.sync_dir(dir).map_err(|e| Error::io("fsync directory", dir, e))?;
    Ok(removed)
}
