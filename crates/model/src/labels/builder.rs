//! Building validated label sets.

use super::{Labels, METRIC_NAME};
use crate::ModelError;

/// Collects label pairs in any order and builds a validated, sorted [`Labels`].
///
/// The builder owns copies of the strings it is given. Setting a name again replaces
/// its value; an empty value removes the label, as in Prometheus.
#[derive(Debug, Clone, Default)]
pub struct LabelsBuilder {
    pairs: Vec<(String, String)>,
}

impl LabelsBuilder {
    /// Creates an empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts from an existing set, for relabeling-style edits.
    pub fn from_labels(labels: &Labels) -> Self {
        let pairs = labels.iter().map(|(n, v)| (n.to_owned(), v.to_owned())).collect();
        Self { pairs }
    }

    /// Sets `name` to `value`, replacing an earlier value; an empty value deletes.
    pub fn set(&mut self, name: &str, value: &str) -> &mut Self {
        match self.pairs.iter_mut().find(|(n, _)| n == name) {
            Some(pair) => pair.1 = value.to_owned(),
            None => self.pairs.push((name.to_owned(), value.to_owned())),
        }
        self
    }

    /// Adds `name=value` as read from the wire, failing with
    /// [`ModelError::DuplicateLabelName`] when `name` was already added with another
    /// value.
    pub fn add(&mut self, name: &str, value: &str) -> crate::Result<&mut Self> {
        if let Some((_, v)) = self.pairs.iter().find(|(n, _)| n == name) {
            if v != value {
                return Err(ModelError::DuplicateLabelName { name: name.to_owned() });
            }
            return Ok(self);
        }
        self.pairs.push((name.to_owned(), value.to_owned()));
        Ok(self)
    }

    /// Removes label `name` if present.
    pub fn del(&mut self, name: &str) -> &mut Self {
        self.pairs.retain(|(n, _)| n != name);
        self
    }

    /// Validates and builds the set. Pairs with empty values are dropped. Fails with
    /// [`ModelError::InvalidLabelName`] for a name outside `[a-zA-Z_][a-zA-Z0-9_]*`
    /// and [`ModelError::InvalidMetricName`] for a `__name__` value outside
    /// `[a-zA-Z_:][a-zA-Z0-9_:]*` (the classic Prometheus rules; UTF-8 names of
    /// Prometheus 3 are not accepted yet).
    pub fn build(&self) -> crate::Result<Labels> {
        let mut pairs: Vec<(&str, &str)> =
            self.pairs.iter().filter(|(_, v)| !v.is_empty()).map(|(n, v)| (n.as_str(), v.as_str())).collect();
        pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (name, value) in &pairs {
            if !is_valid_label_name(name) {
                return Err(ModelError::InvalidLabelName { name: (*name).to_owned() });
            }
            if *name == METRIC_NAME && !is_valid_metric_name(value) {
                return Err(ModelError::InvalidMetricName { name: (*value).to_owned() });
            }
        }
        Ok(Labels::from_sorted(pairs))
    }
}

/// Returns true when `name` is a valid label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Returns true when `name` is a valid metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_valid_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_' | b':'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_follows_prometheus_rules() {
        for ok in ["a", "_a", "A9_", "__name__"] {
            assert!(is_valid_label_name(ok), "{ok}");
        }
        for bad in ["", "9a", "a-b", "a:b", "é"] {
            assert!(!is_valid_label_name(bad), "{bad}");
        }
        assert!(is_valid_metric_name("node:cpu_seconds:rate5m"));
        assert!(!is_valid_metric_name("1up"));
        let err = LabelsBuilder::new().set("a-b", "1").build().unwrap_err();
        assert_eq!(err, ModelError::InvalidLabelName { name: "a-b".into() });
        let err = LabelsBuilder::new().set(METRIC_NAME, "x y").build().unwrap_err();
        assert!(matches!(err, ModelError::InvalidMetricName { .. }));
    }

    #[test]
    fn set_replaces_and_add_rejects_conflicts() {
        let mut b = LabelsBuilder::new();
        b.set("a", "1").set("a", "2").set("b", "x").del("b");
        assert_eq!(b.build().unwrap().get("a"), Some("2"));
        let mut b = LabelsBuilder::new();
        b.add("a", "1").unwrap();
        b.add("a", "1").unwrap();
        assert!(b.add("a", "2").is_err());
    }
}
