//! A full disk during block writing, on a real, small file system (a tmpfs mounted
//! for the test; the suite runs as root, as CI does): cutting a block fails cleanly
//! (no leftover file, no lost or duplicated sample, the database keeps serving),
//! size retention still frees space, and the cut succeeds once space is back.

#[path = "support/small_fs.rs"]
mod small_fs;

use std::path::{Path, PathBuf};

use small_fs::{Mount, fill_leaving};
use tempfile::TempDir;
use wk_model::{Labels, Sample};
use wk_storage::{Appender, Querier};
use wk_tsdb::{Db, DbOptions};

const SERIES: usize = 200;

fn labels(i: usize) -> Labels {
    Labels::from_pairs([("__name__", "full_disk"), ("i", &i.to_string())]).unwrap()
}

/// Appends one sample per series at each `t` (values not decimal-friendly, so
/// blocks take real space); returns the timestamps whose commit succeeded.
fn fill(db: &Db, ts: std::ops::Range<i64>) -> Vec<i64> {
    let mut acked = Vec::new();
    let mut app = db.appender();
    for t in ts {
        for i in 0..SERIES {
            app.append(None, &labels(i), Sample::new(t, (t as f64 * 1.1 + i as f64).sqrt())).unwrap();
        }
        if app.commit().is_ok() {
            acked.push(t);
        }
    }
    acked
}

fn count_per_t(db: &Db) -> std::collections::BTreeMap<i64, usize> {
    let mut out = std::collections::BTreeMap::new();
    for s in db.querier().select(&[], i64::MIN, i64::MAX).unwrap() {
        let mut last = None;
        for x in s.unwrap().samples {
            assert!(last.is_none_or(|l| l < x.t), "duplicate or unsorted sample at {}", x.t);
            last = Some(x.t);
            *out.entry(x.t).or_default() += 1;
        }
    }
    out
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir.join("blocks"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

/// A 16 MiB file system for one test: its mount point, the database directory
/// in it, and options cutting 100 ms blocks without time retention. The mount
/// lives as long as the returned guards.
fn small_disk() -> (TempDir, Mount, PathBuf, PathBuf, DbOptions) {
    let scratch = tempfile::tempdir().unwrap();
    let mnt = scratch.path().join("small-fs");
    let mount = Mount::tmpfs(&mnt, "16m");
    let dir = mnt.join("data");
    let options = DbOptions { block_range_ms: 100, retention_ms: 0, ..DbOptions::default() };
    (scratch, mount, mnt, dir, options)
}

#[test]
fn a_full_disk_fails_the_cut_cleanly_and_it_succeeds_later() {
    let (_scratch, _mount, mnt, dir, options) = small_disk();
    let (db, _) = Db::open(&dir, options.clone()).unwrap();
    let acked = fill(&db, 0..400);
    assert_eq!(acked.len(), 400);
    // Leave almost no space: the block writer runs out mid-file.
    let ballast = fill_leaving(&mnt, 64 << 10);
    let err = db.maintain().expect_err("no space for a block");
    assert!(err.to_string().contains("No space left") || err.to_string().contains("os error 28"), "{err}");
    assert!(leftovers(&dir).is_empty(), "unfinished block files left: {:?}", leftovers(&dir));
    assert_eq!(db.stats().cut_failures, 1);
    // Still serving everything acknowledged, exactly once.
    let counts = count_per_t(&db);
    assert!(acked.iter().all(|t| counts.get(t) == Some(&SERIES)));
    // Space comes back: the cut goes through, nothing lost or doubled.
    std::fs::remove_file(&ballast).unwrap();
    let report = db.maintain().unwrap();
    assert!(report.blocks_cut > 0, "{report:?}");
    let counts = count_per_t(&db);
    assert!(acked.iter().all(|t| counts.get(t) == Some(&SERIES)));
    db.close().unwrap();
    let (db, _) = Db::open(&dir, options).unwrap();
    let counts = count_per_t(&db);
    assert!(acked.iter().all(|t| counts.get(t) == Some(&SERIES)), "after reopen");
}

#[test]
fn size_retention_frees_space_even_while_cuts_fail() {
    let (_scratch, _mount, mnt, dir, options) = small_disk();
    let (db, _) = Db::open(&dir, options.clone()).unwrap();
    fill(&db, 0..600);
    db.maintain().unwrap();
    let blocks_before = db.blocks().len();
    assert!(blocks_before >= 2);
    fill(&db, 600..900);
    drop(db);
    // Reopen with a size limit below what is stored, on a disk with no room
    // for another block: the cut fails, retention still deletes old blocks.
    fill_leaving(&mnt, 64 << 10);
    let stored: u64 = dir_size(&dir);
    let (db, _) = Db::open(&dir, DbOptions { retention_bytes: stored / 2, ..options }).unwrap();
    assert!(db.maintain().is_err(), "the cut cannot succeed on a full disk");
    assert!(db.stats().retention_deletions > 0, "size retention ran anyway");
    assert!(db.blocks().len() < blocks_before);
    assert!(leftovers(&dir).is_empty());
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() { dir_size(&e.path()) } else { e.metadata().unwrap().len() }
        })
        .sum()
}
