//! Instant and range selectors.
//!
//! Each selector node reads storage once per query and keeps its series in memory;
//! every evaluation step then finds its samples by binary search. An instant
//! selector takes the newest sample in `(t - lookback, t]` unless that sample is a
//! staleness marker; a range selector takes the samples in `(t - range, t]`
//! (Prometheus 3 excludes the left boundary) without staleness markers.

use std::collections::BTreeMap;
use std::rc::Rc;

use promql_parser::label::MatchOp as ParserOp;
use promql_parser::parser::{MatrixSelector, VectorSelector};
use wk_model::{Labels, METRIC_NAME, MatchOp, Matcher, Sample, is_stale_nan};

use super::{Evaluator, duration_millis, offset_millis};
use crate::{InstantSample, Matrix, PromqlError, Result, Series, Vector};

/// One series read from storage, with every sample the query may need.
#[derive(Debug)]
pub(crate) struct LoadedSeries {
    pub(crate) metric: Labels,
    pub(crate) samples: Vec<Sample>,
}

/// Converts the parser's matchers of `vs` into groups of model matchers; more than
/// one group for `{a="1" or b="2"}`.
pub(crate) fn matcher_groups(vs: &VectorSelector) -> Result<Vec<Vec<Matcher>>> {
    let convert = |m: &promql_parser::label::Matcher| {
        let op = match m.op {
            ParserOp::Equal => MatchOp::Eq,
            ParserOp::NotEqual => MatchOp::Neq,
            ParserOp::Re(_) => MatchOp::Re,
            ParserOp::NotRe(_) => MatchOp::Nre,
        };
        Matcher::new(op, m.name.clone(), m.value.clone()).map_err(|e| PromqlError::Parse(e.to_string()))
    };
    let mut groups: Vec<Vec<&promql_parser::label::Matcher>> = Vec::new();
    if vs.matchers.or_matchers.is_empty() {
        groups.push(vs.matchers.matchers.iter().collect());
    } else {
        for g in &vs.matchers.or_matchers {
            groups.push(g.iter().chain(vs.matchers.matchers.iter()).collect());
        }
    }
    groups
        .into_iter()
        .map(|g| {
            let mut out: Vec<Matcher> = g.into_iter().map(convert).collect::<Result<_>>()?;
            if let Some(name) = &vs.name {
                out.push(Matcher::eq(METRIC_NAME, name.clone()));
            }
            Ok(out)
        })
        .collect()
}

/// Returns the series of `vs` over the query's data span, reading storage on the
/// first call for this node.
pub(crate) fn load(ev: &mut Evaluator<'_>, vs: &VectorSelector) -> Result<Rc<Vec<LoadedSeries>>> {
    let key = vs as *const VectorSelector as usize;
    if let Some(hit) = ev.cache.get(&key) {
        return Ok(Rc::clone(hit));
    }
    let groups = matcher_groups(vs)?;
    let mut loaded = Vec::new();
    for matchers in &groups {
        let set = ev.querier.select(matchers, ev.data_mint, ev.data_maxt)?;
        for series in set {
            let series = series?;
            let samples = series.samples;
            ev.add_samples(samples.len())?;
            ev.check()?;
            loaded.push(LoadedSeries { metric: series.labels, samples });
        }
    }
    // Storage returns each selection sorted by labels; alternatives (`or`) are
    // merged, keeping the first of series selected twice.
    if groups.len() > 1 || !loaded.windows(2).all(|w| w[0].metric < w[1].metric) {
        let mut merged: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
        for s in loaded {
            merged.entry(s.metric).or_insert(s.samples);
        }
        loaded = merged.into_iter().map(|(metric, samples)| LoadedSeries { metric, samples }).collect();
    }
    let loaded = Rc::new(loaded);
    ev.cache.insert(key, Rc::clone(&loaded));
    Ok(loaded)
}

/// Evaluates an instant selector at `ts`.
pub(crate) fn instant(ev: &mut Evaluator<'_>, vs: &VectorSelector, ts: i64) -> Result<Vector> {
    let series = load(ev, vs)?;
    let t = ev.at_time(&vs.at).unwrap_or(ts) - offset_millis(&vs.offset);
    let lookback = ev.opts.lookback_delta_ms;
    let mut out = Vec::new();
    for s in series.iter() {
        ev.check()?;
        if let Some(last) = sample_at(&s.samples, t, lookback) {
            out.push(InstantSample { metric: s.metric.clone(), t: last.t, f: last.v, drop_name: false });
        }
    }
    Ok(out)
}

/// Returns the newest of `samples` (sorted by time) in `(t - lookback, t]`, or
/// `None` when there is none or it is a staleness marker.
pub(crate) fn sample_at(samples: &[Sample], t: i64, lookback: i64) -> Option<Sample> {
    let end = samples.partition_point(|p| p.t <= t);
    let last = *samples.get(end.checked_sub(1)?)?;
    if last.t <= t - lookback || is_stale_nan(last.v) {
        return None;
    }
    Some(last)
}

/// Returns the samples of `samples` in `(mint, maxt]`, without staleness markers.
pub(crate) fn window(samples: &[Sample], mint: i64, maxt: i64) -> Vec<Sample> {
    let lo = samples.partition_point(|p| p.t <= mint);
    let hi = samples.partition_point(|p| p.t <= maxt);
    samples[lo..hi.max(lo)].iter().filter(|p| !is_stale_nan(p.v)).copied().collect()
}

/// Evaluates a range selector at `ts`; series without samples in the window are
/// left out.
pub(crate) fn range(ev: &mut Evaluator<'_>, ms: &MatrixSelector, ts: i64) -> Result<Matrix> {
    let series = load(ev, &ms.vs)?;
    let maxt = ev.at_time(&ms.vs.at).unwrap_or(ts) - offset_millis(&ms.vs.offset);
    let mint = maxt - duration_millis(ms.range);
    let mut out = Vec::new();
    for s in series.iter() {
        ev.check()?;
        let points = window(&s.samples, mint, maxt);
        if !points.is_empty() {
            out.push(Series { metric: s.metric.clone(), points, drop_name: false });
        }
    }
    Ok(out)
}
