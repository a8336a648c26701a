//! Sends the pre-encoded grid over `concurrency` HTTP/1.1 connections.
//!
//! Worker `w` owns chunks `w, w + concurrency, …` and sends them scrape by scrape,
//! so every series' samples leave in timestamp order and never overtake each other,
//! as with Prometheus' remote_write shards. A 429, a 5xx or a broken connection is
//! retried after `Retry-After` (whole seconds) or an exponential backoff; any other
//! non-2xx answer fails the request for good.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_ENCODING, CONTENT_TYPE, HOST, RETRY_AFTER, USER_AGENT};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;

use crate::batches::{self, Batch, Shape};

/// Where a worker's requests come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// Encoded before the clock started, indexed `[step][chunk]`.
    Grid(Arc<Vec<Vec<Batch>>>),
    /// Encoded by the worker just before it sends each one: memory stays flat
    /// whatever the run's size, and the measured rate includes encoding.
    Stream(Shape),
}

/// How to send.
#[derive(Clone, Debug)]
pub struct SendOptions {
    /// The remote_write endpoint, `http://HOST:PORT/PATH`.
    pub url: Uri,
    /// Connections, each with one request in flight.
    pub concurrency: usize,
    /// Attempts after the first before a request is given up.
    pub max_retries: u32,
    /// The longest wait between attempts, whatever `Retry-After` says.
    pub max_backoff: Duration,
}

/// Counters shared with the progress line.
#[derive(Debug, Default)]
pub struct Progress {
    /// Samples in requests answered with 2xx.
    pub samples_accepted: AtomicU64,
    /// Responses received.
    pub responses: AtomicU64,
    /// Non-2xx responses and transport errors.
    pub errors: AtomicU64,
}

/// What one worker saw.
#[derive(Debug, Default)]
pub struct WorkerTally {
    /// Latency of every attempt that got a response.
    pub latencies: Vec<Duration>,
    /// Responses by status.
    pub statuses: BTreeMap<u16, u64>,
    /// Samples in 2xx responses.
    pub samples_accepted: u64,
    /// Samples in requests that finally failed.
    pub samples_failed: u64,
    /// Body bytes sent, retries included.
    pub bytes_sent: u64,
    /// Attempts without a response.
    pub transport_errors: u64,
    /// Repeated attempts.
    pub retries: u64,
}

/// Where to connect, taken apart once.
#[derive(Debug)]
struct Target {
    /// `HOST:PORT`, to connect to and for the `Host` header.
    authority: String,
    /// The path and query.
    uri: Uri,
}

impl Target {
    fn new(url: &Uri) -> Result<Self> {
        match url.scheme_str() {
            Some("http") => {}
            other => bail!("only http:// URLs are supported, not {other:?} in {url}"),
        }
        let authority = url.authority().with_context(|| format!("no host in {url}"))?;
        let port = authority.port_u16().unwrap_or(80);
        // HTTP/1.1 requests carry the origin form (`/api/v1/write`); the host goes in `Host`.
        let path = url.path_and_query().map_or("/", |p| p.as_str());
        Ok(Self { authority: format!("{}:{port}", authority.host()), uri: path.parse()? })
    }
}

/// Checks that `url` is one the workers can send to (`http://HOST[:PORT]/PATH`).
pub fn check_url(url: &Uri) -> Result<()> {
    Target::new(url).map(drop)
}

/// Runs worker `w` over its share of `source`.
pub async fn worker(w: usize, source: Source, options: SendOptions, progress: Arc<Progress>) -> Result<WorkerTally> {
    let target = Target::new(&options.url)?;
    let mut tally = WorkerTally::default();
    let mut conn: Option<SendRequest<Full<Bytes>>> = None;
    let stride = options.concurrency.max(1);
    match source {
        Source::Grid(grid) => {
            for row in grid.iter() {
                for batch in row.iter().skip(w).step_by(stride) {
                    send_with_retries(&target, &options, &mut conn, batch, &mut tally, &progress).await;
                }
            }
        }
        Source::Stream(shape) => {
            for row in 0..shape.rows() {
                for chunk in (w..shape.chunks()).step_by(stride) {
                    // Encoding takes about a millisecond per thousand samples: short
                    // enough to run on the runtime's thread between two sends.
                    let batch = batches::encode(&shape, row, chunk);
                    send_with_retries(&target, &options, &mut conn, &batch, &mut tally, &progress).await;
                }
            }
        }
    }
    Ok(tally)
}

/// The verdict on one attempt.
enum Attempt {
    Accepted,
    Retry(Option<Duration>),
    Failed,
}

async fn send_with_retries(
    target: &Target,
    options: &SendOptions,
    conn: &mut Option<SendRequest<Full<Bytes>>>,
    batch: &Batch,
    tally: &mut WorkerTally,
    progress: &Progress,
) {
    let mut backoff = Duration::from_millis(50);
    for attempt in 0..=options.max_retries {
        if attempt > 0 {
            tally.retries += 1;
        }
        match attempt_once(target, conn, batch, tally, progress).await {
            Attempt::Accepted => {
                tally.samples_accepted += batch.samples;
                progress.samples_accepted.fetch_add(batch.samples, Ordering::Relaxed);
                return;
            }
            Attempt::Failed => break,
            Attempt::Retry(retry_after) => {
                tokio::time::sleep(retry_after.unwrap_or(backoff).min(options.max_backoff)).await;
                backoff = (backoff * 2).min(options.max_backoff);
            }
        }
    }
    tally.samples_failed += batch.samples;
}

async fn attempt_once(
    target: &Target,
    conn: &mut Option<SendRequest<Full<Bytes>>>,
    batch: &Batch,
    tally: &mut WorkerTally,
    progress: &Progress,
) -> Attempt {
    let started = Instant::now();
    let result = exchange(target, conn, batch).await;
    tally.bytes_sent += batch.body.len() as u64;
    let (status, retry_after) = match result {
        Ok(answer) => answer,
        Err(_) => {
            // The connection is unusable; the next attempt opens a new one.
            *conn = None;
            tally.transport_errors += 1;
            progress.errors.fetch_add(1, Ordering::Relaxed);
            return Attempt::Retry(None);
        }
    };
    tally.latencies.push(started.elapsed());
    *tally.statuses.entry(status.as_u16()).or_default() += 1;
    progress.responses.fetch_add(1, Ordering::Relaxed);
    if status.is_success() {
        return Attempt::Accepted;
    }
    progress.errors.fetch_add(1, Ordering::Relaxed);
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        Attempt::Retry(retry_after)
    } else {
        Attempt::Failed
    }
}

/// Sends one request and reads the whole answer; returns its status and `Retry-After`.
async fn exchange(
    target: &Target,
    conn: &mut Option<SendRequest<Full<Bytes>>>,
    batch: &Batch,
) -> Result<(StatusCode, Option<Duration>)> {
    let sender = match conn {
        Some(sender) if !sender.is_closed() => sender,
        _ => conn.insert(connect(target).await?),
    };
    sender.ready().await?;
    let request = Request::post(target.uri.clone())
        .header(HOST, &target.authority)
        .header(CONTENT_TYPE, "application/x-protobuf")
        .header(CONTENT_ENCODING, "snappy")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .header(USER_AGENT, "wk-bench")
        .body(Full::new(batch.body.clone()))?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    response.into_body().collect().await?;
    Ok((status, retry_after))
}

async fn connect(target: &Target) -> Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(&target.authority)
        .await
        .with_context(|| format!("connecting to {}", target.authority))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    // The connection task ends when the sender is dropped or the peer closes.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}
