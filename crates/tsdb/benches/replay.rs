//! `tsdb/replay`: samples per second rebuilt into the head by `Db::open` from a
//! WAL of ~10M samples (10k node_exporter-like series × 1,000 scrapes, written in
//! 10k-sample commits). The dataset is built once per run, in under a minute.

use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wk_model::Sample;
use wk_storage::Appender;
use wk_tsdb::{Db, DbOptions};

#[path = "fixture/node_exporter.rs"]
mod fixture;

const SERIES: usize = 10_000;
const SCRAPES: usize = 1_000;

fn build(dir: &std::path::Path) -> u64 {
    let started = Instant::now();
    let (db, _) = Db::open(dir, DbOptions::default()).unwrap();
    let labels = fixture::series(SERIES);
    let mut values = fixture::Values::new(SERIES);
    let mut app = db.appender();
    let mut refs = vec![None; SERIES];
    for scrape in 0..SCRAPES {
        let t = fixture::T0 + scrape as i64 * fixture::SCRAPE_MS;
        for (i, v) in values.scrape().iter().enumerate() {
            refs[i] = Some(app.append(refs[i], &labels[i], Sample::new(t, *v)).unwrap());
        }
        app.commit().unwrap();
    }
    drop(app);
    let samples = db.stats().samples_appended;
    let bytes = db.stats().wal_bytes_written;
    db.close().unwrap();
    eprintln!(
        "replay dataset: {samples} samples, {bytes} WAL bytes ({:.1} B/sample), built in {:.1?}",
        bytes as f64 / samples as f64,
        started.elapsed()
    );
    samples
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let samples = build(dir.path());
    let mut group = c.benchmark_group("tsdb/replay");
    group.sample_size(10);
    group.throughput(Throughput::Elements(samples));
    group.bench_function("wal_10m_samples", |b| {
        b.iter(|| {
            let (db, report) = Db::open(dir.path(), DbOptions::default()).unwrap();
            assert_eq!(report.samples, samples);
            db
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
