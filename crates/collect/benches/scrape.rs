//! `collect/scrape_write`: the per-scrape processing cost of one target, without the
//! network: parse a 1,000-series node_exporter-like exposition, build (or find in the
//! cache) each series' labels, and append everything plus the synthetic series into a
//! TSDB head in one committed batch. Each iteration is one scrape 15 s after the
//! previous, so the steady state (all series cached) is what is measured; a second
//! case runs a metric relabeling rule on every new series and always misses the cache
//! (the cost of a target's first scrape).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wk_collect::scrape::{
    Fetched, JobSettings, Populated, ScrapeConfig, ScrapeDefaults, ScrapeWriter, TargetGroup, populate,
};
use wk_config::{Location, Problems, PromDuration};
use wk_tsdb::{Head, HeadOptions};

const SERIES: usize = 1_000;

/// A node_exporter-like body: counters and gauges with `cpu`, `mode`, `device`,
/// `mountpoint` labels, HELP and TYPE lines, 1,000 samples.
fn exposition() -> String {
    let mut out = String::new();
    let modes = ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"];
    out.push_str("# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n");
    out.push_str("# TYPE node_cpu_seconds_total counter\n");
    let mut n = 0;
    for cpu in 0..32 {
        for mode in modes {
            out.push_str(&format!("node_cpu_seconds_total{{cpu=\"{cpu}\",mode=\"{mode}\"}} {}.25\n", 1000 + n));
            n += 1;
        }
    }
    let families = [
        "node_disk_read_bytes_total",
        "node_disk_written_bytes_total",
        "node_network_receive_bytes_total",
        "node_network_transmit_bytes_total",
        "node_filesystem_avail_bytes",
        "node_filesystem_size_bytes",
    ];
    let mut family = 0;
    while n < SERIES {
        let name = families[family % families.len()];
        out.push_str(&format!("# HELP {name} A figure.\n# TYPE {name} gauge\n"));
        for device in 0..100 {
            if n == SERIES {
                break;
            }
            out.push_str(&format!(
                "{name}{{device=\"dev{device}\",fstype=\"ext4\",mountpoint=\"/mnt/data{device}\"}} {}e+06\n",
                n * 7
            ));
            n += 1;
        }
        family += 1;
    }
    out
}

fn job(metric_relabel: bool) -> Arc<JobSettings> {
    let mut yaml = "job_name: node\n".to_owned();
    if metric_relabel {
        yaml.push_str("metric_relabel_configs: [{source_labels: [__name__], regex: 'go_.*', action: drop}]\n");
    }
    let mut config: ScrapeConfig = serde_saphyr::from_str(&yaml).unwrap();
    let defaults = ScrapeDefaults {
        scrape_interval: PromDuration::from_secs(15),
        scrape_timeout: PromDuration::from_secs(10),
        ..Default::default()
    };
    config.finalize(&defaults, Location::UNKNOWN, &mut Problems::default());
    Arc::new(JobSettings::new(&config).unwrap())
}

fn writer(job: &Arc<JobSettings>) -> ScrapeWriter {
    let group = TargetGroup {
        source: "static/0".to_owned(),
        targets: vec![BTreeMap::from([("__address__".to_owned(), "host-1.example:9100".to_owned())])],
        labels: BTreeMap::new(),
    };
    let Ok(Populated::Active(target)) = populate(&job.config, &job.target_rules, &group, &group.targets[0]) else {
        panic!("target not active")
    };
    ScrapeWriter::new(job.clone(), &target)
}

fn bench(c: &mut Criterion) {
    let fetched = Fetched {
        body: exposition().into_bytes(),
        content_type: Some("text/plain; version=0.0.4".to_owned()),
        status: http::StatusCode::OK,
    };
    let mut group = c.benchmark_group("collect/scrape_write");
    group.throughput(Throughput::Elements(SERIES as u64));

    for (name, relabel) in [("1000_series_cached", false), ("1000_series_cached_metric_relabel", true)] {
        let job = job(relabel);
        let head = Head::new(HeadOptions::default()).unwrap();
        let mut writer = writer(&job);
        let mut t = 1_700_000_000_000i64;
        group.bench_function(name, |b| {
            b.iter(|| {
                t += 15_000;
                let outcome = writer.write(&head, Ok(&fetched), t, Duration::from_millis(3));
                assert!(outcome.error.is_none(), "{outcome:?}");
            })
        });
    }

    // A fresh writer per scrape: every series misses the cache and has its labels
    // built (and looked up in the head) from scratch, as on a target's first scrape.
    let job = job(true);
    let head = Head::new(HeadOptions::default()).unwrap();
    let mut t = 1_700_000_000_000i64;
    group.bench_function("1000_series_uncached_metric_relabel", |b| {
        b.iter(|| {
            t += 15_000;
            let mut writer = writer(&job);
            let outcome = writer.write(&head, Ok(&fetched), t, Duration::from_millis(3));
            assert!(outcome.error.is_none(), "{outcome:?}");
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
