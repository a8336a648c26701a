//! `wk-scrape-targets`: serves N node_exporter-like scrape targets × M series from
//! one process, on consecutive loopback ports. See `crates/bench/src/targets.rs` and
//! `docs/benchmarks.md`.

use std::net::{IpAddr, SocketAddr};

use anyhow::Result;
use clap::Parser;
use wk_bench::targets::{self, TargetsConfig};

/// Scrape targets for a scrape benchmark: target `i` answers on IP:FIRST_PORT+i.
#[derive(Debug, Parser)]
#[command(name = "wk-scrape-targets", version)]
struct Cli {
    /// How many targets.
    #[arg(long, default_value_t = 1_000)]
    targets: usize,
    /// Series per target.
    #[arg(long, default_value_t = 1_000)]
    series: usize,
    /// The address the targets listen on.
    #[arg(long, default_value = "127.0.0.1")]
    ip: IpAddr,
    /// The first target's port.
    #[arg(long, default_value_t = 20_000)]
    first_port: u16,
    /// Where `GET /stats` is answered.
    #[arg(long, default_value = "127.0.0.1:19999")]
    control: SocketAddr,
    /// Gzip bodies for scrapers that accept it.
    #[arg(long)]
    gzip: bool,
    /// Runtime worker threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(cli.threads.max(1)).enable_all().build()?;
    let config = TargetsConfig {
        ip: cli.ip,
        first_port: cli.first_port,
        targets: cli.targets,
        series: cli.series,
        gzip: cli.gzip,
        control: cli.control,
    };
    eprintln!(
        "serving {} targets x {} series on {}:{}..{} (gzip {}), stats on http://{}/stats",
        cli.targets,
        cli.series,
        cli.ip,
        cli.first_port,
        usize::from(cli.first_port) + cli.targets.saturating_sub(1),
        if cli.gzip { "on request" } else { "off" },
        cli.control
    );
    runtime.block_on(targets::serve(config))
}
