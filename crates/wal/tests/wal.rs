//! Behaviour of the WAL handle: replay order, segment roll, checkpoints,
//! truncation, group commit and option checks.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use wk_wal::{Error, FsyncMode, RealFs, RecordSource, ReplayReport, SimFs, Wal, WalFs, WalOptions};

const DIR: &str = "/data/wal";

fn small() -> WalOptions {
    WalOptions { segment_size: 256, max_record_size: 1024, fsync: FsyncMode::Always }
}

fn reopen(fs: &Arc<SimFs>, options: WalOptions) -> (Wal, Vec<Vec<u8>>, ReplayReport) {
    let mut records = Vec::new();
    let (wal, report) = Wal::open_with(fs.clone(), DIR, options, |r| records.push(r.payload.to_vec())).unwrap();
    (wal, records, report)
}

fn payload(i: usize) -> Vec<u8> {
    format!("record-{i:05}-{}", "x".repeat(i % 40)).into_bytes()
}

#[test]
fn replays_in_append_order_across_segments_and_reopens() {
    let fs = Arc::new(SimFs::new());
    let mut expected = Vec::new();
    for round in 0..3 {
        let (wal, records, report) = reopen(&fs, small());
        assert_eq!(records, expected, "round {round}");
        assert!(!report.damage_found(), "{report:?}");
        for i in 0..40 {
            let p = payload(round * 100 + i);
            wal.append(&[&p]).unwrap();
            expected.push(p);
        }
        assert!(wal.segments().unwrap().len() > 5, "segments roll at 256 bytes");
    }
}

#[test]
fn segments_roll_at_the_size_limit() {
    let fs = Arc::new(SimFs::new());
    let (wal, _, _) = reopen(&fs, small());
    let first = wal.active_segment();
    let rec = [7u8; 100];
    let a = wal.append(&[&rec]).unwrap();
    let b = wal.append(&[&rec]).unwrap();
    let c = wal.append(&[&rec]).unwrap();
    assert_eq!((a.segment, b.segment), (first, first));
    assert_eq!(c.segment, first + 1, "third 109-byte frame does not fit in 256 bytes");
    assert!(a < b && b < c);
    for n in wal.segments().unwrap() {
        let len = fs.file_len(&Path::new(DIR).join(format!("{n:08}"))).unwrap();
        assert!(len <= 256, "segment {n} is {len} bytes");
    }
    let big = [1u8; 600];
    let d = wal.append(&[&big]).unwrap();
    assert!(d.offset > 256, "one record larger than a segment gets its own");
    assert_eq!(wal.stats().segments.load(std::sync::atomic::Ordering::Relaxed), wal.segments().unwrap().len() as u64);
}

#[test]
fn rejects_oversized_records_without_writing() {
    let fs = Arc::new(SimFs::new());
    let (wal, _, _) = reopen(&fs, small());
    let big = vec![0u8; 1025];
    let err = wal.append(&[b"ok", &big]).unwrap_err();
    assert!(matches!(err, Error::RecordTooLarge { size: 1025, max: 1024 }));
    drop(wal);
    let (_, records, _) = reopen(&fs, small());
    assert!(records.is_empty());
}

#[test]
fn checkpoint_replaces_old_segments() {
    let fs = Arc::new(SimFs::new());
    let (wal, _, _) = reopen(&fs, small());
    for i in 0..20 {
        wal.append(&[&payload(i)]).unwrap();
    }
    let active = wal.roll().unwrap();
    assert!(matches!(wal.write_checkpoint(active, [b"x"]), Err(Error::InvalidSegment { .. })));
    let mut seen = Vec::new();
    wal.replay_through(active - 1, |r| seen.push(r.payload.to_vec())).unwrap();
    assert_eq!(seen.len(), 20);
    // Keep only the even records as "live state".
    let live: Vec<Vec<u8>> = seen.iter().step_by(2).cloned().collect();
    let info = wal.write_checkpoint(active - 1, &live).unwrap();
    assert_eq!(info.records, 10);
    // Before truncation, replay already skips the covered segments.
    wal.append(&[b"after"]).unwrap();
    drop(wal);
    let (wal, records, report) = reopen(&fs, small());
    let mut expected = live.clone();
    expected.push(b"after".to_vec());
    assert_eq!(records, expected);
    assert_eq!(report.checkpoint, Some(active - 1));
    assert_eq!(wal.truncate_before(active).unwrap() as usize, (1..active).count());
    assert!(wal.segments().unwrap().iter().all(|&n| n >= active));
    assert!(matches!(wal.truncate_before(wal.active_segment() + 1), Err(Error::InvalidSegment { .. })));
    drop(wal);
    let (_, records, report) = reopen(&fs, small());
    assert_eq!(records, expected);
    assert!(!report.damage_found(), "{report:?}");
}

#[test]
fn checkpoint_sources_come_first_and_newer_checkpoint_wins() {
    let fs = Arc::new(SimFs::new());
    let (wal, _, _) = reopen(&fs, small());
    wal.append(&[b"a"]).unwrap();
    let s1 = wal.roll().unwrap();
    wal.write_checkpoint(s1 - 1, [b"cp1"]).unwrap();
    wal.append(&[b"b"]).unwrap();
    let s2 = wal.roll().unwrap();
    wal.write_checkpoint(s2 - 1, [b"cp2"]).unwrap();
    wal.append(&[b"c"]).unwrap();
    drop(wal);
    let mut sources = Vec::new();
    let (_, report) = Wal::open_with(fs.clone(), DIR, small(), |r| {
        sources.push((r.source, r.payload.to_vec()));
    })
    .unwrap();
    assert_eq!(report.checkpoint, Some(s2 - 1));
    assert!(matches!(sources[0].0, RecordSource::Checkpoint { checkpoint, file: 1 } if checkpoint == s2 - 1));
    let payloads: Vec<_> = sources.iter().map(|(_, p)| p.clone()).collect();
    assert_eq!(payloads, [b"cp2".to_vec(), b"c".to_vec()]);
    let dirs = fs.list_dir(Path::new(DIR)).unwrap();
    assert_eq!(dirs.iter().filter(|e| e.is_dir).count(), 1, "older checkpoint removed: {dirs:?}");
}

#[test]
fn unfinished_checkpoint_is_ignored_and_removed() {
    let fs = Arc::new(SimFs::new());
    let (wal, _, _) = reopen(&fs, small());
    wal.append(&[b"a"]).unwrap();
    drop(wal);
    let tmp = Path::new(DIR).join("checkpoint.00000001.tmp");
    fs.create_dir_all(&tmp).unwrap();
    fs.overwrite(&tmp.join("00000001"), b"garbage").unwrap();
    let (_, records, report) = reopen(&fs, small());
    assert_eq!(records, [b"a".to_vec()]);
    assert_eq!(report.checkpoint, None);
    assert!(fs.list_dir(&tmp).is_err());
}

#[test]
fn group_commit_shares_fsyncs_between_threads() {
    let dir = tempfile::tempdir().unwrap();
    let options = WalOptions::default();
    let (wal, _) = Wal::open(Arc::new(RealFs::new()), dir.path(), options.clone()).unwrap();
    let wal = Arc::new(wal);
    let threads = 8;
    let per_thread = 50;
    std::thread::scope(|s| {
        for t in 0..threads {
            let wal = Arc::clone(&wal);
            s.spawn(move || {
                for i in 0..per_thread {
                    wal.append(&[format!("{t}:{i}").as_bytes()]).unwrap();
                }
            });
        }
    });
    let stats = wal.stats();
    let fsyncs = stats.fsyncs.load(std::sync::atomic::Ordering::Relaxed);
    let batches = stats.batches_written.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(batches, threads * per_thread);
    assert!(fsyncs <= batches, "fsyncs {fsyncs} batches {batches}");
    drop(wal);
    let mut count = 0;
    Wal::open_with(Arc::new(RealFs::new()), dir.path(), options, |_| count += 1).unwrap();
    assert_eq!(count, threads * per_thread);
}

#[test]
fn interval_mode_syncs_in_the_background_and_on_request() {
    let fs = Arc::new(SimFs::new());
    let options = WalOptions { fsync: FsyncMode::Interval(Duration::from_millis(10)), ..small() };
    let (wal, _, _) = reopen(&fs, options.clone());
    wal.append(&[b"background"]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    fs.power_cut(3, false);
    drop(wal);
    let (wal, records, _) = reopen(&fs, options.clone());
    assert_eq!(records, [b"background".to_vec()]);
    wal.append(&[b"explicit"]).unwrap();
    wal.sync().unwrap();
    fs.power_cut(4, false);
    drop(wal);
    let (_, records, _) = reopen(&fs, options);
    assert_eq!(records, [b"background".to_vec(), b"explicit".to_vec()]);
}

#[test]
fn invalid_options_are_rejected() {
    let fs = Arc::new(SimFs::new());
    for options in [
        WalOptions { segment_size: 10, ..small() },
        WalOptions { max_record_size: 0, ..small() },
        WalOptions { fsync: FsyncMode::Interval(Duration::ZERO), ..small() },
    ] {
        assert!(matches!(Wal::open(fs.clone(), DIR, options), Err(Error::InvalidOptions { .. })));
    }
}

#[test]
fn poisoned_after_failed_fsync_and_recovers_on_reopen() {
    let fs = Arc::new(SimFs::new());
    let (wal, _, _) = reopen(&fs, small());
    wal.append(&[b"kept"]).unwrap();
    fs.fail_writes_after(3);
    assert!(matches!(wal.append(&[b"lost"]), Err(Error::Io { .. })));
    assert!(matches!(wal.append(&[b"again"]), Err(Error::Poisoned { .. })));
    fs.power_cut(9, true);
    drop(wal);
    let (wal, records, _) = reopen(&fs, small());
    assert_eq!(records, [b"kept".to_vec()]);
    wal.append(&[b"new"]).unwrap();
}

#[test]
fn wal_is_send_and_sync_and_replay_through_rejects_the_active_segment() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Wal>();
    let fs = Arc::new(SimFs::new());
    let (wal, _, _) = reopen(&fs, small());
    let active = wal.active_segment();
    assert!(matches!(wal.replay_through(active, |_| {}), Err(Error::InvalidSegment { .. })));
}

#[test]
fn write_numbers_batches_densely_and_complete_makes_them_durable() {
    let fs = Arc::new(SimFs::new());
    let (wal, _) = Wal::open(fs.clone(), DIR, small()).unwrap();
    let empty = wal.write(&[]).unwrap();
    assert_eq!(empty.seq, 0, "an empty batch takes no number");
    let first = wal.write(&[b"a", b"b"]).unwrap();
    let second = wal.write(&[b"c"]).unwrap();
    assert_eq!((first.seq, second.seq), (1, 2));
    assert!(first.lsn < second.lsn);
    assert_eq!(wal.complete(second).unwrap(), second.lsn);
    // Completing the later batch made the earlier one durable too.
    fs.power_cut(7, true);
    drop(wal);
    let (_, records, report) = reopen(&fs, small());
    assert_eq!(records, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    assert!(!report.damage_found());
}
