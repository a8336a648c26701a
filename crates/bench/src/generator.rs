//! Deterministic node_exporter-like series and their values.
//!
//! Series `i` belongs to host `i / SERIES_PER_HOST` (labels
//! `instance="host-NNNNN:9100"`, `job="node"`) and is the `i % SERIES_PER_HOST`-th
//! entry of one host's catalogue: 64 `node_cpu_seconds_total{cpu,mode}` counters,
//! 12 network counters, 10 `node_memory_*` gauges, `node_load1`, and a 10-bucket
//! histogram with `_sum` and `_count`. Values are a pure function of the series
//! index and the step, so any batch can be built on its own, on any thread, and two
//! runs send the same bytes. Counters never decrease and histogram buckets are
//! cumulative in `le`.

/// Series per host; the last host of a run may be partial.
pub const SERIES_PER_HOST: usize = 100;

/// The scrape interval between steps, in milliseconds.
pub const SCRAPE_INTERVAL_MS: i64 = 15_000;

pub(crate) const MODES: [&str; 8] = ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"];
const DEVICES: [&str; 3] = ["eth0", "eth1", "lo"];
const NET_COUNTERS: [&str; 4] = [
    "node_network_receive_bytes_total",
    "node_network_transmit_bytes_total",
    "node_network_receive_packets_total",
    "node_network_transmit_packets_total",
];
const MEMORY_GAUGES: [&str; 10] = [
    "node_memory_MemTotal_bytes",
    "node_memory_MemFree_bytes",
    "node_memory_MemAvailable_bytes",
    "node_memory_Buffers_bytes",
    "node_memory_Cached_bytes",
    "node_memory_Active_bytes",
    "node_memory_Inactive_bytes",
    "node_memory_Dirty_bytes",
    "node_memory_SwapTotal_bytes",
    "node_memory_SwapFree_bytes",
];
pub(crate) const BUCKETS: [&str; 10] = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"];
const HISTOGRAM: &str = "node_exporter_scrape_duration_seconds";

// Offsets of each family in a host's catalogue.
const CPU_END: usize = 64;
const NET_END: usize = CPU_END + NET_COUNTERS.len() * DEVICES.len(); // 76
const MEM_END: usize = NET_END + MEMORY_GAUGES.len(); // 86
const LOAD: usize = MEM_END; // 86
const BUCKET_END: usize = LOAD + 1 + BUCKETS.len(); // 97
const HIST_SUM: usize = BUCKET_END; // 97
const HIST_COUNT: usize = HIST_SUM + 1; // 98
const CATALOGUE_END: usize = HIST_COUNT + 1; // 99, plus `up` below
const UP: usize = CATALOGUE_END;

const _: () = assert!(UP + 1 == SERIES_PER_HOST, "one host's catalogue must hold exactly SERIES_PER_HOST series");

/// What a series is, which decides how its value moves between steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Never decreases.
    Counter,
    /// Moves up and down.
    Gauge,
}

/// The labels of series `index`, sorted by name, `__name__` included.
pub fn labels(index: usize) -> Vec<(&'static str, String)> {
    let host = index / SERIES_PER_HOST;
    let k = index % SERIES_PER_HOST;
    let mut labels: Vec<(&'static str, String)> = Vec::with_capacity(6);
    let name = match k {
        0..CPU_END => {
            labels.push(("cpu", (k / MODES.len()).to_string()));
            labels.push(("mode", MODES[k % MODES.len()].to_owned()));
            "node_cpu_seconds_total".to_owned()
        }
        CPU_END..NET_END => {
            let j = k - CPU_END;
            labels.push(("device", DEVICES[j % DEVICES.len()].to_owned()));
            NET_COUNTERS[j / DEVICES.len()].to_owned()
        }
        NET_END..MEM_END => MEMORY_GAUGES[k - NET_END].to_owned(),
        LOAD => "node_load1".to_owned(),
        _ if k < BUCKET_END => {
            labels.push(("le", BUCKETS[k - LOAD - 1].to_owned()));
            format!("{HISTOGRAM}_bucket")
        }
        HIST_SUM => format!("{HISTOGRAM}_sum"),
        HIST_COUNT => format!("{HISTOGRAM}_count"),
        _ => "up".to_owned(),
    };
    labels.push(("__name__", name));
    labels.push(("instance", format!("host-{host:05}:9100")));
    labels.push(("job", "node".to_owned()));
    labels.sort_unstable_by(|a, b| a.0.cmp(b.0));
    labels
}

/// Whether series `index` is a counter or a gauge.
pub fn kind(index: usize) -> Kind {
    match index % SERIES_PER_HOST {
        0..NET_END => Kind::Counter,
        k if k > LOAD && k < UP => Kind::Counter, // histogram buckets, _sum and _count
        _ => Kind::Gauge,
    }
}

/// The value of series `index` at `step` (0 is the first scrape).
pub fn value(index: usize, step: u64) -> f64 {
    let k = index % SERIES_PER_HOST;
    let host = (index / SERIES_PER_HOST) as u64;
    let seed = mix(index as u64);
    let noise = mix(seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    match k {
        // CPU seconds: about 15 s per scrape shared by the modes, two decimals.
        0..CPU_END => counter(seed % 1_000_000, step, 700, noise) as f64 / 100.0,
        CPU_END..NET_END => counter(seed % 1_000_000_000, step, 50_000, noise) as f64,
        NET_END..MEM_END => {
            // Memory gauges: a per-host base that drifts by up to 1 MiB per scrape.
            let base = (1 + mix(host) % 64) << 30;
            (base - (seed % (1 << 28)) + (noise % (1 << 20))) as f64
        }
        LOAD => (noise % 400) as f64 / 100.0,
        UP => 1.0,
        _ => histogram(host, k, step),
    }
}

/// A counter that starts at `base` and grows by `step_inc / 2 .. step_inc` per step,
/// so it never decreases.
fn counter(base: u64, step: u64, step_inc: u64, noise: u64) -> u64 {
    base + step * step_inc + noise % (step_inc / 2)
}

/// Cumulative buckets, `_sum` and `_count` of one scrape-duration histogram per host.
fn histogram(host: u64, k: usize, step: u64) -> f64 {
    let scrapes = 1_000 + mix(host) % 1_000 + step;
    match k {
        HIST_SUM => scrapes as f64 * 0.042,
        HIST_COUNT => scrapes as f64,
        _ => {
            // Bucket j holds (j+1)/len of the observations; +Inf holds all of them.
            let j = (k - LOAD - 1) as u64;
            (scrapes * (j + 1) / BUCKETS.len() as u64) as f64
        }
    }
}

/// SplitMix64's finaliser: a cheap, well-spread hash of one integer.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn label<'a>(labels: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
        labels.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn every_series_of_a_run_is_distinct() {
        let n = 2 * SERIES_PER_HOST + 37;
        let all: HashSet<_> = (0..n).map(labels).collect();
        assert_eq!(all.len(), n);
    }

    #[test]
    fn label_shapes() {
        let first = labels(0);
        let names: Vec<_> = first.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["__name__", "cpu", "instance", "job", "mode"]);
        assert_eq!(label(&first, "__name__"), Some("node_cpu_seconds_total"));
        assert_eq!(label(&first, "instance"), Some("host-00000:9100"));
        assert_eq!(label(&first, "job"), Some("node"));
        assert_eq!(label(&labels(SERIES_PER_HOST * 123 + 5), "instance"), Some("host-00123:9100"));

        for i in 0..3 * SERIES_PER_HOST {
            let l = labels(i);
            assert!(l.is_sorted_by(|a, b| a.0 < b.0), "series {i}: {l:?}");
            let name = label(&l, "__name__").unwrap();
            match name {
                "node_cpu_seconds_total" => assert!(label(&l, "cpu").is_some() && label(&l, "mode").is_some()),
                n if n.starts_with("node_network_") => assert!(label(&l, "device").is_some()),
                n if n.ends_with("_bucket") => assert!(label(&l, "le").is_some()),
                _ => assert_eq!(l.len(), 3, "{l:?}"),
            }
        }
    }

    #[test]
    fn catalogue_counts() {
        let names: Vec<String> =
            (0..SERIES_PER_HOST).map(|i| label(&labels(i), "__name__").unwrap().to_owned()).collect();
        let count = |p: &dyn Fn(&str) -> bool| names.iter().filter(|n| p(n)).count();
        assert_eq!(count(&|n| n == "node_cpu_seconds_total"), 64);
        assert_eq!(count(&|n| n.starts_with("node_memory_")), 10);
        assert_eq!(count(&|n| n.ends_with("_bucket")), 10);
        assert_eq!(count(&|n| n.starts_with("node_network_")), 12);
    }

    #[test]
    fn values_are_deterministic_and_counters_never_decrease() {
        for i in 0..2 * SERIES_PER_HOST {
            let run: Vec<u64> = (0..50).map(|s| value(i, s).to_bits()).collect();
            let again: Vec<u64> = (0..50).map(|s| value(i, s).to_bits()).collect();
            assert_eq!(run, again);
            if kind(i) == Kind::Counter {
                for s in 1..50 {
                    assert!(value(i, s) >= value(i, s - 1), "series {i} step {s}");
                }
            }
        }
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        for s in 0..10 {
            let buckets: Vec<f64> = (LOAD + 1..BUCKET_END).map(|k| value(k, s)).collect();
            assert!(buckets.is_sorted(), "{buckets:?}");
            assert_eq!(buckets.last(), Some(&value(HIST_COUNT, s)));
        }
    }

    #[test]
    fn kinds() {
        assert_eq!(kind(0), Kind::Counter);
        assert_eq!(kind(NET_END), Kind::Gauge);
        assert_eq!(kind(LOAD), Kind::Gauge);
        assert_eq!(kind(LOAD + 1), Kind::Counter);
        assert_eq!(kind(HIST_COUNT), Kind::Counter);
        assert_eq!(kind(UP), Kind::Gauge);
    }
}
