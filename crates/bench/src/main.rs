//! `wk-bench`: sends node_exporter-like remote_write load to a server and reports
//! what it accepted. See `wk-bench --help` and `docs/benchmarks.md`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::Parser;
use hyper::Uri;
use wk_bench::generator::SCRAPE_INTERVAL_MS;
use wk_bench::sender::SendOptions;
use wk_bench::{RunConfig, Shape};

/// Remote_write load: N node_exporter-like series × S scrapes at a 15 s interval,
/// encoded up front (or streamed with --stream), sent over C connections.
#[derive(Debug, Parser)]
#[command(name = "wk-bench", version)]
struct Cli {
    /// The remote_write endpoint (http only).
    #[arg(long, default_value = "http://127.0.0.1:9800/api/v1/write")]
    url: Uri,
    /// Series per scrape (100 per host).
    #[arg(long, default_value_t = 100_000)]
    series: usize,
    /// Scrapes to send, 15 s apart; the last one is at about now.
    #[arg(long, default_value_t = 20)]
    steps: u64,
    /// Series per request.
    #[arg(long, default_value_t = 2_000)]
    batch_series: usize,
    /// Consecutive scrapes of each series per request: 1 as a live
    /// remote_write sender; more to backfill history faster.
    #[arg(long, default_value_t = 1)]
    samples_per_series: u64,
    /// Connections, each with one request in flight.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Retries of a request answered 429/5xx or lost, before it is given up.
    #[arg(long, default_value_t = 10)]
    max_retries: u32,
    /// The longest wait between retries, in seconds.
    #[arg(long, default_value_t = 10)]
    max_backoff_seconds: u64,
    /// Timestamp of the first scrape in ms since the epoch [default: now - steps × 15 s].
    #[arg(long)]
    start_ms: Option<i64>,
    /// The server's pid: report its CPU seconds during the run and its peak RSS.
    #[arg(long)]
    pid: Option<u32>,
    /// No progress line on stderr.
    #[arg(long)]
    quiet: bool,
    /// Encode each request just before sending it, not all up front: memory
    /// stays flat for runs of any size (e.g. 100k series × 24 h), and the
    /// measured rate then includes the encoding.
    #[arg(long)]
    stream: bool,
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    anyhow::ensure!(cli.batch_series > 0, "--batch-series must be at least 1");
    anyhow::ensure!(cli.concurrency > 0, "--concurrency must be at least 1");
    anyhow::ensure!(cli.samples_per_series > 0, "--samples-per-series must be at least 1");
    let start_ms = match cli.start_ms {
        Some(ms) => ms,
        None => {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).context("the clock is before 1970")?;
            let now_ms = now.as_millis() as i64;
            now_ms - now_ms % SCRAPE_INTERVAL_MS - cli.steps as i64 * SCRAPE_INTERVAL_MS
        }
    };
    let config = RunConfig {
        shape: Shape {
            series: cli.series,
            steps: cli.steps,
            batch_series: cli.batch_series,
            samples_per_series: cli.samples_per_series,
            start_ms,
        },
        send: SendOptions {
            url: cli.url.clone(),
            concurrency: cli.concurrency,
            max_retries: cli.max_retries,
            max_backoff: Duration::from_secs(cli.max_backoff_seconds),
        },
        server_pid: cli.pid,
        progress: !cli.quiet,
        stream: cli.stream,
    };
    eprintln!(
        "{} {} series x {} steps = {} samples in requests of {} series x {} samples, {} {} over {} connections",
        if cli.stream { "streaming" } else { "encoding" },
        cli.series,
        cli.steps,
        config.shape.samples(),
        cli.batch_series,
        cli.samples_per_series,
        if cli.stream { "to" } else { "then sending to" },
        cli.url,
        cli.concurrency
    );
    let report = wk_bench::run(&config).await?;
    print!("{report}");
    Ok(())
}
