//! `/proc/loadavg`: `node_load1`, `node_load5`, `node_load15`.

use crate::family::{MetricFamily, MetricKind};

/// Parses `/proc/loadavg` (`0.52 0.58 0.59 2/432 12345`).
pub fn parse_loadavg(text: &str) -> Result<Vec<MetricFamily>, String> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let mut out = Vec::with_capacity(3);
    for (i, (name, help)) in
        [("node_load1", "1m load average."), ("node_load5", "5m load average."), ("node_load15", "15m load average.")]
            .into_iter()
            .enumerate()
    {
        let text = fields.get(i).ok_or_else(|| format!("/proc/loadavg: missing field {}", i + 1))?;
        let value = text.parse().map_err(|_| format!("/proc/loadavg: field {} is not a number: {text:?}", i + 1))?;
        out.push(MetricFamily::new(name, help, MetricKind::Gauge).with(Vec::new(), value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_three_averages() {
        let families = parse_loadavg("0.52 0.58 0.59 2/432 12345\n").unwrap();
        let values: Vec<f64> = families.iter().map(|f| f.samples[0].value).collect();
        assert_eq!(values, vec![0.52, 0.58, 0.59]);
        assert!(parse_loadavg("0.5\n").unwrap_err().contains("missing field 2"));
        assert!(parse_loadavg("a b c\n").unwrap_err().contains("not a number"));
    }
}
