//! The decoder behind each fuzz target, shared by `fuzz/fuzz_targets/*` and the
//! corpus test (`tests/fuzz_corpus.rs`) so that both exercise the same code.
//!
//! Besides "no panic", every successful decode is checked against the batch
//! invariants documented on [`Batch`] and [`Series`](crate::Series); a violation
//! panics, which the fuzzer reports as a crash.

use crate::batch::{Batch, METRIC_NAME_LABEL};
use crate::error::Result;
use crate::influx::{self, Precision};
use crate::limits::Limits;
use crate::{RemoteWriteVersion, otlp, remote_write};

/// The fuzz target names, which are also the corpus directory names.
pub const TARGETS: [&str; 6] = ["remote_write_v1", "remote_write_v2", "snappy", "otlp_protobuf", "otlp_json", "influx"];

/// A fixed receive time for fuzzing: 2023-11-14T22:13:20Z.
const NOW_MS: i64 = 1_700_000_000_000;

/// Runs `data` through the decoder of fuzz target `target` and checks the
/// invariants of the result. Returns `None` for an unknown target name.
///
/// # Panics
///
/// Panics if a decoded batch breaks an invariant (the point of fuzzing it).
pub fn fuzz_decode(target: &str, data: &[u8]) -> Option<Result<Batch>> {
    // Small enough that a hostile length prefix cannot exhaust the fuzzer's memory.
    let limits = Limits { max_body_bytes: 1 << 20, ..Limits::default() };
    let result = match target {
        "remote_write_v1" => {
            let reference = remote_write::v1::decode(data, &limits, NOW_MS);
            check_borrowed_agrees(data, &limits, &reference);
            reference
        }
        "remote_write_v2" => remote_write::v2::decode(data, &limits, NOW_MS),
        "snappy" => {
            let mut scratch = Vec::new();
            let v2 = remote_write::decode(RemoteWriteVersion::V2, data, &limits, NOW_MS, &mut scratch);
            if let Ok(batch) = &v2 {
                check_invariants(batch, &limits);
            }
            remote_write::decode(RemoteWriteVersion::V1, data, &limits, NOW_MS, &mut scratch)
        }
        "otlp_protobuf" => otlp::decode_protobuf(data, &limits, NOW_MS),
        "otlp_json" => otlp::decode_json(data, &limits, NOW_MS),
        "influx" => influx::decode(data, Precision::Nanoseconds, &limits, NOW_MS),
        _ => return None,
    };
    if let Ok(batch) = &result {
        check_invariants(batch, &limits);
    }
    Some(result)
}

/// The borrowed decoder (the server's path) must return the reference decoder's
/// batch, and leave every request the reference rejects to it.
fn check_borrowed_agrees(data: &[u8], limits: &Limits, reference: &Result<Batch>) {
    match (remote_write::borrowed::try_decode(data, limits, NOW_MS), reference) {
        (Some(borrowed), Ok(batch)) => {
            let owned = borrowed.to_owned_batch();
            assert!(same_batch(&owned, batch), "borrowed decoder differs: {owned:?} vs {batch:?}");
        }
        (Some(_), Err(e)) => panic!("borrowed decoder accepted what the reference rejects: {e}"),
        (None, Ok(_)) => panic!("borrowed decoder refused a request the reference accepts"),
        (None, Err(_)) => {}
    }
}

/// Whether two batches are equal, with sample values compared bit for bit (so
/// that NaN equals the same NaN).
pub fn same_batch(a: &Batch, b: &Batch) -> bool {
    let bits = |s: &crate::Series| s.samples.iter().map(|x| (x.t_ms, x.v.to_bits())).collect::<Vec<_>>();
    a.series.len() == b.series.len()
        && a.series.iter().zip(&b.series).all(|(x, y)| x.labels == y.labels && bits(x) == bits(y))
        && a.metadata == b.metadata
        && a.rejections == b.rejections
        && a.stats == b.stats
}

fn check_invariants(batch: &Batch, limits: &Limits) {
    assert!(batch.series.len() <= limits.max_series_per_request, "series limit not enforced");
    for series in &batch.series {
        assert!(!series.samples.is_empty(), "series without samples: {series:?}");
        assert!(series.labels.windows(2).all(|w| w[0].0 < w[1].0), "labels not sorted and unique: {series:?}");
        assert!(series.labels.iter().all(|(n, v)| !n.is_empty() && !v.is_empty()), "empty label: {series:?}");
        assert!(series.labels.len() <= limits.max_labels_per_series, "label limit not enforced");
        assert!(series.labels.iter().any(|(n, _)| n == METRIC_NAME_LABEL), "no metric name: {series:?}");
        let horizon = NOW_MS + limits.max_future_ms;
        assert!(series.samples.iter().all(|s| s.t_ms <= horizon), "future sample kept: {series:?}");
    }
}
