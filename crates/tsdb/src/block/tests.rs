use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use wk_model::{Labels, MatchOp, Matcher, STALE_NAN, Sample};
use wk_wal::{SimFs, WalFs};

use super::*;

fn l(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

/// A small block: three hosts × two metrics, 100 samples each, with specials.
fn fixture() -> Vec<(Labels, Vec<Sample>)> {
    let mut out = Vec::new();
    for host in ["a", "b", "c"] {
        for (metric, scale) in [("cpu_seconds_total", 0.01), ("mem_bytes", 4096.0)] {
            let labels = l(&[("__name__", metric), ("instance", host), ("job", "node")]);
            let samples: Vec<Sample> =
                (0..100).map(|i| Sample::new(1_000 + i * 15_000, (i * i) as f64 * scale)).collect();
            out.push((labels, samples));
        }
    }
    out[1].1[5].v = STALE_NAN;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Six series of 2,000 samples whose values are noise: their columns do not
/// deflate, so their frames are stored as is.
fn noisy_fixture() -> Vec<(Labels, Vec<Sample>)> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut out: Vec<(Labels, Vec<Sample>)> = (0..6)
        .map(|i| {
            let labels = l(&[("__name__", "noise"), ("i", &i.to_string())]);
            let samples = (0..2_000)
                .map(|k| {
                    x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                    Sample::new(1_000 + k * 3_000, ((x >> 20) % 1_000_000_000) as f64 / 1000.0)
                })
                .collect();
            (labels, samples)
        })
        .collect();
    out[2].1[7].v = STALE_NAN;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn write(fs: &dyn WalFs, dir: &Path, series: &[(Labels, Vec<Sample>)]) -> std::path::PathBuf {
    fs.create_dir_all(dir).unwrap();
    let meta = BlockMeta { mint: 0, maxt: 7_200_000, level: 0, ..Default::default() };
    let mut w = BlockWriter::create(fs, dir, meta).unwrap();
    for (labels, samples) in series {
        w.add_series(labels, samples).unwrap();
    }
    w.finish().unwrap().unwrap()
}

fn sel(ms: &[(MatchOp, &str, &str)]) -> Vec<Matcher> {
    ms.iter().map(|&(op, n, v)| Matcher::new(op, n, v).unwrap()).collect()
}

#[test]
fn write_open_select_read() {
    let fs = SimFs::new();
    let data = fixture();
    let path = write(&fs, Path::new("/d/blocks"), &data);
    assert!(path.ends_with("0_7200000.wkb"));
    let b = Block::open(&fs, &path).unwrap();
    b.verify().unwrap();
    assert_eq!(b.meta().num_series, 6);
    assert_eq!(b.meta().num_samples, 600);
    assert_eq!(b.name(), "0_7200000");
    let all = b.select_ids(&[], i64::MIN, i64::MAX);
    assert_eq!(all.len(), 6);
    let mut buf = Vec::new();
    for (id, (labels, samples)) in all.iter().zip(&data) {
        assert_eq!(&b.labels(*id), labels);
        b.samples(*id, i64::MIN, i64::MAX, &mut buf).unwrap();
        assert_eq!(buf.len(), samples.len());
        assert!(buf.iter().zip(samples).all(|(a, b)| a.bit_eq(b)));
    }
    use MatchOp::*;
    let ids = b.select_ids(&sel(&[(Eq, "__name__", "mem_bytes"), (Re, "instance", "a|c")]), 0, i64::MAX);
    let names: Vec<String> = ids.iter().map(|&i| b.labels(i).get("instance").unwrap().to_owned()).collect();
    assert_eq!(names, ["a", "c"]);
    assert_eq!(b.select_ids(&sel(&[(Neq, "instance", "b"), (Eq, "job", "node")]), 0, i64::MAX).len(), 4);
    assert_eq!(b.select_ids(&sel(&[(Eq, "instance", "")]), 0, i64::MAX).len(), 0);
    assert_eq!(b.select_ids(&sel(&[(Eq, "nope", "")]), 0, i64::MAX).len(), 6);
    assert_eq!(b.select_ids(&sel(&[(Eq, "job", "nope")]), 0, i64::MAX).len(), 0);
    // Time filtering: nothing after the last sample.
    assert!(b.select_ids(&[], 1_000 + 100 * 15_000, i64::MAX).is_empty());
    b.samples(all[0], 16_000, 46_000, &mut buf).unwrap();
    assert_eq!(buf.iter().map(|s| s.t).collect::<Vec<_>>(), [16_000, 31_000, 46_000]);
    assert_eq!(b.label_names(&[]), ["__name__", "instance", "job"]);
    assert_eq!(b.label_values("instance", &sel(&[(Eq, "__name__", "cpu_seconds_total")])), ["a", "b", "c"]);
    assert_eq!(b.label_values("__name__", &[]), ["cpu_seconds_total", "mem_bytes"]);
}

#[test]
fn tombstones_hide_samples_and_survive_reopen() {
    let fs = SimFs::new();
    let path = write(&fs, Path::new("/d/blocks"), &fixture());
    let b = Block::open(&fs, &path).unwrap();
    let mut t = Tombstones::default();
    t.add(0, 0, 30_000);
    t.store(&fs, &b.tombstones_path()).unwrap();
    let b = Block::open(&fs, &path).unwrap();
    let mut buf = Vec::new();
    b.samples(0, i64::MIN, i64::MAX, &mut buf).unwrap();
    assert_eq!(buf.len(), 98);
    assert_eq!(buf[0].t, 31_000);
    // A damaged tombstones file is an error, not silently ignored deletions.
    let mut bytes = fs.read(&b.tombstones_path()).unwrap();
    bytes[10] ^= 1;
    fs.overwrite(&b.tombstones_path(), &bytes).unwrap();
    let err = Block::open(&fs, &path).unwrap_err().to_string();
    assert!(err.contains("tombstones checksum mismatch"), "{err}");
}

#[test]
fn writer_rejects_out_of_order_series_and_out_of_range_samples() {
    let fs = SimFs::new();
    fs.create_dir_all(Path::new("/b")).unwrap();
    let meta = BlockMeta { mint: 0, maxt: 100, ..Default::default() };
    let mut w = BlockWriter::create(&fs, Path::new("/b"), meta.clone()).unwrap();
    w.add_series(&l(&[("a", "2")]), &[Sample::new(1, 1.0)]).unwrap();
    let err = w.add_series(&l(&[("a", "1")]), &[Sample::new(1, 1.0)]).unwrap_err().to_string();
    assert!(err.contains("added after"), "{err}");
    let err = w.add_series(&l(&[("a", "3")]), &[Sample::new(100, 1.0)]).unwrap_err().to_string();
    assert!(err.contains("outside the block's range"), "{err}");
    // An empty block is not written.
    let w = BlockWriter::create(&fs, Path::new("/b"), meta).unwrap();
    assert_eq!(w.finish().unwrap(), None);
    assert!(fs.list_dir(Path::new("/b")).unwrap().iter().all(|e| !e.name.ends_with(".wkb")));
}

#[test]
fn frames_deflate_barely_shrinks_are_stored_as_is() {
    let fs = SimFs::new();
    for (data, stored) in [(fixture(), false), (noisy_fixture(), true)] {
        let path = write(&fs, Path::new(if stored { "/noisy" } else { "/regular" }), &data);
        let b = Block::open(&fs, &path).unwrap();
        let frames = b.frames();
        assert!(!frames.is_empty());
        for f in &frames {
            assert_eq!(f.is_stored(3), stored, "{f:?}");
            if !stored {
                assert!(f.len < f.ulen - f.ulen / 8, "a deflated frame saves at least an eighth: {f:?}");
            }
        }
        b.verify().unwrap();
        let mut buf = Vec::new();
        for (id, (_, samples)) in data.iter().enumerate() {
            b.samples(id as u32, i64::MIN, i64::MAX, &mut buf).unwrap();
            assert_eq!(buf.len(), samples.len());
            assert!(buf.iter().zip(samples).all(|(a, b)| a.bit_eq(b)));
        }
    }
}

/// Version 2 (every frame deflated) is still read; unknown versions are refused.
#[test]
fn format_versions() {
    let fs = SimFs::new();
    let data = fixture();
    let path = write(&fs, Path::new("/d"), &data);
    let bytes = fs.read(&path).unwrap();
    assert_eq!((bytes[4], bytes[bytes.len() - 1]), (3, 3));
    let with_version = |v: u8| {
        let mut b = bytes.clone();
        let last = b.len() - 1;
        (b[4], b[last]) = (v, v);
        fs.overwrite(&path, &b).unwrap();
        Block::open(&fs, &path)
    };
    let b = with_version(2).expect("version 2 opens");
    let mut buf = Vec::new();
    for (id, (_, samples)) in data.iter().enumerate() {
        b.samples(id as u32, i64::MIN, i64::MAX, &mut buf).unwrap();
        assert!(buf.iter().zip(samples).all(|(a, b)| a.bit_eq(b)));
    }
    for v in [1, 4, 0xFF] {
        let err = with_version(v).expect_err("unknown version").to_string();
        assert!(err.contains("unsupported block format version"), "{err}");
    }
}

#[test]
fn every_truncation_is_detected() {
    let fs = SimFs::new();
    let path = write(&fs, Path::new("/d"), &fixture());
    let bytes = fs.read(&path).unwrap();
    for len in 0..bytes.len() {
        fs.overwrite(&path, &bytes[..len]).unwrap();
        let err = Block::open(&fs, &path).expect_err("a truncated block must not open").to_string();
        assert!(err.contains("0_7200000.wkb"), "{err}");
    }
}

#[test]
fn real_disk_block_is_memory_mapped() {
    let dir = tempfile::tempdir().unwrap();
    let fs = wk_wal::RealFs::new();
    let path = write(&fs, dir.path(), &fixture());
    let b = Arc::new(Block::open(&fs, &path).unwrap());
    b.verify().unwrap();
    // A removed block stays readable by whoever holds it.
    std::fs::remove_file(&path).unwrap();
    let mut buf = Vec::new();
    b.samples(0, i64::MIN, i64::MAX, &mut buf).unwrap();
    assert_eq!(buf.len(), 100);
}

/// Reads past the release threshold drop the data section's pages from the
/// process; reading them again gives the same samples.
#[test]
fn released_pages_read_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let fs = wk_wal::RealFs::new();
    let data = noisy_fixture();
    let path = write(&fs, dir.path(), &data);
    let b = Block::open(&fs, &path).unwrap();
    let mut buf = Vec::new();
    for round in 0..3 {
        for (id, (_, samples)) in data.iter().enumerate() {
            b.samples(id as u32, i64::MIN, i64::MAX, &mut buf).unwrap();
            assert!(buf.iter().zip(samples).all(|(a, b)| a.bit_eq(b)), "round {round}");
        }
        b.note_mapped_read(super::reader::RELEASE_BYTES as u32);
        assert_eq!(b.mapped_reads.load(std::sync::atomic::Ordering::Relaxed), 0, "released");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any single flipped bit is detected at open or when the damaged frame is
    /// read; it never panics or returns wrong data.
    #[test]
    fn bit_flips_are_detected(at in any::<usize>(), bit in 0u8..8, noisy in any::<bool>()) {
        let fs = SimFs::new();
        let data = if noisy { noisy_fixture() } else { fixture() };
        let path = write(&fs, Path::new("/d"), &data);
        let mut bytes = fs.read(&path).unwrap();
        let i = at % bytes.len();
        bytes[i] ^= 1 << bit;
        fs.overwrite(&path, &bytes).unwrap();
        match Block::open(&fs, &path) {
            Err(e) => prop_assert!(e.to_string().contains("0_7200000.wkb")),
            Ok(b) => {
                // Only the data section is checked lazily: verify finds it.
                prop_assert!(b.verify().is_err());
                let mut buf = Vec::new();
                let mut damaged = 0;
                for (id, (_, samples)) in data.iter().enumerate() {
                    match b.samples(id as u32, i64::MIN, i64::MAX, &mut buf) {
                        Ok(()) => prop_assert!(buf.iter().zip(samples).all(|(a, b)| a.bit_eq(b))),
                        Err(_) => damaged += 1,
                    }
                }
                // Damage costs the series of one compressed frame, never wrong data.
                prop_assert!(damaged >= 1);
            }
        }
    }
}

fn matcher_pool() -> Vec<Matcher> {
    use MatchOp::*;
    [
        (Eq, "__name__", "cpu_seconds_total"),
        (Eq, "__name__", "mem_bytes"),
        (Eq, "instance", "b"),
        (Eq, "instance", "zzz"),
        (Eq, "job", "node"),
        (Eq, "instance", ""),
        (Eq, "nope", ""),
        (Neq, "instance", "a"),
        (Re, "instance", "a|c"),
        (Re, "__name__", ".*bytes"),
        (Nre, "instance", "c"),
        (Re, "nope", ".*"),
        (Nre, "job", "node"),
    ]
    .into_iter()
    .map(|(op, n, v)| Matcher::new(op, n, v).unwrap())
    .collect()
}

proptest! {
    /// The in-map intersection path answers exactly like the generic bitmap
    /// evaluation.
    #[test]
    fn fast_select_matches_generic_select(picks in proptest::collection::vec(0usize..13, 0..4)) {
        let fs = SimFs::new();
        let path = write(&fs, Path::new("/d"), &fixture());
        let b = Block::open(&fs, &path).unwrap();
        let pool = matcher_pool();
        let ms: Vec<Matcher> = picks.iter().map(|&i| pool[i].clone()).collect();
        let generic: Vec<u32> = crate::index::select::select(&b, &ms).iter().collect();
        prop_assert_eq!(b.select_ids(&ms, i64::MIN, i64::MAX), generic);
    }
}
