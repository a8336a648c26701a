//! The system resolver configuration, `/etc/resolv.conf` (resolv.conf(5)): name
//! servers, search domains and the `ndots`, `timeout` and `attempts` options.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

/// Where the system resolver configuration lives.
pub const RESOLV_CONF: &str = "/etc/resolv.conf";

/// How names are resolved: which servers to ask, with which search domains, how
/// patiently.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolverConfig {
    /// Servers asked in order until one gives a usable answer.
    pub servers: Vec<SocketAddr>,
    /// Domains appended to relative names.
    pub search: Vec<String>,
    /// A name with at least this many dots is tried as written before the search
    /// domains. Default 1.
    pub ndots: usize,
    /// How long to wait for one server's answer. Default 5s.
    pub timeout: Duration,
    /// How many times each server is asked. Default 2.
    pub attempts: usize,
}

impl Default for ResolverConfig {
    /// The resolver's defaults when the file is missing: the local host's server.
    fn default() -> Self {
        Self {
            servers: vec![
                SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 53),
                SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 53),
            ],
            search: Vec::new(),
            ndots: 1,
            timeout: Duration::from_secs(5),
            attempts: 2,
        }
    }
}

impl ResolverConfig {
    /// Reads `path`; a missing file gives the defaults, as the C library does.
    pub fn load(path: &Path) -> Result<Self, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Self::parse(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Reads the system configuration, [`RESOLV_CONF`].
    pub fn system() -> Result<Self, String> {
        Self::load(Path::new(RESOLV_CONF))
    }

    /// A configuration asking only `servers`, with the default options and no search
    /// domains.
    pub fn with_servers(servers: Vec<SocketAddr>) -> Self {
        Self { servers, ..Self::default() }
    }

    /// Parses resolv.conf text. Lines it does not understand are skipped, as the C
    /// library skips them.
    pub fn parse(text: &str) -> Self {
        let mut config = Self { servers: Vec::new(), ..Self::default() };
        for line in text.lines() {
            let line = line.split(['#', ';']).next().unwrap_or_default();
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => {
                    // A link-local IPv6 address may carry a zone (`fe80::1%eth0`), which
                    // `IpAddr` cannot hold; such servers are skipped.
                    if let Some(ip) = words.next().and_then(|w| w.parse::<IpAddr>().ok()) {
                        config.servers.push(SocketAddr::new(ip, 53));
                    }
                }
                Some("search") => config.search = words.map(|w| w.trim_end_matches('.').to_owned()).collect(),
                Some("domain") => {
                    config.search = words.next().map(|w| vec![w.trim_end_matches('.').to_owned()]).unwrap_or_default()
                }
                Some("options") => {
                    for option in words {
                        let (name, value) = option.split_once(':').unwrap_or((option, ""));
                        let value = value.parse::<usize>().ok();
                        match (name, value) {
                            ("ndots", Some(n)) => config.ndots = n.min(15),
                            ("timeout", Some(n)) => config.timeout = Duration::from_secs(n.clamp(1, 30) as u64),
                            ("attempts", Some(n)) => config.attempts = n.clamp(1, 5),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if config.servers.is_empty() {
            config.servers = Self::default().servers;
        }
        config
    }

    /// The fully qualified names to try for `name`, in order: a rooted name alone; a
    /// name with at least `ndots` dots first as written, then with each search domain;
    /// other names with the search domains first.
    pub fn name_list(&self, name: &str) -> Vec<String> {
        if name.ends_with('.') {
            return vec![name.to_owned()];
        }
        let as_written = format!("{name}.");
        let searched = self.search.iter().map(|domain| format!("{name}.{domain}."));
        if name.matches('.').count() >= self.ndots {
            std::iter::once(as_written).chain(searched).collect()
        } else {
            searched.chain(std::iter::once(as_written)).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_servers_search_and_options() {
        let config = ResolverConfig::parse(
            "# comment\nnameserver 10.0.0.2\nnameserver ::1 # trailing\nnameserver fe80::1%eth0\n\
             search corp.example. example.org\noptions ndots:2 timeout:1 attempts:3 rotate\nsortlist x\n",
        );
        assert_eq!(config.servers, vec!["10.0.0.2:53".parse().unwrap(), "[::1]:53".parse().unwrap()]);
        assert_eq!(config.search, vec!["corp.example", "example.org"]);
        assert_eq!((config.ndots, config.timeout, config.attempts), (2, Duration::from_secs(1), 3));
    }

    #[test]
    fn no_servers_means_the_local_host() {
        assert_eq!(ResolverConfig::parse("search a\n").servers, ResolverConfig::default().servers);
        let missing = ResolverConfig::load(Path::new("/nonexistent/resolv.conf")).unwrap();
        assert_eq!(missing, ResolverConfig::default());
    }

    #[test]
    fn search_order_follows_ndots() {
        let config = ResolverConfig { search: vec!["a.example".into()], ndots: 1, ..ResolverConfig::default() };
        assert_eq!(config.name_list("db"), vec!["db.a.example.", "db."]);
        assert_eq!(config.name_list("db.svc"), vec!["db.svc.", "db.svc.a.example."]);
        assert_eq!(config.name_list("db.svc."), vec!["db.svc."]);
    }
}
