//! The `global:` section, as Prometheus defines it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use wk_collect::scrape::ScrapeDefaults;
use wk_config::{ByteSize, PromDuration};

/// Defaults that apply to every scrape job and rule group unless they override them.
/// Field names, meanings and defaults are Prometheus's.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GlobalConfig {
    /// How often targets are scraped. Default 1m.
    pub scrape_interval: PromDuration,
    /// How long a scrape may take. When not set: 10s, or the interval if that is
    /// shorter. Read it through [`GlobalConfig::scrape_timeout`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrape_timeout: Option<PromDuration>,
    /// Exposition formats offered to targets, in order of preference.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scrape_protocols: Vec<String>,
    /// How often rule groups are evaluated. Default 1m.
    pub evaluation_interval: PromDuration,
    /// How far back in time rules evaluate, to let late samples arrive. Default 0s.
    pub rule_query_offset: PromDuration,
    /// Labels added to every series and alert sent to external systems.
    pub external_labels: BTreeMap<String, String>,
    /// File to which PromQL queries are logged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_log_file: Option<String>,
    /// File to which scrape failures are logged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrape_failure_log_file: Option<String>,
    /// Largest uncompressed scrape body accepted; 0 means no limit.
    pub body_size_limit: ByteSize,
    /// Most samples accepted from one scrape; 0 means no limit.
    pub sample_limit: u64,
    /// Most targets per scrape job; 0 means no limit.
    pub target_limit: u64,
    /// Most labels per scraped series; 0 means no limit.
    pub label_limit: u64,
    /// Longest label name accepted from a scrape; 0 means no limit.
    pub label_name_length_limit: u64,
    /// Longest label value accepted from a scrape; 0 means no limit.
    pub label_value_length_limit: u64,
    /// How many dropped targets to keep for the targets API; 0 means all.
    pub keep_dropped_targets: u64,
    /// `utf8` (default) or `legacy` metric and label name validation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_name_validation_scheme: Option<NameValidationScheme>,
    /// How names are escaped for consumers that need legacy names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_name_escaping_scheme: Option<String>,
    /// Scrape classic histograms even when a native form is offered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub always_scrape_classic_histograms: Option<bool>,
    /// Convert classic histograms to native histograms with custom buckets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub convert_classic_histograms_to_nhcb: Option<bool>,
    /// Add the extra scrape metrics (`scrape_timeout_seconds`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_scrape_metrics: Option<bool>,
    /// Ask targets for native histograms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrape_native_histograms: Option<bool>,
}

/// How metric and label names are validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NameValidationScheme {
    /// Any valid UTF-8 (Prometheus 3 default).
    Utf8,
    /// `[a-zA-Z_:][a-zA-Z0-9_:]*` for metric names, no colon for label names.
    Legacy,
}

impl GlobalConfig {
    /// The scrape timeout in force: the configured one, or 10s capped at the interval.
    pub fn scrape_timeout(&self) -> PromDuration {
        self.scrape_timeout.unwrap_or_else(|| PromDuration::from_secs(10).min(self.scrape_interval))
    }
}

impl GlobalConfig {
    /// What scrape jobs inherit from this section.
    pub fn scrape_defaults(&self) -> ScrapeDefaults {
        ScrapeDefaults {
            scrape_interval: self.scrape_interval,
            scrape_timeout: self.scrape_timeout(),
            body_size_limit: self.body_size_limit,
            sample_limit: self.sample_limit,
            target_limit: self.target_limit,
            label_limit: self.label_limit,
            label_name_length_limit: self.label_name_length_limit,
            label_value_length_limit: self.label_value_length_limit,
            keep_dropped_targets: self.keep_dropped_targets,
            metric_name_validation_scheme: self.metric_name_validation_scheme.map(|s| s.as_str().to_owned()),
            metric_name_escaping_scheme: self.metric_name_escaping_scheme.clone(),
        }
    }
}

impl NameValidationScheme {
    /// The name as written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Utf8 => "utf8",
            Self::Legacy => "legacy",
        }
    }
}

impl Default for GlobalConfig {
    fn default() -> Self {
        Self {
            scrape_interval: PromDuration::from_secs(60),
            scrape_timeout: None,
            scrape_protocols: Vec::new(),
            evaluation_interval: PromDuration::from_secs(60),
            rule_query_offset: PromDuration::default(),
            external_labels: BTreeMap::new(),
            query_log_file: None,
            scrape_failure_log_file: None,
            body_size_limit: ByteSize(0),
            sample_limit: 0,
            target_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            keep_dropped_targets: 0,
            metric_name_validation_scheme: None,
            metric_name_escaping_scheme: None,
            always_scrape_classic_histograms: None,
            convert_classic_histograms_to_nhcb: None,
            extra_scrape_metrics: None,
            scrape_native_histograms: None,
        }
    }
}
