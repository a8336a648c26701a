//! `wal/append` and `wal/replay` benchmarks on the real file system.
//!
//! - `wal/append/fsync_always/{1,8}_threads`: one 512-byte record per append,
//!   durable on return; with 8 threads, group commit shares fsyncs.
//! - `wal/append/fsync_interval_100ms/1_thread`: same record, fsync in the
//!   background every 100 ms.
//! - `wal/replay/32MiB`: reopening a 32 MiB log of 4 KiB records (MB/s).
//!
//! Run: `cargo bench -p wk-wal --bench wal_append -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wk_wal::{FsyncMode, RealFs, Wal, WalOptions};

const RECORD: [u8; 512] = [0xA5; 512];

fn open(dir: &std::path::Path, fsync: FsyncMode) -> Wal {
    let options = WalOptions { fsync, ..WalOptions::default() };
    Wal::open(Arc::new(RealFs::new()), dir, options).expect("open WAL").0
}

fn append(c: &mut Criterion) {
    let mut group = c.benchmark_group("wal/append");
    group.throughput(Throughput::Elements(1));
    group.sample_size(10);

    let dir = tempfile::tempdir().expect("tempdir");
    let wal = open(dir.path(), FsyncMode::Always);
    group.bench_function("fsync_always/1_thread", |b| {
        b.iter(|| black_box(wal.append(&[&RECORD]).expect("append")));
    });
    drop(wal);

    let dir = tempfile::tempdir().expect("tempdir");
    let wal = Arc::new(open(dir.path(), FsyncMode::Always));
    group.bench_function("fsync_always/8_threads", |b| {
        b.iter_custom(|iters| concurrent_appends(&wal, 8, iters));
    });
    let stats = wal.stats();
    let appends = stats.batches_written.load(Ordering::Relaxed);
    let fsyncs = stats.fsyncs.load(Ordering::Relaxed);
    eprintln!(
        "wal/append/fsync_always/8_threads: {appends} appends shared {fsyncs} fsyncs ({:.1} appends per fsync, mean fsync {:?})",
        appends as f64 / fsyncs.max(1) as f64,
        stats.mean_fsync()
    );
    drop(wal);

    let dir = tempfile::tempdir().expect("tempdir");
    let wal = open(dir.path(), FsyncMode::Interval(Duration::from_millis(100)));
    group.bench_function("fsync_interval_100ms/1_thread", |b| {
        b.iter(|| black_box(wal.append(&[&RECORD]).expect("append")));
    });
    group.finish();
}

/// Runs `iters` appends spread over `threads` threads; returns the wall time.
fn concurrent_appends(wal: &Arc<Wal>, threads: u64, iters: u64) -> Duration {
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let n = iters / threads + u64::from(t < iters % threads);
            s.spawn(move || {
                for _ in 0..n {
                    black_box(wal.append(&[&RECORD]).expect("append"));
                }
            });
        }
    });
    started.elapsed()
}

fn replay(c: &mut Criterion) {
    const TOTAL: usize = 32 << 20;
    let dir = tempfile::tempdir().expect("tempdir");
    let record = vec![0x3Cu8; 4096];
    {
        let wal = open(dir.path(), FsyncMode::Interval(Duration::from_secs(3600)));
        for _ in 0..TOTAL / record.len() {
            wal.append(&[&record]).expect("append");
        }
        wal.close().expect("close");
    }
    let mut group = c.benchmark_group("wal/replay");
    group.throughput(Throughput::Bytes(TOTAL as u64));
    group.sample_size(10);
    group.bench_function("32MiB", |b| {
        b.iter(|| {
            let mut records = 0u64;
            let options = WalOptions::default();
            let (wal, _) = Wal::open_with(Arc::new(RealFs::new()), dir.path(), options, |r| {
                records += black_box(r.payload).len() as u64;
            })
            .expect("replay");
            drop(wal);
            records
        });
    });
    group.finish();
}

criterion_group!(benches, append, replay);
criterion_main!(benches);
