//! The query API's handlers.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};
use wk_model::Matcher;
use wk_promql::{CancelToken, PromqlError, parse, parse_series_selector};
use wk_storage::Querier;

use super::QueryState;
use super::params::{all, collect, one, parse_duration_param, parse_time_param};
use super::render::{self, ApiError, ErrorType, error};

fn now_ms() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Cancels the query when the handler's future is dropped (the client went away).
struct CancelOnDrop(CancelToken);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

fn time_param(params: &[(String, String)], name: &str, default: i64) -> Result<i64, ApiError> {
    match one(params, name) {
        None | Some("") => Ok(default),
        Some(text) => {
            parse_time_param(text).map_err(|e| error(ErrorType::BadData, format!("invalid parameter \"{name}\": {e}")))
        }
    }
}

fn query_param(params: &[(String, String)]) -> Result<String, ApiError> {
    match one(params, "query") {
        Some(q) if !q.trim().is_empty() => Ok(q.to_owned()),
        _ => Err(error(ErrorType::BadData, "invalid parameter \"query\": query must not be empty")),
    }
}

fn timeout_param(state: &QueryState, params: &[(String, String)]) -> Result<Option<Duration>, ApiError> {
    let default = state.options.engine.timeout;
    match one(params, "timeout") {
        None | Some("") => Ok(default),
        Some(text) => {
            let ms = parse_duration_param(text)
                .map_err(|e| error(ErrorType::BadData, format!("invalid parameter \"timeout\": {e}")))?;
            let requested = Duration::from_millis(ms as u64);
            Ok(Some(default.map_or(requested, |d| d.min(requested))))
        }
    }
}

/// Runs `work` on the blocking pool holding a query slot; the token is cancelled if
/// the client goes away or the timeout passes.
async fn evaluate<T, F>(
    state: &QueryState,
    what: (&'static str, &str),
    timeout: Option<Duration>,
    work: F,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&dyn Querier, &CancelToken) -> Result<T, PromqlError> + Send + 'static,
{
    let permit = tokio::time::timeout(state.options.queue_wait, state.slots.clone().acquire_owned()).await;
    let Ok(Ok(permit)) = permit else {
        return Err(error(ErrorType::Unavailable, "too many queries in flight; try again later"));
    };
    let registration = state.running.start(what.0, what.1, state.options.slow_query_threshold);
    let token = CancelToken::new();
    let guard = CancelOnDrop(token.clone());
    let store = state.store.clone();
    let task = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let _registration = registration;
        let querier = store.querier();
        work(querier.as_ref(), &token)
    });
    let outcome = match timeout {
        Some(limit) => match tokio::time::timeout(limit, task).await {
            Ok(joined) => joined,
            Err(_) => {
                guard.0.cancel();
                return Err(render::engine_error(&PromqlError::Timeout));
            }
        },
        None => task.await,
    };
    drop(guard);
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(render::engine_error(&e)),
        Err(e) => Err(error(ErrorType::Internal, format!("query task failed: {e}"))),
    }
}

/// `GET|POST /api/v1/query`.
pub(crate) async fn query(
    State(state): State<QueryState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = collect(&method, &uri, &headers, &body);
    let prepared = (|| {
        let text = query_param(&params)?;
        let t = time_param(&params, "time", now_ms())?;
        let timeout = timeout_param(&state, &params)?;
        let expr = parse(&text).map_err(|e| render::engine_error(&e))?;
        Ok::<_, ApiError>((expr, t, timeout, text))
    })();
    let (expr, t, timeout, text) = match prepared {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let engine = state.engine.clone();
    answer(evaluate(&state, ("instant", &text), timeout, move |q, token| engine.instant_with(q, &expr, t, token)).await)
}

/// The JSON answer of an instant or range query.
fn answer(result: Result<wk_promql::QueryResult, ApiError>) -> Response {
    match result {
        Ok(result) => render::query_success(&result.value, &result.annotations),
        Err(e) => e.into_response(),
    }
}

/// `GET|POST /api/v1/query_range`.
pub(crate) async fn query_range(
    State(state): State<QueryState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = collect(&method, &uri, &headers, &body);
    let prepared = (|| {
        let text = query_param(&params)?;
        let need = |name: &str| {
            one(&params, name).filter(|v| !v.is_empty()).ok_or_else(|| {
                error(
                    ErrorType::BadData,
                    format!("invalid parameter \"{name}\": cannot parse \"\" to a valid timestamp"),
                )
            })
        };
        let start = parse_time_param(need("start")?)
            .map_err(|e| error(ErrorType::BadData, format!("invalid parameter \"start\": {e}")))?;
        let end = parse_time_param(need("end")?)
            .map_err(|e| error(ErrorType::BadData, format!("invalid parameter \"end\": {e}")))?;
        if end < start {
            return Err(error(
                ErrorType::BadData,
                "invalid parameter \"end\": end timestamp must not be before start time",
            ));
        }
        let step_text = one(&params, "step").unwrap_or_default();
        let step = parse_duration_param(step_text)
            .map_err(|e| error(ErrorType::BadData, format!("invalid parameter \"step\": {e}")))?;
        if step <= 0 {
            return Err(error(
                ErrorType::BadData,
                "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
            ));
        }
        if (end - start) / step > state.options.max_points_per_series {
            return Err(error(
                ErrorType::BadData,
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
            ));
        }
        let timeout = timeout_param(&state, &params)?;
        let expr = parse(&text).map_err(|e| render::engine_error(&e))?;
        Ok::<_, ApiError>((expr, start, end, step, timeout, text))
    })();
    let (expr, start, end, step, timeout, text) = match prepared {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let engine = state.engine.clone();
    answer(
        evaluate(&state, ("range", &text), timeout, move |q, token| {
            engine.range_with(q, &expr, start, end, step, token)
        })
        .await,
    )
}

/// The `match[]` selectors of a request, each as matcher groups.
fn selectors(params: &[(String, String)], required: bool) -> Result<Vec<Vec<Matcher>>, ApiError> {
    let texts = all(params, "match[]");
    if texts.is_empty() && required {
        return Err(error(ErrorType::BadData, "no match[] parameter provided"));
    }
    let mut groups = Vec::new();
    for text in texts {
        let parsed = parse_series_selector(text)
            .map_err(|e| error(ErrorType::BadData, format!("invalid parameter \"match[]\": {e}")))?;
        groups.extend(parsed);
    }
    Ok(groups)
}

fn range_params(params: &[(String, String)]) -> Result<(i64, i64), ApiError> {
    Ok((time_param(params, "start", i64::MIN)?, time_param(params, "end", i64::MAX)?))
}

/// `GET|POST /api/v1/series`.
pub(crate) async fn series(
    State(state): State<QueryState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = collect(&method, &uri, &headers, &body);
    let (groups, (start, end)) = match selectors(&params, true).and_then(|g| Ok((g, range_params(&params)?))) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let timeout = state.options.engine.timeout;
    let found = evaluate(&state, ("series", ""), timeout, move |q, _| {
        let mut seen = BTreeSet::new();
        for matchers in &groups {
            for series in q.select(matchers, start, end)? {
                let series = series?;
                seen.insert(series.labels.clone());
            }
        }
        Ok(seen)
    })
    .await;
    match found {
        Ok(set) => render::success(Json::Array(set.iter().map(|l| render::labels(l, false)).collect()), None),
        Err(e) => e.into_response(),
    }
}

/// `GET|POST /api/v1/labels`.
pub(crate) async fn labels(
    State(state): State<QueryState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = collect(&method, &uri, &headers, &body);
    let groups = match selectors(&params, false) {
        Ok(g) => g,
        Err(e) => return e.into_response(),
    };
    union_over_groups(&state, "labels", groups, |q, m| q.label_names(m)).await
}

/// `GET /api/v1/label/NAME/values`.
pub(crate) async fn label_values(
    State(state): State<QueryState>,
    Path(name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let params = collect(&method, &uri, &headers, &Bytes::new());
    let groups = match selectors(&params, false) {
        Ok(g) => g,
        Err(e) => return e.into_response(),
    };
    union_over_groups(&state, "label_values", groups, move |q, m| q.label_values(&name, m)).await
}

/// Runs `lookup` with no matchers when no `match[]` was given, else once per matcher
/// group, and answers the sorted union of the names it returns.
async fn union_over_groups<F>(state: &QueryState, kind: &'static str, groups: Vec<Vec<Matcher>>, lookup: F) -> Response
where
    F: Fn(&dyn Querier, &[Matcher]) -> Result<Vec<String>, wk_storage::QueryError> + Send + 'static,
{
    let timeout = state.options.engine.timeout;
    let found = evaluate(state, (kind, ""), timeout, move |q, _| {
        let mut union = BTreeSet::new();
        if groups.is_empty() {
            union.extend(lookup(q, &[])?);
        }
        for matchers in &groups {
            union.extend(lookup(q, matchers)?);
        }
        Ok(union)
    })
    .await;
    match found {
        Ok(union) => render::success(json!(union), None),
        Err(e) => e.into_response(),
    }
}

/// `GET /api/v1/metadata`: the metadata senders reported (`metric`, `limit`).
pub(crate) async fn metadata(
    State(state): State<QueryState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let params = collect(&method, &uri, &headers, &Bytes::new());
    let limit = match one(&params, "limit").filter(|l| !l.is_empty()).map(str::parse::<i64>) {
        None => 0,
        Some(Ok(n)) if n > 0 => n as usize,
        Some(Ok(_)) => 0,
        Some(Err(_)) => return error(ErrorType::BadData, "invalid parameter \"limit\": not a number").into_response(),
    };
    render::success(state.metadata.to_json(one(&params, "metric"), limit), None)
}

/// `GET /api/v1/status/buildinfo`.
pub(crate) async fn buildinfo(State(state): State<QueryState>) -> Response {
    render::success(
        json!({
            "version": state.options.version,
            "revision": "",
            "branch": "",
            "buildUser": "",
            "buildDate": "",
            "goVersion": "",
        }),
        None,
    )
}

/// `GET|POST /api/v1/format_query`: the query pretty-printed as Prometheus does.
pub(crate) async fn format_query(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let params = collect(&method, &uri, &headers, &body);
    let text = match query_param(&params) {
        Ok(text) => text,
        Err(e) => return e.into_response(),
    };
    match parse(&text) {
        Ok(expr) => render::success(json!(expr.prettify()), None),
        Err(e) => render::engine_error(&e).into_response(),
    }
}

/// `GET|POST /api/v1/query_exemplars`: exemplars are not stored yet, so the answer is
/// an empty list in the right shape (after checking the query, as Prometheus does).
pub(crate) async fn query_exemplars(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let params = collect(&method, &uri, &headers, &body);
    match query_param(&params).and_then(|q| parse(&q).map_err(|e| render::engine_error(&e))) {
        Ok(_) => render::success(json!([]), None),
        Err(e) => e.into_response(),
    }
}

/// `GET /federate`: the newest sample of every series matching `match[]`, in the
/// text exposition format, for Prometheus federation.
pub(crate) async fn federate(
    State(state): State<QueryState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let params = collect(&method, &uri, &headers, &Bytes::new());
    let groups = match selectors(&params, true) {
        Ok(g) => g,
        Err(e) => return e.into_response(),
    };
    let now = now_ms();
    let lookback = state.options.engine.lookback_delta_ms;
    let timeout = state.options.engine.timeout;
    let found = evaluate(&state, ("federate", ""), timeout, move |q, _| {
        let mut latest = std::collections::BTreeMap::new();
        for matchers in &groups {
            for series in q.select(matchers, now - lookback, now)? {
                let series = series?;
                if let Some(&sample) = series.samples.last().filter(|s| !wk_model::is_stale_nan(s.v)) {
                    latest.insert(series.labels, sample);
                }
            }
        }
        Ok(latest)
    })
    .await;
    let latest = match found {
        Ok(latest) => latest,
        Err(e) => return e.into_response(),
    };
    let mut body = String::new();
    let mut current_name = String::new();
    for (labels, sample) in &latest {
        let name = labels.get("__name__").unwrap_or_default();
        if name != current_name {
            body.push_str(&format!("# TYPE {name} untyped\n"));
            current_name = name.to_owned();
        }
        body.push_str(name);
        let pairs: Vec<String> = labels
            .iter()
            .filter(|(n, _)| *n != "__name__")
            .map(|(n, v)| format!("{n}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")))
            .collect();
        if !pairs.is_empty() {
            body.push('{');
            body.push_str(&pairs.join(","));
            body.push('}');
        }
        body.push_str(&format!(" {} {}\n", wk_promql::format_float(sample.v), sample.t));
    }
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}

/// `GET /api/v1/status/queries`: the queries running now, oldest first.
pub(crate) async fn running_queries(State(state): State<QueryState>) -> Response {
    render::success(state.running.snapshot(), None)
}
