//! Asking DNS servers: one exchange with one server over UDP (retried over TCP when
//! the answer is truncated) or TCP, and [`Resolver::lookup`], which walks the search
//! domains and the servers the way Prometheus's DNS discovery does.

use std::hash::{BuildHasher, Hasher};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::message::{Message, Rcode, RecordType, WireError, decode, encode_query};
use super::resolv_conf::ResolverConfig;

/// How a query travels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Transport {
    /// UDP, with a TCP retry when the server says the answer was truncated.
    #[default]
    Udp,
    /// TCP only.
    Tcp,
}

/// Why a DNS exchange or lookup failed.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// The name cannot be put in a query, or the answer could not be decoded.
    #[error("{server}: {source}")]
    Wire {
        /// The server asked.
        server: SocketAddr,
        /// What is wrong.
        source: WireError,
    },
    /// A socket operation failed.
    #[error("{server}: {what}: {source}")]
    Io {
        /// The server asked.
        server: SocketAddr,
        /// The operation.
        what: &'static str,
        /// The error.
        source: std::io::Error,
    },
    /// No answer within the timeout.
    #[error("{server}: no answer within {timeout:?}")]
    Timeout {
        /// The server asked.
        server: SocketAddr,
        /// How long we waited.
        timeout: Duration,
    },
    /// Every server failed for a name (the last failure is given).
    #[error("could not resolve {name:?}: {reason}")]
    Unresolved {
        /// The name.
        name: String,
        /// The last server's failure or answer code.
        reason: String,
    },
}

/// Sends one query for `name`/`qtype` to `server` and returns its answer: over UDP,
/// retried over TCP when the answer is truncated, or over TCP alone. Answers with a
/// foreign id are ignored; `timeout` bounds the whole exchange.
pub async fn exchange(
    server: SocketAddr,
    name: &str,
    qtype: RecordType,
    transport: Transport,
    timeout: Duration,
) -> Result<Message, DnsError> {
    let id = random_id();
    let query = encode_query(id, name, qtype, true).map_err(|source| DnsError::Wire { server, source })?;
    let work = async {
        if transport == Transport::Udp {
            let answer = exchange_udp(server, id, &query).await?;
            if !answer.truncated {
                return Ok(answer);
            }
        }
        exchange_tcp(server, id, &query).await
    };
    tokio::time::timeout(timeout, work).await.unwrap_or(Err(DnsError::Timeout { server, timeout }))
}

async fn exchange_udp(server: SocketAddr, id: u16, query: &[u8]) -> Result<Message, DnsError> {
    let io = |what| move |source| DnsError::Io { server, what, source };
    let local: SocketAddr =
        if server.is_ipv4() { (Ipv4Addr::UNSPECIFIED, 0).into() } else { (Ipv6Addr::UNSPECIFIED, 0).into() };
    let socket = UdpSocket::bind(local).await.map_err(io("binding a UDP socket"))?;
    socket.connect(server).await.map_err(io("connecting"))?;
    socket.send(query).await.map_err(io("sending the query"))?;
    let mut buf = vec![0u8; 65_535];
    loop {
        let n = socket.recv(&mut buf).await.map_err(io("receiving the answer"))?;
        // A datagram too short to carry our id, or with another id, is not our answer
        // (a late answer to an earlier query, or a spoofing attempt): keep waiting.
        if n < 2 || u16::from_be_bytes([buf[0], buf[1]]) != id {
            continue;
        }
        return answer(server, id, &buf[..n]);
    }
}

async fn exchange_tcp(server: SocketAddr, id: u16, query: &[u8]) -> Result<Message, DnsError> {
    let io = |what| move |source| DnsError::Io { server, what, source };
    let mut stream = TcpStream::connect(server).await.map_err(io("connecting over TCP"))?;
    let len = u16::try_from(query.len()).unwrap_or(u16::MAX);
    let mut framed = Vec::with_capacity(query.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(query);
    stream.write_all(&framed).await.map_err(io("sending the query over TCP"))?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await.map_err(io("reading the answer's length over TCP"))?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).await.map_err(io("reading the answer over TCP"))?;
    answer(server, id, &buf)
}

fn answer(server: SocketAddr, id: u16, bytes: &[u8]) -> Result<Message, DnsError> {
    let message = decode(bytes).map_err(|source| DnsError::Wire { server, source })?;
    if message.id != id || !message.response {
        return Err(DnsError::Io {
            server,
            what: "reading the answer",
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "the answer does not match the query"),
        });
    }
    Ok(message)
}

fn random_id() -> u16 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher
        .write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    hasher.finish() as u16
}

/// Resolves names with a [`ResolverConfig`].
#[derive(Clone, Debug)]
pub struct Resolver {
    config: ResolverConfig,
}

impl Resolver {
    /// A resolver with `config`.
    pub fn new(config: ResolverConfig) -> Self {
        Self { config }
    }

    /// The configuration in use.
    pub fn config(&self) -> &ResolverConfig {
        &self.config
    }

    /// Looks `name` up as Prometheus's DNS discovery does: each candidate name of the
    /// search path in turn, each asked of the servers in order until one answers
    /// NOERROR or NXDOMAIN. The first NOERROR answer is returned (even without
    /// records); when every candidate is NXDOMAIN the answer is empty; when some
    /// candidate got no usable answer from any server, the lookup fails.
    pub async fn lookup(&self, name: &str, qtype: RecordType) -> Result<Message, DnsError> {
        let mut last_failure = None;
        for candidate in self.config.name_list(name) {
            match self.ask_servers(&candidate, qtype).await {
                Ok(answer) if answer.rcode() == Rcode::NOERROR => return Ok(answer),
                Ok(_) => {}
                Err(reason) => last_failure = Some(reason),
            }
        }
        match last_failure {
            None => Ok(Message::default()),
            Some(reason) => Err(DnsError::Unresolved { name: name.to_owned(), reason }),
        }
    }

    async fn ask_servers(&self, name: &str, qtype: RecordType) -> Result<Message, String> {
        let mut reason = "no name servers configured".to_owned();
        for _ in 0..self.config.attempts.max(1) {
            for server in &self.config.servers {
                match exchange(*server, name, qtype, Transport::Udp, self.config.timeout).await {
                    Ok(answer) if matches!(answer.rcode(), Rcode::NOERROR | Rcode::NXDOMAIN) => return Ok(answer),
                    Ok(answer) => reason = format!("{server} answered {} for {name}", answer.rcode()),
                    Err(e @ DnsError::Wire { source: WireError::InvalidName { .. }, .. }) => return Err(e.to_string()),
                    Err(e) => reason = e.to_string(),
                }
            }
        }
        Err(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The answer to `query` with one A record 192.0.2.`last`, flags as given.
    fn reply(query: &[u8], flags: u16, last: u8) -> Vec<u8> {
        let question_end = query.len() - 11; // without the OPT record
        let mut out = query[..question_end].to_vec();
        out[2..4].copy_from_slice(&flags.to_be_bytes());
        out[6..12].copy_from_slice(&[0, 1, 0, 0, 0, 0]);
        out.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 192, 0, 2, last]);
        out
    }

    #[tokio::test]
    async fn truncated_udp_answers_are_asked_again_over_tcp() {
        // A free UDP port whose TCP twin is free too (retried: another test may
        // hold the TCP port of the number the kernel picked for UDP).
        let mut bound = None;
        for _ in 0..50 {
            let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let server = udp.local_addr().unwrap();
            if let Ok(tcp) = tokio::net::TcpListener::bind(server).await {
                bound = Some((udp, server, tcp));
                break;
            }
        }
        let (udp, server, tcp) = bound.expect("a UDP and TCP port pair on loopback");
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            let (n, peer) = udp.recv_from(&mut buf).await.unwrap();
            // First a datagram with a foreign id, which must be ignored.
            let mut foreign = reply(&buf[..n], 0x8180, 9);
            foreign[0] ^= 0xff;
            udp.send_to(&foreign, peer).await.unwrap();
            udp.send_to(&reply(&buf[..n], 0x8380, 1), peer).await.unwrap(); // TC set
        });
        tokio::spawn(async move {
            let (mut stream, _) = tcp.accept().await.unwrap();
            let mut len = [0u8; 2];
            stream.read_exact(&mut len).await.unwrap();
            let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
            stream.read_exact(&mut query).await.unwrap();
            let answer = reply(&query, 0x8180, 2);
            stream.write_all(&(answer.len() as u16).to_be_bytes()).await.unwrap();
            stream.write_all(&answer).await.unwrap();
        });
        let answer = exchange(server, "x.test", RecordType::A, Transport::Udp, Duration::from_secs(5)).await.unwrap();
        assert_eq!(answer.answers[0].data, super::super::RData::A(Ipv4Addr::new(192, 0, 2, 2)), "the TCP answer");
    }

    #[tokio::test]
    async fn a_silent_server_times_out_and_names_itself() {
        let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let server = silent.local_addr().unwrap();
        let err =
            exchange(server, "x.test", RecordType::A, Transport::Udp, Duration::from_millis(200)).await.unwrap_err();
        assert_eq!(err.to_string(), format!("{server}: no answer within 200ms"));
        let resolver = Resolver::new(ResolverConfig {
            timeout: Duration::from_millis(100),
            attempts: 1,
            ..ResolverConfig::with_servers(vec![server])
        });
        let err = resolver.lookup("x.test", RecordType::A).await.unwrap_err().to_string();
        assert!(err.starts_with("could not resolve \"x.test\": ") && err.contains("no answer"), "{err}");
    }
}
