//! The HTTP surface owned by the server itself: health, readiness, reload, the
//! process's metrics and the configuration in force. Other crates' routes (query API,
//! ingestion, dashboard) are merged into the same router by [`crate::server`].
//!
//! Every route goes through the same middleware: request metrics (outermost, so that
//! rejections are counted too), a per-request timeout (503), and a body size limit
//! (413).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::reload::LiveConfig;
use crate::self_metrics::{HandlerLabels, RequestLabels, SelfMetrics};

/// What the built-in handlers need.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The process's metrics.
    pub metrics: Arc<SelfMetrics>,
    /// The configuration in force.
    pub config: Arc<LiveConfig>,
    /// Set once every subsystem has started; cleared when shutdown begins.
    pub ready: Arc<AtomicBool>,
}

/// Limits applied to every request.
#[derive(Clone, Copy, Debug)]
pub struct RequestLimits {
    /// Longest time a request may take before it is answered with 503.
    pub timeout: Duration,
    /// Largest body in bytes; larger requests get 413.
    pub max_body_bytes: usize,
}

/// The built-in routes, plus `extra` routes from other crates, with the common
/// middleware applied to all of them.
pub fn router(state: AppState, extra: Router, limits: RequestLimits) -> Router {
    let builtin = Router::new()
        .route("/-/healthy", get(healthy).head(healthy))
        .route("/-/ready", get(ready).head(ready))
        .route("/-/reload", post(reload).put(reload))
        .route("/metrics", get(metrics))
        .route("/api/v1/status/config", get(status_config))
        .with_state(state.clone());
    builtin
        .merge(extra)
        .fallback(not_found)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(limits.max_body_bytes))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, limits.timeout))
        .layer(middleware::from_fn_with_state(state.metrics, record_request))
}

async fn healthy() -> &'static str {
    "Watchkeeper is Healthy.\n"
}

async fn ready(State(state): State<AppState>) -> Response {
    if state.ready.load(Ordering::Acquire) {
        "Watchkeeper is Ready.\n".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable\n").into_response()
    }
}

async fn reload(State(state): State<AppState>) -> Response {
    match state.config.reload().await {
        Ok(()) => (StatusCode::OK, "configuration reloaded\n").into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("failed to reload config: {e}\n")).into_response(),
    }
}

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/openmetrics-text"));
    let (body, content_type) = state.metrics.encode(openmetrics);
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn status_config(State(state): State<AppState>) -> Response {
    let yaml = state.config.get().to_redacted_yaml();
    axum::Json(json!({ "status": "success", "data": { "yaml": yaml } })).into_response()
}

async fn not_found(request: Request) -> Response {
    (StatusCode::NOT_FOUND, format!("404 page not found: {}\n", request.uri().path())).into_response()
}

async fn record_request(State(metrics): State<Arc<SelfMetrics>>, request: Request, next: Next) -> Response {
    let handler =
        request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "other".to_owned());
    let start = Instant::now();
    let response = next.run(request).await;
    metrics
        .http_request_duration
        .get_or_create(&HandlerLabels { handler: handler.clone() })
        .observe(start.elapsed().as_secs_f64());
    metrics.http_requests.get_or_create(&RequestLabels { handler, code: response.status().as_u16().to_string() }).inc();
    response
}
