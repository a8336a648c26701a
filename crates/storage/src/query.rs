//! The read side of the contract.

use wk_model::{Labels, Matcher, Sample};

use crate::QueryError;

/// One selected series: its labels and its samples inside the selected range.
///
/// The samples come decoded, in one vector: a query reads each selected series
/// whole (its range functions and lookback look back and forth in it), and a
/// vector hands them over without a call, a copy or a `Result` per sample;
/// a series that does not decode is one error in its place in the set.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The full label set, including `__name__`.
    pub labels: Labels,
    /// The samples with `mint <= t <= maxt`, ascending; at least one.
    pub samples: Vec<Sample>,
}

/// A fallible iterator over selected series, sorted by label set
/// (see `Labels`'s `Ord`).
pub type SeriesSet<'a> = Box<dyn Iterator<Item = Result<Series, QueryError>> + Send + 'a>;

/// One part of a split selection; see [`Querier::select_split`].
pub type SplitSet<'a> = Box<dyn Iterator<Item = Result<Option<Series>, QueryError>> + Send + 'a>;

/// Read access to an engine.
///
/// Time bounds are inclusive milliseconds. Results are snapshots taken lazily: a
/// sample committed while a [`SeriesSet`] is being consumed may or may not appear,
/// but every series is internally consistent.
pub trait Querier {
    /// Returns the series that match all `matchers` and have at least one sample in
    /// `[mint, maxt]`, sorted by label set, each with its samples in that range.
    /// With no matchers every series is selected.
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<SeriesSet<'_>, QueryError>;

    /// [`select`](Querier::select) with its reading split over sets that can
    /// be consumed on separate threads: at most `n` of them, fewer when the
    /// selection has under `min_per_set` series per set (one set at least). With
    /// `k` sets, set `j` yields candidates `j`, `j + k`, `j + 2k`, … of the
    /// selection, in `select`'s order, each `Some(series)`, or `None` when it has
    /// no sample in `[mint, maxt]`. Taking one item from each set in turn, and
    /// skipping the `None`s, gives exactly `select`'s series; the first set to
    /// end marks the end. `Ok(None)` when the engine does not split (the default).
    fn select_split(
        &self,
        _matchers: &[Matcher],
        _mint: i64,
        _maxt: i64,
        _n: usize,
        _min_per_set: usize,
    ) -> Result<Option<Vec<SplitSet<'_>>>, QueryError> {
        Ok(None)
    }

    /// Returns the sorted, distinct label names of the series matching `matchers`
    /// (all series when empty).
    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, QueryError>;

    /// Returns the sorted, distinct values of label `name` over the series matching
    /// `matchers` (all series when empty). Absent labels contribute no value.
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, QueryError>;
}

/// A store that hands out queriers: what query engines and the HTTP API hold.
pub trait Queryable: Send + Sync + std::fmt::Debug {
    /// A querier over the store's data as of now.
    fn querier(&self) -> Box<dyn Querier + '_>;
}
