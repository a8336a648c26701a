//! Cardinality statistics, the data behind `/api/v1/status/tsdb`.

use super::registry::Index;

/// Series counts by metric name, label name and label pair, each list sorted by
/// count (descending, then name) and cut to the requested top N. Owned copies; the
/// report does not borrow the index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CardinalityReport {
    /// Number of series in the head.
    pub num_series: u64,
    /// Number of distinct label pairs.
    pub num_label_pairs: u64,
    /// `(metric name, series)`.
    pub series_count_by_metric_name: Vec<(String, u64)>,
    /// `(label name, series having the label)`.
    pub series_count_by_label_name: Vec<(String, u64)>,
    /// `(label name, distinct values)`.
    pub label_value_count_by_label_name: Vec<(String, u64)>,
    /// `("name=value", series)`.
    pub series_count_by_label_pair: Vec<(String, u64)>,
}

fn top(mut v: Vec<(String, u64)>, n: usize) -> Vec<(String, u64)> {
    v.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

impl Index {
    /// Builds a [`CardinalityReport`] keeping the `top_n` largest entries per list.
    /// Costs one pass over the label pairs (not over series).
    pub fn cardinality(&self, top_n: usize) -> CardinalityReport {
        let s = |id| self.strings.resolve(id).to_owned();
        let metrics = self.per_metric().map(|(v, n)| (s(v), u64::from(n))).collect();
        let mut by_name = Vec::new();
        let mut values_by_name = Vec::new();
        let mut pairs = Vec::new();
        for name in self.postings.names() {
            let values = self.postings.values(name);
            let mut series = 0;
            for &v in values {
                let n = self.postings.get(name, v).map_or(0, roaring::RoaringBitmap::len);
                series += n;
                pairs.push((format!("{}={}", s(name), s(v)), n));
            }
            by_name.push((s(name), series));
            values_by_name.push((s(name), values.len() as u64));
        }
        CardinalityReport {
            num_series: self.len() as u64,
            num_label_pairs: self.postings.pair_count() as u64,
            series_count_by_metric_name: top(metrics, top_n),
            series_count_by_label_name: top(by_name, top_n),
            label_value_count_by_label_name: top(values_by_name, top_n),
            series_count_by_label_pair: top(pairs, top_n),
        }
    }
}

#[cfg(test)]
mod tests {
    use wk_model::Labels;

    use super::*;

    #[test]
    fn counts_and_orders() {
        let mut idx = Index::default();
        for (i, (m, cpu)) in [("a", "0"), ("a", "1"), ("b", "0")].into_iter().enumerate() {
            let l = Labels::from_pairs([("__name__", m), ("cpu", cpu)]).unwrap();
            idx.create(&l, i as u64);
        }
        let r = idx.cardinality(2);
        assert_eq!(r.num_series, 3);
        assert_eq!(r.num_label_pairs, 4);
        assert_eq!(r.series_count_by_metric_name, [("a".into(), 2), ("b".into(), 1)]);
        assert_eq!(r.series_count_by_label_name, [("__name__".into(), 3), ("cpu".into(), 3)]);
        assert_eq!(r.label_value_count_by_label_name[0], ("__name__".into(), 2));
        assert_eq!(r.series_count_by_label_pair, [("__name__=a".into(), 2), ("cpu=0".into(), 2)]);
    }
}
