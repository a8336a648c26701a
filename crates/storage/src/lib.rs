//! The storage contract, floor 1: what ingesters and query engines see of an engine.
//!
//! Map of the crate:
//! - [`append`]: [`Appender`], a batch of samples that becomes visible (and, with a
//!   WAL, durable) on [`Appender::commit`], and [`SeriesRef`], the handle an ingester
//!   may cache to skip the label lookup.
//! - [`query`]: [`Querier`], selection of series by matchers over a time range,
//!   returned sorted by label set, each with its own sample iterator.
//! - [`error`]: [`AppendError`], the typed reasons a sample or a new series is
//!   rejected (worded like Prometheus's messages), and [`QueryError`].
//!
//! Engines (`wk-tsdb`) implement these traits; query crates depend only on this one.

#![warn(missing_docs)]

pub mod append;
pub mod error;
pub mod query;

pub use append::{Appendable, Appender, CommitSummary, SeriesRef};
pub use error::{AppendError, LimitReason, QueryError, Result};
pub use query::{Querier, Queryable, Series, SeriesSet, SplitSet};
