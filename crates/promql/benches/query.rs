//! `promql/*`: query latency over a wk-tsdb head of node_exporter-like data:
//! 100 hosts x 100 series (CPU seconds per cpu and mode, network, disk and
//! filesystem series) plus a 10-bucket request-duration histogram per host, one
//! sample every 15 s for one hour (about 11k series, 2.6M samples).
//!
//! Range queries cover the whole hour at a 15 s step (241 steps); instant queries
//! run at the last scrape.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use wk_model::{Labels, LabelsBuilder, Sample};
use wk_promql::{Engine, Value, parse};
use wk_storage::Appender;
use wk_tsdb::{Head, HeadOptions};

const HOSTS: usize = 100;
const SCRAPE_MS: i64 = 15_000;
const SCRAPES: i64 = 241;
const T0: i64 = 1_764_000_000_000;
const END: i64 = T0 + (SCRAPES - 1) * SCRAPE_MS;
const MODES: [&str; 8] = ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"];
const BUCKETS: [&str; 10] = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"];

/// A series and how its value moves per scrape: (labels, kind).
fn series() -> Vec<(Labels, u8)> {
    let mut out = Vec::new();
    for h in 0..HOSTS {
        let instance = format!("host-{h:05}:9100");
        let base = |name: &str| {
            let mut b = LabelsBuilder::new();
            b.set("__name__", name).set("instance", &instance).set("job", "node");
            b
        };
        for cpu in 0..8 {
            for mode in MODES {
                let l = base("node_cpu_seconds_total").set("cpu", &cpu.to_string()).set("mode", mode).build();
                out.push((l.unwrap(), 0));
            }
        }
        for metric in [
            "node_network_receive_bytes_total",
            "node_network_transmit_bytes_total",
            "node_disk_read_bytes_total",
            "node_disk_written_bytes_total",
        ] {
            for d in ["eth0", "eth1", "sda", "sdb", "nvme0n1", "lo"] {
                out.push((base(metric).set("device", d).build().unwrap(), 1));
            }
        }
        for metric in ["node_filesystem_avail_bytes", "node_filesystem_free_bytes"] {
            for mp in ["/", "/home", "/var", "/boot", "/srv", "/tmp"] {
                out.push((base(metric).set("mountpoint", mp).build().unwrap(), 2));
            }
        }
        for (i, le) in BUCKETS.iter().enumerate() {
            let mut b = base("http_request_duration_seconds_bucket");
            b.set("job", "api").set("le", le);
            out.push((b.build().unwrap(), 10 + i as u8));
        }
    }
    out
}

fn build() -> Head {
    let head = Head::new(HeadOptions::default()).unwrap();
    let series = series();
    let mut values = vec![0.0f64; series.len()];
    let mut refs = vec![None; series.len()];
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for k in 0..SCRAPES {
        let mut app = head.appender();
        for (i, (labels, kind)) in series.iter().enumerate() {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            values[i] += match kind {
                0 => (rng % 1500) as f64 / 100.0,
                1 => (rng % 100_000) as f64,
                2 if rng.is_multiple_of(10) => 4096.0,
                2 => 0.0,
                b => ((*b as u64 - 9) * 10 + rng % 5) as f64,
            };
            let s = Sample::new(T0 + k * SCRAPE_MS, values[i]);
            refs[i] = Some(app.append(refs[i], labels, s).unwrap());
        }
        app.commit().unwrap();
    }
    head
}

fn size(v: &Value) -> usize {
    match v {
        Value::Vector(v) => v.len(),
        Value::Matrix(m) => m.len(),
        _ => 1,
    }
}

fn queries(c: &mut Criterion) {
    let head = build();
    let engine = Engine::default();
    let instant: &[(&str, &str, usize)] = &[
        ("raw_selector_64", "node_cpu_seconds_total{instance=\"host-00042:9100\"}", 64),
        ("regex_matcher", "node_cpu_seconds_total{mode=~\"user|system\",instance=~\"host-000[0-4].*\"}", 800),
        ("topk_rate", "topk(10, rate(node_network_receive_bytes_total[5m]))", 10),
        ("count_by_job_all", "count by (job) ({__name__=~\".+\"})", 2),
        (
            "subquery_max_rate",
            "max_over_time(rate(node_cpu_seconds_total{instance=\"host-00001:9100\"}[5m])[30m:1m])",
            64,
        ),
    ];
    let range: &[(&str, &str, usize)] = &[
        ("raw_selector_64_1h", "node_cpu_seconds_total{instance=\"host-00042:9100\"}", 64),
        ("regex_matcher_1h", "node_cpu_seconds_total{mode=~\"user|system\",instance=~\"host-000[0-4].*\"}", 800),
        ("topk_rate_1h", "topk(5, rate(node_network_receive_bytes_total[5m]))", 256),
        ("count_by_job_all_1h", "count by (job) ({__name__=~\".+\"})", 2),
        ("sum_rate_by_instance_1h", "sum by (instance) (rate(node_cpu_seconds_total[5m]))", HOSTS),
        (
            "subquery_max_rate_1h",
            "max_over_time(rate(node_cpu_seconds_total{instance=\"host-00001:9100\"}[5m])[30m:1m])",
            64,
        ),
        (
            "histogram_quantile_1h",
            "histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
            1,
        ),
    ];
    let mut g = c.benchmark_group("promql/instant");
    for (name, q, want) in instant {
        let expr = parse(q).unwrap();
        let run = || engine.instant(&head.querier(), &expr, END).unwrap().value;
        assert_eq!(size(&run()), *want, "{q}");
        g.bench_function(*name, |b| b.iter(|| black_box(run())));
    }
    g.finish();
    let mut g = c.benchmark_group("promql/range");
    g.sample_size(10);
    for (name, q, want) in range {
        let expr = parse(q).unwrap();
        let run = || engine.range(&head.querier(), &expr, T0, END, SCRAPE_MS).unwrap().value;
        assert_eq!(size(&run()), *want, "{q}");
        g.bench_function(*name, |b| b.iter(|| black_box(run())));
    }
    g.finish();
}

criterion_group!(benches, queries);
criterion_main!(benches);
