//! Start-up, signals and ordered shutdown.
//!
//! Start order: configuration → data directory lock → metrics → listeners (HTTP, and
//! OTLP/gRPC when enabled) → ready. Both listeners stop and drain together.
//! Stop order (SIGINT/SIGTERM or [`Server::shutdown`]): not ready → stop accepting →
//! drain in-flight requests → flush engines → release the data directory.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::data_dir::DataDir;
use crate::http::{self, AppState, RequestLimits};
use crate::listener::{self, ListenerOptions};
use crate::reload::{LiveConfig, Overrides};
use crate::self_metrics::SelfMetrics;
use crate::storage::Storage;
use crate::{Error, Result, tls};
use wk_collect::scrape::ScrapeManager;

/// How to start a server.
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    /// The configuration file; built-in defaults when `None`.
    pub config_file: Option<PathBuf>,
    /// Command-line overrides of the file.
    pub overrides: Overrides,
}

/// A running server. Dropping it without [`Server::shutdown`] aborts nothing: the
/// serving task keeps running until the runtime stops.
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    grpc_addr: Option<SocketAddr>,
    config: Arc<LiveConfig>,
    metrics: Arc<SelfMetrics>,
    ready: Arc<AtomicBool>,
    stop: watch::Sender<bool>,
    serving: JoinHandle<bool>,
    grpc_serving: Option<JoinHandle<bool>>,
    workers: Vec<JoinHandle<()>>,
    scrape: Arc<ScrapeManager>,
    probes: Arc<wk_collect::probe::ProbeManager>,
    storage: Storage,
    data_dir: DataDir,
}

impl Server {
    /// Starts everything and returns once the server accepts connections.
    pub async fn start(options: ServerOptions) -> Result<Self> {
        Self::start_with_routes(options, Router::new()).await
    }

    /// Starts with extra routes merged into the built-in ones (used by tests and, as
    /// the subsystems arrive, by the API crates).
    pub async fn start_with_routes(options: ServerOptions, extra: Router) -> Result<Self> {
        let mut metrics = SelfMetrics::new();
        let ingest_metrics = wk_api::ingest::IngestMetrics::register(metrics.registry_mut());
        let metrics = Arc::new(metrics);
        let config = Arc::new(LiveConfig::load(options.config_file, options.overrides, metrics.clone())?);
        let snapshot = config.get();
        let data_dir = DataDir::open(&snapshot.storage.path)?;
        tracing::info!(path = %data_dir.path().display(), "data directory locked");
        let storage = Storage::open(data_dir.path(), &snapshot.storage)?;
        metrics.add_late(storage.metrics());

        let web = &snapshot.web;
        let tls = web.tls_config.as_ref().map(tls::acceptor).transpose()?;
        let listener = TcpListener::bind(web.listen_address).await.map_err(|source| Error::Listen {
            setting: "web.listen_address",
            address: web.listen_address,
            source,
        })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| Error::Io { context: "reading the bound address".to_owned(), source })?;
        let grpc_listener = match &snapshot.otlp.grpc {
            grpc if grpc.enabled => {
                let address = grpc.listen_address;
                let listener = TcpListener::bind(address).await.map_err(|source| Error::Listen {
                    setting: "otlp.grpc.listen_address",
                    address,
                    source,
                })?;
                let bound = listener
                    .local_addr()
                    .map_err(|source| Error::Io { context: "reading the bound gRPC address".to_owned(), source })?;
                Some((listener, bound))
            }
            _ => None,
        };

        let ready = Arc::new(AtomicBool::new(false));
        let state = AppState { metrics: metrics.clone(), config: config.clone(), ready: ready.clone() };
        let limits = RequestLimits {
            timeout: web.request_timeout.get(),
            max_body_bytes: usize::try_from(web.max_request_body_size.0).unwrap_or(usize::MAX),
        };
        let metadata = Arc::new(wk_api::metadata::MetadataCache::default());
        let scrape_options = wk_collect::scrape::ScrapeManagerOptions {
            metadata: Some(Arc::new(crate::status::ScrapeMetadata(metadata.clone()))),
            ..Default::default()
        };
        let scrape = Arc::new(ScrapeManager::with_options(storage.appendable(), scrape_options));
        metrics.add_late(Arc::new(crate::status::DiscoveryMetrics(scrape.discovery_counters())));
        let base_dir = config.path().and_then(|p| p.parent()).map(|p| p.to_path_buf()).unwrap_or_default();
        scrape.apply(snapshot.scrape_jobs_with_self(local_addr), base_dir.clone());
        let probes = Arc::new(wk_collect::probe::ProbeManager::new(storage.appendable()));
        probes.apply(snapshot.probe_list());
        let heartbeats = Arc::new(wk_collect::heartbeat::Heartbeats::new(
            storage.appendable(),
            snapshot.heartbeat_list(),
            storage.queryable().as_ref(),
        ));
        let ingest =
            wk_api::ingest::Ingest::new(storage.appendable(), Default::default(), ingest_metrics, metadata.clone());
        let query = wk_api::query::router(storage.queryable(), snapshot.query.options(), metadata);
        let runtime = crate::status::RuntimeInfo {
            start_time: std::time::SystemTime::now(),
            config: config.clone(),
            metrics: metrics.clone(),
            flags: [
                ("config.file", config.path().map(|p| p.display().to_string()).unwrap_or_default()),
                ("web.listen-address", web.listen_address.to_string()),
                ("storage.path", data_dir.path().display().to_string()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        };
        let status = crate::status::router(scrape.clone(), storage.clone(), runtime, heartbeats.clone());
        let admin = crate::admin::router(config.clone(), storage.clone());
        let app =
            http::router(state, extra.merge(ingest.http_router()).merge(query).merge(status).merge(admin), limits);
        let listener_options = ListenerOptions {
            max_connections: web.max_connections,
            header_read_timeout: web.header_read_timeout.get(),
            drain_timeout: web.shutdown_timeout.get(),
        };
        let (stop, stop_rx) = watch::channel(false);
        let grpc_addr = grpc_listener.as_ref().map(|(_, bound)| *bound);
        let grpc_serving = grpc_listener.map(|(grpc_listener, bound)| {
            let grpc_options = wk_api::ingest::grpc::GrpcOptions {
                max_message_bytes: limits.max_body_bytes,
                request_timeout: limits.timeout,
            };
            let grpc_app = ingest.otlp_grpc_router(grpc_options);
            let scheme = if tls.is_some() { "with TLS" } else { "without TLS" };
            tracing::info!(address = %bound, "OTLP/gRPC is listening on {bound} ({scheme})");
            tokio::spawn(listener::serve(grpc_listener, tls.clone(), grpc_app, listener_options, stop_rx.clone()))
        });
        let serving = tokio::spawn(listener::serve(listener, tls, app, listener_options, stop_rx.clone()));
        let mut workers = vec![
            tokio::spawn(crate::status::follow_reloads(
                config.subscribe(),
                crate::status::Reloadable {
                    scrape: scrape.clone(),
                    probes: probes.clone(),
                    heartbeats: heartbeats.clone(),
                    self_address: local_addr,
                },
                base_dir,
                stop_rx.clone(),
            )),
            tokio::spawn(wk_collect::heartbeat::run(heartbeats, std::time::Duration::from_secs(15), stop_rx.clone())),
            tokio::spawn(storage.clone().run_maintenance(stop_rx.clone())),
        ];
        if snapshot.host_agent.enabled {
            let agent = wk_collect::host::HostAgent::new(&snapshot.host_agent, Default::default());
            tracing::info!(instance = agent.instance(), interval = %snapshot.host_agent.interval, "host agent started");
            workers.push(tokio::spawn(wk_collect::host::agent::run(
                agent,
                storage.appendable(),
                snapshot.host_agent.interval.get(),
                stop_rx,
            )));
        }
        ready.store(true, Ordering::Release);
        metrics.ready.set(1);
        let exposed = std::iter::once(local_addr).chain(grpc_addr).filter(|a| !a.ip().is_loopback());
        for address in exposed {
            tracing::warn!(
                %address,
                "listening beyond loopback: Watchkeeper has no authentication yet, so anyone who can reach this address can read data and reload the configuration; put it behind a firewall or an authenticating proxy"
            );
        }
        let scheme = if web.tls_config.is_some() { "https" } else { "http" };
        tracing::info!(address = %local_addr, "Watchkeeper is listening on {scheme}://{local_addr}");
        Ok(Self {
            local_addr,
            grpc_addr,
            config,
            metrics,
            ready,
            stop,
            serving,
            grpc_serving,
            workers,
            scrape,
            probes,
            storage,
            data_dir,
        })
    }

    /// The address the server is bound to (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address the OTLP/gRPC listener is bound to, when `otlp.grpc.enabled`.
    pub fn otlp_grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc_addr
    }

    /// The live configuration.
    pub fn config(&self) -> &Arc<LiveConfig> {
        &self.config
    }

    /// The process's metrics.
    pub fn metrics(&self) -> &Arc<SelfMetrics> {
        &self.metrics
    }

    /// The storage engines.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Stops in order and waits for in-flight requests. Returns an error only if
    /// connections were still open when the drain timeout ran out.
    pub async fn shutdown(self) -> Result<()> {
        self.ready.store(false, Ordering::Release);
        self.metrics.ready.set(0);
        let _ = self.stop.send(true);
        let mut drained = self.serving.await.unwrap_or(false);
        if let Some(grpc) = self.grpc_serving {
            drained &= grpc.await.unwrap_or(false);
        }
        for worker in self.workers {
            let _ = worker.await;
        }
        // Scrape loops write their final staleness markers before storage closes.
        self.scrape.shutdown().await;
        self.probes.shutdown().await;
        drop(self.scrape);
        drop(self.probes);
        self.metrics.clear_late();
        let storage = self.storage;
        let closed = tokio::task::spawn_blocking(move || storage.close(std::time::Duration::from_secs(10)))
            .await
            .unwrap_or_else(|e| Err(Error::Storage(format!("closing the TSDB panicked: {e}"))));
        // The lock goes last: no engine may write after it is released.
        drop(self.data_dir);
        closed?;
        if drained {
            tracing::info!("shutdown complete");
            Ok(())
        } else {
            Err(Error::Io {
                context: "draining connections".to_owned(),
                source: std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "in-flight requests outlived web.shutdown_timeout",
                ),
            })
        }
    }

    /// Runs until SIGINT or SIGTERM, reloading the configuration on SIGHUP, then shuts
    /// down in order. `signals` must have been installed before the server started, so
    /// that a signal arriving during start-up is not lost or fatal.
    pub async fn run_until_signal(self, signals: Signals) -> Result<()> {
        let Signals { mut hangup, mut interrupt, mut terminate } = signals;
        loop {
            tokio::select! {
                _ = hangup.recv() => {
                    tracing::info!("SIGHUP received: reloading configuration");
                    // Failures are logged and counted by reload itself.
                    let _ = self.config.reload().await;
                }
                _ = interrupt.recv() => {
                    tracing::info!("SIGINT received: shutting down");
                    break;
                }
                _ = terminate.recv() => {
                    tracing::info!("SIGTERM received: shutting down");
                    break;
                }
            }
        }
        self.shutdown().await
    }
}

/// The signals the server reacts to, caught from the moment [`Signals::install`]
/// returns (SIGHUP would otherwise kill the process during start-up).
#[derive(Debug)]
pub struct Signals {
    pub(crate) hangup: tokio::signal::unix::Signal,
    pub(crate) interrupt: tokio::signal::unix::Signal,
    pub(crate) terminate: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs handlers for SIGHUP, SIGINT and SIGTERM. Needs a Tokio runtime.
    pub fn install() -> Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        let signal_err = |source| Error::Io { context: "installing signal handlers".to_owned(), source };
        Ok(Self {
            hangup: signal(SignalKind::hangup()).map_err(signal_err)?,
            interrupt: signal(SignalKind::interrupt()).map_err(signal_err)?,
            terminate: signal(SignalKind::terminate()).map_err(signal_err)?,
        })
    }
}
