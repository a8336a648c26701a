//! `tsdb/db_append`: durable appends per second through `Db` with `FsyncMode::Always`
//! on the real file system: each commit is one WAL batch and one (shared) fsync,
//! then applied to the head. Batches of 1k and 10k samples over 10k series, one and
//! two threads; each thread owns half the series, passes cached refs, and commits.

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use wk_model::{Labels, Sample};
use wk_storage::{Appender, SeriesRef};
use wk_tsdb::{Db, DbOptions};

#[path = "fixture/node_exporter.rs"]
mod fixture;

const SERIES: usize = 10_000;

struct Setup {
    _dir: tempfile::TempDir,
    db: Db,
    labels: Vec<Labels>,
    refs: Vec<SeriesRef>,
    /// Next timestamp per thread (threads own disjoint series).
    next_t: [i64; 2],
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = Db::open(dir.path(), DbOptions::default()).unwrap();
        let labels = fixture::series(SERIES);
        let mut app = db.appender();
        let refs = labels.iter().map(|l| app.append(None, l, Sample::new(fixture::T0, 0.0)).unwrap()).collect();
        app.commit().unwrap();
        drop(app);
        Self { _dir: dir, db, labels, refs, next_t: [fixture::T0 + 1; 2] }
    }

    /// Runs `iters` commits of `batch` samples on each of `threads` threads and
    /// returns the wall time.
    fn run(&mut self, threads: usize, batch: usize, iters: u64) -> Duration {
        let per = SERIES / threads;
        let started = Instant::now();
        std::thread::scope(|s| {
            for (part, next_t) in self.next_t.iter_mut().take(threads).enumerate() {
                let (db, labels, refs) = (&self.db, &self.labels[part * per..][..per], &self.refs[part * per..][..per]);
                s.spawn(move || {
                    let mut app = db.appender();
                    for _ in 0..iters {
                        for j in 0..batch {
                            let (i, t) = (j % per, *next_t + (j / per) as i64);
                            let v = t as f64 * 0.5 + i as f64;
                            app.append(Some(refs[i]), &labels[i], Sample::new(t, v)).unwrap();
                        }
                        *next_t += batch.div_ceil(per) as i64;
                        app.commit().unwrap();
                    }
                });
            }
        });
        started.elapsed()
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("tsdb/db_append");
    for batch in [1_000usize, 10_000] {
        for threads in [1usize, 2] {
            let mut setup = Setup::new();
            group.throughput(Throughput::Elements((batch * threads) as u64));
            let id = BenchmarkId::new(format!("batch_{batch}"), format!("{threads}_threads"));
            group.bench_function(id, |b| b.iter_custom(|iters| setup.run(threads, batch, iters)));
            let stats = setup.db.stats();
            eprintln!(
                "batch {batch}, {threads} threads: {} fsyncs, {:.2} ms mean fsync, {} WAL bytes/sample",
                stats.wal_fsyncs,
                stats.wal_fsync_seconds * 1e3 / stats.wal_fsyncs.max(1) as f64,
                stats.wal_bytes_written / stats.samples_appended.max(1),
            );
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
