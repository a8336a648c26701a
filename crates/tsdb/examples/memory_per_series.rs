//! Measures heap bytes per active series with a counting global allocator.
//!
//! Run: `cargo run --release -p wk-tsdb --example memory_per_series -- [SERIES] [SAMPLES]`
//! (defaults 100000 and 120). Label sets and values come from the bench fixture
//! (node_exporter-like); the label sets handed to the head are allocated before the
//! baseline, as a scraper would hold them anyway.

use std::alloc::System;

use cap::Cap;
use wk_model::Sample;
use wk_storage::Appender;
use wk_tsdb::{Head, HeadOptions};

#[path = "../benches/fixture/node_exporter.rs"]
mod fixture;

#[global_allocator]
static ALLOC: Cap<System> = Cap::new(System, usize::MAX);

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(100_000, |a| a.parse().expect("SERIES is a number"));
    let samples: i64 = args.next().map_or(120, |a| a.parse().expect("SAMPLES is a number"));
    let labels = fixture::series(n);
    let mut values = fixture::Values::new(n);
    let mut refs = vec![None; n];
    let base = ALLOC.allocated();
    let head = Head::new(HeadOptions::default()).expect("default options are valid");
    let mut after_first = 0;
    for k in 0..samples {
        let t = fixture::T0 + k * fixture::SCRAPE_MS;
        let mut app = head.appender();
        for (i, v) in values.scrape().iter().enumerate() {
            refs[i] = Some(app.append(refs[i], &labels[i], Sample::new(t, *v)).expect("fixture samples are valid"));
        }
        app.commit().expect("head commits do not fail");
        drop(app);
        if k == 0 {
            after_first = ALLOC.allocated() - base;
        }
    }
    let total = ALLOC.allocated() - base;
    let per = |b: usize| b as f64 / n as f64;
    println!("series: {n}, samples per series: {samples}");
    println!("after 1 sample:    {after_first} bytes, {:.0} bytes/series", per(after_first));
    println!("after {samples} samples: {total} bytes, {:.0} bytes/series", per(total));
    println!(
        "chunk bytes/sample (marginal): {:.2}",
        (total - after_first) as f64 / (n as f64 * (samples - 1).max(1) as f64)
    );
    println!("head estimate: {:.0} bytes/series", per(head.heap_bytes_estimate()));
}
