//! The host agent writing into a real in-memory TSDB head: labels, values, and
//! staleness markers for series that disappear between rounds.

use std::path::Path;

use wk_collect::host::{HostAgent, HostAgentConfig, HostOptions};
use wk_model::{MatchOp, Matcher, is_stale_nan};
use wk_storage::Querier;
use wk_tsdb::{Head, HeadOptions};

const NET_DEV_HEADER: &str = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n";

fn fake_proc(dir: &Path, interfaces: &[&str]) {
    std::fs::create_dir_all(dir.join("net")).unwrap();
    std::fs::create_dir_all(dir.join("1")).unwrap();
    std::fs::write(
        dir.join("stat"),
        "cpu0 100 0 50 500 5 0 2 0 0 0\nctxt 10\nbtime 1700000000\nprocesses 5\nprocs_running 1\nprocs_blocked 0\n",
    )
    .unwrap();
    std::fs::write(dir.join("meminfo"), "MemTotal:  1000 kB\nMemAvailable: 500 kB\n").unwrap();
    std::fs::write(dir.join("loadavg"), "0.5 0.4 0.3 1/100 42\n").unwrap();
    std::fs::write(dir.join("diskstats"), "").unwrap();
    std::fs::write(dir.join("1/mounts"), "").unwrap();
    let mut net = NET_DEV_HEADER.to_owned();
    for (i, name) in interfaces.iter().enumerate() {
        net.push_str(&format!("{name}: {} 1 0 0 0 0 0 0 {} 1 0 0 0 0 0 0\n", 100 * (i + 1), 200 * (i + 1)));
    }
    std::fs::write(dir.join("net/dev"), net).unwrap();
}

fn values(head: &Head, name: &str, extra: Option<(&str, &str)>) -> Vec<(String, Vec<(i64, f64)>)> {
    let mut matchers = vec![Matcher::new(MatchOp::Eq, "__name__", name).unwrap()];
    if let Some((n, v)) = extra {
        matchers.push(Matcher::new(MatchOp::Eq, n, v).unwrap());
    }
    let querier = head.querier();
    querier
        .select(&matchers, i64::MIN, i64::MAX)
        .unwrap()
        .map(|series| {
            let series = series.unwrap();
            let labels = format!("{:?}", series.labels);
            let samples = series.samples.iter().map(|s| (s.t, s.v)).collect();
            (labels, samples)
        })
        .collect()
}

#[test]
fn rounds_write_labeled_series_and_mark_vanished_ones_stale() {
    let dir = tempfile::tempdir().unwrap();
    fake_proc(dir.path(), &["lo", "eth0"]);
    let head = Head::new(HeadOptions::default()).unwrap();
    let config = HostAgentConfig { instance: Some("web-1".to_owned()), ..Default::default() };
    let mut agent = HostAgent::new(&config, HostOptions { proc_path: dir.path().to_owned(), ..Default::default() });

    let first = agent.round(&head, 1_000).unwrap();
    assert!(first.appended > 20, "{first:?}");
    assert_eq!((first.stale, first.rejected), (0, 0));
    let memory = values(&head, "node_memory_MemTotal_bytes", Some(("instance", "web-1")));
    assert_eq!(memory.len(), 1);
    assert!(memory[0].0.contains("job") && memory[0].0.contains("node"), "{}", memory[0].0);
    assert_eq!(memory[0].1, vec![(1_000, 1_024_000.0)]);

    fake_proc(dir.path(), &["lo"]);
    let second = agent.round(&head, 16_000).unwrap();
    assert_eq!(second.stale, 16, "eth0's 16 network series went stale: {second:?}");
    let eth0 = values(&head, "node_network_receive_bytes_total", Some(("device", "eth0")));
    assert_eq!(eth0.len(), 1);
    let samples = &eth0[0].1;
    assert_eq!(samples.len(), 2);
    assert_eq!(samples[0], (1_000, 200.0));
    assert_eq!(samples[1].0, 16_000);
    assert!(is_stale_nan(samples[1].1), "staleness marker written");
    let lo = values(&head, "node_network_receive_bytes_total", Some(("device", "lo")));
    assert_eq!(lo[0].1, vec![(1_000, 100.0), (16_000, 100.0)]);

    // A third round writes no second staleness marker for the same series.
    let third = agent.round(&head, 31_000).unwrap();
    assert_eq!(third.stale, 0);
}

#[test]
fn the_live_host_round_trips_through_the_head() {
    let head = Head::new(HeadOptions::default()).unwrap();
    let mut agent = HostAgent::new(&HostAgentConfig::default(), HostOptions::default());
    let round = agent.round(&head, 5_000).unwrap();
    assert_eq!(round.rejected, 0, "every node_exporter name and label is valid: {round:?}");
    let cpu = values(&head, "node_cpu_seconds_total", Some(("mode", "idle")));
    let cpus = std::fs::read_to_string("/proc/stat")
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count();
    assert_eq!(cpu.len(), cpus);
    assert!(!agent.instance().is_empty());
}
