//! `/proc/net/dev`: per-interface traffic counters, `node_network_{receive,transmit}_*_total`.

use crate::family::{MetricFamily, MetricKind};

/// Parses `/proc/net/dev`, taking the column names from its two header lines so that
/// kernels with other columns are read correctly.
pub fn parse_netdev(text: &str) -> Result<Vec<MetricFamily>, String> {
    let mut lines = text.lines();
    let _title = lines.next();
    let header = lines.next().ok_or("/proc/net/dev: missing header")?;
    let columns: Vec<&str> = header.split('|').collect();
    if columns.len() < 3 {
        return Err(format!("/proc/net/dev: unexpected header {header:?}"));
    }
    let names: Vec<String> = columns[1]
        .split_whitespace()
        .map(|c| format!("receive_{c}"))
        .chain(columns[2].split_whitespace().map(|c| format!("transmit_{c}")))
        .collect();
    let mut families: Vec<MetricFamily> = names
        .iter()
        .map(|n| {
            let (direction, what) = n.split_once('_').unwrap_or((n, ""));
            MetricFamily::new(
                format!("node_network_{n}_total"),
                format!("Network device statistic {direction}_{what}."),
                MetricKind::Counter,
            )
        })
        .collect();
    for line in lines {
        let Some((device, rest)) = line.split_once(':') else { continue };
        let device = device.trim();
        for (family, value) in families.iter_mut().zip(rest.split_whitespace()) {
            let value = value.parse::<f64>().map_err(|_| format!("/proc/net/dev: {device}: bad value {value:?}"))?;
            family.push(vec![("device", device.to_owned())], value);
        }
    }
    Ok(families)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_columns_from_the_header() {
        let text = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:  697006    3762    0    0    0     0          0         0   697007    3763    0    0    0     0       0          0\n";
        let families = parse_netdev(text).unwrap();
        assert_eq!(families.len(), 16);
        assert_eq!(families[0].name, "node_network_receive_bytes_total");
        assert_eq!(families[0].samples[0].value, 697006.0);
        assert_eq!(families[8].name, "node_network_transmit_bytes_total");
        assert_eq!(families[8].samples[0].value, 697007.0);
        assert_eq!(families[13].name, "node_network_transmit_colls_total");
        assert!(parse_netdev("x\n").is_err());
    }
}
