//! Scraping, as Prometheus does it. This module owns the `scrape_configs` settings
//! (their shape, defaults and validation); the scrape loop joins it.

mod config;
pub mod target;

pub use config::*;
pub use target::{Populated, Target, TargetGroup, populate};
