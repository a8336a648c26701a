//! HTTP(S) probe with blackbox_exporter's phases and checks: DNS resolution, TCP
//! connect, TLS handshake, time to the response headers (processing), time to read the
//! body (transfer); status code, body regexes and certificate expiry.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::Request;
use hyper_util::rt::TokioIo;
use regex::Regex;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::{ProbeOutcome, cert, gauge, ip_protocol, resolve};
use crate::family::{MetricFamily, MetricKind};

/// What an HTTP probe sends and checks.
#[derive(Clone, Debug)]
pub struct HttpProbeOptions {
    /// The request method. Default `GET`.
    pub method: String,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// Status codes that count as success; empty means any 2xx.
    pub valid_status_codes: Vec<u16>,
    /// The probe fails unless the body matches every one of these.
    pub fail_if_body_not_matches: Vec<Regex>,
    /// The probe fails if the body matches any of these.
    pub fail_if_body_matches: Vec<Regex>,
    /// Whole-probe deadline. Default 10s.
    pub timeout: Duration,
    /// Extra trusted CA certificates (PEM), besides the system's.
    pub ca_pem: Option<Vec<u8>>,
    /// Accept any certificate (still reports its expiry). Never for production checks.
    pub insecure_skip_verify: bool,
    /// Most body bytes read. Default 1 MiB.
    pub body_size_limit: usize,
}

impl Default for HttpProbeOptions {
    fn default() -> Self {
        Self {
            method: "GET".to_owned(),
            headers: Vec::new(),
            valid_status_codes: Vec::new(),
            fail_if_body_not_matches: Vec::new(),
            fail_if_body_matches: Vec::new(),
            timeout: Duration::from_secs(10),
            ca_pem: None,
            insecure_skip_verify: false,
            body_size_limit: 1 << 20,
        }
    }
}

/// A configured HTTP probe, reusable across runs.
#[derive(Debug)]
pub struct HttpProbe {
    url: http::Uri,
    host: String,
    port: u16,
    tls: Option<Arc<rustls::ClientConfig>>,
    options: HttpProbeOptions,
}

impl HttpProbe {
    /// Checks the URL and prepares TLS. Errors name what is wrong with the settings.
    pub fn new(url: &str, options: HttpProbeOptions) -> Result<Self, String> {
        let parsed: http::Uri = url.parse().map_err(|e| format!("invalid URL {url:?}: {e}"))?;
        let https = match parsed.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(format!("URL {url:?} must start with http:// or https://")),
        };
        let host = parsed.host().filter(|h| !h.is_empty()).ok_or_else(|| format!("URL {url:?} has no host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = parsed.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tls = https.then(|| tls_connector(&options)).transpose()?;
        Ok(Self { url: parsed, host, port, tls, options })
    }

    /// Runs the probe once. Never fails: problems are in the outcome.
    pub async fn run(&self) -> ProbeOutcome {
        let started = Instant::now();
        let mut families = Vec::new();
        let error = match tokio::time::timeout(self.options.timeout, self.exchange(&mut families)).await {
            Ok(result) => result.err(),
            Err(_) => Some(format!("probe of {} timed out after {:?}", self.url, self.options.timeout)),
        };
        ProbeOutcome::finish(started, families, error)
    }

    async fn exchange(&self, families: &mut Vec<MetricFamily>) -> Result<(), String> {
        let mut phases = MetricFamily::new(
            "probe_http_duration_seconds",
            "Duration of http request by phase, summed over all redirects",
            MetricKind::Gauge,
        );
        let target = format!("{}:{}", bracket(&self.host), self.port);
        let (addr, lookup) = resolve(&target).await?;
        phases.push(vec![("phase", "resolve".to_owned())], lookup.as_secs_f64());
        families.push(gauge(
            "probe_dns_lookup_time_seconds",
            "Returns the time taken for probe dns lookup in seconds",
            lookup.as_secs_f64(),
        ));
        families.push(ip_protocol(&addr));

        let connect_start = Instant::now();
        let tcp = TcpStream::connect(addr).await.map_err(|e| format!("connecting to {addr}: {e}"))?;
        phases.push(vec![("phase", "connect".to_owned())], connect_start.elapsed().as_secs_f64());
        families.push(gauge(
            "probe_http_ssl",
            "Indicates if SSL was used for the final redirect",
            if self.tls.is_some() { 1.0 } else { 0.0 },
        ));

        let result = match &self.tls {
            None => {
                phases.push(vec![("phase", "tls".to_owned())], 0.0);
                self.request(TokioIo::new(tcp), &mut phases, families).await
            }
            Some(config) => {
                let connector = TlsConnector::from(config.clone());
                let tls_start = Instant::now();
                let name = ServerName::try_from(self.host.clone())
                    .map_err(|e| format!("TLS server name {:?}: {e}", self.host))?;
                let stream =
                    connector.connect(name, tcp).await.map_err(|e| format!("TLS handshake with {addr}: {e}"))?;
                phases.push(vec![("phase", "tls".to_owned())], tls_start.elapsed().as_secs_f64());
                tls_families(stream.get_ref().1, families);
                self.request(TokioIo::new(stream), &mut phases, families).await
            }
        };
        families.push(phases);
        result
    }

    async fn request<S>(
        &self,
        io: TokioIo<S>,
        phases: &mut MetricFamily,
        families: &mut Vec<MetricFamily>,
    ) -> Result<(), String>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let processing_start = Instant::now();
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(io).await.map_err(|e| format!("HTTP handshake: {e}"))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let path = self.url.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let mut builder = Request::builder()
            .method(self.options.method.as_str())
            .uri(path)
            .header(http::header::HOST, self.url.authority().map(|a| a.as_str()).unwrap_or(&self.host))
            .header(http::header::USER_AGENT, concat!("Watchkeeper/", env!("CARGO_PKG_VERSION")));
        for (name, value) in &self.options.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let request = builder.body(Empty::<Bytes>::new()).map_err(|e| format!("building the request: {e}"))?;
        let response = sender.send_request(request).await.map_err(|e| format!("HTTP request to {}: {e}", self.url))?;
        phases.push(vec![("phase", "processing".to_owned())], processing_start.elapsed().as_secs_f64());

        let status = response.status().as_u16();
        families.push(gauge("probe_http_status_code", "Response HTTP status code", f64::from(status)));
        families.push(gauge("probe_http_version", "Returns the version of HTTP of the probe response", 1.1));
        families.push(gauge("probe_http_redirects", "The number of redirects", 0.0));
        let content_length = response
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<f64>().ok())
            .unwrap_or(-1.0);
        families.push(gauge("probe_http_content_length", "Length of http content response", content_length));

        let transfer_start = Instant::now();
        let body = Limited::new(response.into_body(), self.options.body_size_limit)
            .collect()
            .await
            .map_err(|e| format!("reading the response body: {e}"))?
            .to_bytes();
        phases.push(vec![("phase", "transfer".to_owned())], transfer_start.elapsed().as_secs_f64());
        families.push(gauge(
            "probe_http_uncompressed_body_length",
            "Length of uncompressed response body",
            body.len() as f64,
        ));

        let valid = if self.options.valid_status_codes.is_empty() {
            (200..300).contains(&status)
        } else {
            self.options.valid_status_codes.contains(&status)
        };
        let text = String::from_utf8_lossy(&body);
        let regex_failure = self
            .options
            .fail_if_body_not_matches
            .iter()
            .find(|re| !re.is_match(&text))
            .map(|re| format!("body does not match {:?}", re.as_str()))
            .or_else(|| {
                self.options
                    .fail_if_body_matches
                    .iter()
                    .find(|re| re.is_match(&text))
                    .map(|re| format!("body matches {:?}", re.as_str()))
            });
        families.push(gauge(
            "probe_failed_due_to_regex",
            "Indicates if probe failed due to regex",
            if regex_failure.is_some() { 1.0 } else { 0.0 },
        ));
        if !valid {
            return Err(format!("unexpected status code {status} from {}", self.url));
        }
        regex_failure.map_or(Ok(()), Err)
    }
}

fn bracket(host: &str) -> String {
    if host.contains(':') { format!("[{host}]") } else { host.to_owned() }
}

fn tls_families(connection: &rustls::ClientConnection, families: &mut Vec<MetricFamily>) {
    if let Some(version) = connection.protocol_version() {
        let name = match version {
            rustls::ProtocolVersion::TLSv1_2 => "TLS 1.2",
            rustls::ProtocolVersion::TLSv1_3 => "TLS 1.3",
            _ => "unknown",
        };
        families.push(
            MetricFamily::new(
                "probe_tls_version_info",
                "Returns the TLS version used or NaN when unknown",
                MetricKind::Gauge,
            )
            .with(vec![("version", name.to_owned())], 1.0),
        );
    }
    let expiries: Vec<i64> = connection
        .peer_certificates()
        .unwrap_or_default()
        .iter()
        .filter_map(|c| cert::not_after_unix(c.as_ref()).ok())
        .collect();
    if let Some(earliest) = expiries.iter().min() {
        families.push(gauge(
            "probe_ssl_earliest_cert_expiry",
            "Returns last SSL chain expiry in unixtime",
            *earliest as f64,
        ));
    }
}

fn tls_connector(options: &HttpProbeOptions) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let mut config = if options.insecure_skip_verify {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(AcceptAny(provider))).with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        if let Some(pem) = &options.ca_pem {
            use rustls::pki_types::pem::PemObject;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| format!("CA certificate: {e}"))?;
                roots.add(cert).map_err(|e| format!("CA certificate: {e}"))?;
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Accepts any certificate but still checks that the handshake signatures are valid,
/// so `insecure_skip_verify` probes can report the expiry of a broken certificate.
#[derive(Debug)]
pub(crate) struct AcceptAny(pub(crate) Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
