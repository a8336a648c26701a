//! The one error type of `wk-wal`.
//!
//! Every variant carries what an operator needs to act: the path of the file
//! or directory, the segment number, or the offset that failed.

use std::io;
use std::path::PathBuf;

/// The result type of every fallible `wk-wal` operation.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in the write-ahead log.
///
/// Damage found while replaying (torn tails, corrupt records) is *not* an
/// error: it is repaired or skipped and counted in a
/// [`ReplayReport`](crate::ReplayReport). Errors are reserved for conditions
/// the log cannot work around on its own.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file-system operation failed.
    #[error("WAL I/O error: {op} {path}: {source}")]
    Io {
        /// The operation that failed, such as `"fsync"` or `"rename"`.
        op: &'static str,
        /// The file or directory the operation was applied to.
        path: PathBuf,
        /// The error reported by the operating system (or the simulated file system).
        #[source]
        source: io::Error,
    },

    /// A record passed to `append` or to a checkpoint is larger than
    /// [`WalOptions::max_record_size`](crate::WalOptions::max_record_size).
    /// Nothing of the batch was written.
    #[error("WAL record of {size} bytes exceeds the maximum record size of {max} bytes")]
    RecordTooLarge {
        /// Size of the rejected record in bytes.
        size: usize,
        /// The configured maximum in bytes.
        max: u32,
    },

    /// A segment header carries a valid checksum but a format version this
    /// build cannot read; it was written by a newer Watchkeeper.
    #[error(
        "WAL segment {path} has format version {version}, this build reads version {supported}; \
         upgrade Watchkeeper or move the WAL directory away"
    )]
    UnsupportedVersion {
        /// The segment file.
        path: PathBuf,
        /// The version found in the header.
        version: u8,
        /// The version this build writes and reads.
        supported: u8,
    },

    /// An earlier write or fsync failed, so the state of the log on disk is
    /// unknown and the log refuses further writes. Reopening the log (after
    /// fixing the cause, for example a full disk) recovers everything that was
    /// acknowledged.
    #[error("WAL in {dir} refuses writes after an earlier failure ({reason}); reopen it to recover")]
    Poisoned {
        /// The WAL directory.
        dir: PathBuf,
        /// The first failure, as text.
        reason: String,
    },

    /// A segment number passed to a checkpoint or truncation call is not
    /// allowed, for example because it names the active segment.
    #[error("WAL segment {segment} cannot be used for {what}: the active segment is {active}")]
    InvalidSegment {
        /// What was attempted, such as `"a checkpoint"`.
        what: &'static str,
        /// The segment number passed in.
        segment: u64,
        /// The segment currently written to.
        active: u64,
    },

    /// A [`WalOptions`](crate::WalOptions) value is out of range.
    #[error("invalid WAL option {name}: {reason}")]
    InvalidOptions {
        /// The option's field name.
        name: &'static str,
        /// Why the value is rejected.
        reason: String,
    },
}

impl Error {
    /// Builds an [`Error::Io`] for `op` on `path`.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io { op, path: path.into(), source }
    }
}
