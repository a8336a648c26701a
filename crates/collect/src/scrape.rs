//! Scraping, as Prometheus does it. This module owns the `scrape_configs` settings
//! (their shape, defaults and validation); the scrape loop joins it.

mod config;

pub use config::*;
