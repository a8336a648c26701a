//! `tsdb/head_append`: samples per second appended to the head, one scrape
//! (one sample for every series) per iteration, with cached series refs as a scrape
//! loop holds them, on one and on two threads; plus a lookup-by-labels variant.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use wk_model::{Labels, Sample};
use wk_storage::{Appender, SeriesRef};
use wk_tsdb::{Head, HeadOptions};

#[path = "fixture/node_exporter.rs"]
mod fixture;

struct Setup {
    head: Head,
    labels: Vec<Labels>,
    refs: Vec<Option<SeriesRef>>,
    values: fixture::Values,
    t: i64,
}

impl Setup {
    fn new(n: usize) -> Self {
        let head = Head::new(HeadOptions::default()).unwrap();
        let labels = fixture::series(n);
        let mut values = fixture::Values::new(n);
        let mut app = head.appender();
        let refs = values
            .scrape()
            .iter()
            .zip(&labels)
            .map(|(v, l)| Some(app.append(None, l, Sample::new(fixture::T0, *v)).unwrap()))
            .collect();
        app.commit().unwrap();
        drop(app);
        Self { head, labels, refs, values, t: fixture::T0 }
    }

    fn scrape(&mut self, threads: usize, hints: bool) {
        self.t += fixture::SCRAPE_MS;
        let (t, head, labels, refs) = (self.t, &self.head, &self.labels, &self.refs);
        let values = self.values.scrape();
        let per = labels.len().div_ceil(threads);
        let work = |part: usize| {
            let mut app = head.appender();
            let range = part * per..((part + 1) * per).min(labels.len());
            for i in range {
                let hint = if hints { refs[i] } else { None };
                black_box(app.append(hint, &labels[i], Sample::new(t, values[i])).unwrap());
            }
            app.commit().unwrap();
        };
        if threads == 1 {
            work(0);
        } else {
            std::thread::scope(|s| {
                for part in 0..threads {
                    s.spawn(move || work(part));
                }
            });
        }
    }
}

fn head_append(c: &mut Criterion) {
    let mut g = c.benchmark_group("tsdb/head_append");
    for n in [10_000usize, 100_000] {
        g.throughput(Throughput::Elements(n as u64));
        for threads in [1usize, 2] {
            let mut setup = Setup::new(n);
            g.bench_function(BenchmarkId::new(format!("{threads}thread"), n), |b| {
                b.iter(|| setup.scrape(threads, true))
            });
        }
        let mut setup = Setup::new(n);
        g.bench_function(BenchmarkId::new("1thread_label_lookup", n), |b| b.iter(|| setup.scrape(1, false)));
    }
    g.finish();
}

criterion_group!(benches, head_append);
criterion_main!(benches);
