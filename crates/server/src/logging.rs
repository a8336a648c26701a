//! Logging with `tracing`: level and format chosen on the command line.

use std::str::FromStr;

use tracing_subscriber::EnvFilter;

/// Log line format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (`logfmt`-like), the default.
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" | "logfmt" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!("unknown log format {other:?}: use text or json")),
        }
    }
}

/// Installs the global subscriber. `level` is `debug`, `info`, `warn`, `error`, or a
/// full `tracing` filter directive (`info,wk_tsdb=debug`). Logs go to standard error.
/// Calling it twice keeps the first subscriber (tests start several servers).
pub fn init(level: &str, format: LogFormat) -> Result<(), String> {
    // A single word must be a level: `EnvFilter` would read `inf` as a target name
    // and silently log nothing.
    let is_directive = level.contains(['=', ',', ':', '[']);
    if !is_directive && !["trace", "debug", "info", "warn", "error", "off"].contains(&level) {
        return Err(format!(
            "invalid --log.level {level:?}: use debug, info, warn, error, or a filter like info,wk_server=debug"
        ));
    }
    let filter = EnvFilter::from_str(level).map_err(|e| format!("invalid --log.level {level:?}: {e}"))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    Ok(())
}
