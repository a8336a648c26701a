//! `tsdb/db_append`: durable appends per second through `Db` with `FsyncMode::Always`
//! on the real file system: each commit is one WAL batch and one (shared) fsync,
//! then applied to the head. Batches of 1k and 10k samples over 10k series, one and
//! two threads; each thread owns half the series, passes cached refs, and commits.
//! A 100k-sample batch (ten samples of each series, as one large remote_write
//! request or many targets committing together) on one thread. The `no_fsync`
//! cases run the same commits with the WAL's fsync moved to a background
//! interval, to show the CPU side alone; they are not a durable mode.

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use wk_model::{Labels, Sample};
use wk_storage::{Appender, SeriesRef};
use wk_tsdb::{Db, DbOptions};
use wk_wal::FsyncMode;

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
    fn new(fsync: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut options = DbOptions::default();
        if !fsync {
            options.wal.fsync = FsyncMode::Interval(Duration::from_secs(3600));
        }
        let (db, _) = Db::open(dir.path(), options).unwrap();
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
    let cases = [
        (1_000usize, 1usize, true),
        (1_000, 2, true),
        (10_000, 1, true),
        (10_000, 2, true),
        (100_000, 1, true),
        (10_000, 1, false),
        (100_000, 1, false),
    ];
    for (batch, threads, fsync) in cases {
        let mut setup = Setup::new(fsync);
        group.throughput(Throughput::Elements((batch * threads) as u64));
        let name = if fsync { format!("batch_{batch}") } else { format!("batch_{batch}_no_fsync") };
        let id = BenchmarkId::new(name, format!("{threads}_threads"));
        group.bench_function(id, |b| b.iter_custom(|iters| setup.run(threads, batch, iters)));
        let stats = setup.db.stats();
        eprintln!(
            "batch {batch}, {threads} threads, fsync {fsync}: {} fsyncs, {:.2} ms mean fsync, {} WAL bytes/sample",
            stats.wal_fsyncs,
            stats.wal_fsync_seconds * 1e3 / stats.wal_fsyncs.max(1) as f64,
            stats.wal_bytes_written / stats.samples_appended.max(1),
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
