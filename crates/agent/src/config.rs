//! The settings this crate is tuned by: `remote_write:` entries as Prometheus writes
//! them, and the top-level `agent:` section (the disk buffer's bound).
//!
//! Keys Prometheus has and the agent does not act on (`oauth2`, `sigv4`, proxies,
//! `metadata_config`…) are accepted and reported as warnings by [`RemoteWriteConfig::validate`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_saphyr::{Location, Spanned};
use wk_collect::http_client::{Authorization, BasicAuth, TlsClientConfig, validate_auth};
use wk_collect::relabel::RelabelConfig;
use wk_config::{ByteSize, Problems, PromDuration, Secret, Value, entries};

/// Default bound of each remote_write queue on disk: 1 GiB.
pub const DEFAULT_MAX_BUFFER_SIZE: ByteSize = ByteSize(1 << 30);

/// The `agent:` section: how `watchkeeper agent` buffers what it cannot send yet.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// Most bytes one remote_write queue may hold on disk. Beyond it the oldest unsent
    /// data is dropped (counted in `watchkeeper_agent_samples_dropped_total` and
    /// logged). Default 1GB; at least 64KB.
    pub max_buffer_size: ByteSize,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self { max_buffer_size: DEFAULT_MAX_BUFFER_SIZE }
    }
}

impl AgentConfig {
    /// Smallest accepted `max_buffer_size`.
    pub const MIN_BUFFER_SIZE: u64 = 64 << 10;

    /// Adds every problem of the section to `problems`.
    pub fn validate(&self, problems: &mut Problems) {
        if self.max_buffer_size.0 < Self::MIN_BUFFER_SIZE {
            problems.error(
                Location::UNKNOWN,
                format!("agent.max_buffer_size {} is below the minimum of 64KB", self.max_buffer_size),
            );
        }
    }
}

/// One `remote_write:` entry, as Prometheus's.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RemoteWriteConfig {
    /// The endpoint, e.g. `http://watchkeeper:9800/api/v1/write`.
    pub url: String,
    /// A name for logs, metrics and the queue directory; derived from the URL when empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Timeout of one request. Default 30s.
    pub remote_timeout: PromDuration,
    /// Extra HTTP headers sent with every request.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Relabeling applied to each series just before it is sent.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub write_relabel_configs: Vec<Spanned<Option<RelabelConfig>>>,
    /// HTTP basic authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// `Authorization` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// Bearer token (deprecated in Prometheus in favour of `authorization`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<Secret>,
    /// File holding the bearer token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bearer_token_file: Option<PathBuf>,
    /// TLS settings for `https://` URLs.
    pub tls_config: TlsClientConfig,
    /// Batching and retry settings.
    pub queue_config: QueueConfig,
    /// Accepted, not acted on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_config: Option<Value>,
    /// Accepted, not acted on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<Value>,
    /// Accepted, not acted on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sigv4: Option<Value>,
    /// Accepted, not acted on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub azuread: Option<Value>,
    /// Accepted, not acted on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub google_iam: Option<Value>,
    /// Accepted, not acted on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    /// Accepted, not acted on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_proxy: Option<String>,
    /// Accepted, not acted on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_from_environment: Option<bool>,
    /// Accepted, not acted on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_connect_header: Option<Value>,
    /// Accepted; redirects are never followed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<bool>,
    /// Accepted; the agent speaks HTTP/1.1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_http2: Option<bool>,
    /// Accepted; exemplars are not collected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_exemplars: Option<bool>,
    /// Accepted; native histograms are not collected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_native_histograms: Option<bool>,
    /// Only `prometheus.WriteRequest` (remote_write 1.0) is sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protobuf_message: Option<String>,
    /// Accepted, not acted on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub round_robin_dns: Option<bool>,
}

impl Default for RemoteWriteConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            name: None,
            remote_timeout: PromDuration::from_secs(30),
            headers: BTreeMap::new(),
            write_relabel_configs: Vec::new(),
            basic_auth: None,
            authorization: None,
            bearer_token: None,
            bearer_token_file: None,
            tls_config: TlsClientConfig::default(),
            queue_config: QueueConfig::default(),
            metadata_config: None,
            oauth2: None,
            sigv4: None,
            azuread: None,
            google_iam: None,
            proxy_url: None,
            no_proxy: None,
            proxy_from_environment: None,
            proxy_connect_header: None,
            follow_redirects: None,
            enable_http2: None,
            send_exemplars: None,
            send_native_histograms: None,
            protobuf_message: None,
            round_robin_dns: None,
        }
    }
}

/// `queue_config:` — how samples are batched and retried.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Most samples in one request. Default 2000.
    pub max_samples_per_send: usize,
    /// Longest a sample waits for its batch to fill before it is sent. Default 5s.
    pub batch_send_deadline: PromDuration,
    /// First retry delay, doubled after each failure. Default 30ms.
    pub min_backoff: PromDuration,
    /// Longest retry delay. Default 5s.
    pub max_backoff: PromDuration,
    /// Retry on HTTP 429 (honouring `Retry-After`) instead of dropping. Default true:
    /// the agent's purpose is not to lose data.
    pub retry_on_http_429: bool,
    /// Accepted; the agent's buffer is on disk (see `agent.max_buffer_size`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u64>,
    /// Accepted; one sender per queue keeps samples in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_shards: Option<u64>,
    /// Accepted; one sender per queue keeps samples in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_shards: Option<u64>,
    /// Accepted, not acted on: buffered samples are sent however old.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_age_limit: Option<PromDuration>,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            max_samples_per_send: 2000,
            batch_send_deadline: PromDuration::from_secs(5),
            min_backoff: PromDuration::from_millis(30),
            max_backoff: PromDuration::from_secs(5),
            retry_on_http_429: true,
            capacity: None,
            max_shards: None,
            min_shards: None,
            sample_age_limit: None,
        }
    }
}

impl RemoteWriteConfig {
    /// A configuration sending to `url` with every default.
    pub fn for_url(url: impl Into<String>) -> Self {
        Self { url: url.into(), ..Self::default() }
    }

    /// The queue's name: `name`, or `rw-` and a hash of the URL.
    pub fn queue_name(&self) -> String {
        match self.name.as_deref().filter(|n| !n.is_empty()) {
            Some(name) => name.to_owned(),
            None => format!("rw-{:08x}", crc32c::crc32c(self.url.as_bytes())),
        }
    }

    /// Adds every problem of this entry to `problems`; `at` is where it starts.
    pub fn validate(&self, at: Location, problems: &mut Problems) {
        match self.url.parse::<http::Uri>() {
            _ if self.url.is_empty() => problems.error(at, "remote_write: url is required"),
            Ok(uri) if matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some() => {}
            // Prometheus accepts any URL here (e.g. `localhost:9090`); the agent cannot send to it.
            Ok(_) => problems.warning(
                at,
                format!(
                    "remote_write: url {:?} must be http:// or https:// with a host for the agent to use it",
                    self.url
                ),
            ),
            Err(e) => problems.error(at, format!("remote_write: invalid url {:?}: {e}", self.url)),
        }
        if let Some(name) = &self.name
            && !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            problems.error(at, format!("remote_write: name {name:?} may hold only letters, digits, '-' and '_'"));
        }
        if self.remote_timeout.get().is_zero() {
            problems.error(at, "remote_write: remote_timeout must be greater than 0s");
        }
        let q = &self.queue_config;
        if q.max_samples_per_send == 0 {
            problems.error(at, "remote_write: queue_config.max_samples_per_send must be greater than 0");
        }
        if q.batch_send_deadline.get().is_zero() {
            problems.error(at, "remote_write: queue_config.batch_send_deadline must be greater than 0s");
        }
        if q.min_backoff > q.max_backoff {
            problems.error(at, "remote_write: queue_config.min_backoff is greater than max_backoff");
        }
        for name in self.headers.keys() {
            if http::HeaderName::try_from(name.as_str()).is_err() {
                problems.error(at, format!("remote_write: invalid header name {name:?}"));
            }
        }
        validate_auth(
            at,
            self.basic_auth.as_ref(),
            self.authorization.as_ref(),
            None,
            self.bearer_token.is_some() || self.bearer_token_file.is_some(),
            problems,
        );
        for (rule, rule_at) in entries(&self.write_relabel_configs, "write relabeling rule", problems) {
            rule.validate(rule_at, problems);
        }
        let ignored = [
            ("metadata_config", self.metadata_config.is_some()),
            ("oauth2", self.oauth2.is_some()),
            ("sigv4", self.sigv4.is_some()),
            ("azuread", self.azuread.is_some()),
            ("google_iam", self.google_iam.is_some()),
            ("proxy_url", self.proxy_url.is_some()),
            ("no_proxy", self.no_proxy.is_some()),
            ("proxy_from_environment", self.proxy_from_environment.is_some()),
            ("proxy_connect_header", self.proxy_connect_header.is_some()),
        ];
        for (key, present) in ignored {
            if present {
                problems.warning(at, format!("remote_write: {key} is not supported yet and is ignored"));
            }
        }
        if self.protobuf_message.as_deref().is_some_and(|m| m != "prometheus.WriteRequest") {
            problems.warning(at, "remote_write: only protobuf_message prometheus.WriteRequest (1.0) is sent");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems_of(yaml: &str) -> Vec<String> {
        let config: RemoteWriteConfig = serde_saphyr::from_str(yaml).unwrap();
        let mut problems = Problems::default();
        config.validate(Location::UNKNOWN, &mut problems);
        problems.into_sorted().into_iter().map(|d| d.message).collect()
    }

    #[test]
    fn prometheus_style_entry_loads_with_defaults() {
        let yaml = "url: http://a:9800/api/v1/write\nqueue_config:\n  max_samples_per_send: 500\n  capacity: 10000\n";
        let config: RemoteWriteConfig = serde_saphyr::from_str(yaml).unwrap();
        assert_eq!(config.queue_config.max_samples_per_send, 500);
        assert_eq!(config.queue_config.batch_send_deadline, PromDuration::from_secs(5));
        assert_eq!(config.remote_timeout, PromDuration::from_secs(30));
        assert!(config.queue_name().starts_with("rw-"));
        assert!(problems_of(yaml).is_empty());
    }

    #[test]
    fn every_problem_is_reported() {
        let found = problems_of(
            "url: ftp://x\nname: 'a b'\nremote_timeout: 0s\nqueue_config:\n  max_samples_per_send: 0\n  min_backoff: 10s\n  max_backoff: 1s\n",
        );
        let expect =
            ["must be http:// or https://", "name \"a b\"", "remote_timeout", "max_samples_per_send", "min_backoff"];
        for want in expect {
            assert!(found.iter().any(|m| m.contains(want)), "{want:?} missing in {found:?}");
        }
        assert!(problems_of("{}").iter().any(|m| m.contains("url is required")));
    }

    #[test]
    fn tiny_buffer_is_refused() {
        let mut problems = Problems::default();
        AgentConfig { max_buffer_size: ByteSize(1000) }.validate(&mut problems);
        assert!(problems.has_errors());
    }
}
