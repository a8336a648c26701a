//! `/proc/meminfo`: every line becomes a gauge, `node_memory_<Key>_bytes` for lines in
//! kB (converted to bytes) and `node_memory_<Key>` for counts, with `(anon)`-style
//! suffixes turned into `_anon` as node_exporter does.

use crate::family::{MetricFamily, MetricKind};

/// Parses `/proc/meminfo`. Lines that do not parse are skipped (the kernel adds new
/// keys over time; none of them should hide the others).
pub fn parse_meminfo(text: &str) -> Vec<MetricFamily> {
    let mut out = Vec::with_capacity(64);
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else { continue };
        let mut parts = rest.split_whitespace();
        let Some(Ok(value)) = parts.next().map(str::parse::<f64>) else { continue };
        let key = key.trim().replace('(', "_").replace(')', "");
        let (name, value) = match parts.next() {
            Some("kB") => (format!("node_memory_{key}_bytes"), value * 1024.0),
            _ => (format!("node_memory_{key}"), value),
        };
        let help = format!("Memory information field {}.", name.trim_start_matches("node_memory_"));
        out.push(MetricFamily::new(name, help, MetricKind::Gauge).with(Vec::new(), value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_names_and_units() {
        let text = "MemTotal:       24731708 kB\nActive(anon):       1544 kB\nHugePages_Total:       0\nbogus line\n";
        let families = parse_meminfo(text);
        let names: Vec<&str> = families.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            vec!["node_memory_MemTotal_bytes", "node_memory_Active_anon_bytes", "node_memory_HugePages_Total"]
        );
        assert_eq!(families[0].samples[0].value, 24731708.0 * 1024.0);
        assert_eq!(families[2].samples[0].value, 0.0);
    }
}
