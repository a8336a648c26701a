//! Replay at scale: builds a WAL of SERIES × SCRAPES node_exporter-like samples
//! (one commit per scrape, fsync on), closes it, and times `Db::open` (which
//! replays everything into the head) RUNS times.
//!
//! Run: `cargo run --release -p wk-tsdb --example replay_scale -- [SERIES] [SCRAPES] [RUNS]`
//! (defaults 100000, 1000 and 3: 100M samples). Needs ~1 GB of disk in `TMPDIR`.
//!
//! With `WK_REPLAY_DIR=/some/dir` the data directory is kept there, and a later
//! run that finds a WAL in it skips building and only times the replays (so
//! that two builds of the code replay the very same bytes).

use std::path::PathBuf;
use std::time::Instant;

use wk_model::Sample;
use wk_storage::Appender;
use wk_tsdb::{Db, DbOptions};

#[path = "../benches/fixture/node_exporter.rs"]
mod fixture;

fn main() {
    let mut args = std::env::args().skip(1);
    let series: usize = args.next().map_or(100_000, |a| a.parse().expect("SERIES"));
    let scrapes: usize = args.next().map_or(1_000, |a| a.parse().expect("SCRAPES"));
    let runs: usize = args.next().map_or(3, |a| a.parse().expect("RUNS"));
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = std::env::var_os("WK_REPLAY_DIR").map_or_else(|| tmp.path().to_path_buf(), PathBuf::from);
    let started = Instant::now();
    if dir.join("wal").exists() {
        println!("reusing the data directory {}", dir.display());
    } else {
        let (db, _) = Db::open(&dir, DbOptions::default()).expect("open");
        let labels = fixture::series(series);
        let mut values = fixture::Values::new(series);
        let mut app = db.appender();
        let mut refs = vec![None; series];
        for scrape in 0..scrapes {
            let t = fixture::T0 + scrape as i64 * fixture::SCRAPE_MS;
            for (i, v) in values.scrape().iter().enumerate() {
                refs[i] = Some(app.append(refs[i], &labels[i], Sample::new(t, *v)).expect("append"));
            }
            app.commit().expect("commit");
        }
        drop(app);
        let stats = db.stats();
        println!(
            "built {} samples ({} WAL bytes) in {:.1?}: {:.2} M samples/s appended with fsync per {series}-sample commit",
            stats.samples_appended,
            stats.wal_bytes_written,
            started.elapsed(),
            stats.samples_appended as f64 / started.elapsed().as_secs_f64() / 1e6
        );
        db.close().expect("close");
    }
    let mut times = Vec::new();
    for run in 0..runs {
        let started = Instant::now();
        let (db, report) = Db::open(&dir, DbOptions::default()).expect("reopen");
        let secs = started.elapsed().as_secs_f64();
        println!(
            "replay {run}: {} samples in {secs:.2} s = {:.2} M samples/s",
            report.samples,
            report.samples as f64 / secs / 1e6
        );
        times.push(secs);
        db.close().expect("close");
    }
    times.sort_by(f64::total_cmp);
    println!("median replay: {:.2} s", times[times.len() / 2]);
}
