//! XOR chunk encoding and decoding (the head's hot path on append and replay), and
//! the block column codec, on node_exporter-like values at 15 s.
//!
//! `cargo bench -p wk-tsdb --bench chunk`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wk_model::Sample;
use wk_tsdb::block::codec::{decode_series, encode_series};
use wk_tsdb::chunk::{XorAppender, XorIter};

#[path = "fixture/node_exporter.rs"]
mod fixture;

const SERIES: usize = 100;
const SAMPLES: usize = 120;

fn data() -> Vec<Vec<Sample>> {
    let mut values = fixture::Values::new(SERIES);
    let mut out: Vec<Vec<Sample>> = (0..SERIES).map(|_| Vec::with_capacity(SAMPLES)).collect();
    for step in 0..SAMPLES {
        let t = fixture::T0 + step as i64 * fixture::SCRAPE_MS;
        for (i, v) in values.scrape().iter().enumerate() {
            out[i].push(Sample::new(t, *v));
        }
    }
    out
}

fn chunk(c: &mut Criterion) {
    let data = data();
    let total = (SERIES * SAMPLES) as u64;
    let mut g = c.benchmark_group("tsdb/chunk");
    g.throughput(Throughput::Elements(total));
    g.bench_function("xor_encode", |b| {
        b.iter(|| {
            let mut bytes = 0;
            for series in &data {
                let mut app = XorAppender::new();
                for s in series {
                    app.append(s.t, s.v);
                }
                bytes += app.finish().len();
            }
            bytes
        })
    });
    let chunks: Vec<Box<[u8]>> = data
        .iter()
        .map(|series| {
            let mut app = XorAppender::new();
            for s in series {
                app.append(s.t, s.v);
            }
            app.finish()
        })
        .collect();
    g.bench_function("xor_decode", |b| {
        b.iter(|| chunks.iter().map(|c| XorIter::new(c).unwrap().map(|s| s.unwrap().v).sum::<f64>()).sum::<f64>())
    });
    g.bench_function("block_encode", |b| {
        let mut out = Vec::new();
        b.iter(|| {
            out.clear();
            for series in &data {
                encode_series(series, &mut out);
            }
            out.len()
        })
    });
    let blobs: Vec<Vec<u8>> = data
        .iter()
        .map(|s| {
            let mut out = Vec::new();
            encode_series(s, &mut out);
            out
        })
        .collect();
    g.bench_function("block_decode", |b| {
        let mut out = Vec::new();
        b.iter(|| {
            let mut n = 0;
            for blob in &blobs {
                out.clear();
                decode_series(blob, &mut out).unwrap();
                n += out.len();
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, chunk);
criterion_main!(benches);
