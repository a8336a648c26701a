//! Crash test with a real process and `SIGKILL`.
//!
//! The test binary re-executes itself as a child running only this test (selected
//! by the `WK_WAL_CRASH_CHILD` variable). The child appends batches with
//! `FsyncMode::Always` on the real file system and prints `ack <id>` after
//! each acknowledged batch. The parent kills it at a random moment, reopens
//! the log and checks that every acknowledged batch is present exactly once
//! and complete, and that nothing appears twice or out of order.
//!
//! 50 rounds by default; `WK_SOAK=1` runs 500.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use wk_wal::{FsyncMode, RealFs, Wal, WalOptions};

const CHILD_ENV: &str = "WK_WAL_CRASH_CHILD";
const START_ENV: &str = "WK_WAL_CRASH_START";

fn options() -> WalOptions {
    WalOptions { segment_size: 64 << 10, max_record_size: 1 << 16, fsync: FsyncMode::Always }
}

fn records_in(id: u64) -> usize {
    (id % 4) as usize + 1
}

fn record(id: u64, index: usize) -> Vec<u8> {
    let mut r = id.to_le_bytes().to_vec();
    r.push(index as u8);
    r.extend(std::iter::repeat_n((id as u8) ^ (index as u8), (id % 300) as usize));
    r
}

fn child(dir: &str, start: u64) {
    let (wal, _) = Wal::open(Arc::new(RealFs::new()), dir, options()).expect("child opens WAL");
    let stdout = std::io::stdout();
    for id in start.. {
        let batch: Vec<Vec<u8>> = (0..records_in(id)).map(|i| record(id, i)).collect();
        let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
        wal.append(&refs).expect("child append");
        let mut out = stdout.lock();
        writeln!(out, "ack {id}").and_then(|()| out.flush()).expect("child stdout");
    }
}

/// Replays the log and checks it against the acknowledged ids; returns the
/// highest id seen.
fn verify(dir: &Path, acked: &[u64]) -> u64 {
    let mut seen: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    let mut order = Vec::new();
    let (wal, report) = Wal::open_with(Arc::new(RealFs::new()), dir, options(), |r| {
        let id = u64::from_le_bytes(r.payload[..8].try_into().expect("id"));
        let index = r.payload[8] as usize;
        assert_eq!(r.payload, record(id, index), "record {id}/{index} damaged");
        seen.entry(id).or_default().push(index);
        order.push((id, index));
    })
    .expect("reopen after kill");
    drop(wal);
    assert_eq!(report.corrupt_records, 0, "{report:?}");
    assert!(order.windows(2).all(|w| w[0] < w[1]), "records out of order or duplicated");
    for (id, indexes) in &seen {
        let prefix: Vec<usize> = (0..indexes.len()).collect();
        assert_eq!(indexes, &prefix, "batch {id} is not a prefix");
    }
    for id in acked {
        let got = seen.get(id).map_or(0, Vec::len);
        assert_eq!(got, records_in(*id), "acknowledged batch {id} has {got} records");
    }
    seen.keys().last().copied().unwrap_or(0)
}

fn parent() {
    let rounds = if std::env::var_os("WK_SOAK").is_some() { 500 } else { 50 };
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("current exe");
    let mut rng = rand::rng();
    let mut next_id = 1u64;
    let mut total_acked = 0usize;
    let started = Instant::now();
    for round in 0..rounds {
        let mut child = Command::new(&exe)
            .args(["--exact", "kill_nine_rounds", "--nocapture", "--test-threads", "1"])
            .env(CHILD_ENV, dir.path())
            .env(START_ENV, next_id.to_string())
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
        std::thread::sleep(Duration::from_millis(rng.random_range(10..150)));
        child.kill().expect("SIGKILL child");
        let status = child.wait().expect("wait child");
        let acked = reader.join().expect("reader thread");
        assert!(!status.success(), "round {round}: child exited on its own: {status}");
        let highest = verify(dir.path(), &acked);
        total_acked += acked.len();
        next_id = highest.max(acked.last().copied().unwrap_or(0)).max(next_id) + 1;
    }
    println!("crash test: {rounds} rounds, {total_acked} acknowledged batches verified in {:.1?}", started.elapsed());
}

/// One test: as the parent it runs the rounds; as a child (re-executed with
/// `--exact kill_nine_rounds` and the child variable set) it appends until killed.
#[test]
fn kill_nine_rounds() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        let start = std::env::var(START_ENV).ok().and_then(|s| s.parse().ok()).unwrap_or(1);
        child(&dir.to_string_lossy(), start);
        return;
    }
    parent();
}
