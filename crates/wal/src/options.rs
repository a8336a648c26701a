//! Options of the write-ahead log, owned by this crate.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::record::{DEFAULT_MAX_RECORD_SIZE, FRAME_HEADER_LEN};
use crate::segment::{DEFAULT_SEGMENT_SIZE, SEGMENT_HEADER_LEN};

/// When appended bytes are made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncMode {
    /// `append` returns only after its records are on stable storage.
    /// Concurrent appenders share one fsync (group commit). Nothing
    /// acknowledged is ever lost.
    Always,
    /// `append` returns once the bytes are handed to the operating system; a
    /// background thread fsyncs at most once per interval (and only when
    /// something was written), and [`Wal::sync`](crate::Wal::sync) forces it.
    ///
    /// Loss window: a power cut or OS crash loses what was appended in the
    /// last interval (plus the duration of one fsync). A process crash alone
    /// (`kill -9`) loses nothing, since the bytes are already in the page cache.
    Interval(Duration),
}

/// Tuning of one [`Wal`](crate::Wal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalOptions {
    /// Size in bytes at which the writer starts a new segment. A segment is
    /// larger only when a single record does not fit in an empty one.
    /// Default 128 MiB.
    pub segment_size: u64,
    /// Largest payload of a single record, in bytes; bigger records are
    /// rejected by `append` and lengths above it are treated as damage when
    /// reading. Default 16 MiB. Reading a WAL with a smaller maximum than it
    /// was written with treats the larger records as corrupt.
    pub max_record_size: u32,
    /// Durability mode. Default [`FsyncMode::Always`].
    pub fsync: FsyncMode,
}

impl Default for WalOptions {
    fn default() -> Self {
        Self { segment_size: DEFAULT_SEGMENT_SIZE, max_record_size: DEFAULT_MAX_RECORD_SIZE, fsync: FsyncMode::Always }
    }
}

impl WalOptions {
    /// Checks that every option is in range.
    pub fn validate(&self) -> Result<()> {
        let min_segment = (SEGMENT_HEADER_LEN + FRAME_HEADER_LEN) as u64;
        if self.segment_size < min_segment {
            return Err(Error::InvalidOptions {
                name: "segment_size",
                reason: format!("{} bytes is below the minimum of {min_segment}", self.segment_size),
            });
        }
        if self.max_record_size == 0 || self.max_record_size > u32::MAX - FRAME_HEADER_LEN as u32 {
            return Err(Error::InvalidOptions {
                name: "max_record_size",
                reason: format!("{} bytes is out of range", self.max_record_size),
            });
        }
        if self.fsync == FsyncMode::Interval(Duration::ZERO) {
            return Err(Error::InvalidOptions {
                name: "fsync",
                reason: "the fsync interval must be above zero; use FsyncMode::Always".into(),
            });
        }
        Ok(())
    }
}
