//! Heartbeats (dead man's switches): a cron job or a batch process checks in with
//! `POST /api/v1/heartbeat/NAME`; each configured heartbeat becomes series that rules
//! alert on when check-ins stop:
//!
//! - `watchkeeper_heartbeat_last_seen_timestamp_seconds{heartbeat}`: the last check-in;
//! - `watchkeeper_heartbeat_period_seconds{heartbeat}`: the expected period;
//! - `watchkeeper_heartbeat_up{heartbeat}`: 1 while the last check-in is at most
//!   `period + grace` old, else 0 (also 0 before the first check-in).
//!
//! The series are written on every check-in and every 15 s, so they never go stale
//! while the heartbeat is configured; after a restart the last check-in is read back
//! from storage.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use wk_config::{Location, Problems, PromDuration, Spanned};
use wk_model::{MatchOp, Matcher, is_stale_nan};
use wk_storage::{Appendable, Queryable};

use crate::family::{MetricFamily, MetricKind};
use crate::writer::{FamilyWriter, now_ms};

/// One heartbeat in the `heartbeats:` section.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatConfig {
    /// The name used in the check-in URL and the `heartbeat` label.
    pub name: String,
    /// How often check-ins are expected.
    pub period: PromDuration,
    /// Extra time allowed after a missed period before `up` drops to 0. Default 0s.
    #[serde(default)]
    pub grace: PromDuration,
}

/// Checks the heartbeats, adding each problem found.
pub fn validate(heartbeats: &[Spanned<HeartbeatConfig>], problems: &mut Problems) {
    let mut names = std::collections::HashSet::new();
    for hb in heartbeats {
        let at: Location = hb.referenced;
        let name = &hb.value.name;
        let url_safe = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !url_safe {
            problems.error(
                at,
                format!("heartbeat name {name:?} must be non-empty and use only letters, digits, '-', '_' and '.'"),
            );
        }
        if !names.insert(name.as_str()) {
            problems.error(at, format!("found multiple heartbeats named {name:?}"));
        }
        if hb.value.period.get().is_zero() {
            problems.error(at, format!("heartbeat {name:?}: period must be greater than 0s"));
        }
    }
}

/// Why a check-in was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckInError {
    /// No heartbeat of that name is configured.
    #[error("unknown heartbeat {name:?}; configured: {known}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The configured names, comma-separated.
        known: String,
    },
    /// Storage refused the write.
    #[error("recording the check-in failed: {0}")]
    Storage(String),
}

#[derive(Debug)]
struct State {
    configs: BTreeMap<String, HeartbeatConfig>,
    last_seen_ms: BTreeMap<String, i64>,
    writer: FamilyWriter,
}

/// The configured heartbeats and their last check-ins.
#[derive(Debug)]
pub struct Heartbeats {
    store: Arc<dyn Appendable>,
    state: Mutex<State>,
}

const LAST_SEEN: &str = "watchkeeper_heartbeat_last_seen_timestamp_seconds";

impl Heartbeats {
    /// Heartbeats writing into `store`, with last check-ins recovered from `history`.
    pub fn new(store: Arc<dyn Appendable>, configs: Vec<HeartbeatConfig>, history: &dyn Queryable) -> Self {
        let this = Self {
            store,
            state: Mutex::new(State {
                configs: BTreeMap::new(),
                last_seen_ms: BTreeMap::new(),
                writer: FamilyWriter::new(Vec::new()),
            }),
        };
        this.apply(configs);
        let recovered = recover(history);
        let mut state = this.lock();
        for (name, t) in recovered {
            if state.configs.contains_key(&name) {
                state.last_seen_ms.insert(name, t);
            }
        }
        drop(state);
        this
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the configured heartbeats (on reload); removed ones go stale.
    pub fn apply(&self, configs: Vec<HeartbeatConfig>) {
        let mut state = self.lock();
        state.configs = configs.into_iter().map(|c| (c.name.clone(), c)).collect();
        let names: Vec<String> = state.configs.keys().cloned().collect();
        state.last_seen_ms.retain(|n, _| names.contains(n));
    }

    /// Records a check-in now and writes the series at once.
    pub fn check_in(&self, name: &str) -> Result<(), CheckInError> {
        let now = now_ms();
        let mut state = self.lock();
        if !state.configs.contains_key(name) {
            let known = state.configs.keys().cloned().collect::<Vec<_>>().join(", ");
            return Err(CheckInError::Unknown { name: name.to_owned(), known });
        }
        state.last_seen_ms.insert(name.to_owned(), now);
        self.write_locked(&mut state, now).map_err(|e| CheckInError::Storage(e.to_string()))
    }

    /// Writes every heartbeat's series at `now_ms`.
    pub fn write(&self, now_ms: i64) -> Result<(), wk_storage::AppendError> {
        let mut state = self.lock();
        self.write_locked(&mut state, now_ms)
    }

    fn write_locked(&self, state: &mut State, now: i64) -> Result<(), wk_storage::AppendError> {
        let families = families(state, now);
        state.writer.write(self.store.as_ref(), &families, now).map(|_| ())
    }
}

fn families(state: &State, now: i64) -> Vec<MetricFamily> {
    let mut last = MetricFamily::new(LAST_SEEN, "Unix time of the heartbeat's last check-in", MetricKind::Gauge);
    let mut period =
        MetricFamily::new("watchkeeper_heartbeat_period_seconds", "The heartbeat's expected period", MetricKind::Gauge);
    let mut up = MetricFamily::new(
        "watchkeeper_heartbeat_up",
        "1 while the last check-in is at most period + grace old",
        MetricKind::Gauge,
    );
    for (name, config) in &state.configs {
        let labels = vec![("heartbeat", name.clone())];
        period.push(labels.clone(), config.period.get().as_secs_f64());
        let seen = state.last_seen_ms.get(name).copied();
        if let Some(t) = seen {
            last.push(labels.clone(), t as f64 / 1000.0);
        }
        let allowed = (config.period.get() + config.grace.get()).as_millis() as i64;
        let alive = seen.is_some_and(|t| now - t <= allowed);
        up.push(labels, if alive { 1.0 } else { 0.0 });
    }
    vec![last, period, up]
}

/// The newest last-seen value per heartbeat in storage (within 30 days).
fn recover(history: &dyn Queryable) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    let Ok(matcher) = Matcher::new(MatchOp::Eq, "__name__", LAST_SEEN) else { return out };
    let querier = history.querier();
    let now = now_ms();
    let Ok(set) = querier.select(&[matcher], now - 30 * 86_400_000, now) else { return out };
    for series in set.flatten() {
        let Some(name) = series.labels.get("heartbeat").map(str::to_owned) else { continue };
        let newest = series.samples.iter().rev().find(|s| !is_stale_nan(s.v)).copied();
        if let Some(sample) = newest {
            out.insert(name, (sample.v * 1000.0) as i64);
        }
    }
    out
}

/// Rewrites the heartbeat series every `every` until `stop` turns true.
pub async fn run(heartbeats: Arc<Heartbeats>, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let hb = heartbeats.clone();
        let written = tokio::task::spawn_blocking(move || hb.write(now_ms())).await;
        if let Ok(Err(e)) = written {
            tracing::warn!(error = %e, "writing heartbeat series failed");
        }
    }
}
