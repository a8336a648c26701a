//! The four endpoints: remote_write, OTLP/HTTP, Influx v1 and v2.

use std::collections::HashMap;
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use wk_ingest::influx::Precision;
use wk_ingest::{Batch, Decoder, OtlpFormat, RemoteWriteBatch, negotiate_otlp};
use wk_storage::AppendError;

use super::append::append_borrowed;
use super::{AppendOutcome, IngestState, append_batch};

/// Why a request produced no outcome.
pub(super) enum Failure {
    /// The request itself is wrong (400, 413, 415).
    Decode(wk_ingest::Error),
    /// Storage cannot take writes now; the sender should retry.
    Storage(AppendError),
    /// Too many requests in flight.
    Busy,
}

/// Decodes with `decode` and appends, on the blocking pool, holding an ingest slot.
pub(super) async fn ingest<F>(state: &IngestState, protocol: &'static str, decode: F) -> Result<AppendOutcome, Failure>
where
    F: FnOnce(&mut Decoder, i64) -> Result<Batch, wk_ingest::Error> + Send + 'static,
{
    ingest_with(state, protocol, move |state, decoder, now| {
        let batch = decode(decoder, now).map_err(Failure::Decode)?;
        let outcome = append_batch(state.store.as_ref(), &batch).map_err(Failure::Storage)?;
        state.metadata.record(&batch.metadata);
        Ok(outcome)
    })
    .await
}

/// Runs `work` (decode and append) on the blocking pool, holding an ingest slot,
/// with a decoder from the pool, and counts its outcome.
async fn ingest_with<F>(state: &IngestState, protocol: &'static str, work: F) -> Result<AppendOutcome, Failure>
where
    F: FnOnce(&IngestState, &mut Decoder, i64) -> Result<AppendOutcome, Failure> + Send + 'static,
{
    let permit = tokio::time::timeout(state.options.queue_wait, state.slots.clone().acquire_owned()).await;
    let Ok(Ok(_permit)) = permit else {
        state.metrics.request_failed(protocol, "busy");
        return Err(Failure::Busy);
    };
    let task_state = state.clone();
    let result = tokio::task::spawn_blocking(move || {
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
        let mut decoder = task_state.decoders.take();
        let result = work(&task_state, &mut decoder, now);
        task_state.decoders.put(decoder);
        result
    })
    .await
    .unwrap_or_else(|e| Err(Failure::Storage(AppendError::Unavailable { detail: format!("ingest task failed: {e}") })));
    match &result {
        Ok(outcome) => {
            state.metrics.accepted(protocol, outcome.appended);
            for (reason, n) in &outcome.rejected {
                state.metrics.reject(protocol, reason, *n);
            }
        }
        Err(Failure::Decode(e)) => {
            tracing::debug!(protocol, error = %e, "ingest request rejected");
            state.metrics.request_failed(protocol, "invalid_request");
        }
        Err(Failure::Storage(e)) => {
            tracing::warn!(protocol, error = %e, "ingest request not stored");
            state.metrics.request_failed(protocol, "storage_unavailable");
        }
        Err(Failure::Busy) => {}
    }
    result
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn retry_later(status: StatusCode, message: String) -> Response {
    let mut response = (status, message).into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}

fn status_of(e: &wk_ingest::Error) -> StatusCode {
    StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST)
}

/// Answers shared by every protocol for a request that produced no outcome.
fn failure_response(failure: Failure, body: impl Fn(StatusCode, String) -> Response) -> Response {
    match failure {
        Failure::Decode(e) => body(status_of(&e), e.to_string()),
        Failure::Storage(e) => {
            retry_later(StatusCode::SERVICE_UNAVAILABLE, format!("storage cannot accept writes now: {e}"))
        }
        Failure::Busy => {
            retry_later(StatusCode::TOO_MANY_REQUESTS, "too many ingest requests in flight; retry later".to_owned())
        }
    }
}

/// `POST /api/v1/write`: Prometheus remote_write 1.0 and 2.0.
pub(crate) async fn remote_write(State(state): State<IngestState>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = header_str(&headers, header::CONTENT_TYPE).map(str::to_owned);
    let content_encoding = header_str(&headers, header::CONTENT_ENCODING).map(str::to_owned);
    let result = ingest_with(&state, "remote_write", move |state, decoder, now| {
        let decoded = decoder
            .remote_write_borrowed(&body, content_type.as_deref(), content_encoding.as_deref(), now)
            .map_err(Failure::Decode)?;
        let store = state.store.as_ref();
        let (outcome, metadata) = match &decoded {
            RemoteWriteBatch::Borrowed(batch) => (append_borrowed(store, &state.series_cache, batch), &batch.metadata),
            RemoteWriteBatch::Owned(batch) => (append_batch(store, batch), &batch.metadata),
        };
        let outcome = outcome.map_err(Failure::Storage)?;
        state.metadata.record(metadata);
        Ok(outcome)
    })
    .await;
    match result {
        Ok(outcome) => {
            let status = if outcome.rejected_total() == 0 { StatusCode::NO_CONTENT } else { StatusCode::BAD_REQUEST };
            let body = if status == StatusCode::NO_CONTENT { String::new() } else { outcome.message() };
            let mut response = (status, body).into_response();
            let written = HeaderValue::from(outcome.appended);
            response.headers_mut().insert("X-Prometheus-Remote-Write-Samples-Written", written);
            response.headers_mut().insert("X-Prometheus-Remote-Write-Histograms-Written", HeaderValue::from(0));
            response.headers_mut().insert("X-Prometheus-Remote-Write-Exemplars-Written", HeaderValue::from(0));
            response
        }
        Err(failure) => failure_response(failure, |status, message| (status, message).into_response()),
    }
}

/// `POST /v1/metrics`: OTLP/HTTP metrics, protobuf or JSON.
pub(crate) async fn otlp(State(state): State<IngestState>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = header_str(&headers, header::CONTENT_TYPE).map(str::to_owned);
    let content_encoding = header_str(&headers, header::CONTENT_ENCODING).map(str::to_owned);
    let json = matches!(negotiate_otlp(content_type.as_deref(), None), Ok((OtlpFormat::Json, _)));
    let result = ingest(&state, "otlp", move |decoder, now| {
        decoder.otlp(&body, content_type.as_deref(), content_encoding.as_deref(), now)
    })
    .await;
    match result {
        Ok(outcome) => otlp_success(json, &outcome),
        Err(failure) => failure_response(failure, |status, message| (status, message).into_response()),
    }
}

/// The `ExportMetricsServiceResponse`, with `partial_success` when samples were
/// rejected, in the request's encoding.
fn otlp_success(json: bool, outcome: &AppendOutcome) -> Response {
    let rejected = outcome.rejected_total();
    if json {
        let body = if rejected == 0 {
            json!({})
        } else {
            json!({ "partialSuccess": { "rejectedDataPoints": rejected.to_string(), "errorMessage": outcome.message() } })
        };
        return ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response();
    }
    ([(header::CONTENT_TYPE, "application/x-protobuf")], otlp_response_protobuf(outcome)).into_response()
}

/// The protobuf `ExportMetricsServiceResponse` for `outcome`: empty when every point
/// was stored, otherwise `partial_success` with the count and the reasons.
pub(super) fn otlp_response_protobuf(outcome: &AppendOutcome) -> Vec<u8> {
    let rejected = outcome.rejected_total();
    let mut body = Vec::new();
    if rejected > 0 {
        let message = outcome.message();
        let mut inner = Vec::new();
        inner.push(0x08); // rejected_data_points = 1, varint
        put_varint(&mut inner, rejected);
        inner.push(0x12); // error_message = 2, length-delimited
        put_varint(&mut inner, message.len() as u64);
        inner.extend_from_slice(message.as_bytes());
        body.push(0x0a); // partial_success = 1, length-delimited
        put_varint(&mut body, inner.len() as u64);
        body.extend_from_slice(&inner);
    }
    body
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// `POST /write`: InfluxDB 1.x line protocol.
pub(crate) async fn influx_v1(
    State(state): State<IngestState>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let error = |status: StatusCode, message: String| (status, axum::Json(json!({ "error": message }))).into_response();
    let precision = match Precision::from_v1(params.get("precision").map(String::as_str)) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    influx(state, precision, headers, body, "influx_v1", error).await
}

/// `POST /api/v2/write`: InfluxDB 2.x line protocol.
pub(crate) async fn influx_v2(
    State(state): State<IngestState>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let error = |status: StatusCode, message: String| {
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "request too large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported media type",
            _ => "invalid",
        };
        (status, axum::Json(json!({ "code": code, "message": message }))).into_response()
    };
    let precision = match Precision::from_v2(params.get("precision").map(String::as_str)) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    influx(state, precision, headers, body, "influx_v2", error).await
}

async fn influx(
    state: IngestState,
    precision: Precision,
    headers: HeaderMap,
    body: Bytes,
    protocol: &'static str,
    error: impl Fn(StatusCode, String) -> Response,
) -> Response {
    let content_encoding = header_str(&headers, header::CONTENT_ENCODING).map(str::to_owned);
    let result = ingest(&state, protocol, move |decoder, now| {
        decoder.influx(&body, content_encoding.as_deref(), precision, now)
    })
    .await;
    match result {
        Ok(outcome) if outcome.rejected_total() == 0 => StatusCode::NO_CONTENT.into_response(),
        Ok(outcome) => error(StatusCode::BAD_REQUEST, outcome.message()),
        Err(failure) => failure_response(failure, error),
    }
}
