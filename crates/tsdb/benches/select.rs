//! `tsdb/select`: latency of selecting 1, 1k and 100k series from a head of 100k
//! node_exporter-like series with 120 samples each, including decoding every
//! sample of the result (full range) or only the last 5 minutes.
//!
//! `tsdb/select_db`: the same data in a durable `Db` with 10-minute blocks, after
//! maintenance: two thirds of every series come from block files (mmap,
//! checksum, column decode), the rest from the head, merged per series.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use wk_model::{MatchOp, Matcher, Sample};
use wk_storage::{Appender, Querier};
use wk_tsdb::{Db, DbOptions, Head, HeadOptions};

#[path = "fixture/node_exporter.rs"]
mod fixture;

const SERIES: usize = 100_000;
const SAMPLES: i64 = 120;

fn build() -> Head {
    let head = Head::new(HeadOptions::default()).unwrap();
    let labels = fixture::series(SERIES);
    let mut values = fixture::Values::new(SERIES);
    let mut refs = vec![None; SERIES];
    for k in 0..SAMPLES {
        let t = fixture::T0 + k * fixture::SCRAPE_MS;
        let mut app = head.appender();
        for (i, v) in values.scrape().iter().enumerate() {
            refs[i] = Some(app.append(refs[i], &labels[i], Sample::new(t, *v)).unwrap());
        }
        app.commit().unwrap();
    }
    head
}

/// The same data in a durable database with 10-minute blocks, maintained.
fn build_db(dir: &std::path::Path) -> Db {
    let options = DbOptions { block_range_ms: 600_000, retention_ms: 0, ..DbOptions::default() };
    let (db, _) = Db::open(dir, options).unwrap();
    let labels = fixture::series(SERIES);
    let mut values = fixture::Values::new(SERIES);
    let mut refs = vec![None; SERIES];
    let mut app = db.appender();
    for k in 0..SAMPLES {
        let t = fixture::T0 + k * fixture::SCRAPE_MS;
        for (i, v) in values.scrape().iter().enumerate() {
            refs[i] = Some(app.append(refs[i], &labels[i], Sample::new(t, *v)).unwrap());
        }
        app.commit().unwrap();
    }
    drop(app);
    let report = db.maintain().unwrap();
    assert!(report.blocks_cut >= 2, "{report:?}");
    db
}

fn consume(head: &Head, ms: &[Matcher], mint: i64) -> usize {
    consume_from(&head.querier(), ms, mint)
}

fn consume_from(q: &dyn Querier, ms: &[Matcher], mint: i64) -> usize {
    let mut n = 0;
    for s in q.select(ms, mint, i64::MAX).unwrap() {
        for x in s.unwrap().samples {
            black_box(x);
            n += 1;
        }
    }
    n
}

fn select(c: &mut Criterion) {
    let head = build();
    let m = |op, n: &str, v: &str| Matcher::new(op, n, v).unwrap();
    let cases = [
        (
            1usize,
            vec![
                m(MatchOp::Eq, "__name__", "node_cpu_seconds_total"),
                m(MatchOp::Eq, "instance", "host-00042:9100"),
                m(MatchOp::Eq, "cpu", "3"),
                m(MatchOp::Eq, "mode", "idle"),
            ],
        ),
        (1_000, vec![m(MatchOp::Re, "instance", "host-0000.*")]),
        (100_000, vec![m(MatchOp::Eq, "job", "node")]),
    ];
    let last_t = fixture::T0 + (SAMPLES - 1) * fixture::SCRAPE_MS;
    let mut g = c.benchmark_group("tsdb/select");
    for (n, ms) in &cases {
        assert_eq!(consume(&head, ms, i64::MIN), n * SAMPLES as usize);
        g.throughput(Throughput::Elements(*n as u64));
        g.bench_function(BenchmarkId::new("all_samples", n), |b| b.iter(|| consume(&head, ms, i64::MIN)));
        g.bench_function(BenchmarkId::new("last_5m", n), |b| b.iter(|| consume(&head, ms, last_t - 300_000)));
    }
    g.finish();
    drop(head);

    let dir = tempfile::tempdir().unwrap();
    let db = build_db(dir.path());
    let mut g = c.benchmark_group("tsdb/select_db");
    for (n, ms) in &cases {
        assert_eq!(consume_from(&db.querier(), ms, i64::MIN), n * SAMPLES as usize);
        g.throughput(Throughput::Elements(*n as u64));
        g.bench_function(BenchmarkId::new("all_samples", n), |b| b.iter(|| consume_from(&db.querier(), ms, i64::MIN)));
    }
    g.finish();
}

criterion_group!(benches, select);
criterion_main!(benches);
