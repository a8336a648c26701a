//! Watchkeeper's own metrics, served on `/metrics` (see `docs/self-monitoring.md`).
//! Names follow Prometheus conventions: `watchkeeper_` prefix, base units, `_total`
//! for counters. Subsystems register their metrics into [`SelfMetrics::registry_mut`]
//! while the server is being built; afterwards the registry is read-only.

mod process;

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

pub use process::ProcessCollector;

use std::sync::{Arc, RwLock};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

/// Metrics of a subsystem that starts after the registry was built (the storage
/// engine, the host agent): it encodes its families on each scrape of `/metrics`.
pub trait LateMetrics: Send + Sync + std::fmt::Debug {
    /// Encodes the subsystem's families.
    fn encode(&self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error>;
}

#[derive(Debug, Default, Clone)]
struct Late(Arc<RwLock<Vec<Arc<dyn LateMetrics>>>>);

impl Collector for Late {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let sources = self.0.read().unwrap_or_else(|p| p.into_inner()).clone();
        for source in sources {
            source.encode(&mut encoder)?;
        }
        Ok(())
    }
}

/// Content type of the Prometheus text exposition format 0.0.4.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Content type of OpenMetrics 1.0.0 text.
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Labels of the HTTP request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route pattern that served the request (`/api/v1/query`), or `other`.
    pub handler: String,
    /// The HTTP status code.
    pub code: String,
}

/// Labels of the HTTP duration histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HandlerLabels {
    /// The route pattern that served the request.
    pub handler: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
    revision: String,
    rustc_version: String,
    target: String,
}

/// The process's own metrics and the registry that serves them.
#[derive(Debug)]
pub struct SelfMetrics {
    registry: Registry,
    /// Requests served, by handler and status code.
    pub http_requests: Family<RequestLabels, Counter>,
    /// Request latency in seconds, by handler.
    pub http_request_duration: Family<HandlerLabels, Histogram>,
    /// 1 if the last configuration reload succeeded, 0 if it failed.
    pub config_last_reload_successful: Gauge,
    /// Unix time in seconds of the last successful configuration load.
    pub config_last_reload_success_timestamp: Gauge<f64, AtomicU64>,
    /// Configuration reloads attempted, by outcome is not split: failures are
    /// `config_reload_failures`.
    pub config_reloads: Counter,
    /// Configuration reloads that failed and left the old configuration running.
    pub config_reload_failures: Counter,
    /// 1 once the server is ready to serve traffic.
    pub ready: Gauge,
    late: Late,
}

impl SelfMetrics {
    /// Builds the registry with the build info, process metrics, HTTP metrics and
    /// configuration reload state.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                revision: option_env!("WATCHKEEPER_REVISION").unwrap_or("unknown").to_owned(),
                rustc_version: option_env!("WATCHKEEPER_RUSTC_VERSION").unwrap_or("unknown").to_owned(),
                target: std::env::consts::ARCH.to_owned() + "-" + std::env::consts::OS,
            })
            .set(1);
        registry.register(
            "watchkeeper_build_info",
            "A metric with a constant '1' value labeled by version, revision and build target",
            build_info,
        );
        registry.register_collector(Box::new(ProcessCollector::new()));
        let late = Late::default();
        registry.register_collector(Box::new(late.clone()));

        let http_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "watchkeeper_http_requests",
            "HTTP requests served, by handler and status code",
            http_requests.clone(),
        );
        let http_request_duration = Family::<HandlerLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.001, 0.005, 0.025, 0.1, 0.25, 1.0, 2.5, 10.0, 60.0, 300.0])
        });
        registry.register(
            "watchkeeper_http_request_duration_seconds",
            "Time from the start of a request to the end of its response headers, by handler",
            http_request_duration.clone(),
        );
        let config_last_reload_successful = Gauge::default();
        registry.register(
            "watchkeeper_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful (1) or not (0)",
            config_last_reload_successful.clone(),
        );
        let config_last_reload_success_timestamp = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "watchkeeper_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful configuration load",
            config_last_reload_success_timestamp.clone(),
        );
        let config_reloads = Counter::default();
        registry.register(
            "watchkeeper_config_reloads",
            "Configuration reloads attempted (SIGHUP or POST /-/reload)",
            config_reloads.clone(),
        );
        let config_reload_failures = Counter::default();
        registry.register(
            "watchkeeper_config_reload_failures",
            "Configuration reloads that failed; the previous configuration stays in force",
            config_reload_failures.clone(),
        );
        let ready = Gauge::default();
        registry.register("watchkeeper_ready", "1 when the server is ready to serve traffic", ready.clone());
        Self {
            registry,
            http_requests,
            http_request_duration,
            config_last_reload_successful,
            config_last_reload_success_timestamp,
            config_reloads,
            config_reload_failures,
            ready,
            late,
        }
    }

    /// Adds a subsystem's metrics; they appear on `/metrics` from now on.
    pub fn add_late(&self, source: Arc<dyn LateMetrics>) {
        self.late.0.write().unwrap_or_else(|p| p.into_inner()).push(source);
    }

    /// Removes every late source (on shutdown, so stopped subsystems are released).
    pub fn clear_late(&self) {
        self.late.0.write().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// The registry, for subsystems to add their metrics while the server is built.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Encodes every metric; OpenMetrics when `openmetrics` is true, else the
    /// Prometheus text format 0.0.4. Returns the body and its content type.
    pub fn encode(&self, openmetrics: bool) -> (String, &'static str) {
        let mut body = String::with_capacity(8 * 1024);
        let result = if openmetrics {
            prometheus_client::encoding::text::encode(&mut body, &self.registry).map(|()| OPENMETRICS_CONTENT_TYPE)
        } else {
            prometheus_client::encoding::prometheus_text::encode(&mut body, &self.registry).map(|()| TEXT_CONTENT_TYPE)
        };
        match result {
            Ok(content_type) => (body, content_type),
            Err(_) => (String::from("# error: metrics could not be encoded\n"), TEXT_CONTENT_TYPE),
        }
    }
}

impl Default for SelfMetrics {
    fn default() -> Self {
        Self::new()
    }
}
