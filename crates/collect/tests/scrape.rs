//! The scrape manager end to end, over real sockets, into a real TSDB head: a local
//! HTTP server whose exposition the tests change between scrapes, file-based
//! discovery, dropped targets, reloads, and Debian's `prometheus-node-exporter`.
//!
//! Intervals are 100–500 ms and every wait polls with a deadline of a few seconds.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wk_collect::scrape::fetch::ClientSettings;
use wk_collect::scrape::{TargetClient, TargetsReport};
use wk_config::PromDuration;
use wk_model::is_stale_nan;

mod common;

use common::{eventually, job, last, manager, new_head, series};

// ---------------------------------------------------------------------------------------
// Fixtures.

#[derive(Clone, Debug)]
struct Reply {
    status: u16,
    content_type: String,
    body: Vec<u8>,
    gzip: bool,
}

impl Reply {
    fn text(body: &str) -> Self {
        Self { status: 200, content_type: "text/plain; version=0.0.4".to_owned(), body: body.into(), gzip: false }
    }
}

/// A keep-alive HTTP/1.1 server answering every request with the current [`Reply`].
struct Server {
    addr: SocketAddr,
    reply: Arc<Mutex<Reply>>,
    requests: Arc<Mutex<Vec<String>>>,
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    async fn start(reply: Reply) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let reply = Arc::new(Mutex::new(reply));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (r, q, c) = (reply.clone(), requests.clone(), connections.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                c.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve_connection(stream, r.clone(), q.clone()));
            }
        });
        Self { addr, reply, requests, connections, task }
    }

    fn set(&self, reply: Reply) {
        *self.reply.lock().unwrap() = reply;
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// The same server over TLS with `cert`.
    async fn start_tls(reply: Reply, cert: &Cert) -> Self {
        use rustls::pki_types::pem::PemObject;
        let chain = vec![rustls::pki_types::CertificateDer::from_pem_slice(cert.pem.as_bytes()).unwrap()];
        let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let reply = Arc::new(Mutex::new(reply));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (r, q, c) = (reply.clone(), requests.clone(), connections.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                c.fetch_add(1, Ordering::SeqCst);
                let (acceptor, r, q) = (acceptor.clone(), r.clone(), q.clone());
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(stream).await {
                        serve_connection(tls, r, q).await;
                    }
                });
            }
        });
        Self { addr, reply, requests, connections, task }
    }
}

struct Cert {
    pem: String,
    key_pem: String,
}

fn cert(name: &str) -> Cert {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap().self_signed(&key).unwrap();
    Cert { pem: cert.pem(), key_pem: key.serialize_pem() }
}

async fn serve_connection<S>(mut stream: S, reply: Arc<Mutex<Reply>>, log: Arc<Mutex<Vec<String>>>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut buf = Vec::new();
    loop {
        let end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            match stream.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end);
        log.lock().unwrap().push(head);
        let reply = reply.lock().unwrap().clone();
        let body = if reply.gzip { gzip(&reply.body) } else { reply.body };
        let reason = if reply.status == 200 { "OK" } else { "Internal Server Error" };
        let mut out = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
            reply.status,
            reply.content_type,
            body.len()
        );
        if reply.gzip {
            out.push_str("Content-Encoding: gzip\r\n");
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&body);
        if stream.write_all(&bytes).await.is_err() {
            return;
        }
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn target_error(report: &TargetsReport, url_part: &str) -> Option<String> {
    report.active_targets.iter().find(|t| t.scrape_url.contains(url_part)).map(|t| t.last_error.clone())
}

// ---------------------------------------------------------------------------------------
// Local server tests.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honor_labels_timestamps_headers_and_staleness() {
    let explicit_ts = wk_collect::scrape::scrape_loop::millis(std::time::SystemTime::now()) - 60_000;
    let future_ts = explicit_ts + 3_600_000;
    let body =
        format!("# TYPE a_total counter\na_total{{job=\"app\",x=\"1\"}} 1\nb 2 {explicit_ts}\nc 3\nd 4 {future_ts}\n");
    let server = Server::start(Reply::text(&body)).await;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "first\n").unwrap();
    let head = new_head();
    let manager = manager(&head);
    let addr = server.addr;
    manager.apply(
        vec![
            job(&format!(
                "job_name: plain\nauthorization: {{credentials_file: {}}}\nstatic_configs: [{{targets: ['{addr}']}}]\n",
                token.display()
            )),
            job(&format!(
                "job_name: honoring\nhonor_labels: true\nhonor_timestamps: false\nstatic_configs: [{{targets: ['{addr}']}}]\n"
            )),
        ],
        dir.path().to_owned(),
    );
    let instance = addr.to_string();
    eventually("both jobs scraped", || {
        let plain = last(&head, "up", &[("job", "plain")])?;
        let honoring = last(&head, "up", &[("job", "honoring")])?;
        (plain.1 == 1.0 && honoring.1 == 1.0).then_some(())
    })
    .await;

    // honor_labels: false renames the clashing scraped label; true keeps it.
    let renamed = series(&head, "a_total", &[("exported_job", "app"), ("job", "plain"), ("x", "1")]);
    assert_eq!(renamed.len(), 1, "{renamed:?}");
    assert!(renamed[0].0.contains(&instance), "{}", renamed[0].0);
    let kept = series(&head, "a_total", &[("job", "app"), ("instance", &instance)]);
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(!kept[0].0.contains("exported_job"));

    // honor_timestamps: true keeps the exposed timestamp, false uses the scrape time.
    let b_plain = series(&head, "b", &[("job", "plain")]);
    assert_eq!(b_plain[0].1[0], (explicit_ts, 2.0));
    let b_honoring = series(&head, "b", &[("job", "honoring")]);
    assert!(b_honoring[0].1[0].0 > explicit_ts + 30_000, "{b_honoring:?}");

    // A timestamp an hour ahead is refused when honoured, not when replaced.
    assert!(series(&head, "d", &[("job", "plain")]).is_empty());
    assert_eq!(series(&head, "d", &[("job", "honoring")])[0].1[0].1, 4.0);

    let scraped = last(&head, "scrape_samples_scraped", &[("job", "plain")]).unwrap();
    assert_eq!(scraped.1, 4.0);
    let added = series(&head, "scrape_series_added", &[("job", "plain")]);
    assert_eq!(added[0].1[0].1, 4.0, "the first scrape adds 4 series: {added:?}");

    // Request headers, and the credentials file re-read on every scrape.
    let requests = server.requests();
    let first = requests.iter().find(|r| r.contains("Bearer first")).expect("bearer token sent");
    assert!(first.contains("accept: application/openmetrics-text;version=1.0.0"), "{first}");
    assert!(first.contains("user-agent: Watchkeeper/"), "{first}");
    assert!(first.contains("x-prometheus-scrape-timeout-seconds: 0.2"), "{first}");
    assert!(first.contains("accept-encoding: gzip"), "{first}");
    std::fs::write(&token, "second\n").unwrap();
    eventually("rotated token used", || server.requests().iter().any(|r| r.contains("Bearer second")).then_some(()))
        .await;
    // Keep-alive: each job's loop reuses its one connection.
    eventually("more scrapes", || (server.requests().len() >= 8).then_some(())).await;
    assert_eq!(server.connections.load(Ordering::SeqCst), 2, "one connection per target");

    // `c` disappears: it gets a staleness marker, the others go on.
    server.set(Reply::text("# TYPE a_total counter\na_total{job=\"app\",x=\"1\"} 2\n"));
    eventually("stale marker for c", || {
        let (_, v) = last(&head, "c", &[("job", "plain")])?;
        is_stale_nan(v).then_some(())
    })
    .await;
    let a = last(&head, "a_total", &[("job", "plain")]).unwrap();
    assert!(!a.1.is_nan());

    manager.shutdown().await;
    let up = last(&head, "up", &[("job", "plain")]).unwrap();
    assert!(is_stale_nan(up.1), "shutdown marks up stale");
    let a = last(&head, "a_total", &[("job", "plain")]).unwrap();
    assert!(is_stale_nan(a.1), "shutdown marks scraped series stale");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_limit_breach_fails_the_scrape_and_marks_series_stale() {
    let server = Server::start(Reply::text("m{i=\"1\"} 1\nm{i=\"2\"} 2\n")).await;
    let head = new_head();
    let manager = manager(&head);
    let addr = server.addr;
    manager.apply(
        vec![job(&format!("job_name: limited\nsample_limit: 3\nstatic_configs: [{{targets: ['{addr}']}}]\n"))],
        PathBuf::from("."),
    );
    eventually("first scrape", || (last(&head, "up", &[])?.1 == 1.0).then_some(())).await;
    assert_eq!(series(&head, "m", &[]).len(), 2);

    server.set(Reply::text("m{i=\"1\"} 1\nm{i=\"2\"} 2\nm{i=\"3\"} 3\nm{i=\"4\"} 4\nm{i=\"5\"} 5\n"));
    eventually("up == 0", || (last(&head, "up", &[])?.1 == 0.0).then_some(())).await;
    let error = target_error(&manager.targets(), &addr.to_string()).unwrap();
    assert!(error.contains("sample limit exceeded"), "{error}");
    assert_eq!(manager.targets().active_targets[0].health, "down");
    // Nothing of the failed scrape is stored: series 3..5 do not exist, 1 and 2 are stale.
    let m = series(&head, "m", &[]);
    assert_eq!(m.len(), 2, "{m:?}");
    assert!(m.iter().all(|(_, s)| is_stale_nan(s.last().unwrap().1)), "{m:?}");
    assert_eq!(last(&head, "scrape_samples_scraped", &[]).unwrap().1, 5.0);
    assert!(last(&head, "scrape_duration_seconds", &[]).unwrap().1 > 0.0);
    manager.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_openmetrics_malformed_status_and_body_limit() {
    let om = "# TYPE om_metric gauge\nom_metric{a=\"b\"} 7\n# EOF\n";
    let server = Server::start(Reply {
        status: 200,
        content_type: "application/openmetrics-text; version=1.0.0; charset=utf-8".to_owned(),
        body: om.into(),
        gzip: true,
    })
    .await;
    let head = new_head();
    let manager = manager(&head);
    let addr = server.addr;
    let url = addr.to_string();
    manager.apply(
        vec![job(&format!("job_name: formats\nbody_size_limit: 300B\nstatic_configs: [{{targets: ['{addr}']}}]\n"))],
        PathBuf::from("."),
    );
    let value = eventually("gzipped OpenMetrics stored", || last(&head, "om_metric", &[("a", "b")])).await;
    assert_eq!(value.1, 7.0);

    // OpenMetrics without `# EOF` fails the scrape.
    server.set(Reply {
        status: 200,
        content_type: "application/openmetrics-text; version=1.0.0".to_owned(),
        body: "om_metric{a=\"b\"} 8\n".into(),
        gzip: false,
    });
    let error =
        eventually("missing # EOF reported", || target_error(&manager.targets(), &url).filter(|e| e.contains("EOF")))
            .await;
    assert!(error.contains("line"), "{error}");
    assert!(is_stale_nan(last(&head, "om_metric", &[]).unwrap().1));

    // A malformed text line is named in the error.
    server.set(Reply::text("good 1\nbad{ 2\n"));
    let error =
        eventually("parse error", || target_error(&manager.targets(), &url).filter(|e| e.contains("line 2"))).await;
    assert!(error.contains("parsing the exposition"), "{error}");

    // HTTP errors.
    server.set(Reply { status: 500, ..Reply::text("") });
    eventually("status error", || {
        target_error(&manager.targets(), &url)
            .filter(|e| e.contains("server returned HTTP status 500 Internal Server Error") && e.contains(&url))
    })
    .await;

    // A body over body_size_limit (300 B), plain and gzipped.
    let big: String = (0..50).map(|i| format!("big_metric{{i=\"{i}\"}} {i}\n")).collect();
    server.set(Reply::text(&big));
    eventually("body size limit", || {
        target_error(&manager.targets(), &url).filter(|e| e.contains("body size limit exceeded"))
    })
    .await;
    assert!(series(&head, "big_metric", &[]).is_empty());
    server.set(Reply { gzip: true, ..Reply::text(&big) });
    let before = server.requests().len();
    eventually("gzip body size limit", || {
        (server.requests().len() > before + 1).then(|| target_error(&manager.targets(), &url)).flatten()
    })
    .await;
    assert!(target_error(&manager.targets(), &url).unwrap().contains("body size limit exceeded"));
    assert!(series(&head, "big_metric", &[]).is_empty());
    assert_eq!(last(&head, "up", &[]).unwrap().1, 0.0);
    manager.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metric_relabeling_label_limits_and_dropped_targets() {
    let server = Server::start(Reply::text("keep_me{a=\"1\"} 1\ndrop_me 2\n")).await;
    let head = new_head();
    let manager = manager(&head);
    let addr = server.addr;
    manager.apply(
        vec![job(&format!(
            "job_name: relabel\nstatic_configs: [{{targets: ['{addr}', 'skip.example:1']}}]\n\
             relabel_configs: [{{source_labels: [__address__], regex: 'skip.*', action: drop}}]\n\
             metric_relabel_configs:\n\
             - {{source_labels: [__name__], regex: 'drop_.*', action: drop}}\n\
             - {{target_label: team, replacement: core}}\n"
        ))],
        PathBuf::from("."),
    );
    eventually("scraped", || (last(&head, "up", &[])?.1 == 1.0).then_some(())).await;
    assert_eq!(series(&head, "keep_me", &[("team", "core"), ("a", "1")]).len(), 1);
    assert!(series(&head, "drop_me", &[]).is_empty());
    assert_eq!(last(&head, "scrape_samples_scraped", &[]).unwrap().1, 2.0);
    assert_eq!(last(&head, "scrape_samples_post_metric_relabeling", &[]).unwrap().1, 1.0);

    let report = manager.targets();
    assert_eq!(report.active_targets.len(), 1);
    assert_eq!(report.dropped_targets.len(), 1);
    assert_eq!(report.dropped_targets[0].discovered_labels["__address__"], "skip.example:1");
    assert_eq!(report.dropped_target_counts["relabel"], 1);
    let json = serde_json::to_value(&report).unwrap();
    let active = &json["activeTargets"][0];
    assert_eq!(active["health"], "up");
    assert_eq!(active["scrapePool"], "relabel");
    assert_eq!(active["labels"]["job"], "relabel");
    assert_eq!(active["discoveredLabels"]["__address__"], addr.to_string());
    assert_eq!(active["scrapeUrl"], format!("http://{addr}/metrics"));
    assert_eq!(active["scrapeInterval"], "200ms");
    assert!(active["lastScrape"].as_str().unwrap().ends_with('Z'));
    assert!(active["lastScrapeDuration"].as_f64().unwrap() > 0.0);

    // label_limit: the reload restarts the job (config changed), and a series with
    // too many labels fails the scrape.
    let config = format!("job_name: relabel\nlabel_limit: 3\nstatic_configs: [{{targets: ['{addr}']}}]\n");
    manager.apply(vec![job(&config)], PathBuf::from("."));
    let url = addr.to_string();
    let error = eventually("label_limit", || {
        target_error(&manager.targets(), &url).filter(|e| e.contains("label_limit exceeded"))
    })
    .await;
    assert!(error.contains("keep_me"), "{error}");
    manager.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_limit_fails_every_scrape_of_the_job() {
    let server = Server::start(Reply::text("t 1\n")).await;
    let head = new_head();
    let manager = manager(&head);
    let port = server.addr.port();
    manager.apply(
        vec![job(&format!(
            "job_name: limited\ntarget_limit: 1\nstatic_configs: [{{targets: ['127.0.0.1:{port}', 'localhost:{port}']}}]\n"
        ))],
        PathBuf::from("."),
    );
    eventually("both targets fail", || {
        let report = manager.targets();
        (report.active_targets.len() == 2
            && report.active_targets.iter().all(|t| {
                t.health == "down" && t.last_error == "target_limit exceeded (number of targets: 2, limit: 1)"
            }))
        .then_some(())
    })
    .await;
    assert!(series(&head, "t", &[]).is_empty());
    assert!(server.requests().is_empty(), "nothing is fetched over the limit");
    assert_eq!(series(&head, "up", &[]).len(), 2);
    manager.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_keeps_unchanged_jobs_and_removal_marks_stale() {
    let server = Server::start(Reply::text("r 1\n")).await;
    let head = new_head();
    let manager = manager(&head);
    let addr = server.addr;
    let config = job(&format!("job_name: reload\nstatic_configs: [{{targets: ['{addr}']}}]\n"));
    manager.apply(vec![config.clone()], PathBuf::from("."));
    eventually("scraped", || (last(&head, "up", &[])?.1 == 1.0).then_some(())).await;
    let connections = server.connections.load(Ordering::SeqCst);
    // Same config: the loop keeps running on its connection; nothing goes stale.
    manager.apply(vec![config.clone()], PathBuf::from("."));
    let before = server.requests().len();
    eventually("more scrapes", || (server.requests().len() >= before + 3).then_some(())).await;
    assert_eq!(server.connections.load(Ordering::SeqCst), connections, "the loop was not restarted");
    assert!(series(&head, "r", &[]).iter().all(|(_, s)| s.iter().all(|(_, v)| !v.is_nan())));

    // Changed config: the loop restarts (a new connection) and takes over the series
    // without a stale marker in between.
    let mut changed = config.clone();
    changed.sample_limit = Some(100);
    manager.apply(vec![changed], PathBuf::from("."));
    eventually("restarted loop", || (server.connections.load(Ordering::SeqCst) > connections).then_some(())).await;
    let before = server.requests().len();
    eventually("scrapes after the change", || (server.requests().len() >= before + 3).then_some(())).await;
    let r = series(&head, "r", &[]);
    assert!(r[0].1.iter().all(|(_, v)| !v.is_nan()), "handover wrote no stale marker: {r:?}");

    // Another timeout changes the target's labels: a new target replaces the old one.
    let mut changed = config.clone();
    changed.scrape_timeout = Some(PromDuration::from_millis(150));
    manager.apply(vec![changed], PathBuf::from("."));
    eventually("new timeout", || (manager.targets().active_targets.first()?.scrape_timeout == "150ms").then_some(()))
        .await;

    // Removed job: up and r get stale markers.
    manager.apply(Vec::new(), PathBuf::from("."));
    eventually("removal marks stale", || {
        let up = last(&head, "up", &[])?;
        let r = last(&head, "r", &[])?;
        (is_stale_nan(up.1) && is_stale_nan(r.1)).then_some(())
    })
    .await;
    assert!(manager.targets().active_targets.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_sd_targets_follow_the_file() {
    let a = Server::start(Reply::text("from_a 1\n")).await;
    let b = Server::start(Reply::text("from_b 1\n")).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("targets.json");
    std::fs::write(&file, format!(r#"[{{"targets": ["{}"], "labels": {{"env": "test"}}}}]"#, a.addr)).unwrap();
    let head = new_head();
    let manager = manager(&head);
    manager.apply(
        vec![job("job_name: files\nfile_sd_configs: [{files: ['*.json'], refresh_interval: 1m}]\n")],
        dir.path().to_owned(),
    );
    let a_url = a.addr.to_string();
    let b_url = b.addr.to_string();
    eventually("target a discovered", || target_error(&manager.targets(), &a_url)).await;
    eventually("a scraped", || (last(&head, "from_a", &[("env", "test"), ("job", "files")])?.1 == 1.0).then_some(()))
        .await;
    let active = &manager.targets().active_targets[0];
    assert!(active.discovered_labels.contains_key("__meta_filepath"));
    assert!(!active.labels.contains_key("__meta_filepath"));

    std::fs::write(&file, format!(r#"[{{"targets": ["{}"], "labels": {{"env": "next"}}}}]"#, b.addr)).unwrap();
    eventually("b replaces a", || {
        let report = manager.targets();
        (target_error(&report, &b_url).is_some() && target_error(&report, &a_url).is_none()).then_some(())
    })
    .await;
    eventually("b scraped", || (last(&head, "from_b", &[("env", "next")])?.1 == 1.0).then_some(())).await;
    eventually("a's series stale", || {
        let from_a = last(&head, "from_a", &[])?;
        let up_a = last(&head, "up", &[("instance", &a_url)])?;
        (is_stale_nan(from_a.1) && is_stale_nan(up_a.1)).then_some(())
    })
    .await;
    manager.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_ca_file_server_name_insecure_and_basic_auth() {
    let cert = cert("scrape.test");
    let server = Server::start_tls(Reply::text("secure 1\n"), &cert).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &cert.pem).unwrap();
    let password = dir.path().join("password");
    std::fs::write(&password, "s3cret\n").unwrap();
    let url = format!("https://{}/metrics", server.addr);
    let fetch = |yaml: String| {
        let url = url.clone();
        async move {
            let settings = ClientSettings::new(&job(&yaml)).unwrap();
            TargetClient::new(Arc::new(settings), &url).unwrap().fetch(Duration::from_secs(5)).await
        }
    };

    let ok = fetch(format!(
        "job_name: tls\nscheme: https\ntls_config: {{ca_file: {}, server_name: scrape.test}}\n\
         basic_auth: {{username: scraper, password_file: {}}}\n",
        ca.display(),
        password.display()
    ))
    .await
    .unwrap();
    assert_eq!(ok.body, b"secure 1\n");
    // "scraper:s3cret" in base64.
    assert!(server.requests()[0].contains("authorization: Basic c2NyYXBlcjpzM2NyZXQ="), "{:?}", server.requests());

    let wrong_name = fetch(format!("job_name: tls\ntls_config: {{ca_file: {}}}\n", ca.display())).await.unwrap_err();
    assert!(wrong_name.contains("TLS handshake") && wrong_name.contains(&url), "{wrong_name}");
    let unknown_ca = fetch("job_name: tls\ntls_config: {server_name: scrape.test}\n".to_owned()).await.unwrap_err();
    assert!(unknown_ca.contains("TLS handshake"), "{unknown_ca}");
    let insecure = fetch("job_name: tls\ntls_config: {insecure_skip_verify: true}\n".to_owned()).await.unwrap();
    assert_eq!(insecure.body, b"secure 1\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_reads_like_prometheus() {
    // A listener that accepts and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let _hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let settings = ClientSettings::new(&job("job_name: slow\n")).unwrap();
    let mut client = TargetClient::new(Arc::new(settings), &format!("http://{addr}/metrics")).unwrap();
    let started = Instant::now();
    let error = client.fetch(Duration::from_millis(150)).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(error.contains("context deadline exceeded") && error.contains(&addr.to_string()), "{error}");
}

// ---------------------------------------------------------------------------------------
// Debian's prometheus-node-exporter.

struct Exporter(Child);

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_node_exporter() -> (Exporter, SocketAddr) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let child = Command::new("prometheus-node-exporter")
        .arg(format!("--web.listen-address={addr}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus-node-exporter not found: scripts/test.sh installs Debian's prometheus-node-exporter");
    let exporter = Exporter(child);
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "node_exporter did not listen on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
    (exporter, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_the_real_node_exporter() {
    let (exporter, addr) = start_node_exporter();
    let head = new_head();
    let manager = manager(&head);
    let instance = addr.to_string();
    manager.apply(
        vec![job(&format!(
            "job_name: node\nscrape_interval: 1s\nscrape_timeout: 1s\n\
             static_configs: [{{targets: ['{addr}']}}]\n\
             metric_relabel_configs: [{{source_labels: [__name__], regex: 'go_.*', action: drop}}]\n"
        ))],
        PathBuf::from("."),
    );
    let target = [("job", "node"), ("instance", instance.as_str())];
    let up = eventually("node_exporter scraped", || last(&head, "up", &target)).await;
    assert_eq!(up.1, 1.0, "{:?}", manager.targets());
    let cpu = series(&head, "node_cpu_seconds_total", &target);
    assert!(!cpu.is_empty());
    assert!(cpu.iter().all(|(l, _)| l.contains("cpu") && l.contains("mode")), "{cpu:?}");
    assert!(series(&head, "go_goroutines", &[]).is_empty(), "go_.* dropped by metric relabeling");
    let scraped = last(&head, "scrape_samples_scraped", &target).unwrap().1;
    let kept = last(&head, "scrape_samples_post_metric_relabeling", &target).unwrap().1;
    assert!(scraped > 100.0 && kept < scraped && kept > 50.0, "scraped {scraped}, kept {kept}");
    let duration = last(&head, "scrape_duration_seconds", &target).unwrap().1;
    assert!(duration > 0.0 && duration < 1.0, "{duration}");
    let added = series(&head, "scrape_series_added", &target)[0].1[0].1;
    assert_eq!(added, kept, "the first scrape adds every kept series");

    drop(exporter);
    eventually("up == 0 after the exporter died", || (last(&head, "up", &target)?.1 == 0.0).then_some(())).await;
    let cpu = series(&head, "node_cpu_seconds_total", &target);
    assert!(cpu.iter().all(|(_, s)| is_stale_nan(s.last().unwrap().1)), "all series stale");
    let report = manager.targets();
    assert_eq!(report.active_targets[0].health, "down");
    assert!(report.active_targets[0].last_error.contains(&instance), "{}", report.active_targets[0].last_error);
    manager.shutdown().await;
}
