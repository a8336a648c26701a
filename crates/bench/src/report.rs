//! What a run measured, and how it is printed.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Latency percentiles over every request attempt that got a response.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Latency {
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// The slowest request.
    pub max: Duration,
}

impl Latency {
    /// Percentiles (nearest rank) of `samples`, which it sorts.
    pub fn from_samples(samples: &mut [Duration]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_unstable();
        let rank = |q: f64| samples[((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1];
        Self { p50: rank(0.50), p90: rank(0.90), p99: rank(0.99), max: samples[samples.len() - 1] }
    }
}

/// The server's resource use during the run, when `--pid` was given.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ServerUsage {
    /// User + system CPU seconds from the first request to the last response.
    pub cpu_seconds: f64,
    /// Peak resident set size (`VmHWM`) at the end of the run, in bytes; covers the
    /// process's whole life, not only the run.
    pub peak_rss_bytes: u64,
}

/// The outcome of one run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Samples the run was to send.
    pub samples_planned: u64,
    /// Samples in requests answered with 2xx.
    pub samples_accepted: u64,
    /// Samples in requests that finally failed (non-retryable status or retries exhausted).
    pub samples_failed: u64,
    /// Request bodies sent, retries included, in compressed bytes.
    pub bytes_sent: u64,
    /// Request attempts that got a response, retries included.
    pub responses: u64,
    /// Responses by HTTP status, 2xx included.
    pub statuses: BTreeMap<u16, u64>,
    /// Attempts that failed without a response (connect, reset, closed connection).
    pub transport_errors: u64,
    /// Attempts repeated after a 429, 5xx or transport error.
    pub retries: u64,
    /// Wall time from the first request to the last response.
    pub elapsed: Duration,
    /// Wall time spent encoding before the clock started.
    pub encode_elapsed: Duration,
    /// Request latency.
    pub latency: Latency,
    /// The server's CPU and memory, when a pid was given.
    pub server: Option<ServerUsage>,
}

impl Report {
    /// Accepted samples per second of wall time.
    pub fn samples_per_second(&self) -> f64 {
        self.samples_accepted as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Server CPU seconds per million accepted samples.
    pub fn cpu_seconds_per_million(&self) -> Option<f64> {
        let server = self.server?;
        (self.samples_accepted > 0).then(|| server.cpu_seconds / (self.samples_accepted as f64 / 1e6))
    }

    /// Responses that were not 2xx, by status.
    pub fn errors_by_status(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        self.statuses.iter().filter(|(s, _)| !(200..300).contains(*s)).map(|(s, n)| (*s, *n))
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "samples planned:    {}", self.samples_planned)?;
        writeln!(f, "samples accepted:   {} ({} failed)", self.samples_accepted, self.samples_failed)?;
        writeln!(
            f,
            "elapsed:            {:.2} s (encoding before it: {:.2} s)",
            self.elapsed.as_secs_f64(),
            self.encode_elapsed.as_secs_f64()
        )?;
        writeln!(f, "samples/s accepted: {:.0}", self.samples_per_second())?;
        writeln!(f, "MiB sent:           {:.1} (snappy)", self.bytes_sent as f64 / (1 << 20) as f64)?;
        let statuses: Vec<String> = self.statuses.iter().map(|(s, n)| format!("{s}: {n}")).collect();
        writeln!(f, "responses:          {} ({})", self.responses, statuses.join(", "))?;
        let errors: Vec<String> = self.errors_by_status().map(|(s, n)| format!("{s}: {n}")).collect();
        let errors = if errors.is_empty() { "none".to_owned() } else { errors.join(", ") };
        writeln!(
            f,
            "errors by status:   {errors}; transport errors: {}; retries: {}",
            self.transport_errors, self.retries
        )?;
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let l = &self.latency;
        writeln!(
            f,
            "latency ms:         p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
            ms(l.p50),
            ms(l.p90),
            ms(l.p99),
            ms(l.max)
        )?;
        if let Some(server) = self.server {
            writeln!(f, "server CPU:         {:.2} s", server.cpu_seconds)?;
            if let Some(per_million) = self.cpu_seconds_per_million() {
                writeln!(f, "server CPU/Msample: {per_million:.3} s")?;
            }
            writeln!(f, "server peak RSS:    {:.1} MiB", server.peak_rss_bytes as f64 / (1 << 20) as f64)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let l = Latency::from_samples(&mut samples);
        assert_eq!(l.p50, Duration::from_millis(50));
        assert_eq!(l.p90, Duration::from_millis(90));
        assert_eq!(l.p99, Duration::from_millis(99));
        assert_eq!(l.max, Duration::from_millis(100));
        assert_eq!(Latency::from_samples(&mut []), Latency::default());
        assert_eq!(Latency::from_samples(&mut [Duration::from_millis(7)]).p50, Duration::from_millis(7));
    }

    #[test]
    fn rates_and_errors() {
        let report = Report {
            samples_accepted: 2_000_000,
            elapsed: Duration::from_secs(4),
            statuses: BTreeMap::from([(204, 10), (429, 2), (503, 1)]),
            server: Some(ServerUsage { cpu_seconds: 3.0, peak_rss_bytes: 1 << 20 }),
            ..Default::default()
        };
        assert_eq!(report.samples_per_second(), 500_000.0);
        assert_eq!(report.cpu_seconds_per_million(), Some(1.5));
        assert_eq!(report.errors_by_status().collect::<Vec<_>>(), [(429, 2), (503, 1)]);
        assert!(report.to_string().contains("errors by status:   429: 2, 503: 1"));
    }
}
