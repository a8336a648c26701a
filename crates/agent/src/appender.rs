//! The agent as a store: [`QueueAppendable`] hands the scrape manager and the host
//! agent appenders whose commit writes the batch to every remote_write queue.
//!
//! Nothing is checked against stored data (the agent stores nothing to query): every
//! sample is accepted and the receiving server applies its own rules. A commit
//! returns once the batch is fsynced in every queue; if a queue's log cannot be
//! written the commit fails with [`AppendError::Unavailable`].

use std::collections::HashMap;
use std::sync::Arc;

use wk_ingest::remote_write::proto::{Label, Sample as WireSample, TimeSeries};
use wk_model::{Labels, Sample};
use wk_storage::{AppendError, Appendable, Appender, CommitSummary, SeriesRef};

use crate::queue::DiskQueue;
use crate::record;

/// Writes committed batches to the queues of every remote_write endpoint.
#[derive(Debug, Clone)]
pub struct QueueAppendable {
    queues: Vec<Arc<DiskQueue>>,
}

impl QueueAppendable {
    /// A store writing to `queues`.
    pub fn new(queues: Vec<Arc<DiskQueue>>) -> Self {
        Self { queues }
    }
}

impl Appendable for QueueAppendable {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(QueueAppender { queues: &self.queues, index: HashMap::new(), series: Vec::new(), samples: 0 })
    }
}

struct QueueAppender<'a> {
    queues: &'a [Arc<DiskQueue>],
    index: HashMap<Labels, usize>,
    series: Vec<TimeSeries>,
    samples: u64,
}

impl Appender for QueueAppender<'_> {
    fn append(&mut self, _hint: Option<SeriesRef>, labels: &Labels, sample: Sample) -> Result<SeriesRef, AppendError> {
        if labels.is_empty() {
            return Err(AppendError::InvalidLabels { detail: "empty label set".to_owned() });
        }
        let next = self.series.len();
        let at = *self.index.entry(labels.clone()).or_insert(next);
        if at == next {
            let labels = labels.iter().map(|(n, v)| Label { name: n.to_owned(), value: v.to_owned() }).collect();
            self.series.push(TimeSeries { labels, samples: Vec::new(), exemplars: Vec::new(), histograms: Vec::new() });
        }
        self.series[at].samples.push(WireSample { value: sample.v, timestamp: sample.t });
        self.samples += 1;
        Ok(SeriesRef(u32::try_from(at).unwrap_or(u32::MAX)))
    }

    fn commit(&mut self) -> Result<CommitSummary, AppendError> {
        let samples = std::mem::take(&mut self.samples);
        self.index.clear();
        let series = std::mem::take(&mut self.series);
        if samples == 0 {
            return Ok(CommitSummary::default());
        }
        let rec = record::encode(series);
        let mut failed = None;
        for queue in self.queues {
            if let Err(e) = queue.append(&rec, samples) {
                tracing::error!(queue = queue.name(), error = %e, "agent queue write failed; batch not acknowledged");
                failed = Some(e.to_string());
            }
        }
        match failed {
            Some(detail) => Err(AppendError::Unavailable { detail }),
            None => Ok(CommitSummary { appended: samples, rejected: Vec::new() }),
        }
    }

    fn rollback(&mut self) {
        self.index.clear();
        self.series.clear();
        self.samples = 0;
    }
}
