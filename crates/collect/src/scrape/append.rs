//! Writing one target's scrapes into storage, as Prometheus's scrape loop does: parse
//! the body, build each series' labels (target labels with `honor_labels`, then
//! `metric_relabel_configs`), check the limits, append everything of one scrape in one
//! batch with staleness markers for series that disappeared, and add the synthetic
//! series (`up`, `scrape_duration_seconds`, …).
//!
//! Building labels is the expensive part, so a cache keyed by the series as written in
//! the exposition (name and labels, in order) keeps each series' final labels (or the
//! fact that relabeling drops it) and its storage ref between scrapes: an unchanged
//! series costs one hash lookup and one append.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use wk_ingest::exposition::{Entry, Format, Parser, Sample as ExposedSample};
use wk_model::{Labels, STALE_NAN, Sample};
use wk_storage::{Appendable, Appender, SeriesRef};

use super::Target;
use super::fetch::Fetched;
use super::job::JobSettings;
use crate::relabel;

/// Cache entries not seen for this many scrapes are forgotten.
const EVICT_AFTER_SCRAPES: u64 = 10;

/// The synthetic series every scrape writes, in this order.
const REPORT_NAMES: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

/// What one scrape did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScrapeOutcome {
    /// Why the scrape failed (fetch, parse, limits, storage); `None` when `up` is 1.
    pub error: Option<String>,
    /// Samples in the body (`scrape_samples_scraped`).
    pub samples_scraped: u64,
    /// Samples kept after metric relabeling (`scrape_samples_post_metric_relabeling`).
    pub samples_post_relabeling: u64,
    /// Series seen for the first time (`scrape_series_added`).
    pub series_added: u64,
    /// Staleness markers written.
    pub stale_markers: u64,
    /// Samples the store rejected (out of order, duplicates…); the scrape still counts.
    pub rejected: u64,
}

#[derive(Debug)]
struct CachedSeries {
    labels: Labels,
    hint: Option<SeriesRef>,
    explicit_timestamp: bool,
}

#[derive(Debug)]
struct CacheEntry {
    /// `None` when metric relabeling drops the series.
    series: Option<CachedSeries>,
    /// The last scrape generation that exposed it, and the one before.
    seen: u64,
    prev_seen: u64,
}

#[derive(Debug)]
struct ReportSeries {
    labels: Labels,
    hint: Option<SeriesRef>,
}

/// A hash of a scrape's metadata lines, to report them only when they change.
fn metadata_hash(entries: &[Entry<'_>]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for e in entries {
        match e {
            Entry::Help { name, text } => (0u8, name, text).hash(&mut h),
            Entry::Type { name, kind } => (1u8, name, *kind as u8).hash(&mut h),
            Entry::Unit { name, unit } => (2u8, name, unit).hash(&mut h),
            Entry::Sample(_) => {}
        }
    }
    h.finish().max(1)
}

/// Groups a scrape's metadata lines by family.
fn to_metadata(entries: Vec<Entry<'_>>) -> Vec<wk_ingest::Metadata> {
    use std::collections::BTreeMap;
    use wk_ingest::exposition::MetricType as T;
    fn family<'m>(all: &'m mut BTreeMap<String, wk_ingest::Metadata>, name: &str) -> &'m mut wk_ingest::Metadata {
        all.entry(name.to_owned())
            .or_insert_with(|| wk_ingest::Metadata { metric_family_name: name.to_owned(), ..Default::default() })
    }
    let mut all = BTreeMap::new();
    for e in entries {
        match e {
            Entry::Help { name, text } => family(&mut all, &name).help = text.into_owned(),
            Entry::Unit { name, unit } => family(&mut all, &name).unit = unit.into_owned(),
            Entry::Type { name, kind } => {
                family(&mut all, &name).metric_type = match kind {
                    T::Counter => wk_ingest::MetricType::Counter,
                    T::Gauge => wk_ingest::MetricType::Gauge,
                    T::Histogram => wk_ingest::MetricType::Histogram,
                    T::GaugeHistogram => wk_ingest::MetricType::GaugeHistogram,
                    T::Summary => wk_ingest::MetricType::Summary,
                    T::Info => wk_ingest::MetricType::Info,
                    T::StateSet => wk_ingest::MetricType::StateSet,
                    T::Unknown => wk_ingest::MetricType::Unknown,
                }
            }
            Entry::Sample(_) => {}
        }
    }
    all.into_values().collect()
}

/// One target's writer: its series cache and the scrape history staleness needs.
#[derive(Debug)]
pub struct ScrapeWriter {
    job: Arc<JobSettings>,
    target_labels: Vec<(String, String)>,
    cache: HashMap<String, CacheEntry>,
    generation: u64,
    /// The generation whose series are "the previous scrape"; 0 when there are none
    /// (before the first scrape, after a failed one).
    present: u64,
    /// Series a predecessor loop (same target, older job config) last wrote.
    carried: Vec<Labels>,
    report: Vec<ReportSeries>,
    key: String,
    /// Hash of the metadata last reported to the job's sink (0: none yet).
    metadata_hash: u64,
}

impl ScrapeWriter {
    /// A writer for `target` of `job`, with an empty cache.
    pub fn new(job: Arc<JobSettings>, target: &Target) -> Self {
        let target_labels: Vec<(String, String)> =
            target.public_labels().map(|(n, v)| (n.to_owned(), v.to_owned())).collect();
        let report = REPORT_NAMES
            .iter()
            .filter_map(|name| {
                let pairs = target_labels.iter().map(|(n, v)| (n.as_str(), v.as_str()));
                Labels::from_pairs(pairs.chain([("__name__", *name)])).ok()
            })
            .map(|labels| ReportSeries { labels, hint: None })
            .collect();
        Self {
            job,
            target_labels,
            cache: HashMap::new(),
            generation: 0,
            present: 0,
            carried: Vec::new(),
            report,
            key: String::new(),
            metadata_hash: 0,
        }
    }

    /// Takes over the series a previous loop of the same target wrote, so the first
    /// scrape marks stale only those that are gone (a job reload keeps series going).
    pub fn carry_over(&mut self, series: Vec<Labels>) {
        self.carried = series;
    }

    /// The series the last successful scrape wrote (those staleness tracks).
    pub fn present_series(&self) -> Vec<Labels> {
        let p = self.present;
        let mut out: Vec<Labels> = self
            .cache
            .values()
            .filter(|e| p != 0 && e.seen == p)
            .filter_map(|e| e.series.as_ref())
            .filter(|s| self.tracks_staleness(s))
            .map(|s| s.labels.clone())
            .collect();
        out.extend(self.carried.iter().cloned());
        out
    }

    /// Writes one scrape that started at `start_ms` and took `duration`: its samples
    /// (or, when `fetched` is an error or the body fails parsing or limits, none), the
    /// staleness markers, and the synthetic series, all in one committed batch.
    pub fn write(
        &mut self,
        store: &dyn Appendable,
        fetched: Result<&Fetched, &str>,
        start_ms: i64,
        duration: Duration,
    ) -> ScrapeOutcome {
        self.generation += 1;
        let mut outcome = ScrapeOutcome::default();
        let mut app = store.appender();
        let result = match fetched {
            Ok(f) => {
                let format = self.job.format_for(f.content_type.as_deref());
                self.append_samples(app.as_mut(), &f.body, format, start_ms, &mut outcome)
            }
            Err(e) => Err(e.to_owned()),
        };
        if let Err(e) = result {
            app.rollback();
            outcome = ScrapeOutcome { samples_scraped: outcome.samples_scraped, error: Some(e), ..Default::default() };
        }
        let failed = outcome.error.is_some();
        outcome.stale_markers = self.mark_stale(app.as_mut(), start_ms, failed);
        self.present = if failed { 0 } else { self.generation };
        self.append_report(app.as_mut(), start_ms, duration, &outcome);
        if let Err(e) = app.commit() {
            outcome.error.get_or_insert_with(|| format!("writing the scrape to storage: {e}"));
        }
        outcome
    }

    /// Marks every series of the last scrape and the synthetic series stale at
    /// `now_ms`: the target is gone or the manager stops. Returns markers written.
    pub fn write_end_of_run(&mut self, store: &dyn Appendable, now_ms: i64) -> u64 {
        let mut app = store.appender();
        let mut written = 0;
        for labels in self.present_series().iter().chain(self.report.iter().map(|r| &r.labels)) {
            if app.append(None, labels, Sample { t: now_ms, v: STALE_NAN }).is_ok() {
                written += 1;
            }
        }
        self.present = 0;
        self.carried.clear();
        match app.commit() {
            Ok(_) => written,
            Err(e) => {
                tracing::warn!(job = %self.job.name, error = %e, "writing end-of-run staleness markers failed");
                0
            }
        }
    }

    fn tracks_staleness(&self, series: &CachedSeries) -> bool {
        !series.explicit_timestamp || self.job.track_timestamps_staleness
    }

    fn append_samples(
        &mut self,
        app: &mut dyn Appender,
        body: &[u8],
        format: Format,
        start_ms: i64,
        outcome: &mut ScrapeOutcome,
    ) -> Result<(), String> {
        let parser = Parser::new(body, format).map_err(|e| format!("parsing the exposition: {e}"))?;
        let mut over_limit = false;
        let collect_metadata = self.job.metadata.is_some();
        let mut metadata: Vec<Entry<'_>> = Vec::new();
        let mut ctx = AppendContext { app, generation: self.generation, start_ms, job: &self.job, outcome };
        for entry in parser {
            let sample = match entry.map_err(|e| format!("parsing the exposition: {e}"))? {
                Entry::Sample(sample) => sample,
                other => {
                    if collect_metadata {
                        metadata.push(other);
                    }
                    continue;
                }
            };
            ctx.outcome.samples_scraped += 1;
            if over_limit {
                continue;
            }
            series_key(&mut self.key, &sample);
            let kept = if let Some(entry) = self.cache.get_mut(self.key.as_str()) {
                ctx.append(entry, &sample)
            } else {
                let series = build_series(ctx.job, &self.target_labels, &sample)?;
                if series.is_some() {
                    ctx.outcome.series_added += 1;
                }
                let series = series.map(|labels| CachedSeries { labels, hint: None, explicit_timestamp: false });
                let entry = self.cache.entry(self.key.clone()).or_insert(CacheEntry { series, seen: 0, prev_seen: 0 });
                ctx.append(entry, &sample)
            };
            over_limit = !kept;
        }
        if over_limit {
            return Err(format!("sample limit exceeded (limit {})", self.job.sample_limit));
        }
        if let Some(sink) = &self.job.metadata {
            let hash = metadata_hash(&metadata);
            if hash != self.metadata_hash {
                self.metadata_hash = hash;
                sink.record(&to_metadata(metadata));
            }
        }
        Ok(())
    }

    /// Writes stale markers for the series of the previous scrape that this one did
    /// not expose (all of them when it failed), and forgets long-unseen series.
    fn mark_stale(&mut self, app: &mut dyn Appender, t: i64, failed: bool) -> u64 {
        let (g, p) = (self.generation, self.present);
        let track_explicit = self.job.track_timestamps_staleness;
        let mut stale = 0;
        let mut current: Vec<&Labels> = Vec::new();
        for entry in self.cache.values_mut() {
            let was_present = p != 0 && (entry.seen == p || (entry.seen == g && entry.prev_seen == p));
            let gone = if failed { was_present } else { p != 0 && entry.seen == p };
            if failed && entry.seen == g {
                entry.seen = entry.prev_seen;
            }
            let Some(series) = &mut entry.series else { continue };
            if gone && (!series.explicit_timestamp || track_explicit) {
                if app.append(series.hint, &series.labels, Sample { t, v: STALE_NAN }).is_ok() {
                    stale += 1;
                }
            } else if !failed && entry.seen == g && !self.carried.is_empty() {
                current.push(&series.labels);
            }
        }
        if !self.carried.is_empty() {
            let current: std::collections::HashSet<&Labels> = current.into_iter().collect();
            for labels in self.carried.drain(..) {
                if !current.contains(&labels) && app.append(None, &labels, Sample { t, v: STALE_NAN }).is_ok() {
                    stale += 1;
                }
            }
        }
        self.cache.retain(|_, e| g - e.seen.min(g) <= EVICT_AFTER_SCRAPES);
        stale
    }

    fn append_report(&mut self, app: &mut dyn Appender, t: i64, duration: Duration, outcome: &ScrapeOutcome) {
        let values = [
            if outcome.error.is_none() { 1.0 } else { 0.0 },
            duration.as_secs_f64(),
            outcome.samples_scraped as f64,
            outcome.samples_post_relabeling as f64,
            outcome.series_added as f64,
        ];
        for (series, v) in self.report.iter_mut().zip(values) {
            if let Ok(r) = app.append(series.hint, &series.labels, Sample { t, v }) {
                series.hint = Some(r);
            }
        }
    }
}

/// Writes a staleness marker at `t_ms` for each of `series` in one batch; for series
/// a stopped loop handed over and no successor took. Returns the markers written.
pub(crate) fn write_stale(store: &dyn Appendable, series: &[Labels], t_ms: i64) -> u64 {
    let mut app = store.appender();
    let written = series.iter().filter(|l| app.append(None, l, Sample { t: t_ms, v: STALE_NAN }).is_ok()).count();
    match app.commit() {
        Ok(_) => written as u64,
        Err(e) => {
            tracing::warn!(error = %e, "writing staleness markers failed");
            0
        }
    }
}

/// How far ahead of the scrape an exposed timestamp may be (as remote_write's
/// limit): 10 minutes.
pub const MAX_FUTURE_MS: i64 = 10 * 60 * 1000;

/// What appending one sample needs besides the cache entry.
struct AppendContext<'a, 'b> {
    app: &'a mut dyn Appender,
    generation: u64,
    start_ms: i64,
    job: &'a JobSettings,
    outcome: &'b mut ScrapeOutcome,
}

impl AppendContext<'_, '_> {
    /// Appends one sample of a cached series. Returns false when the sample limit is
    /// exceeded (the scrape then fails as a whole).
    fn append(&mut self, entry: &mut CacheEntry, sample: &ExposedSample<'_>) -> bool {
        if entry.seen != self.generation {
            entry.prev_seen = entry.seen;
            entry.seen = self.generation;
        }
        let Some(series) = &mut entry.series else { return true };
        self.outcome.samples_post_relabeling += 1;
        if self.job.sample_limit > 0 && self.outcome.samples_post_relabeling > self.job.sample_limit as u64 {
            return false;
        }
        let t = match sample.timestamp_ms {
            // A timestamp far ahead of the scrape (a broken exporter or clock)
            // would make the store treat everything older as out of bounds:
            // refused like remote_write refuses it.
            Some(ts) if self.job.honor_timestamps && ts > self.start_ms.saturating_add(MAX_FUTURE_MS) => {
                self.outcome.rejected += 1;
                tracing::debug!(job = %self.job.name, series = %series.labels, timestamp = ts, "sample timestamp too far in the future");
                return true;
            }
            Some(ts) if self.job.honor_timestamps => {
                series.explicit_timestamp = true;
                ts
            }
            _ => {
                series.explicit_timestamp = false;
                self.start_ms
            }
        };
        match self.app.append(series.hint, &series.labels, Sample { t, v: sample.value }) {
            Ok(r) => series.hint = Some(r),
            Err(e) => {
                self.outcome.rejected += 1;
                tracing::debug!(job = %self.job.name, series = %series.labels, error = %e, "sample rejected");
            }
        }
        true
    }
}

/// The cache key of an exposed series: its name and labels as written.
fn series_key(key: &mut String, sample: &ExposedSample<'_>) {
    key.clear();
    key.push_str(&sample.name);
    for (name, value) in &sample.labels {
        key.push('\u{0}');
        key.push_str(name);
        key.push('\u{1}');
        key.push_str(value);
    }
}

/// The stored labels of an exposed series: its labels and name, the target's labels
/// merged by `honor_labels`, then metric relabeling and the label limits. `Ok(None)`
/// when relabeling drops it; an error fails the scrape.
fn build_series(
    job: &JobSettings,
    target_labels: &[(String, String)],
    sample: &ExposedSample<'_>,
) -> Result<Option<Labels>, String> {
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(sample.labels.len() + target_labels.len() + 1);
    pairs.extend(sample.labels.iter().filter(|(_, v)| !v.is_empty()).map(|(n, v)| (n.to_string(), v.to_string())));
    pairs.push(("__name__".to_owned(), sample.name.to_string()));
    pairs.sort_unstable();
    merge_target_labels(&mut pairs, target_labels, job.honor_labels);
    if !job.metric_rules.is_empty() && !relabel::process(&mut pairs, &job.metric_rules) {
        return Ok(None);
    }
    pairs.retain(|(_, v)| !v.is_empty());
    check_limits(job, &pairs, &sample.name)?;
    Labels::from_pairs(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())))
        .map(Some)
        .map_err(|e| format!("invalid metric name or label names in series {:?}: {e}", sample.name))
}

/// Adds the target's labels to sorted `pairs`. With `honor_labels` a scraped label
/// wins; without it the target's label wins and the scraped one is kept as
/// `exported_<name>` (`exported_exported_<name>`… while that name is taken).
fn merge_target_labels(pairs: &mut Vec<(String, String)>, target_labels: &[(String, String)], honor: bool) {
    let mut conflicts = Vec::new();
    for (name, value) in target_labels {
        match pairs.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(_) if honor => {}
            Ok(i) => conflicts.push((name.clone(), std::mem::replace(&mut pairs[i].1, value.clone()))),
            Err(i) => pairs.insert(i, (name.clone(), value.clone())),
        }
    }
    conflicts.sort_by_key(|(n, _)| n.len());
    for (name, value) in conflicts {
        let mut exported = format!("exported_{name}");
        loop {
            match pairs.binary_search_by(|(n, _)| n.as_str().cmp(&exported)) {
                Ok(_) => exported.insert_str(0, "exported_"),
                Err(i) => {
                    pairs.insert(i, (exported, value));
                    break;
                }
            }
        }
    }
}

fn check_limits(job: &JobSettings, pairs: &[(String, String)], metric: &str) -> Result<(), String> {
    if job.label_limit > 0 && pairs.len() > job.label_limit {
        return Err(format!(
            "label_limit exceeded (metric: {metric:.50}, number of labels: {}, limit: {})",
            pairs.len(),
            job.label_limit
        ));
    }
    for (name, value) in pairs {
        if job.label_name_length_limit > 0 && name.len() > job.label_name_length_limit {
            return Err(format!(
                "label_name_length_limit exceeded (metric: {metric:.50}, label name: {name:.50}, length: {}, limit: {})",
                name.len(),
                job.label_name_length_limit
            ));
        }
        if job.label_value_length_limit > 0 && value.len() > job.label_value_length_limit {
            return Err(format!(
                "label_value_length_limit exceeded (metric: {metric:.50}, label name: {name:.50}, value: {value:.50}, length: {}, limit: {})",
                value.len(),
                job.label_value_length_limit
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = list.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
        v.sort();
        v
    }

    #[test]
    fn honor_labels_false_renames_clashing_scraped_labels() {
        let mut scraped = pairs(&[("__name__", "m"), ("job", "app"), ("exported_job", "x"), ("a", "1")]);
        merge_target_labels(&mut scraped, &pairs(&[("instance", "h:1"), ("job", "node")]), false);
        assert_eq!(
            scraped,
            pairs(&[
                ("__name__", "m"),
                ("a", "1"),
                ("exported_exported_job", "app"),
                ("exported_job", "x"),
                ("instance", "h:1"),
                ("job", "node"),
            ])
        );
    }

    #[test]
    fn honor_labels_true_keeps_scraped_labels() {
        let mut scraped = pairs(&[("__name__", "m"), ("job", "app")]);
        merge_target_labels(&mut scraped, &pairs(&[("instance", "h:1"), ("job", "node")]), true);
        assert_eq!(scraped, pairs(&[("__name__", "m"), ("instance", "h:1"), ("job", "app")]));
    }
}
