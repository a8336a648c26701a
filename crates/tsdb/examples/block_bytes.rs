//! Measures bytes per sample of block files against the head's XOR chunks (the
//! encoding Prometheus keeps on disk), and block write and read speed.
//!
//! Run: `cargo run --release -p wk-tsdb --example block_bytes -- [SERIES] [HOURS]`
//! (defaults 10000 and 24). Data: the node_exporter-like bench fixture at a 15 s
//! interval (CPU counters with two decimals and random increments, byte counters,
//! rarely changing filesystem gauges) — noisier than real hosts, whose many
//! constant series compress to almost nothing.

use std::time::Instant;

use wk_model::Sample;
use wk_tsdb::block::{Block, BlockMeta, BlockWriter};
use wk_tsdb::chunk::XorAppender;
use wk_wal::RealFs;

#[path = "../benches/fixture/node_exporter.rs"]
mod fixture;

const BLOCK_MS: i64 = 2 * 3600 * 1000;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(10_000, |a| a.parse().expect("SERIES is a number"));
    let hours: i64 = args.next().map_or(24, |a| a.parse().expect("HOURS is a number"));
    let steps = hours * 3600 * 1000 / fixture::SCRAPE_MS;
    let labels = fixture::series(n);
    let mut values = fixture::Values::new(n);
    let mut data: Vec<Vec<Sample>> = (0..n).map(|_| Vec::with_capacity(steps as usize)).collect();
    for step in 0..steps {
        let t = fixture::T0 + step * fixture::SCRAPE_MS;
        for (i, v) in values.scrape().iter().enumerate() {
            data[i].push(Sample::new(t, *v));
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| labels[a].cmp(&labels[b]));
    let total_samples = (n as i64 * steps) as f64;
    println!("{n} series x {steps} samples ({hours} h at 15 s) = {total_samples} samples");

    // XOR chunks of 120 samples, as the head and Prometheus's blocks hold them.
    let mut xor_bytes = 0usize;
    for series in &data {
        for chunk in series.chunks(120) {
            let mut app = XorAppender::new();
            for s in chunk {
                app.append(s.t, s.v);
            }
            xor_bytes += app.finish().len();
        }
    }
    println!("XOR chunks (120 samples)      {:>12} bytes  {:.3} B/sample", xor_bytes, xor_bytes as f64 / total_samples);

    let dir = tempfile::tempdir().expect("tempdir");
    let fs = RealFs::new();
    let write = |mint: i64, maxt: i64, level: u32| -> (u64, f64) {
        let started = Instant::now();
        let meta = BlockMeta { mint, maxt, level, ..Default::default() };
        let mut w = BlockWriter::create(&fs, dir.path(), meta).expect("create");
        for &i in &order {
            let lo = data[i].partition_point(|s| s.t < mint);
            let hi = data[i].partition_point(|s| s.t < maxt);
            w.add_series(&labels[i], &data[i][lo..hi]).expect("add");
        }
        let path = w.finish().expect("finish").expect("non-empty");
        (std::fs::metadata(path).expect("stat").len(), started.elapsed().as_secs_f64())
    };
    let t_end = fixture::T0 + steps * fixture::SCRAPE_MS;
    let (mut small, mut secs) = (0u64, 0f64);
    let mut mint = fixture::T0;
    while mint < t_end {
        let (b, s) = write(mint, mint + BLOCK_MS, 0);
        small += b;
        secs += s;
        mint += BLOCK_MS;
    }
    println!(
        "2 h blocks (level 0)          {:>12} bytes  {:.3} B/sample  written at {:.2} M samples/s",
        small,
        small as f64 / total_samples,
        total_samples / secs / 1e6
    );
    let (big, secs) = write(fixture::T0, t_end, 1);
    println!(
        "one {hours} h block (compacted)   {:>12} bytes  {:.3} B/sample  written at {:.2} M samples/s",
        big,
        big as f64 / total_samples,
        total_samples / secs / 1e6
    );
    let path = dir.path().join(format!("{}.wkb", wk_tsdb::block::block_name(fixture::T0, t_end)));
    let block = Block::open(&fs, &path).expect("open");
    let started = Instant::now();
    let mut buf = Vec::new();
    let mut read = 0usize;
    for id in 0..block.num_series() as u32 {
        block.samples(id, i64::MIN, i64::MAX, &mut buf).expect("read");
        read += buf.len();
    }
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(read as f64, total_samples);
    println!("full read of the {hours} h block: {:.2} M samples/s", read as f64 / secs / 1e6);
}
