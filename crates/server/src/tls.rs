//! Server TLS whose certificate follows the files on disk: when the certificate or
//! key file changes (checked at most once a second, on a handshake), both are read
//! again and new handshakes use them; a broken new pair is logged and the previous
//! one stays in use. No restart, no reload needed.

use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsServerConfig;
use crate::{Error, Result};

const RECHECK_EVERY: Duration = Duration::from_secs(1);

/// Builds an acceptor for HTTP/2 and HTTP/1.1 over TLS 1.2/1.3 with a certificate
/// that is reloaded from disk when it changes. Fails if the files cannot be loaded now.
pub fn acceptor(config: &TlsServerConfig) -> Result<TlsAcceptor> {
    let resolver = Arc::new(ReloadingCert::new(&config.cert_file, &config.key_file)?);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(server)))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
}

impl Stamp {
    fn of(meta: &Metadata) -> Self {
        Self { modified: meta.modified().ok(), len: meta.len() }
    }
}

#[derive(Debug)]
struct Loaded {
    key: Arc<CertifiedKey>,
    stamps: (Stamp, Stamp),
    checked: Instant,
}

/// A certificate resolver that re-reads its PEM files when they change.
#[derive(Debug)]
pub struct ReloadingCert {
    cert_file: PathBuf,
    key_file: PathBuf,
    state: Mutex<Loaded>,
}

impl ReloadingCert {
    /// Loads the pair now; an error names the file and what is wrong with it.
    pub fn new(cert_file: &Path, key_file: &Path) -> Result<Self> {
        let (key, stamps) = load_pair(cert_file, key_file)?;
        Ok(Self {
            cert_file: cert_file.to_owned(),
            key_file: key_file.to_owned(),
            state: Mutex::new(Loaded { key, stamps, checked: Instant::now() }),
        })
    }

    fn current(&self) -> Arc<CertifiedKey> {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.checked.elapsed() >= RECHECK_EVERY {
            state.checked = Instant::now();
            if let Some(stamps) = stamps(&self.cert_file, &self.key_file)
                && stamps != state.stamps
            {
                match load_pair(&self.cert_file, &self.key_file) {
                    Ok((key, stamps)) => {
                        tracing::info!(cert = %self.cert_file.display(), "TLS certificate reloaded");
                        state.key = key;
                        state.stamps = stamps;
                    }
                    Err(e) => {
                        // Keep serving the old pair; a half-written file is common
                        // while a certificate is being renewed.
                        tracing::warn!(error = %e, "TLS certificate changed on disk but could not be loaded; keeping the previous one");
                    }
                }
            }
        }
        state.key.clone()
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

fn stamps(cert_file: &Path, key_file: &Path) -> Option<(Stamp, Stamp)> {
    let cert = std::fs::metadata(cert_file).ok()?;
    let key = std::fs::metadata(key_file).ok()?;
    Some((Stamp::of(&cert), Stamp::of(&key)))
}

fn load_pair(cert_file: &Path, key_file: &Path) -> Result<(Arc<CertifiedKey>, (Stamp, Stamp))> {
    let before = stamps(cert_file, key_file);
    let cert_pem = std::fs::read(cert_file)
        .map_err(|e| Error::Tls(format!("cannot read certificate file {}: {e}", cert_file.display())))?;
    let key_pem =
        std::fs::read(key_file).map_err(|e| Error::Tls(format!("cannot read key file {}: {e}", key_file.display())))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Tls(format!("certificate file {}: {e}", cert_file.display())))?;
    if chain.is_empty() {
        return Err(Error::Tls(format!("certificate file {} holds no PEM certificate", cert_file.display())));
    }
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| Error::Tls(format!("key file {}: no usable PEM private key: {e}", key_file.display())))?;
    let signing_key = rustls::crypto::ring::sign::any_supported_type(&key_der)
        .map_err(|e| Error::Tls(format!("key file {}: {e}", key_file.display())))?;
    let certified = CertifiedKey::new(chain, signing_key);
    certified.keys_match().map_err(|e| {
        Error::Tls(format!(
            "certificate {} and key {} do not belong together: {e}",
            cert_file.display(),
            key_file.display()
        ))
    })?;
    let stamps = before.ok_or_else(|| Error::Tls("certificate or key file vanished while loading".to_owned()))?;
    Ok((Arc::new(certified), stamps))
}
