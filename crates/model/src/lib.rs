//! The Watchkeeper data model, floor 0: no I/O, no engine.
//!
//! Map of the crate:
//! - [`labels`]: [`Labels`], a sorted, compact, immutable label set with a stable
//!   64-bit hash, its [`LabelsBuilder`] and the Prometheus name rules.
//! - [`sample`]: [`Sample`] (millisecond timestamp, float value) and the staleness
//!   marker [`STALE_NAN`].
//! - [`matcher`]: [`Matcher`], a label matcher (`=`, `!=`, `=~`, `!~`) with fully
//!   anchored regexes and fast paths that skip the regex engine for common shapes.
//! - [`error`]: [`ModelError`], the one error type of this crate.

#![warn(missing_docs)]

pub mod error;
pub mod labels;
pub mod matcher;
pub mod sample;

pub use error::{ModelError, Result};
pub use labels::{Labels, LabelsBuilder, METRIC_NAME};
pub use matcher::{MatchOp, Matcher};
pub use sample::{STALE_NAN, STALE_NAN_BITS, Sample, is_stale_nan};
