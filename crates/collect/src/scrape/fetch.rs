//! One scrape's HTTP exchange: a `GET` of the target's URL with Prometheus's request
//! headers, authentication, TLS, timeout, body size limit and gzip decoding.
//!
//! [`ClientSettings`] holds what a job configures once; [`TargetClient`] is one
//! target's connection, kept alive between scrapes (HTTP/1.1) and re-opened when the
//! target closed it. Secrets given by file are read again on every scrape, so rotated
//! credentials take effect at the next scrape.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use wk_config::SecretSource;

use super::ScrapeConfig;
use crate::http_client::{Auth, TlsClientConfig};

/// The `User-Agent` of every scrape.
pub const USER_AGENT: &str = concat!("Watchkeeper/", env!("CARGO_PKG_VERSION"));

/// The protocols offered when a job sets no `scrape_protocols`: Prometheus 3's default.
pub const DEFAULT_SCRAPE_PROTOCOLS: [&str; 4] =
    ["OpenMetricsText1.0.0", "OpenMetricsText0.0.1", "PrometheusText1.0.0", "PrometheusText0.0.4"];

/// The `Accept` header for `protocols` (in order of preference), as Prometheus builds
/// it: decreasing `q` weights and a final `*/*`. `PrometheusProto` is not offered:
/// Watchkeeper does not parse the protobuf format yet.
pub fn accept_header(protocols: &[String], escaping: Option<&str>) -> String {
    let escaping = escaping.unwrap_or("allow-utf-8");
    let mut weight = 6; // Prometheus: number of known protocols + 1.
    let mut parts = Vec::new();
    let defaults: Vec<String>;
    let protocols = if protocols.is_empty() {
        defaults = DEFAULT_SCRAPE_PROTOCOLS.iter().map(|p| (*p).to_owned()).collect();
        &defaults
    } else {
        protocols
    };
    for protocol in protocols {
        let value = match protocol.as_str() {
            "OpenMetricsText1.0.0" => format!("application/openmetrics-text;version=1.0.0;escaping={escaping}"),
            "OpenMetricsText0.0.1" => "application/openmetrics-text;version=0.0.1".to_owned(),
            "PrometheusText1.0.0" => format!("text/plain;version=1.0.0;escaping={escaping}"),
            "PrometheusText0.0.4" => "text/plain;version=0.0.4".to_owned(),
            _ => continue,
        };
        parts.push(format!("{value};q=0.{weight}"));
        weight -= 1;
    }
    parts.push(format!("*/*;q=0.{weight}"));
    parts.join(",")
}

/// A job's HTTP client settings, shared by its targets' clients.
#[derive(Debug)]
pub struct ClientSettings {
    accept: HeaderValue,
    compression: bool,
    body_size_limit: usize,
    auth: Option<Auth>,
    headers: Vec<(HeaderName, HeaderSource)>,
    tls_config: TlsClientConfig,
    tls: OnceLock<Result<Arc<rustls::ClientConfig>, String>>,
}

#[derive(Debug)]
enum HeaderSource {
    Value(String),
    Secret(SecretSource),
}

impl ClientSettings {
    /// Takes the job's HTTP settings. Fails on a header name or value HTTP cannot carry.
    /// `oauth2` and proxies are not supported yet and are ignored.
    pub fn new(job: &ScrapeConfig) -> Result<Self, String> {
        let accept = accept_header(&job.scrape_protocols, job.metric_name_escaping_scheme.as_deref());
        let auth = Auth::from_config(
            job.basic_auth.as_ref(),
            job.authorization.as_ref(),
            &job.bearer_token,
            &job.bearer_token_file,
        );
        let mut headers = Vec::new();
        for (name, values) in &job.http_headers {
            let name = HeaderName::try_from(name.as_str()).map_err(|e| format!("http_headers: {name:?}: {e}"))?;
            headers.extend(values.values.iter().map(|v| (name.clone(), HeaderSource::Value(v.clone()))));
            headers.extend(
                values.secrets.iter().map(|s| (name.clone(), HeaderSource::Secret(SecretSource::Inline(s.clone())))),
            );
            headers.extend(
                values.files.iter().map(|f| (name.clone(), HeaderSource::Secret(SecretSource::File(f.clone())))),
            );
        }
        Ok(Self {
            accept: HeaderValue::from_str(&accept).map_err(|e| format!("Accept header: {e}"))?,
            compression: job.enable_compression,
            body_size_limit: job.body_size_limit.map_or(0, |b| usize::try_from(b.0).unwrap_or(usize::MAX)),
            auth,
            headers,
            tls_config: job.tls_config.clone(),
            tls: OnceLock::new(),
        })
    }

    /// The TLS client configuration, built on first use (loading the system's CAs
    /// costs milliseconds, which plain-HTTP jobs never pay).
    fn tls(&self) -> Result<Arc<rustls::ClientConfig>, String> {
        self.tls.get_or_init(|| tls_client_config(&self.tls_config)).clone()
    }

    fn request(&self, uri: &http::Uri, host: &str, timeout: Duration) -> Result<http::Request<Empty<Bytes>>, String> {
        let mut builder = http::Request::get(uri.path_and_query().map_or("/", |p| p.as_str()))
            .header(header::HOST, host)
            .header(header::USER_AGENT, USER_AGENT)
            .header(header::ACCEPT, self.accept.clone())
            .header("X-Prometheus-Scrape-Timeout-Seconds", format!("{}", timeout.as_secs_f64()));
        if self.compression {
            builder = builder.header(header::ACCEPT_ENCODING, "gzip");
        } else {
            builder = builder.header(header::ACCEPT_ENCODING, "identity");
        }
        if let Some(auth) = &self.auth {
            builder = builder.header(header::AUTHORIZATION, auth.header_value()?);
        }
        for (name, source) in &self.headers {
            let value = match source {
                HeaderSource::Value(v) => v.clone(),
                HeaderSource::Secret(s) => s.read().map_err(|e| e.to_string())?.expose().to_owned(),
            };
            builder = builder.header(name, value);
        }
        builder.body(Empty::new()).map_err(|e| format!("building the request: {e}"))
    }
}

/// A scrape's response: the (decompressed) body and its content type.
#[derive(Debug)]
pub struct Fetched {
    /// The body, gunzipped when the target sent gzip.
    pub body: Vec<u8>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The response status (always a 2xx: other statuses are errors).
    pub status: http::StatusCode,
}

/// One target's HTTP client, holding its keep-alive connection between scrapes.
#[derive(Debug)]
pub struct TargetClient {
    settings: Arc<ClientSettings>,
    url: String,
    uri: http::Uri,
    host: String,
    authority: String,
    https: bool,
    sender: Option<SendRequest<Empty<Bytes>>>,
}

impl TargetClient {
    /// A client for `url` (`http://` or `https://`). Fails when the URL is malformed.
    pub fn new(settings: Arc<ClientSettings>, url: &str) -> Result<Self, String> {
        let uri: http::Uri = url.parse().map_err(|e| format!("invalid scrape URL {url:?}: {e}"))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(format!("scrape URL {url:?} must start with http:// or https://")),
        };
        let host = uri.host().filter(|h| !h.is_empty()).ok_or_else(|| format!("scrape URL {url:?} has no host"))?;
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let authority = format!("{host}:{port}");
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        Ok(Self { settings, url: url.to_owned(), uri, host, authority, https, sender: None })
    }

    /// The URL scraped.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Scrapes once within `timeout`. Errors read like Prometheus's
    /// (`Get "http://…/metrics": context deadline exceeded`) and name the URL.
    pub async fn fetch(&mut self, timeout: Duration) -> Result<Fetched, String> {
        match tokio::time::timeout(timeout, self.exchange(timeout)).await {
            Ok(Ok(fetched)) => Ok(fetched),
            Ok(Err(e)) => {
                self.sender = None;
                Err(format!("Get {:?}: {e}", self.url))
            }
            Err(_) => {
                self.sender = None;
                Err(format!("Get {:?}: context deadline exceeded (timeout {timeout:?})", self.url))
            }
        }
    }

    async fn exchange(&mut self, timeout: Duration) -> Result<Fetched, String> {
        let mut response = None;
        if let Some(mut sender) = self.sender.take().filter(|s| !s.is_closed())
            && sender.ready().await.is_ok()
        {
            let request = self.settings.request(&self.uri, &self.authority, timeout)?;
            // A kept-alive connection the target closed meanwhile fails here; a GET is
            // safe to send again on a fresh connection.
            if let Ok(r) = sender.send_request(request).await {
                self.sender = Some(sender);
                response = Some(r);
            }
        }
        let response = match response {
            Some(r) => r,
            None => {
                let mut sender = self.connect().await?;
                let request = self.settings.request(&self.uri, &self.authority, timeout)?;
                let r = sender.send_request(request).await.map_err(|e| e.to_string())?;
                self.sender = Some(sender);
                r
            }
        };
        let status = response.status();
        if !status.is_success() {
            self.sender = None;
            return Err(format!("server returned HTTP status {status}"));
        }
        let content_type =
            response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let gzip = response
            .headers()
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"));
        let limit = if self.settings.body_size_limit == 0 { 1 << 40 } else { self.settings.body_size_limit };
        let raw = Limited::new(response.into_body(), limit).collect().await.map_err(|e| {
            if e.downcast_ref::<LengthLimitError>().is_some() {
                format!("body size limit exceeded (limit {limit} bytes)")
            } else {
                format!("reading the body: {e}")
            }
        })?;
        let raw = raw.to_bytes();
        let body = if gzip {
            let limits = wk_ingest::Limits { max_body_bytes: limit, ..Default::default() };
            let mut out = Vec::with_capacity(raw.len() * 4);
            wk_ingest::content::gunzip_into(&raw, &limits, &mut out).map_err(|e| match e {
                wk_ingest::Error::BodyTooLarge { .. } => format!("body size limit exceeded (limit {limit} bytes)"),
                other => format!("decompressing the gzip body: {other}"),
            })?;
            out
        } else {
            raw.into()
        };
        Ok(Fetched { body, content_type, status })
    }

    async fn connect(&self) -> Result<SendRequest<Empty<Bytes>>, String> {
        let tcp = TcpStream::connect(&self.authority).await.map_err(|e| format!("dial tcp {}: {e}", self.authority))?;
        let _ = tcp.set_nodelay(true);
        if !self.https {
            return handshake(TokioIo::new(tcp)).await;
        }
        let config = self.settings.tls()?;
        let name = self.settings.tls_config.server_name.clone().unwrap_or_else(|| self.host.clone());
        let name = ServerName::try_from(name.clone()).map_err(|e| format!("TLS server name {name:?}: {e}"))?;
        let stream = TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake with {}: {e}", self.authority))?;
        handshake(TokioIo::new(stream)).await
    }
}

async fn handshake<S>(io: TokioIo<S>) -> Result<SendRequest<Empty<Bytes>>, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) =
        hyper::client::conn::http1::handshake(io).await.map_err(|e| format!("HTTP handshake: {e}"))?;
    // The connection task ends when the sender is dropped or the peer closes.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// Builds the rustls configuration for a job's `tls_config`: its CA (or the system's),
/// an optional client certificate, `insecure_skip_verify`, and the minimum version.
/// Also used by the agent's remote_write client. Fails with a message naming the file
/// or setting that is wrong.
pub fn tls_client_config(tls: &TlsClientConfig) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    static TLS13_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];
    let versions = match tls.min_version.as_deref() {
        Some("TLS13") => TLS13_ONLY,
        _ => rustls::DEFAULT_VERSIONS,
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| format!("TLS setup: {e}"))?;
    let builder = if tls.insecure_skip_verify {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(crate::probe::AcceptAny(provider)))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        let pem = match (&tls.ca_file, &tls.ca) {
            (Some(path), _) => {
                Some(std::fs::read(path).map_err(|e| format!("reading ca_file {}: {e}", path.display()))?)
            }
            (None, Some(inline)) => Some(inline.clone().into_bytes()),
            (None, None) => None,
        };
        match pem {
            Some(pem) => {
                for cert in CertificateDer::pem_slice_iter(&pem) {
                    let cert = cert.map_err(|e| format!("CA certificate: {e}"))?;
                    roots.add(cert).map_err(|e| format!("CA certificate: {e}"))?;
                }
            }
            None => {
                roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            }
        }
        builder.with_root_certificates(roots)
    };
    let cert_pem = match (&tls.cert_file, &tls.cert) {
        (Some(path), _) => Some(std::fs::read(path).map_err(|e| format!("reading cert_file {}: {e}", path.display()))?),
        (None, Some(inline)) => Some(inline.clone().into_bytes()),
        (None, None) => None,
    };
    let mut config = match cert_pem {
        None => builder.with_no_client_auth(),
        Some(cert_pem) => {
            let key_pem = match (&tls.key_file, &tls.key) {
                (Some(path), _) => {
                    std::fs::read(path).map_err(|e| format!("reading key_file {}: {e}", path.display()))?
                }
                (None, Some(inline)) => inline.expose().as_bytes().to_vec(),
                (None, None) => return Err("tls_config: a client certificate needs a key".to_owned()),
            };
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("client certificate: {e}"))?;
            let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| format!("client key: {e}"))?;
            builder.with_client_auth_cert(certs, key).map_err(|e| format!("client certificate: {e}"))?
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Standard base64 with padding (RFC 4648), for `Authorization: Basic` headers.
pub fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases =
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE=")];
        for (input, expected) in cases {
            assert_eq!(base64(input.as_bytes()), expected, "{input:?}");
        }
    }

    #[test]
    fn accept_header_as_prometheus_builds_it() {
        assert_eq!(
            accept_header(&[], None),
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,\
             application/openmetrics-text;version=0.0.1;q=0.5,\
             text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,\
             text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
        );
        assert_eq!(
            accept_header(&["PrometheusText0.0.4".to_owned()], Some("underscores")),
            "text/plain;version=0.0.4;q=0.6,*/*;q=0.5"
        );
    }
}
