//! Runs the configured probes: one task per probe on its interval, writing the
//! probe's families with `job` = the probe's name and `instance` = its target, and
//! staleness markers when a probe is removed by a reload.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use wk_storage::Appendable;

use super::config::{ProbeConfig, ProbeKind};
use super::{DnsProbe, HttpProbe, HttpProbeOptions, IcmpProbe, ProbeOutcome, TcpProbe, dns_probe};
use crate::writer::{FamilyWriter, now_ms};

struct Running {
    config: ProbeConfig,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Starts, updates and stops probe tasks.
pub struct ProbeManager {
    store: Arc<dyn Appendable>,
    running: Mutex<HashMap<String, Running>>,
}

impl std::fmt::Debug for ProbeManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeManager").finish_non_exhaustive()
    }
}

impl ProbeManager {
    /// A manager writing into `store`.
    pub fn new(store: Arc<dyn Appendable>) -> Self {
        Self { store, running: Mutex::new(HashMap::new()) }
    }

    /// Makes the running probes match `probes`: unchanged ones keep running, changed
    /// ones restart, removed ones stop and their series go stale. Needs a Tokio runtime.
    pub fn apply(&self, probes: Vec<ProbeConfig>) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let wanted: HashMap<String, ProbeConfig> = probes.into_iter().map(|p| (p.name.clone(), p)).collect();
        running.retain(|name, r| {
            let keep = wanted.get(name) == Some(&r.config);
            if !keep {
                let _ = r.stop.send(true);
            }
            keep
        });
        for (name, config) in wanted {
            if running.contains_key(&name) {
                continue;
            }
            let (stop, stop_rx) = watch::channel(false);
            let task = tokio::spawn(run(config.clone(), self.store.clone(), stop_rx));
            running.insert(name, Running { config, stop, task });
        }
    }

    /// Stops every probe and waits until each has marked its series stale.
    pub async fn shutdown(&self) {
        let tasks: Vec<JoinHandle<()>> = {
            let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            running
                .drain()
                .map(|(_, r)| {
                    let _ = r.stop.send(true);
                    r.task
                })
                .collect()
        };
        for task in tasks {
            let _ = task.await;
        }
    }
}

enum Prober {
    Http(Box<HttpProbe>),
    Tcp(TcpProbe),
    Dns(DnsProbe),
    Icmp(IcmpProbe),
}

fn prober(config: &ProbeConfig) -> Result<Prober, String> {
    match config.kind {
        ProbeKind::Tcp => Ok(Prober::Tcp(TcpProbe::new(config.target.clone(), config.timeout.get()))),
        ProbeKind::Dns => Ok(Prober::Dns(dns_probe(config)?)),
        ProbeKind::Icmp => Ok(Prober::Icmp(IcmpProbe::new(config.target.clone(), config.timeout.get()))),
        ProbeKind::Http => {
            let h = &config.http;
            let compile = |list: &[String]| -> Result<Vec<regex::Regex>, String> {
                list.iter().map(|r| regex::Regex::new(r).map_err(|e| e.to_string())).collect()
            };
            let ca_pem = match &h.ca_file {
                Some(path) => Some(std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?),
                None => None,
            };
            let options = HttpProbeOptions {
                method: h.method.clone().unwrap_or_else(|| "GET".to_owned()),
                headers: h.headers.iter().map(|(n, v)| (n.clone(), v.clone())).collect(),
                valid_status_codes: h.valid_status_codes.clone(),
                fail_if_body_not_matches: compile(&h.fail_if_body_not_matches_regexp)?,
                fail_if_body_matches: compile(&h.fail_if_body_matches_regexp)?,
                timeout: config.timeout.get(),
                ca_pem,
                insecure_skip_verify: h.insecure_skip_verify,
                ..Default::default()
            };
            Ok(Prober::Http(Box::new(HttpProbe::new(&config.target, options)?)))
        }
    }
}

async fn run(config: ProbeConfig, store: Arc<dyn Appendable>, mut stop: watch::Receiver<bool>) {
    let mut base = vec![("job".to_owned(), config.name.clone()), ("instance".to_owned(), config.target.clone())];
    base.extend(config.labels.iter().map(|(n, v)| (n.clone(), v.clone())));
    let mut writer = FamilyWriter::new(base);
    let prober = match prober(&config) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::error!(probe = %config.name, error = %e, "probe cannot start");
            None
        }
    };
    let mut ticker = tokio::time::interval(config.interval.get().max(Duration::from_millis(100)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        let Some(prober) = &prober else { continue };
        let outcome: ProbeOutcome = match prober {
            Prober::Http(p) => p.run().await,
            Prober::Tcp(p) => p.run().await,
            Prober::Dns(p) => p.run().await,
            Prober::Icmp(p) => p.run().await,
        };
        if let Some(error) = &outcome.error {
            tracing::debug!(probe = %config.name, target = %config.target, %error, "probe failed");
        }
        if let Err(e) = writer.write(store.as_ref(), &outcome.families, now_ms()) {
            tracing::warn!(probe = %config.name, error = %e, "writing probe results failed");
        }
    }
    if let Err(e) = writer.retire(store.as_ref(), now_ms()) {
        tracing::warn!(probe = %config.name, error = %e, "writing staleness markers failed");
    }
}
