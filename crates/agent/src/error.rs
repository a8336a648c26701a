//! Errors of the agent's queue and sender.

use std::path::{Path, PathBuf};

/// Why a queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The queue's write-ahead log failed (I/O, a full disk, damage it cannot repair).
    #[error("agent queue log: {0}")]
    Wal(#[from] wk_wal::Error),
    /// A file of the queue could not be read or written.
    #[error("cannot {action} in {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A remote_write setting cannot be used (URL, header, TLS file).
    #[error("remote_write {queue}: {detail}")]
    Config {
        /// The queue's name.
        queue: String,
        /// What is wrong.
        detail: String,
    },
}

impl Error {
    pub(crate) fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Self::Io { action, path: path.to_owned(), source }
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
