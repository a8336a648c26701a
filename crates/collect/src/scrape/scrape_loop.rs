//! One target's scrape loop: a tokio task that waits for its slot in the interval
//! (an offset from the hash of the target's labels, so a job's targets are spread
//! over the interval instead of all scraped at once), then fetches and writes a scrape
//! every interval until it is stopped.
//!
//! A loop is stopped in one of two ways: [`Stop::Stale`] (the target is gone, or the
//! manager shuts down) writes staleness markers for all its series; [`Stop::Handover`]
//! (its job's configuration changed) returns its series to the loop that replaces it.
//!
//! Writing a scrape (parse, labels, append) runs inline on the runtime's worker: about
//! 0.4 ms for a 1,000-series target in the steady state (`docs/benchmarks.md`), less
//! than a hop to the blocking pool would be worth; the appender never lives across an
//! `.await`.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use wk_model::Labels;
use wk_storage::Appendable;

use super::Target;
use super::append::ScrapeWriter;
use super::fetch::TargetClient;
use super::job::JobSettings;

/// How a loop is told to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Keep scraping.
    Running,
    /// Stop and mark every series stale.
    Stale,
    /// Stop and hand the series over to a successor loop.
    Handover,
}

/// A target's health as the targets API shows it.
#[derive(Clone, Debug, Default)]
pub struct TargetStatus {
    /// When the last scrape started; `None` before the first.
    pub last_scrape: Option<SystemTime>,
    /// How long it took.
    pub last_duration: Duration,
    /// Its error, empty when it succeeded.
    pub last_error: String,
    /// Whether it succeeded.
    pub up: bool,
}

/// What a stopped loop leaves: the series its last scrape wrote, for a successor.
#[derive(Debug, Default)]
pub struct LoopExit {
    /// Series still live (empty after a [`Stop::Stale`] stop).
    pub series: Vec<Labels>,
}

/// A running loop, owned by its scrape pool.
#[derive(Debug)]
pub struct LoopHandle {
    /// The target scraped.
    pub target: Arc<Target>,
    /// Its URL.
    pub url: String,
    /// Its last scrape's result.
    pub status: Arc<Mutex<TargetStatus>>,
    stop: watch::Sender<Stop>,
    task: JoinHandle<LoopExit>,
}

impl LoopHandle {
    /// Starts the loop for `target`. While `forced_error` holds an error, scrapes are
    /// not fetched but fail with it (the pool's `target_limit` is exceeded). When `predecessor` is given (the loop of the
    /// same target under the job's previous configuration), the new loop first waits
    /// for it to hand over its series.
    pub fn start(
        job: Arc<JobSettings>,
        target: Arc<Target>,
        store: Arc<dyn Appendable>,
        forced_error: ForcedError,
        predecessor: Option<JoinHandle<LoopExit>>,
    ) -> Result<Self, String> {
        let url = target.url(&job.config.params);
        let client = TargetClient::new(job.client.clone(), &url)?;
        let writer = ScrapeWriter::new(job, &target);
        let status = Arc::new(Mutex::new(TargetStatus::default()));
        let (stop, stop_rx) = watch::channel(Stop::Running);
        let interval = target.interval.get().max(Duration::from_millis(10));
        let timeout = target.timeout.get().min(interval).max(Duration::from_millis(1));
        let offset = scrape_offset(&target.labels, interval, SystemTime::now());
        let run = Run { writer, client, store, interval, timeout, status: status.clone(), stop: stop_rx, forced_error };
        let task = tokio::spawn(run.run(offset, predecessor));
        Ok(Self { target, url, status, stop, task })
    }

    /// Tells the loop to stop as `how` says and returns its task, which ends once the
    /// current scrape is abandoned and the stop is written.
    pub fn stop(self, how: Stop) -> JoinHandle<LoopExit> {
        let _ = self.stop.send(how);
        self.task
    }
}

/// The time to wait before the first scrape: the target's slot in the interval (a
/// hash of its labels modulo the interval) relative to now, so each target is scraped
/// at the same phase every interval, and different targets at different phases.
pub fn scrape_offset(labels: &[(String, String)], interval: Duration, now: SystemTime) -> Duration {
    let interval_ns = interval.as_nanos().max(1);
    let mut hasher = DefaultHasher::new();
    labels.hash(&mut hasher);
    let slot = u128::from(hasher.finish()) % interval_ns;
    let now_ns = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos() % interval_ns;
    let wait = (slot + interval_ns - now_ns) % interval_ns;
    Duration::from_nanos(u64::try_from(wait).unwrap_or(u64::MAX))
}

/// An error that fails every scrape of a pool while set, shared by its loops.
pub type ForcedError = Arc<Mutex<Option<String>>>;

struct Run {
    forced_error: ForcedError,
    writer: ScrapeWriter,
    client: TargetClient,
    store: Arc<dyn Appendable>,
    interval: Duration,
    timeout: Duration,
    status: Arc<Mutex<TargetStatus>>,
    stop: watch::Receiver<Stop>,
}

impl Run {
    async fn run(mut self, offset: Duration, predecessor: Option<JoinHandle<LoopExit>>) -> LoopExit {
        if let Some(previous) = predecessor
            && let Ok(exit) = previous.await
        {
            self.writer.carry_over(exit.series);
        }
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + offset, self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = self.stop.changed() => break,
            }
            if *self.stop.borrow() != Stop::Running {
                break;
            }
            let started = SystemTime::now();
            let clock = Instant::now();
            let forced = self.forced_error.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let fetched = match forced {
                Some(error) => Err(error),
                None => tokio::select! {
                    fetched = self.client.fetch(self.timeout) => fetched,
                    _ = self.stop.changed() => break,
                },
            };
            let duration = clock.elapsed();
            let outcome = self.writer.write(
                self.store.as_ref(),
                fetched.as_ref().map_err(String::as_str),
                millis(started),
                duration,
            );
            if let Some(error) = &outcome.error {
                tracing::debug!(url = self.client.url(), %error, "scrape failed");
            }
            let next = TargetStatus {
                last_scrape: Some(started),
                last_duration: duration,
                up: outcome.error.is_none(),
                last_error: outcome.error.unwrap_or_default(),
            };
            *self.status.lock().unwrap_or_else(|e| e.into_inner()) = next;
        }
        let how = *self.stop.borrow();
        match how {
            Stop::Handover => LoopExit { series: self.writer.present_series() },
            Stop::Running | Stop::Stale => {
                self.writer.write_end_of_run(self.store.as_ref(), millis(SystemTime::now()));
                LoopExit::default()
            }
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_spread_targets_and_stay_in_the_interval() {
        let interval = Duration::from_secs(15);
        let now = SystemTime::now();
        let offsets: Vec<Duration> = (0..50)
            .map(|i| scrape_offset(&[("__address__".to_owned(), format!("h{i}:9100"))], interval, now))
            .collect();
        assert!(offsets.iter().all(|o| *o < interval));
        let distinct: std::collections::BTreeSet<_> = offsets.iter().map(|o| o.as_secs()).collect();
        assert!(distinct.len() > 5, "offsets cluster: {offsets:?}");
        // The slot is fixed: one interval later the wait is the same.
        let labels = [("__address__".to_owned(), "a:1".to_owned())];
        let a = scrape_offset(&labels, interval, now);
        let b = scrape_offset(&labels, interval, now + interval);
        assert_eq!(a, b);
    }
}
