//! The `probes:` section: HTTP(S) and TCP checks run from Watchkeeper itself.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use wk_config::{Location, Problems, PromDuration};

/// One probe.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    /// A unique name; the `job` label of the probe's series.
    pub name: String,
    /// `http` (URL target), `tcp` (`host:port`), `dns` (a DNS server, `host[:port]`)
    /// or `icmp` (a host).
    #[serde(rename = "type")]
    pub kind: ProbeKind,
    /// What to probe; the `instance` label of the probe's series.
    pub target: String,
    /// How often. Default 30s.
    #[serde(default = "default_interval")]
    pub interval: PromDuration,
    /// How long one run may take. Default 10s, at most the interval.
    #[serde(default = "default_timeout")]
    pub timeout: PromDuration,
    /// Extra labels on every series of the probe.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// HTTP settings (only for `type: http`).
    #[serde(default)]
    pub http: HttpProbeConfig,
    /// DNS settings (only for `type: dns`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<DnsProbeConfig>,
}

/// The kind of check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKind {
    /// An HTTP(S) request.
    Http,
    /// A TCP connection.
    Tcp,
    /// A DNS query to a server.
    Dns,
    /// An ICMP echo ("ping") over an unprivileged ping socket.
    Icmp,
}

/// Settings of a DNS probe, with blackbox_exporter's names.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsProbeConfig {
    /// The name asked for. Required.
    pub query_name: String,
    /// The record type asked for. Default `ANY`.
    pub query_type: String,
    /// `udp` (default; TCP when the answer is truncated) or `tcp`.
    pub transport_protocol: String,
    /// Response codes that count as success. Default `[NOERROR]`.
    pub valid_rcodes: Vec<String>,
}

impl Default for DnsProbeConfig {
    fn default() -> Self {
        Self {
            query_name: String::new(),
            query_type: "ANY".to_owned(),
            transport_protocol: "udp".to_owned(),
            valid_rcodes: vec!["NOERROR".to_owned()],
        }
    }
}

/// Settings of an HTTP probe, with blackbox_exporter's names.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpProbeConfig {
    /// Request method. Default `GET`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Request headers.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Status codes that count as success; any 2xx when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub valid_status_codes: Vec<u16>,
    /// The body must match each of these regexes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fail_if_body_not_matches_regexp: Vec<String>,
    /// The body must match none of these regexes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fail_if_body_matches_regexp: Vec<String>,
    /// Extra CA certificates (PEM file) to trust.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate (expiry is still reported).
    pub insecure_skip_verify: bool,
}

fn default_interval() -> PromDuration {
    PromDuration::from_secs(30)
}

fn default_timeout() -> PromDuration {
    PromDuration::from_secs(10)
}

/// Checks every probe, adding each problem found.
pub fn validate(probes: &[wk_config::Spanned<ProbeConfig>], problems: &mut Problems) {
    let mut names = std::collections::HashSet::new();
    for probe in probes {
        let at: Location = probe.referenced;
        let p = &probe.value;
        if p.name.is_empty() {
            problems.error(at, "probe name is empty");
        }
        if !names.insert(p.name.as_str()) {
            problems.error(at, format!("found multiple probes named {:?}", p.name));
        }
        if p.interval.get().is_zero() {
            problems.error(at, format!("probe {:?}: interval must be greater than 0s", p.name));
        }
        if p.timeout > p.interval {
            problems.error(
                at,
                format!("probe {:?}: timeout {} is longer than the interval {}", p.name, p.timeout, p.interval),
            );
        }
        match p.kind {
            ProbeKind::Http => {
                if let Err(e) = super::HttpProbe::new(&p.target, super::HttpProbeOptions::default()) {
                    problems.error(at, format!("probe {:?}: {e}", p.name));
                }
                for re in p.http.fail_if_body_matches_regexp.iter().chain(&p.http.fail_if_body_not_matches_regexp) {
                    if let Err(e) = regex::Regex::new(re) {
                        problems.error(at, format!("probe {:?}: invalid regex {re:?}: {e}", p.name));
                    }
                }
            }
            ProbeKind::Tcp => {
                if !p.target.contains(':') || p.target.contains('/') {
                    problems.error(at, format!("probe {:?}: a tcp target is host:port, not {:?}", p.name, p.target));
                }
            }
            ProbeKind::Dns => {
                if let Err(e) = super::dns_probe(p) {
                    problems.error(at, format!("probe {:?}: {e}", p.name));
                }
            }
            ProbeKind::Icmp => {
                if p.target.is_empty() || p.target.contains(['/', ' ']) {
                    problems.error(
                        at,
                        format!("probe {:?}: an icmp target is a host name or IP address, not {:?}", p.name, p.target),
                    );
                }
            }
        }
        if p.kind != ProbeKind::Dns && p.dns.is_some() {
            problems.error(at, format!("probe {:?}: dns settings need type: dns", p.name));
        }
    }
}
