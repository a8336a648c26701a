//! Many appenders on many threads, with a reader running alongside.

use std::sync::atomic::{AtomicBool, Ordering};

use wk_model::{Labels, Matcher, Sample};
use wk_storage::{Appender, Querier};
use wk_tsdb::{Head, HeadOptions};

#[test]
fn parallel_appenders_lose_nothing() {
    let head = Head::new(HeadOptions::default()).unwrap();
    let done = AtomicBool::new(false);
    const THREADS: usize = 4;
    const SERIES: usize = 200;
    const SAMPLES: i64 = 300;
    std::thread::scope(|s| {
        for th in 0..THREADS {
            let head = &head;
            s.spawn(move || {
                let own: Vec<Labels> = (0..SERIES)
                    .map(|i| {
                        Labels::from_pairs([("__name__", "m"), ("th", &th.to_string()), ("i", &i.to_string())]).unwrap()
                    })
                    .collect();
                let shared = Labels::from_pairs([("__name__", "shared")]).unwrap();
                let mut refs = vec![None; SERIES];
                let mut app = head.appender();
                for t in 0..SAMPLES {
                    for (i, l) in own.iter().enumerate() {
                        refs[i] = Some(app.append(refs[i], l, Sample::new(t, t as f64)).unwrap());
                    }
                    // All threads race on one series with identical samples: duplicates are no-ops.
                    let _ = app.append(None, &shared, Sample::new(t, 1.0));
                    app.commit().unwrap();
                }
            });
        }
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                let q = head.querier();
                for series in q.select(&[Matcher::eq("th", "0")], 0, i64::MAX).unwrap() {
                    let series = series.unwrap();
                    let ts: Vec<i64> = series.samples.iter().map(|s| s.t).collect();
                    assert!(ts.windows(2).all(|w| w[0] < w[1]));
                }
            }
        });
        // The scope waits for the writers first because the reader only stops on `done`.
        while head.stats().samples_appended() < (THREADS * SERIES) as u64 * SAMPLES as u64 {
            std::thread::yield_now();
        }
        done.store(true, Ordering::Relaxed);
    });
    let q = head.querier();
    let all: Vec<_> = q.select(&[Matcher::eq("__name__", "m")], 0, i64::MAX).unwrap().map(Result::unwrap).collect();
    assert_eq!(all.len(), THREADS * SERIES);
    for s in all {
        assert_eq!(s.samples.len() as i64, SAMPLES);
    }
    let shared: Vec<_> = q.select(&[Matcher::eq("__name__", "shared")], 0, i64::MAX).unwrap().collect();
    assert_eq!(shared.into_iter().next().unwrap().unwrap().samples.len() as i64, SAMPLES);
}
