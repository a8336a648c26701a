//! The series registry and postings index.
//!
//! - [`intern`]: one copy of every distinct label string, addressed by [`StrId`].
//! - [`mix_hash`]: a cheap hasher for integer keys.
//! - [`registry`]: [`Index`], the series registry: dense refs, label sets in one
//!   arena, lookup by label hash with collision handling, per-metric counts.
//! - [`postings`]: [`Postings`], a roaring bitmap of refs per `name=value` pair and
//!   over all series.
//! - [`select`]: matcher evaluation, `label_names`, `label_values`.
//! - [`cardinality`]: [`CardinalityReport`], series counts by metric, label and pair.

pub mod cardinality;
pub mod intern;
pub mod mix_hash;
pub mod postings;
pub mod registry;
pub mod select;

pub use cardinality::CardinalityReport;
pub use intern::{Interner, StrId};
pub use postings::Postings;
pub use registry::Index;
