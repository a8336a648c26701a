//! `wk-config` holds the building blocks of Watchkeeper's configuration that every
//! crate owning options shares: Prometheus [`PromDuration`]s and [`ByteSize`]s,
//! [`Secret`]s that never print, a generic YAML [`Value`] for sections accepted but not
//! acted on, and [`Problems`], the list of every error and warning found while a
//! configuration is checked, each with its line and column.
//!
//! Each crate owns its options struct (with `serde` derives and a `Default`) and a
//! `validate`/`finalize` step that adds to [`Problems`]; the server composes them into
//! the file's top level.

mod byte_size;
mod duration;
mod problems;
mod secret;
mod value;

pub use byte_size::ByteSize;
pub use duration::PromDuration;
pub use problems::{Diagnostic, Problems, Severity, entries, null_as_default, unspanned};
pub use secret::{REDACTED, Secret, SecretSource, expand_env};
pub use serde_saphyr::{Location, Spanned};
pub use value::Value;
