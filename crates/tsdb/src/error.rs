//! The error type of `wk-tsdb`.

use std::path::PathBuf;

/// Failures inside the engine that are not per-sample rejections (those are
/// `wk_storage::AppendError`).
#[derive(Debug, thiserror::Error)]
pub enum TsdbError {
    /// A chunk's bytes do not decode: truncated, or a field out of range. Decoding
    /// stops at the first such error and never panics.
    #[error("corrupt chunk at bit {bit_offset}: {detail}")]
    CorruptChunk {
        /// What the decoder found.
        detail: &'static str,
        /// Bit position in the chunk where decoding failed.
        bit_offset: usize,
    },
    /// Head options are inconsistent.
    #[error("invalid head options: {detail}")]
    InvalidOptions {
        /// Which option and why.
        detail: String,
    },
    /// The write-ahead log failed to open, replay, sync or close. The message of
    /// `source` names the segment file or operation; damage found while replaying is
    /// not an error (it is reported in `OpenReport`).
    #[error("TSDB WAL in {dir}: {source}")]
    Wal {
        /// The WAL directory (`<data dir>/wal`).
        dir: PathBuf,
        /// What the WAL reported.
        #[source]
        source: wk_wal::Error,
    },
    /// A change could not be made durable (the WAL failed); nothing was applied.
    #[error("TSDB unavailable: {detail}")]
    Unavailable {
        /// What failed.
        detail: String,
    },
    /// Reading the head's chunks for a block failed (a chunk did not decode).
    #[error("reading the TSDB head: {detail}")]
    HeadRead {
        /// What failed.
        detail: String,
    },
    /// A block file (or its tombstones) is damaged or inconsistent: the message
    /// names the file and what is wrong.
    #[error("invalid block {path}: {detail}")]
    InvalidBlock {
        /// The block or tombstones file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// A file operation of the database outside the WAL failed (for example the
    /// clean-shutdown marker).
    #[error("TSDB I/O error: {op} {path}: {source}")]
    Io {
        /// The operation, such as `"write clean-shutdown marker"`.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The error reported by the file system.
        #[source]
        source: std::io::Error,
    },
}

/// Result alias of this crate.
pub type Result<T, E = TsdbError> = std::result::Result<T, E>;
