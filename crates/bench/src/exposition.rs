//! A node_exporter-like scrape target body in the Prometheus text format (0.0.4).
//!
//! [`Catalogue::new`] lays out `series` series per target in families as
//! node_exporter writes them (`# HELP`, `# TYPE`, then the family's samples), and
//! pre-renders every line up to its value. Per 54 series ("a unit": 4 CPUs, a NIC, a
//! disk, a filesystem and an HTTP handler) there are 32 `node_cpu_seconds_total{cpu,
//! mode}` counters, 4 `node_network_*_total{device}` counters, 3 `node_disk_*_total
//! {device}` counters, 3 `node_filesystem_*{device,fstype,mountpoint}` gauges and a
//! 10-bucket `node_http_request_duration_seconds{handler}` histogram (12 series);
//! once per target 10 `node_memory_*_bytes` gauges and `node_load1/5/15`; the
//! remainder are `node_hwmon_temp_celsius{chip,sensor}` gauges. 1,000 series are 18
//! units, 13 fixed gauges and 15 temperatures.
//!
//! [`Catalogue::render`] writes one scrape of one target: values are a pure function
//! of (target, series, step), counters never decrease and histogram buckets are
//! cumulative in `le`, and every series moves at every step, so a scraper can dedupe
//! nothing. Rendering is string copies plus integer formatting, a few microseconds
//! per 100 series.

use std::io::Write;

use crate::generator::{BUCKETS, MODES, mix};

const MEMORY: [&str; 10] = [
    "MemTotal",
    "MemFree",
    "MemAvailable",
    "Buffers",
    "Cached",
    "Active",
    "Inactive",
    "Dirty",
    "SwapTotal",
    "SwapFree",
];
/// Series per unit (see the module documentation).
pub const SERIES_PER_UNIT: usize = 32 + 4 + 3 + 3 + BUCKETS.len() + 2;
/// Seeds of histogram series: `HISTOGRAM_KEY | unit`, apart from series indexes.
const HISTOGRAM_KEY: u64 = 1 << 40;
/// Series written once per target: memory gauges and load averages.
pub const FIXED_SERIES: usize = MEMORY.len() + 3;

/// How a series' value moves and prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Value {
    /// CPU seconds: grows 3.51–10.49 per step, two decimals.
    CpuSeconds,
    /// A byte or packet counter: grows up to 100,000 per step, integer.
    Bytes,
    /// A gauge of bytes drifting by up to 1 MiB per step, integer.
    GaugeBytes,
    /// A load average or temperature: two decimals, 0–99.99.
    Small,
    /// Histogram bucket `j` (cumulative: `(j + 1) / 10` of the count).
    Bucket(u8),
    /// Histogram `_sum`: 0.042 s per observation, three decimals.
    Sum,
    /// Histogram `_count`: grows by 10–19 per step.
    Count,
}

/// One target's body, pre-rendered up to the values.
#[derive(Debug)]
pub struct Catalogue {
    pieces: Vec<Piece>,
    series: usize,
    text_bytes: usize,
}

#[derive(Debug)]
enum Piece {
    /// `# HELP` / `# TYPE` lines.
    Text(String),
    /// The series' name and labels with a trailing space, and what its value is.
    Sample { prefix: String, value: Value, seed: u64 },
}

impl Catalogue {
    /// The layout of `series` series per target.
    pub fn new(series: usize) -> Self {
        let units = series.saturating_sub(FIXED_SERIES) / SERIES_PER_UNIT;
        let mut b = Builder::default();
        b.family("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", "counter");
        for cpu in 0..4 * units {
            for mode in MODES {
                b.sample(format!("node_cpu_seconds_total{{cpu=\"{cpu}\",mode=\"{mode}\"}}"), Value::CpuSeconds);
            }
        }
        for (name, help) in [
            ("node_network_receive_bytes_total", "Network device statistic receive_bytes."),
            ("node_network_transmit_bytes_total", "Network device statistic transmit_bytes."),
            ("node_network_receive_packets_total", "Network device statistic receive_packets."),
            ("node_network_transmit_packets_total", "Network device statistic transmit_packets."),
        ] {
            b.family(name, help, "counter");
            (0..units).for_each(|u| b.sample(format!("{name}{{device=\"eth{u}\"}}"), Value::Bytes));
        }
        for (name, help) in [
            ("node_disk_read_bytes_total", "The total number of bytes read successfully."),
            ("node_disk_written_bytes_total", "The total number of bytes written successfully."),
            ("node_disk_io_time_seconds_total", "Total seconds spent doing I/Os."),
        ] {
            b.family(name, help, "counter");
            (0..units).for_each(|u| b.sample(format!("{name}{{device=\"vd{u}\"}}"), Value::Bytes));
        }
        for (name, help) in [
            ("node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes."),
            ("node_filesystem_size_bytes", "Filesystem size in bytes."),
            ("node_filesystem_free_bytes", "Filesystem free space in bytes."),
        ] {
            b.family(name, help, "gauge");
            for u in 0..units {
                let labels = format!("device=\"/dev/vd{u}1\",fstype=\"ext4\",mountpoint=\"/srv/volume{u}\"");
                b.sample(format!("{name}{{{labels}}}"), Value::GaugeBytes);
            }
        }
        let hist = "node_http_request_duration_seconds";
        b.family(hist, "Latency of HTTP requests by handler.", "histogram");
        for u in 0..units {
            let handler = format!("handler=\"/api/v1/handler{u}\"");
            let key = HISTOGRAM_KEY | u as u64;
            for (j, le) in BUCKETS.iter().enumerate() {
                b.keyed(format!("{hist}_bucket{{{handler},le=\"{le}\"}}"), Value::Bucket(j as u8), key);
            }
            b.keyed(format!("{hist}_sum{{{handler}}}"), Value::Sum, key);
            b.keyed(format!("{hist}_count{{{handler}}}"), Value::Count, key);
        }
        for gauge in MEMORY {
            let name = format!("node_memory_{gauge}_bytes");
            b.family(&name, &format!("Memory information field {gauge}_bytes."), "gauge");
            b.sample(name, Value::GaugeBytes);
        }
        for load in ["node_load1", "node_load5", "node_load15"] {
            b.family(load, "Load average.", "gauge");
            b.sample(load.to_owned(), Value::Small);
        }
        b.truncate(series);
        let temps = series - b.series;
        if temps > 0 {
            b.family("node_hwmon_temp_celsius", "Hardware monitor for temperature (input).", "gauge");
            for s in 0..temps {
                b.sample(
                    format!("node_hwmon_temp_celsius{{chip=\"platform_coretemp_0\",sensor=\"temp{s}\"}}"),
                    Value::Small,
                );
            }
        }
        let text_bytes = b.pieces.iter().map(Piece::text_len).sum();
        Self { pieces: b.pieces, series: b.series, text_bytes }
    }

    /// Series per target.
    pub fn series(&self) -> usize {
        self.series
    }

    /// Appends the body of `target`'s scrape number `step` to `out`.
    pub fn render(&self, target: u64, step: u64, out: &mut Vec<u8>) {
        out.reserve(self.text_bytes + 12 * self.series);
        let target_seed = mix(target.wrapping_add(0x5EED));
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.extend_from_slice(text.as_bytes()),
                Piece::Sample { prefix, value, seed } => {
                    out.extend_from_slice(prefix.as_bytes());
                    write_value(*value, mix(seed ^ target_seed), step, out);
                    out.push(b'\n');
                }
            }
        }
    }
}

impl Piece {
    fn text_len(&self) -> usize {
        match self {
            Piece::Text(t) => t.len(),
            Piece::Sample { prefix, .. } => prefix.len(),
        }
    }
}

#[derive(Default)]
struct Builder {
    pieces: Vec<Piece>,
    series: usize,
}

impl Builder {
    fn family(&mut self, name: &str, help: &str, kind: &str) {
        self.pieces.push(Piece::Text(format!("# HELP {name} {help}\n# TYPE {name} {kind}\n")));
    }

    fn sample(&mut self, prefix: String, value: Value) {
        self.keyed(prefix, value, self.series as u64);
    }

    /// A sample whose values derive from `key`: the series of one histogram share
    /// it, so their buckets, `_sum` and `_count` agree.
    fn keyed(&mut self, mut prefix: String, value: Value, key: u64) {
        prefix.push(' ');
        self.pieces.push(Piece::Sample { prefix, value, seed: mix(key) });
        self.series += 1;
    }

    /// Keeps the first `series` samples (only for targets smaller than the fixed part).
    fn truncate(&mut self, series: usize) {
        if self.series <= series {
            return;
        }
        let mut kept = 0;
        self.pieces.retain(|p| match p {
            Piece::Text(_) => true,
            Piece::Sample { .. } => {
                kept += 1;
                kept <= series
            }
        });
        self.series = series;
    }
}

fn write_value(value: Value, seed: u64, step: u64, out: &mut Vec<u8>) {
    let noise = mix(seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    // `write!` to a Vec cannot fail.
    let _ = match value {
        Value::CpuSeconds => {
            let cents = seed % 10_000_000 + step * 700 + 350 - noise % 350;
            write!(out, "{}.{:02}", cents / 100, cents % 100)
        }
        Value::Bytes => write!(out, "{}", seed % 1_000_000_000 + step * 100_000 + 50_000 - noise % 50_000),
        Value::GaugeBytes => write!(out, "{}", ((1 + seed % 64) << 30) - (noise % (1 << 20))),
        Value::Small => {
            let hundredths = noise % 10_000;
            write!(out, "{}.{:02}", hundredths / 100, hundredths % 100)
        }
        Value::Bucket(j) => write!(out, "{}", observations(seed, step) * (u64::from(j) + 1) / BUCKETS.len() as u64),
        Value::Sum => {
            let millis = observations(seed, step) * 42;
            write!(out, "{}.{:03}", millis / 1000, millis % 1000)
        }
        Value::Count => write!(out, "{}", observations(seed, step)),
    };
}

/// A histogram's observation count at `step`: grows by 10–19 per step.
fn observations(seed: u64, step: u64) -> u64 {
    1_000 + seed % 1_000 + step * (10 + seed % 10)
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;

    /// (series text, value) of every sample line.
    fn samples(catalogue: &Catalogue, target: u64, step: u64) -> Vec<(String, f64)> {
        let mut body = Vec::new();
        catalogue.render(target, step, &mut body);
        let body = String::from_utf8(body).unwrap();
        body.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| {
                let (series, value) = l.rsplit_once(' ').unwrap();
                (series.to_owned(), value.parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn exact_series_count_and_distinct_series() {
        for n in [1, 12, 13, 14, 66, 67, 100, 1_000, 2_500] {
            let c = Catalogue::new(n);
            assert_eq!(c.series(), n);
            let s = samples(&c, 3, 0);
            assert_eq!(s.len(), n);
            assert_eq!(s.iter().map(|(k, _)| k).collect::<HashSet<_>>().len(), n, "{n}");
        }
    }

    #[test]
    fn families_are_contiguous_with_help_and_type() {
        let mut body = Vec::new();
        Catalogue::new(1_000).render(0, 0, &mut body);
        let body = String::from_utf8(body).unwrap();
        let mut typed = HashSet::new();
        let mut current = String::new();
        for line in body.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                current = rest.split(' ').next().unwrap().to_owned();
                assert!(typed.insert(current.clone()), "family {current} typed twice");
            } else if !line.starts_with('#') {
                assert!(line.starts_with(&current), "{line} outside family {current}");
            }
        }
        assert_eq!(body.matches("node_cpu_seconds_total{").count(), 576);
    }

    #[test]
    fn counters_grow_histograms_are_cumulative_and_everything_moves() {
        let c = Catalogue::new(1_000);
        let (a, b) = (samples(&c, 7, 10), samples(&c, 7, 11));
        let mut moved = 0;
        for ((series, x), (_, y)) in a.iter().zip(&b) {
            if series.contains("_total") || series.contains("_bucket") || series.contains("_count") {
                assert!(y >= x, "{series}: {x} -> {y}");
            }
            moved += usize::from(x != y);
        }
        assert!(moved > 990, "{moved}");
        let mut buckets: HashMap<String, Vec<f64>> = HashMap::new();
        for (series, v) in &a {
            if let Some(rest) = series.strip_prefix("node_http_request_duration_seconds_bucket{handler=\"") {
                buckets.entry(rest.split('"').next().unwrap().to_owned()).or_default().push(*v);
            }
        }
        assert_eq!(buckets.len(), 18);
        for (handler, values) in buckets {
            assert!(values.is_sorted(), "{handler}: {values:?}");
            let count = a.iter().find(|(s, _)| s.contains("_count") && s.contains(&format!("\"{handler}\""))).unwrap();
            assert_eq!(values.last(), Some(&count.1));
        }
    }

    #[test]
    fn targets_differ_and_renders_repeat() {
        let c = Catalogue::new(100);
        assert_ne!(samples(&c, 1, 5), samples(&c, 2, 5));
        assert_eq!(samples(&c, 1, 5), samples(&c, 1, 5));
    }
}
