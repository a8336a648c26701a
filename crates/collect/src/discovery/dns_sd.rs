//! `dns_sd_configs`: targets from DNS records, as Prometheus's DNS discovery makes
//! them. Each name is one target group (its source is the name); each SRV, A, AAAA,
//! MX or NS answer is one target with the `__meta_dns_*` labels. CNAME answers (which
//! servers add before the records of an alias) are skipped.

use std::collections::BTreeMap;

use crate::dns::{DnsError, RData, RecordType, Resolver};
use crate::scrape::{DnsSdConfig, TargetGroup};

/// `__meta_dns_name`: the name queried.
pub const NAME_LABEL: &str = "__meta_dns_name";
/// `__meta_dns_srv_record_target`: the SRV record's target, with its final dot.
pub const SRV_TARGET_LABEL: &str = "__meta_dns_srv_record_target";
/// `__meta_dns_srv_record_port`: the SRV record's port.
pub const SRV_PORT_LABEL: &str = "__meta_dns_srv_record_port";
/// `__meta_dns_mx_record_target`: the MX record's exchange, with its final dot.
pub const MX_TARGET_LABEL: &str = "__meta_dns_mx_record_target";
/// `__meta_dns_ns_record_target`: the NS record's name server, with its final dot.
pub const NS_TARGET_LABEL: &str = "__meta_dns_ns_record_target";

/// The record type a validated config asks for (`SRV` when unrecognised, which
/// validation has already refused).
pub fn record_type(config: &DnsSdConfig) -> RecordType {
    RecordType::from_name(&config.record_type).unwrap_or(RecordType::SRV)
}

/// Looks `name` up and makes its target group.
pub async fn lookup_group(resolver: &Resolver, name: &str, config: &DnsSdConfig) -> Result<TargetGroup, DnsError> {
    let answer = resolver.lookup(name, record_type(config)).await?;
    let mut targets = Vec::new();
    for record in &answer.answers {
        let mut labels = BTreeMap::from([
            (NAME_LABEL.to_owned(), name.to_owned()),
            (SRV_TARGET_LABEL.to_owned(), String::new()),
            (SRV_PORT_LABEL.to_owned(), String::new()),
            (MX_TARGET_LABEL.to_owned(), String::new()),
            (NS_TARGET_LABEL.to_owned(), String::new()),
        ]);
        let address = match &record.data {
            RData::Srv { port, target, .. } => {
                labels.insert(SRV_TARGET_LABEL.to_owned(), target.clone());
                labels.insert(SRV_PORT_LABEL.to_owned(), port.to_string());
                host_port(target.trim_end_matches('.'), *port)
            }
            RData::Mx { exchange, .. } => {
                labels.insert(MX_TARGET_LABEL.to_owned(), exchange.clone());
                host_port(exchange.trim_end_matches('.'), config.port)
            }
            RData::Ns(server) => {
                labels.insert(NS_TARGET_LABEL.to_owned(), server.clone());
                host_port(server.trim_end_matches('.'), config.port)
            }
            RData::A(ip) => host_port(&ip.to_string(), config.port),
            RData::Aaaa(ip) => host_port(&ip.to_string(), config.port),
            RData::Cname(_) => continue,
            other => {
                tracing::warn!(name, record = ?other, "dns_sd: skipping a record of an unexpected type");
                continue;
            }
        };
        labels.insert("__address__".to_owned(), address);
        targets.push(labels);
    }
    Ok(TargetGroup { source: name.to_owned(), targets, labels: BTreeMap::new() })
}

/// `host:port`, with brackets around an IPv6 address.
fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_are_bracketed() {
        assert_eq!(host_port("::1", 9100), "[::1]:9100");
        assert_eq!(host_port("db.example", 9100), "db.example:9100");
    }
}
