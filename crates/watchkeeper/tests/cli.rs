//! The real `watchkeeper` binary, started as a child process and spoken to over HTTP
//! on loopback: start-up, `/metrics` checked by the real `promtool`, signals, the
//! data directory lock, and `check config`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_watchkeeper");

/// A running `watchkeeper serve` and the lines it logs.
struct Running {
    child: Child,
    addr: SocketAddr,
    log: Receiver<String>,
}

impl Running {
    fn start(data: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--web.listen-address",
                "127.0.0.1:0",
                "--otlp.grpc.listen-address",
                "127.0.0.1:0",
                "--storage.path",
            ])
            .arg(data)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn watchkeeper");
        let (tx, log) = channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut running = Self { child, addr: "127.0.0.1:1".parse().unwrap(), log };
        let line = running.wait_for_log("is listening on http://");
        let after = line.split("http://").nth(1).unwrap();
        let addr: String = after.chars().take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':').collect();
        running.addr = addr.parse().unwrap_or_else(|_| panic!("address in {line:?}"));
        running
    }

    /// Waits (up to 20 s) for a log line containing `needle` and returns it.
    fn wait_for_log(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let _ = self.child.kill();
        panic!("no log line containing {needle:?} within 20s");
    }

    fn signal(&self, signal: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        rustix::process::kill_process(pid, signal).unwrap();
    }

    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("watchkeeper did not exit within 20s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request with `Connection: close`; returns status and body.
fn http(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").unwrap();
    read_response(&mut stream)
}

fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or_else(|| panic!("bad response {raw:?}"));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

#[test]
fn serve_starts_and_metrics_pass_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(&dir.path().join("data"), &[]);
    assert_eq!(http(server.addr, "GET", "/-/healthy"), (200, "Watchkeeper is Healthy.\n".to_owned()));
    assert_eq!(http(server.addr, "GET", "/-/ready").0, 200);
    let (status, metrics) = http(server.addr, "GET", "/metrics");
    assert_eq!(status, 200);
    assert!(metrics.contains("watchkeeper_build_info"), "{metrics}");

    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool not found: the test command (scripts/test.sh) installs Debian's prometheus package");
    promtool.stdin.take().unwrap().write_all(metrics.as_bytes()).unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sigterm_finishes_the_request_in_flight_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Running::start(&dir.path().join("data"), &[]);
    // A request whose headers have started to arrive is in flight: shutdown must
    // wait for it and answer it.
    let mut in_flight = TcpStream::connect(server.addr).unwrap();
    in_flight.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    in_flight.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    server.signal(rustix::process::Signal::TERM);
    server.wait_for_log("SIGTERM received");
    std::thread::sleep(Duration::from_millis(200));
    in_flight.write_all(b"Connection: close\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut in_flight), (200, "Watchkeeper is Healthy.\n".to_owned()));
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    // The lock is released: a new process can take the directory at once.
    let again = Running::start(&dir.path().join("data"), &[]);
    assert_eq!(http(again.addr, "GET", "/-/healthy").0, 200);
}

#[test]
fn sigint_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Running::start(&dir.path().join("data"), &[]);
    server.signal(rustix::process::Signal::INT);
    server.wait_for_log("shutdown complete");
    assert_eq!(server.wait_exit().code(), Some(0));
}

#[test]
fn second_process_on_the_same_data_directory_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let _first = Running::start(&data, &[]);
    let out = Command::new(BIN)
        .args([
            "serve",
            "--web.listen-address",
            "127.0.0.1:0",
            "--otlp.grpc.listen-address",
            "127.0.0.1:0",
            "--storage.path",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let canonical = std::fs::canonicalize(&data).unwrap();
    assert!(stderr.contains(&canonical.display().to_string()), "{stderr}");
    assert!(stderr.contains(&canonical.join("lock").display().to_string()), "{stderr}");
    assert!(stderr.contains("in use by another Watchkeeper process"), "{stderr}");
}

#[test]
fn sighup_reloads_and_a_broken_file_keeps_the_old_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("watchkeeper.yml");
    std::fs::write(&config, "scrape_configs:\n  - job_name: before\n").unwrap();
    let mut server =
        Running::start(&dir.path().join("data"), &["--config.file", config.to_str().unwrap(), "--log.format", "json"]);

    std::fs::write(&config, "scrape_configs:\n  - job_name: after\n").unwrap();
    server.signal(rustix::process::Signal::HUP);
    let line = server.wait_for_log("configuration reloaded");
    let json: serde_json::Value = serde_json::from_str(&line).expect("log lines are JSON with --log.format=json");
    assert_eq!(json["level"], "INFO");
    assert!(http(server.addr, "GET", "/api/v1/status/config").1.contains("job_name: after"));

    std::fs::write(&config, "scrape_configs:\n  - job_name: after\n    scrape_interval: soon\n").unwrap();
    server.signal(rustix::process::Signal::HUP);
    let line = server.wait_for_log("configuration reload failed");
    assert!(line.contains("watchkeeper.yml:3:22"), "{line}");
    assert!(http(server.addr, "GET", "/api/v1/status/config").1.contains("job_name: after"));
    let metrics = http(server.addr, "GET", "/metrics").1;
    assert!(metrics.contains("watchkeeper_config_last_reload_successful 0"), "{metrics}");
}

#[test]
fn check_config_reports_every_error_and_sets_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yml");
    let bad = dir.path().join("bad.yml");
    std::fs::write(&good, "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: node\n").unwrap();
    std::fs::write(
        &bad,
        "scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 6s\n  - job_name: a\n",
    )
    .unwrap();

    let ok = Command::new(BIN).args(["check", "config"]).arg(&good).output().unwrap();
    assert_eq!(ok.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("SUCCESS"));

    let failed = Command::new(BIN).args(["check", "config"]).arg(&good).arg(&bad).output().unwrap();
    assert_eq!(failed.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&failed.stdout);
    let bad_name = bad.display().to_string();
    assert!(stdout.contains(&format!("{bad_name}:2:5: scrape timeout greater than scrape interval")), "{stdout}");
    assert!(
        stdout.contains(&format!("{bad_name}:5:15: found multiple scrape configs with job name \"a\"")),
        "{stdout}"
    );
    assert!(stdout.contains("good.yml: SUCCESS"), "{stdout}");

    let missing = Command::new(BIN).args(["check", "config", "/nonexistent.yml"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stdout).contains("/nonexistent.yml: cannot read configuration file"));
}

#[test]
fn bad_log_level_is_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--log.level", "inf", "--web.listen-address", "127.0.0.1:0", "--storage.path"])
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid --log.level \"inf\""));
    assert!(!dir.path().join("data").exists(), "nothing may start with a bad flag");
}

#[test]
fn version_and_help() {
    let version = Command::new(BIN).arg("version").output().unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("watchkeeper "));
    let help = Command::new(BIN).args(["serve", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in ["--config.file", "--web.listen-address", "--storage.path", "--log.level", "--log.format"] {
        assert!(text.contains(flag), "{flag} missing from help:\n{text}");
    }
}

#[test]
fn acknowledged_remote_writes_survive_kill_nine() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("watchkeeper.yml");
    std::fs::write(&config, "host_agent:\n  enabled: false\n").unwrap();
    let mut server = Running::start(&data, &["--config.file", config.to_str().unwrap()]);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let mut acknowledged = Vec::new();
    for batch in 0..20i64 {
        let body = remote_write_body("kill_test_total", now + batch * 1000, batch as f64);
        let mut stream = TcpStream::connect(server.addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            stream,
            "POST /api/v1/write HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .unwrap();
        stream.write_all(&body).unwrap();
        let (status, text) = read_response(&mut stream);
        assert_eq!(status, 204, "{text}");
        acknowledged.push((now + batch * 1000, batch as f64));
    }
    server.signal(rustix::process::Signal::KILL);
    let _ = server.wait_exit();

    // The data directory holds every acknowledged sample, exactly once.
    let (db, report) = wk_tsdb::Db::open(&data, wk_tsdb::DbOptions::default()).unwrap();
    assert!(report.unclean_shutdown, "kill -9 is detected as an unclean shutdown");
    use wk_storage::Querier;
    let matchers = [wk_model::Matcher::new(wk_model::MatchOp::Eq, "__name__", "kill_test_total").unwrap()];
    let found: Vec<Vec<(i64, f64)>> = {
        let querier = db.querier();
        let set = querier.select(&matchers, i64::MIN, i64::MAX).unwrap();
        set.map(|s| s.unwrap().samples.iter().map(|x| (x.t, x.v)).collect()).collect()
    };
    assert_eq!(found, vec![acknowledged]);
    db.close().unwrap();

    // A restarted server reports the unclean shutdown it recovered from.
    let restarted = Running::start(&data, &["--config.file", config.to_str().unwrap()]);
    let metrics = http(restarted.addr, "GET", "/metrics").1;
    assert!(metrics.contains("watchkeeper_tsdb_unclean_shutdown 0"), "the clean close above was recorded: {metrics}");
}

/// A snappy-compressed remote_write 1.0 request with one sample of one series.
fn remote_write_body(name: &str, t: i64, v: f64) -> Vec<u8> {
    use prost::Message;
    use wk_ingest::remote_write::proto::{Label, Sample, TimeSeries, WriteRequest};
    let request = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![
                Label { name: "__name__".into(), value: name.into() },
                Label { name: "job".into(), value: "test".into() },
            ],
            samples: vec![Sample { value: v, timestamp: t }],
            exemplars: vec![],
            histograms: vec![],
        }],
        metadata: vec![],
    };
    snap::raw::Encoder::new().compress_vec(&request.encode_to_vec()).unwrap()
}
