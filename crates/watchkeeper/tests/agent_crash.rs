//! `watchkeeper agent` (the real binary) is killed with SIGKILL while its server is
//! down; restarted on the same disk buffer, it sends what it had committed before
//! the kill once the server answers again. The exporter's counter goes up by one per
//! scrape, so the values that must arrive are known exactly.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads one HTTP/1.1 request: the head and a Content-Length body.
fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? == 0 || buf.len() > 64 << 10 {
            return None;
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let len = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
        .unwrap_or(0usize);
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).ok()?;
    Some((head, body))
}

fn respond(stream: &mut TcpStream, status: &str, extra: &str, body: &str) {
    let _ =
        write!(stream, "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
}

/// Serves `handle` on a loopback port, one thread per connection.
fn serve(handle: impl Fn(&str, &[u8]) -> (String, String, String) + Send + Sync + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = Arc::new(handle);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let handle = handle.clone();
            std::thread::spawn(move || {
                let mut stream = stream;
                if let Some((head, body)) = read_request(&mut stream) {
                    let (status, extra, text) = handle(&head, &body);
                    respond(&mut stream, &status, &extra, &text);
                }
            });
        }
    });
    addr
}

fn get(addr: SocketAddr, path: &str) -> String {
    let Ok(mut stream) = TcpStream::connect(addr) else { return String::new() };
    let _ = write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut out = String::new();
    let _ = stream.read_to_string(&mut out);
    out
}

fn pending(agent: SocketAddr) -> f64 {
    get(agent, "/metrics")
        .lines()
        .find(|l| l.starts_with("watchkeeper_agent_queue_pending_samples{"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

fn start_agent(dir: &std::path::Path, receiver: SocketAddr, web: SocketAddr) -> Killed {
    let child = Command::new(env!("CARGO_BIN_EXE_watchkeeper"))
        .args(["agent", "--remote-write", &format!("http://{receiver}/api/v1/write")])
        .arg(format!("--config.file={}", dir.join("agent.yml").display()))
        .arg(format!("--storage.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address={web}"))
        .args(["--log.level", "warn"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Killed(child)
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn kill_9_while_the_server_is_down_loses_nothing_committed() {
    let served = Arc::new(AtomicU64::new(0));
    let counter = served.clone();
    let exporter = serve(move |_, _| {
        let v = counter.fetch_add(1, Ordering::SeqCst) + 1;
        ("200 OK".into(), String::new(), format!("# TYPE test_counter_total counter\ntest_counter_total {v}\n"))
    });
    let down = Arc::new(AtomicBool::new(true));
    let values = Arc::new(Mutex::new(Vec::<f64>::new()));
    let (is_down, got) = (down.clone(), values.clone());
    let receiver = serve(move |_, body| {
        if is_down.load(Ordering::SeqCst) {
            return ("503 Service Unavailable".into(), "Retry-After: 1\r\n".into(), "down".into());
        }
        let raw = snap::raw::Decoder::new().decompress_vec(body).unwrap();
        let request = <wk_ingest::remote_write::proto::WriteRequest as prost::Message>::decode(raw.as_slice()).unwrap();
        let mut got = got.lock().unwrap();
        for series in request.timeseries {
            if series.labels.iter().any(|l| l.name == "__name__" && l.value == "test_counter_total") {
                got.extend(series.samples.iter().map(|s| s.value));
            }
        }
        ("204 No Content".into(), String::new(), String::new())
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("agent.yml"),
        format!(
            "host_agent:\n  enabled: false\nself_monitoring:\n  enabled: false\nscrape_configs:\n  - job_name: exporter\n    scrape_interval: 200ms\n    scrape_timeout: 150ms\n    static_configs:\n      - targets: ['{exporter}']\nremote_write:\n  - url: http://{receiver}/api/v1/write\n    queue_config:\n      batch_send_deadline: 200ms\n      max_backoff: 1s\n"
        ),
    )
    .unwrap();

    let web = free_addr();
    let mut agent = start_agent(dir.path(), receiver, web);
    wait_until("20 committed samples queued", Duration::from_secs(30), || pending(web) >= 20.0);
    let queued = pending(web);
    agent.0.kill().unwrap();
    agent.0.wait().unwrap();
    // Scrapes of one target are sequential, so only the last value served can have
    // been in flight (never acknowledged) at the kill; every earlier one was committed.
    let served_at_kill = served.load(Ordering::SeqCst);
    let committed = served_at_kill - 1;
    assert!(committed >= 3, "only {served_at_kill} scrapes before the kill");
    assert!(values.lock().unwrap().is_empty());

    let web = free_addr();
    let _agent = start_agent(dir.path(), receiver, web);
    wait_until("the restarted agent", Duration::from_secs(20), || get(web, "/-/healthy").contains("200 OK"));
    assert!(pending(web) >= queued, "the backlog is counted after the restart");
    down.store(false, Ordering::SeqCst);
    wait_until("the values committed before the kill", Duration::from_secs(30), || {
        let got = values.lock().unwrap();
        (1..=committed).all(|v| got.contains(&(v as f64)))
    });
    wait_until("samples scraped after the restart", Duration::from_secs(30), || {
        values.lock().unwrap().iter().any(|&v| v > (served_at_kill + 2) as f64)
    });
    let got = values.lock().unwrap().clone();
    // Nothing was delivered before the kill, so nothing is delivered twice either.
    assert!(got.windows(2).all(|w| w[0] < w[1]), "in order, no duplicates: {got:?}");
    let last = *got.last().unwrap() as u64;
    let missing: Vec<u64> = (1..=last).filter(|v| !got.contains(&(*v as f64))).collect();
    assert!(missing.iter().all(|&v| v == served_at_kill), "only the in-flight scrape may be missing: {missing:?}");
}
