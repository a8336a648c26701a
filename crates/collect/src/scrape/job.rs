//! A scrape job compiled for its loops: relabeling rules, limits and the HTTP client
//! settings, derived once from its [`ScrapeConfig`] and shared by its targets.

use std::sync::Arc;

use wk_ingest::exposition::Format;

use super::ScrapeConfig;
use super::fetch::ClientSettings;
use crate::relabel::Rule;

/// Where scrape loops report the metric metadata (`# HELP`, `# TYPE`, `# UNIT`)
/// their targets expose; the server feeds `/api/v1/metadata` with it.
pub trait MetadataSink: Send + Sync + std::fmt::Debug {
    /// Records the metadata of one target's scrape (called when it changed).
    fn record(&self, metadata: &[wk_ingest::Metadata]);
}

/// One job's settings, as the scrape loops use them.
#[derive(Debug)]
pub struct JobSettings {
    /// The job name; the scrape pool's name in the targets API.
    pub name: String,
    /// The configuration it was compiled from.
    pub config: ScrapeConfig,
    /// `honor_labels`: scraped labels win over target labels.
    pub honor_labels: bool,
    /// `honor_timestamps`: use the timestamps the target exposes.
    pub honor_timestamps: bool,
    /// `track_timestamps_staleness`: stale markers for series with explicit timestamps too.
    pub track_timestamps_staleness: bool,
    /// The format assumed when the response has no recognised `Content-Type`.
    pub fallback_format: Format,
    /// Most samples kept per scrape after metric relabeling; 0 for no limit.
    pub sample_limit: usize,
    /// Most labels per series; 0 for no limit.
    pub label_limit: usize,
    /// Longest label name in bytes; 0 for no limit.
    pub label_name_length_limit: usize,
    /// Longest label value in bytes; 0 for no limit.
    pub label_value_length_limit: usize,
    /// Most dropped targets listed in the targets API; 0 for all.
    pub keep_dropped_targets: usize,
    /// `relabel_configs`, compiled.
    pub target_rules: Vec<Rule>,
    /// `metric_relabel_configs`, compiled.
    pub metric_rules: Vec<Rule>,
    /// The HTTP client settings.
    pub client: Arc<ClientSettings>,
    /// Where metadata goes; none by default.
    pub metadata: Option<Arc<dyn MetadataSink>>,
}

impl JobSettings {
    /// Compiles a validated job. Fails on a rule whose regex does not compile or a
    /// header HTTP cannot carry; the message names the job.
    pub fn new(config: &ScrapeConfig) -> Result<Self, String> {
        let name = config.job_name.value.clone();
        let compile = |rules: &[wk_config::Spanned<Option<crate::relabel::RelabelConfig>>]| {
            rules
                .iter()
                .filter_map(|r| r.value.as_ref())
                .map(|r| r.compile().map_err(|e| format!("job {name:?}: relabeling rule: {e}")))
                .collect::<Result<Vec<_>, _>>()
        };
        let limit = |v: Option<u64>| v.map_or(0, |v| usize::try_from(v).unwrap_or(usize::MAX));
        let fallback_format = match config.fallback_scrape_protocol.as_deref() {
            Some(p) if p.starts_with("OpenMetrics") => Format::OpenMetrics,
            _ => Format::PrometheusText,
        };
        Ok(Self {
            name: name.clone(),
            config: config.clone(),
            honor_labels: config.honor_labels,
            honor_timestamps: config.honor_timestamps,
            track_timestamps_staleness: config.track_timestamps_staleness,
            fallback_format,
            sample_limit: limit(config.sample_limit),
            label_limit: limit(config.label_limit),
            label_name_length_limit: limit(config.label_name_length_limit),
            label_value_length_limit: limit(config.label_value_length_limit),
            keep_dropped_targets: limit(config.keep_dropped_targets),
            target_rules: compile(&config.relabel_configs)?,
            metric_rules: compile(&config.metric_relabel_configs)?,
            client: Arc::new(ClientSettings::new(config).map_err(|e| format!("job {name:?}: {e}"))?),
            metadata: None,
        })
    }

    /// The exposition format of a response with `content_type`: OpenMetrics or
    /// Prometheus text when named, the job's fallback otherwise.
    pub fn format_for(&self, content_type: Option<&str>) -> Format {
        let Some(content_type) = content_type else { return self.fallback_format };
        let lower = content_type.trim_start().to_ascii_lowercase();
        if lower.starts_with("application/openmetrics-text") {
            Format::OpenMetrics
        } else if lower.starts_with("text/plain") {
            Format::PrometheusText
        } else {
            self.fallback_format
        }
    }
}
