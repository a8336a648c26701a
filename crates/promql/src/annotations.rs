//! PromQL annotations: warnings and infos that accompany a result.
//!
//! The texts are Prometheus's (`PromQL warning: ...`, `PromQL info: ...`). The
//! parser we use does not track positions, so the ` (line:col)` suffix Prometheus
//! appends is left out.

use std::collections::BTreeSet;

/// Warnings and infos collected while a query ran, deduplicated and sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotations {
    /// `PromQL warning: ...` messages: the result may be wrong or incomplete.
    pub warnings: BTreeSet<String>,
    /// `PromQL info: ...` messages: the query may not do what its author meant.
    pub infos: BTreeSet<String>,
}

impl Annotations {
    /// Adds a warning; `msg` is the text after `PromQL warning: `.
    pub fn warn(&mut self, msg: impl AsRef<str>) {
        self.warnings.insert(format!("PromQL warning: {}", msg.as_ref()));
    }

    /// Adds an info; `msg` is the text after `PromQL info: `.
    pub fn info(&mut self, msg: impl AsRef<str>) {
        self.infos.insert(format!("PromQL info: {}", msg.as_ref()));
    }

    /// Returns true when there is neither a warning nor an info.
    pub fn is_empty(&self) -> bool {
        self.warnings.is_empty() && self.infos.is_empty()
    }
}
