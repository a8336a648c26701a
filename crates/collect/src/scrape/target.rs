//! From discovered targets to scrape targets, as Prometheus does it: a target's
//! discovered labels plus its group's labels, the job's defaults (`job`,
//! `__scheme__`, `__metrics_path__`, `__scrape_interval__`, `__scrape_timeout__`,
//! `__param_*`), then `relabel_configs`; `__meta_*` labels are removed afterwards,
//! `instance` defaults to `__address__`, and the public label set is every label not
//! starting with `__`.

use std::collections::BTreeMap;

use wk_config::PromDuration;

use super::ScrapeConfig;
use crate::relabel::{self, Rule};

/// A group of targets sharing labels, as service discovery produces it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetGroup {
    /// Where the group came from (`static/0`, a file path…), for the targets API.
    pub source: String,
    /// Each target's own labels; `__address__` is required.
    pub targets: Vec<BTreeMap<String, String>>,
    /// Labels added to every target of the group (a target's own labels win).
    pub labels: BTreeMap<String, String>,
}

/// A target ready to scrape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Every label after relabeling, `__`-prefixed ones included, sorted by name.
    pub labels: Vec<(String, String)>,
    /// The labels before relabeling, for the targets API.
    pub discovered: Vec<(String, String)>,
    /// How often to scrape it.
    pub interval: PromDuration,
    /// How long a scrape may take.
    pub timeout: PromDuration,
}

/// What became of one discovered target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Populated {
    /// It is scraped.
    Active(Target),
    /// Relabeling dropped it; kept for the targets API.
    Dropped {
        /// The labels before relabeling.
        discovered: Vec<(String, String)>,
    },
}

impl Target {
    /// A label's value, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        get(&self.labels, name)
    }

    /// The labels every scraped series carries: all but the `__`-prefixed ones.
    pub fn public_labels(&self) -> impl Iterator<Item = (&str, &str)> {
        self.labels.iter().filter(|(n, _)| !n.starts_with("__")).map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The URL to scrape: scheme, address and path from the labels, with the job's
    /// `params` overridden by `__param_<name>` labels.
    pub fn url(&self, params: &BTreeMap<String, Vec<String>>) -> String {
        let scheme = self.get("__scheme__").unwrap_or("http");
        let address = self.get("__address__").unwrap_or_default();
        let path = self.get("__metrics_path__").unwrap_or("/metrics");
        let mut query: Vec<(String, String)> = Vec::new();
        for (name, values) in params {
            match self.get(&format!("__param_{name}")) {
                Some(value) => query.push((name.clone(), value.to_owned())),
                None => query.extend(values.iter().map(|v| (name.clone(), v.clone()))),
            }
        }
        for (name, value) in &self.labels {
            if let Some(param) = name.strip_prefix("__param_")
                && !params.contains_key(param)
            {
                query.push((param.to_owned(), value.clone()));
            }
        }
        let mut url = format!("{scheme}://{address}{path}");
        for (i, (name, value)) in query.iter().enumerate() {
            url.push(if i == 0 && !path.contains('?') { '?' } else { '&' });
            url.push_str(&percent_encode(name));
            url.push('=');
            url.push_str(&percent_encode(value));
        }
        url
    }
}

/// Builds the target for one discovered target of `group`, or says why it is invalid.
pub fn populate(
    job: &ScrapeConfig,
    rules: &[Rule],
    group: &TargetGroup,
    target: &BTreeMap<String, String>,
) -> Result<Populated, String> {
    let mut labels: BTreeMap<String, String> = group.labels.clone();
    labels.extend(target.iter().map(|(n, v)| (n.clone(), v.clone())));
    let interval = job.scrape_interval.unwrap_or_default();
    let timeout = job.scrape_timeout.unwrap_or_default();
    let defaults = [
        ("job", job.job_name.value.clone()),
        ("__scheme__", job.scheme.clone()),
        ("__metrics_path__", job.metrics_path.clone()),
        ("__scrape_interval__", interval.to_string()),
        ("__scrape_timeout__", timeout.to_string()),
    ];
    for (name, value) in defaults {
        labels.entry(name.to_owned()).or_insert(value);
    }
    for (name, values) in &job.params {
        if let Some(first) = values.first() {
            labels.entry(format!("__param_{name}")).or_insert_with(|| first.clone());
        }
    }
    let discovered: Vec<(String, String)> = labels.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    let mut current = discovered.clone();
    if !relabel::process(&mut current, rules) {
        return Ok(Populated::Dropped { discovered });
    }
    let address = get(&current, "__address__").ok_or("no address")?.to_owned();
    if address.contains('/') {
        return Err(format!("{address:?} is not a valid hostname"));
    }
    let interval = parse_duration_label(&current, "__scrape_interval__")?;
    let timeout = parse_duration_label(&current, "__scrape_timeout__")?;
    if interval.get().is_zero() {
        return Err("scrape interval cannot be 0".to_owned());
    }
    if timeout > interval {
        return Err(format!("scrape timeout cannot be greater than scrape interval ({timeout} > {interval})"));
    }
    current.retain(|(n, _)| !n.starts_with("__meta_"));
    if get(&current, "instance").is_none() {
        let at = current.binary_search_by(|(n, _)| n.as_str().cmp("instance")).unwrap_or_else(|i| i);
        current.insert(at, ("instance".to_owned(), address));
    }
    Ok(Populated::Active(Target { labels: current, discovered, interval, timeout }))
}

fn parse_duration_label(labels: &[(String, String)], name: &str) -> Result<PromDuration, String> {
    let text = get(labels, name).ok_or_else(|| format!("{name} is missing"))?;
    PromDuration::parse(text).map_err(|e| format!("{name}: {e}"))
}

fn get<'a>(labels: &'a [(String, String)], name: &str) -> Option<&'a str> {
    labels.binary_search_by(|(n, _)| n.as_str().cmp(name)).ok().map(|i| labels[i].1.as_str())
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
