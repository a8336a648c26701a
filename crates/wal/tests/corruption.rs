//! Damage tests: truncation at every byte offset and random bit flips.
//!
//! Whatever the damage, opening never panics, every record the damage did
//! not touch is recovered exactly once and in order, and the report counts
//! the damage.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use proptest::prelude::*;
use wk_wal::record::{self, Frame};
use wk_wal::segment::SEGMENT_HEADER_LEN;
use wk_wal::{ReplayReport, SimFs, Wal, WalFs, WalOptions};

const DIR: &str = "/wal";
const MAX: u32 = 4096;

fn options(segment_size: u64) -> WalOptions {
    WalOptions { segment_size, max_record_size: MAX, ..WalOptions::default() }
}

fn payload(id: u32) -> Vec<u8> {
    let mut p = id.to_le_bytes().to_vec();
    p.extend((0..(id as usize * 37) % 90).map(|i| (i as u8) ^ 0x5a));
    p
}

/// The frames of one file: (start offset, end offset, record id).
type Frames = Vec<(usize, usize, u32)>;

/// A clean log: per segment file, its path, bytes and frames.
struct Log {
    files: Vec<(PathBuf, Vec<u8>, Frames)>,
}

fn build(records: u32, segment_size: u64) -> Log {
    let fs = Arc::new(SimFs::new());
    let (wal, _) = Wal::open(fs.clone(), DIR, options(segment_size)).unwrap();
    for id in 0..records {
        wal.append(&[&payload(id)]).unwrap();
    }
    let mut files = Vec::new();
    for n in wal.segments().unwrap() {
        let path = Path::new(DIR).join(format!("{n:08}"));
        let bytes = fs.contents(&path).unwrap();
        let mut frames = Vec::new();
        let mut pos = SEGMENT_HEADER_LEN;
        while let Frame::Valid { payload, len } = record::decode(&bytes, pos, MAX) {
            frames.push((pos, pos + len, u32::from_le_bytes(payload[..4].try_into().unwrap())));
            pos += len;
        }
        assert_eq!(pos, bytes.len());
        if !frames.is_empty() {
            files.push((path, bytes, frames));
        }
    }
    Log { files }
}

/// Writes `files` onto a fresh disk, opens it, returns the replayed ids.
fn open_damaged(files: &[(PathBuf, Vec<u8>)], segment_size: u64) -> (Vec<u32>, ReplayReport, Arc<SimFs>) {
    let fs = Arc::new(SimFs::new());
    fs.create_dir_all(Path::new(DIR)).unwrap();
    for (path, bytes) in files {
        fs.overwrite(path, bytes).unwrap();
    }
    let mut ids = Vec::new();
    let (wal, report) = Wal::open_with(fs.clone(), DIR, options(segment_size), |r| {
        let id = u32::from_le_bytes(r.payload[..4].try_into().expect("payload has an id"));
        assert_eq!(r.payload, payload(id), "replayed record {id} is not what was written");
        ids.push(id);
    })
    .expect("a damaged log still opens");
    wal.append(&[b"after damage"]).expect("a repaired log accepts appends");
    (ids, report, fs)
}

#[test]
fn last_segment_truncated_at_every_offset() {
    let log = build(12, 1 << 20);
    assert_eq!(log.files.len(), 1);
    let (path, bytes, frames) = &log.files[0];
    for cut in 0..=bytes.len() {
        let (ids, report, _) = open_damaged(&[(path.clone(), bytes[..cut].to_vec())], 1 << 20);
        let complete: Vec<u32> = frames.iter().filter(|f| f.1 <= cut).map(|f| f.2).collect();
        assert_eq!(ids, complete, "cut at {cut}");
        let clean_end = frames.iter().map(|f| f.1).filter(|&e| e <= cut).max().unwrap_or(SEGMENT_HEADER_LEN);
        let expected_torn = if cut < SEGMENT_HEADER_LEN { cut } else { cut - clean_end };
        let torn = report.torn_tail.map_or(0, |t| t.bytes_truncated) as usize;
        assert_eq!(torn, expected_torn, "cut at {cut}: {report:?}");
        assert_eq!(report.corrupt_records, 0, "cut at {cut}");
    }
}

#[test]
fn middle_segment_truncated_at_every_offset() {
    let log = build(30, 400);
    assert!(log.files.len() >= 3, "need three segments");
    let (path, bytes, frames) = &log.files[1];
    for cut in 0..=bytes.len() {
        let mut files: Vec<(PathBuf, Vec<u8>)> = log.files.iter().map(|f| (f.0.clone(), f.1.clone())).collect();
        files[1].1.truncate(cut);
        let (ids, report, _) = open_damaged(&files, 400);
        let expected: Vec<u32> = log
            .files
            .iter()
            .flat_map(|f| f.2.iter())
            .filter(|f| !frames.contains(f) || f.1 <= cut)
            .map(|f| f.2)
            .collect();
        assert_eq!(ids, expected, "cut {path:?} at {cut}");
        let at_boundary = cut == bytes.len() || frames.iter().any(|f| f.1 == cut) || cut == SEGMENT_HEADER_LEN;
        assert_eq!(report.torn_tail, None, "cut at {cut}");
        assert_eq!(report.damage_found(), !at_boundary, "cut at {cut}: {report:?}");
    }
}

#[test]
fn absurd_length_field_does_not_allocate_or_lose_later_records() {
    let log = build(5, 1 << 20);
    let (path, mut bytes, frames) = log.files.into_iter().next().unwrap();
    bytes[frames[1].0..frames[1].0 + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let (ids, report, _) = open_damaged(&[(path, bytes)], 1 << 20);
    assert_eq!(ids, [0, 2, 3, 4]);
    assert_eq!(report.corrupt_records, 1);
    assert_eq!(report.corrupt_bytes as usize, frames[1].1 - frames[1].0);
}

#[test]
fn garbage_files_never_panic() {
    let mut seed = 0x1234_5678_u64;
    for round in 0..200 {
        let len = (round * 13) % 700;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        let path = Path::new(DIR).join("00000001");
        let (ids, _, _) = open_damaged(&[(path, bytes)], 1 << 20);
        assert!(ids.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if std::env::var_os("WK_SOAK").is_some() { 5000 } else { 200 },
        ..ProptestConfig::default()
    })]

    #[test]
    fn bit_flips_lose_only_the_records_they_touch(
        flips in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..5),
    ) {
        let log = build(30, 400);
        let total: usize = log.files.iter().map(|f| f.1.len()).sum();
        let mut files: Vec<(PathBuf, Vec<u8>)> = log.files.iter().map(|f| (f.0.clone(), f.1.clone())).collect();
        let mut touched = Vec::new();
        for (index, bit) in &flips {
            let mut at = index.index(total);
            let file = files.iter().position(|f| {
                if at < f.1.len() { true } else { at -= f.1.len(); false }
            }).unwrap();
            files[file].1[at] ^= 1 << bit;
            touched.push((file, at));
        }
        let (ids, report, _) = open_damaged(&files, 400);
        let all: Vec<u32> = log.files.iter().flat_map(|f| f.2.iter().map(|r| r.2)).collect();
        let untouched: Vec<u32> = log.files.iter().enumerate().flat_map(|(i, f)| {
            let touched = &touched;
            f.2.iter().filter(move |r| !touched.iter().any(|&(tf, at)| tf == i && at >= r.0 && at < r.1)).map(|r| r.2)
        }).collect();
        let mut it = ids.iter();
        for id in &untouched {
            prop_assert!(it.any(|x| x == id), "untouched record {} lost; got {:?}", id, ids);
        }
        prop_assert!(ids.windows(2).all(|w| w[0] < w[1]), "order or duplicates: {:?}", ids);
        prop_assert!(ids.iter().all(|id| all.contains(id)));
        // Flips can cancel out (same bit twice); otherwise damage is reported.
        let cancelled = files.iter().zip(&log.files).all(|(a, b)| a.1 == b.1);
        prop_assert!(cancelled || report.damage_found(), "{:?}", report);
    }
}

#[test]
fn zeroed_last_segment_is_a_torn_creation_and_is_replaced() {
    let log = build(3, 1 << 20);
    let mut files: Vec<(PathBuf, Vec<u8>)> = log.files.iter().map(|f| (f.0.clone(), f.1.clone())).collect();
    assert_eq!(files.len(), 1);
    files.push((Path::new(DIR).join("00000002"), vec![0; 4096]));
    let (ids, report, fs) = open_damaged(&files, 1 << 20);
    assert_eq!(ids, [0, 1, 2]);
    assert_eq!(report.corrupt_headers, 0, "{report:?}");
    let torn = report.torn_tail.expect("torn creation reported");
    assert_eq!((torn.segment, torn.offset, torn.bytes_truncated), (2, 0, 4096));
    let mut count = 0;
    let (_, report) = Wal::open_with(fs, DIR, options(1 << 20), |_| count += 1).unwrap();
    assert_eq!(count, 4, "three records and the one appended after repair");
    assert!(!report.damage_found(), "{report:?}");
}
