//! `wk-collect` gathers metrics actively. Today it holds the host agent: the host's own
//! CPU, memory, load, filesystems, disks, network and system figures, read from `/proc`
//! and `statvfs`, under node_exporter's metric names and labels so that existing rules
//! and dashboards work unchanged; and the scraper: Prometheus-compatible scrape jobs
//! with static and file-based discovery, relabeling, staleness and the targets report.
//!
//! Map:
//! - [`host`]: the host agent; one file per source (`cpu.rs` for `/proc/stat`,
//!   `meminfo.rs`, `loadavg.rs`, `diskstats.rs`, `netdev.rs`, `filesystem.rs`,
//!   `system.rs` for uname and time).
//! - [`discovery`]: target groups from `static_configs`, `file_sd_configs`,
//!   `dns_sd_configs` and `http_sd_configs`.
//! - [`dns`]: a small DNS client (wire format, UDP/TCP exchange, resolv.conf).
//! - [`heartbeat`]: dead man's switches checked in over HTTP.
//! - [`family`]: the metric family type the collectors produce.
//! - [`probe`]: HTTP(S) and TCP probes with blackbox_exporter's metrics.
//! - [`scrape`]: `scrape_configs` settings, the scrape manager, loops and targets report.
//! - [`http_client`]: client authentication and TLS settings shared by scrapes and discovery.
//! - [`writer`]: writing metric families into storage with staleness markers.
//! - [`relabel`]: relabeling rules with Prometheus's semantics.

pub mod discovery;
pub mod dns;
pub mod family;
pub mod heartbeat;
pub mod host;
pub mod http_client;
pub mod probe;
pub mod relabel;
pub mod scrape;
pub mod writer;

pub use family::{MetricFamily, MetricKind, Sample};
