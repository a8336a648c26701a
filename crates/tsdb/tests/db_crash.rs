//! Crash test of the durable database with a real process and `SIGKILL`.
//!
//! The test binary re-executes itself as a child running only this test (selected
//! by the `WK_TSDB_CRASH_CHILD` variable). The child opens a `Db` on a temporary
//! directory and appends from several threads, each owning a quarter of a few
//! hundred series; after each commit returns `Ok` it prints `ack <batch id>`. The
//! parent kills it at a random moment, reopens the database, and checks that every
//! acknowledged sample (of this and all earlier rounds) is present exactly once
//! with its value, bit for bit, and that nothing else is there except samples the
//! child attempted, with the values it wrote.
//!
//! 50 rounds by default; `WK_SOAK=1` runs 500.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::Rng;
use wk_model::{Labels, STALE_NAN, Sample};
use wk_storage::{Appender, Querier};
use wk_tsdb::{Db, DbOptions};
use wk_wal::WalOptions;

const CHILD_ENV: &str = "WK_TSDB_CRASH_CHILD";
const START_ENV: &str = "WK_TSDB_CRASH_START";
const THREADS: u64 = 4;
const SERIES_PER_THREAD: u64 = 60;
const SERIES_PER_BATCH: u64 = 20;

/// Blocks of 4096 ms (batch ids are timestamps), so that the child's maintenance
/// thread cuts blocks, checkpoints the WAL and compacts while it is killed.
fn options() -> DbOptions {
    DbOptions {
        wal: WalOptions { segment_size: 1 << 20, ..WalOptions::default() },
        block_range_ms: 4096,
        retention_ms: 0,
        ..DbOptions::default()
    }
}

fn labels(series: u64) -> Labels {
    Labels::from_pairs([("__name__", "crash_test"), ("series", &format!("{series:03}"))]).unwrap()
}

/// The series batch `id` writes to: part of the series of thread `id % THREADS`.
fn series_of(id: u64) -> impl Iterator<Item = u64> {
    let thread = id % THREADS;
    let first = (id / THREADS * 13) % SERIES_PER_THREAD;
    (0..SERIES_PER_BATCH).map(move |m| thread + THREADS * ((first + m) % SERIES_PER_THREAD))
}

/// Batch `id` writes timestamp `id` (ms); the value depends on batch and series.
fn value(id: u64, series: u64) -> f64 {
    if (id + series).is_multiple_of(11) { STALE_NAN } else { (id * 1000 + series) as f64 + 0.25 }
}

fn child(dir: &Path, start: u64) {
    let (db, _) = Db::open(dir, options()).expect("child opens db");
    std::thread::scope(|s| {
        let db = &db;
        s.spawn(move || {
            loop {
                // Failures are retried; the parent checks that nothing is lost.
                let _ = db.maintain();
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        });
        for thread in 0..THREADS {
            s.spawn(move || {
                let mut app = db.appender();
                let stdout = std::io::stdout();
                for i in 0.. {
                    let id = start + thread + THREADS * i;
                    let mut rejected = false;
                    for series in series_of(id) {
                        match app.append(None, &labels(series), Sample::new(id as i64, value(id, series))) {
                            Ok(_) => {}
                            // A thread that lags behind a cut block: never acknowledged.
                            Err(wk_storage::AppendError::OutOfBounds) => rejected = true,
                            Err(e) => panic!("append: {e}"),
                        }
                    }
                    if rejected {
                        app.rollback();
                        continue;
                    }
                    let summary = app.commit().expect("commit");
                    if summary.rejected.iter().any(|(e, _)| *e == wk_storage::AppendError::OutOfBounds) {
                        continue;
                    }
                    assert_eq!(summary.appended, SERIES_PER_BATCH, "batch {id}: {summary:?}");
                    let mut out = stdout.lock();
                    writeln!(out, "ack {id}").and_then(|()| out.flush()).expect("child stdout");
                }
            });
        }
    });
}

/// Reopens the database and checks it against every acknowledged batch id (all
/// rounds so far); returns
/// the highest batch id present.
fn verify(dir: &Path, acked: &[u64], acked_this_round: bool, round: usize) -> u64 {
    let (db, report) = Db::open(dir, options()).expect("reopen after kill");
    assert_eq!(report.samples_without_series + report.undecodable_records, 0, "round {round}: {report:?}");
    assert_eq!(report.replay.corrupt_records, 0, "round {round}: {report:?}");
    let mut present: BTreeMap<u64, BTreeMap<u64, u64>> = BTreeMap::new();
    let mut highest = 0;
    for series in db.querier().select(&[], i64::MIN, i64::MAX).expect("select") {
        let series = series.expect("series");
        let s: u64 = series.labels.get("series").and_then(|v| v.parse().ok()).expect("series label");
        let mut last = None;
        for sample in series.samples {
            assert!(last.is_none_or(|l| l < sample.t), "round {round}: series {s} duplicate/unsorted at {}", sample.t);
            last = Some(sample.t);
            let id = sample.t as u64;
            assert!(series_of(id).any(|x| x == s), "round {round}: series {s} has a sample of a foreign batch {id}");
            assert_eq!(sample.v.to_bits(), value(id, s).to_bits(), "round {round}: series {s} batch {id} wrong value");
            present.entry(id).or_default().insert(s, sample.v.to_bits());
            highest = highest.max(id);
        }
    }
    for &id in acked {
        let got = present.get(&id).map_or(0, BTreeMap::len) as u64;
        assert_eq!(got, SERIES_PER_BATCH, "round {round}: acknowledged batch {id} has {got} samples");
    }
    // A child killed before its open removed the marker leaves a clean state.
    if acked_this_round {
        assert!(report.unclean_shutdown, "round {round}: kill must be reported as unclean");
    }
    db.close().expect("close");
    highest
}

fn parent() {
    let rounds = if std::env::var_os("WK_SOAK").is_some() { 500 } else { 50 };
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("current exe");
    let mut rng = rand::rng();
    let mut start = THREADS;
    let mut all_acked: Vec<u64> = Vec::new();
    let started = Instant::now();
    for round in 0..rounds {
        let mut child = Command::new(&exe)
            .args(["--exact", "kill_nine_rounds", "--nocapture", "--test-threads", "1"])
            .env(CHILD_ENV, dir.path())
            .env(START_ENV, start.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("child stdout");
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| l.strip_prefix("ack ").and_then(|n| n.parse::<u64>().ok()))
                .collect::<Vec<u64>>()
        });
        std::thread::sleep(Duration::from_millis(rng.random_range(20..200)));
        child.kill().expect("SIGKILL child");
        let status = child.wait().expect("wait child");
        let acked = reader.join().expect("reader thread");
        assert!(!status.success(), "round {round}: child exited on its own: {status}");
        all_acked.extend(&acked);
        let highest = verify(dir.path(), &all_acked, !acked.is_empty(), round);
        let top = highest.max(all_acked.iter().copied().max().unwrap_or(0)).max(start);
        start = (top / THREADS + 1) * THREADS;
    }
    // The child's maintenance ran while it was killed: blocks exist.
    let blocks = std::fs::read_dir(dir.path().join("blocks"))
        .expect("blocks directory")
        .filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".wkb")))
        .count();
    assert!(blocks > 0 || start < 3 * 4096, "no block was cut in {start} batches");
    println!(
        "db crash test: {rounds} rounds, {blocks} blocks, {} acknowledged batches ({} samples) verified in {:.1?}",
        all_acked.len(),
        all_acked.len() as u64 * SERIES_PER_BATCH,
        started.elapsed()
    );
    assert!(!all_acked.is_empty(), "the child never acknowledged anything");
}

/// One test: as the parent it runs the rounds; as a child (re-executed with
/// `--exact kill_nine_rounds` and the child variable set) it appends until killed.
#[test]
fn kill_nine_rounds() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        let start = std::env::var(START_ENV).ok().and_then(|s| s.parse().ok()).unwrap_or(THREADS);
        child(Path::new(&dir), start);
        return;
    }
    parent();
}
