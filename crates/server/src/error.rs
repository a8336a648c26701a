//! Errors of starting and running the server.

use std::path::PathBuf;

/// Why the server could not start or stopped with a failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file is unreadable or invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The data directory could not be created or opened.
    #[error("data directory {}: {source}", path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Another process holds the data directory's lock.
    #[error(
        "data directory {} is in use by another Watchkeeper process (lock file {} is held{}); stop it or use another --storage.path",
        dir.display(),
        lock.display(),
        holder.as_deref().map(|h| format!(" by {h}")).unwrap_or_default()
    )]
    DataDirLocked {
        /// The directory.
        dir: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// What the lock file says about its holder (pid), if readable.
        holder: Option<String>,
    },
    /// A listen address could not be bound.
    #[error("cannot listen on {address} ({setting}): {source}")]
    Listen {
        /// The setting that names the address, such as `web.listen_address`.
        setting: &'static str,
        /// The address.
        address: std::net::SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A storage engine could not be opened or closed.
    #[error("storage: {0}")]
    Storage(String),
    /// The agent could not start: no endpoint, or a queue that cannot be opened.
    #[error("agent: {0}")]
    Agent(String),
    /// TLS certificate or key could not be loaded.
    #[error("TLS: {0}")]
    Tls(String),
    /// Any other I/O failure, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
