//! The Watchkeeper time-series engine, floor 2.
//!
//! Map of the crate (write path top to bottom, read path bottom to top):
//! - [`db`]: [`Db`], the durable database: [`DbAppender`] logs each batch to the
//!   write-ahead log (`wk-wal`) and applies it to the head once durable; open
//!   replays the log; [`Db::maintain`] cuts the head into blocks, checkpoints
//!   the log, compacts and applies retention.
//! - [`block`]: [`Block`], the immutable block files (column codec, layout,
//!   mmap reader, tombstones).
//! - [`head`]: [`Head`], the in-memory part: [`HeadAppender`] implements
//!   `wk_storage::Appender`, [`HeadQuerier`] implements `wk_storage::Querier`.
//! - [`index`]: the series registry (interned labels, dense refs) and postings.
//! - [`chunk`]: the XOR chunk codec samples are compressed with.
//! - [`error`] defines [`TsdbError`], the crate's one error type.
//!
//! See `docs/storage-format.md` for every byte on disk and
//! `docs/benchmarks.md` for measured figures.

#![warn(missing_docs)]

pub mod block;
pub mod chunk;
pub mod db;
mod db_storage;
pub mod error;
pub mod head;
pub mod index;

pub use block::{Block, BlockMeta};
pub use db::blocks::DeleteReport;
pub use db::{Db, DbAppender, DbOptions, DbQuerier, DbStats, MaintainReport, OpenReport};
pub use error::{Result, TsdbError};
pub use head::{Head, HeadAppender, HeadOptions, HeadQuerier, HeadStats, Limits};
pub use index::CardinalityReport;
