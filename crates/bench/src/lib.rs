//! `wk-bench`: a remote_write load tool.
//!
//! It generates deterministic node_exporter-like data, encodes every request before
//! the clock starts (or, with `stream`, just before sending it, for runs larger
//! than memory), sends them to any remote_write 1.0 endpoint (Watchkeeper,
//! VictoriaMetrics, Prometheus with `--web.enable-remote-write-receiver`) and reports
//! the accepted sample rate, errors by status, request latency and, given the
//! server's pid, its CPU seconds and peak memory.
//!
//! Map of the crate:
//!
//! - [`generator`]: the series catalogue (labels) and their values per step.
//! - [`batches`]: the [`Shape`] of a run and its pre-encoded request grid.
//! - [`sender`]: one HTTP/1.1 connection per worker, retries on 429/5xx.
//! - [`process`]: `/proc` readings of the server's CPU time and peak RSS.
//! - [`report`]: the [`Report`] and how it prints.
//! - [`exposition`] and [`targets`]: the other tool, `wk-scrape-targets`, which serves
//!   many node_exporter-like scrape targets from one process for scrape benchmarks.
//!
//! [`run`] is the whole tool behind the command line; the integration test calls it.

pub mod batches;
pub mod exposition;
pub mod generator;
pub mod process;
pub mod report;
pub mod sender;
pub mod targets;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

pub use batches::Shape;
pub use report::{Latency, Report, ServerUsage};
use sender::{Progress, SendOptions, Source};

/// Everything one run needs.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// What to send.
    pub shape: Shape,
    /// Where and how to send it.
    pub send: SendOptions,
    /// The server's pid, to measure its CPU time and peak RSS.
    pub server_pid: Option<u32>,
    /// Print a progress line on stderr every second.
    pub progress: bool,
    /// Encode each request just before it is sent instead of all before the
    /// clock starts (for runs too large to hold in memory).
    pub stream: bool,
}

/// Encodes the run, sends it and measures it.
///
/// Fails only when the run cannot start (bad URL, unreadable `/proc/PID`); failed
/// requests are counted in the [`Report`], not returned as errors.
pub async fn run(config: &RunConfig) -> Result<Report> {
    sender::check_url(&config.send.url)?;
    let encode_started = Instant::now();
    let shape = config.shape;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let source = if config.stream {
        Source::Stream(shape)
    } else {
        let grid = tokio::task::spawn_blocking(move || batches::encode_all(&shape, threads))
            .await
            .context("the encoder task failed")?;
        Source::Grid(Arc::new(grid))
    };
    let encode_elapsed = encode_started.elapsed();

    let cpu_before = config.server_pid.map(process::cpu_seconds).transpose()?;
    let progress = Arc::new(Progress::default());
    let ticker = config.progress.then(|| tokio::spawn(print_progress(progress.clone(), shape.samples())));
    let started = Instant::now();
    let workers: Vec<_> = (0..config.send.concurrency.max(1))
        .map(|w| tokio::spawn(sender::worker(w, source.clone(), config.send.clone(), progress.clone())))
        .collect();
    let mut tallies = Vec::with_capacity(workers.len());
    for worker in workers {
        tallies.push(worker.await.context("a sender task failed")??);
    }
    let elapsed = started.elapsed();
    if let Some(ticker) = ticker {
        ticker.abort();
    }
    let server = match (config.server_pid, cpu_before) {
        (Some(pid), Some(before)) => Some(ServerUsage {
            cpu_seconds: process::cpu_seconds(pid)? - before,
            peak_rss_bytes: process::peak_rss_bytes(pid)?,
        }),
        _ => None,
    };

    let mut report = Report { samples_planned: shape.samples(), elapsed, encode_elapsed, server, ..Default::default() };
    let mut latencies = Vec::new();
    for t in tallies {
        latencies.extend(t.latencies);
        for (status, n) in t.statuses {
            *report.statuses.entry(status).or_default() += n;
        }
        report.samples_accepted += t.samples_accepted;
        report.samples_failed += t.samples_failed;
        report.bytes_sent += t.bytes_sent;
        report.transport_errors += t.transport_errors;
        report.retries += t.retries;
    }
    report.responses = latencies.len() as u64;
    report.latency = Latency::from_samples(&mut latencies);
    Ok(report)
}

async fn print_progress(progress: Arc<Progress>, planned: u64) {
    let started = Instant::now();
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.tick().await;
    let mut last = 0;
    loop {
        ticks.tick().await;
        let accepted = progress.samples_accepted.load(Ordering::Relaxed);
        eprintln!(
            "{:>5.0} s: {accepted}/{planned} samples accepted, {} samples/s in the last second, {} responses, {} errors",
            started.elapsed().as_secs_f64(),
            accepted - last,
            progress.responses.load(Ordering::Relaxed),
            progress.errors.load(Ordering::Relaxed),
        );
        last = accepted;
    }
}
