//! `/proc/stat`: per-CPU time by mode, context switches, forks, interrupts, boot time
//! and process states, as node_exporter's `cpu` and `stat` collectors report them.

use crate::family::{MetricFamily, MetricKind};

/// Why `/proc/stat` could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StatError {
    /// A line had a field that is not a number.
    #[error("/proc/stat line {line}: field {field} is not a number: {text:?}")]
    NotANumber {
        /// 1-based line number.
        line: usize,
        /// 1-based field index.
        field: usize,
        /// The text found.
        text: String,
    },
    /// No per-CPU lines at all.
    #[error("/proc/stat has no cpuN lines")]
    NoCpus,
}

/// The modes of a `cpuN` line, in the kernel's order (USER_HZ ticks).
const MODES: [&str; 8] = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"];

/// Parses `/proc/stat`. `ticks_per_second` is `sysconf(_SC_CLK_TCK)` (USER_HZ).
pub fn parse_stat(text: &str, ticks_per_second: f64) -> Result<Vec<MetricFamily>, StatError> {
    let mut cpu =
        MetricFamily::new("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", MetricKind::Counter);
    let mut guest = MetricFamily::new(
        "node_cpu_guest_seconds_total",
        "Seconds the CPUs spent in guests (VMs) for each mode.",
        MetricKind::Counter,
    );
    let mut scalars = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let mut fields = line.split_whitespace();
        let Some(key) = fields.next() else { continue };
        let number = |field: usize, text: &str| {
            text.parse::<f64>().map_err(|_| StatError::NotANumber { line: index + 1, field, text: text.to_owned() })
        };
        if let Some(id) = key.strip_prefix("cpu").filter(|id| !id.is_empty()) {
            let values: Vec<&str> = fields.collect();
            for (i, mode) in MODES.iter().enumerate() {
                if let Some(text) = values.get(i) {
                    cpu.push(
                        vec![("cpu", id.to_owned()), ("mode", (*mode).to_owned())],
                        number(i + 2, text)? / ticks_per_second,
                    );
                }
            }
            for (i, mode) in [(8, "user"), (9, "nice")] {
                if let Some(text) = values.get(i) {
                    guest.push(
                        vec![("cpu", id.to_owned()), ("mode", mode.to_owned())],
                        number(i + 2, text)? / ticks_per_second,
                    );
                }
            }
            continue;
        }
        let (name, help, kind) = match key {
            "ctxt" => ("node_context_switches_total", "Total number of context switches.", MetricKind::Counter),
            "processes" => ("node_forks_total", "Total number of forks.", MetricKind::Counter),
            "intr" => ("node_intr_total", "Total number of interrupts serviced.", MetricKind::Counter),
            "btime" => ("node_boot_time_seconds", "Node boot time, in unixtime.", MetricKind::Gauge),
            "procs_running" => ("node_procs_running", "Number of processes in runnable state.", MetricKind::Gauge),
            "procs_blocked" => {
                ("node_procs_blocked", "Number of processes blocked waiting for I/O to complete.", MetricKind::Gauge)
            }
            _ => continue,
        };
        if let Some(text) = fields.next() {
            scalars.push(MetricFamily::new(name, help, kind).with(Vec::new(), number(2, text)?));
        }
    }
    if cpu.samples.is_empty() {
        return Err(StatError::NoCpus);
    }
    let mut out = vec![cpu];
    if !guest.samples.is_empty() {
        out.push(guest);
    }
    out.extend(scalars);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = "cpu  200 0 100 1000 10 0 5 0 0 0\n\
cpu0 100 0 50 500 5 0 2 0 7 1\n\
cpu1 100 0 50 500 5 0 3 0 0 0\n\
intr 2728241 0 0 1\n\
ctxt 5217007\n\
btime 1795684591\n\
processes 109464\n\
procs_running 3\n\
procs_blocked 1\n\
softirq 1603934 0 104756\n";

    #[test]
    fn parses_cpu_modes_and_counters() {
        let families = parse_stat(FIXTURE, 100.0).unwrap();
        let cpu = &families[0];
        assert_eq!(cpu.name, "node_cpu_seconds_total");
        assert_eq!(cpu.samples.len(), 16, "2 CPUs x 8 modes, aggregate line skipped");
        let idle0 = cpu
            .samples
            .iter()
            .find(|s| s.labels == vec![("cpu", "0".to_owned()), ("mode", "idle".to_owned())])
            .unwrap();
        assert_eq!(idle0.value, 5.0);
        let guest = families.iter().find(|f| f.name == "node_cpu_guest_seconds_total").unwrap();
        assert_eq!(guest.samples[0].value, 0.07);
        let get = |name: &str| families.iter().find(|f| f.name == name).unwrap().samples[0].value;
        assert_eq!(get("node_context_switches_total"), 5217007.0);
        assert_eq!(get("node_forks_total"), 109464.0);
        assert_eq!(get("node_intr_total"), 2728241.0);
        assert_eq!(get("node_boot_time_seconds"), 1795684591.0);
        assert_eq!(get("node_procs_running"), 3.0);
        assert_eq!(get("node_procs_blocked"), 1.0);
    }

    #[test]
    fn bad_numbers_are_named() {
        let err = parse_stat("cpu0 1 x 3\n", 100.0).unwrap_err();
        assert_eq!(err, StatError::NotANumber { line: 1, field: 3, text: "x".to_owned() });
        assert_eq!(parse_stat("ctxt 5\n", 100.0).unwrap_err(), StatError::NoCpus);
    }
}
