//! Runs the tool's entry point against a tiny remote_write receiver that decodes
//! every body with `wk-ingest`, answers some requests 429 to exercise the retries,
//! and checks that every sample arrived exactly once and in order per series.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use wk_bench::sender::SendOptions;
use wk_bench::{RunConfig, Shape, generator};
use wk_ingest::{Decoder, Limits};

type Labels = Vec<(String, String)>;

/// What the receiver saw: every (series, timestamp) with how often it arrived, and
/// each series' timestamps in arrival order.
#[derive(Default)]
struct Received {
    counts: HashMap<(Labels, i64), u32>,
    order: HashMap<Labels, Vec<i64>>,
}

#[derive(Default)]
struct Receiver {
    received: Mutex<Received>,
    requests: AtomicU64,
}

impl Receiver {
    /// Answers every fifth request 429 (`Retry-After: 0`) without storing it.
    fn handle(&self, content_type: Option<String>, encoding: Option<String>, body: &[u8]) -> Response<Full<Bytes>> {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        if n % 5 == 2 {
            let mut response = Response::new(Full::new(Bytes::from_static(b"slow down")));
            *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            response.headers_mut().insert(RETRY_AFTER, "0".parse().unwrap());
            return response;
        }
        let batch = Decoder::new(Limits::default())
            .remote_write(body, content_type.as_deref(), encoding.as_deref(), 2_000_000_000_000)
            .expect("the tool sends valid remote_write 1.0");
        assert!(batch.rejections.is_empty(), "{:?}", batch.rejections);
        let mut received = self.received.lock().unwrap();
        for series in batch.series {
            for sample in &series.samples {
                *received.counts.entry((series.labels.clone(), sample.t_ms)).or_default() += 1;
                received.order.entry(series.labels.clone()).or_default().push(sample.t_ms);
            }
        }
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::NO_CONTENT;
        response
    }
}

async fn serve(receiver: Arc<Receiver>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let receiver = receiver.clone();
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let receiver = receiver.clone();
                async move {
                    let header = |name| request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
                    let (content_type, encoding) = (header(CONTENT_TYPE), header(CONTENT_ENCODING));
                    let body = request.into_body().collect().await.unwrap().to_bytes();
                    Ok::<_, Infallible>(receiver.handle(content_type, encoding, &body))
                }
            });
            tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sample_arrives_exactly_once_in_order() {
    arrives_exactly_once_in_order(false, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_samples_arrive_exactly_once_in_order() {
    arrives_exactly_once_in_order(true, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_rows_arrive_exactly_once_in_order() {
    arrives_exactly_once_in_order(true, 3).await;
}

async fn arrives_exactly_once_in_order(stream: bool, samples_per_series: u64) {
    let receiver = Arc::new(Receiver::default());
    let addr = serve(receiver.clone()).await;
    let shape = Shape { series: 250, steps: 4, batch_series: 40, samples_per_series, start_ms: 1_700_000_000_000 };
    let config = RunConfig {
        shape,
        send: SendOptions {
            url: format!("http://{addr}/api/v1/write").parse().unwrap(),
            concurrency: 3,
            max_retries: 5,
            max_backoff: Duration::from_millis(100),
        },
        server_pid: Some(std::process::id()),
        progress: false,
        stream,
    };
    let report = wk_bench::run(&config).await.unwrap();

    assert_eq!(report.samples_planned, 1_000);
    assert_eq!(report.samples_accepted, 1_000, "{report}");
    assert_eq!(report.samples_failed, 0);
    assert_eq!(report.transport_errors, 0);
    let rejected = report.statuses.get(&429).copied().unwrap_or(0);
    assert!(rejected > 0, "the receiver answered some requests 429: {report}");
    assert_eq!(report.retries, rejected);
    assert_eq!(report.responses, receiver.requests.load(Ordering::Relaxed));
    assert!(report.server.is_some_and(|s| s.peak_rss_bytes > 0));

    let received = receiver.received.lock().unwrap();
    assert_eq!(received.counts.len(), 1_000);
    assert!(received.counts.values().all(|&n| n == 1), "a sample arrived twice");
    assert_eq!(received.order.len(), 250);
    let expected: Vec<i64> = (0..4).map(|s| shape.timestamp(s)).collect();
    for i in 0..shape.series {
        let labels: Labels = generator::labels(i).into_iter().map(|(n, v)| (n.to_owned(), v)).collect();
        assert_eq!(received.order.get(&labels), Some(&expected), "series {i}: {labels:?}");
    }
}

#[tokio::test]
async fn https_urls_are_refused_before_encoding() {
    let config = RunConfig {
        shape: Shape { series: 10, steps: 1, batch_series: 10, samples_per_series: 1, start_ms: 0 },
        send: SendOptions {
            url: "https://127.0.0.1:1/api/v1/write".parse().unwrap(),
            concurrency: 1,
            max_retries: 0,
            max_backoff: Duration::from_millis(1),
        },
        server_pid: None,
        progress: false,
        stream: false,
    };
    let error = wk_bench::run(&config).await.unwrap_err();
    assert!(error.to_string().contains("only http:// URLs"), "{error}");
}
