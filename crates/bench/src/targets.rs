//! Many scrape targets in one process: target `i` listens on `ip:first_port + i`
//! and answers every `GET` (any path) with its next [`Catalogue`] body, so a
//! scraper's plain `static_configs` list of `host:port` addresses reaches them all.
//!
//! Each target counts its requests; the count is the body's step, so values change
//! at every scrape. A control listener answers `GET /stats` with plain-text totals
//! (requests, bytes, rendering time, targets scraped at least once) that a benchmark
//! script reads before and after its measured window.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::exposition::Catalogue;

/// The exposition format's content type, as node_exporter sends it.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Where the targets listen and what they serve.
#[derive(Clone, Debug)]
pub struct TargetsConfig {
    /// The address every target listens on.
    pub ip: IpAddr,
    /// Target `i` listens on `first_port + i`.
    pub first_port: u16,
    /// How many targets.
    pub targets: usize,
    /// Series per target.
    pub series: usize,
    /// Gzip a body when the request accepts it (node_exporter does); off, bodies are
    /// always sent plain.
    pub gzip: bool,
    /// Where `GET /stats` is answered.
    pub control: SocketAddr,
}

/// What the targets have served, shared by all connections.
#[derive(Debug)]
pub struct Stats {
    /// Requests per target; the next request's step.
    steps: Vec<AtomicU64>,
    bytes: AtomicU64,
    render_nanos: AtomicU64,
}

impl Stats {
    fn new(targets: usize) -> Self {
        Self {
            steps: (0..targets).map(|_| AtomicU64::new(0)).collect(),
            bytes: AtomicU64::new(0),
            render_nanos: AtomicU64::new(0),
        }
    }

    /// The `/stats` text: one `name value` pair a line.
    pub fn text(&self) -> String {
        let counts: Vec<u64> = self.steps.iter().map(|s| s.load(Ordering::Relaxed)).collect();
        let mut out = String::new();
        let _ = writeln!(out, "requests {}", counts.iter().sum::<u64>());
        let _ = writeln!(out, "bytes {}", self.bytes.load(Ordering::Relaxed));
        let _ = writeln!(out, "render_seconds {:.3}", self.render_nanos.load(Ordering::Relaxed) as f64 / 1e9);
        let _ = writeln!(out, "targets_scraped {}", counts.iter().filter(|c| **c > 0).count());
        let _ = writeln!(out, "min_requests_per_target {}", counts.iter().min().copied().unwrap_or(0));
        let _ = writeln!(out, "max_requests_per_target {}", counts.iter().max().copied().unwrap_or(0));
        out
    }
}

/// Binds every target and the control address, then serves until the process ends.
/// Fails if any address cannot be bound.
pub async fn serve(config: TargetsConfig) -> Result<()> {
    let catalogue = Arc::new(Catalogue::new(config.series));
    let stats = Arc::new(Stats::new(config.targets));
    let mut listeners = Vec::with_capacity(config.targets);
    for i in 0..config.targets {
        let port = u16::try_from(usize::from(config.first_port) + i).context("the ports run past 65535")?;
        let addr = SocketAddr::new(config.ip, port);
        listeners.push(TcpListener::bind(addr).await.with_context(|| format!("binding target {i} on {addr}"))?);
    }
    let control = TcpListener::bind(config.control).await.with_context(|| format!("binding {}", config.control))?;
    for (i, listener) in listeners.into_iter().enumerate() {
        let target =
            Arc::new(Target { index: i, catalogue: catalogue.clone(), stats: stats.clone(), gzip: config.gzip });
        tokio::spawn(accept_loop(listener, target));
    }
    loop {
        let (stream, _) = control.accept().await.context("accepting on the control address")?;
        let stats = stats.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |_: Request<Incoming>| {
                let body = stats.text();
                async move { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body)))) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

#[derive(Debug)]
struct Target {
    index: usize,
    catalogue: Arc<Catalogue>,
    stats: Arc<Stats>,
    gzip: bool,
}

impl Target {
    fn respond(&self, accepts_gzip: bool) -> Response<Full<Bytes>> {
        let started = Instant::now();
        let step = self.stats.steps[self.index].fetch_add(1, Ordering::Relaxed);
        let mut body = Vec::new();
        self.catalogue.render(self.index as u64, step, &mut body);
        let gzip = self.gzip && accepts_gzip;
        if gzip {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 8), flate2::Compression::fast());
            // Writing to a Vec cannot fail.
            let _ = encoder.write_all(&body);
            body = encoder.finish().unwrap_or_default();
        }
        self.stats.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
        self.stats.render_nanos.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        let mut response = Response::new(Full::new(Bytes::from(body)));
        response.headers_mut().insert(CONTENT_TYPE, CONTENT_TYPE_TEXT.parse().expect("a valid header value"));
        if gzip {
            response.headers_mut().insert(CONTENT_ENCODING, "gzip".parse().expect("a valid header value"));
        }
        response
    }
}

async fn accept_loop(listener: TcpListener, target: Arc<Target>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let target = target.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let accepts_gzip = request
                    .headers()
                    .get(ACCEPT_ENCODING)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.contains("gzip"));
                let response = target.respond(accepts_gzip);
                async move { Ok::<_, Infallible>(response) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
