//! The host agent: node_exporter's default Linux collectors that matter most for
//! alerting (`cpu`, `stat`, `meminfo`, `loadavg`, `filesystem`, `diskstats`, `netdev`,
//! `time`, `uname`), under the same metric names, labels and units.
//!
//! Each source is parsed by a pure function over the file's text, so it is tested on
//! fixtures; [`HostCollector::collect`] reads the live files. A source that cannot be
//! read is skipped with a debug log line and counted in `node_scrape_collector_success`
//! as node_exporter does, so one missing file never hides the others.

pub mod agent;
mod cpu;
mod diskstats;
mod filesystem;
mod loadavg;
mod meminfo;
mod netdev;
mod system;

use std::path::{Path, PathBuf};

pub use agent::{HostAgent, HostAgentConfig, Round};
pub use cpu::{StatError, parse_stat};
pub use diskstats::parse_diskstats;
pub use filesystem::{Mount, MountFilter, parse_mounts};
pub use loadavg::parse_loadavg;
pub use meminfo::parse_meminfo;
pub use netdev::parse_netdev;

use crate::family::{MetricFamily, MetricKind};

/// One source of the host agent: appends its families or says why it could not.
type Source<'a> = dyn Fn(&mut Vec<MetricFamily>) -> Result<(), String> + 'a;

/// Where the host's pseudo-filesystems are (tests and containers point them elsewhere).
#[derive(Clone, Debug)]
pub struct HostOptions {
    /// The procfs mount, `/proc` by default.
    pub proc_path: PathBuf,
    /// Which mounts to report; node_exporter's defaults.
    pub mounts: MountFilter,
}

impl Default for HostOptions {
    fn default() -> Self {
        Self { proc_path: PathBuf::from("/proc"), mounts: MountFilter::default() }
    }
}

/// Reads the host's figures on each [`HostCollector::collect`].
#[derive(Debug)]
pub struct HostCollector {
    options: HostOptions,
    ticks_per_second: f64,
}

impl HostCollector {
    /// A collector reading from the given places.
    pub fn new(options: HostOptions) -> Self {
        Self { options, ticks_per_second: rustix::param::clock_ticks_per_second() as f64 }
    }

    /// Collects every source now. Sources that fail are skipped and reported in
    /// `node_scrape_collector_success{collector}` (0) as node_exporter does.
    pub fn collect(&self) -> Vec<MetricFamily> {
        let mut families = Vec::with_capacity(64);
        let mut success = MetricFamily::new(
            "node_scrape_collector_success",
            "node_exporter: Whether a collector succeeded.",
            MetricKind::Gauge,
        );
        let sources: [(&str, &Source<'_>); 8] = [
            ("cpu", &|out| self.read_stat(out)),
            ("meminfo", &|out| self.read_with("meminfo", out, |t| Ok(parse_meminfo(t)))),
            ("loadavg", &|out| self.read_with("loadavg", out, parse_loadavg)),
            ("diskstats", &|out| self.read_with("diskstats", out, |t| Ok(parse_diskstats(t)))),
            ("netdev", &|out| self.read_with("net/dev", out, parse_netdev)),
            ("filesystem", &|out| self.read_filesystems(out)),
            ("time", &|out| {
                out.extend(system::time());
                Ok(())
            }),
            ("uname", &|out| {
                out.push(system::uname());
                Ok(())
            }),
        ];
        for (name, source) in sources {
            let ok = match source(&mut families) {
                Ok(()) => 1.0,
                Err(e) => {
                    tracing::debug!(collector = name, error = %e, "host collector failed");
                    0.0
                }
            };
            success.push(vec![("collector", name.to_owned())], ok);
        }
        families.push(success);
        families
    }

    fn proc_file(&self, name: &str) -> PathBuf {
        self.options.proc_path.join(name)
    }

    fn read_with<F>(&self, name: &str, out: &mut Vec<MetricFamily>, parse: F) -> Result<(), String>
    where
        F: Fn(&str) -> Result<Vec<MetricFamily>, String>,
    {
        let text = read(&self.proc_file(name))?;
        out.extend(parse(&text)?);
        Ok(())
    }

    fn read_stat(&self, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        let text = read(&self.proc_file("stat"))?;
        out.extend(parse_stat(&text, self.ticks_per_second).map_err(|e| e.to_string())?);
        Ok(())
    }

    fn read_filesystems(&self, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        let text = read(&self.proc_file("1/mounts")).or_else(|_| read(&self.proc_file("mounts")))?;
        let mounts = parse_mounts(&text, &self.options.mounts);
        out.extend(filesystem::stat_mounts(&mounts));
        Ok(())
    }
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}
