//! Status endpoints that need concrete subsystems — `/api/v1/targets` (the scrape
//! manager) and `/api/v1/status/tsdb` (the TSDB's cardinality) — and the task that
//! applies reloaded scrape configurations.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;
use wk_collect::heartbeat::{CheckInError, Heartbeats};
use wk_collect::probe::ProbeManager;
use wk_collect::scrape::ScrapeManager;

use crate::config::Config;
use crate::storage::Storage;

#[derive(Clone, Debug)]
struct StatusState {
    scrape: Arc<ScrapeManager>,
    storage: Storage,
    runtime: Arc<RuntimeInfo>,
    heartbeats: Arc<Heartbeats>,
}

/// What `/api/v1/status/runtimeinfo` and `/api/v1/status/flags` report.
#[derive(Debug)]
pub struct RuntimeInfo {
    /// When the server started.
    pub start_time: std::time::SystemTime,
    /// The live configuration (for the reload state).
    pub config: Arc<crate::reload::LiveConfig>,
    /// The metrics (for the reload timestamp).
    pub metrics: Arc<crate::self_metrics::SelfMetrics>,
    /// The command-line settings, as `name → value`.
    pub flags: std::collections::BTreeMap<String, String>,
}

/// The status routes.
pub fn router(
    scrape: Arc<ScrapeManager>,
    storage: Storage,
    runtime: RuntimeInfo,
    heartbeats: Arc<Heartbeats>,
) -> Router {
    Router::new()
        .route("/api/v1/heartbeat/{name}", axum::routing::post(heartbeat).get(heartbeat))
        .route("/api/v1/targets", get(targets))
        .route("/api/v1/status/tsdb", get(tsdb))
        .route("/api/v1/status/runtimeinfo", get(runtimeinfo))
        .route("/api/v1/status/flags", get(flags))
        .with_state(StatusState { scrape, storage, runtime: Arc::new(runtime), heartbeats })
}

async fn runtimeinfo(State(state): State<StatusState>) -> Response {
    let rfc3339 = |t: std::time::SystemTime| {
        let secs = t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
    };
    let runtime = &state.runtime;
    let last_reload = runtime.metrics.config_last_reload_success_timestamp.get();
    let stats = state.storage.db().stats();
    axum::Json(json!({
        "status": "success",
        "data": {
            "startTime": rfc3339(runtime.start_time),
            "CWD": std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default(),
            "reloadConfigSuccess": runtime.metrics.config_last_reload_successful.get() == 1,
            "lastConfigTime": rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(last_reload.max(0.0))),
            "corruptionCount": stats.wal_corruptions,
            "goroutineCount": 0,
            "GOMAXPROCS": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "GOGC": "",
            "GODEBUG": "",
            "storageRetention": "unlimited (retention arrives with on-disk blocks)",
        }
    }))
    .into_response()
}

async fn flags(State(state): State<StatusState>) -> Response {
    axum::Json(json!({ "status": "success", "data": state.runtime.flags })).into_response()
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[derive(Debug, Deserialize)]
struct TargetsParams {
    state: Option<String>,
}

async fn targets(State(state): State<StatusState>, Query(params): Query<TargetsParams>) -> Response {
    let report = state.scrape.targets();
    let mut data = serde_json::to_value(&report).unwrap_or_else(|_| json!({}));
    match params.state.as_deref() {
        Some("active") => data["droppedTargets"] = json!([]),
        Some("dropped") => data["activeTargets"] = json!([]),
        _ => {}
    }
    axum::Json(json!({ "status": "success", "data": data })).into_response()
}

#[derive(Debug, Deserialize)]
struct TsdbParams {
    limit: Option<usize>,
}

async fn tsdb(State(state): State<StatusState>, Query(params): Query<TsdbParams>) -> Response {
    let limit = params.limit.unwrap_or(10).clamp(1, 10_000);
    let db = state.storage.db().clone();
    let report = tokio::task::spawn_blocking(move || db.head().cardinality(limit)).await;
    let Ok(report) = report else {
        return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "cardinality report failed").into_response();
    };
    let pairs = |list: &[(String, u64)]| -> Value {
        Value::Array(list.iter().map(|(name, value)| json!({ "name": name, "value": value })).collect())
    };
    axum::Json(json!({
        "status": "success",
        "data": {
            "headStats": { "numSeries": report.num_series, "numLabelPairs": report.num_label_pairs },
            "seriesCountByMetricName": pairs(&report.series_count_by_metric_name),
            "labelValueCountByLabelName": pairs(&report.label_value_count_by_label_name),
            "seriesCountByLabelName": pairs(&report.series_count_by_label_name),
            "seriesCountByLabelValuePair": pairs(&report.series_count_by_label_pair),
        }
    }))
    .into_response()
}

/// `POST|GET /api/v1/heartbeat/NAME`: records a check-in.
async fn heartbeat(
    State(state): State<StatusState>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Response {
    let hb = state.heartbeats.clone();
    match tokio::task::spawn_blocking(move || hb.check_in(&name)).await {
        Ok(Ok(())) => axum::http::StatusCode::NO_CONTENT.into_response(),
        Ok(Err(e @ CheckInError::Unknown { .. })) => {
            (axum::http::StatusCode::NOT_FOUND, format!("{e}\n")).into_response()
        }
        Ok(Err(e)) => (axum::http::StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
        Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

/// What a reload reconfigures.
#[derive(Debug, Clone)]
pub(crate) struct Reloadable {
    pub(crate) scrape: Arc<ScrapeManager>,
    pub(crate) probes: Arc<ProbeManager>,
    pub(crate) heartbeats: Arc<Heartbeats>,
    pub(crate) self_address: std::net::SocketAddr,
}

/// Applies every configuration that comes into force to the scrape manager, the
/// probes and the heartbeats, until `stop` turns true.
pub(crate) async fn follow_reloads(
    mut configs: watch::Receiver<Arc<Config>>,
    targets: Reloadable,
    base_dir: PathBuf,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            changed = configs.changed() => {
                if changed.is_err() {
                    return;
                }
                let config = configs.borrow_and_update().clone();
                targets.scrape.apply(config.scrape_jobs_with_self(targets.self_address), base_dir.clone());
                targets.probes.apply(config.probe_list());
                targets.heartbeats.apply(config.heartbeat_list());
            }
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Service-discovery counters of the scrape manager on `/metrics`.
#[derive(Debug)]
pub struct DiscoveryMetrics(pub Arc<wk_collect::scrape::DiscoveryCounters>);

impl crate::self_metrics::LateMetrics for DiscoveryMetrics {
    fn encode(&self, encoder: &mut prometheus_client::encoding::DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        use prometheus_client::encoding::EncodeMetric;
        use prometheus_client::metrics::counter::ConstCounter;
        let (dns, dns_failed, http, http_failed) = self.0.snapshot();
        for (name, help, value) in [
            ("watchkeeper_sd_dns_lookups", "DNS service-discovery lookups", dns),
            ("watchkeeper_sd_dns_lookup_failures", "DNS service-discovery lookups that failed", dns_failed),
            ("watchkeeper_sd_http_refreshes", "HTTP service-discovery refreshes", http),
            ("watchkeeper_sd_http_failures", "HTTP service-discovery refreshes that failed", http_failed),
        ] {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(name, help, None, counter.metric_type())?)?;
        }
        Ok(())
    }
}

/// Feeds the metadata scrape targets expose into `/api/v1/metadata`.
#[derive(Debug)]
pub struct ScrapeMetadata(pub Arc<wk_api::metadata::MetadataCache>);

impl wk_collect::scrape::MetadataSink for ScrapeMetadata {
    fn record(&self, metadata: &[wk_ingest::Metadata]) {
        self.0.record(metadata);
    }
}
