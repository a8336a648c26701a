//! Property test: random appends, syncs, checkpoints, injected process
//! failures and power cuts (with torn last writes) on `SimFs`.
//!
//! After every power cut the log is reopened and must hold every
//! acknowledged record exactly once, in order, and nothing that was not
//! appended; it must open without reporting corruption and accept appends.
//!
//! `WK_SOAK=1` runs many more cases.

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use wk_wal::{FsyncMode, SimFs, Wal, WalOptions};

const DIR: &str = "/var/lib/wk/wal";

#[derive(Debug, Clone)]
enum Op {
    /// Append one batch with records of these sizes.
    Append(Vec<usize>),
    /// Call `sync()`.
    Sync,
    /// Make the process "die" after this many more written bytes.
    Fault(u16),
    /// Roll, checkpoint everything up to the new active segment, truncate.
    Checkpoint,
    /// Lose power, then reopen.
    Cut { seed: u64, tear: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => prop::collection::vec(0..300usize, 1..4).prop_map(Op::Append),
        1 => Just(Op::Sync),
        1 => (0u16..1500).prop_map(Op::Fault),
        1 => Just(Op::Checkpoint),
        2 => (any::<u64>(), any::<bool>()).prop_map(|(seed, tear)| Op::Cut { seed, tear }),
    ]
}

/// The payload of attempted record `id`: its id, then bytes derived from it.
fn payload(id: u32, size: usize) -> Vec<u8> {
    let mut p = id.to_le_bytes().to_vec();
    p.extend((0..size).map(|i| (id as usize * 7 + i) as u8));
    p
}

/// Test state: the log under test and the model of what must survive.
struct Harness {
    fs: Arc<SimFs>,
    options: WalOptions,
    wal: Option<Wal>,
    /// Attempted records by id: their sizes.
    sizes: Vec<usize>,
    /// Ids that must survive a power cut.
    durable: Vec<u32>,
    /// Ids appended but not yet acknowledged (interval mode).
    pending: Vec<u32>,
    /// Set after a failure: the process is "dead" until the next cut.
    dead: bool,
}

impl Harness {
    fn new(options: WalOptions) -> Self {
        let fs = Arc::new(SimFs::new());
        let (wal, _) = Wal::open(fs.clone(), DIR, options.clone()).unwrap();
        Self { fs, options, wal: Some(wal), sizes: Vec::new(), durable: Vec::new(), pending: Vec::new(), dead: false }
    }

    fn wal(&self) -> &Wal {
        self.wal.as_ref().unwrap()
    }

    fn append(&mut self, sizes: &[usize]) {
        let ids: Vec<u32> = (0..sizes.len()).map(|i| (self.sizes.len() + i) as u32).collect();
        self.sizes.extend_from_slice(sizes);
        let payloads: Vec<Vec<u8>> = ids.iter().zip(sizes).map(|(&id, &s)| payload(id, s)).collect();
        let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        match self.wal().append(&refs) {
            Ok(_) if self.options.fsync == FsyncMode::Always => self.durable.extend(ids),
            Ok(_) => self.pending.extend(ids),
            Err(_) => self.dead = true,
        }
    }

    fn sync(&mut self) {
        match self.wal().sync() {
            Ok(_) => self.durable.append(&mut self.pending),
            Err(_) => self.dead = true,
        }
    }

    fn checkpoint(&mut self) {
        let wal = self.wal();
        let result = wal.roll().and_then(|active| {
            let mut live = Vec::new();
            wal.replay_through(active - 1, |r| live.push(r.payload.to_vec()))?;
            wal.write_checkpoint(active - 1, &live)?;
            wal.truncate_before(active)
        });
        match result {
            // A roll syncs, so pending records are durable now.
            Ok(_) => self.durable.append(&mut self.pending),
            Err(_) => self.dead = true,
        }
    }

    fn cut_and_reopen(&mut self, seed: u64, tear: bool) -> Result<(), TestCaseError> {
        self.fs.power_cut(seed, tear);
        drop(self.wal.take());
        let mut replayed = Vec::new();
        let (wal, report) = Wal::open_with(self.fs.clone(), DIR, self.options.clone(), |r| {
            replayed.push(r.payload.to_vec());
        })
        .map_err(|e| TestCaseError::fail(format!("reopen failed: {e}")))?;
        prop_assert_eq!(report.corrupt_records, 0, "{:?}", report);
        prop_assert_eq!(report.corrupt_headers, 0, "{:?}", report);
        prop_assert_eq!(report.missing_segments, 0, "{:?}", report);
        let mut ids = Vec::with_capacity(replayed.len());
        for p in &replayed {
            prop_assert!(p.len() >= 4, "short record {:?}", p);
            let id = u32::from_le_bytes([p[0], p[1], p[2], p[3]]);
            let size = *self.sizes.get(id as usize).ok_or_else(|| TestCaseError::fail("unknown id"))?;
            prop_assert_eq!(p, &payload(id, size), "record {} damaged", id);
            prop_assert!(ids.last().is_none_or(|&last| last < id), "order/duplicate at {}", id);
            ids.push(id);
        }
        let mut it = ids.iter();
        for acked in &self.durable {
            prop_assert!(it.any(|id| id == acked), "acknowledged record {} lost; replayed {:?}", acked, ids);
        }
        self.durable = ids;
        self.pending.clear();
        self.dead = false;
        self.wal = Some(wal);
        Ok(())
    }
}

fn run(ops: Vec<Op>, always: bool, segment_size: u64) -> Result<(), TestCaseError> {
    let fsync = if always { FsyncMode::Always } else { FsyncMode::Interval(Duration::from_secs(3600)) };
    let options = WalOptions { segment_size, max_record_size: 4096, fsync };
    let mut h = Harness::new(options);
    for op in ops {
        match op {
            Op::Cut { seed, tear } => h.cut_and_reopen(seed, tear)?,
            _ if h.dead => {}
            Op::Append(sizes) => h.append(&sizes),
            Op::Sync => h.sync(),
            Op::Fault(bytes) => h.fs.fail_writes_after(u64::from(bytes)),
            Op::Checkpoint => h.checkpoint(),
        }
    }
    h.cut_and_reopen(0xC0FFEE, true)?;
    h.append(&[10]);
    prop_assert!(!h.dead, "append after final reopen failed");
    h.sync();
    h.cut_and_reopen(1, false)?;
    Ok(())
}

fn cases() -> u32 {
    if std::env::var_os("WK_SOAK").is_some() { 5000 } else { 256 }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn acknowledged_records_survive_power_cuts(
        ops in prop::collection::vec(op(), 1..60),
        always in any::<bool>(),
        segment_size in 64u64..2048,
    ) {
        run(ops, always, segment_size)?;
    }
}
