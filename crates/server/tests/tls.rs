//! HTTPS: the server presents the configured certificate, and picks up a renewed
//! certificate from disk without a restart or reload.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{OTLP_EXPORT, TestEnv, exchange, grpc_call_over, grpc_frame, otlp_gauge_request};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

struct Pair {
    cert_pem: String,
    key_pem: String,
    der: CertificateDer<'static>,
}

fn self_signed() -> Pair {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    Pair {
        cert_pem: generated.cert.pem(),
        key_pem: generated.signing_key.serialize_pem(),
        der: generated.cert.der().clone(),
    }
}

/// Connects trusting `trusted`, runs one request, and returns the status and the
/// certificate the server presented.
async fn fetch(addr: std::net::SocketAddr, trusted: &[&Pair]) -> Result<(u16, CertificateDer<'static>), String> {
    let mut roots = rustls::RootCertStore::empty();
    for pair in trusted {
        roots.add(pair.der.clone()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let stream = connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await.map_err(|e| e.to_string())?;
    let presented = stream.get_ref().1.peer_certificates().unwrap()[0].clone().into_owned();
    let response = exchange(stream, "GET", "/-/healthy", &[], "").await;
    Ok((response.status, presented))
}

#[tokio::test]
async fn serves_https_and_follows_certificate_renewal_on_disk() {
    let env = TestEnv::new("");
    let first = self_signed();
    let cert_file = env.path().join("cert.pem");
    let key_file = env.path().join("key.pem");
    std::fs::write(&cert_file, &first.cert_pem).unwrap();
    std::fs::write(&key_file, &first.key_pem).unwrap();
    env.write_config(&format!(
        "web:\n  tls_config:\n    cert_file: {}\n    key_file: {}\n",
        cert_file.display(),
        key_file.display()
    ));
    let server = env.start().await;
    let addr = server.local_addr();

    let (status, presented) = fetch(addr, &[&first]).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(presented, first.der);

    // Plain HTTP on the TLS port gets nothing useful.
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut answer)).await;
    assert!(!answer.starts_with(b"HTTP/"), "plain HTTP must not be served on the TLS port");

    // A broken file while the certificate is being replaced keeps the old one.
    std::fs::write(&cert_file, "-----BEGIN CERTIFICATE-----\ngarbage\n").unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, presented) = fetch(addr, &[&first]).await.unwrap();
    assert_eq!(presented, first.der, "a broken new certificate must not replace the working one");

    let second = self_signed();
    std::fs::write(&key_file, &second.key_pem).unwrap();
    std::fs::write(&cert_file, &second.cert_pem).unwrap();
    let mut renewed = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok((200, presented)) = fetch(addr, &[&first, &second]).await
            && presented == second.der
        {
            renewed = true;
            break;
        }
    }
    assert!(renewed, "the renewed certificate was not picked up within 5s");
    let err = fetch(addr, &[&first]).await.unwrap_err();
    assert!(err.contains("certificate"), "old trust anchor must no longer match: {err}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn unreadable_certificate_fails_start_with_the_file_named() {
    let env =
        TestEnv::new("web:\n  tls_config:\n    cert_file: /nonexistent/cert.pem\n    key_file: /nonexistent/key.pem\n");
    let err = wk_server::Server::start(env.options()).await.unwrap_err().to_string();
    assert!(err.contains("/nonexistent/cert.pem"), "{err}");
}

#[tokio::test]
async fn otlp_grpc_is_served_over_tls_with_the_web_certificate() {
    let env = TestEnv::new("");
    let pair = self_signed();
    let (cert_file, key_file) = (env.path().join("cert.pem"), env.path().join("key.pem"));
    std::fs::write(&cert_file, &pair.cert_pem).unwrap();
    std::fs::write(&key_file, &pair.key_pem).unwrap();
    env.write_config(&format!(
        "host_agent:\n  enabled: false\nweb:\n  tls_config:\n    cert_file: {}\n    key_file: {}\n",
        cert_file.display(),
        key_file.display()
    ));
    let server = env.start().await;
    let grpc = server.otlp_grpc_addr().unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pair.der.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = TcpStream::connect(grpc).await.unwrap();
    let stream = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake on the gRPC port");
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]), "gRPC needs ALPN h2");
    let body = grpc_frame(false, &otlp_gauge_request("over_tls", 1.0));
    let answer = grpc_call_over(stream, grpc, OTLP_EXPORT, &[("content-type", "application/grpc")], body).await;
    assert_eq!(answer.status().0, Some(0), "{answer:?}");
    server.shutdown().await.unwrap();
}
