//! `ingest/exposition_parse`: parsing a real 237-family exposition (Prometheus's own
//! `/metrics`, from the upstream test corpus), in samples per second.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wk_ingest::exposition::{Entry, Format, Parser};

fn corpus() -> Vec<u8> {
    let path =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/testdata/prometheus/textparse/alltypes.237mfs.prom.txt");
    std::fs::read(path).expect("upstream corpus")
}

fn parse(c: &mut Criterion) {
    let body = corpus();
    let samples =
        Parser::new(&body, Format::PrometheusText).unwrap().filter(|e| matches!(e, Ok(Entry::Sample(_)))).count();
    let mut group = c.benchmark_group("ingest/exposition_parse");
    group.throughput(Throughput::Elements(samples as u64));
    group.bench_function("prometheus_text_237mfs", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for entry in Parser::new(std::hint::black_box(&body), Format::PrometheusText).unwrap() {
                if let Ok(Entry::Sample(s)) = entry {
                    n += s.labels.len() + 1;
                }
            }
            n
        })
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
