//! Watchkeeper's PromQL engine, floor 2: it sees only the storage contract.
//!
//! Map of the crate:
//! - [`engine`]: [`Engine`] with its [`EngineOptions`] (lookback, sample limit,
//!   timeout), [`CancelToken`], [`QueryResult`], and [`parse`] (a thin wrapper over
//!   the `promql-parser` crate, which owns the grammar).
//! - [`value`]: [`Value`] and its parts ([`InstantSample`], [`Series`]).
//! - [`annotations`]: [`Annotations`], Prometheus's `PromQL warning:`/`PromQL info:`
//!   messages.
//! - `eval`: the evaluator, one file per concern (selectors, aggregations, binary
//!   operators, functions, subqueries).
//! - [`error`]: [`PromqlError`], worded like Prometheus's errors.
//!
//! Semantics follow Prometheus 3: range selectors and the lookback window exclude
//! their left boundary, staleness markers end a series, and the metric name is
//! dropped at the end of the query from every sample that a function or operator
//! consumed (delayed name removal, as Prometheus's test engine runs).

pub mod annotations;
pub mod engine;
pub mod error;
mod eval;
pub mod value;

pub use annotations::Annotations;
pub use engine::{CancelToken, Engine, EngineOptions, QueryResult, parse, parse_series_selector};
pub use error::{PromqlError, Result};
pub use value::{InstantSample, Matrix, Series, Value, Vector, format_float};
