//! The `storage:` section.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use wk_config::Value;

/// Where and how data is stored.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// The data directory; `--storage.path` overrides it. Default `./data`. One process
    /// at a time may use it (a lock file guards it). Changing it needs a restart.
    pub path: PathBuf,
    /// Prometheus's `storage.tsdb` settings, accepted for compatibility.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tsdb: Option<Value>,
    /// Prometheus's `storage.exemplars` settings, accepted for compatibility.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exemplars: Option<Value>,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self { path: PathBuf::from("data"), tsdb: None, exemplars: None }
    }
}
