//! Probes against real local servers: plain HTTP, HTTPS with a trusted, an untrusted
//! and an expired certificate, TCP, DNS against Debian's dnsmasq, and ICMP to the
//! loopback address.

use std::sync::Arc;
use std::time::Duration;

use regex::Regex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wk_collect::probe::{
    HttpProbe, HttpProbeOptions, IcmpProbe, PING_GROUP_RANGE, ProbeConfig, TcpProbe, dns_probe, not_after_unix,
};

mod common;

use common::dnsmasq::{Dnsmasq, free_port};

/// Serves every connection with `response` after reading the request head.
async fn http_server(response: &'static str) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    addr
}

struct Cert {
    pem: String,
    key_pem: String,
    der: Vec<u8>,
}

fn cert(not_after: (i32, u8, u8)) -> Cert {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
    let cert = params.self_signed(&key).unwrap();
    Cert { pem: cert.pem(), key_pem: key.serialize_pem(), der: cert.der().to_vec() }
}

async fn https_server(cert: &Cert) -> std::net::SocketAddr {
    use rustls::pki_types::pem::PemObject;
    let chain = vec![rustls::pki_types::CertificateDer::from_pem_slice(cert.pem.as_bytes()).unwrap()];
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    let mut buf = [0u8; 4096];
                    let _ = tls.read(&mut buf).await;
                    let _ = tls.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok").await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    addr
}

fn phase(outcome: &wk_collect::probe::ProbeOutcome, name: &str) -> Option<f64> {
    let family = outcome.families.iter().find(|f| f.name == "probe_http_duration_seconds")?;
    family.samples.iter().find(|s| s.labels[0].1 == name).map(|s| s.value)
}

#[tokio::test]
async fn http_success_with_phases_and_body_checks() {
    let addr = http_server("HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world").await;
    let url = format!("http://{addr}/health");
    let options =
        HttpProbeOptions { fail_if_body_not_matches: vec![Regex::new("hello").unwrap()], ..Default::default() };
    let outcome = HttpProbe::new(&url, options).unwrap().run().await;
    assert!(outcome.success, "{:?}", outcome.error);
    assert_eq!(outcome.value("probe_success"), Some(1.0));
    assert_eq!(outcome.value("probe_http_status_code"), Some(200.0));
    assert_eq!(outcome.value("probe_http_content_length"), Some(11.0));
    assert_eq!(outcome.value("probe_http_ssl"), Some(0.0));
    assert_eq!(outcome.value("probe_ip_protocol"), Some(4.0));
    for name in ["resolve", "connect", "tls", "processing", "transfer"] {
        assert!(phase(&outcome, name).is_some_and(|v| v >= 0.0), "phase {name}");
    }
    assert!(outcome.value("probe_duration_seconds").unwrap() > 0.0);

    let options = HttpProbeOptions { fail_if_body_matches: vec![Regex::new("world").unwrap()], ..Default::default() };
    let outcome = HttpProbe::new(&url, options).unwrap().run().await;
    assert!(!outcome.success);
    assert_eq!(outcome.value("probe_failed_due_to_regex"), Some(1.0));
    assert!(outcome.error.unwrap().contains("body matches \"world\""));
}

#[tokio::test]
async fn http_failures_say_why() {
    let addr = http_server("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
    let outcome = HttpProbe::new(&format!("http://{addr}/"), HttpProbeOptions::default()).unwrap().run().await;
    assert_eq!(outcome.value("probe_success"), Some(0.0));
    assert_eq!(outcome.value("probe_http_status_code"), Some(503.0));
    assert!(outcome.error.unwrap().contains("unexpected status code 503"));
    let options = HttpProbeOptions { valid_status_codes: vec![503], ..Default::default() };
    assert!(HttpProbe::new(&format!("http://{addr}/"), options).unwrap().run().await.success);

    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let outcome = HttpProbe::new(&format!("http://{closed}/"), HttpProbeOptions::default()).unwrap().run().await;
    assert!(outcome.error.unwrap().contains("connecting to"), "refused connection is named");

    // A server that accepts and never answers: the timeout ends the probe.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let options = HttpProbeOptions { timeout: Duration::from_millis(300), ..Default::default() };
    let outcome = HttpProbe::new(&format!("http://{silent_addr}/"), options).unwrap().run().await;
    assert!(outcome.error.as_deref().unwrap().contains("timed out"));
    assert!(outcome.value("probe_duration_seconds").unwrap() < 2.0);
    drop(silent);

    for bad in ["ftp://x/", "not a url", "http:///path"] {
        assert!(HttpProbe::new(bad, HttpProbeOptions::default()).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn https_reports_certificate_expiry() {
    let good = cert((2099, 1, 1));
    let addr = https_server(&good).await;
    let url = format!("https://{addr}/");

    let untrusted = HttpProbe::new(&url, HttpProbeOptions::default()).unwrap().run().await;
    assert!(!untrusted.success, "a self-signed certificate is not trusted by default");
    assert!(untrusted.error.unwrap().contains("TLS handshake"));

    let options = HttpProbeOptions { ca_pem: Some(good.pem.clone().into_bytes()), ..Default::default() };
    let outcome = HttpProbe::new(&url, options).unwrap().run().await;
    assert!(outcome.success, "{:?}", outcome.error);
    assert_eq!(outcome.value("probe_http_ssl"), Some(1.0));
    let expiry = outcome.value("probe_ssl_earliest_cert_expiry").unwrap();
    assert_eq!(expiry, not_after_unix(&good.der).unwrap() as f64);
    assert_eq!(expiry, 4_070_908_800.0, "2099-01-01T00:00:00Z");
    assert!(phase(&outcome, "tls").unwrap() > 0.0);
}

#[tokio::test]
async fn expired_certificate_fails_and_is_still_measurable() {
    let expired = cert((2021, 1, 1));
    let addr = https_server(&expired).await;
    let url = format!("https://{addr}/");
    let options = HttpProbeOptions { ca_pem: Some(expired.pem.clone().into_bytes()), ..Default::default() };
    let outcome = HttpProbe::new(&url, options).unwrap().run().await;
    assert!(!outcome.success);
    let error = outcome.error.unwrap();
    assert!(error.to_lowercase().contains("expired"), "{error}");

    let options = HttpProbeOptions { insecure_skip_verify: true, ..Default::default() };
    let outcome = HttpProbe::new(&url, options).unwrap().run().await;
    assert!(outcome.success, "{:?}", outcome.error);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let expiry = outcome.value("probe_ssl_earliest_cert_expiry").unwrap();
    assert_eq!(expiry, 1_609_459_200.0, "2021-01-01T00:00:00Z");
    assert!(expiry < now, "an alert on probe_ssl_earliest_cert_expiry - time() < 0 fires");
}

#[tokio::test]
async fn tcp_probe() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let open = listener.local_addr().unwrap();
    let outcome = TcpProbe::new(open.to_string(), Duration::from_secs(2)).run().await;
    assert!(outcome.success, "{:?}", outcome.error);
    assert!(outcome.value("probe_dns_lookup_time_seconds").is_some());
    drop(listener);
    let outcome = TcpProbe::new(open.to_string(), Duration::from_secs(2)).run().await;
    assert!(!outcome.success);
    assert_eq!(outcome.value("probe_success"), Some(0.0));
    let outcome = TcpProbe::new("no-such-host.invalid:80", Duration::from_secs(5)).run().await;
    assert!(outcome.error.unwrap().contains("resolving"));
}

// ---------------------------------------------------------------------------------------
// DNS probe against Debian's dnsmasq, ICMP probe to the loopback address.

fn dns_probe_config(server: std::net::SocketAddr, dns: &str) -> ProbeConfig {
    serde_saphyr::from_str(&format!("name: d\ntype: dns\ntarget: '{server}'\ntimeout: 2s\ndns: {dns}\n")).unwrap()
}

#[tokio::test]
async fn dns_probe_counts_records_and_checks_the_response_code() {
    let dns = Dnsmasq::start(
        free_port(),
        &["--host-record=node.wk.test,127.0.0.1".to_owned(), "--srv-host=_m._tcp.wk.test,node.wk.test,9100".to_owned()],
    )
    .await;
    for transport in ["udp", "tcp"] {
        let config = dns_probe_config(
            dns.addr,
            &format!("{{query_name: node.wk.test, query_type: A, transport_protocol: {transport}}}"),
        );
        let outcome = dns_probe(&config).unwrap().run().await;
        assert!(outcome.success, "{transport}: {:?}", outcome.error);
        assert_eq!(outcome.value("probe_dns_answer_rrs"), Some(1.0), "{transport}");
        assert_eq!(outcome.value("probe_dns_query_succeeded"), Some(1.0));
        assert_eq!(outcome.value("probe_ip_protocol"), Some(4.0));
    }
    let srv = dns_probe(&dns_probe_config(dns.addr, "{query_name: _m._tcp.wk.test, query_type: SRV}")).unwrap();
    assert_eq!(srv.run().await.value("probe_dns_answer_rrs"), Some(1.0));

    // NXDOMAIN fails by default, succeeds when listed.
    let missing = dns_probe(&dns_probe_config(dns.addr, "{query_name: missing.wk.test, query_type: A}")).unwrap();
    let outcome = missing.run().await;
    assert!(!outcome.success);
    assert_eq!(outcome.error.as_deref(), Some(format!("{} answered NXDOMAIN, not one of NOERROR", dns.addr).as_str()));
    assert_eq!(outcome.value("probe_dns_answer_rrs"), Some(0.0));
    let config =
        dns_probe_config(dns.addr, "{query_name: missing.wk.test, query_type: A, valid_rcodes: [NOERROR, NXDOMAIN]}");
    assert!(dns_probe(&config).unwrap().run().await.success);

    // A server that is gone: no answer within the timeout, clearly said.
    let addr = dns.addr;
    drop(dns);
    let outcome = dns_probe(&dns_probe_config(addr, "{query_name: node.wk.test}")).unwrap().run().await;
    assert!(!outcome.success);
    assert_eq!(outcome.value("probe_dns_query_succeeded"), Some(0.0));
    let error = outcome.error.unwrap();
    assert!(error.contains(&addr.to_string()), "{error}");
}

#[test]
fn dns_probe_settings_are_checked() {
    let addr: std::net::SocketAddr = "127.0.0.1:53".parse().unwrap();
    for (dns, want) in [
        ("{query_type: A}", "dns.query_name is required"),
        ("{query_name: a, query_type: BOGUS}", "dns.query_type \"BOGUS\""),
        ("{query_name: a, transport_protocol: quic}", "dns.transport_protocol \"quic\""),
        ("{query_name: a, valid_rcodes: [NOPE]}", "unknown response code \"NOPE\""),
    ] {
        let err = dns_probe(&dns_probe_config(addr, dns)).unwrap_err();
        assert!(err.contains(want), "{dns}: {err}");
    }
}

/// Whether this process's groups fall in `net.ipv4.ping_group_range`.
fn ping_sockets_allowed() -> bool {
    let range = std::fs::read_to_string(PING_GROUP_RANGE).unwrap_or_default();
    let bounds: Vec<u32> = range.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    let [low, high] = bounds[..] else { return false };
    let mut groups: Vec<u32> = rustix::process::getgroups().unwrap().into_iter().map(|g| g.as_raw()).collect();
    groups.push(rustix::process::getegid().as_raw());
    groups.iter().any(|g| (low..=high).contains(g))
}

#[tokio::test]
async fn icmp_probe_pings_loopback_or_says_why_it_cannot() {
    let outcome = IcmpProbe::new("127.0.0.1", Duration::from_secs(2)).run().await;
    if ping_sockets_allowed() {
        assert!(outcome.success, "{:?}", outcome.error);
        assert_eq!(outcome.value("probe_ip_protocol"), Some(4.0));
        let rtt = outcome.families.iter().find(|f| f.name == "probe_icmp_duration_seconds").unwrap();
        assert_eq!(rtt.samples.len(), 3, "resolve, setup and rtt phases");
    } else {
        assert!(!outcome.success);
        let error = outcome.error.unwrap();
        assert!(error.contains("net.ipv4.ping_group_range") && error.contains("sysctl -w"), "{error}");
    }
}
