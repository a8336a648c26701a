//! Scraping, as Prometheus does it: the `scrape_configs` settings (their shape,
//! defaults and validation), target population, and the scrape machinery.
//!
//! Map:
//! - [`manager`]: [`ScrapeManager`], one pool per job (discovery task + target loops),
//!   applied on start and reload; the targets report; shutdown with staleness markers.
//! - [`scrape_loop`]: one target's loop (offset in the interval, fetch, write).
//! - [`fetch`]: the HTTP(S) exchange (headers, auth, TLS, timeout, size limit, gzip).
//! - [`append`]: from a body to one storage batch (labels, relabeling, limits,
//!   staleness, synthetic series), with the per-target series cache.
//! - [`job`]: a job's settings compiled for its loops.
//! - [`refresh`]: the `dns_sd_configs` and `http_sd_configs` refresher tasks.
//! - [`report`]: the `/api/v1/targets` data.
//! - [`target`]: discovered targets to scrape targets (`relabel_configs`).

pub mod append;
mod config;
pub mod fetch;
pub mod job;
pub mod manager;
pub mod refresh;
pub mod report;
pub mod scrape_loop;
pub mod target;

pub use append::{ScrapeOutcome, ScrapeWriter};
pub use config::*;
pub use fetch::{Fetched, TargetClient};
pub use job::{JobSettings, MetadataSink};
pub use manager::{ScrapeManager, ScrapeManagerOptions};
pub use refresh::DiscoveryCounters;
pub use report::{ActiveTarget, DroppedTarget, TargetsReport};
pub use target::{Populated, Target, TargetGroup, populate};
