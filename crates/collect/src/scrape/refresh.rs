//! The discovery mechanisms that ask the network every `refresh_interval`
//! (`dns_sd_configs`, `http_sd_configs`), each run as its own task that sends its
//! target groups to the pool's discovery task when they change.
//!
//! A failed refresh keeps the last good groups (per DNS name, per HTTP endpoint), as
//! Prometheus does, and is counted in [`DiscoveryCounters`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{DnsSdConfig, HttpSdConfig, TargetGroup};
use crate::discovery::dns_sd::lookup_group;
use crate::discovery::http_sd::HttpSd;
use crate::dns::Resolver;

/// Counts of discovery work, shared by every pool of a scrape manager.
#[derive(Debug, Default)]
pub struct DiscoveryCounters {
    /// DNS-SD lookups made (one per name and refresh).
    pub dns_lookups: AtomicU64,
    /// DNS-SD lookups that failed.
    pub dns_lookup_failures: AtomicU64,
    /// HTTP-SD refreshes made.
    pub http_refreshes: AtomicU64,
    /// HTTP-SD refreshes that failed.
    pub http_failures: AtomicU64,
}

impl DiscoveryCounters {
    /// `(dns_lookups, dns_lookup_failures, http_refreshes, http_failures)` now.
    pub fn snapshot(&self) -> (u64, u64, u64, u64) {
        (
            self.dns_lookups.load(Ordering::Relaxed),
            self.dns_lookup_failures.load(Ordering::Relaxed),
            self.http_refreshes.load(Ordering::Relaxed),
            self.http_failures.load(Ordering::Relaxed),
        )
    }
}

/// An update from refresher number `.0`: its whole current list of groups.
pub(crate) type Update = (usize, Vec<TargetGroup>);

/// Refresher tasks that end when this is dropped (when the pool's discovery task ends
/// or is aborted).
pub(crate) struct Refreshers(Vec<JoinHandle<()>>);

impl Drop for Refreshers {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Starts one task per `dns_sd_configs` and `http_sd_configs` entry. Refresher `i`
/// numbers them DNS first, then HTTP. Returns the tasks and how many there are.
pub(crate) fn start(
    job: &str,
    dns: &[DnsSdConfig],
    http: &[HttpSdConfig],
    counters: &Arc<DiscoveryCounters>,
    updates: &mpsc::Sender<Update>,
) -> (Refreshers, usize) {
    let mut tasks = Vec::new();
    for config in dns {
        let index = tasks.len();
        tasks.push(tokio::spawn(run_dns(job.to_owned(), index, config.clone(), counters.clone(), updates.clone())));
    }
    for config in http {
        let index = tasks.len();
        tasks.push(tokio::spawn(run_http(job.to_owned(), index, config.clone(), counters.clone(), updates.clone())));
    }
    let count = tasks.len();
    (Refreshers(tasks), count)
}

async fn run_dns(
    job: String,
    index: usize,
    config: DnsSdConfig,
    counters: Arc<DiscoveryCounters>,
    updates: mpsc::Sender<Update>,
) {
    let mut by_name: BTreeMap<String, TargetGroup> = BTreeMap::new();
    let mut sent = None;
    loop {
        match config.resolver_config() {
            Ok(resolver) => {
                let resolver = Resolver::new(resolver);
                for name in &config.names {
                    counters.dns_lookups.fetch_add(1, Ordering::Relaxed);
                    match lookup_group(&resolver, name, &config).await {
                        Ok(group) => {
                            by_name.insert(name.clone(), group);
                        }
                        Err(e) => {
                            counters.dns_lookup_failures.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(%job, error = %e, "dns_sd: keeping the name's previous targets");
                        }
                    }
                }
            }
            Err(e) => {
                counters.dns_lookup_failures.fetch_add(config.names.len() as u64, Ordering::Relaxed);
                tracing::warn!(%job, error = %e, "dns_sd: cannot read the resolver configuration");
            }
        }
        let groups: Vec<TargetGroup> = by_name.values().cloned().collect();
        if !send_if_changed(&updates, index, groups, &mut sent).await {
            return;
        }
        tokio::time::sleep(config.refresh_interval.get()).await;
    }
}

async fn run_http(
    job: String,
    index: usize,
    config: HttpSdConfig,
    counters: Arc<DiscoveryCounters>,
    updates: mpsc::Sender<Update>,
) {
    let mut client = match HttpSd::new(&config) {
        Ok(client) => client,
        Err(e) => {
            counters.http_failures.fetch_add(1, Ordering::Relaxed);
            tracing::error!(%job, error = %e, "http_sd: cannot start");
            return;
        }
    };
    let mut sent = None;
    loop {
        counters.http_refreshes.fetch_add(1, Ordering::Relaxed);
        match client.fetch().await {
            Ok(groups) => {
                if !send_if_changed(&updates, index, groups, &mut sent).await {
                    return;
                }
            }
            Err(e) => {
                counters.http_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%job, error = %e, "http_sd: keeping the previous targets");
            }
        }
        tokio::time::sleep(config.refresh_interval.get()).await;
    }
}

/// Sends `groups` unless they equal the last sent; false when the receiver is gone.
async fn send_if_changed(
    updates: &mpsc::Sender<Update>,
    index: usize,
    groups: Vec<TargetGroup>,
    sent: &mut Option<Vec<TargetGroup>>,
) -> bool {
    if sent.as_ref() == Some(&groups) {
        return true;
    }
    *sent = Some(groups.clone());
    updates.send((index, groups)).await.is_ok()
}
