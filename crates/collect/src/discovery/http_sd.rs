//! `http_sd_configs`: targets from an HTTP endpoint, by Prometheus's rules. The
//! endpoint answers `200` with `Content-Type: application/json` and a JSON list of
//! `{"targets": [...], "labels": {...}}`; each group gets `__meta_url` and the source
//! `URL:INDEX`. Anything else is a failure, after which the caller keeps the last good
//! list.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use wk_config::ByteSize;

use crate::scrape::fetch::{ClientSettings, TargetClient};
use crate::scrape::{HttpSdConfig, ScrapeConfig, TargetGroup};

/// `__meta_url`: the URL the group was read from.
pub const URL_LABEL: &str = "__meta_url";

/// The largest answer accepted (Prometheus reads answers whole; 64 MiB bounds memory).
pub const BODY_LIMIT: u64 = 64 << 20;

#[derive(Debug, Deserialize)]
struct HttpGroup {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// One endpoint's client, keeping its connection between refreshes.
#[derive(Debug)]
pub struct HttpSd {
    client: TargetClient,
    url: String,
    timeout: Duration,
}

impl HttpSd {
    /// A client for `config`'s URL with its authentication, TLS and headers. Each
    /// request may take at most the refresh interval.
    pub fn new(config: &HttpSdConfig) -> Result<Self, String> {
        let settings = ScrapeConfig {
            basic_auth: config.basic_auth.clone(),
            authorization: config.authorization.clone(),
            oauth2: config.oauth2.clone(),
            tls_config: config.tls_config.clone(),
            http_headers: config.http_headers.clone(),
            body_size_limit: Some(ByteSize(BODY_LIMIT)),
            ..ScrapeConfig::default()
        };
        let settings = ClientSettings::new(&settings).map_err(|e| format!("http_sd {}: {e}", config.url))?;
        let client = TargetClient::new(Arc::new(settings), &config.url)?;
        Ok(Self { client, url: config.url.clone(), timeout: config.refresh_interval.get() })
    }

    /// Fetches the groups once. Errors name the URL and the rule broken.
    pub async fn fetch(&mut self) -> Result<Vec<TargetGroup>, String> {
        let fetched = self.client.fetch(self.timeout).await?;
        if fetched.status != http::StatusCode::OK {
            return Err(format!("{}: server returned HTTP status {}", self.url, fetched.status));
        }
        let content_type = fetched.content_type.unwrap_or_default();
        if !is_json(&content_type) {
            return Err(format!("{}: unsupported content type {content_type:?}: want application/json", self.url));
        }
        parse_groups(&fetched.body, &self.url)
    }
}

/// `application/json`, optionally with parameters, as Prometheus's
/// `^application/json(;.*)?$` check.
fn is_json(content_type: &str) -> bool {
    content_type == "application/json" || content_type.starts_with("application/json;")
}

/// Parses an endpoint's answer into groups labelled with `url`.
pub fn parse_groups(body: &[u8], url: &str) -> Result<Vec<TargetGroup>, String> {
    let groups: Vec<Option<HttpGroup>> = serde_json::from_slice(body)
        .map_err(|e| format!("{url}: the answer is not a JSON list of target groups: {e}"))?;
    let mut out = Vec::with_capacity(groups.len());
    for (i, group) in groups.into_iter().enumerate() {
        let Some(group) = group else { return Err(format!("{url}: target group {i} is null")) };
        let mut labels = group.labels;
        labels.insert(URL_LABEL.to_owned(), url.to_owned());
        out.push(TargetGroup {
            source: format!("{url}:{i}"),
            targets: group.targets.into_iter().map(|t| BTreeMap::from([("__address__".to_owned(), t)])).collect(),
            labels,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_carry_the_url_and_an_indexed_source() {
        let body = br#"[{"targets": ["a:1", "b:2"], "labels": {"env": "prod"}}, {"targets": ["c:3"]}]"#;
        let groups = parse_groups(body, "http://sd/x").unwrap();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].source, "http://sd/x:0");
        assert_eq!(groups[1].source, "http://sd/x:1");
        assert_eq!(groups[0].labels["env"], "prod");
        assert_eq!(groups[1].labels[URL_LABEL], "http://sd/x");
        assert_eq!(groups[0].targets[1]["__address__"], "b:2");
        let err = parse_groups(br#"{"targets": []}"#, "http://sd/x").unwrap_err();
        assert!(err.starts_with("http://sd/x: the answer is not a JSON list"), "{err}");
        let err = parse_groups(br#"[{"targets": []}, null]"#, "http://sd/x").unwrap_err();
        assert_eq!(err, "http://sd/x: target group 1 is null");
    }

    #[test]
    fn content_type_must_be_json() {
        assert!(is_json("application/json"));
        assert!(is_json("application/json; charset=utf-8"));
        assert!(!is_json("application/jsonx"));
        assert!(!is_json("text/plain"));
    }
}
