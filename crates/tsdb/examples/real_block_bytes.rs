//! Bytes per sample of a block built from real scrapes, against XOR chunks.
//!
//! Run: `cargo run --release -p wk-tsdb --example real_block_bytes -- DIR`, where
//! `DIR` holds `scrape-<unix ms>.prom` files: text-format scrapes of a real
//! exporter (for example `curl -s -o scrape-$(date +%s%3N).prom
//! 127.0.0.1:9100/metrics` every 15 s). Each file's samples get the file's
//! timestamp, as a scraper stamps them. The figures are printed twice: with those
//! jittery wall-clock timestamps, and with timestamps snapped to an exact 15 s
//! grid, as Prometheus's `scrape.timestamp-tolerance` (2 ms) does for steady
//! scrapes.

use std::collections::BTreeMap;

use wk_ingest::exposition::{Entry, Format, Parser};
use wk_model::{Labels, LabelsBuilder, Sample};
use wk_tsdb::block::{BlockMeta, BlockWriter};
use wk_tsdb::chunk::XorAppender;
use wk_wal::RealFs;

fn main() {
    let dir = std::env::args().nth(1).expect("usage: real_block_bytes DIR");
    let mut files: Vec<(i64, std::path::PathBuf)> = std::fs::read_dir(&dir)
        .expect("read DIR")
        .filter_map(|e| {
            let path = e.ok()?.path();
            let t = path.file_name()?.to_str()?.strip_prefix("scrape-")?.strip_suffix(".prom")?.parse().ok()?;
            Some((t, path))
        })
        .collect();
    files.sort();
    let mut series: BTreeMap<Labels, Vec<(i64, usize, f64)>> = BTreeMap::new();
    for (i, (t, path)) in files.iter().enumerate() {
        let body = std::fs::read(path).expect("read scrape");
        let parser = Parser::new(&body, Format::PrometheusText).expect("UTF-8 scrape");
        for entry in parser {
            let Ok(Entry::Sample(s)) = entry else { continue };
            let mut b = LabelsBuilder::new();
            b.set("__name__", &s.name);
            for l in &s.labels {
                b.set(&l.0, &l.1);
            }
            let labels = b.build().expect("valid labels");
            series.entry(labels).or_default().push((*t, i, s.value));
        }
    }
    let total: usize = series.values().map(Vec::len).sum();
    println!("{} scrapes, {} series, {} samples", files.len(), series.len(), total);
    let first = files.first().map_or(0, |f| f.0);
    for (name, snap) in [("wall-clock timestamps", false), ("timestamps on a 15 s grid", true)] {
        let data: Vec<(&Labels, Vec<Sample>)> = series
            .iter()
            .map(|(l, v)| {
                let samples = v
                    .iter()
                    .map(|&(t, i, x)| Sample::new(if snap { first + i as i64 * 15_000 } else { t }, x))
                    .collect();
                (l, samples)
            })
            .collect();
        let mut xor = 0usize;
        for (_, samples) in &data {
            for chunk in samples.chunks(120) {
                let mut app = XorAppender::new();
                for s in chunk {
                    app.append(s.t, s.v);
                }
                xor += app.finish().len();
            }
        }
        let mut columns = 0usize;
        let mut blob = Vec::new();
        let mut by_family: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for (labels, samples) in &data {
            blob.clear();
            wk_tsdb::block::codec::encode_series(samples, &mut blob);
            columns += blob.len();
            let e = by_family.entry(labels.metric_name().unwrap_or("").to_owned()).or_default();
            e.0 += blob.len();
            e.1 += samples.len();
        }
        if let Some(dump) = std::env::var_os("WK_DUMP").filter(|_| snap) {
            // Experiment: our bit-packed blobs, and zigzag-varint residuals
            // (delta-of-delta timestamps, delta mantissas) for a general
            // compressor to work on.
            let mut packed = Vec::new();
            let mut varints = Vec::new();
            for (_, samples) in &data {
                wk_tsdb::block::codec::encode_series(samples, &mut packed);
                let mut prev = (0i64, 0i64);
                for s in samples.iter() {
                    let d = s.t - prev.0;
                    let dod = d - prev.1;
                    varint(&mut varints, dod);
                    prev = (s.t, d);
                }
                let scale = (0..=15).find(|&k| {
                    samples.iter().all(|s| {
                        let m = (s.v * 10f64.powi(k)).round();
                        m.abs() < 9e15 && (if k == 0 { m } else { m / 10f64.powi(k) }).to_bits() == s.v.to_bits()
                    })
                });
                let mut pm = 0i64;
                for s in samples.iter() {
                    match scale {
                        Some(k) => {
                            let m = (s.v * 10f64.powi(k)).round() as i64;
                            varint(&mut varints, m - pm);
                            pm = m;
                        }
                        None => varints.extend_from_slice(&s.v.to_bits().to_le_bytes()),
                    }
                }
            }
            let dump = std::path::PathBuf::from(dump);
            std::fs::write(dump.with_extension("packed"), &packed).expect("write dump");
            std::fs::write(dump.with_extension("varints"), &varints).expect("write dump");
        }
        if std::env::var_os("WK_FAMILIES").is_some() {
            let mut top: Vec<_> = by_family.into_iter().collect();
            top.sort_by_key(|(_, (b, _))| std::cmp::Reverse(*b));
            for (name, (b, n)) in top.iter().take(15) {
                println!("  {name:<50} {b:>8} bytes {:>6.3} B/sample", *b as f64 / *n as f64);
            }
        }
        let tmp = tempfile::tempdir().expect("tempdir");
        let fs = RealFs::new();
        let maxt = data.iter().filter_map(|(_, s)| s.last()).map(|s| s.t).max().unwrap_or(0) + 1;
        let meta = BlockMeta { mint: first, maxt, ..Default::default() };
        let mut w = BlockWriter::create(&fs, tmp.path(), meta).expect("create");
        for (labels, samples) in &data {
            w.add_series(labels, samples).expect("add");
        }
        let path = w.finish().expect("finish").expect("non-empty");
        let block = std::fs::metadata(&path).expect("stat").len();
        let data_section = wk_tsdb::block::Block::open(&fs, &path).expect("open").data_bytes();
        println!(
            "{name}: XOR chunks {:.3} B/sample; block series data {:.3} B/sample before and {:.3} after frame compression; whole block file {:.3} B/sample ({block} bytes, index included)",
            xor as f64 / total as f64,
            columns as f64 / total as f64,
            data_section as f64 / total as f64,
            block as f64 / total as f64
        );
    }
}

fn varint(out: &mut Vec<u8>, x: i64) {
    let mut u = ((x << 1) ^ (x >> 63)) as u64;
    while u >= 0x80 {
        out.push((u as u8) | 0x80);
        u >>= 7;
    }
    out.push(u as u8);
}
