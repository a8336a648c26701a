//! Prometheus's TSDB admin API: `POST|PUT /api/v1/admin/tsdb/delete_series`,
//! `/api/v1/admin/tsdb/clean_tombstones` and `/api/v1/admin/tsdb/snapshot`.
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
    let state = AdminState { config, storage };
    Router::new()
        .route("/api/v1/admin/tsdb/delete_series", axum::routing::post(delete_series).put(delete_series))
        .route("/api/v1/admin/tsdb/clean_tombstones", axum::routing::post(clean_tombstones).put(clean_tombstones))
        .route("/api/v1/admin/tsdb/snapshot", axum::routing::post(snapshot).put(snapshot))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), when_enabled))
        .with_state(state)
}

/// Answers 503 "admin APIs disabled", as Prometheus does, unless
/// `web.enable_admin_api` is on, before any parameter is read.
async fn when_enabled(
    State(state): State<AdminState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !state.config.get().web.enable_admin_api {
        return error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "admin APIs disabled");
    }
    next.run(request).await
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

async fn clean_tombstones(State(state): State<AdminState>) -> Response {
    let db = state.storage.db().clone();
    match tokio::task::spawn_blocking(move || db.clean_tombstones()).await {
        Ok(Ok(_)) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(e)) => error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
    }
}

async fn snapshot(
    State(state): State<AdminState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = wk_api::query::collect_params(&method, &uri, &headers, &body);
    let skip_head = match wk_api::query::one_param(&params, "skip_head") {
        None | Some("") | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_data",
                format!("unable to parse boolean 'skip_head' argument: {other:?}"),
            );
        }
    };
    // Like Prometheus: UTC time and a random suffix, so names sort by time.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let name = format!("{}-{:016x}", format_utc(now.as_secs()), rand_suffix(now));
    let db = state.storage.db().clone();
    let task_name = name.clone();
    match tokio::task::spawn_blocking(move || db.snapshot(&task_name, skip_head)).await {
        Ok(Ok(_)) => (StatusCode::OK, axum::Json(json!({"status": "success", "data": {"name": name}}))).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("create snapshot: {e}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
    }
}

/// `YYYYMMDDTHHMMSSZ` for Unix seconds `secs`.
fn format_utc(secs: u64) -> String {
    let (year, month, day) = crate::status::civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!("{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// A suffix that differs between snapshots taken in the same second.
fn rand_suffix(now: std::time::Duration) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(now.as_nanos());
    h.finish()
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_names() {
        assert_eq!(super::format_utc(0), "19700101T000000Z");
        assert_eq!(super::format_utc(1_512_940_344), "20171210T211224Z");
        assert_eq!(super::format_utc(1_795_696_193), "20261126T122953Z");
    }
}
