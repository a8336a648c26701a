//! `/proc/diskstats`: per-device I/O counters, as node_exporter's `diskstats`
//! collector reports them (sectors are 512 bytes, times in milliseconds).

use std::sync::OnceLock;

use regex::Regex;

use crate::family::{MetricFamily, MetricKind};

/// node_exporter's default `--collector.diskstats.device-exclude`: partitions, RAM
/// disks, loop and floppy devices.
const DEVICE_EXCLUDE: &str = r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";

/// (metric name, help, field index after the device name, scale).
const FIELDS: [(&str, &str, usize, f64); 17] = [
    ("node_disk_reads_completed_total", "The total number of reads completed successfully.", 0, 1.0),
    ("node_disk_reads_merged_total", "The total number of reads merged.", 1, 1.0),
    ("node_disk_read_bytes_total", "The total number of bytes read successfully.", 2, 512.0),
    ("node_disk_read_time_seconds_total", "The total number of seconds spent by all reads.", 3, 0.001),
    ("node_disk_writes_completed_total", "The total number of writes completed successfully.", 4, 1.0),
    ("node_disk_writes_merged_total", "The number of writes merged.", 5, 1.0),
    ("node_disk_written_bytes_total", "The total number of bytes written successfully.", 6, 512.0),
    ("node_disk_write_time_seconds_total", "This is the total number of seconds spent by all writes.", 7, 0.001),
    ("node_disk_io_now", "The number of I/Os currently in progress.", 8, 1.0),
    ("node_disk_io_time_seconds_total", "Total seconds spent doing I/Os.", 9, 0.001),
    ("node_disk_io_time_weighted_seconds_total", "The weighted # of seconds spent doing I/Os.", 10, 0.001),
    ("node_disk_discards_completed_total", "The total number of discards completed successfully.", 11, 1.0),
    ("node_disk_discards_merged_total", "The total number of discards merged.", 12, 1.0),
    ("node_disk_discarded_sectors_total", "The total number of sectors discarded successfully.", 13, 1.0),
    ("node_disk_discard_time_seconds_total", "This is the total number of seconds spent by all discards.", 14, 0.001),
    ("node_disk_flush_requests_total", "The total number of flush requests completed successfully", 15, 1.0),
    (
        "node_disk_flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests.",
        16,
        0.001,
    ),
];

fn excluded(device: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(DEVICE_EXCLUDE).expect("valid device regex")).is_match(device)
}

/// Parses `/proc/diskstats`. Lines too short for the kernel's format are skipped.
pub fn parse_diskstats(text: &str) -> Vec<MetricFamily> {
    let mut families: Vec<MetricFamily> = FIELDS
        .iter()
        .map(|(name, help, _, _)| {
            let kind = if name.ends_with("_total") { MetricKind::Counter } else { MetricKind::Gauge };
            MetricFamily::new(*name, *help, kind)
        })
        .collect();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 14 || excluded(fields[2]) {
            continue;
        }
        let device = fields[2];
        let values = &fields[3..];
        for (family, (_, _, index, scale)) in families.iter_mut().zip(FIELDS) {
            if let Some(Ok(raw)) = values.get(index).map(|v| v.parse::<f64>()) {
                family.push(vec![("device", device.to_owned())], raw * scale);
            }
        }
    }
    families.retain(|f| !f.samples.is_empty());
    families
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_devices_and_skips_partitions() {
        let text = "   7       0 loop0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n 252 0 vda 100 2 2048 30 50 5 4096 70 0 90 100 0 0 0 0 7 3\n 252 1 vda1 1 0 8 1 0 0 0 0 0 1 1 0 0 0 0 0 0\n";
        let families = parse_diskstats(text);
        let get = |name: &str| families.iter().find(|f| f.name == name).unwrap();
        let read = get("node_disk_read_bytes_total");
        assert_eq!(read.samples.len(), 1, "only vda; loop0 and vda1 excluded");
        assert_eq!(read.samples[0].labels, vec![("device", "vda".to_owned())]);
        assert_eq!(read.samples[0].value, 2048.0 * 512.0);
        assert_eq!(get("node_disk_write_time_seconds_total").samples[0].value, 0.07);
        assert_eq!(get("node_disk_flush_requests_total").samples[0].value, 7.0);
    }
}
