//! DNS and HTTP service discovery end to end: Debian's `dnsmasq` on a loopback port
//! serves SRV, A, AAAA and MX records, a local HTTP server serves http_sd target
//! groups, and the scrape manager scrapes what they name into a real TSDB head.
//!
//! Refresh intervals are 200 ms and every wait polls with a deadline of a few seconds.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use common::dnsmasq::{Dnsmasq, free_port};
use common::{eventually, job, last, manager, new_head};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wk_collect::scrape::{ActiveTarget, TargetsReport};
use wk_model::is_stale_nan;

/// An HTTP/1.1 server answering each request with the current status, content type
/// and body, and keeping the request heads.
struct Http {
    addr: SocketAddr,
    reply: Arc<Mutex<(u16, String, String)>>,
    requests: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Http {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Http {
    async fn start(status: u16, content_type: &str, body: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let reply = Arc::new(Mutex::new((status, content_type.to_owned(), body.to_owned())));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (r, q) = (reply.clone(), requests.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (r, q) = (r.clone(), q.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    loop {
                        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                            match stream.read_buf(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(_) => continue,
                            }
                        };
                        q.lock().unwrap().push(String::from_utf8_lossy(&buf[..end]).into_owned());
                        buf.drain(..end + 4);
                        let (status, content_type, body) = r.lock().unwrap().clone();
                        let head = format!(
                            "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
                            body.len()
                        );
                        if stream.write_all((head + &body).as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self { addr, reply, requests, task }
    }

    async fn metrics(body: &str) -> Self {
        Self::start(200, "text/plain; version=0.0.4", body).await
    }

    fn set(&self, status: u16, content_type: &str, body: &str) {
        *self.reply.lock().unwrap() = (status, content_type.to_owned(), body.to_owned());
    }
}

fn find<'a>(report: &'a TargetsReport, instance: &str) -> Option<&'a ActiveTarget> {
    report.active_targets.iter().find(|t| t.labels.get("instance").map(String::as_str) == Some(instance))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_sd_srv_targets_are_scraped_and_follow_the_records() {
    let a = Http::metrics("from_a 1\n").await;
    let b = Http::metrics("from_b 1\n").await;
    let port = free_port();
    let srv = |p: u16| vec![format!("--srv-host=_metrics._tcp.wk.test,localhost,{p},10,5")];
    let dns = Dnsmasq::start(port, &srv(a.addr.port())).await;
    let head = new_head();
    let manager = manager(&head);
    manager.apply(
        vec![job(&format!(
            "job_name: dns\ndns_sd_configs:\n  - names: ['_metrics._tcp.wk.test']\n    refresh_interval: 200ms\n    \
             nameservers: ['{}']\n",
            dns.addr
        ))],
        PathBuf::from("."),
    );
    let a_instance = format!("localhost:{}", a.addr.port());
    let b_instance = format!("localhost:{}", b.addr.port());
    let target = eventually("the SRV target is discovered", || find(&manager.targets(), &a_instance).cloned()).await;
    let meta = &target.discovered_labels;
    assert_eq!(meta["__meta_dns_name"], "_metrics._tcp.wk.test");
    assert_eq!(meta["__meta_dns_srv_record_target"], "localhost.");
    assert_eq!(meta["__meta_dns_srv_record_port"], a.addr.port().to_string());
    // Prometheus sets the other record labels empty, which is the same as absent.
    assert!(!meta.contains_key("__meta_dns_mx_record_target") && !meta.contains_key("__meta_dns_ns_record_target"));
    eventually("a scraped", || {
        (last(&head, "from_a", &[("job", "dns"), ("instance", &a_instance)])?.1 == 1.0).then_some(())
    })
    .await;

    // The record changes: dnsmasq restarts on the same port with the other server.
    drop(dns);
    let dns = Dnsmasq::start(port, &srv(b.addr.port())).await;
    eventually("b replaces a", || {
        let report = manager.targets();
        (find(&report, &b_instance).is_some() && find(&report, &a_instance).is_none()).then_some(())
    })
    .await;
    eventually("b scraped", || (last(&head, "from_b", &[("instance", &b_instance)])?.1 == 1.0).then_some(())).await;
    eventually("a's series stale", || is_stale_nan(last(&head, "from_a", &[])?.1).then_some(())).await;

    // The server goes away: lookups fail and are counted, the targets stay.
    let failures_before = manager.discovery_counters().snapshot().1;
    drop(dns);
    eventually("failed lookups counted", || {
        (manager.discovery_counters().snapshot().1 > failures_before).then_some(())
    })
    .await;
    assert!(find(&manager.targets(), &b_instance).is_some(), "the last good targets are kept");
    manager.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_sd_a_aaaa_and_mx_records_take_the_configured_port() {
    let dns = Dnsmasq::start(
        free_port(),
        &[
            "--host-record=node.wk.test,127.0.0.1,::1".to_owned(),
            "--host-record=mail.wk.test,127.0.0.2".to_owned(),
            "--mx-host=wk.test,mail.wk.test,10".to_owned(),
        ],
    )
    .await;
    let head = new_head();
    let manager = manager(&head);
    let sd = |kind: &str, name: &str| {
        format!(
            "  - {{names: ['{name}'], type: {kind}, port: 9100, refresh_interval: 200ms, nameservers: ['{}']}}\n",
            dns.addr
        )
    };
    manager.apply(
        vec![job(&format!(
            "job_name: records\ndns_sd_configs:\n{}{}{}{}",
            sd("A", "node.wk.test"),
            sd("AAAA", "node.wk.test"),
            sd("MX", "wk.test"),
            sd("A", "missing.wk.test"),
        ))],
        PathBuf::from("."),
    );
    let report = eventually("three targets", || {
        let report = manager.targets();
        (report.active_targets.len() == 3).then_some(report)
    })
    .await;
    let a = find(&report, "127.0.0.1:9100").expect("A target");
    assert_eq!(a.discovered_labels["__meta_dns_name"], "node.wk.test");
    assert!(!a.discovered_labels.contains_key("__meta_dns_srv_record_target"));
    assert!(find(&report, "[::1]:9100").is_some(), "AAAA target: {report:?}");
    let mx = find(&report, "mail.wk.test:9100").expect("MX target");
    assert_eq!(mx.discovered_labels["__meta_dns_mx_record_target"], "mail.wk.test.");
    let (lookups, failures, _, _) = manager.discovery_counters().snapshot();
    assert!(lookups >= 4, "{lookups}");
    assert_eq!(failures, 0, "an NXDOMAIN name is an empty group, not a failure");
    manager.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_sd_targets_follow_the_endpoint_and_failures_keep_the_last_list() {
    let a = Http::metrics("from_a 1\n").await;
    let b = Http::metrics("from_b 1\n").await;
    let groups = |addr: SocketAddr, env: &str| format!(r#"[{{"targets": ["{addr}"], "labels": {{"env": "{env}"}}}}]"#);
    let sd = Http::start(200, "application/json", &groups(a.addr, "one")).await;
    let url = format!("http://{}/sd", sd.addr);
    let head = new_head();
    let manager = manager(&head);
    manager.apply(
        vec![job(&format!(
            "job_name: httpsd\nhttp_sd_configs:\n  - url: {url}\n    refresh_interval: 200ms\n    \
             basic_auth: {{username: sd, password: secret}}\n"
        ))],
        PathBuf::from("."),
    );
    let a_instance = a.addr.to_string();
    let target = eventually("a discovered", || find(&manager.targets(), &a_instance).cloned()).await;
    assert_eq!(target.discovered_labels["__meta_url"], url);
    assert_eq!(target.labels["env"], "one");
    eventually("a scraped", || (last(&head, "from_a", &[("job", "httpsd"), ("env", "one")])?.1 == 1.0).then_some(()))
        .await;
    let request = sd.requests.lock().unwrap()[0].clone();
    assert!(request.starts_with("GET /sd HTTP/1.1"), "{request}");
    assert!(request.contains("authorization: Basic c2Q6c2VjcmV0"), "{request}");

    // Wrong status, wrong content type, bad JSON: each a counted failure, a kept.
    for (status, content_type, body) in
        [(500, "application/json", "[]"), (200, "text/plain", "[]"), (200, "application/json", "{nope")]
    {
        let failures = manager.discovery_counters().snapshot().3;
        sd.set(status, content_type, body);
        eventually("the failure counted", || (manager.discovery_counters().snapshot().3 > failures).then_some(()))
            .await;
        assert!(find(&manager.targets(), &a_instance).is_some(), "{status} {content_type}: a kept");
    }

    sd.set(200, "application/json; charset=utf-8", &groups(b.addr, "two"));
    let b_instance = b.addr.to_string();
    eventually("b replaces a", || {
        let report = manager.targets();
        (find(&report, &b_instance).is_some() && find(&report, &a_instance).is_none()).then_some(())
    })
    .await;
    eventually("b scraped", || (last(&head, "from_b", &[("env", "two")])?.1 == 1.0).then_some(())).await;
    manager.shutdown().await;
}
