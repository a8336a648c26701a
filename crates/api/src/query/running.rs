//! The queries running now, for `/api/v1/status/queries`, and the slow-query log.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

#[derive(Debug)]
struct Entry {
    kind: &'static str,
    query: String,
    started: Instant,
    started_at: SystemTime,
}

/// The registry of running queries.
#[derive(Debug, Default)]
pub(crate) struct RunningQueries {
    next: AtomicU64,
    entries: Mutex<BTreeMap<u64, Entry>>,
}

/// Removes its query from the registry when dropped, logging it if it was slow. It
/// lives with the evaluation itself, so a query leaves the list only when its work
/// has really stopped.
pub(crate) struct Registration {
    registry: Arc<RunningQueries>,
    id: u64,
    threshold: Duration,
}

impl RunningQueries {
    /// Registers a query until the returned guard is dropped.
    pub(crate) fn start(self: &Arc<Self>, kind: &'static str, query: &str, threshold: Duration) -> Registration {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let entry = Entry { kind, query: query.to_owned(), started: Instant::now(), started_at: SystemTime::now() };
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).insert(id, entry);
        Registration { registry: self.clone(), id, threshold }
    }

    /// The running queries, oldest first.
    pub(crate) fn snapshot(&self) -> Value {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        Value::Array(
            entries
                .iter()
                .map(|(id, e)| {
                    json!({
                        "id": id,
                        "type": e.kind,
                        "query": e.query,
                        "startedAt": e.started_at.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0),
                        "elapsedSeconds": e.started.elapsed().as_secs_f64(),
                    })
                })
                .collect(),
        )
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let entry = self.registry.entries.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.id);
        if let Some(entry) = entry {
            let took = entry.started.elapsed();
            if took >= self.threshold {
                tracing::warn!(kind = entry.kind, query = %entry.query, seconds = took.as_secs_f64(), "slow query");
            }
        }
    }
}
