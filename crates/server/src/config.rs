//! The configuration file: a superset of `prometheus.yml` (see `docs/configuration.md`).
//!
//! Loading has two steps. Deserialization rejects unknown keys, wrong types and bad
//! durations at the first problem, with its line and column. Validation then checks
//! the whole typed configuration and reports *every* problem it finds, each with the
//! line and column of the item it concerns. Sections that Prometheus has and
//! Watchkeeper does not act on yet are accepted, kept, and reported as warnings.

mod global;
mod otlp;
mod query;
mod storage;
mod web;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_saphyr::{Location, Spanned};

pub use global::{GlobalConfig, NameValidationScheme};
pub use otlp::{DEFAULT_OTLP_GRPC_LISTEN_ADDRESS, OtlpConfig, OtlpGrpcConfig};
pub use query::QueryConfig;
pub use storage::{FsyncPolicy, LimitsConfig, StorageConfig, WalConfig};
pub use web::{DEFAULT_LISTEN_ADDRESS, TlsServerConfig, WebConfig};
pub use wk_agent::config::{AgentConfig, QueueConfig, RemoteWriteConfig};
pub use wk_collect::heartbeat::HeartbeatConfig;
pub use wk_collect::host::HostAgentConfig;
pub use wk_collect::http_client::{Authorization, BasicAuth, HeaderValues, OAuth2, TlsClientConfig};
pub use wk_collect::probe::{HttpProbeConfig, ProbeConfig, ProbeKind};
pub use wk_collect::relabel::{Action as RelabelAction, RelabelConfig};
pub use wk_collect::scrape::{DnsSdConfig, FileSdConfig, HttpSdConfig, ScrapeConfig, ScrapeDefaults, StaticConfig};
pub use wk_config::{
    ByteSize, Diagnostic, Problems, PromDuration, REDACTED, Secret, SecretSource, Severity, Value, expand_env,
};
use wk_config::{entries, null_as_default};

/// The whole configuration file. Every field has a default, so an empty file (or no
/// file at all) is a working configuration.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Defaults for scraping and rule evaluation, as Prometheus. Read it through
    /// [`Config::global`]; an empty `global:` means all defaults.
    pub global: Spanned<Option<GlobalConfig>>,
    /// Prometheus's Go runtime settings; accepted and ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<Value>,
    /// Rule files (globs allowed), as Prometheus.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rule_files: Vec<Spanned<String>>,
    /// Files holding more scrape configs, as Prometheus.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scrape_config_files: Vec<String>,
    /// Scrape jobs, as Prometheus.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scrape_configs: Vec<Spanned<Option<ScrapeConfig>>>,
    /// External Alertmanagers and alert relabeling, as Prometheus.
    #[serde(skip_serializing_if = "AlertingConfig::is_empty", deserialize_with = "null_as_default")]
    pub alerting: AlertingConfig,
    /// Prometheus remote write targets: where `watchkeeper agent` sends what it
    /// collects (`serve` stores locally and ignores them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remote_write: Vec<Spanned<RemoteWriteConfig>>,
    /// Prometheus remote read sources.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remote_read: Vec<Value>,
    /// OTLP: the OTLP/gRPC listener, and Prometheus's translation settings (accepted,
    /// not acted on yet).
    #[serde(deserialize_with = "null_as_default")]
    pub otlp: OtlpConfig,
    /// Prometheus's tracing exporter settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Value>,
    /// Storage settings.
    #[serde(deserialize_with = "null_as_default")]
    pub storage: StorageConfig,
    /// HTTP(S) and TCP checks run from Watchkeeper.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<Spanned<ProbeConfig>>,
    /// Dead man's switches: jobs that must check in periodically.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub heartbeats: Vec<Spanned<HeartbeatConfig>>,
    /// Scraping Watchkeeper's own `/metrics` into its storage.
    #[serde(deserialize_with = "null_as_default")]
    pub self_monitoring: SelfMonitoringConfig,
    /// PromQL limits.
    #[serde(deserialize_with = "null_as_default")]
    pub query: QueryConfig,
    /// The built-in host agent (node_exporter's metrics, on by default).
    #[serde(deserialize_with = "null_as_default")]
    pub host_agent: HostAgentConfig,
    /// Watchkeeper's HTTP server.
    #[serde(deserialize_with = "null_as_default")]
    pub web: WebConfig,
    /// `watchkeeper agent`: the bound of its disk buffer.
    #[serde(deserialize_with = "null_as_default")]
    pub agent: AgentConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            global: Spanned::new(Some(GlobalConfig::default()), Location::UNKNOWN, Location::UNKNOWN),
            runtime: None,
            rule_files: Vec::new(),
            scrape_config_files: Vec::new(),
            scrape_configs: Vec::new(),
            alerting: AlertingConfig::default(),
            remote_write: Vec::new(),
            remote_read: Vec::new(),
            otlp: OtlpConfig::default(),
            tracing: None,
            storage: StorageConfig::default(),
            host_agent: HostAgentConfig::default(),
            query: QueryConfig::default(),
            self_monitoring: SelfMonitoringConfig::default(),
            probes: Vec::new(),
            heartbeats: Vec::new(),
            web: WebConfig::default(),
            agent: AgentConfig::default(),
        }
    }
}

/// The `self_monitoring:` section: Watchkeeper scrapes its own `/metrics` as job
/// `watchkeeper`, so its health is queryable and alertable like any target's.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SelfMonitoringConfig {
    /// Scrape itself. Default true. Ignored when a scrape job named `watchkeeper`
    /// exists (yours wins) and when the server serves TLS.
    pub enabled: bool,
    /// How often. Default 15s.
    pub interval: PromDuration,
}

impl Default for SelfMonitoringConfig {
    fn default() -> Self {
        Self { enabled: true, interval: PromDuration::from_secs(15) }
    }
}

impl Config {
    /// The scrape jobs to run: the file's, plus the self-scrape of `self_address`
    /// when `self_monitoring` asks for it.
    pub fn scrape_jobs_with_self(&self, self_address: std::net::SocketAddr) -> Vec<ScrapeConfig> {
        let mut jobs: Vec<ScrapeConfig> = self.scrape_jobs().cloned().collect();
        let wanted = self.self_monitoring.enabled
            && self.web.tls_config.is_none()
            && !jobs.iter().any(|j| j.job_name.value == "watchkeeper");
        if wanted {
            let interval = self.self_monitoring.interval;
            let yaml = format!(
                "job_name: watchkeeper\nscrape_interval: {interval}\nstatic_configs:\n  - targets: ['{self_address}']\n"
            );
            if let Ok(mut job) = serde_saphyr::from_str::<ScrapeConfig>(&yaml) {
                let mut ignored = Problems::default();
                let mut defaults = self.global().scrape_defaults();
                defaults.scrape_timeout = defaults.scrape_timeout.min(interval);
                job.finalize(&defaults, Location::UNKNOWN, &mut ignored);
                jobs.push(job);
            }
        }
        jobs
    }
}

/// The `alerting:` section.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertingConfig {
    /// Relabeling applied to alerts before they are sent.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alert_relabel_configs: Vec<Spanned<Option<RelabelConfig>>>,
    /// External Alertmanagers to send alerts to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alertmanagers: Vec<Value>,
}

impl AlertingConfig {
    fn is_empty(&self) -> bool {
        self.alert_relabel_configs.is_empty() && self.alertmanagers.is_empty()
    }
}

impl Config {
    /// The `global:` section, defaults filled in.
    pub fn global(&self) -> &GlobalConfig {
        static DEFAULT: std::sync::OnceLock<GlobalConfig> = std::sync::OnceLock::new();
        self.global.value.as_ref().unwrap_or_else(|| DEFAULT.get_or_init(GlobalConfig::default))
    }

    /// The configured probes.
    pub fn probe_list(&self) -> Vec<ProbeConfig> {
        self.probes.iter().map(|p| p.value.clone()).collect()
    }

    /// The configured heartbeats.
    pub fn heartbeat_list(&self) -> Vec<HeartbeatConfig> {
        self.heartbeats.iter().map(|h| h.value.clone()).collect()
    }

    /// The scrape jobs, without null entries (which validation reports).
    pub fn scrape_jobs(&self) -> impl Iterator<Item = &ScrapeConfig> {
        self.scrape_configs.iter().filter_map(|job| job.value.as_ref())
    }

    /// The configuration as YAML, with every secret shown as `<secret>`: what the
    /// config API and logs may show.
    pub fn to_redacted_yaml(&self) -> String {
        serde_saphyr::to_string(self).unwrap_or_else(|e| format!("# configuration could not be printed: {e}\n"))
    }

    fn validate(&mut self, problems: &mut Problems) {
        let at = self.global.referenced;
        let global = self.global.value.get_or_insert_with(GlobalConfig::default).clone();
        for (name, value) in &global.external_labels {
            if name.is_empty() {
                problems.error(at, format!("external label name {name:?} is invalid: empty"));
            }
            if value.is_empty() {
                problems.error(at, format!("empty value for external label {name:?}"));
            }
        }
        wk_collect::scrape::check_protocols(&global.scrape_protocols, None, at, problems);
        wk_collect::scrape::check_name_schemes(
            global.metric_name_validation_scheme.map(|s| s.as_str()),
            global.metric_name_escaping_scheme.as_deref(),
            at,
            problems,
        );
        for Spanned { value: file, referenced, .. } in &self.rule_files {
            let dir = Path::new(file).parent().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
            if dir.contains(['*', '?', '[']) {
                problems.error(
                    *referenced,
                    format!("invalid rule file path {file:?}: only the last path element may be a glob"),
                );
            }
        }
        self.storage.validate(problems);
        self.agent.validate(problems);
        for entry in &self.remote_write {
            entry.value.validate(entry.referenced, problems);
        }
        let mut names = std::collections::HashSet::new();
        for entry in &self.remote_write {
            if !names.insert(entry.value.queue_name()) {
                problems.error(
                    entry.referenced,
                    format!("found multiple remote write configs with name {:?}", entry.value.queue_name()),
                );
            }
        }
        self.query.validate(problems);
        self.otlp.validate(self.web.listen_address, problems);
        wk_collect::probe::config::validate(&self.probes, problems);
        wk_collect::heartbeat::validate(&self.heartbeats, problems);
        if self.host_agent.interval.get().is_zero() {
            problems.error(Location::UNKNOWN, "host_agent.interval must be greater than 0s");
        }
        if global.scrape_timeout() > global.scrape_interval {
            problems.error(at, "global scrape timeout greater than scrape interval");
        }
        let defaults = global.scrape_defaults();
        for job in &mut self.scrape_configs {
            match job.value.as_mut() {
                Some(config) => config.finalize(&defaults, job.referenced, problems),
                None => problems.error(job.referenced, "empty or null scrape config section"),
            }
        }
        wk_collect::scrape::check_unique_jobs(&self.scrape_configs, problems);
        for (rule, at) in entries(&self.alerting.alert_relabel_configs, "alert relabeling rule", problems) {
            rule.validate(at, problems);
        }
        let ignored = [
            ("remote_read", !self.remote_read.is_empty()),
            ("alerting.alertmanagers", !self.alerting.alertmanagers.is_empty()),
            ("scrape_config_files", !self.scrape_config_files.is_empty()),
            ("tracing", self.tracing.is_some()),
            ("runtime", self.runtime.is_some()),
        ];
        for (section, present) in ignored {
            if present {
                problems.warning(Location::UNKNOWN, format!("{section} is not supported yet and is ignored"));
            }
        }
    }
}

/// A configuration that loaded, with the warnings found on the way.
#[derive(Debug)]
pub struct Loaded {
    /// The configuration, defaults filled in.
    pub config: Config,
    /// Warnings (never errors), formatted as `FILE:LINE:COLUMN: warning: …`.
    pub warnings: Vec<String>,
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read configuration file: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file was read and is wrong; every problem found is listed.
    #[error("{}", render_all(path, problems))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every error and warning found, in file order.
        problems: Vec<Diagnostic>,
    },
}

impl ConfigError {
    /// Each problem as one `FILE:LINE:COLUMN: message` line.
    pub fn lines(&self) -> Vec<String> {
        match self {
            Self::Read { .. } => vec![self.to_string()],
            Self::Invalid { path, problems } => problems.iter().map(|d| render(path, d)).collect(),
        }
    }
}

fn render(path: &Path, d: &Diagnostic) -> String {
    let kind = match d.severity {
        Severity::Error => "",
        Severity::Warning => "warning: ",
    };
    if d.line == 0 {
        format!("{}: {kind}{}", path.display(), d.message)
    } else {
        format!("{}:{}:{}: {kind}{}", path.display(), d.line, d.column, d.message)
    }
}

fn render_all(path: &Path, problems: &[Diagnostic]) -> String {
    problems.iter().map(|d| render(path, d)).collect::<Vec<_>>().join("\n")
}

/// Reads and checks the configuration file at `path`.
pub fn load_file(path: &Path) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
    parse(&text, path)
}

/// Parses and checks configuration text; `path` is only used in messages.
pub fn parse(text: &str, path: &Path) -> Result<Loaded, ConfigError> {
    let mut problems = Problems::default();
    let mut config = if text.trim().is_empty() {
        Config::default()
    } else {
        let key_path = std::cell::RefCell::new(String::new());
        let result = serde_saphyr::with_deserializer_from_str_with_options(text, parse_options(), |de| {
            serde_path_to_error::deserialize::<_, Option<Config>>(de).map_err(|e| {
                *key_path.borrow_mut() = e.path().to_string();
                e.into_inner()
            })
        });
        match result {
            Ok(config) => config.unwrap_or_default(),
            Err(e) => {
                let at = e.location().unwrap_or(Location::UNKNOWN);
                let key_path = key_path.into_inner().replace(".value", "").replace(".?", "");
                let message = plain_message(&e);
                let message = if key_path.is_empty() || key_path == "." || message.contains("unknown field") {
                    message
                } else {
                    format!("{key_path}: {message}")
                };
                problems.error(at, message);
                return Err(ConfigError::Invalid { path: path.to_owned(), problems: problems.into_sorted() });
            }
        }
    };
    config.validate(&mut problems);
    let findings = problems.into_sorted();
    if findings.iter().any(|d| d.severity == Severity::Error) {
        return Err(ConfigError::Invalid { path: path.to_owned(), problems: findings });
    }
    let warnings = findings.iter().map(|d| render(path, d)).collect();
    Ok(Loaded { config, warnings })
}

fn parse_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        with_snippet: false,
    }
}

/// The deserializer's message without its own location suffix or source snippet,
/// since we print `FILE:LINE:COLUMN:` in front.
fn plain_message(e: &serde_saphyr::Error) -> String {
    let options = serde_saphyr::render_options! {
        snippets: serde_saphyr::SnippetMode::Off,
        formatter: &serde_saphyr::UserMessageFormatter,
    };
    let text = e.render_with_options(options);
    let text = text.lines().next().unwrap_or_default().to_owned();
    let text = strip_location_suffix(&text);
    // Drop hints meant for programmers using the YAML library, not for operators.
    let hints = [", set DuplicateKeyPolicy", "; use Option<", ". If you just use !!binary"];
    let end = hints.iter().filter_map(|hint| text.find(hint)).min().unwrap_or(text.len());
    let text = &text[..end];
    // Say what was expected in the words of the file, not of Rust types.
    match text {
        "invalid u8" | "invalid u16" | "invalid u32" | "invalid u64" | "invalid usize" => {
            "expected a non-negative whole number".to_owned()
        }
        "invalid i8" | "invalid i16" | "invalid i32" | "invalid i64" => "expected a whole number".to_owned(),
        "invalid f32" | "invalid f64" => "expected a number".to_owned(),
        "invalid bool" => "expected true or false".to_owned(),
        "expected sequence start" => "expected a list".to_owned(),
        "expected mapping start" => "expected a mapping of keys to values".to_owned(),
        other => other.to_owned(),
    }
}

fn strip_location_suffix(text: &str) -> &str {
    match text.rfind(" at line ") {
        Some(pos) if text[pos..].contains("column") => &text[..pos],
        _ => text,
    }
}

#[cfg(test)]
mod tests;
