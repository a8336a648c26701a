//! Folding aggregations (`sum`, `count`, `avg`, `min`, `max`, `group`, `stddev`,
//! `stdvar`) of a leaf, streamed from storage: each series is read, evaluated at
//! every step and folded into per-group, per-step states as it arrives, then
//! dropped. Neither the samples of all series nor their values at all steps are
//! held at once, so `count by (job) ({__name__=~".+"})` over 100k series holds a
//! few states instead of every sample, and only one series' samples count
//! against the query's sample limit at a time.
//!
//! Storage returns series sorted by labels, the order in which the per-step
//! evaluator's vector lists them, so every group's values are folded in the same
//! order, with the same code ([`Fold`]), as step by step.

use std::collections::HashMap;
use std::sync::mpsc::{SyncSender, sync_channel};

use promql_parser::parser::{AggregateExpr, LabelModifier};
use wk_model::{Labels, Sample};
use wk_storage::{QueryError, Series, SplitSet};

use super::{Leaf, LeafParams, StepArgs, StepMatrix, StepSeries};
use crate::eval::aggregation::{Fold, FoldOp, group_labels};
use crate::eval::{Evaluator, selector};
use crate::{PromqlError, Result};

/// Most per-group, per-step states one streamed aggregation may hold (about
/// 48 MiB); above it the query takes the block path.
const MAX_CELLS: usize = 1 << 20;

/// Evaluates `a` (whose operator is `op` and whose input is `leaf`) at `steps`
/// by streaming; `None` when streaming does not apply: the selector has `or`
/// alternatives or was read already, the grouping could make too many groups, or
/// a scalar argument fails at some step (the block path then reports it in the
/// per-step evaluator's order).
pub(super) fn eval(
    ev: &mut Evaluator<'_>,
    a: &AggregateExpr,
    op: FoldOp,
    leaf: &Leaf<'_>,
    steps: &[i64],
    result: bool,
) -> Result<Option<StepMatrix>> {
    let vs = leaf.selector();
    let mut matchers = selector::matcher_groups(vs)?;
    if matchers.len() != 1 || ev.cache.contains_key(&(vs as *const _ as usize)) {
        return Ok(None);
    }
    let matchers = matchers.remove(0);
    if max_groups(ev, &a.modifier, &matchers)?.saturating_mul(steps.len()) > MAX_CELLS {
        return Ok(None);
    }
    let (args, err) = leaf.step_args(ev, steps);
    if err.is_some() {
        return Ok(None);
    }
    let mut groups = Groups { steps: steps.len(), ..Groups::default() };
    let eval = SeriesEval { leaf, params: leaf.params(ev), steps, args: &args };
    // Reading (block columns decoded, head chunks walked) and evaluating each
    // series at every step (a `rate` per window) are most of a streamed
    // aggregation. When storage splits the selection, each set is read and
    // evaluated on its own thread while this one folds, series by series in
    // storage order, so the sums are the same, to the bit, as when done here;
    // small selections are done here, without threads.
    let (mint, maxt) = (ev.data_mint, ev.data_maxt);
    match ev.querier.select_split(&matchers, mint, maxt, readers(), SERIES_PER_READER)? {
        Some(sets) if sets.len() > 1 => std::thread::scope(|scope| {
            let mut lanes = Vec::with_capacity(sets.len());
            for set in sets {
                let (tx, rx) = sync_channel(READ_AHEAD);
                let eval = &eval;
                spawn_reader(scope, move || read_split(set, eval, &tx))?;
                lanes.push((rx, Vec::new().into_iter()));
            }
            let n = lanes.len();
            // Candidate `i` comes from lane `i % n`; the first lane to end ends the set.
            let mut turn = 0;
            let items = std::iter::from_fn(|| {
                let (rx, batch) = &mut lanes[turn % n];
                turn += 1;
                batch.next().or_else(|| {
                    *batch = rx.recv().ok()?.into_iter();
                    batch.next()
                })
            });
            fold_series(ev, a, op, leaf, &mut groups, items)
        })?,
        Some(sets) => {
            let mut buf = Vec::new();
            let items = sets.into_iter().flatten().map(|c| c.map(|c| c.map(|s| eval.eval(s, &mut buf))));
            fold_series(ev, a, op, leaf, &mut groups, items)?;
        }
        None => {
            let set = ev.querier.select(&matchers, mint, maxt)?;
            let mut buf = Vec::new();
            fold_series(ev, a, op, leaf, &mut groups, set.map(|s| s.map(|s| Some(eval.eval(s, &mut buf)))))?;
        }
    }
    let (out, per_step) = groups.finish(op, steps, leaf.drop_name());
    if result {
        for n in per_step {
            ev.add_samples(n)?;
        }
    }
    Ok(Some(StepMatrix(out)))
}

/// Batches of evaluated series a reader sends ahead of the folding thread:
/// enough to keep it busy.
const READ_AHEAD: usize = 4;

/// Evaluated series per batch: a message per series woke the folding thread
/// (and a reader) tens of thousands of times a second.
const BATCH: usize = 16;

/// One series evaluated at every step.
struct Evaluated {
    labels: Labels,
    /// How many samples it had.
    samples: usize,
    /// `(step index, value)` of the steps where it has a value.
    values: Vec<(u32, f64)>,
    /// Whether a range function read a sample of it (see `Leaf::values`).
    present: bool,
}

/// A candidate of a (split) selection: `None` when it has no sample in range.
type Candidate = std::result::Result<Option<Evaluated>, QueryError>;

/// The leaf's evaluation over one series, with what it needs of the evaluator
/// taken beforehand, so that reader threads can run it.
struct SeriesEval<'a, 'e> {
    leaf: &'a Leaf<'e>,
    params: LeafParams,
    steps: &'a [i64],
    args: &'a StepArgs,
}

impl SeriesEval<'_, '_> {
    fn eval(&self, series: Series, buf: &mut Vec<Sample>) -> Evaluated {
        let mut values = Vec::with_capacity(self.steps.len());
        let present = self.leaf.values(&self.params, &series.samples, self.steps, self.args, buf, |k, v| {
            values.push((k as u32, v));
        });
        Evaluated { labels: series.labels, samples: series.samples.len(), values, present }
    }
}

/// Starts a reader thread in `scope`.
fn spawn_reader<'scope>(scope: &'scope std::thread::Scope<'scope, '_>, f: impl FnOnce() + Send + 'scope) -> Result<()> {
    std::thread::Builder::new()
        .name("promql-read".to_owned())
        .spawn_scoped(scope, f)
        .map(drop)
        .map_err(|e| PromqlError::Eval(format!("cannot start a query reader thread: {e}")))
}

/// Series a reader thread should have at least: below it the thread costs
/// more than it saves, and the selection is read on the query's thread.
const SERIES_PER_READER: usize = 256;

/// Reader threads for a split selection: one per core, at least two.
fn readers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 8)
}

/// Reads and evaluates the candidates of one set of a split selection and sends
/// them on `tx` in batches (`None` for one without samples, so the receiver can
/// interleave the sets), until the set ends, a read fails (the error is sent),
/// or the receiver is gone.
fn read_split(set: SplitSet<'_>, eval: &SeriesEval<'_, '_>, tx: &SyncSender<Vec<Candidate>>) {
    let mut buf = Vec::new();
    let mut batch = Vec::with_capacity(BATCH);
    for read in set {
        let read = read.map(|c| c.map(|s| eval.eval(s, &mut buf)));
        let failed = read.is_err();
        batch.push(read);
        if batch.len() == BATCH || failed {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            if tx.send(full).is_err() || failed {
                return;
            }
        }
    }
    if !batch.is_empty() {
        let _ = tx.send(batch);
    }
}

/// Folds the values of each evaluated series of `items` into `groups`, in
/// order (skipping empty candidates).
fn fold_series(
    ev: &mut Evaluator<'_>,
    a: &AggregateExpr,
    op: FoldOp,
    leaf: &Leaf<'_>,
    groups: &mut Groups,
    items: impl Iterator<Item = Candidate>,
) -> Result<()> {
    let mut prev: Option<Labels> = None;
    let mut i = 0u64;
    for read in items {
        let Some(Evaluated { labels, samples, values, present }) = read? else {
            continue;
        };
        // Counted as the per-step evaluator counts a loaded series.
        ev.add_samples(samples)?;
        ev.check()?;
        if prev.as_ref().is_some_and(|p| *p >= labels) {
            return Err(PromqlError::Eval(format!(
                "internal error: storage returned series out of label order at {labels}"
            )));
        }
        let g = groups.of(&labels, &a.modifier);
        let (folds, first) = groups.cells(g);
        for (k, v) in values {
            let k = k as usize;
            if folds[k].is_empty() {
                first[k] = i;
            }
            folds[k].push(op, v);
        }
        if present {
            leaf.note_series(ev, &labels);
        }
        ev.release_samples(samples);
        prev = Some(labels);
        i += 1;
    }
    Ok(())
}

/// An upper bound of the groups `modifier` makes of the series matching
/// `matchers`: 1 without a modifier, the product of the numbers of values (plus
/// one for "absent") of the `by` labels, unbounded for `without`.
fn max_groups(ev: &Evaluator<'_>, modifier: &Option<LabelModifier>, matchers: &[wk_model::Matcher]) -> Result<usize> {
    match modifier {
        None => Ok(1),
        Some(LabelModifier::Exclude(_)) => Ok(usize::MAX),
        Some(LabelModifier::Include(by)) => {
            let mut n = 1usize;
            for name in &by.labels {
                let values = ev.querier.label_values(name, matchers)?;
                n = n.saturating_mul(values.len() + 1);
                if n > MAX_CELLS {
                    break;
                }
            }
            Ok(n)
        }
    }
}

/// Per-group, per-step fold states, group-major.
#[derive(Default)]
struct Groups {
    steps: usize,
    index: HashMap<Labels, usize>,
    names: Vec<Labels>,
    folds: Vec<Fold>,
    /// Index of the first series folded into each state: groups at one step are
    /// listed in order of their first member, as the per-step evaluator lists them.
    first: Vec<u64>,
}

impl Groups {
    /// The group of a series with labels `metric`, created on its first member.
    fn of(&mut self, metric: &Labels, modifier: &Option<LabelModifier>) -> usize {
        let key = group_labels(metric, modifier);
        if let Some(&g) = self.index.get(&key) {
            return g;
        }
        self.names.push(key.clone());
        self.folds.resize(self.folds.len() + self.steps, Fold::default());
        self.first.resize(self.first.len() + self.steps, 0);
        self.index.insert(key, self.names.len() - 1);
        self.names.len() - 1
    }

    /// The states of group `g`, one per step.
    fn cells(&mut self, g: usize) -> (&mut [Fold], &mut [u64]) {
        let r = g * self.steps..(g + 1) * self.steps;
        (&mut self.folds[r.clone()], &mut self.first[r])
    }

    /// One output series per group with a value at some step, and the number of
    /// output samples at each step.
    fn finish(self, op: FoldOp, steps: &[i64], leaf_drop: bool) -> (Vec<StepSeries>, Vec<usize>) {
        let n = self.steps;
        let mut per_step = vec![0; n];
        let mut out = Vec::new();
        for (g, metric) in self.names.into_iter().enumerate() {
            let (folds, first) = (&self.folds[g * n..][..n], &self.first[g * n..][..n]);
            let mut points = Vec::new();
            let mut order = Vec::new();
            for (k, f) in folds.iter().enumerate().filter(|(_, f)| !f.is_empty()) {
                points.push(Sample::new(steps[k], f.finish(op)));
                order.push(first[k]);
                per_step[k] += 1;
            }
            let drop_name = leaf_drop && metric.metric_name().is_some();
            if !points.is_empty() {
                out.push(StepSeries { metric, drop_name, points, order });
            }
        }
        (out, per_step)
    }
}
