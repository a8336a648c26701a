//! The sender task of one queue: read the queue in order, batch, send with retries,
//! and only then advance the durable delivered position.
//!
//! A batch is whole queue records, read until `max_samples_per_send` samples or until
//! `batch_send_deadline` has passed since the batch's first sample was read. It is
//! merged per series (samples in queue order), given the external labels and the
//! `write_relabel_configs`, and sent as requests of at most `max_samples_per_send`
//! samples each. A request is retried with exponential backoff from `min_backoff` to
//! `max_backoff` (or the endpoint's `Retry-After`) until it is delivered or refused;
//! refused requests are counted and logged, like Prometheus. Only after every request
//! of the batch is settled is the position saved, so the guarantee is at-least-once:
//! a crash between a send and the save sends that batch again.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use prost::Message;
use tokio::sync::watch;
use tokio::time::Instant;
use wk_collect::relabel::{self, Rule};
use wk_ingest::remote_write::proto::{Label, TimeSeries, WriteRequest};

use crate::client::{Outcome, RemoteClient};
use crate::config::{QueueConfig, RemoteWriteConfig};
use crate::error::{Error, Result};
use crate::metrics::now_ms;
use crate::queue::{DiskQueue, ReadBatch};

/// A label set as `(name, value)` pairs.
type LabelPairs = Vec<(String, String)>;

/// Pause after a failed queue read before trying again.
const READ_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// One queue's sender. See the [module docs](self).
#[derive(Debug)]
pub struct Sender {
    queue: Arc<DiskQueue>,
    client: RemoteClient,
    queue_config: QueueConfig,
    external_labels: Vec<(String, String)>,
    relabel: Vec<Rule>,
}

impl Sender {
    /// A sender for `queue` to the endpoint of `config`. External labels are added to
    /// every series that lacks a label of that name. Fails on settings it cannot use.
    pub fn new(
        queue: Arc<DiskQueue>,
        config: &RemoteWriteConfig,
        external_labels: &[(String, String)],
    ) -> Result<Self> {
        let mut relabel = Vec::new();
        for rule in config.write_relabel_configs.iter().filter_map(|r| r.value.as_ref()) {
            let compiled = rule.compile().map_err(|e| Error::Config {
                queue: config.queue_name(),
                detail: format!("write_relabel_configs: {e}"),
            })?;
            relabel.push(compiled);
        }
        Ok(Self {
            queue,
            client: RemoteClient::new(config)?,
            queue_config: config.queue_config.clone(),
            external_labels: external_labels.to_vec(),
            relabel,
        })
    }

    /// Sends until `shutdown` turns true. Whatever is unsent then stays queued.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut pos = self.queue.start();
        let max = self.queue_config.max_samples_per_send as u64;
        let deadline_after = self.queue_config.batch_send_deadline.get();
        while !*shutdown.borrow() {
            let mut batch = match self.read(pos, max).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(queue = self.queue.name(), error = %e, "reading the agent queue failed");
                    if sleep_or_stop(READ_ERROR_PAUSE, &mut shutdown).await {
                        break;
                    }
                    continue;
                }
            };
            if batch.records == 0 && batch.end == pos {
                tokio::select! {
                    _ = self.queue.appended() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            let deadline = Instant::now() + deadline_after;
            while batch.samples < max && Instant::now() < deadline {
                tokio::select! {
                    _ = self.queue.appended() => {}
                    _ = tokio::time::sleep_until(deadline) => {}
                    _ = shutdown.changed() => break,
                }
                match self.read(batch.end, max - batch.samples).await {
                    Ok(more) => {
                        batch.series.extend(more.series);
                        batch.samples += more.samples;
                        batch.records += more.records;
                        batch.end = more.end;
                    }
                    Err(e) => {
                        tracing::error!(queue = self.queue.name(), error = %e, "reading the agent queue failed");
                        break;
                    }
                }
            }
            let samples = batch.samples;
            let end = batch.end;
            if !self.deliver(batch.series, &mut shutdown).await {
                break;
            }
            if let Err(e) = self.queue.ack(end, samples) {
                tracing::error!(queue = self.queue.name(), error = %e, "saving the delivered position failed; the batch may be sent again");
            }
            pos = end;
        }
        tracing::info!(queue = self.queue.name(), "remote_write sender stopped");
    }

    async fn read(&self, from: crate::Position, max: u64) -> Result<ReadBatch> {
        let queue = self.queue.clone();
        tokio::task::spawn_blocking(move || queue.read(from, max))
            .await
            .unwrap_or_else(|e| Err(Error::io("read the queue", std::path::Path::new(""), std::io::Error::other(e))))
    }

    /// Sends every request of a batch; false when shutdown interrupted it.
    async fn deliver(&mut self, series: Vec<TimeSeries>, shutdown: &mut watch::Receiver<bool>) -> bool {
        let series = self.prepare(series);
        let max = self.queue_config.max_samples_per_send;
        for request in split(series, max) {
            let samples = request.timeseries.iter().map(|s| s.samples.len() as u64).sum::<u64>();
            let body = Bytes::from(compress(&request.encode_to_vec()));
            if !self.send_with_retries(body, samples, shutdown).await {
                return false;
            }
        }
        true
    }

    async fn send_with_retries(&mut self, body: Bytes, samples: u64, shutdown: &mut watch::Receiver<bool>) -> bool {
        let metrics = self.queue.metrics().clone();
        let mut backoff = self.queue_config.min_backoff.get();
        loop {
            match self.client.send(body.clone()).await {
                Outcome::Delivered => {
                    metrics.requests_sent.fetch_add(1, Ordering::Relaxed);
                    metrics.samples_sent.fetch_add(samples, Ordering::Relaxed);
                    metrics.last_success_ms.store(now_ms(), Ordering::Relaxed);
                    return true;
                }
                Outcome::Refused { error } => {
                    metrics.failed(&error);
                    metrics.samples_failed.fetch_add(samples, Ordering::Relaxed);
                    tracing::error!(queue = self.queue.name(), samples, %error, "remote_write refused a batch; dropped");
                    return true;
                }
                Outcome::Retry { after, error } => {
                    metrics.failed(&error);
                    metrics.samples_retried.fetch_add(samples, Ordering::Relaxed);
                    let wait = after.unwrap_or(backoff);
                    tracing::warn!(queue = self.queue.name(), %error, retry_in = ?wait, "remote_write failed; retrying");
                    if sleep_or_stop(wait, shutdown).await {
                        return false;
                    }
                    backoff = (backoff * 2).min(self.queue_config.max_backoff.get()).max(Duration::from_millis(1));
                }
            }
        }
    }

    /// Merges series with equal labels (samples in queue order), adds external
    /// labels, applies write relabeling and sorts each label set by name.
    fn prepare(&self, series: Vec<TimeSeries>) -> Vec<TimeSeries> {
        let mut index: HashMap<LabelPairs, usize> = HashMap::new();
        let mut out: Vec<TimeSeries> = Vec::new();
        let mut cache: HashMap<LabelPairs, Option<LabelPairs>> = HashMap::new();
        for s in series {
            let raw: Vec<(String, String)> = s.labels.into_iter().map(|l| (l.name, l.value)).collect();
            let labels = match cache.get(&raw) {
                Some(done) => done.clone(),
                None => {
                    let done = self.final_labels(raw.clone());
                    cache.insert(raw, done.clone());
                    done
                }
            };
            let Some(labels) = labels else { continue };
            let next = out.len();
            let at = *index.entry(labels.clone()).or_insert(next);
            if at == next {
                let labels = labels.into_iter().map(|(name, value)| Label { name, value }).collect();
                out.push(TimeSeries { labels, samples: Vec::new(), exemplars: Vec::new(), histograms: Vec::new() });
            }
            out[at].samples.extend(s.samples);
        }
        out
    }

    fn final_labels(&self, mut labels: Vec<(String, String)>) -> Option<Vec<(String, String)>> {
        for (name, value) in &self.external_labels {
            if !labels.iter().any(|(n, _)| n == name) {
                labels.push((name.clone(), value.clone()));
            }
        }
        labels.sort();
        labels.dedup_by(|a, b| a.0 == b.0);
        if !self.relabel.is_empty() {
            if !relabel::process(&mut labels, &self.relabel) {
                return None;
            }
            labels.retain(|(_, v)| !v.is_empty());
            labels.sort();
        }
        (!labels.is_empty()).then_some(labels)
    }
}

/// Splits merged series into requests of at most `max` samples each, cutting a
/// series when it alone is larger.
pub fn split(series: Vec<TimeSeries>, max: usize) -> Vec<WriteRequest> {
    let max = max.max(1);
    let mut out = Vec::new();
    let mut current = WriteRequest::default();
    let mut count = 0usize;
    for mut s in series {
        while !s.samples.is_empty() {
            let room = max - count;
            let take = room.min(s.samples.len());
            let rest = s.samples.split_off(take);
            count += take;
            current.timeseries.push(TimeSeries {
                labels: s.labels.clone(),
                samples: std::mem::replace(&mut s.samples, rest),
                exemplars: Vec::new(),
                histograms: Vec::new(),
            });
            if count == max {
                out.push(std::mem::take(&mut current));
                count = 0;
            }
        }
    }
    if count > 0 {
        out.push(current);
    }
    out
}

fn compress(raw: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; snap::raw::max_compress_len(raw.len())];
    let n = snap::raw::Encoder::new().compress(raw, &mut out).expect("snappy buffer sized by max_compress_len");
    out.truncate(n);
    out
}

/// Sleeps for `wait`; returns true if `shutdown` turned true meanwhile.
async fn sleep_or_stop(wait: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(wait) => *shutdown.borrow(),
        _ = shutdown.changed() => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::series;

    #[test]
    fn split_respects_the_maximum_and_keeps_order() {
        let input = vec![
            series(&[("__name__", "a")], &[(1, 1.0), (2, 2.0), (3, 3.0)]),
            series(&[("__name__", "b")], &[(1, 1.0), (2, 2.0)]),
        ];
        let requests = split(input, 2);
        let sizes: Vec<usize> = requests.iter().map(|r| r.timeseries.iter().map(|s| s.samples.len()).sum()).collect();
        assert_eq!(sizes, [2, 2, 1]);
        let a: Vec<i64> = requests
            .iter()
            .flat_map(|r| r.timeseries.iter())
            .filter(|s| s.labels[0].value == "a")
            .flat_map(|s| s.samples.iter().map(|x| x.timestamp))
            .collect();
        assert_eq!(a, [1, 2, 3]);
    }
}
