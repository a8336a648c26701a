//! Metric metadata (type, help, unit) as senders report it — remote_write metadata and
//! OTLP metric descriptions — served by `/api/v1/metadata` in Prometheus's shape.
//! Kept in memory, bounded, newest report wins; it is rebuilt as senders report it
//! again (Prometheus re-sends metadata every minute).

use std::collections::BTreeMap;
use std::sync::RwLock;

use serde_json::{Value, json};
use wk_ingest::Metadata;

/// Most metric families kept; reports of new families beyond it are dropped.
pub const MAX_FAMILIES: usize = 100_000;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    kind: &'static str,
    help: String,
    unit: String,
}

/// The metadata of every metric family reported so far.
#[derive(Debug, Default)]
pub struct MetadataCache {
    families: RwLock<BTreeMap<String, Entry>>,
}

impl MetadataCache {
    /// Records what a request reported.
    pub fn record(&self, reported: &[Metadata]) {
        if reported.is_empty() {
            return;
        }
        let mut families = self.families.write().unwrap_or_else(|p| p.into_inner());
        for m in reported {
            if m.metric_family_name.is_empty() {
                continue;
            }
            if families.len() >= MAX_FAMILIES && !families.contains_key(&m.metric_family_name) {
                continue;
            }
            let entry = Entry { kind: m.metric_type.as_str(), help: m.help.clone(), unit: m.unit.clone() };
            families.insert(m.metric_family_name.clone(), entry);
        }
    }

    /// `{"name": [{"type", "help", "unit"}], …}`, at most `limit` families (0: all),
    /// only `metric` when given.
    pub fn to_json(&self, metric: Option<&str>, limit: usize) -> Value {
        let families = self.families.read().unwrap_or_else(|p| p.into_inner());
        let mut out = serde_json::Map::new();
        let selected = families.iter().filter(|(name, _)| metric.is_none_or(|m| m == name.as_str()));
        for (name, e) in selected.take(if limit == 0 { usize::MAX } else { limit }) {
            out.insert(name.clone(), json!([{ "type": e.kind, "help": e.help, "unit": e.unit }]));
        }
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wk_ingest::MetricType;

    fn meta(name: &str, kind: MetricType, help: &str) -> Metadata {
        Metadata { metric_family_name: name.into(), metric_type: kind, help: help.into(), unit: String::new() }
    }

    #[test]
    fn newest_report_wins_and_filters_apply() {
        let cache = MetadataCache::default();
        cache.record(&[meta("a_total", MetricType::Counter, "old"), meta("b", MetricType::Gauge, "B")]);
        cache.record(&[meta("a_total", MetricType::Counter, "new")]);
        let all = cache.to_json(None, 0);
        assert_eq!(all["a_total"][0]["help"], "new");
        assert_eq!(all["a_total"][0]["type"], "counter");
        assert_eq!(all["b"][0]["type"], "gauge");
        assert_eq!(cache.to_json(Some("b"), 0).as_object().unwrap().len(), 1);
        assert_eq!(cache.to_json(None, 1).as_object().unwrap().len(), 1);
    }
}
