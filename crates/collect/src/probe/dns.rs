//! DNS probe, like blackbox_exporter's `dns` prober: ask the target DNS server one
//! question and check the answer's response code. Metrics: `probe_dns_answer_rrs`,
//! `probe_dns_authority_rrs`, `probe_dns_additional_rrs`, `probe_dns_query_succeeded`,
//! `probe_dns_duration_seconds{phase}` (`resolve`, `request`), `probe_dns_serial`
//! when the answer holds an SOA record, `probe_ip_protocol`.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::{ProbeOutcome, gauge, ip_protocol, resolve};
use crate::dns::{RData, Rcode, RecordType, Transport, exchange};
use crate::family::{MetricFamily, MetricKind};

/// Probes a DNS server with one query.
#[derive(Clone, Debug)]
pub struct DnsProbe {
    /// The server: `IP`, `IP:PORT`, `host` or `host:PORT` (port 53 by default).
    pub server: String,
    /// The name asked for.
    pub query_name: String,
    /// The type asked for.
    pub query_type: RecordType,
    /// UDP (with TCP on truncation) or TCP.
    pub transport: Transport,
    /// Response codes that count as success.
    pub valid_rcodes: Vec<Rcode>,
    /// How long the whole probe may take.
    pub timeout: Duration,
}

impl DnsProbe {
    /// Runs the probe once.
    pub async fn run(&self) -> ProbeOutcome {
        let started = Instant::now();
        let mut families = Vec::new();
        let work = self.query(&mut families);
        let error = match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result.err(),
            Err(_) => Some(format!("no answer from {} within {:?}", self.server, self.timeout)),
        };
        ProbeOutcome::finish(started, families, error)
    }

    async fn query(&self, families: &mut Vec<MetricFamily>) -> Result<(), String> {
        let mut phases =
            MetricFamily::new("probe_dns_duration_seconds", "Duration of DNS request by phase", MetricKind::Gauge);
        let (server, lookup) = self.resolve_server().await?;
        phases.push(vec![("phase", "resolve".to_owned())], lookup.as_secs_f64());
        families.push(ip_protocol(&server));
        let asked = Instant::now();
        let answer = exchange(server, &self.query_name, self.query_type, self.transport, self.timeout).await;
        phases.push(vec![("phase", "request".to_owned())], asked.elapsed().as_secs_f64());
        families.push(phases);
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) => {
                families.push(succeeded(false));
                return Err(e.to_string());
            }
        };
        families.push(succeeded(true));
        let count = |n: usize| n as f64;
        families.push(gauge(
            "probe_dns_answer_rrs",
            "Returns number of entries in the answer resource record list",
            count(answer.answers.len()),
        ));
        families.push(gauge(
            "probe_dns_authority_rrs",
            "Returns number of entries in the authority resource record list",
            count(answer.authority.len()),
        ));
        families.push(gauge(
            "probe_dns_additional_rrs",
            "Returns number of entries in the additional resource record list",
            count(answer.additional.len()),
        ));
        if let Some(serial) = answer.answers.iter().chain(&answer.authority).find_map(|r| match r.data {
            RData::Soa { serial } => Some(serial),
            _ => None,
        }) {
            families.push(gauge("probe_dns_serial", "Returns the serial number of the zone", f64::from(serial)));
        }
        let rcode = answer.rcode();
        if !self.valid_rcodes.contains(&rcode) {
            let valid: Vec<String> = self.valid_rcodes.iter().map(Rcode::to_string).collect();
            return Err(format!("{} answered {rcode}, not one of {}", self.server, valid.join(", ")));
        }
        Ok(())
    }

    async fn resolve_server(&self) -> Result<(SocketAddr, Duration), String> {
        if let Ok(addr) = self.server.parse::<SocketAddr>() {
            return Ok((addr, Duration::ZERO));
        }
        if let Ok(ip) = self.server.parse::<IpAddr>() {
            return Ok((SocketAddr::new(ip, 53), Duration::ZERO));
        }
        if self.server.contains(':') {
            resolve(&self.server).await
        } else {
            resolve(&format!("{}:53", self.server)).await
        }
    }
}

fn succeeded(ok: bool) -> MetricFamily {
    gauge(
        "probe_dns_query_succeeded",
        "Displays whether or not the query was executed successfully",
        if ok { 1.0 } else { 0.0 },
    )
}
