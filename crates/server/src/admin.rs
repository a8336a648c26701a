//! Prometheus's TSDB admin API: `POST|PUT /api/v1/admin/tsdb/delete_series`.
//!
//! Off unless `web.enable_admin_api` is true (read on every request, so a reload
//! switches it), as Prometheus keeps it behind `--web.enable-admin-api`: it
//! deletes data.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::reload::LiveConfig;
use crate::storage::Storage;

#[derive(Clone, Debug)]
struct AdminState {
    config: Arc<LiveConfig>,
    storage: Storage,
}

/// The admin routes.
pub fn router(config: Arc<LiveConfig>, storage: Storage) -> Router {
    Router::new()
        .route("/api/v1/admin/tsdb/delete_series", axum::routing::post(delete_series).put(delete_series))
        .with_state(AdminState { config, storage })
}

fn error(code: StatusCode, kind: &str, message: impl Into<String>) -> Response {
    (code, axum::Json(json!({"status": "error", "errorType": kind, "error": message.into()}))).into_response()
}

async fn delete_series(
    State(state): State<AdminState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !state.config.get().web.enable_admin_api {
        return error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "admin APIs disabled");
    }
    let params = wk_api::query::collect_params(&method, &uri, &headers, &body);
    let selectors = wk_api::query::all_params(&params, "match[]");
    if selectors.is_empty() {
        return error(StatusCode::BAD_REQUEST, "bad_data", "no match[] parameter provided");
    }
    let time = |name: &str, default: i64| match wk_api::query::one_param(&params, name) {
        None | Some("") => Ok(default),
        Some(text) => wk_api::query::parse_time_param(text).map_err(|e| format!("invalid parameter {name:?}: {e}")),
    };
    let (start, end) = match (time("start", i64::MIN), time("end", i64::MAX)) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return error(StatusCode::BAD_REQUEST, "bad_data", e),
    };
    let mut groups = Vec::new();
    for s in selectors {
        match wk_promql::parse_series_selector(s) {
            Ok(g) => groups.extend(g),
            Err(e) => return error(StatusCode::BAD_REQUEST, "bad_data", format!("invalid parameter \"match[]\": {e}")),
        }
    }
    let db = state.storage.db().clone();
    let deleted = tokio::task::spawn_blocking(move || {
        groups.iter().try_for_each(|matchers| db.delete_series(matchers, start, end).map(drop))
    })
    .await;
    match deleted {
        Ok(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(e)) => error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
    }
}
