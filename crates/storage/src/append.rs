//! The write side of the contract.

use wk_model::{Labels, Sample};

use crate::AppendError;

/// A dense handle of a series inside one engine instance.
///
/// An ingester may cache the ref that [`Appender::append`] returned and pass it back
/// as a hint; the engine then checks the hint and skips the label lookup. A ref is
/// meaningless in another engine instance or after a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeriesRef(pub u32);

impl SeriesRef {
    /// Returns the ref as an index into dense per-series arrays.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What a commit applied and what it had to drop.
///
/// A sample that passed [`Appender::append`] can still be dropped at commit when a
/// concurrent appender wrote a newer sample to the same series first; such drops are
/// counted here by reason (and in the engine's self-metrics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitSummary {
    /// Samples written.
    pub appended: u64,
    /// Samples dropped at commit time, with the reason.
    pub rejected: Vec<(AppendError, u64)>,
}

/// A batch of samples for one engine.
///
/// Each call to [`append`](Appender::append) checks one sample and either buffers it or
/// rejects it with a typed [`AppendError`]; a rejection affects only that sample, so a
/// caller counts it and goes on with the rest of its batch. Nothing is visible to
/// queriers until [`commit`](Appender::commit); [`rollback`](Appender::rollback)
/// discards the buffer. After either call the appender is empty and may be reused.
/// An appender is used from one thread; engines hand out one per writer.
pub trait Appender {
    /// Adds `sample` to the series `labels`, creating the series if needed, and
    /// returns its ref. `hint` is a ref from an earlier call for the same labels; a
    /// wrong hint is detected and ignored.
    ///
    /// Fails without side effect on the batch for: a new series over a limit
    /// ([`AppendError::SeriesLimit`], [`AppendError::LabelLimit`]), invalid labels,
    /// a timestamp older than the series allows ([`AppendError::OutOfOrder`],
    /// [`AppendError::TooOld`], [`AppendError::OutOfBounds`]), or the same timestamp
    /// with another value ([`AppendError::DuplicateSampleDifferentValue`]). The same
    /// timestamp with bit-identical value is accepted as a no-op.
    fn append(&mut self, hint: Option<SeriesRef>, labels: &Labels, sample: Sample) -> Result<SeriesRef, AppendError>;

    /// Makes every buffered sample visible (and durable where the engine has a WAL)
    /// and empties the batch. An error means nothing of the batch was applied.
    fn commit(&mut self) -> Result<CommitSummary, AppendError>;

    /// Discards every buffered sample. Series created by the batch may remain, empty,
    /// until the engine's garbage collection.
    fn rollback(&mut self);
}

/// A store that hands out appenders: what collectors and ingesters hold, so they do
/// not name a concrete engine.
pub trait Appendable: Send + Sync + std::fmt::Debug {
    /// Starts a new, empty batch.
    fn appender(&self) -> Box<dyn Appender + '_>;
}
