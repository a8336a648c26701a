//! Debian's `dnsmasq` as a DNS server on a free loopback port, serving the records a
//! test gives it and nothing else (no upstream servers, no /etc/hosts).

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wk_collect::dns::{RecordType, Transport, exchange};

/// A running dnsmasq; killed on drop.
pub struct Dnsmasq {
    child: Child,
    /// Where it answers, over UDP and TCP.
    pub addr: SocketAddr,
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port free for both UDP and TCP right now.
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no loopback port free for both UDP and TCP");
}

impl Dnsmasq {
    /// Starts dnsmasq on `port` with `options` (dnsmasq long options such as
    /// `--srv-host=...`), authoritative for `wk.test` (unknown names there are
    /// NXDOMAIN), and waits until it answers.
    pub async fn start(port: u16, options: &[String]) -> Self {
        let child = Command::new("dnsmasq")
            .args([
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                "--no-negcache",
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--user=root",
                "--pid-file=",
                "--local=/wk.test/",
                &format!("--port={port}"),
            ])
            .args(options)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dnsmasq not found: scripts/test.sh installs Debian's dnsmasq-base");
        let server = Self { child, addr: SocketAddr::from(([127, 0, 0, 1], port)) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let probe =
                exchange(server.addr, "ready.wk.test", RecordType::A, Transport::Udp, Duration::from_millis(200));
            if probe.await.is_ok() {
                return server;
            }
            assert!(Instant::now() < deadline, "dnsmasq did not answer on {}", server.addr);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
