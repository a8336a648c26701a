//! The configuration in force, and the reload procedure shared by SIGHUP and
//! `POST /-/reload`. A reload that fails leaves the previous configuration running,
//! logs why, and sets `watchkeeper_config_last_reload_successful` to 0.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::{Mutex, watch};

use crate::config::{self, Config, ConfigError};
use crate::self_metrics::SelfMetrics;

/// Command-line settings that override the file and survive reloads.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--web.listen-address`.
    pub listen_address: Option<SocketAddr>,
    /// `--storage.path`.
    pub storage_path: Option<PathBuf>,
    /// `--otlp.grpc.listen-address`.
    pub otlp_grpc_listen_address: Option<SocketAddr>,
}

impl Overrides {
    fn apply(&self, config: &mut Config) {
        if let Some(address) = self.listen_address {
            config.web.listen_address = address;
        }
        if let Some(path) = &self.storage_path {
            config.storage.path = path.clone();
        }
        if let Some(address) = self.otlp_grpc_listen_address {
            config.otlp.grpc.listen_address = address;
        }
    }
}

/// The live configuration. Readers take a cheap snapshot with [`LiveConfig::get`] or
/// watch for changes with [`LiveConfig::subscribe`].
#[derive(Debug)]
pub struct LiveConfig {
    path: Option<PathBuf>,
    overrides: Overrides,
    current: watch::Sender<Arc<Config>>,
    metrics: Arc<SelfMetrics>,
    reloading: Mutex<()>,
}

impl LiveConfig {
    /// Loads the file at `path` (defaults when `None`) for the first start. Warnings
    /// are logged; errors are returned for the caller to print.
    pub fn load(path: Option<PathBuf>, overrides: Overrides, metrics: Arc<SelfMetrics>) -> Result<Self, ConfigError> {
        let config = read(path.as_deref(), &overrides)?;
        metrics.config_last_reload_successful.set(1);
        metrics.config_last_reload_success_timestamp.set(unix_now());
        Ok(Self { path, overrides, current: watch::Sender::new(Arc::new(config)), metrics, reloading: Mutex::new(()) })
    }

    /// The configuration in force now.
    pub fn get(&self) -> Arc<Config> {
        self.current.borrow().clone()
    }

    /// A receiver that sees every configuration that comes into force.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Config>> {
        self.current.subscribe()
    }

    /// The configuration file, if one was given.
    pub fn path(&self) -> Option<&std::path::Path> {
        self.path.as_deref()
    }

    /// Reads the file again and, if it is valid, puts it in force. On failure the old
    /// configuration stays, the failure is logged and counted, and returned.
    pub async fn reload(&self) -> Result<(), ConfigError> {
        let _one_at_a_time = self.reloading.lock().await;
        self.metrics.config_reloads.inc();
        let path = self.path.clone();
        let overrides = self.overrides.clone();
        let result = tokio::task::spawn_blocking(move || read(path.as_deref(), &overrides))
            .await
            .unwrap_or_else(|e| panic!("configuration reader panicked: {e}"));
        match result {
            Ok(config) => {
                let old = self.get();
                warn_restart_needed(&old, &config);
                self.current.send_replace(Arc::new(config));
                self.metrics.config_last_reload_successful.set(1);
                self.metrics.config_last_reload_success_timestamp.set(unix_now());
                tracing::info!(file = ?self.path, "configuration reloaded");
                Ok(())
            }
            Err(e) => {
                self.metrics.config_last_reload_successful.set(0);
                self.metrics.config_reload_failures.inc();
                tracing::error!(file = ?self.path, error = %e, "configuration reload failed; the previous configuration stays in force");
                Err(e)
            }
        }
    }
}

fn read(path: Option<&std::path::Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
    let mut loaded = match path {
        Some(path) => config::load_file(path)?,
        None => config::Loaded { config: Config::default(), warnings: Vec::new() },
    };
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    overrides.apply(&mut loaded.config);
    Ok(loaded.config)
}

fn warn_restart_needed(old: &Config, new: &Config) {
    if old.web.listen_address != new.web.listen_address {
        tracing::warn!(
            old = %old.web.listen_address,
            new = %new.web.listen_address,
            "web.listen_address changed: the new address takes effect after a restart"
        );
    }
    let (old_grpc, new_grpc) = (&old.otlp.grpc, &new.otlp.grpc);
    if (old_grpc.enabled, old_grpc.listen_address) != (new_grpc.enabled, new_grpc.listen_address) {
        tracing::warn!(
            old = %old_grpc.listen_address,
            new = %new_grpc.listen_address,
            "otlp.grpc changed: the OTLP/gRPC listener changes after a restart"
        );
    }
    if old.storage.path != new.storage.path {
        tracing::warn!(
            old = %old.storage.path.display(),
            new = %new.storage.path.display(),
            "storage.path changed: the new directory takes effect after a restart"
        );
    }
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}
