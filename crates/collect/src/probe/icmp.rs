//! ICMP echo probe ("ping") over the kernel's unprivileged ping sockets
//! (`SOCK_DGRAM` + `IPPROTO_ICMP`/`IPPROTO_ICMPV6`), which need no root and no
//! capability: Linux allows them to processes whose group is in
//! `net.ipv4.ping_group_range`. Where the kernel refuses, the probe fails with an
//! error that names the setting and the command that allows it.
//!
//! Metrics, as blackbox_exporter's `icmp` prober: `probe_icmp_duration_seconds{phase}`
//! (`resolve`, `setup`, `rtt`), `probe_dns_lookup_time_seconds`, `probe_ip_protocol`.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

use super::{ProbeOutcome, gauge, ip_protocol, resolve};
use crate::family::{MetricFamily, MetricKind};

/// Where Linux says which groups may open ping sockets.
pub const PING_GROUP_RANGE: &str = "/proc/sys/net/ipv4/ping_group_range";

/// Pings a host once.
#[derive(Clone, Debug)]
pub struct IcmpProbe {
    target: String,
    timeout: Duration,
}

impl IcmpProbe {
    /// A probe of `target` (a host name or IP address) that gives up after `timeout`.
    pub fn new(target: impl Into<String>, timeout: Duration) -> Self {
        Self { target: target.into(), timeout }
    }

    /// Runs the probe once.
    pub async fn run(&self) -> ProbeOutcome {
        let started = Instant::now();
        let mut families = Vec::new();
        let error = match tokio::time::timeout(self.timeout, self.ping(&mut families)).await {
            Ok(result) => result.err(),
            Err(_) => Some(format!("no echo reply from {} within {:?}", self.target, self.timeout)),
        };
        ProbeOutcome::finish(started, families, error)
    }

    async fn ping(&self, families: &mut Vec<MetricFamily>) -> Result<(), String> {
        let mut phases =
            MetricFamily::new("probe_icmp_duration_seconds", "Duration of icmp request by phase", MetricKind::Gauge);
        let (addr, lookup) = match self.target.parse::<IpAddr>() {
            Ok(ip) => (SocketAddr::new(ip, 0), Duration::ZERO),
            Err(_) => resolve(&format!("{}:0", self.target)).await?,
        };
        families.push(gauge(
            "probe_dns_lookup_time_seconds",
            "Returns the time taken for probe dns lookup in seconds",
            lookup.as_secs_f64(),
        ));
        families.push(ip_protocol(&addr));
        phases.push(vec![("phase", "resolve".to_owned())], lookup.as_secs_f64());
        let setup = Instant::now();
        let socket = ping_socket(&addr)?;
        phases.push(vec![("phase", "setup".to_owned())], setup.elapsed().as_secs_f64());
        let sent = Instant::now();
        let result = echo(&socket, addr).await;
        if result.is_ok() {
            phases.push(vec![("phase", "rtt".to_owned())], sent.elapsed().as_secs_f64());
        }
        families.push(phases);
        result
    }
}

/// Opens a ping socket for `addr`'s family, or explains why the kernel refused.
fn ping_socket(addr: &SocketAddr) -> Result<UdpSocket, String> {
    let (domain, protocol) =
        if addr.is_ipv4() { (Domain::IPV4, Protocol::ICMPV4) } else { (Domain::IPV6, Protocol::ICMPV6) };
    let socket = Socket::new(domain, Type::DGRAM, Some(protocol)).map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied => not_permitted(&e),
        _ => format!("opening an ICMP ping socket: {e}"),
    })?;
    socket.set_nonblocking(true).map_err(|e| format!("ICMP ping socket: {e}"))?;
    UdpSocket::from_std(std::net::UdpSocket::from(socket)).map_err(|e| format!("ICMP ping socket: {e}"))
}

fn not_permitted(error: &std::io::Error) -> String {
    let range = std::fs::read_to_string(PING_GROUP_RANGE).map(|r| r.split_whitespace().collect::<Vec<_>>().join(" "));
    let gid = rustix::process::getegid().as_raw();
    let range = range.map_or_else(|e| format!("unreadable ({e})"), |r| format!("{r:?}"));
    format!(
        "the kernel does not allow ICMP ping sockets for this process ({error}): group {gid} is outside \
         net.ipv4.ping_group_range {range}; allow it with `sysctl -w net.ipv4.ping_group_range=\"{gid} {gid}\"`"
    )
}

/// Sends one echo request and waits for its reply (other datagrams are skipped).
async fn echo(socket: &UdpSocket, addr: SocketAddr) -> Result<(), String> {
    static SEQUENCE: AtomicU16 = AtomicU16::new(0);
    let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let payload = b"Watchkeeper ICMP probe";
    let request = echo_request(addr.is_ipv4(), sequence, payload);
    socket.send_to(&request, addr).await.map_err(|e| format!("sending an echo request to {}: {e}", addr.ip()))?;
    let reply_type = if addr.is_ipv4() { 0 } else { 129 };
    let mut buf = [0u8; 1500];
    loop {
        let (n, from) = socket
            .recv_from(&mut buf)
            .await
            .map_err(|e| format!("receiving the echo reply from {}: {e}", addr.ip()))?;
        let reply = &buf[..n];
        // The kernel gives the ICMP message without the IP header and sets the
        // identifier to the socket's; match on type, sequence and payload.
        if from.ip() == addr.ip()
            && reply.len() >= 8
            && reply[0] == reply_type
            && u16::from_be_bytes([reply[6], reply[7]]) == sequence
            && &reply[8..] == payload
        {
            return Ok(());
        }
    }
}

/// An ICMP (v4) or ICMPv6 echo request; the kernel fills in the identifier, and the
/// ICMPv6 checksum.
fn echo_request(v4: bool, sequence: u16, payload: &[u8]) -> Vec<u8> {
    let mut packet = vec![if v4 { 8 } else { 128 }, 0, 0, 0, 0, 0];
    packet.extend_from_slice(&sequence.to_be_bytes());
    packet.extend_from_slice(payload);
    if v4 {
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    packet
}

/// The Internet checksum (RFC 1071).
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in bytes.chunks(2) {
        let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_of_a_packet_with_its_checksum_is_zero() {
        let packet = echo_request(true, 0x1234, b"odd length");
        assert_eq!(packet[0], 8);
        assert_eq!(checksum(&packet), 0);
        assert_eq!(&packet[6..8], &[0x12, 0x34]);
    }
}
