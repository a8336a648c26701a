//! TCP connect probe: does `host:port` accept a connection within the timeout?

use std::time::{Duration, Instant};

use super::{ProbeOutcome, gauge, ip_protocol, resolve};

/// Probes a `host:port` by connecting to it.
#[derive(Clone, Debug)]
pub struct TcpProbe {
    target: String,
    timeout: Duration,
}

impl TcpProbe {
    /// A probe of `target` (`host:port`) that gives up after `timeout`.
    pub fn new(target: impl Into<String>, timeout: Duration) -> Self {
        Self { target: target.into(), timeout }
    }

    /// Runs the probe once.
    pub async fn run(&self) -> ProbeOutcome {
        let started = Instant::now();
        let mut families = Vec::new();
        let result = tokio::time::timeout(self.timeout, async {
            let (addr, lookup) = resolve(&self.target).await?;
            families.push(gauge(
                "probe_dns_lookup_time_seconds",
                "Returns the time taken for probe dns lookup in seconds",
                lookup.as_secs_f64(),
            ));
            families.push(ip_protocol(&addr));
            tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("connecting to {addr}: {e}"))?;
            Ok::<(), String>(())
        })
        .await
        .unwrap_or_else(|_| Err(format!("no connection to {} within {:?}", self.target, self.timeout)));
        ProbeOutcome::finish(started, families, result.err())
    }
}
