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
use wk_collect::scrape::ScrapeManager;

use crate::config::Config;
use crate::storage::Storage;

#[derive(Clone, Debug)]
struct StatusState {
    scrape: Arc<ScrapeManager>,
    storage: Storage,
}

/// The status routes.
pub fn router(scrape: Arc<ScrapeManager>, storage: Storage) -> Router {
    Router::new()
        .route("/api/v1/targets", get(targets))
        .route("/api/v1/status/tsdb", get(tsdb))
        .with_state(StatusState { scrape, storage })
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

/// Applies every configuration that comes into force to the scrape manager, until
/// `stop` turns true.
pub(crate) async fn follow_reloads(
    mut configs: watch::Receiver<Arc<Config>>,
    scrape: Arc<ScrapeManager>,
    base_dir: PathBuf,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            changed = configs.changed() => {
                if changed.is_err() {
                    return;
                }
                let jobs = configs.borrow_and_update().scrape_jobs().cloned().collect();
                scrape.apply(jobs, base_dir.clone());
            }
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
