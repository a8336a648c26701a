//! The scrape manager: one scrape pool per job, each with a discovery task and one
//! loop per target.
//!
//! [`ScrapeManager::apply`] takes the whole list of jobs on start and on every reload:
//! unchanged jobs keep running untouched; a changed job's loops hand their series to
//! the loops of the new configuration (so nothing goes stale across a reload); removed
//! jobs stop and mark their series stale. A pool's discovery task reads
//! `static_configs` once, re-reads `file_sd_configs` files when they change (polled)
//! and every `refresh_interval`, and takes the groups of the `dns_sd_configs` and
//! `http_sd_configs` refreshers (see [`super::refresh`]) as they change; then it syncs
//! the loops: new targets start, vanished
//! targets stop with staleness markers, unchanged targets keep their loops.
//!
//! Locks: the manager's pool map and each pool's target map are std mutexes, held only
//! for short synchronous work, never across `.await`; the pool map is always taken
//! before a target map.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use wk_storage::Appendable;

use super::append::write_stale;
use super::job::JobSettings;
use super::refresh::{self, DiscoveryCounters, Update};
use super::report::{ActiveTarget, DroppedTarget, TargetsReport, global_url, rfc3339};
use super::scrape_loop::{ForcedError, LoopExit, LoopHandle, Stop, millis};
use super::{DnsSdConfig, HttpSdConfig, Populated, ScrapeConfig, TargetGroup, populate};
use crate::discovery::{FileWatch, expand_patterns, read_file_groups, static_groups};

/// Tuning of the scrape manager.
#[derive(Clone, Debug)]
pub struct ScrapeManagerOptions {
    /// How often `file_sd_configs` files are checked for changes (a `stat` per file).
    /// Default 5s.
    pub file_sd_poll_interval: Duration,
    /// Where the metric metadata targets expose is reported; none by default.
    pub metadata: Option<Arc<dyn super::job::MetadataSink>>,
}

impl Default for ScrapeManagerOptions {
    fn default() -> Self {
        Self { file_sd_poll_interval: Duration::from_secs(5), metadata: None }
    }
}

/// Runs the scrape jobs of the configuration and writes what they scrape to a store.
///
/// Methods that start tasks ([`apply`](Self::apply)) must be called from inside a
/// tokio runtime.
pub struct ScrapeManager {
    store: Arc<dyn Appendable>,
    options: ScrapeManagerOptions,
    pools: Mutex<BTreeMap<String, Pool>>,
    counters: Arc<DiscoveryCounters>,
}

impl std::fmt::Debug for ScrapeManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapeManager").field("options", &self.options).finish_non_exhaustive()
    }
}

struct Pool {
    fingerprint: String,
    base_dir: PathBuf,
    targets: Arc<Mutex<PoolTargets>>,
    discovery: JoinHandle<()>,
}

/// A pool's targets, shared by its discovery task and the manager.
#[derive(Default)]
struct PoolTargets {
    loops: HashMap<u64, LoopHandle>,
    /// Active target keys in discovery order, for the targets API.
    order: Vec<u64>,
    dropped: Vec<Vec<(String, String)>>,
    dropped_count: usize,
    /// Loops of the job's previous configuration, waiting for a successor.
    inherited: HashMap<u64, JoinHandle<LoopExit>>,
    /// Set when the pool stops; discovery then starts nothing more.
    stopped: bool,
    /// Fails every scrape while the pool is over its `target_limit`.
    forced_error: ForcedError,
}

impl ScrapeManager {
    /// A manager with no jobs, writing to `store`.
    pub fn new(store: Arc<dyn Appendable>) -> Self {
        Self::with_options(store, ScrapeManagerOptions::default())
    }

    /// A manager with explicit options.
    pub fn with_options(store: Arc<dyn Appendable>, options: ScrapeManagerOptions) -> Self {
        Self { store, options, pools: Mutex::new(BTreeMap::new()), counters: Arc::default() }
    }

    /// Counts of DNS-SD lookups and HTTP-SD refreshes, and of their failures, over
    /// every job since the manager was made.
    pub fn discovery_counters(&self) -> Arc<DiscoveryCounters> {
        self.counters.clone()
    }

    /// Makes `jobs` (validated and defaulted by the configuration loader) the running
    /// set. `base_dir` is where relative `file_sd_configs` paths start (the config
    /// file's directory). A job that fails to compile is logged and not run (its
    /// previous version, if any, keeps running). Returns at once; discovery and the
    /// first scrapes happen in tasks.
    pub fn apply(&self, jobs: Vec<ScrapeConfig>, base_dir: PathBuf) {
        let mut pools = self.lock_pools();
        let mut wanted = HashSet::new();
        for config in jobs {
            let name = config.job_name.value.clone();
            wanted.insert(name.clone());
            let fingerprint = fingerprint(&config);
            if pools.get(&name).is_some_and(|p| p.fingerprint == fingerprint && p.base_dir == base_dir) {
                continue;
            }
            let job = match JobSettings::new(&config) {
                Ok(mut job) => {
                    job.metadata = self.options.metadata.clone();
                    Arc::new(job)
                }
                Err(e) => {
                    tracing::error!(job = %name, error = %e, "scrape job not started");
                    continue;
                }
            };
            let inherited = pools.remove(&name).map(Pool::hand_over).unwrap_or_default();
            tracing::info!(job = %name, "starting scrape pool");
            let pool = Pool::start(job, fingerprint, base_dir.clone(), inherited, self.store.clone(), self);
            pools.insert(name, pool);
        }
        let removed: Vec<String> = pools.keys().filter(|n| !wanted.contains(*n)).cloned().collect();
        for name in removed {
            if let Some(pool) = pools.remove(&name) {
                tracing::info!(job = %name, "stopping scrape pool");
                drop(pool.stop(&self.store));
            }
        }
    }

    /// The targets of every pool, as `GET /api/v1/targets` reports them.
    pub fn targets(&self) -> TargetsReport {
        let pools = self.lock_pools();
        let mut report = TargetsReport::default();
        for (name, pool) in pools.iter() {
            let targets = pool.targets.lock().unwrap_or_else(|e| e.into_inner());
            for key in &targets.order {
                if let Some(handle) = targets.loops.get(key) {
                    report.active_targets.push(active_target(name, handle));
                }
            }
            for discovered in &targets.dropped {
                report.dropped_targets.push(DroppedTarget {
                    discovered_labels: discovered.iter().cloned().collect(),
                    scrape_pool: name.clone(),
                });
            }
            report.dropped_target_counts.insert(name.clone(), targets.dropped_count);
        }
        report
    }

    /// Stops every pool and loop, and returns once each loop has written staleness
    /// markers for its series. A later [`apply`](Self::apply) starts afresh.
    pub async fn shutdown(&self) {
        let pools = std::mem::take(&mut *self.lock_pools());
        let mut tasks = Vec::new();
        for (_, pool) in pools {
            tasks.extend(pool.stop(&self.store));
        }
        for task in tasks {
            let _ = task.await;
        }
    }

    fn lock_pools(&self) -> MutexGuard<'_, BTreeMap<String, Pool>> {
        self.pools.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Pool {
    fn start(
        job: Arc<JobSettings>,
        fingerprint: String,
        base_dir: PathBuf,
        inherited: HashMap<u64, JoinHandle<LoopExit>>,
        store: Arc<dyn Appendable>,
        manager: &ScrapeManager,
    ) -> Self {
        let targets = Arc::new(Mutex::new(PoolTargets { inherited, ..Default::default() }));
        let discovery = Discovery {
            job,
            targets: targets.clone(),
            store,
            base_dir: base_dir.clone(),
            poll: manager.options.file_sd_poll_interval.max(Duration::from_millis(10)),
            counters: manager.counters.clone(),
        };
        Self { fingerprint, base_dir, targets, discovery: tokio::spawn(discovery.run()) }
    }

    /// Stops discovery and the loops, which hand their series over; returns them by
    /// target key for the pool of the job's new configuration.
    fn hand_over(self) -> HashMap<u64, JoinHandle<LoopExit>> {
        self.discovery.abort();
        let mut targets = self.targets.lock().unwrap_or_else(|e| e.into_inner());
        targets.stopped = true;
        let mut out: HashMap<u64, JoinHandle<LoopExit>> = targets.inherited.drain().collect();
        for (key, handle) in targets.loops.drain() {
            out.insert(key, handle.stop(Stop::Handover));
        }
        out
    }

    /// Stops discovery and the loops, which mark their series stale; returns their tasks.
    fn stop(self, store: &Arc<dyn Appendable>) -> Vec<JoinHandle<LoopExit>> {
        self.discovery.abort();
        let mut targets = self.targets.lock().unwrap_or_else(|e| e.into_inner());
        targets.stopped = true;
        let mut tasks: Vec<JoinHandle<LoopExit>> =
            targets.loops.drain().map(|(_, handle)| handle.stop(Stop::Stale)).collect();
        for (_, handle) in targets.inherited.drain() {
            tasks.push(stale_after(handle, store.clone()));
        }
        tasks
    }
}

/// When a handed-over loop finds no successor, its series are marked stale.
fn stale_after(handle: JoinHandle<LoopExit>, store: Arc<dyn Appendable>) -> JoinHandle<LoopExit> {
    tokio::spawn(async move {
        if let Ok(exit) = handle.await {
            write_stale(store.as_ref(), &exit.series, millis(SystemTime::now()));
        }
        LoopExit::default()
    })
}

fn active_target(pool: &str, handle: &LoopHandle) -> ActiveTarget {
    let status = handle.status.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let health = match (status.last_scrape, status.up) {
        (None, _) => "unknown",
        (Some(_), true) => "up",
        (Some(_), false) => "down",
    };
    ActiveTarget {
        discovered_labels: handle.target.discovered.iter().cloned().collect(),
        labels: handle.target.public_labels().map(|(n, v)| (n.to_owned(), v.to_owned())).collect(),
        scrape_pool: pool.to_owned(),
        scrape_url: handle.url.clone(),
        global_url: global_url(&handle.url),
        last_error: status.last_error,
        last_scrape: rfc3339(status.last_scrape),
        last_scrape_duration: status.last_duration.as_secs_f64(),
        health: health.to_owned(),
        scrape_interval: handle.target.interval.to_string(),
        scrape_timeout: handle.target.timeout.to_string(),
    }
}

/// What identifies a job's configuration: its serialised form plus the secrets the
/// serialisation redacts, so a changed password restarts the job too.
fn fingerprint(job: &ScrapeConfig) -> String {
    let mut out = serde_json::to_string(job).unwrap_or_default();
    let secrets = [
        job.basic_auth.as_ref().and_then(|b| b.password.as_ref()),
        job.authorization.as_ref().and_then(|a| a.credentials.as_ref()),
        job.bearer_token.as_ref(),
        job.tls_config.key.as_ref(),
    ];
    for secret in secrets.into_iter().flatten() {
        out.push('\0');
        out.push_str(secret.expose());
    }
    out
}

/// A pool's discovery task.
struct Discovery {
    job: Arc<JobSettings>,
    targets: Arc<Mutex<PoolTargets>>,
    store: Arc<dyn Appendable>,
    base_dir: PathBuf,
    poll: Duration,
    counters: Arc<DiscoveryCounters>,
}

impl Discovery {
    async fn run(self) {
        let statics = static_groups(&self.job.config);
        let file_sd = &self.job.config.file_sd_configs;
        let mut watches: Vec<FileWatch> = file_sd.iter().map(|_| FileWatch::default()).collect();
        let mut last_read: Vec<Option<Instant>> = vec![None; file_sd.len()];
        let mut file_groups: Vec<BTreeMap<PathBuf, Vec<TargetGroup>>> = vec![BTreeMap::new(); file_sd.len()];
        let (updates, mut updated) = mpsc::channel::<Update>(16);
        let dns: Vec<DnsSdConfig> = self.job.config.dns_sd_configs.iter().map(|c| c.value.clone()).collect();
        let http: Vec<HttpSdConfig> = self.job.config.http_sd_configs.iter().map(|c| c.value.clone()).collect();
        // Dropping `_refreshers` (when this task ends or is aborted) stops them.
        let (_refreshers, refresher_count) = refresh::start(&self.job.name, &dns, &http, &self.counters, &updates);
        drop(updates);
        let mut refreshed: Vec<Vec<TargetGroup>> = vec![Vec::new(); refresher_count];
        let mut dirty = true;
        loop {
            let mut changed = std::mem::take(&mut dirty);
            for (i, sd) in file_sd.iter().enumerate() {
                let files_changed = watches[i].changed(sd, &self.base_dir);
                let refresh_due = last_read[i].is_none_or(|t| t.elapsed() >= sd.refresh_interval.get());
                if files_changed || refresh_due {
                    let groups = read_files(&expand_patterns(sd, &self.base_dir), &file_groups[i]);
                    last_read[i] = Some(Instant::now());
                    if groups != file_groups[i] {
                        file_groups[i] = groups;
                        changed = true;
                    }
                }
            }
            while let Ok((i, groups)) = updated.try_recv() {
                refreshed[i] = groups;
                changed = true;
            }
            if changed {
                let all: Vec<&TargetGroup> = statics
                    .iter()
                    .chain(file_groups.iter().flat_map(|m| m.values().flatten()))
                    .chain(refreshed.iter().flatten())
                    .collect();
                self.sync(&all);
            }
            let update = match (file_sd.is_empty(), refresher_count) {
                (true, 0) => return,
                (true, _) => updated.recv().await,
                (false, _) => tokio::select! {
                    () = tokio::time::sleep(self.poll) => continue,
                    update = updated.recv(), if refresher_count > 0 => update,
                },
            };
            match update {
                Some((i, groups)) => {
                    refreshed[i] = groups;
                    dirty = true;
                }
                // Every refresher has ended (none could start): nothing more to wait for.
                None if file_sd.is_empty() => return,
                None => tokio::time::sleep(self.poll).await,
            }
        }
    }

    /// Starts loops for new targets, stops those of vanished targets (with staleness
    /// markers) and keeps the rest running.
    fn sync(&self, groups: &[&TargetGroup]) {
        let job = &self.job;
        let mut active = Vec::new();
        let mut keys = HashSet::new();
        let mut dropped = Vec::new();
        for group in groups {
            for target in &group.targets {
                match populate(&job.config, &job.target_rules, group, target) {
                    Ok(Populated::Active(target)) => {
                        let key = target_key(&target.labels);
                        if keys.insert(key) {
                            active.push((key, target));
                        }
                    }
                    Ok(Populated::Dropped { discovered }) => dropped.push(discovered),
                    Err(e) => tracing::warn!(job = %job.name, source = %group.source, error = %e, "invalid target"),
                }
            }
        }
        let mut state = self.targets.lock().unwrap_or_else(|e| e.into_inner());
        if state.stopped {
            return;
        }
        let gone: Vec<u64> = state.loops.keys().filter(|k| !keys.contains(k)).copied().collect();
        for key in gone {
            if let Some(handle) = state.loops.remove(&key) {
                drop(handle.stop(Stop::Stale));
            }
        }
        let limit = job.config.target_limit.unwrap_or(0);
        let over_limit = (limit > 0 && active.len() as u64 > limit)
            .then(|| format!("target_limit exceeded (number of targets: {}, limit: {limit})", active.len()));
        if let Some(error) = &over_limit {
            tracing::error!(job = %job.name, %error, "all scrapes of the job fail");
        }
        *state.forced_error.lock().unwrap_or_else(|e| e.into_inner()) = over_limit;
        state.order = active.iter().map(|(k, _)| *k).collect();
        for (key, target) in active {
            if state.loops.contains_key(&key) {
                continue;
            }
            let predecessor = state.inherited.remove(&key);
            let forced = state.forced_error.clone();
            match LoopHandle::start(job.clone(), Arc::new(target), self.store.clone(), forced, predecessor) {
                Ok(handle) => {
                    state.loops.insert(key, handle);
                }
                Err(e) => tracing::warn!(job = %job.name, error = %e, "target not scraped"),
            }
        }
        for (_, handle) in state.inherited.drain() {
            drop(stale_after(handle, self.store.clone()));
        }
        state.dropped_count = dropped.len();
        if job.keep_dropped_targets > 0 {
            dropped.truncate(job.keep_dropped_targets);
        }
        state.dropped = dropped;
    }
}

/// Reads the files of one `file_sd_configs` entry. A file that fails to read keeps
/// the groups it had (as Prometheus does); a vanished file loses them.
fn read_files(
    paths: &[PathBuf],
    previous: &BTreeMap<PathBuf, Vec<TargetGroup>>,
) -> BTreeMap<PathBuf, Vec<TargetGroup>> {
    let mut out = BTreeMap::new();
    for path in paths {
        match read_file_groups(path) {
            Ok(groups) => {
                out.insert(path.clone(), groups);
            }
            Err(e) => {
                tracing::warn!(error = %e, "file_sd: keeping the file's previous targets");
                if let Some(groups) = previous.get(Path::new(path)) {
                    out.insert(path.clone(), groups.clone());
                }
            }
        }
    }
    out
}

/// A target's identity: the hash of all its labels after relabeling (URL included).
fn target_key(labels: &[(String, String)]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    labels.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manager_can_be_shared_across_tasks() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<ScrapeManager>();
    }

    #[test]
    fn fingerprint_sees_redacted_secrets() {
        let a = ScrapeConfig { bearer_token: Some(wk_config::Secret::new("one")), ..Default::default() };
        let b = ScrapeConfig { bearer_token: Some(wk_config::Secret::new("two")), ..Default::default() };
        assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
        assert_ne!(fingerprint(&a), fingerprint(&b));
    }
}
