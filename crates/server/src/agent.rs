//! `watchkeeper agent`: the collectors (scrape jobs, host agent, self-scrape) writing
//! into `wk-agent`'s disk queues instead of a local TSDB, one sender per
//! `remote_write` endpoint, and a small HTTP server for `/metrics`, `/-/healthy` and
//! `/-/ready`.
//!
//! Start order: configuration → data directory lock → queues (replayed) → listener →
//! senders → collectors → ready. Stop order: not ready → senders stop (unsent data
//! stays queued) → collectors stop (their staleness markers are queued) → listener
//! drains → queues synced → lock released.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use wk_agent::{DiskQueue, QueueAppendable, RemoteWriteConfig, Sender};
use wk_collect::scrape::ScrapeManager;

use crate::config::{self, Config};
use crate::data_dir::DataDir;
use crate::listener::{self, ListenerOptions};
use crate::server::Signals;
use crate::{Error, Result};

/// The agent's default listen address (the server's port plus one).
pub const DEFAULT_AGENT_LISTEN_ADDRESS: &str = "127.0.0.1:9801";

/// How to start an agent.
#[derive(Clone, Debug, Default)]
pub struct AgentOptions {
    /// The configuration file; built-in defaults when `None`.
    pub config_file: Option<PathBuf>,
    /// `--remote-write URL`: added to the file's `remote_write:` entries unless one
    /// already has this URL.
    pub remote_write_url: Option<String>,
    /// `--storage.path`: overrides `storage.path`; the queues live in `DIR/agent-wal`.
    pub storage_path: Option<PathBuf>,
    /// `--web.listen-address` [default: 127.0.0.1:9801].
    pub listen_address: Option<SocketAddr>,
}

/// A running agent.
#[derive(Debug)]
pub struct Agent {
    local_addr: SocketAddr,
    ready: Arc<AtomicBool>,
    stop: watch::Sender<bool>,
    serving: JoinHandle<bool>,
    senders: Vec<JoinHandle<()>>,
    collectors: Vec<JoinHandle<()>>,
    scrape: Arc<ScrapeManager>,
    queues: Vec<Arc<DiskQueue>>,
    data_dir: DataDir,
}

/// Loads the configuration and applies the agent's command-line settings; fails when
/// no endpoint is configured or the `--remote-write` URL is unusable.
pub fn load_config(options: &AgentOptions) -> Result<Config> {
    let mut config = match &options.config_file {
        Some(path) => {
            let loaded = config::load_file(path)?;
            for warning in &loaded.warnings {
                tracing::warn!("{warning}");
            }
            loaded.config
        }
        None => Config::default(),
    };
    if let Some(path) = &options.storage_path {
        config.storage.path = path.clone();
    }
    if let Some(url) = &options.remote_write_url
        && !config.remote_write.iter().any(|rw| rw.value.url == *url)
    {
        let entry = RemoteWriteConfig::for_url(url.clone());
        let mut problems = wk_config::Problems::default();
        entry.validate(serde_saphyr::Location::UNKNOWN, &mut problems);
        // Warnings too: a URL the agent cannot send to is fatal on the command line.
        let messages: Vec<String> = problems.into_sorted().into_iter().map(|d| d.message).collect();
        if !messages.is_empty() {
            return Err(Error::Agent(format!("--remote-write: {}", messages.join("; "))));
        }
        config.remote_write.push(wk_config::unspanned(entry));
    }
    if config.remote_write.is_empty() {
        return Err(Error::Agent(
            "nowhere to send: give --remote-write URL or remote_write: entries in the configuration".to_owned(),
        ));
    }
    Ok(config)
}

impl Agent {
    /// Starts everything and returns once the agent's HTTP listener accepts connections.
    pub async fn start(options: AgentOptions) -> Result<Self> {
        let config = load_config(&options)?;
        let data_dir = DataDir::open(&config.storage.path)?;
        let queue_root = data_dir.path().join("agent-wal");
        let max_bytes = config.agent.max_buffer_size.0;
        let mut queues = Vec::new();
        for rw in &config.remote_write {
            let name = rw.value.queue_name();
            // Start-up work before anything else runs: blocking here is acceptable.
            let queue = DiskQueue::open(&name, &queue_root.join(&name), max_bytes)
                .map_err(|e| Error::Agent(format!("opening queue {name}: {e}")))?;
            tracing::info!(queue = %name, url = %rw.value.url, "remote_write queue opened");
            queues.push(queue);
        }
        let address =
            options.listen_address.unwrap_or_else(|| DEFAULT_AGENT_LISTEN_ADDRESS.parse().expect("valid default"));
        let listener = TcpListener::bind(address).await.map_err(|source| Error::Listen {
            setting: "--web.listen-address",
            address,
            source,
        })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| Error::Io { context: "reading the bound address".to_owned(), source })?;
        let ready = Arc::new(AtomicBool::new(false));
        let (stop, stop_rx) = watch::channel(false);
        let app = router(AgentHttp { queues: queues.clone(), ready: ready.clone() });
        let listener_options = ListenerOptions {
            max_connections: config.web.max_connections,
            header_read_timeout: config.web.header_read_timeout.get(),
            drain_timeout: config.web.shutdown_timeout.get(),
        };
        let serving = tokio::spawn(listener::serve(listener, None, app, listener_options, stop_rx.clone()));

        let external: Vec<(String, String)> =
            config.global().external_labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let mut senders = Vec::new();
        for (rw, queue) in config.remote_write.iter().zip(&queues) {
            let sender = Sender::new(queue.clone(), &rw.value, &external).map_err(|e| Error::Agent(e.to_string()))?;
            senders.push(tokio::spawn(sender.run(stop_rx.clone())));
        }
        let store: Arc<dyn wk_storage::Appendable> = Arc::new(QueueAppendable::new(queues.clone()));
        let scrape = Arc::new(ScrapeManager::new(store.clone()));
        let base_dir =
            options.config_file.as_ref().and_then(|p| p.parent()).map(|p| p.to_path_buf()).unwrap_or_default();
        scrape.apply(config.scrape_jobs_with_self(local_addr), base_dir);
        let mut collectors = Vec::new();
        if config.host_agent.enabled {
            let agent = wk_collect::host::HostAgent::new(&config.host_agent, Default::default());
            tracing::info!(instance = agent.instance(), interval = %config.host_agent.interval, "host agent started");
            collectors.push(tokio::spawn(wk_collect::host::agent::run(
                agent,
                store,
                config.host_agent.interval.get(),
                stop_rx,
            )));
        }
        ready.store(true, Ordering::Release);
        if !local_addr.ip().is_loopback() {
            tracing::warn!(address = %local_addr, "agent listening beyond loopback: its /metrics has no authentication");
        }
        tracing::info!(address = %local_addr, "Watchkeeper agent is listening on http://{local_addr}");
        Ok(Self { local_addr, ready, stop, serving, senders, collectors, scrape, queues, data_dir })
    }

    /// The address of the agent's HTTP listener (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The queues, one per `remote_write` endpoint, in configuration order.
    pub fn queues(&self) -> &[Arc<DiskQueue>] {
        &self.queues
    }

    /// Stops in order (see the module docs). Unsent samples stay queued on disk.
    pub async fn shutdown(self) -> Result<()> {
        self.ready.store(false, Ordering::Release);
        let _ = self.stop.send(true);
        for task in self.senders {
            let _ = task.await;
        }
        for task in self.collectors {
            let _ = task.await;
        }
        self.scrape.shutdown().await;
        let drained = self.serving.await.unwrap_or(false);
        for queue in &self.queues {
            if let Err(e) = queue.close() {
                tracing::error!(queue = queue.name(), error = %e, "closing the agent queue failed");
            }
        }
        drop(self.queues);
        drop(self.data_dir);
        if !drained {
            tracing::warn!("agent HTTP connections outlived web.shutdown_timeout");
        }
        tracing::info!("agent stopped");
        Ok(())
    }

    /// Runs until SIGINT or SIGTERM, then shuts down in order. SIGHUP is logged: the
    /// agent does not reload its configuration yet (restart it; nothing queued is lost).
    pub async fn run_until_signal(self, signals: Signals) -> Result<()> {
        let Signals { mut hangup, mut interrupt, mut terminate } = signals;
        loop {
            tokio::select! {
                _ = hangup.recv() => tracing::warn!("SIGHUP: the agent does not reload its configuration yet; restart it instead"),
                _ = interrupt.recv() => break,
                _ = terminate.recv() => break,
            }
        }
        tracing::info!("shutting down the agent");
        tokio::time::timeout(Duration::from_secs(30), self.shutdown())
            .await
            .unwrap_or_else(|_| Err(Error::Agent("shutdown took longer than 30s".to_owned())))
    }
}

#[derive(Clone, Debug)]
struct AgentHttp {
    queues: Vec<Arc<DiskQueue>>,
    ready: Arc<AtomicBool>,
}

fn router(state: AgentHttp) -> Router {
    Router::new()
        .route("/-/healthy", get(|| async { "Watchkeeper agent is Healthy.\n" }))
        .route("/-/ready", get(ready))
        .route("/metrics", get(metrics))
        .fallback(|| async { (StatusCode::NOT_FOUND, "404 page not found\n") })
        .with_state(state)
}

async fn ready(State(state): State<AgentHttp>) -> Response {
    if state.ready.load(Ordering::Acquire) {
        "Watchkeeper agent is Ready.\n".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable\n").into_response()
    }
}

async fn metrics(State(state): State<AgentHttp>) -> Response {
    let queues: Vec<(String, &wk_agent::QueueMetrics)> =
        state.queues.iter().map(|q| (q.name().to_owned(), q.metrics().as_ref())).collect();
    let mut body = String::new();
    wk_agent::metrics::encode(&queues, &mut body);
    ([(header::CONTENT_TYPE, crate::self_metrics::TEXT_CONTENT_TYPE)], body).into_response()
}
