//! The `watchkeeper` binary: parses the command line and hands over to `wk-server`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wk_server::agent::{Agent, AgentOptions};
use wk_server::config;
use wk_server::logging::{self, LogFormat};
use wk_server::reload::Overrides;
use wk_server::server::Signals;
use wk_server::{Server, ServerOptions};

/// Watchkeeper: metrics, logs, alerting and dashboards in one binary.
///
/// Start with `watchkeeper serve`: with no configuration it listens on
/// http://127.0.0.1:9800 and keeps its data in ./data.
#[derive(Debug, Parser)]
#[command(name = "watchkeeper", version, about, long_about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Run the agent alone: collect (host agent, scrape_configs) and forward every
    /// sample with remote_write, buffering on disk while the server is unreachable.
    Agent(AgentArgs),
    /// Check files without starting anything.
    #[command(subcommand)]
    Check(CheckCommand),
    /// Print version and build information.
    Version,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Configuration file (a superset of prometheus.yml). Without it, built-in defaults.
    #[arg(long = "config.file", visible_alias = "config", value_name = "FILE")]
    config_file: Option<PathBuf>,
    /// Address to listen on; overrides web.listen_address [default: 127.0.0.1:9800].
    #[arg(long = "web.listen-address", value_name = "HOST:PORT")]
    listen_address: Option<SocketAddr>,
    /// OTLP/gRPC address; overrides otlp.grpc.listen_address [default: 127.0.0.1:4317].
    #[arg(long = "otlp.grpc.listen-address", value_name = "HOST:PORT")]
    otlp_grpc_listen_address: Option<SocketAddr>,
    /// Data directory; overrides storage.path [default: ./data].
    #[arg(long = "storage.path", value_name = "DIR")]
    storage_path: Option<PathBuf>,
    /// Log level: debug, info, warn, error, or a tracing filter such as "info,wk_tsdb=debug".
    #[arg(long = "log.level", value_name = "LEVEL", default_value = "info")]
    log_level: String,
    /// Log format.
    #[arg(long = "log.format", value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
}

#[derive(Debug, clap::Args)]
struct AgentArgs {
    /// remote_write endpoint, e.g. http://watchkeeper:9800/api/v1/write; added to the
    /// configuration's remote_write entries.
    #[arg(long = "remote-write", value_name = "URL")]
    remote_write: Option<String>,
    /// Configuration file (scrape_configs, host_agent, global.external_labels, remote_write, agent).
    #[arg(long = "config.file", visible_alias = "config", value_name = "FILE")]
    config_file: Option<PathBuf>,
    /// Directory of the disk buffer (DIR/agent-wal); overrides storage.path [default: ./data].
    #[arg(long = "storage.path", value_name = "DIR")]
    storage_path: Option<PathBuf>,
    /// Address of the agent's /metrics and /-/healthy [default: 127.0.0.1:9801].
    #[arg(long = "web.listen-address", value_name = "HOST:PORT")]
    listen_address: Option<SocketAddr>,
    /// Log level: debug, info, warn, error, or a tracing filter.
    #[arg(long = "log.level", value_name = "LEVEL", default_value = "info")]
    log_level: String,
    /// Log format.
    #[arg(long = "log.format", value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
}

#[derive(Debug, Subcommand)]
enum CheckCommand {
    /// Check configuration files; print every problem as FILE:LINE:COLUMN: message.
    /// Exits 0 when all files are valid, 1 otherwise.
    Config {
        /// The files to check.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Agent(args) => agent(args),
        Command::Check(CheckCommand::Config { files }) => check_config(&files),
        Command::Version => {
            println!("watchkeeper {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let options = ServerOptions {
        config_file: args.config_file,
        overrides: Overrides {
            listen_address: args.listen_address,
            storage_path: args.storage_path,
            otlp_grpc_listen_address: args.otlp_grpc_listen_address,
        },
    };
    run_service(&args.log_level, &args.log_format, false, || async {
        let signals = Signals::install()?;
        let server = Server::start(options).await?;
        server.run_until_signal(signals).await
    })
}

fn agent(args: AgentArgs) -> ExitCode {
    let options = AgentOptions {
        config_file: args.config_file,
        remote_write_url: args.remote_write,
        storage_path: args.storage_path,
        listen_address: args.listen_address,
    };
    run_service(&args.log_level, &args.log_format, true, || async {
        let signals = Signals::install()?;
        let agent = Agent::start(options).await?;
        agent.run_until_signal(signals).await
    })
}

/// Sets up logging and the async runtime, runs `service` to its end and maps
/// its outcome to the exit code: 2 for bad logging flags, 1 for a failure
/// (logged, and also printed on stderr when `echo` is set).
fn run_service<E, F>(log_level: &str, log_format: &str, echo: bool, service: impl FnOnce() -> F) -> ExitCode
where
    E: std::fmt::Display,
    F: std::future::Future<Output = Result<(), E>>,
{
    let format: LogFormat = log_format.parse().unwrap_or_default();
    if let Err(e) = logging::init(log_level, format) {
        eprintln!("watchkeeper: {e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("watchkeeper: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(service()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            if echo {
                eprintln!("watchkeeper: {e}");
            }
            ExitCode::FAILURE
        }
    }
}

fn check_config(files: &[PathBuf]) -> ExitCode {
    let mut ok = true;
    for file in files {
        match config::load_file(file) {
            Ok(loaded) => {
                for warning in &loaded.warnings {
                    println!("{warning}");
                }
                println!(
                    "{}: SUCCESS: valid configuration, {} scrape jobs",
                    file.display(),
                    loaded.config.scrape_jobs().count()
                );
            }
            Err(e) => {
                ok = false;
                for line in e.lines() {
                    println!("{line}");
                }
                println!("{}: FAILED", file.display());
            }
        }
    }
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
