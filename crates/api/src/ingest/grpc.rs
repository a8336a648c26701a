//! OTLP/gRPC metrics: `opentelemetry.proto.collector.metrics.v1.MetricsService/Export`,
//! unary, served by hyper's HTTP/2 (no gRPC framework: a unary call is one
//! length-prefixed message each way, and a status in the trailers).
//!
//! The request goes through the same decoder, limits, slots and durable append as
//! `POST /v1/metrics`, so both transports store and reject exactly the same points.
//! Outcomes map to gRPC codes as the OTLP specification says:
//!
//! | outcome | code |
//! |---|---|
//! | stored (some points may be rejected: `partial_success`) | `OK` |
//! | undecodable protobuf, bad gzip | `INVALID_ARGUMENT` |
//! | message over the size limit, or too many series/samples | `RESOURCE_EXHAUSTED`, no retry advice |
//! | too many requests in flight | `RESOURCE_EXHAUSTED` with `RetryInfo` (retry in 5 s) |
//! | storage cannot write (disk full, WAL failure) | `UNAVAILABLE` with `RetryInfo` (retry in 5 s) |
//! | request not done within the request timeout | `DEADLINE_EXCEEDED` |
//! | gRPC framing broken (truncated message, two messages, compressed flag without encoding) | `INTERNAL` |
//! | `grpc-encoding` other than `gzip` or `identity`; unknown method | `UNIMPLEMENTED` |
//! | `Content-Type` not `application/grpc…` | HTTP 415 |

mod status;

use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use http_body_util::{BodyExt, Full};

pub use status::{Code, Status};

use super::IngestState;
use super::handlers::{Failure, ingest, otlp_response_protobuf};

/// The one method served.
pub const EXPORT_METRICS_PATH: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

/// How long a client that was refused for overload should wait.
const RETRY_DELAY: Duration = Duration::from_secs(5);

/// Settings of the OTLP/gRPC endpoint.
#[derive(Clone, Copy, Debug)]
pub struct GrpcOptions {
    /// Largest request message on the wire (before gzip decompression), in bytes;
    /// larger ones get `RESOURCE_EXHAUSTED`. The decompressed message is held to the
    /// decoder's `max_body_bytes` as on the HTTP path.
    pub max_message_bytes: usize,
    /// Longest time one call may take before it is answered `DEADLINE_EXCEEDED`.
    pub request_timeout: Duration,
}

impl Default for GrpcOptions {
    fn default() -> Self {
        Self { max_message_bytes: 64 << 20, request_timeout: Duration::from_secs(300) }
    }
}

#[derive(Clone, Debug)]
struct GrpcState {
    ingest: IngestState,
    options: GrpcOptions,
}

/// The router for the gRPC port: the export method, and `UNIMPLEMENTED` for any other.
pub(super) fn router(ingest: IngestState, options: GrpcOptions) -> Router {
    Router::new()
        .route(EXPORT_METRICS_PATH, post(export))
        .fallback(unknown_method)
        .with_state(GrpcState { ingest, options })
}

async fn unknown_method(State(state): State<GrpcState>, request: axum::extract::Request) -> Response {
    state.ingest.metrics.grpc_request("unknown", Code::Unimplemented);
    let message =
        format!("unknown method {} {}; this port serves {EXPORT_METRICS_PATH}", request.method(), request.uri().path());
    Status::new(Code::Unimplemented, message).into_response()
}

async fn export(State(state): State<GrpcState>, headers: HeaderMap, body: Body) -> Response {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.starts_with("application/grpc") {
        state.ingest.metrics.request_failed(PROTOCOL, "unsupported_content_type");
        let message = format!("unsupported Content-Type {content_type:?}; expected application/grpc");
        return Status::new(Code::InvalidArgument, message).into_http_response(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
    let timeout = state.options.request_timeout;
    let result = match tokio::time::timeout(timeout, handle(&state, &headers, body)).await {
        Ok(result) => result,
        Err(_) => Err(Status::new(Code::DeadlineExceeded, format!("the call took longer than {timeout:?}"))),
    };
    let code = match &result {
        Ok(_) => Code::Ok,
        Err(status) => status.code,
    };
    state.ingest.metrics.grpc_request("Export", code);
    match result {
        Ok(message) => ok_response(message),
        Err(status) if status.code == Code::Unimplemented => {
            let mut response = status.into_response();
            response.headers_mut().insert("grpc-accept-encoding", HeaderValue::from_static("gzip,identity"));
            response
        }
        Err(status) => status.into_response(),
    }
}

/// The `protocol` label of the ingestion metrics for this transport.
const PROTOCOL: &str = "otlp_grpc";

/// Reads, decodes and stores one request; returns the response message.
async fn handle(state: &GrpcState, headers: &HeaderMap, body: Body) -> Result<Vec<u8>, Status> {
    let gzip = match headers.get("grpc-encoding").map(|v| v.to_str().unwrap_or("?").trim()) {
        None | Some("identity") => false,
        Some("gzip") => true,
        Some(other) => {
            state.ingest.metrics.request_failed(PROTOCOL, "unsupported_encoding");
            let message = format!("grpc-encoding {other:?} is not supported; use gzip or identity");
            return Err(Status::new(Code::Unimplemented, message));
        }
    };
    let message = match read_message(body, state.options.max_message_bytes).await {
        Ok(message) => message,
        Err(status) => {
            let reason = if status.code == Code::ResourceExhausted { "too_large" } else { "invalid_request" };
            state.ingest.metrics.request_failed(PROTOCOL, reason);
            return Err(status);
        }
    };
    let compressed = match message.compressed {
        true if !gzip => {
            state.ingest.metrics.request_failed(PROTOCOL, "invalid_request");
            let text = "the message is marked compressed but the call has no grpc-encoding";
            return Err(Status::new(Code::Internal, text));
        }
        compressed => compressed,
    };
    let bytes = message.bytes;
    let result = ingest(&state.ingest, PROTOCOL, move |decoder, now| {
        let encoding = compressed.then_some("gzip");
        decoder.otlp(&bytes, Some("application/x-protobuf"), encoding, now)
    })
    .await;
    match result {
        Ok(outcome) => Ok(otlp_response_protobuf(&outcome)),
        Err(Failure::Decode(e)) => {
            let code = if e.http_status() == 413 { Code::ResourceExhausted } else { Code::InvalidArgument };
            Err(Status::new(code, e.to_string()))
        }
        Err(Failure::Storage(e)) => {
            Err(Status::new(Code::Unavailable, format!("storage cannot accept writes now: {e}"))
                .retry_after(RETRY_DELAY))
        }
        Err(Failure::Busy) => {
            Err(Status::new(Code::ResourceExhausted, "too many ingest requests in flight; retry later")
                .retry_after(RETRY_DELAY))
        }
    }
}

/// One request message, as framed on the wire.
#[derive(Debug, PartialEq, Eq)]
struct Message {
    compressed: bool,
    bytes: Bytes,
}

/// Reads the body, which must hold exactly one length-prefixed message (a flag byte,
/// a big-endian `u32` length, the bytes). Refuses a message longer than `max` as soon
/// as its prefix arrives, without reading it.
async fn read_message(mut body: Body, max: usize) -> Result<Message, Status> {
    let mut buf = Vec::new();
    let mut expected: Option<usize> = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Status::new(Code::Internal, format!("reading the request failed: {e}")))?;
        let Ok(data) = frame.into_data() else { continue };
        buf.extend_from_slice(&data);
        if expected.is_none() && buf.len() >= 5 {
            let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
            if len > max {
                let text = format!("received message of {len} bytes, larger than the limit of {max} bytes");
                return Err(Status::new(Code::ResourceExhausted, text));
            }
            expected = Some(5 + len);
        }
        if let Some(total) = expected
            && buf.len() > total
        {
            return Err(Status::new(Code::Internal, "more than one request message in a unary call"));
        }
    }
    parse_message(Bytes::from(buf))
}

/// Splits a complete unary body into its one message.
fn parse_message(buf: Bytes) -> Result<Message, Status> {
    if buf.is_empty() {
        return Err(Status::new(Code::Internal, "the call carries no request message"));
    }
    if buf.len() < 5 {
        return Err(Status::new(Code::Internal, format!("truncated message prefix: {} of 5 bytes", buf.len())));
    }
    let compressed = match buf[0] {
        0 => false,
        1 => true,
        flag => return Err(Status::new(Code::Internal, format!("invalid message flag {flag}; expected 0 or 1"))),
    };
    let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
    let got = buf.len() - 5;
    if got < len {
        return Err(Status::new(Code::Internal, format!("truncated message: {got} of {len} bytes")));
    }
    if got > len {
        return Err(Status::new(Code::Internal, "more than one request message in a unary call"));
    }
    Ok(Message { compressed, bytes: buf.slice(5..) })
}

/// HTTP 200 with one uncompressed response message, then `grpc-status: 0`.
fn ok_response(message: Vec<u8>) -> Response {
    let mut framed = Vec::with_capacity(5 + message.len());
    framed.push(0);
    framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
    framed.extend_from_slice(&message);
    let trailers = Status::new(Code::Ok, "").trailers();
    let body = Full::new(Bytes::from(framed)).with_trailers(async move { Some(Ok(trailers)) });
    let mut response = Response::new(Body::new(body));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    response
}

#[cfg(test)]
mod tests;
