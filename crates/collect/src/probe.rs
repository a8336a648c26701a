//! Probes, like blackbox_exporter: check from the outside that a website answers, a
//! port accepts connections, a DNS server answers, a host answers pings, and a
//! certificate is not about to expire. Each probe
//! produces the metric families blackbox_exporter produces (`probe_success`,
//! `probe_duration_seconds`, `probe_http_status_code`, `probe_http_duration_seconds`
//! by phase, `probe_ssl_earliest_cert_expiry`, …), so existing alert rules work.
//!
//! A probe never fails as a function: every problem (DNS, refused connection, TLS,
//! timeout, unexpected status, body mismatch) becomes `probe_success 0` plus a
//! human-readable reason in [`ProbeOutcome::error`], which the caller logs and shows.

mod cert;
pub mod config;
mod dns;
mod http;
mod icmp;
pub mod manager;
mod tcp;

use std::time::{Duration, Instant};

pub use cert::not_after_unix;
pub use config::{DnsProbeConfig, HttpProbeConfig, ProbeConfig, ProbeKind};
pub use dns::DnsProbe;
pub(crate) use http::AcceptAny;
pub use http::{HttpProbe, HttpProbeOptions};
pub use icmp::{IcmpProbe, PING_GROUP_RANGE};
pub use manager::ProbeManager;
pub use tcp::TcpProbe;

use crate::family::{MetricFamily, MetricKind};

/// The result of one probe run: its metric families and, on failure, why.
#[derive(Clone, Debug)]
pub struct ProbeOutcome {
    /// Whether the probe succeeded.
    pub success: bool,
    /// Why it failed, for logs and the dashboard.
    pub error: Option<String>,
    /// Every family the probe produced, `probe_success` and `probe_duration_seconds`
    /// included.
    pub families: Vec<MetricFamily>,
}

impl ProbeOutcome {
    pub(crate) fn finish(started: Instant, mut families: Vec<MetricFamily>, error: Option<String>) -> Self {
        let success = error.is_none();
        families.push(gauge(
            "probe_success",
            "Displays whether or not the probe was a success",
            if success { 1.0 } else { 0.0 },
        ));
        families.push(gauge(
            "probe_duration_seconds",
            "Returns how long the probe took to complete in seconds",
            started.elapsed().as_secs_f64(),
        ));
        Self { success, error, families }
    }

    /// The value of a family without labels, if the probe produced it.
    pub fn value(&self, name: &str) -> Option<f64> {
        self.families.iter().find(|f| f.name == name).and_then(|f| f.samples.first()).map(|s| s.value)
    }
}

/// The DNS probe a `type: dns` probe configures, or why it cannot run.
pub fn dns_probe(config: &ProbeConfig) -> Result<DnsProbe, String> {
    let settings = config.dns.clone().unwrap_or_default();
    if settings.query_name.is_empty() {
        return Err("dns.query_name is required".to_owned());
    }
    let query_type = crate::dns::RecordType::from_name(&settings.query_type).ok_or_else(|| {
        format!("dns.query_type {:?} is not one of A, AAAA, ANY, CNAME, MX, NS, SOA, SRV, TXT", settings.query_type)
    })?;
    let transport = match settings.transport_protocol.as_str() {
        "udp" => crate::dns::Transport::Udp,
        "tcp" => crate::dns::Transport::Tcp,
        other => return Err(format!("dns.transport_protocol {other:?} is not udp or tcp")),
    };
    let valid_rcodes = settings
        .valid_rcodes
        .iter()
        .map(|r| {
            crate::dns::Rcode::from_name(r).ok_or_else(|| format!("dns.valid_rcodes: unknown response code {r:?}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if config.target.is_empty() || config.target.contains('/') {
        return Err(format!("a dns target is a DNS server (host or IP, optionally :port), not {:?}", config.target));
    }
    Ok(DnsProbe {
        server: config.target.clone(),
        query_name: settings.query_name,
        query_type,
        transport,
        valid_rcodes,
        timeout: config.timeout.get(),
    })
}

pub(crate) fn gauge(name: &str, help: &str, value: f64) -> MetricFamily {
    MetricFamily::new(name, help, MetricKind::Gauge).with(Vec::new(), value)
}

/// Resolves `host:port`, timing the lookup; the first address wins, IPv4 preferred as
/// blackbox_exporter's default `preferred_ip_protocol: ip6` falls back… we keep the
/// resolver's order, which is the system's preference.
pub(crate) async fn resolve(target: &str) -> Result<(std::net::SocketAddr, Duration), String> {
    let started = Instant::now();
    let mut addrs = tokio::net::lookup_host(target).await.map_err(|e| format!("resolving {target}: {e}"))?;
    let addr = addrs.next().ok_or_else(|| format!("resolving {target}: no addresses"))?;
    Ok((addr, started.elapsed()))
}

pub(crate) fn ip_protocol(addr: &std::net::SocketAddr) -> MetricFamily {
    gauge(
        "probe_ip_protocol",
        "Specifies whether probe ip protocol is IP4 or IP6",
        if addr.is_ipv4() { 4.0 } else { 6.0 },
    )
}
