//! Process metrics with the names every Prometheus client library uses
//! (`process_cpu_seconds_total`, `process_resident_memory_bytes`, …), read from
//! `/proc/self` on each scrape. On systems without `/proc` they are simply absent.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Reads the process's CPU, memory, file descriptor and start time figures.
#[derive(Debug)]
pub struct ProcessCollector {
    ticks_per_second: f64,
    page_size: f64,
    boot_time_seconds: Option<f64>,
}

/// A snapshot of the figures, as read from `/proc/self`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ProcessStats {
    /// User plus system CPU time in seconds.
    pub cpu_seconds: f64,
    /// Resident set size in bytes.
    pub resident_bytes: f64,
    /// Virtual memory size in bytes.
    pub virtual_bytes: f64,
    /// Start time since the Unix epoch in seconds.
    pub start_time_seconds: f64,
    /// Number of threads.
    pub threads: f64,
}

impl ProcessCollector {
    /// Reads the constants it needs (clock ticks, page size, boot time) once.
    pub fn new() -> Self {
        let boot_time_seconds = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|stat| stat.lines().find_map(|line| line.strip_prefix("btime ")?.trim().parse::<f64>().ok()));
        Self {
            ticks_per_second: rustix::param::clock_ticks_per_second() as f64,
            page_size: rustix::param::page_size() as f64,
            boot_time_seconds,
        }
    }

    /// Reads `/proc/self/stat` now; `None` where it is missing or unreadable.
    pub fn stats(&self) -> Option<ProcessStats> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // The command name (field 2) may contain spaces and parentheses: split after
        // the last ')'. The fields after it start with field 3 (state).
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<f64>().ok());
        Some(ProcessStats {
            cpu_seconds: (field(14)? + field(15)?) / self.ticks_per_second,
            threads: field(20)?,
            start_time_seconds: self.boot_time_seconds? + field(22)? / self.ticks_per_second,
            virtual_bytes: field(23)?,
            resident_bytes: field(24)? * self.page_size,
        })
    }
}

impl Default for ProcessCollector {
    fn default() -> Self {
        Self::new()
    }
}

fn open_fds() -> Option<f64> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count() as f64)
}

fn max_fds() -> Option<f64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current.map(|n| n as f64)
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        if let Some(stats) = self.stats() {
            let cpu = ConstCounter::new(stats.cpu_seconds);
            cpu.encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds",
                None,
                cpu.metric_type(),
            )?)?;
            let gauges = [
                ("process_resident_memory_bytes", "Resident memory size in bytes", stats.resident_bytes),
                ("process_virtual_memory_bytes", "Virtual memory size in bytes", stats.virtual_bytes),
                (
                    "process_start_time_seconds",
                    "Start time of the process since unix epoch in seconds",
                    stats.start_time_seconds,
                ),
                ("process_threads", "Number of OS threads in the process", stats.threads),
            ];
            for (name, help, value) in gauges {
                encode_gauge(&mut encoder, name, help, value)?;
            }
        }
        if let Some(open) = open_fds() {
            encode_gauge(&mut encoder, "process_open_fds", "Number of open file descriptors", open)?;
        }
        if let Some(max) = max_fds() {
            encode_gauge(&mut encoder, "process_max_fds", "Maximum number of open file descriptors", max)?;
        }
        Ok(())
    }
}

fn encode_gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: f64,
) -> Result<(), std::fmt::Error> {
    let gauge = ConstGauge::new(value);
    gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_plausible_figures_from_proc() {
        let collector = ProcessCollector::new();
        let before = collector.stats().expect("/proc/self/stat readable on Linux");
        // Burn a little CPU so the counter can only go up.
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let after = collector.stats().unwrap();
        assert!(after.cpu_seconds >= before.cpu_seconds);
        assert!(after.resident_bytes > 1_000_000.0, "rss {}", after.resident_bytes);
        assert!(after.virtual_bytes >= after.resident_bytes);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
        assert!(after.start_time_seconds <= now + 1.0 && after.start_time_seconds > now - 3600.0);
        assert!(open_fds().unwrap() >= 3.0);
        assert!(max_fds().unwrap() >= open_fds().unwrap());
    }
}
