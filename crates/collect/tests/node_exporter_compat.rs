//! The host agent against the real node_exporter from Debian
//! (`prometheus-node-exporter`, installed by scripts/test.sh), on the same machine at the
//! same moment: every family we produce must exist there with the same type and label
//! names, cover the same devices, CPUs and mount points, and agree on values.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wk_collect::host::{HostCollector, HostOptions};
use wk_collect::{MetricFamily, MetricKind};

const UPSTREAM_MOUNT_EXCLUDE: &str =
    r"^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";

struct Exporter(Child);

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_node_exporter() -> (Exporter, SocketAddr) {
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let child = Command::new("prometheus-node-exporter")
        .arg(format!("--web.listen-address={addr}"))
        // Debian patches this default to also hide /run, /mnt and /media; we follow
        // upstream node_exporter (data disks are often mounted under /mnt), so the
        // comparison runs with upstream's default.
        .arg(format!("--collector.filesystem.mount-points-exclude={UPSTREAM_MOUNT_EXCLUDE}"))
        // Debian also hides the loopback interface; upstream reports it.
        .arg("--collector.netdev.device-exclude=^$")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus-node-exporter not found: scripts/test.sh installs Debian's prometheus-node-exporter");
    let exporter = Exporter(child);
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "node_exporter did not listen on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
    (exporter, addr)
}

fn scrape(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (_, body) = raw.split_once("\r\n\r\n").unwrap();
    if raw.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_owned() }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

/// One family of the exposition: its type and samples (label set → value).
#[derive(Default, Debug)]
struct Exposed {
    kind: String,
    samples: BTreeMap<BTreeMap<String, String>, f64>,
}

fn parse_exposition(text: &str) -> BTreeMap<String, Exposed> {
    let mut families: BTreeMap<String, Exposed> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            families.entry(name.to_owned()).or_default().kind = kind.to_owned();
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, parse_labels(rest.trim_end_matches('}'))),
            None => (series, BTreeMap::new()),
        };
        families.entry(name.to_owned()).or_default().samples.insert(labels, value.parse().unwrap_or(f64::NAN));
    }
    families
}

fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while let Some((name, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        value.push(if n == 'n' { '\n' } else { n });
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        labels.insert(name.trim_start_matches(',').to_owned(), value);
        rest = &after[end..];
    }
    labels
}

fn ours() -> BTreeMap<String, MetricFamily> {
    HostCollector::new(HostOptions::default()).collect().into_iter().map(|f| (f.name.clone(), f)).collect()
}

fn label_map(labels: &[(&'static str, String)]) -> BTreeMap<String, String> {
    labels.iter().map(|(n, v)| ((*n).to_owned(), v.clone())).collect()
}

#[test]
fn families_types_and_labels_match_node_exporter() {
    let (_exporter, addr) = start_node_exporter();
    let theirs = parse_exposition(&scrape(addr));
    let ours = ours();
    assert!(ours.len() > 40, "too few families: {}", ours.len());
    let mut problems = Vec::new();
    for (name, family) in &ours {
        let Some(exposed) = theirs.get(name) else {
            problems.push(format!("{name}: node_exporter has no such metric"));
            continue;
        };
        let kind = match family.kind {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
        };
        if exposed.kind != kind {
            problems.push(format!("{name}: type {kind}, node_exporter says {}", exposed.kind));
        }
        let their_names: BTreeSet<Vec<String>> = exposed.samples.keys().map(|l| l.keys().cloned().collect()).collect();
        for sample in &family.samples {
            let names: Vec<String> = label_map(&sample.labels).into_keys().collect();
            if !their_names.contains(&names) {
                problems.push(format!("{name}: label names {names:?}, node_exporter uses {their_names:?}"));
                break;
            }
        }
        // The same series, except where the set legitimately differs between two
        // programs (which collectors ran).
        if name != "node_scrape_collector_success" {
            let our_sets: BTreeSet<_> = family.samples.iter().map(|s| label_map(&s.labels)).collect();
            let their_sets: BTreeSet<_> = exposed.samples.keys().cloned().collect();
            if our_sets != their_sets {
                problems.push(format!("{name}: series differ:\n  ours   {our_sets:?}\n  theirs {their_sets:?}"));
            }
        }
    }
    assert!(problems.is_empty(), "differences from node_exporter:\n{}", problems.join("\n"));
}

#[test]
fn values_agree_with_node_exporter() {
    let (_exporter, addr) = start_node_exporter();
    let theirs = parse_exposition(&scrape(addr));
    let ours = ours();
    let value = |family: &MetricFamily, labels: &BTreeMap<String, String>| {
        family.samples.iter().find(|s| &label_map(&s.labels) == labels).map(|s| s.value)
    };
    // Values that cannot change between the two readings must be equal.
    for name in [
        "node_memory_MemTotal_bytes",
        "node_memory_SwapTotal_bytes",
        "node_boot_time_seconds",
        "node_filesystem_size_bytes",
        "node_filesystem_files",
    ] {
        for (labels, theirs) in &theirs[name].samples {
            assert_eq!(value(&ours[name], labels), Some(*theirs), "{name}{labels:?}");
        }
    }
    // Counters moved forward a little between the readings, never backwards.
    for name in [
        "node_cpu_seconds_total",
        "node_network_receive_bytes_total",
        "node_disk_reads_completed_total",
        "node_forks_total",
    ] {
        for (labels, theirs) in &theirs[name].samples {
            let ours = value(&ours[name], labels).unwrap_or_else(|| panic!("{name}{labels:?} missing"));
            // Other tests run in parallel: forks and loopback traffic move quickly.
            let slack = match name {
                "node_forks_total" => 10_000.0,
                "node_network_receive_bytes_total" => theirs.abs() * 0.05 + 64.0 * 1024.0 * 1024.0,
                // Builds running beside the suite read the disk heavily.
                "node_disk_reads_completed_total" => theirs.abs() * 0.05 + 100_000.0,
                _ => theirs.abs() * 0.01 + 5.0,
            };
            assert!(ours >= *theirs && ours - theirs <= slack, "{name}{labels:?}: ours {ours}, node_exporter {theirs}");
        }
    }
}

#[test]
fn values_cross_check_with_proc() {
    let ours = ours();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let total_kb: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .unwrap()
        .trim()
        .trim_end_matches(" kB")
        .trim()
        .parse()
        .unwrap();
    assert_eq!(ours["node_memory_MemTotal_bytes"].samples[0].value, total_kb * 1024.0);
    let cpus = std::fs::read_to_string("/proc/stat")
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count();
    assert_eq!(ours["node_cpu_seconds_total"].samples.len(), cpus * 8);
    let root = ours["node_filesystem_size_bytes"]
        .samples
        .iter()
        .find(|s| s.labels.iter().any(|(n, v)| *n == "mountpoint" && v == "/"));
    let statvfs = rustix::fs::statvfs("/").unwrap();
    if let Some(root) = root {
        assert_eq!(root.value, (statvfs.f_blocks * statvfs.f_frsize) as f64);
    }
    let success = &ours["node_scrape_collector_success"];
    assert!(success.samples.iter().all(|s| s.value == 1.0), "every collector works on Linux: {success:?}");
}

#[test]
fn exposition_text_is_valid_for_promtool() {
    let mut text = String::new();
    for family in HostCollector::new(HostOptions::default()).collect() {
        family.write_text(&mut text);
    }
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool not found: scripts/test.sh installs Debian's prometheus package");
    promtool.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = promtool.wait_with_output().unwrap();
    // promtool lints help text style too; only parse errors matter here.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("error while linting"), "{stderr}");
}
