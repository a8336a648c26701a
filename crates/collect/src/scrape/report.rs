//! The targets report: the `data` of Prometheus's `GET /api/v1/targets`, with the same
//! field names, so the API layer serialises it as it is.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// Every target the scrape manager knows.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TargetsReport {
    /// Targets being scraped, by scrape pool then discovery order.
    pub active_targets: Vec<ActiveTarget>,
    /// Targets relabeling dropped (at most `keep_dropped_targets` per pool).
    pub dropped_targets: Vec<DroppedTarget>,
    /// How many targets each pool dropped, including those not listed.
    pub dropped_target_counts: BTreeMap<String, usize>,
}

/// One scraped target.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ActiveTarget {
    /// Labels before relabeling.
    pub discovered_labels: BTreeMap<String, String>,
    /// The labels its series carry.
    pub labels: BTreeMap<String, String>,
    /// The job name.
    pub scrape_pool: String,
    /// The URL scraped.
    pub scrape_url: String,
    /// The URL with a loopback host replaced by this machine's name.
    pub global_url: String,
    /// The last scrape's error, empty when it succeeded.
    pub last_error: String,
    /// When the last scrape started, RFC 3339 in UTC (`0001-01-01T00:00:00Z` before the first).
    pub last_scrape: String,
    /// How long it took, in seconds.
    pub last_scrape_duration: f64,
    /// `up`, `down` or `unknown` (not scraped yet).
    pub health: String,
    /// The scrape interval, as configured (`15s`).
    pub scrape_interval: String,
    /// The scrape timeout, as configured (`10s`).
    pub scrape_timeout: String,
}

/// One target that relabeling dropped.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DroppedTarget {
    /// Labels before relabeling.
    pub discovered_labels: BTreeMap<String, String>,
    /// The job name.
    pub scrape_pool: String,
}

/// Formats `t` as RFC 3339 in UTC with the fraction Go's `RFC3339Nano` would print.
pub fn rfc3339(t: Option<SystemTime>) -> String {
    let Some(t) = t else { return "0001-01-01T00:00:00Z".to_owned() };
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    let mut out = format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}", rem / 3600, (rem % 3600) / 60, rem % 60);
    let nanos = since.subsec_nanos();
    if nanos > 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The URL other machines can use: a loopback host replaced by this host's name, as
/// Prometheus's `globalUrl`.
pub fn global_url(url: &str) -> String {
    let Ok(uri) = url.parse::<http::Uri>() else { return url.to_owned() };
    let Some(host) = uri.host() else { return url.to_owned() };
    if !matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "::1") {
        return url.to_owned();
    }
    let name = rustix::system::uname().nodename().to_string_lossy().into_owned();
    match url.find(host) {
        Some(at) => format!("{}{}{}", &url[..at], name, &url[at + host.len()..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn rfc3339_in_utc() {
        assert_eq!(rfc3339(None), "0001-01-01T00:00:00Z");
        assert_eq!(rfc3339(Some(UNIX_EPOCH)), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_686_266_120);
        assert_eq!(rfc3339(Some(t)), "2026-11-26T09:44:26.12Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(Some(leap)), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn global_url_replaces_loopback_only() {
        assert_eq!(global_url("http://example.org:9100/metrics"), "http://example.org:9100/metrics");
        assert!(!global_url("http://127.0.0.1:9100/metrics").contains("127.0.0.1"));
    }
}
