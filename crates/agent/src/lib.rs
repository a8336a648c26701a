//! `wk-agent`: what `watchkeeper agent` adds to the collectors: a remote_write 1.0
//! sender with a durable, size-bounded disk queue per endpoint, so that samples
//! scraped while the server is unreachable are kept and sent when it returns.
//!
//! Write path: collectors commit to [`QueueAppendable`] → each endpoint's
//! [`DiskQueue`] appends one [`record`] to its `wk-wal` log and fsyncs (group commit)
//! → the commit returns. Send path: each queue's [`Sender`] tails the log, batches,
//! posts to the endpoint through [`client::RemoteClient`], retries, and only after a
//! 2xx (or a permanent refusal) durably saves its [`Position`] and deletes the
//! segments wholly delivered. Delivery is at-least-once.
//!
//! Map:
//! - [`config`]: `remote_write:` entries and the `agent:` section.
//! - [`appender`]: the `wk_storage::Appendable` the collectors write to.
//! - [`queue`]: the disk queue (log, reader, bound); [`position`]: the delivered
//!   position file; [`record`]: the queue's record format.
//! - [`sender`]: batching, retries, backoff; [`client`]: the HTTP exchange.
//! - [`metrics`]: per-queue counters and their exposition.
//! - [`error`]: [`Error`] and [`Result`].
//!
//! Formats on disk are described in `docs/storage-format.md`.

pub mod appender;
pub mod client;
pub mod config;
pub mod error;
pub mod metrics;
pub mod position;
pub mod queue;
pub mod record;
pub mod sender;

pub use appender::QueueAppendable;
pub use config::{AgentConfig, QueueConfig, RemoteWriteConfig};
pub use error::{Error, Result};
pub use metrics::QueueMetrics;
pub use position::Position;
pub use queue::{DiskQueue, ReadBatch};
pub use sender::Sender;
