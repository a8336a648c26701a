//! The Watchkeeper time-series engine, floor 2.
//!
//! Map of the crate (write path top to bottom, read path bottom to top):
//! - [`db`]: [`Db`], the durable database: [`DbAppender`] logs each batch to the
//!   write-ahead log (`wk-wal`) and applies it to the head once durable; open
//!   replays the log.
//! - [`head`]: [`Head`], the in-memory part: [`HeadAppender`] implements
//!   `wk_storage::Appender`, [`HeadQuerier`] implements `wk_storage::Querier`.
//! - [`index`]: the series registry (interned labels, dense refs) and postings.
//! - [`chunk`]: the XOR chunk codec samples are compressed with.
//! - [`error`] defines [`TsdbError`], the crate's one error type.
//!
//! Persistent blocks, WAL checkpoints and compaction come next; see
//! `docs/benchmarks.md` for measured figures.

#![warn(missing_docs)]

pub mod block;
pub mod chunk;
pub mod db;
mod db_storage;
pub mod error;
pub mod head;
pub mod index;

pub use db::{Db, DbAppender, DbOptions, DbQuerier, DbStats, OpenReport};
pub use error::{Result, TsdbError};
pub use head::{Head, HeadAppender, HeadOptions, HeadQuerier, HeadStats, Limits};
pub use index::CardinalityReport;
