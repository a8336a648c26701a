//! The gRPC endpoint against an in-memory store: status codes, framing, trailers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use prost::Message as _;
use std::sync::Mutex;
use tower::ServiceExt;
use wk_ingest::otlp::proto::{
    ExportMetricsServiceRequest, Gauge, Metric, MetricData, NumberDataPoint, NumberValue, ResourceMetrics,
    ScopeMetrics, Sum,
};
use wk_model::{Labels, Sample};
use wk_storage::{AppendError, Appendable, Appender, CommitSummary, SeriesRef};

use super::*;
use crate::ingest::metrics::{GrpcLabels, ProtocolLabels, RejectLabels};
use crate::ingest::{Ingest, IngestMetrics, IngestOptions};

/// Keeps committed samples; fails every commit while `down` is set.
#[derive(Debug, Default)]
struct MemoryStore {
    samples: Mutex<Vec<(String, Sample)>>,
    down: AtomicBool,
}

struct MemoryAppender<'a> {
    store: &'a MemoryStore,
    batch: Vec<(String, Sample)>,
}

impl Appender for MemoryAppender<'_> {
    fn append(&mut self, _: Option<SeriesRef>, labels: &Labels, sample: Sample) -> Result<SeriesRef, AppendError> {
        self.batch.push((format!("{labels:?}"), sample));
        Ok(SeriesRef(1))
    }

    fn commit(&mut self) -> Result<CommitSummary, AppendError> {
        if self.store.down.load(Ordering::SeqCst) {
            return Err(AppendError::Unavailable { detail: "no space left on device".to_owned() });
        }
        let appended = self.batch.len() as u64;
        self.store.samples.lock().unwrap().append(&mut self.batch);
        Ok(CommitSummary { appended, rejected: Vec::new() })
    }

    fn rollback(&mut self) {
        self.batch.clear();
    }
}

impl Appendable for MemoryStore {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(MemoryAppender { store: self, batch: Vec::new() })
    }
}

fn setup(options: GrpcOptions) -> (Arc<MemoryStore>, axum::Router, IngestMetrics) {
    let store = Arc::new(MemoryStore::default());
    let metrics = IngestMetrics::default();
    let ingest = Ingest::new(store.clone(), IngestOptions::default(), metrics.clone(), Default::default());
    (store, ingest.otlp_grpc_router(options), metrics)
}

fn gauge(name: &str, value: f64) -> Metric {
    let point = NumberDataPoint {
        time_unix_nano: 1_000_000_000,
        value: Some(NumberValue::AsDouble(value)),
        ..Default::default()
    };
    Metric {
        name: name.to_owned(),
        data: Some(MetricData::Gauge(Gauge { data_points: vec![point] })),
        ..Default::default()
    }
}

fn request_bytes(metrics: Vec<Metric>) -> Vec<u8> {
    let scope = ScopeMetrics { metrics };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics { resource: None, scope_metrics: vec![scope] }],
    }
    .encode_to_vec()
}

fn frame(flag: u8, message: &[u8]) -> Vec<u8> {
    let mut out = vec![flag];
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out
}

struct Answer {
    http: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
    trailers: Option<axum::http::HeaderMap>,
}

impl Answer {
    /// The gRPC status, from the trailers or (Trailers-Only) the headers.
    fn grpc_status(&self) -> (String, String) {
        let map = self.trailers.as_ref().unwrap_or(&self.headers);
        let get = |name: &str| map.get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        (get("grpc-status"), get("grpc-message"))
    }
}

async fn call(app: &axum::Router, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
    let mut request = Request::post(path).header("content-type", "application/grpc").header("te", "trailers");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app.clone().oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
    let http = response.status();
    let headers = response.headers().clone();
    let collected = response.into_body().collect().await.unwrap();
    let trailers = collected.trailers().cloned();
    Answer { http, headers, body: collected.to_bytes().to_vec(), trailers }
}

#[tokio::test]
async fn export_stores_and_answers_ok_in_trailers() {
    let (store, app, metrics) = setup(GrpcOptions::default());
    let answer = call(&app, EXPORT_METRICS_PATH, &[], frame(0, &request_bytes(vec![gauge("temp", 21.5)]))).await;
    assert_eq!(answer.http, StatusCode::OK);
    assert_eq!(answer.headers["content-type"], "application/grpc");
    assert_eq!(answer.grpc_status().0, "0");
    assert!(answer.trailers.is_some(), "status must come in trailers after the message");
    assert_eq!(answer.body, frame(0, &[]), "an empty ExportMetricsServiceResponse");
    let samples = store.samples.lock().unwrap().clone();
    assert_eq!(samples.len(), 1);
    assert!(samples[0].0.contains("temp"), "{samples:?}");
    assert_eq!(samples[0].1, Sample { t: 1000, v: 21.5 });
    assert_eq!(metrics.samples.get_or_create(&ProtocolLabels { protocol: PROTOCOL }).get(), 1);
}

#[tokio::test]
async fn gzip_messages_are_decompressed() {
    use std::io::Write;
    let (store, app, _) = setup(GrpcOptions::default());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&request_bytes(vec![gauge("a", 1.0), gauge("b", 2.0)])).unwrap();
    let body = frame(1, &gz.finish().unwrap());
    let answer = call(&app, EXPORT_METRICS_PATH, &[("grpc-encoding", "gzip")], body).await;
    assert_eq!(answer.grpc_status().0, "0", "{:?}", answer.grpc_status());
    assert_eq!(store.samples.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn rejected_points_are_reported_as_partial_success() {
    let (store, app, _) = setup(GrpcOptions::default());
    let point = NumberDataPoint { time_unix_nano: 1, value: Some(NumberValue::AsInt(3)), ..Default::default() };
    let delta = Sum { data_points: vec![point], aggregation_temporality: 1, is_monotonic: true };
    let delta = Metric { name: "d".to_owned(), data: Some(MetricData::Sum(delta)), ..Default::default() };
    let answer = call(&app, EXPORT_METRICS_PATH, &[], frame(0, &request_bytes(vec![gauge("g", 1.0), delta]))).await;
    assert_eq!(answer.grpc_status().0, "0");
    assert_eq!(store.samples.lock().unwrap().len(), 1);
    #[derive(Clone, PartialEq, prost::Message)]
    struct PartialSuccess {
        #[prost(int64, tag = "1")]
        rejected_data_points: i64,
        #[prost(string, tag = "2")]
        error_message: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct ExportResponse {
        #[prost(message, optional, tag = "1")]
        partial_success: Option<PartialSuccess>,
    }
    assert_eq!(answer.body[0], 0, "uncompressed");
    assert_eq!(answer.body[1..5], ((answer.body.len() - 5) as u32).to_be_bytes());
    let response = ExportResponse::decode(&answer.body[5..]).unwrap();
    let partial = response.partial_success.unwrap();
    assert_eq!(partial.rejected_data_points, 1);
    assert!(partial.error_message.contains("temporality"), "{}", partial.error_message);
}

#[tokio::test]
async fn bad_requests_get_the_specified_codes() {
    let (store, app, metrics) = setup(GrpcOptions { max_message_bytes: 1000, ..GrpcOptions::default() });
    let valid = request_bytes(vec![gauge("g", 1.0)]);
    let mut two = frame(0, &valid);
    two.extend(frame(0, &valid));
    let mut truncated = frame(0, &valid);
    truncated.pop();
    // (what, headers, body, expected grpc-status, words of the expected grpc-message)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<u8>, &'a str, &'a str);
    let cases: Vec<Case<'_>> = vec![
        ("invalid protobuf", vec![], frame(0, b"\xff\xff\xff\xff"), "3", "invalid protobuf"),
        ("oversized", vec![], frame(0, &vec![0; 1001]), "8", "larger than the limit of 1000 bytes"),
        ("truncated", vec![], truncated, "13", "truncated message"),
        ("two messages", vec![], two, "13", "more than one request message"),
        ("empty body", vec![], Vec::new(), "13", "no request message"),
        ("bad flag", vec![], frame(7, &valid), "13", "invalid message flag 7"),
        ("compressed, no encoding", vec![], frame(1, &valid), "13", "no grpc-encoding"),
        ("bad gzip", vec![("grpc-encoding", "gzip")], frame(1, b"not gzip"), "3", "gzip"),
        ("unknown encoding", vec![("grpc-encoding", "snappy")], frame(0, &valid), "12", "\"snappy\" is not supported"),
    ];
    for (what, headers, body, code, text) in cases {
        let answer = call(&app, EXPORT_METRICS_PATH, &headers, body).await;
        assert_eq!(answer.http, StatusCode::OK, "{what}");
        let (got_code, message) = answer.grpc_status();
        assert_eq!(got_code, code, "{what}: {message}");
        assert!(message.contains(text), "{what}: {message:?} lacks {text:?}");
        assert!(answer.body.is_empty(), "{what}: Trailers-Only answers carry no message");
        assert!(answer.headers.get("grpc-status-details-bin").is_none(), "{what}: no retry advice");
    }
    let answer = call(&app, EXPORT_METRICS_PATH, &[("grpc-encoding", "snappy")], frame(0, &valid)).await;
    assert_eq!(answer.headers["grpc-accept-encoding"], "gzip,identity");
    assert!(store.samples.lock().unwrap().is_empty(), "nothing of a refused request is stored");
    let invalid = GrpcLabels { method: "Export", grpc_code: "INVALID_ARGUMENT" };
    assert_eq!(metrics.grpc_requests.get_or_create(&invalid).get(), 2);
}

#[tokio::test]
async fn not_grpc_gets_415_and_unknown_methods_unimplemented() {
    let (_, app, _) = setup(GrpcOptions::default());
    let request = Request::post(EXPORT_METRICS_PATH)
        .header("content-type", "application/x-protobuf")
        .body(Body::from(request_bytes(vec![gauge("g", 1.0)])))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("expected application/grpc"));

    let path = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    let answer = call(&app, path, &[], frame(0, b"")).await;
    let (code, message) = answer.grpc_status();
    assert_eq!(code, "12");
    assert!(message.contains("TraceService"), "{message}");
}

#[tokio::test]
async fn storage_failure_is_unavailable_with_retry_advice() {
    let (store, app, metrics) = setup(GrpcOptions::default());
    store.down.store(true, Ordering::SeqCst);
    let answer = call(&app, EXPORT_METRICS_PATH, &[], frame(0, &request_bytes(vec![gauge("g", 1.0)]))).await;
    let (code, message) = answer.grpc_status();
    assert_eq!(code, "14");
    assert!(message.contains("no space left on device"), "{message}");
    assert!(answer.headers.contains_key("grpc-status-details-bin"));
    let failed = RejectLabels { protocol: PROTOCOL, reason: "storage_unavailable" };
    assert_eq!(metrics.requests_failed.get_or_create(&failed).get(), 1);
}

#[test]
fn parse_message_checks_every_byte_count() {
    assert_eq!(
        parse_message(Bytes::from(frame(0, b"abc"))).unwrap(),
        Message { compressed: false, bytes: Bytes::from_static(b"abc") }
    );
    assert_eq!(parse_message(Bytes::from_static(&[0, 0, 0])).unwrap_err().code, Code::Internal);
    assert_eq!(parse_message(Bytes::from(frame(0, b""))).unwrap().bytes.len(), 0);
}
