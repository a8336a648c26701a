//! Golden outputs: every hand-made seed payload in `fuzz/corpus/<target>/seed-*`
//! is decoded and rendered as text, and the text must equal
//! `testdata/golden/<target>/<seed>.txt`. A diff *is* the failure; review it.
//!
//! Regenerate with `WK_BLESS=1 cargo test -p wk-ingest --test golden`.

use std::fmt::Write;
use std::fs;
use std::path::Path;

use wk_ingest::fuzzing::TARGETS;
use wk_ingest::{Batch, Result};

fn render(outcome: &Result<Batch>) -> String {
    let batch = match outcome {
        Ok(batch) => batch,
        Err(e) => return format!("error {}: {e}\n", e.http_status()),
    };
    let mut out = String::new();
    for s in &batch.series {
        let labels: Vec<String> = s.labels.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
        let samples: Vec<String> = s
            .samples
            .iter()
            .map(|x| {
                if x.v.is_nan() {
                    format!("NaN(0x{:016x})@{}", x.v.to_bits(), x.t_ms)
                } else {
                    format!("{:?}@{}", x.v, x.t_ms)
                }
            })
            .collect();
        writeln!(out, "series {{{}}} {}", labels.join(", "), samples.join(" ")).unwrap();
    }
    for m in &batch.metadata {
        writeln!(
            out,
            "metadata {} {} unit={:?} help={:?}",
            m.metric_family_name,
            m.metric_type.as_str(),
            m.unit,
            m.help
        )
        .unwrap();
    }
    for r in &batch.rejections {
        writeln!(out, "rejected {r} (samples={})", r.samples).unwrap();
    }
    writeln!(out, "stats {:?}", batch.stats).unwrap();
    out
}

#[test]
fn seed_payloads_match_golden_outputs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bless = std::env::var_os("WK_BLESS").is_some();
    let mut failures = Vec::new();
    for target in TARGETS {
        let mut seeds: Vec<_> = fs::read_dir(root.join("fuzz/corpus").join(target))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("seed-"))
            .collect();
        seeds.sort();
        for seed in seeds {
            let got = render(&wk_ingest::fuzz_decode(target, &fs::read(&seed).unwrap()).unwrap());
            let stem = seed.file_stem().unwrap().to_string_lossy().into_owned();
            let golden = root.join("testdata/golden").join(target).join(format!("{stem}.txt"));
            if bless {
                fs::create_dir_all(golden.parent().unwrap()).unwrap();
                fs::write(&golden, &got).unwrap();
                continue;
            }
            let want = fs::read_to_string(&golden).unwrap_or_default();
            if got != want {
                failures.push(format!("{}:\n--- want\n{want}+++ got\n{got}", golden.display()));
            }
        }
    }
    assert!(failures.is_empty(), "golden outputs differ (WK_BLESS=1 regenerates):\n{}", failures.join("\n"));
}
