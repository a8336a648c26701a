//! The counters of each queue and its sender, and their text exposition for the
//! agent's `/metrics` (names in `docs/self-monitoring.md`).

use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Live figures of one remote_write queue. Counters only grow; gauges are set.
#[derive(Debug, Default)]
pub struct QueueMetrics {
    /// Samples written to the queue.
    pub samples_enqueued: AtomicU64,
    /// Samples the endpoint accepted (2xx).
    pub samples_sent: AtomicU64,
    /// Samples the endpoint refused for good (4xx other than 429), not retried.
    pub samples_failed: AtomicU64,
    /// Unsent samples deleted because the queue reached `agent.max_buffer_size`.
    pub samples_dropped: AtomicU64,
    /// Samples sent again after a failed attempt.
    pub samples_retried: AtomicU64,
    /// Requests answered 2xx.
    pub requests_sent: AtomicU64,
    /// Attempts that failed (connection error, timeout, 5xx, 429, 4xx).
    pub requests_failed: AtomicU64,
    /// Damaged queue records skipped.
    pub corrupt_records: AtomicU64,
    /// Gauge: samples in the queue not yet handled.
    pub pending_samples: AtomicU64,
    /// Gauge: bytes of the queue's segments on disk.
    pub disk_bytes: AtomicU64,
    /// Gauge: segment files on disk.
    pub segments: AtomicU64,
    /// Gauge: Unix time in milliseconds of the last 2xx, 0 before the first.
    pub last_success_ms: AtomicU64,
    /// The last send error and its Unix time in milliseconds.
    pub last_error: Mutex<Option<(String, u64)>>,
}

impl QueueMetrics {
    /// Records a failed attempt.
    pub fn failed(&self, error: &str) {
        self.requests_failed.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some((error.to_owned(), now_ms()));
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

type Field = fn(&QueueMetrics) -> u64;

const FAMILIES: &[(&str, &str, &str, Field)] = &[
    ("watchkeeper_agent_samples_enqueued_total", "counter", "Samples written to the disk queue.", |m| {
        m.samples_enqueued.load(Ordering::Relaxed)
    }),
    ("watchkeeper_agent_samples_sent_total", "counter", "Samples the remote endpoint accepted.", |m| {
        m.samples_sent.load(Ordering::Relaxed)
    }),
    (
        "watchkeeper_agent_samples_failed_total",
        "counter",
        "Samples refused by the endpoint with a non-retryable 4xx.",
        |m| m.samples_failed.load(Ordering::Relaxed),
    ),
    (
        "watchkeeper_agent_samples_dropped_total",
        "counter",
        "Unsent samples deleted because the queue reached agent.max_buffer_size.",
        |m| m.samples_dropped.load(Ordering::Relaxed),
    ),
    ("watchkeeper_agent_samples_retried_total", "counter", "Samples sent again after a failed attempt.", |m| {
        m.samples_retried.load(Ordering::Relaxed)
    }),
    ("watchkeeper_agent_requests_sent_total", "counter", "remote_write requests answered 2xx.", |m| {
        m.requests_sent.load(Ordering::Relaxed)
    }),
    ("watchkeeper_agent_requests_failed_total", "counter", "remote_write attempts that failed.", |m| {
        m.requests_failed.load(Ordering::Relaxed)
    }),
    ("watchkeeper_agent_queue_corrupt_records_total", "counter", "Damaged queue records skipped.", |m| {
        m.corrupt_records.load(Ordering::Relaxed)
    }),
    ("watchkeeper_agent_queue_pending_samples", "gauge", "Samples in the disk queue not yet delivered.", |m| {
        m.pending_samples.load(Ordering::Relaxed)
    }),
    ("watchkeeper_agent_queue_bytes", "gauge", "Bytes of the disk queue's segments.", |m| {
        m.disk_bytes.load(Ordering::Relaxed)
    }),
    ("watchkeeper_agent_queue_segments", "gauge", "Segment files of the disk queue.", |m| {
        m.segments.load(Ordering::Relaxed)
    }),
];

/// Encodes the figures of every `(queue name, metrics)` in the Prometheus text format.
pub fn encode(queues: &[(String, &QueueMetrics)], out: &mut String) {
    for (name, kind, help, field) in FAMILIES {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (queue, metrics) in queues {
            let _ = writeln!(out, "{name}{{queue=\"{}\"}} {}", escape(queue), field(metrics));
        }
    }
    let name = "watchkeeper_agent_last_send_success_timestamp_seconds";
    let _ = writeln!(out, "# HELP {name} Unix time of the last accepted request.\n# TYPE {name} gauge");
    for (queue, metrics) in queues {
        let ms = metrics.last_success_ms.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}{{queue=\"{}\"}} {}", escape(queue), ms as f64 / 1000.0);
    }
    let name = "watchkeeper_agent_last_send_error_info";
    let _ = writeln!(
        out,
        "# HELP {name} The last send error (label error) and, as value, its Unix time in seconds.\n# TYPE {name} gauge"
    );
    for (queue, metrics) in queues {
        if let Some((error, at)) = metrics.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            let error: String = error.chars().take(200).collect();
            let _ = writeln!(
                out,
                "{name}{{queue=\"{}\",error=\"{}\"}} {}",
                escape(queue),
                escape(&error),
                at as f64 / 1000.0
            );
        }
    }
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
