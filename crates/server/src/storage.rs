//! The storage engines as the server holds them: opened in the data directory at
//! start, handed to collectors, ingesters and the query API through the
//! `wk-storage` traits, reported on `/metrics`, and closed last at shutdown.

use std::sync::Arc;

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use wk_storage::{Appendable, Queryable};
use wk_tsdb::{Head, HeadOptions};

use crate::self_metrics::LateMetrics;
use crate::{Error, Result};

/// The open engines.
#[derive(Debug, Clone)]
pub struct Storage {
    head: Arc<Head>,
}

impl Storage {
    /// Opens the engines in the (locked) data directory.
    pub fn open(_dir: &std::path::Path) -> Result<Self> {
        let head =
            Head::new(HeadOptions::default()).map_err(|e| Error::Storage(format!("opening the TSDB head: {e}")))?;
        Ok(Self { head: Arc::new(head) })
    }

    /// Where collectors and ingesters write.
    pub fn appendable(&self) -> Arc<dyn Appendable> {
        self.head.clone()
    }

    /// What the query API reads.
    pub fn queryable(&self) -> Arc<dyn Queryable> {
        self.head.clone()
    }

    /// The engine's metrics for `/metrics`.
    pub fn metrics(&self) -> Arc<dyn LateMetrics> {
        Arc::new(StorageMetrics { head: self.head.clone() })
    }

    /// Flushes and closes the engines.
    pub fn close(self) -> Result<()> {
        Ok(())
    }
}

#[derive(Debug)]
struct StorageMetrics {
    head: Arc<Head>,
}

impl LateMetrics for StorageMetrics {
    fn encode(&self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let stats = self.head.stats();
        let series = ConstGauge::new(self.head.num_series() as i64);
        series.encode(encoder.encode_descriptor(
            "watchkeeper_tsdb_head_series",
            "Series held in the TSDB head",
            None,
            series.metric_type(),
        )?)?;
        for (name, help, value) in [
            ("watchkeeper_tsdb_head_samples_appended", "Samples appended to the TSDB head", stats.samples_appended()),
            ("watchkeeper_tsdb_head_series_created", "Series created in the TSDB head", stats.series_created()),
        ] {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(name, help, None, counter.metric_type())?)?;
        }
        let mut rejected = encoder.encode_descriptor(
            "watchkeeper_tsdb_samples_rejected",
            "Samples the TSDB rejected, by reason",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for (reason, count) in stats.rejected() {
            ConstCounter::new(count).encode(rejected.encode_family(&[("reason", reason)])?)?;
        }
        Ok(())
    }
}
