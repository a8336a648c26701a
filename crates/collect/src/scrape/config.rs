//! `scrape_configs:` as Prometheus writes them. Watchkeeper discovers targets from
//! `static_configs`, `file_sd_configs`, `dns_sd_configs` and `http_sd_configs`; the
//! other discovery mechanisms are accepted, kept, and reported as not yet supported.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use wk_config::{ByteSize, Location, Problems, PromDuration, Secret, Spanned, Value, entries};

use crate::http_client::{Authorization, BasicAuth, HeaderValues, OAuth2, TlsClientConfig, validate_auth};
use crate::relabel::RelabelConfig;

/// The `global:` settings a scrape job inherits when it does not set its own.
#[derive(Clone, Debug, Default)]
pub struct ScrapeDefaults {
    /// `global.scrape_interval`.
    pub scrape_interval: PromDuration,
    /// `global.scrape_timeout`, already capped at the global interval.
    pub scrape_timeout: PromDuration,
    /// `global.body_size_limit`.
    pub body_size_limit: ByteSize,
    /// `global.sample_limit`.
    pub sample_limit: u64,
    /// `global.target_limit`.
    pub target_limit: u64,
    /// `global.label_limit`.
    pub label_limit: u64,
    /// `global.label_name_length_limit`.
    pub label_name_length_limit: u64,
    /// `global.label_value_length_limit`.
    pub label_value_length_limit: u64,
    /// `global.keep_dropped_targets`.
    pub keep_dropped_targets: u64,
    /// `global.metric_name_validation_scheme`.
    pub metric_name_validation_scheme: Option<String>,
    /// `global.metric_name_escaping_scheme`.
    pub metric_name_escaping_scheme: Option<String>,
}

/// One scrape job.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScrapeConfig {
    /// The job name, unique in the file; the `job` label of every scraped series.
    pub job_name: Spanned<String>,
    /// Keep the target's labels when they clash with target labels.
    pub honor_labels: bool,
    /// Use the timestamps the target exposes. Default true.
    pub honor_timestamps: bool,
    /// Write staleness markers for series with explicit timestamps too.
    pub track_timestamps_staleness: bool,
    /// Scrape interval; the global one when not set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrape_interval: Option<PromDuration>,
    /// Scrape timeout; the global one (capped at the interval) when not set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrape_timeout: Option<PromDuration>,
    /// Exposition formats offered, in order of preference.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scrape_protocols: Vec<String>,
    /// Format assumed when the target's Content-Type is missing or unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_scrape_protocol: Option<String>,
    /// Ask for native histograms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrape_native_histograms: Option<bool>,
    /// Scrape classic histograms even when a native form is offered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub always_scrape_classic_histograms: Option<bool>,
    /// Convert classic histograms to native histograms with custom buckets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub convert_classic_histograms_to_nhcb: Option<bool>,
    /// Add the extra scrape metrics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_scrape_metrics: Option<bool>,
    /// File to which this job's scrape failures are logged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrape_failure_log_file: Option<String>,
    /// HTTP path of the metrics endpoint. Default `/metrics`.
    pub metrics_path: String,
    /// `http` (default) or `https`.
    pub scheme: String,
    /// URL query parameters sent with each scrape.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Vec<String>>,
    /// Ask for gzip-compressed responses. Default true.
    pub enable_compression: bool,
    /// Largest uncompressed body accepted; the global one when not set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_size_limit: Option<ByteSize>,
    /// Most samples per scrape; the global one when not set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_limit: Option<u64>,
    /// Most targets for this job; the global one when not set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_limit: Option<u64>,
    /// Most labels per series; the global one when not set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_limit: Option<u64>,
    /// Longest label name; the global one when not set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_name_length_limit: Option<u64>,
    /// Longest label value; the global one when not set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_value_length_limit: Option<u64>,
    /// Most native histogram buckets kept per sample.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub native_histogram_bucket_limit: Option<u64>,
    /// Lowest growth factor between native histogram buckets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub native_histogram_min_bucket_factor: Option<f64>,
    /// Dropped targets kept for the targets API; the global one when not set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_dropped_targets: Option<u64>,
    /// `utf8` or `legacy` name validation for this job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_name_validation_scheme: Option<String>,
    /// Name escaping for this job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_name_escaping_scheme: Option<String>,

    /// HTTP basic authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// `Authorization` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// OAuth 2.0 client credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2>,
    /// Deprecated bearer token (use `authorization`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<Secret>,
    /// Deprecated bearer token file (use `authorization.credentials_file`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bearer_token_file: Option<PathBuf>,
    /// TLS settings for scrapes.
    pub tls_config: TlsClientConfig,
    /// HTTP proxy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    /// Hosts not to proxy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_proxy: Option<String>,
    /// Use the proxy from the environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_from_environment: Option<bool>,
    /// Headers sent on CONNECT to the proxy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_connect_header: Option<Value>,
    /// Follow HTTP redirects. Default true.
    pub follow_redirects: bool,
    /// Allow HTTP/2. Default true.
    pub enable_http2: bool,
    /// Extra request headers.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub http_headers: BTreeMap<String, HeaderValues>,

    /// Targets listed in the file.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub static_configs: Vec<Spanned<Option<StaticConfig>>>,
    /// Targets read from JSON or YAML files, watched for changes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub file_sd_configs: Vec<FileSdConfig>,
    /// Targets from DNS SRV, A, AAAA, MX or NS records.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_sd_configs: Vec<Spanned<DnsSdConfig>>,
    /// Targets from an HTTP endpoint.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub http_sd_configs: Vec<Spanned<HttpSdConfig>>,
    // Service discovery mechanisms accepted for compatibility but not yet supported;
    // kept as written so the config API shows them, and reported at load.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub azure_sd_configs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub consul_sd_configs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub digitalocean_sd_configs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub docker_sd_configs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub dockerswarm_sd_configs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub ec2_sd_configs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub eureka_sd_configs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub gce_sd_configs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub hetzner_sd_configs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub ionos_sd_configs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub kubernetes_sd_configs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub kuma_sd_configs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub lightsail_sd_configs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub linode_sd_configs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub marathon_sd_configs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub nerve_sd_configs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub nomad_sd_configs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub oci_sd_configs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub openstack_sd_configs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub outscale_sd_configs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub ovhcloud_sd_configs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub puppetdb_sd_configs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub scaleway_sd_configs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub serverset_sd_configs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub stackit_sd_configs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub triton_sd_configs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub uyuni_sd_configs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub vultr_sd_configs: Option<Value>,

    /// Rules applied to discovered targets before scraping.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub relabel_configs: Vec<Spanned<Option<RelabelConfig>>>,
    /// Rules applied to scraped series before they are stored.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metric_relabel_configs: Vec<Spanned<Option<RelabelConfig>>>,
}

impl Default for ScrapeConfig {
    fn default() -> Self {
        Self {
            job_name: Spanned::new(String::new(), Location::UNKNOWN, Location::UNKNOWN),
            honor_labels: false,
            honor_timestamps: true,
            track_timestamps_staleness: false,
            scrape_interval: None,
            scrape_timeout: None,
            scrape_protocols: Vec::new(),
            fallback_scrape_protocol: None,
            scrape_native_histograms: None,
            always_scrape_classic_histograms: None,
            convert_classic_histograms_to_nhcb: None,
            extra_scrape_metrics: None,
            scrape_failure_log_file: None,
            metrics_path: "/metrics".to_owned(),
            scheme: "http".to_owned(),
            params: BTreeMap::new(),
            enable_compression: true,
            body_size_limit: None,
            sample_limit: None,
            target_limit: None,
            label_limit: None,
            label_name_length_limit: None,
            label_value_length_limit: None,
            native_histogram_bucket_limit: None,
            native_histogram_min_bucket_factor: None,
            keep_dropped_targets: None,
            metric_name_validation_scheme: None,
            metric_name_escaping_scheme: None,
            basic_auth: None,
            authorization: None,
            oauth2: None,
            bearer_token: None,
            bearer_token_file: None,
            tls_config: TlsClientConfig::default(),
            proxy_url: None,
            no_proxy: None,
            proxy_from_environment: None,
            proxy_connect_header: None,
            follow_redirects: true,
            enable_http2: true,
            http_headers: BTreeMap::new(),
            static_configs: Vec::new(),
            file_sd_configs: Vec::new(),
            dns_sd_configs: Vec::new(),
            http_sd_configs: Vec::new(),
            azure_sd_configs: None,
            consul_sd_configs: None,
            digitalocean_sd_configs: None,
            docker_sd_configs: None,
            dockerswarm_sd_configs: None,
            ec2_sd_configs: None,
            eureka_sd_configs: None,
            gce_sd_configs: None,
            hetzner_sd_configs: None,
            ionos_sd_configs: None,
            kubernetes_sd_configs: None,
            kuma_sd_configs: None,
            lightsail_sd_configs: None,
            linode_sd_configs: None,
            marathon_sd_configs: None,
            nerve_sd_configs: None,
            nomad_sd_configs: None,
            oci_sd_configs: None,
            openstack_sd_configs: None,
            outscale_sd_configs: None,
            ovhcloud_sd_configs: None,
            puppetdb_sd_configs: None,
            scaleway_sd_configs: None,
            serverset_sd_configs: None,
            stackit_sd_configs: None,
            triton_sd_configs: None,
            uyuni_sd_configs: None,
            vultr_sd_configs: None,
            relabel_configs: Vec::new(),
            metric_relabel_configs: Vec::new(),
        }
    }
}

/// A target group written in the file.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StaticConfig {
    /// `host:port` addresses.
    pub targets: Vec<String>,
    /// Labels added to every target of the group.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// `file_sd_configs:` entry.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileSdConfig {
    /// File paths; the last path element may be a glob. Extensions `.json`, `.yml`, `.yaml`.
    pub files: Vec<String>,
    /// How often the files are re-read in addition to change notifications. Default 5m.
    pub refresh_interval: PromDuration,
}

impl Default for FileSdConfig {
    fn default() -> Self {
        Self { files: Vec::new(), refresh_interval: PromDuration::from_secs(300) }
    }
}

/// `dns_sd_configs:` entry.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsSdConfig {
    /// DNS names to query.
    pub names: Vec<String>,
    /// Record type: `SRV` (default), `A`, `AAAA`, `MX` or `NS`.
    #[serde(rename = "type")]
    pub record_type: String,
    /// Port used for A, AAAA, MX and NS records.
    pub port: u16,
    /// How often the names are resolved. Default 30s.
    pub refresh_interval: PromDuration,
    /// Watchkeeper extension: the DNS servers to ask (`IP` or `IP:PORT`, port 53 by
    /// default) instead of those of `/etc/resolv.conf`; no search domains apply.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<String>,
}

impl Default for DnsSdConfig {
    fn default() -> Self {
        Self {
            names: Vec::new(),
            record_type: "SRV".to_owned(),
            port: 0,
            refresh_interval: PromDuration::from_secs(30),
            nameservers: Vec::new(),
        }
    }
}

impl DnsSdConfig {
    /// The resolver configuration to use: the `nameservers` when given, otherwise the
    /// system's `/etc/resolv.conf`, read anew each time (as Prometheus does), so a
    /// changed file takes effect at the next refresh.
    pub fn resolver_config(&self) -> Result<crate::dns::ResolverConfig, String> {
        if self.nameservers.is_empty() {
            return crate::dns::ResolverConfig::system();
        }
        let servers = self.nameservers.iter().map(|s| parse_nameserver(s)).collect::<Result<Vec<_>, _>>()?;
        Ok(crate::dns::ResolverConfig::with_servers(servers))
    }
}

/// A name server written as `IP`, `IP:PORT` or `[IPv6]:PORT`; port 53 by default.
pub fn parse_nameserver(text: &str) -> Result<std::net::SocketAddr, String> {
    if let Ok(addr) = text.parse::<std::net::SocketAddr>() {
        return Ok(addr);
    }
    text.parse::<std::net::IpAddr>()
        .map(|ip| std::net::SocketAddr::new(ip, 53))
        .map_err(|_| format!("invalid name server {text:?}: write an IP address, optionally with :PORT"))
}

/// `http_sd_configs:` entry.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSdConfig {
    /// The endpoint returning target groups as JSON.
    pub url: String,
    /// How often the endpoint is queried. Default 1m.
    pub refresh_interval: PromDuration,
    /// HTTP basic authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// `Authorization` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// OAuth 2.0 client credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2>,
    /// TLS settings.
    pub tls_config: TlsClientConfig,
    /// HTTP proxy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    /// Follow HTTP redirects. Default true.
    pub follow_redirects: bool,
    /// Allow HTTP/2. Default true.
    pub enable_http2: bool,
    /// Extra request headers.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub http_headers: BTreeMap<String, HeaderValues>,
}

impl Default for HttpSdConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            refresh_interval: PromDuration::from_secs(60),
            basic_auth: None,
            authorization: None,
            oauth2: None,
            tls_config: TlsClientConfig::default(),
            proxy_url: None,
            follow_redirects: true,
            enable_http2: true,
            http_headers: BTreeMap::new(),
        }
    }
}

impl ScrapeConfig {
    /// Fills unset fields from `global` the way Prometheus does, then checks the job,
    /// adding every problem found.
    pub fn finalize(&mut self, global: &ScrapeDefaults, at: Location, problems: &mut Problems) {
        let job = self.job_name.value.clone();
        if job.is_empty() {
            problems.error(at, "job_name is empty");
        }
        let interval = *self.scrape_interval.get_or_insert(global.scrape_interval);
        let timeout = *self.scrape_timeout.get_or_insert(global.scrape_timeout.min(interval));
        if timeout > interval {
            problems.error(
                at,
                format!("scrape timeout greater than scrape interval for scrape config with job name {job:?}"),
            );
        }
        if interval.get().is_zero() {
            problems.error(at, format!("scrape interval must be greater than 0s for job {job:?}"));
        }
        if self.scheme != "http" && self.scheme != "https" {
            problems.error(at, format!("scheme must be \"http\" or \"https\", not {:?}, in job {job:?}", self.scheme));
        }
        if !self.metrics_path.starts_with('/') {
            problems.error(at, format!("metrics_path {:?} must start with '/' in job {job:?}", self.metrics_path));
        }
        check_protocols(&self.scrape_protocols, self.fallback_scrape_protocol.as_deref(), at, problems);
        check_name_schemes(
            self.metric_name_validation_scheme.as_deref().or(global.metric_name_validation_scheme.as_deref()),
            self.metric_name_escaping_scheme.as_deref().or(global.metric_name_escaping_scheme.as_deref()),
            at,
            problems,
        );
        self.body_size_limit.get_or_insert(global.body_size_limit);
        self.sample_limit.get_or_insert(global.sample_limit);
        self.target_limit.get_or_insert(global.target_limit);
        self.label_limit.get_or_insert(global.label_limit);
        self.label_name_length_limit.get_or_insert(global.label_name_length_limit);
        self.label_value_length_limit.get_or_insert(global.label_value_length_limit);
        self.keep_dropped_targets.get_or_insert(global.keep_dropped_targets);

        let bearer = self.bearer_token.is_some() || self.bearer_token_file.is_some();
        if self.bearer_token.is_some() && self.bearer_token_file.is_some() {
            problems.error(at, "at most one of bearer_token & bearer_token_file must be configured");
        }
        validate_auth(
            at,
            self.basic_auth.as_ref(),
            self.authorization.as_ref(),
            self.oauth2.as_ref(),
            bearer,
            problems,
        );
        self.validate_discovery(at, problems);
        for (rule, at) in entries(&self.relabel_configs, "relabeling rule", problems) {
            rule.validate(at, problems);
        }
        for (rule, at) in entries(&self.metric_relabel_configs, "relabeling rule", problems) {
            rule.validate(at, problems);
        }
    }

    /// The Prometheus discovery mechanisms Watchkeeper does not implement yet, and
    /// whether this job configures each.
    pub fn unsupported_discovery(&self) -> [(&'static str, bool); 28] {
        [
            ("azure_sd_configs", self.azure_sd_configs.is_some()),
            ("consul_sd_configs", self.consul_sd_configs.is_some()),
            ("digitalocean_sd_configs", self.digitalocean_sd_configs.is_some()),
            ("docker_sd_configs", self.docker_sd_configs.is_some()),
            ("dockerswarm_sd_configs", self.dockerswarm_sd_configs.is_some()),
            ("ec2_sd_configs", self.ec2_sd_configs.is_some()),
            ("eureka_sd_configs", self.eureka_sd_configs.is_some()),
            ("gce_sd_configs", self.gce_sd_configs.is_some()),
            ("hetzner_sd_configs", self.hetzner_sd_configs.is_some()),
            ("ionos_sd_configs", self.ionos_sd_configs.is_some()),
            ("kubernetes_sd_configs", self.kubernetes_sd_configs.is_some()),
            ("kuma_sd_configs", self.kuma_sd_configs.is_some()),
            ("lightsail_sd_configs", self.lightsail_sd_configs.is_some()),
            ("linode_sd_configs", self.linode_sd_configs.is_some()),
            ("marathon_sd_configs", self.marathon_sd_configs.is_some()),
            ("nerve_sd_configs", self.nerve_sd_configs.is_some()),
            ("nomad_sd_configs", self.nomad_sd_configs.is_some()),
            ("oci_sd_configs", self.oci_sd_configs.is_some()),
            ("openstack_sd_configs", self.openstack_sd_configs.is_some()),
            ("outscale_sd_configs", self.outscale_sd_configs.is_some()),
            ("ovhcloud_sd_configs", self.ovhcloud_sd_configs.is_some()),
            ("puppetdb_sd_configs", self.puppetdb_sd_configs.is_some()),
            ("scaleway_sd_configs", self.scaleway_sd_configs.is_some()),
            ("serverset_sd_configs", self.serverset_sd_configs.is_some()),
            ("stackit_sd_configs", self.stackit_sd_configs.is_some()),
            ("triton_sd_configs", self.triton_sd_configs.is_some()),
            ("uyuni_sd_configs", self.uyuni_sd_configs.is_some()),
            ("vultr_sd_configs", self.vultr_sd_configs.is_some()),
        ]
    }

    fn validate_discovery(&self, at: Location, problems: &mut Problems) {
        let job = &self.job_name.value;
        for (group, group_at) in entries(&self.static_configs, "static config", problems) {
            for target in &group.targets {
                if target.contains('/') {
                    problems.error(group_at, format!("{target:?} is not a valid hostname"));
                }
            }
        }
        for sd in &self.file_sd_configs {
            for file in &sd.files {
                let valid_ext = [".json", ".yml", ".yaml"].iter().any(|ext| file.ends_with(ext));
                if !valid_ext {
                    problems.error(
                        at,
                        format!("file_sd_configs: invalid file extension in {file:?}: use .json, .yml or .yaml"),
                    );
                }
            }
        }
        for spanned in &self.dns_sd_configs {
            let (sd, at) = (&spanned.value, spanned.referenced);
            if sd.names.is_empty() {
                problems.error(at, "DNS-SD config must contain at least one SRV record name");
            }
            match sd.record_type.to_ascii_uppercase().as_str() {
                "SRV" => {}
                "A" | "AAAA" | "MX" | "NS" if sd.port != 0 => {}
                "A" | "AAAA" | "MX" | "NS" => {
                    problems.error(at, "a port is required in DNS-SD configs for all record types except SRV")
                }
                other => problems.error(at, format!("invalid DNS-SD records type {other:?}")),
            }
            if sd.refresh_interval.get().is_zero() {
                problems.error(at, "dns_sd_configs: refresh_interval must be greater than 0s");
            }
            for server in &sd.nameservers {
                if let Err(e) = parse_nameserver(server) {
                    problems.error(at, format!("dns_sd_configs: {e}"));
                }
            }
        }
        for sd in &self.http_sd_configs {
            if let Err(e) = validate_http_url(&sd.value.url) {
                problems.error(sd.referenced, format!("http_sd_configs: {e}"));
            }
            if sd.value.refresh_interval.get().is_zero() {
                problems.error(sd.referenced, "http_sd_configs: refresh_interval must be greater than 0s");
            }
        }
        for (key, present) in self.unsupported_discovery() {
            if present {
                problems.warning(
                    at,
                    format!("{key} in job {job:?} is not supported yet: its targets will not be discovered"),
                );
            }
        }
    }
}

/// The exposition formats Prometheus can ask a target for.
pub const SCRAPE_PROTOCOLS: [&str; 5] =
    ["PrometheusProto", "OpenMetricsText0.0.1", "OpenMetricsText1.0.0", "PrometheusText0.0.4", "PrometheusText1.0.0"];

pub fn check_protocols(list: &[String], fallback: Option<&str>, at: Location, problems: &mut Problems) {
    let mut seen = HashSet::new();
    for protocol in list {
        if !SCRAPE_PROTOCOLS.contains(&protocol.as_str()) {
            problems
                .error(at, format!("unknown scrape protocol {protocol:?}, supported: {}", SCRAPE_PROTOCOLS.join(", ")));
        }
        if !seen.insert(protocol) {
            problems.error(at, format!("duplicated protocol in scrape_protocols: {protocol:?}"));
        }
    }
    if let Some(protocol) = fallback
        && !SCRAPE_PROTOCOLS.contains(&protocol)
    {
        problems.error(
            at,
            format!("invalid fallback_scrape_protocol {protocol:?}, supported: {}", SCRAPE_PROTOCOLS.join(", ")),
        );
    }
}

pub fn check_name_schemes(validation: Option<&str>, escaping: Option<&str>, at: Location, problems: &mut Problems) {
    if let Some(v) = validation
        && v != "utf8"
        && v != "legacy"
    {
        problems.error(at, format!("unknown metric_name_validation_scheme {v:?}: use utf8 or legacy"));
    }
    if let Some(e) = escaping
        && !["allow-utf-8", "underscores", "dots", "values"].contains(&e)
    {
        problems.error(
            at,
            format!("unknown metric_name_escaping_scheme {e:?}: use allow-utf-8, underscores, dots or values"),
        );
    }
    if validation == Some("legacy") && escaping == Some("allow-utf-8") {
        problems.error(
            at,
            "metric_name_escaping_scheme \"allow-utf-8\" cannot be used with metric_name_validation_scheme \"legacy\"",
        );
    }
}

fn validate_http_url(url: &str) -> Result<(), String> {
    if url.is_empty() {
        return Err("URL is missing".to_owned());
    }
    let uri: http::Uri = url.parse().map_err(|e| format!("invalid URL {url:?}: {e}"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => return Err(format!("URL scheme must be 'http' or 'https', not {other:?}")),
        None => return Err(format!("URL {url:?} has no scheme: write http://{url}")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("host is missing in URL {url:?}"));
    }
    Ok(())
}

/// Reports scrape jobs that share a name.
pub fn check_unique_jobs(jobs: &[Spanned<Option<ScrapeConfig>>], problems: &mut Problems) {
    let mut seen = HashSet::new();
    for job in jobs.iter().filter_map(|j| j.value.as_ref()) {
        if !seen.insert(job.job_name.value.as_str()) {
            problems.error(
                job.job_name.referenced,
                format!("found multiple scrape configs with job name {:?}", job.job_name.value),
            );
        }
    }
}
