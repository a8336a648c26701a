//! Durability tests on the simulated disk: power cuts with torn writes, failing
//! writes, and damaged segment files. The real-process `kill -9` test is in
//! `tests/db_crash.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use proptest::prelude::*;
use wk_model::{Labels, STALE_NAN, Sample};
use wk_storage::{AppendError, Appender, Querier};
use wk_wal::record::{Frame, decode as decode_frame, frame_len};
use wk_wal::segment::{SEGMENT_HEADER_LEN, parse_segment_name, segment_path};
use wk_wal::{FsyncMode, SimFs, WalFs, WalOptions};

use super::wal_records::{self, WalRecord};
use super::*;

const DIR: &str = "/data";
const SERIES: usize = 12;

fn options() -> DbOptions {
    let wal = WalOptions { segment_size: 4096, max_record_size: 1 << 20, fsync: FsyncMode::Always };
    // Small blocks, so that the property tests below cut, checkpoint and
    // compact many times; no retention, so every acknowledged sample stays.
    DbOptions { head: HeadOptions::default(), wal, block_range_ms: 16, retention_ms: 0, retention_bytes: 0 }
}

fn labels(i: usize) -> Labels {
    Labels::from_pairs([("__name__", "m"), ("i", &i.to_string()), ("job", "test")]).unwrap()
}

/// The value the tests write at `(series, t)`: deterministic, with stale markers
/// and NaN payloads mixed in so that bit-exactness is checked.
fn value(i: usize, t: i64) -> f64 {
    match t % 7 {
        0 => STALE_NAN,
        1 => f64::from_bits(0x7ff8_0000_0000_0000 | (i as u64) << 8 | 1),
        _ => (i as f64) * 1000.0 + t as f64 / 3.0,
    }
}

type Dump = BTreeMap<Labels, Vec<(i64, u64)>>;

/// Reads every sample of the database, checking strictly increasing timestamps.
fn dump(db: &Db) -> Dump {
    let q = db.querier();
    let mut out = Dump::new();
    for series in q.select(&[], i64::MIN, i64::MAX).unwrap() {
        let series = series.unwrap();
        let samples: Vec<(i64, u64)> = series.samples.iter().map(|s| (s.t, s.v.to_bits())).collect();
        assert!(samples.windows(2).all(|w| w[0].0 < w[1].0), "duplicate or unsorted samples in {}", series.labels);
        out.insert(series.labels, samples);
    }
    out
}

fn open(fs: &SimFs) -> (Db, OpenReport) {
    Db::open_with_fs(Arc::new(fs.clone()), Path::new(DIR), options()).expect("open never fails on a simulated disk")
}

#[test]
fn commit_close_reopen_keeps_everything_and_reports_clean_shutdown() {
    let fs = SimFs::new();
    let (db, report) = open(&fs);
    assert!(!report.unclean_shutdown, "a new directory is not an unclean shutdown");
    let mut app = db.appender();
    for t in 0..50 {
        for i in 0..SERIES {
            app.append(None, &labels(i), Sample::new(t, value(i, t))).unwrap();
        }
        assert_eq!(app.commit().unwrap().appended, SERIES as u64);
    }
    drop(app);
    let before = dump(&db);
    let stats = db.stats();
    assert_eq!((stats.head_series, stats.samples_appended), (SERIES as u64, 50 * SERIES as u64));
    assert!(stats.wal_fsyncs >= 50 && stats.wal_bytes_written > 0);
    db.close().unwrap();

    let (db, report) = open(&fs);
    assert!(!report.unclean_shutdown);
    assert_eq!((report.series, report.samples), (SERIES as u64, 50 * SERIES as u64));
    assert_eq!(dump(&db), before);
    // A second life writes new refs; a third open must map both epochs right.
    let mut app = db.appender();
    app.append(None, &labels(100), Sample::new(1, 1.0)).unwrap();
    app.append(None, &labels(3), Sample::new(50, 2.0)).unwrap();
    app.commit().unwrap();
    drop(app);
    let before = dump(&db);
    drop(db);
    let (db, report) = open(&fs);
    assert!(report.unclean_shutdown, "drop without close is unclean");
    assert_eq!(dump(&db), before);
    assert_eq!(report.samples_without_series + report.undecodable_records, 0);
}

#[test]
fn failed_wal_write_is_unavailable_and_invisible() {
    let fs = SimFs::new();
    let (db, _) = open(&fs);
    let mut app = db.appender();
    app.append(None, &labels(0), Sample::new(1, 1.0)).unwrap();
    app.commit().unwrap();
    fs.fail_writes_after(10);
    app.append(None, &labels(0), Sample::new(2, 2.0)).unwrap();
    app.append(None, &labels(1), Sample::new(2, 2.0)).unwrap();
    let err = app.commit().unwrap_err();
    assert!(matches!(err, AppendError::Unavailable { .. }) && err.is_retryable(), "{err:?}");
    assert!(app.is_empty(), "a failed commit discards the batch");
    let visible = dump(&db);
    assert_eq!(visible.values().flatten().count(), 1, "{visible:?}");
    // Further commits fail too, without panicking, until the disk comes back.
    app.append(None, &labels(0), Sample::new(3, 3.0)).unwrap();
    assert!(app.commit().unwrap_err().is_retryable());
    drop(app);
    fs.power_cut(1, true);
    drop(db);
    let (db, report) = open(&fs);
    assert!(report.unclean_shutdown);
    assert_eq!(dump(&db).get(&labels(0)).map(|s| s[0]), Some((1, 1.0f64.to_bits())));
}

/// A [`SimFs`] whose fsyncs take a while, so that concurrent commits share them
/// and wake together, racing to apply.
#[derive(Debug)]
struct SlowSyncFs(SimFs);

#[derive(Debug)]
struct SlowSyncFile(Arc<dyn wk_wal::WalFile>);

impl wk_wal::WalFile for SlowSyncFile {
    fn write_all(&self, buf: &[u8]) -> std::io::Result<()> {
        self.0.write_all(buf)
    }

    fn sync_data(&self) -> std::io::Result<()> {
        std::thread::sleep(std::time::Duration::from_micros(300));
        self.0.sync_data()
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.0.set_len(len)
    }
}

impl WalFs for SlowSyncFs {
    fn create_dir_all(&self, dir: &Path) -> std::io::Result<()> {
        self.0.create_dir_all(dir)
    }
    fn create(&self, path: &Path) -> std::io::Result<Arc<dyn wk_wal::WalFile>> {
        Ok(Arc::new(SlowSyncFile(self.0.create(path)?)))
    }
    fn open_append(&self, path: &Path) -> std::io::Result<Arc<dyn wk_wal::WalFile>> {
        Ok(Arc::new(SlowSyncFile(self.0.open_append(path)?)))
    }
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        self.0.read(path)
    }
    fn read_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read_at(path, offset, buf)
    }
    fn file_len(&self, path: &Path) -> std::io::Result<u64> {
        self.0.file_len(path)
    }
    fn list_dir(&self, dir: &Path) -> std::io::Result<Vec<wk_wal::DirEntry>> {
        self.0.list_dir(dir)
    }
    fn remove_file(&self, path: &Path) -> std::io::Result<()> {
        self.0.remove_file(path)
    }
    fn remove_dir_all(&self, dir: &Path) -> std::io::Result<()> {
        self.0.remove_dir_all(dir)
    }
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        self.0.rename(from, to)
    }
    fn set_len(&self, path: &Path, len: u64) -> std::io::Result<()> {
        self.0.set_len(path, len)
    }
    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        self.0.sync_dir(dir)
    }
}

#[test]
fn concurrent_appenders_replay_to_the_same_head() {
    let fs = SimFs::new();
    let slow = Arc::new(SlowSyncFs(fs.clone()));
    let (db, _) = Db::open_with_fs(slow, Path::new(DIR), options()).unwrap();
    std::thread::scope(|s| {
        for thread in 0..4u64 {
            let db = &db;
            s.spawn(move || {
                let mut app = db.appender();
                for round in 0..100i64 {
                    for i in 0..SERIES {
                        // Threads race on the same series and timestamps, so commits
                        // reject some samples late; replay must reject the same ones.
                        let t = round * 2 + (thread as i64 % 2);
                        let _ = app.append(None, &labels(i), Sample::new(t, thread as f64));
                    }
                    app.commit().unwrap();
                }
            });
        }
    });
    let before = dump(&db);
    drop(db);
    let (db, report) = open(&fs);
    assert_eq!(dump(&db), before, "replay must reproduce the head exactly");
    assert_eq!(report.samples_without_series, 0);
}

#[derive(Debug, Clone)]
enum Op {
    /// Commit one sample for each listed series.
    Commit(Vec<usize>),
    /// The disk fails after this many more bytes, until the next power cut.
    FailAfter(u16),
    /// Power cut with this seed, tearing unsynced tails or not.
    Cut(u64, bool),
    /// Cut blocks, checkpoint the WAL, compact.
    Maintain,
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => proptest::collection::vec(0..SERIES, 1..8).prop_map(Op::Commit),
        1 => (0u16..400).prop_map(Op::FailAfter),
        2 => (any::<u64>(), any::<bool>()).prop_map(|(s, t)| Op::Cut(s, t)),
        2 => Just(Op::Maintain),
    ]
}

/// Checks the reopened database against the acknowledged samples: each present
/// exactly once with its value; anything else present must be an attempted
/// (unacknowledged) sample with the value the test wrote.
fn check_after_cut(db: &Db, acked: &BTreeMap<usize, BTreeSet<i64>>, next_t: &[i64]) -> Result<(), TestCaseError> {
    // With retention on, data below the oldest block left (or below the
    // head's bound when retention removed every block) may be gone; nothing
    // at or above it may be.
    let retained_from = if db.options().retention_ms > 0 || db.options().retention_bytes > 0 {
        db.blocks().first().map_or(db.head().min_valid(), |b| b.meta().mint)
    } else {
        i64::MIN
    };
    let got = dump(db);
    for (&i, ts) in acked {
        let series = got.get(&labels(i)).map(Vec::as_slice).unwrap_or_default();
        let present: BTreeMap<i64, u64> = series.iter().copied().collect();
        for &t in ts.iter().filter(|&&t| t >= retained_from) {
            prop_assert_eq!(present.get(&t).copied(), Some(value(i, t).to_bits()), "series {} t {} lost", i, t);
        }
    }
    for (i, &next) in next_t.iter().enumerate() {
        for &(t, bits) in got.get(&labels(i)).map(Vec::as_slice).unwrap_or_default() {
            prop_assert!(t < next && bits == value(i, t).to_bits(), "series {} has unknown sample {}", i, t);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if std::env::var_os("WK_SOAK").is_some() { 1000 } else { 48 },
        ..ProptestConfig::default()
    })]

    #[test]
    fn power_cuts_never_lose_acknowledged_samples(ops in proptest::collection::vec(arb_op(), 1..40)) {
        power_cut_case(ops, options())?;
    }

    /// The same with retention by time and by size running in the maintenance.
    #[test]
    fn power_cuts_and_retention_never_lose_retained_samples(ops in proptest::collection::vec(arb_op(), 1..40)) {
        power_cut_case(ops, DbOptions { retention_ms: 20, retention_bytes: 6000, ..options() })?;
    }
}

fn power_cut_case(ops: Vec<Op>, opts: DbOptions) -> Result<(), TestCaseError> {
    let open = |fs: &SimFs| {
        Db::open_with_fs(Arc::new(fs.clone()), Path::new(DIR), opts.clone())
            .expect("open never fails on a simulated disk")
    };
    {
        let fs = SimFs::new();
        let (mut db, _) = open(&fs);
        let mut acked: BTreeMap<usize, BTreeSet<i64>> = BTreeMap::new();
        let mut next_t = vec![0i64; SERIES];
        for op in ops.into_iter().chain([Op::Cut(0, true)]) {
            match op {
                Op::Commit(series) => {
                    let mut app = db.appender();
                    let mut batch = Vec::new();
                    for i in series {
                        let t = next_t[i];
                        next_t[i] += 1;
                        match app.append(None, &labels(i), Sample::new(t, value(i, t))) {
                            Ok(_) => batch.push((i, t)),
                            // A lagging series fell below a cut block's end.
                            Err(AppendError::OutOfBounds) => {
                                next_t[i] = next_t[i].max(db.head().min_valid());
                            }
                            Err(e) => prop_assert!(false, "unexpected rejection {:?}", e),
                        }
                    }
                    match app.commit() {
                        Ok(summary) => {
                            prop_assert_eq!(summary.appended, batch.len() as u64);
                            for (i, t) in batch {
                                acked.entry(i).or_default().insert(t);
                            }
                        }
                        Err(e) => prop_assert!(e.is_retryable(), "{:?}", e),
                    }
                }
                Op::FailAfter(bytes) => fs.fail_writes_after(u64::from(bytes)),
                // Failures (the simulated disk failing writes) are retried later;
                // they must never cost an acknowledged sample.
                Op::Maintain => drop(db.maintain()),
                Op::Cut(seed, tear) => {
                    fs.power_cut(seed, tear);
                    drop(db);
                    let (reopened, report) = open(&fs);
                    prop_assert!(report.unclean_shutdown);
                    prop_assert_eq!(report.samples_without_series, 0);
                    check_after_cut(&reopened, &acked, &next_t)?;
                    db = reopened;
                }
            }
        }
        db.close().unwrap();
        let (db, report) = open(&fs);
        prop_assert!(!report.unclean_shutdown);
        check_after_cut(&db, &acked, &next_t)?;
    }
    Ok(())
}

/// One WAL frame as written: segment, offset, frame length and payload.
type FrameAt = (u64, usize, usize, Vec<u8>);

/// Writes a few hundred commits (new series now and then) over several small
/// segments, closes the database, and returns every frame on disk.
fn written_wal(fs: &SimFs) -> Vec<FrameAt> {
    let (db, _) = open(fs);
    let mut app = db.appender();
    for t in 0..200i64 {
        for i in 0..(t as usize / 10 + 1).min(SERIES) {
            app.append(None, &labels(i), Sample::new(t, value(i, t))).unwrap();
        }
        app.commit().unwrap();
    }
    drop(app);
    db.close().unwrap();
    let mut frames = Vec::new();
    for n in segments(fs) {
        let buf = fs.contents(&segment_path(&wal_dir(), n)).unwrap();
        let mut pos = SEGMENT_HEADER_LEN;
        while let Frame::Valid { payload, len } = decode_frame(&buf, pos, 1 << 20) {
            frames.push((n, pos, len, payload.to_vec()));
            pos += len;
        }
        assert_eq!(pos, buf.len(), "segment {n} fully framed");
    }
    frames
}

fn wal_dir() -> PathBuf {
    Path::new(DIR).join("wal")
}

fn segments(fs: &SimFs) -> Vec<u64> {
    let mut n: Vec<u64> = fs.list_dir(&wal_dir()).unwrap().iter().filter_map(|e| parse_segment_name(&e.name)).collect();
    n.sort_unstable();
    n
}

/// The samples that intact `frames` must give after replay, by series index.
fn expected_from(frames: &[&FrameAt]) -> BTreeMap<Labels, BTreeSet<(i64, u64)>> {
    let mut refs: BTreeMap<(u64, u32), Labels> = BTreeMap::new();
    let mut out: BTreeMap<Labels, BTreeSet<(i64, u64)>> = BTreeMap::new();
    for (_, _, _, payload) in frames {
        match wal_records::decode(payload).unwrap() {
            WalRecord::Series { epoch, series } => refs.extend(series.into_iter().map(|(r, l)| ((epoch, r), l))),
            WalRecord::Samples { epoch, samples } => {
                for s in samples {
                    if let Some(l) = refs.get(&(epoch, s.r)) {
                        out.entry(l.clone()).or_default().insert((s.t, s.v.to_bits()));
                    }
                }
            }
            WalRecord::Deletions { .. } => panic!("this test writes no deletions"),
        }
    }
    out
}

fn as_sets(d: Dump) -> BTreeMap<Labels, BTreeSet<(i64, u64)>> {
    d.into_iter().map(|(l, s)| (l, s.into_iter().collect())).collect()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if std::env::var_os("WK_SOAK").is_some() { 500 } else { 24 },
        ..ProptestConfig::default()
    })]

    /// Bit flips and truncations in segment files between runs: open never fails
    /// or panics, reports the damage, and keeps every intact record.
    #[test]
    fn damaged_segments_keep_every_intact_record(pick in any::<usize>(), at in any::<usize>(), flip in 1u8..=255, truncate: bool) {
        let fs = SimFs::new();
        let frames = written_wal(&fs);
        let with_data: Vec<u64> = frames.iter().map(|f| f.0).collect::<BTreeSet<_>>().into_iter().collect();
        let seg = with_data[pick % with_data.len()];
        let path = segment_path(&wal_dir(), seg);
        let mut bytes = fs.contents(&path).unwrap();
        let pos = SEGMENT_HEADER_LEN + at % (bytes.len() - SEGMENT_HEADER_LEN);
        if truncate {
            bytes.truncate(pos);
        } else {
            bytes[pos] ^= flip;
        }
        fs.overwrite(&path, &bytes).unwrap();
        let intact: Vec<&FrameAt> = frames
            .iter()
            .filter(|(n, off, len, _)| *n != seg || if truncate { off + len <= pos } else { pos < *off || pos >= off + len })
            .collect();
        prop_assert!(intact.len() < frames.len());
        let (db, report) = open(&fs);
        // A segment cut exactly between two frames looks like a shorter segment; the
        // WAL format cannot tell (no segment footer). Any other damage is reported.
        let on_boundary = truncate && frames.iter().any(|f| f.0 == seg && f.1 == pos);
        prop_assert!(on_boundary || report.replay.damage_found(), "{:?}", report.replay);
        prop_assert!(!report.unclean_shutdown, "the database was closed cleanly");
        let expected = expected_from(&intact);
        let got = as_sets(dump(&db));
        for (l, samples) in &expected {
            let have = got.get(l).cloned().unwrap_or_default();
            prop_assert!(samples.is_subset(&have), "intact samples of {} lost", l);
        }
        let all = expected_from(&frames.iter().collect::<Vec<_>>());
        for (l, samples) in &got {
            prop_assert!(all.get(l).is_some_and(|a| samples.is_subset(a)), "unknown samples in {}", l);
        }
        // The database accepts appends after the damage.
        let mut app = db.appender();
        app.append(None, &labels(0), Sample::new(1_000, 1.0)).unwrap();
        app.commit().unwrap();
    }
}

#[test]
fn torn_tail_after_kill_is_truncated_and_reported() {
    let fs = SimFs::new();
    let (db, _) = open(&fs);
    let mut app = db.appender();
    for t in 0..20 {
        app.append(None, &labels(0), Sample::new(t, t as f64)).unwrap();
        app.commit().unwrap();
    }
    drop(app);
    drop(db);
    let last = *segments(&fs).last().unwrap();
    let path = segment_path(&wal_dir(), last);
    let mut bytes = fs.contents(&path).unwrap();
    let cut = bytes.len() - frame_len(0) / 2;
    bytes.truncate(cut);
    fs.overwrite(&path, &bytes).unwrap();
    let (db, report) = open(&fs);
    assert!(report.unclean_shutdown);
    let torn = report.replay.torn_tail.expect("torn tail reported");
    assert_eq!(torn.segment, last);
    let samples = &dump(&db)[&labels(0)];
    assert_eq!(samples.len(), 19, "only the torn last commit is lost");
    assert_eq!(db.stats().wal_truncations, 1);
}

#[test]
fn inline_and_parallel_replay_build_the_same_head() {
    let fs = SimFs::new();
    let (db, _) = open(&fs);
    let mut app = db.appender();
    for t in 0..300i64 {
        for i in 0..SERIES {
            app.append(None, &labels(i), Sample::new(t, value(i, t))).unwrap();
        }
        app.commit().unwrap();
        if t == 150 {
            // A deletion between samples of the same series: replay must apply
            // it after the earlier samples and before the later ones.
            db.delete_series(&[wk_model::Matcher::eq("i", "3")], 20, 140).unwrap();
        }
    }
    drop(app);
    // Two appenders checked against the same committed sample; the second
    // commit rejects its different value late, and replay must reject it again.
    let (mut a, mut b) = (db.appender(), db.appender());
    a.append(None, &labels(1), Sample::new(300, 1.0)).unwrap();
    b.append(None, &labels(1), Sample::new(300, 2.0)).unwrap();
    a.commit().unwrap();
    assert_eq!(b.commit().unwrap().appended, 0);
    drop((a, b));
    let want = dump(&db);
    db.close().unwrap();
    for workers in [0, 1, 3] {
        // Small batches: a series' samples are spread over many batches, each
        // grouped by series on its own.
        for batch in [1, 7, 1000, 1 << 20] {
            let head = Head::new(HeadOptions::default()).unwrap();
            let (opened, counts) = replay::run_with_batch(&head, workers, batch, |replay| {
                wk_wal::Wal::open_with(Arc::new(fs.clone()), wal_dir(), options().wal, |rec| replay.apply(rec.payload))
            });
            drop(opened.unwrap());
            let case = format!("{workers} workers, batch {batch}");
            assert_eq!(counts.samples, 300 * SERIES as u64 + 1, "{case}");
            assert_eq!(counts.samples_rejected, 1, "{case}");
            assert_eq!(dump_head(&head), want, "{case}");
            assert_eq!(head.time_range(), Some((0, 300)), "{case}");
        }
    }
}

fn dump_head(head: &Head) -> Dump {
    let q = head.querier();
    q.select(&[], i64::MIN, i64::MAX)
        .unwrap()
        .map(|s| {
            let s = s.unwrap();
            (s.labels, s.samples.iter().map(|x| (x.t, x.v.to_bits())).collect())
        })
        .collect()
}

/// Commits `SERIES` series at every `t` in `ts` (one commit per timestamp).
fn fill(db: &Db, ts: impl IntoIterator<Item = i64>) {
    let mut app = db.appender();
    for t in ts {
        for i in 0..SERIES {
            app.append(None, &labels(i), Sample::new(t, value(i, t))).unwrap();
        }
        app.commit().unwrap();
    }
}

fn expected(ts: impl IntoIterator<Item = i64> + Clone) -> Dump {
    (0..SERIES).map(|i| (labels(i), ts.clone().into_iter().map(|t| (t, value(i, t).to_bits())).collect())).collect()
}

#[test]
fn head_is_cut_into_blocks_compacted_and_the_wal_truncated() {
    let fs = SimFs::new();
    let (db, _) = open(&fs);
    fill(&db, 0..200);
    let wal_before = db.wal_bytes();
    let report = db.maintain().unwrap();
    // Head spanned 0..200 with 16 ms blocks: cut while it spans 24 ms or more.
    assert!(report.blocks_cut >= 10, "{report:?}");
    assert_eq!(report.checkpoints, report.blocks_cut);
    assert!(report.compactions >= 3, "{report:?}");
    assert!(db.wal_bytes() < wal_before / 4, "WAL {} -> {} bytes", wal_before, db.wal_bytes());
    assert_eq!(dump(&db), expected(0..200));
    // The head lost what blocks hold; blocks are disjoint and sorted.
    let blocks = db.blocks();
    assert!(blocks.windows(2).all(|w| w[0].meta().maxt <= w[1].meta().mint));
    assert!(blocks.iter().any(|b| b.meta().level >= 2), "compaction reaches level 2");
    assert!(db.head().min_valid() >= 160);
    for b in &blocks {
        b.verify().unwrap();
    }
    // Appends below the head's bound are rejected, with Prometheus's reason.
    let mut app = db.appender();
    assert_eq!(app.append(None, &labels(0), Sample::new(5, 1.0)), Err(AppendError::OutOfBounds));
    drop(app);
    let stats = db.stats();
    assert_eq!(stats.blocks, blocks.len() as u64);
    assert!(stats.block_bytes > 0 && stats.compactions >= 3 && stats.checkpoints >= 10);

    // Crash (no clean close) and reopen: blocks plus checkpoint plus WAL.
    fs.power_cut(7, true);
    drop(db);
    let (db, report) = open(&fs);
    assert!(report.unclean_shutdown);
    assert_eq!(report.blocks, blocks.len());
    assert_eq!(report.samples_without_series, 0);
    assert_eq!(dump(&db), expected(0..200));
    // Appending continues where it left off, and the next cut works too.
    fill(&db, 200..260);
    db.maintain().unwrap();
    db.close().unwrap();
    let (db, _) = open(&fs);
    assert_eq!(dump(&db), expected(0..260));
}

#[test]
fn retention_by_time_and_by_size_deletes_oldest_blocks() {
    let fs = SimFs::new();
    let mut opts = options();
    opts.retention_ms = 100;
    let (db, _) = Db::open_with_fs(Arc::new(fs.clone()), Path::new(DIR), opts).unwrap();
    fill(&db, 0..300);
    let report = db.maintain().unwrap();
    assert!(report.deleted_by_time > 0, "{report:?}");
    // Everything older than newest - retention is gone, in whole blocks.
    let oldest = db.blocks().first().unwrap().meta().mint;
    assert!(oldest > 299 - 100 - 16 * 3 && oldest <= 299 - 100, "oldest block starts at {oldest}");
    let got = dump(&db);
    assert!(got.values().all(|s| s.first().unwrap().0 >= oldest));
    assert!(got.values().all(|s| s.last().unwrap().0 == 299));
    drop(db);

    let fs = SimFs::new();
    let mut opts = options();
    opts.retention_ms = 0;
    let (db, _) = Db::open_with_fs(Arc::new(fs.clone()), Path::new(DIR), opts.clone()).unwrap();
    fill(&db, 0..300);
    db.maintain().unwrap();
    let total: u64 = db.blocks().iter().map(|b| b.size_bytes()).sum::<u64>() + db.wal_bytes();
    drop(db);
    opts.retention_bytes = total / 2;
    let (db, _) = Db::open_with_fs(Arc::new(fs.clone()), Path::new(DIR), opts).unwrap();
    let report = db.maintain().unwrap();
    assert!(report.deleted_by_size > 0, "{report:?}");
    let now: u64 = db.blocks().iter().map(|b| b.size_bytes()).sum::<u64>() + db.wal_bytes();
    assert!(now <= total / 2, "{now} bytes left, limit {}", total / 2);
    // The newest data is kept.
    assert!(dump(&db).values().all(|s| s.last().unwrap().0 == 299));
}

#[test]
fn damaged_block_is_quarantined_and_the_rest_served() {
    let fs = SimFs::new();
    let (db, _) = open(&fs);
    fill(&db, 0..100);
    db.maintain().unwrap();
    let victim = db.blocks()[0].path().to_path_buf();
    let victim_range = (db.blocks()[0].meta().mint, db.blocks()[0].meta().maxt);
    db.close().unwrap();
    let mut bytes = fs.read(&victim).unwrap();
    let mid = bytes.len() - 30;
    bytes[mid] ^= 0x40;
    fs.overwrite(&victim, &bytes).unwrap();
    let (db, report) = open(&fs);
    assert_eq!(report.blocks_quarantined.len(), 1, "{report:?}");
    assert!(fs.file_len(&report.blocks_quarantined[0]).is_ok());
    assert_eq!(db.stats().blocks_quarantined, 1);
    let got = dump(&db);
    let want: Vec<i64> = (0..100).filter(|t| *t < victim_range.0 || *t >= victim_range.1).collect();
    assert_eq!(got[&labels(0)].iter().map(|s| s.0).collect::<Vec<_>>(), want);
}

#[test]
fn interrupted_compaction_leaves_no_duplicates() {
    let fs = SimFs::new();
    let (db, _) = open(&fs);
    fill(&db, 0..100);
    db.maintain().unwrap();
    let compacted = db.blocks().into_iter().find(|b| !b.meta().sources.is_empty()).expect("a compacted block");
    db.close().unwrap();
    // Put a source back, as if the crash came between writing the compacted
    // block and removing its sources.
    let (db2, _) = open(&fs);
    drop(db2);
    let source = &compacted.meta().sources[0];
    let fake = Path::new(DIR).join("blocks").join(format!("{source}.wkb"));
    fs.overwrite(&fake, &fs.read(compacted.path()).unwrap()).unwrap();
    let (db, report) = open(&fs);
    assert!(fs.file_len(&fake).is_err(), "superseded block removed");
    assert_eq!(report.blocks, db.blocks().len());
    assert_eq!(dump(&db), expected(0..100));
}

#[test]
fn deleted_series_stay_deleted_across_blocks_compaction_and_restarts() {
    let fs = SimFs::new();
    let (db, _) = open(&fs);
    fill(&db, 0..100);
    db.maintain().unwrap();
    // Spans blocks and the head.
    let victim = [wk_model::Matcher::eq("i", "3")];
    let report = db.delete_series(&victim, 10, 95).unwrap();
    assert!(report.head_series == 1 && report.block_series >= 1, "{report:?}");
    let mut want = expected(0..100);
    want.get_mut(&labels(3)).unwrap().retain(|(t, _)| !(10..=95).contains(t));
    assert_eq!(dump(&db), want);
    // Samples appended after a deletion are not deleted by its replay.
    let mut app = db.appender();
    app.append(None, &labels(3), Sample::new(100, 1.5)).unwrap();
    app.commit().unwrap();
    drop(app);
    want.get_mut(&labels(3)).unwrap().push((100, 1.5f64.to_bits()));
    assert_eq!(dump(&db), want);
    fs.power_cut(3, true);
    drop(db);
    let (db, _) = open(&fs);
    assert_eq!(dump(&db), want, "after a crash");
    // More cuts and compactions keep the deletion.
    fill_from(&db, 101..200, &mut want);
    db.maintain().unwrap();
    db.close().unwrap();
    let (db, _) = open(&fs);
    assert_eq!(dump(&db), want, "after compaction and a clean restart");
}

fn fill_from(db: &Db, ts: std::ops::Range<i64>, want: &mut Dump) {
    fill(db, ts.clone());
    for i in 0..SERIES {
        want.get_mut(&labels(i)).unwrap().extend(ts.clone().map(|t| (t, value(i, t).to_bits())));
    }
}

#[test]
fn series_that_stop_receiving_samples_leave_the_head_after_a_cut() {
    let fs = SimFs::new();
    let mut opts = options();
    opts.head.limits.max_series = SERIES as u64 + 2;
    let (db, _) = Db::open_with_fs(Arc::new(fs.clone()), Path::new(DIR), opts).unwrap();
    let churned = Labels::from_pairs([("__name__", "m"), ("i", "gone"), ("job", "test"), ("pod", "p1")]).unwrap();
    let mut app = db.appender();
    let hint = app.append(None, &churned, Sample::new(0, 1.0)).unwrap();
    app.commit().unwrap();
    drop(app);
    fill(&db, 0..100);
    assert_eq!(db.head().num_series(), SERIES + 1);
    db.maintain().unwrap();
    // The churned series is in a block now and gone from the head's index.
    assert_eq!(db.head().num_series(), SERIES);
    // Its emptied slot is not reported as emptied again by the next truncation.
    assert_eq!(db.head().truncate(db.head().min_valid()), 0);
    assert!(!db.head().querier().label_values("pod", &[]).unwrap().contains(&"p1".to_owned()));
    let q = db.querier();
    assert_eq!(q.label_values("pod", &[]).unwrap(), ["p1"], "blocks still know it");
    let got: Vec<Labels> =
        q.select(&[wk_model::Matcher::eq("pod", "p1")], 0, 1000).unwrap().map(|s| s.unwrap().labels).collect();
    assert_eq!(got, std::slice::from_ref(&churned));
    drop(q);
    // A stale hint is detected: the series is created anew and its sample lands.
    let mut app = db.appender();
    let fresh = app.append(Some(hint), &churned, Sample::new(150, 2.0)).unwrap();
    assert_ne!(fresh, hint);
    // The freed slot counts no more against max_series: two new series fit.
    let extra = Labels::from_pairs([("__name__", "m"), ("i", "new"), ("job", "test")]).unwrap();
    app.append(None, &extra, Sample::new(150, 3.0)).unwrap();
    assert_eq!(app.commit().unwrap().appended, 2);
    drop(app);
    let dumped = dump(&db);
    assert_eq!(dumped[&churned], [(0, 1.0f64.to_bits()), (150, 2.0f64.to_bits())]);
    // And all of it survives a crash and replay.
    fs.power_cut(5, true);
    drop(db);
    let (db, _) = open(&fs);
    assert_eq!(dump(&db), dumped);
}

#[test]
fn pending_samples_keep_a_series_from_being_collected() {
    let fs = SimFs::new();
    let (db, _) = open(&fs);
    let lonely = Labels::from_pairs([("__name__", "lonely")]).unwrap();
    let mut app = db.appender();
    app.append(None, &lonely, Sample::new(0, 1.0)).unwrap();
    app.commit().unwrap();
    fill(&db, 0..100);
    // Buffered but not committed while the cut and GC run.
    let mut late = db.appender();
    late.append(None, &lonely, Sample::new(200, 2.0)).unwrap();
    db.maintain().unwrap();
    assert_eq!(late.commit().unwrap().appended, 1);
    assert_eq!(dump(&db)[&lonely], [(0, 1.0f64.to_bits()), (200, 2.0f64.to_bits())]);
    // A dropped appender releases its pending marks: the series can go later.
    let mut dropped = db.appender();
    dropped.append(None, &labels(0), Sample::new(300, 1.0)).unwrap();
    drop(dropped);
    db.head().with_series(wk_storage::SeriesRef(0), |s| assert_eq!(s.pending, 0));
}

#[test]
fn clean_tombstones_rewrites_blocks_and_snapshots_open_as_databases() {
    let fs = SimFs::new();
    let (db, _) = open(&fs);
    fill(&db, 0..100);
    db.maintain().unwrap();
    db.delete_series(&[wk_model::Matcher::eq("i", "2")], 0, 40).unwrap();
    let mut want = expected(0..100);
    want.get_mut(&labels(2)).unwrap().retain(|(t, _)| *t > 40);
    let bytes_before: u64 = db.blocks().iter().map(|b| b.size_bytes()).sum();
    let rewritten = db.clean_tombstones().unwrap();
    assert!(rewritten >= 1);
    assert!(db.blocks().iter().all(|b| b.tombstones().is_empty()));
    assert!(db.blocks().iter().map(|b| b.size_bytes()).sum::<u64>() < bytes_before);
    let tombstone_files = fs
        .list_dir(&Path::new(DIR).join("blocks"))
        .unwrap()
        .into_iter()
        .filter(|e| e.name.ends_with(".tombstones"))
        .count();
    assert_eq!(tombstone_files, 0);
    assert_eq!(dump(&db), want);
    assert_eq!(db.clean_tombstones().unwrap(), 0, "nothing left to clean");

    // A snapshot with the head is a database of its own with the same data.
    let snap = db.snapshot("s1", false).unwrap();
    let snap_db = Db::open_with_fs(Arc::new(fs.clone()), &snap, options()).unwrap().0;
    assert_eq!(dump(&snap_db), want);
    drop(snap_db);
    // Without the head it holds only what blocks hold.
    let snap = db.snapshot("s2", true).unwrap();
    let snap_db = Db::open_with_fs(Arc::new(fs.clone()), &snap, options()).unwrap().0;
    let head_min = db.head().min_valid();
    let got = dump(&snap_db);
    assert!(got.values().flatten().all(|(t, _)| *t < head_min));
    assert_eq!(got[&labels(0)].len() as i64, head_min);
    drop(snap_db);
    fs.power_cut(9, true);
    drop(db);
    let (db, _) = open(&fs);
    assert_eq!(dump(&db), want, "after a crash");
}

type Selected = Vec<(Labels, Vec<(i64, u64)>)>;

fn take(series: wk_storage::Series) -> (Labels, Vec<(i64, u64)>) {
    (series.labels, series.samples.iter().map(|s| (s.t, s.v.to_bits())).collect())
}

#[test]
fn split_selections_interleave_into_select() {
    let fs = SimFs::new();
    let (db, _) = open(&fs);
    // One series that stops early: its block part exists but is empty in later ranges.
    let early = Labels::from_pairs([("__name__", "m"), ("i", "early"), ("job", "test")]).unwrap();
    let mut app = db.appender();
    app.append(None, &early, Sample::new(5, 1.0)).unwrap();
    app.commit().unwrap();
    drop(app);
    fill(&db, 0..100);
    db.maintain().unwrap();
    fill(&db, 100..130);
    assert!(!db.blocks().is_empty(), "the test needs blocks and a head");
    let q = db.querier();
    let odd = wk_model::Matcher::new(wk_model::MatchOp::Re, "i", "1.*|early").unwrap();
    for (mint, maxt) in [(i64::MIN, i64::MAX), (40, 110), (6, 99), (120, 125), (1000, 2000)] {
        for matchers in [vec![], vec![odd.clone()]] {
            let want: Selected = q.select(&matchers, mint, maxt).unwrap().map(|s| take(s.unwrap())).collect();
            let small = q.select_split(&matchers, mint, maxt, 4, want.len() + 1).unwrap().expect("splits");
            assert_eq!(small.len(), 1, "fewer series than asked per set: one set");
            for n in 1..=4 {
                let mut sets = q.select_split(&matchers, mint, maxt, n, 1).unwrap().expect("the database splits");
                // Candidates are at least the selected series, so n sets when there are n series.
                if want.len() >= n {
                    assert_eq!(sets.len(), n);
                } else {
                    assert!((1..=n).contains(&sets.len()));
                }
                let n = sets.len();
                let mut got: Selected = Vec::new();
                for turn in 0.. {
                    match sets[turn % n].next() {
                        None => break,
                        Some(candidate) => got.extend(candidate.unwrap().map(take)),
                    }
                }
                assert_eq!(got, want, "[{mint}, {maxt}] {matchers:?} in {n} sets");
            }
        }
    }
}
