//! Helpers shared by the server's integration tests: a tiny HTTP/1.1 client over a
//! real socket, and servers started in-process on a free loopback port.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use wk_server::reload::Overrides;
use wk_server::{Server, ServerOptions};

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Sends one request with `Connection: close` and reads the whole response.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    extra_headers: &[(&str, &str)],
    body: &str,
) -> Response {
    let stream = TcpStream::connect(addr).await.expect("connect");
    exchange(stream, method, path, extra_headers, body).await
}

/// Like [`request`] over any stream (plain or TLS).
pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    method: &str,
    path: &str,
    extra_headers: &[(&str, &str)],
    body: &str,
) -> Response {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (name, value) in extra_headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !extra_headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-length")) {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream.write_all(body.as_bytes()).await.expect("write body");
    read_response(&mut stream).await
}

/// Reads a response until the peer closes the connection (bounded to 10 s).
pub async fn read_response<S: AsyncRead + Unpin>(stream: &mut S) -> Response {
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .expect("response within 10s")
        .expect("read response");
    parse_response(&raw)
}

pub fn parse_response(raw: &[u8]) -> Response {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no header end in {text:?}"));
    let mut lines = head.lines();
    let status_line = lines.next().expect("status line");
    let status = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status code");
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned())).collect();
    let chunked = headers.iter().any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked { dechunk(body) } else { body.to_owned() };
    Response { status, headers, body }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// Tests count series and targets exactly, so the server's self-scrape (on by
/// default, tested on its own) is turned off unless a test configures it.
fn quiet(config: &str) -> String {
    if config.contains("self_monitoring") {
        config.to_owned()
    } else {
        // Appended, so line numbers in error messages stay those of the test's text.
        format!("{config}\nself_monitoring:\n  enabled: false\n")
    }
}

/// Sends raw bytes as a POST body with the given headers.
pub async fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut head =
        format!("POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream.write_all(body).await.expect("write body");
    read_response(&mut stream).await
}

/// The headers of a remote_write 1.0 request.
pub const REMOTE_WRITE_HEADERS: &[(&str, &str)] = &[
    ("Content-Type", "application/x-protobuf"),
    ("Content-Encoding", "snappy"),
    ("X-Prometheus-Remote-Write-Version", "0.1.0"),
];

/// The snappy-compressed protobuf body of a remote_write 1.0 request.
pub fn snappy(request: &wk_ingest::remote_write::proto::WriteRequest) -> Vec<u8> {
    use prost::Message;
    snap::raw::Encoder::new().compress_vec(&request.encode_to_vec()).expect("snappy")
}

/// Sends a remote_write 1.0 request.
pub async fn remote_write(addr: SocketAddr, request: &wk_ingest::remote_write::proto::WriteRequest) -> Response {
    post(addr, "/api/v1/write", REMOTE_WRITE_HEADERS, &snappy(request)).await
}

/// A configuration file in a fresh temporary directory, with the data directory
/// beside it and the server on a free loopback port.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
}

impl TestEnv {
    pub fn new(config: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("watchkeeper.yml"), quiet(config)).expect("write config");
        Self { dir }
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("watchkeeper.yml")
    }

    pub fn write_config(&self, config: &str) {
        std::fs::write(self.config_path(), quiet(config)).expect("write config");
    }

    pub fn options(&self) -> ServerOptions {
        ServerOptions {
            config_file: Some(self.config_path()),
            overrides: Overrides {
                listen_address: Some("127.0.0.1:0".parse().unwrap()),
                storage_path: Some(self.dir.path().join("data")),
                otlp_grpc_listen_address: Some("127.0.0.1:0".parse().unwrap()),
            },
        }
    }

    pub async fn start(&self) -> Server {
        Server::start(self.options()).await.expect("server starts")
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// The answer to one gRPC call: HTTP status, headers, response body (still framed),
/// and the status from the trailers or, for a Trailers-Only answer, the headers.
#[derive(Debug)]
pub struct GrpcAnswer {
    pub http_status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
    pub trailers: Option<http::HeaderMap>,
}

impl GrpcAnswer {
    /// `grpc-status` and the percent-decoded `grpc-message`.
    pub fn status(&self) -> (Option<u32>, String) {
        let map = self.trailers.as_ref().filter(|t| t.contains_key("grpc-status")).unwrap_or(&self.headers);
        let code = map.get("grpc-status").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        let message = map.get("grpc-message").and_then(|v| v.to_str().ok()).unwrap_or("");
        (code, percent_decode(message))
    }

    /// A status header from the trailers or the headers.
    pub fn status_header(&self, name: &str) -> Option<String> {
        let map = self.trailers.as_ref().filter(|t| t.contains_key("grpc-status")).unwrap_or(&self.headers);
        map.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A gRPC message frame: flag byte, big-endian length, bytes.
pub fn grpc_frame(compressed: bool, message: &[u8]) -> Vec<u8> {
    let mut out = vec![u8::from(compressed)];
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out
}

/// One call over a fresh HTTP/2 connection (prior knowledge, no TLS), bounded to 10 s.
/// `headers` are added to `te: trailers`; give `content-type` yourself.
pub async fn grpc_call(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> GrpcAnswer {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    grpc_call_over(tcp, addr, path, headers, body).await
}

/// Like [`grpc_call`] over an established stream (plain or TLS).
pub async fn grpc_call_over<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    stream: S,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> GrpcAnswer {
    let call = async {
        let (client, connection) = h2::client::handshake(stream).await.expect("HTTP/2 handshake");
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut client = client.ready().await.expect("HTTP/2 ready");
        let mut request = http::Request::post(format!("http://{addr}{path}")).header("te", "trailers");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let (response, mut send) = client.send_request(request.body(()).unwrap(), false).expect("send request");
        // The server may answer (and reset the stream) before it has read everything.
        let _ = send.send_data(bytes::Bytes::from(body), true);
        let response = response.await.expect("response headers");
        let (parts, mut stream) = response.into_parts();
        let mut body = Vec::new();
        while let Some(chunk) = stream.data().await {
            let chunk = chunk.expect("response body");
            let _ = stream.flow_control().release_capacity(chunk.len());
            body.extend_from_slice(&chunk);
        }
        let trailers = stream.trailers().await.expect("response trailers");
        driver.abort();
        GrpcAnswer { http_status: parts.status.as_u16(), headers: parts.headers, body, trailers }
    };
    tokio::time::timeout(Duration::from_secs(10), call).await.expect("gRPC call within 10s")
}

/// The OTLP/gRPC export method.
pub const OTLP_EXPORT: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

/// An `ExportMetricsServiceRequest` with one gauge point `name` = `value` at now.
pub fn otlp_gauge_request(name: &str, value: f64) -> Vec<u8> {
    use prost::Message;
    use wk_ingest::otlp::proto::*;
    let now_ns = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let point =
        NumberDataPoint { time_unix_nano: now_ns, value: Some(NumberValue::AsDouble(value)), ..Default::default() };
    let metric = Metric {
        name: name.to_owned(),
        data: Some(MetricData::Gauge(Gauge { data_points: vec![point] })),
        ..Default::default()
    };
    let scope = ScopeMetrics { metrics: vec![metric] };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics { resource: None, scope_metrics: vec![scope] }],
    }
    .encode_to_vec()
}
