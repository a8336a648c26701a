//! The HTTP side of remote_write: one kept-alive HTTP/1.1 connection (plain or TLS)
//! to the endpoint, a POST of one snappy-compressed `WriteRequest`, and the answer
//! classified as Prometheus does: 2xx delivered; 5xx (and 429 when
//! `retry_on_http_429`) retried, honouring `Retry-After`; any other status dropped.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use wk_collect::http_client::Auth;
use wk_collect::scrape::fetch::tls_client_config;

use crate::config::RemoteWriteConfig;
use crate::error::{Error, Result};

/// Longest `Retry-After` honoured; longer waits are shortened to it.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);
/// Most bytes of an error response kept for the log.
const ERROR_BODY_LIMIT: usize = 512;

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The endpoint accepted the batch (2xx).
    Delivered,
    /// Worth retrying (connection error, timeout, 5xx, 429); with the wait the
    /// endpoint asked for.
    Retry {
        /// `Retry-After`, when the endpoint sent one.
        after: Option<Duration>,
        /// What happened.
        error: String,
    },
    /// Refused for good (4xx other than 429): the batch is dropped.
    Refused {
        /// What happened, with the endpoint's message.
        error: String,
    },
}

/// A remote_write endpoint's client.
#[derive(Debug)]
pub struct RemoteClient {
    url: String,
    uri: http::Uri,
    authority: String,
    server_name: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    auth: Option<Auth>,
    headers: Vec<(HeaderName, HeaderValue)>,
    timeout: Duration,
    retry_on_429: bool,
    conn: Option<SendRequest<Full<Bytes>>>,
}

impl RemoteClient {
    /// A client for `config`. Fails on a URL, header or TLS file it cannot use.
    pub fn new(config: &RemoteWriteConfig) -> Result<Self> {
        let fail = |detail: String| Error::Config { queue: config.queue_name(), detail };
        let uri: http::Uri = config.url.parse().map_err(|e| fail(format!("invalid url {:?}: {e}", config.url)))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(fail(format!("url {:?} must start with http:// or https://", config.url))),
        };
        let host =
            uri.host().filter(|h| !h.is_empty()).ok_or_else(|| fail(format!("url {:?} has no host", config.url)))?;
        let authority = format!("{host}:{}", uri.port_u16().unwrap_or(if https { 443 } else { 80 }));
        let server_name = config
            .tls_config
            .server_name
            .clone()
            .unwrap_or_else(|| host.trim_start_matches('[').trim_end_matches(']').to_owned());
        let tls = if https { Some(tls_client_config(&config.tls_config).map_err(fail)?) } else { None };
        let auth = Auth::from_config(
            config.basic_auth.as_ref(),
            config.authorization.as_ref(),
            &config.bearer_token,
            &config.bearer_token_file,
        );
        let mut headers = Vec::new();
        for (name, value) in &config.headers {
            let name = HeaderName::try_from(name.as_str()).map_err(|e| fail(format!("header {name:?}: {e}")))?;
            let value = HeaderValue::try_from(value.as_str()).map_err(|e| fail(format!("header {name}: {e}")))?;
            headers.push((name, value));
        }
        Ok(Self {
            url: config.url.clone(),
            uri,
            authority,
            server_name,
            tls,
            auth,
            headers,
            timeout: config.remote_timeout.get(),
            retry_on_429: config.queue_config.retry_on_http_429,
            conn: None,
        })
    }

    /// Posts one snappy-compressed `WriteRequest` within the remote timeout.
    pub async fn send(&mut self, body: Bytes) -> Outcome {
        match tokio::time::timeout(self.timeout, self.exchange(body)).await {
            Ok(outcome) => outcome,
            Err(_) => {
                self.conn = None;
                Outcome::Retry { after: None, error: format!("Post {:?}: timeout after {:?}", self.url, self.timeout) }
            }
        }
    }

    async fn exchange(&mut self, body: Bytes) -> Outcome {
        let request = match self.request(body) {
            Ok(r) => r,
            Err(error) => return Outcome::Retry { after: None, error },
        };
        let mut conn = match self.conn.take().filter(|c| !c.is_closed()) {
            Some(c) => c,
            None => match self.connect().await {
                Ok(c) => c,
                Err(error) => return Outcome::Retry { after: None, error: format!("Post {:?}: {error}", self.url) },
            },
        };
        if conn.ready().await.is_err() {
            return Outcome::Retry { after: None, error: format!("Post {:?}: connection closed", self.url) };
        }
        let response = match conn.send_request(request).await {
            Ok(r) => r,
            Err(e) => return Outcome::Retry { after: None, error: format!("Post {:?}: {e}", self.url) },
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
        let body = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        self.conn = Some(conn);
        if status.is_success() {
            return Outcome::Delivered;
        }
        let text = String::from_utf8_lossy(&body[..body.len().min(ERROR_BODY_LIMIT)]).trim().to_owned();
        let error = format!("server returned HTTP status {status}: {text}");
        if status.is_server_error() || (status == http::StatusCode::TOO_MANY_REQUESTS && self.retry_on_429) {
            Outcome::Retry { after: retry_after, error }
        } else {
            Outcome::Refused { error }
        }
    }

    fn request(&self, body: Bytes) -> Result<http::Request<Full<Bytes>>, String> {
        let path = self.uri.path_and_query().map_or("/", |p| p.as_str());
        let mut builder = http::Request::post(path)
            .header(header::HOST, &self.authority)
            .header(header::CONTENT_TYPE, "application/x-protobuf")
            .header(header::CONTENT_ENCODING, "snappy")
            .header(header::USER_AGENT, concat!("Watchkeeper-agent/", env!("CARGO_PKG_VERSION")))
            .header("X-Prometheus-Remote-Write-Version", "0.1.0");
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        if let Some(auth) = &self.auth {
            builder = builder.header(header::AUTHORIZATION, auth.header_value()?);
        }
        builder.body(Full::new(body)).map_err(|e| format!("building the request: {e}"))
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let tcp = TcpStream::connect(&self.authority).await.map_err(|e| format!("dial tcp {}: {e}", self.authority))?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => handshake(TokioIo::new(tcp)).await,
            Some(config) => {
                let name = ServerName::try_from(self.server_name.clone())
                    .map_err(|e| format!("TLS server name {:?}: {e}", self.server_name))?;
                let stream = TlsConnector::from(config.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS handshake with {}: {e}", self.authority))?;
                handshake(TokioIo::new(stream)).await
            }
        }
    }
}

async fn handshake<S>(io: TokioIo<S>) -> Result<SendRequest<Full<Bytes>>, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) =
        hyper::client::conn::http1::handshake(io).await.map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}
