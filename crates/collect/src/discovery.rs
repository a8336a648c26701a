//! Target discovery: the groups of targets a scrape job scrapes. `static_configs` are
//! read from the configuration; `file_sd_configs` files (JSON or YAML, the format
//! Prometheus documents) are read on start and re-read when they change;
//! [`dns_sd`] and [`http_sd`] ask DNS servers and HTTP endpoints every
//! `refresh_interval` (the scrape manager runs them).

pub mod dns_sd;
pub mod http_sd;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Deserialize;

use crate::scrape::{FileSdConfig, ScrapeConfig, TargetGroup};

/// The groups written in the job's `static_configs`.
pub fn static_groups(job: &ScrapeConfig) -> Vec<TargetGroup> {
    job.static_configs
        .iter()
        .filter_map(|c| c.value.as_ref())
        .enumerate()
        .map(|(i, config)| TargetGroup {
            source: format!("static/{i}"),
            targets: config.targets.iter().map(|t| BTreeMap::from([("__address__".to_owned(), t.clone())])).collect(),
            labels: config.labels.clone(),
        })
        .collect()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileGroup {
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Reads one file_sd file. Errors name the file and what is wrong with it.
pub fn read_file_groups(path: &Path) -> Result<Vec<TargetGroup>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path.to_string_lossy();
    let groups: Vec<FileGroup> = if name.ends_with(".json") {
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
    } else if name.ends_with(".yml") || name.ends_with(".yaml") {
        if text.trim().is_empty() {
            Vec::new()
        } else {
            serde_saphyr::from_str::<Option<Vec<FileGroup>>>(&text)
                .map_err(|e| format!("{}: {}", path.display(), e.to_string().lines().next().unwrap_or_default()))?
                .unwrap_or_default()
        }
    } else {
        return Err(format!("{}: file_sd files must end in .json, .yml or .yaml", path.display()));
    };
    let mut out = Vec::with_capacity(groups.len());
    for (i, group) in groups.into_iter().enumerate() {
        for target in &group.targets {
            if target.contains('/') {
                return Err(format!("{}: group {i}: {target:?} is not a valid hostname", path.display()));
            }
        }
        let mut labels = group.labels;
        labels.insert("__meta_filepath".to_owned(), path.display().to_string());
        out.push(TargetGroup {
            source: format!("{}:{i}", path.display()),
            targets: group.targets.into_iter().map(|t| BTreeMap::from([("__address__".to_owned(), t)])).collect(),
            labels,
        });
    }
    Ok(out)
}

/// The files a `file_sd_configs` entry names now: each pattern's last path element
/// may hold `*`, `?` and `[...]`; results are sorted.
pub fn expand_patterns(config: &FileSdConfig, base: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for pattern in &config.files {
        let pattern = base.join(pattern);
        let (dir, name) = match (pattern.parent(), pattern.file_name()) {
            (Some(dir), Some(name)) => (dir.to_owned(), name.to_string_lossy().into_owned()),
            _ => continue,
        };
        if !name.contains(['*', '?', '[']) {
            files.push(pattern);
            continue;
        }
        let Ok(matcher) = glob_regex(&name) else { continue };
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                if matcher.is_match(&entry.file_name().to_string_lossy()) {
                    files.push(entry.path());
                }
            }
        }
    }
    files.sort();
    files.dedup();
    files
}

fn glob_regex(glob: &str) -> Result<regex::Regex, regex::Error> {
    let mut re = String::from("^");
    let mut in_class = false;
    for c in glob.chars() {
        match c {
            '*' if !in_class => re.push_str("[^/]*"),
            '?' if !in_class => re.push_str("[^/]"),
            '[' if !in_class => {
                in_class = true;
                re.push('[');
            }
            ']' if in_class => {
                in_class = false;
                re.push(']');
            }
            '!' if in_class && re.ends_with('[') => re.push('^'),
            c if in_class => re.push(c),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re)
}

/// A set of file_sd files and what they held when last read, to re-read only on
/// change (modification time or size).
#[derive(Debug, Default)]
pub struct FileWatch {
    seen: BTreeMap<PathBuf, (Option<SystemTime>, u64)>,
}

impl FileWatch {
    /// Whether any file matching `config` appeared, vanished or changed since the last
    /// call.
    pub fn changed(&mut self, config: &FileSdConfig, base: &Path) -> bool {
        let now: BTreeMap<PathBuf, (Option<SystemTime>, u64)> = expand_patterns(config, base)
            .into_iter()
            .filter_map(|p| {
                let meta = std::fs::metadata(&p).ok()?;
                Some((p, (meta.modified().ok(), meta.len())))
            })
            .collect();
        let changed = now != self.seen;
        self.seen = now;
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_json_and_yaml_groups() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("a.json");
        std::fs::write(&json, r#"[{"targets": ["h1:9100", "h2:9100"], "labels": {"env": "prod"}}]"#).unwrap();
        let groups = read_file_groups(&json).unwrap();
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].targets.len(), 2);
        assert_eq!(groups[0].labels.get("env").map(String::as_str), Some("prod"));
        assert_eq!(groups[0].labels.get("__meta_filepath"), Some(&json.display().to_string()));

        let yaml = dir.path().join("b.yml");
        std::fs::write(&yaml, "- targets: ['h3:9100']\n").unwrap();
        assert_eq!(read_file_groups(&yaml).unwrap()[0].targets[0]["__address__"], "h3:9100");

        std::fs::write(&yaml, "- targets: ['h3:9100']\n  lables: {}\n").unwrap();
        assert!(read_file_groups(&yaml).unwrap_err().contains("b.yml"));
        std::fs::write(&json, "[{").unwrap();
        assert!(read_file_groups(&json).unwrap_err().contains("a.json"));
        std::fs::write(&json, r#"[{"targets": ["http://x/y"]}]"#).unwrap();
        assert!(read_file_groups(&json).unwrap_err().contains("not a valid hostname"));
    }

    #[test]
    fn globs_in_the_last_element_and_change_detection() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("one.json"), "[]").unwrap();
        std::fs::write(dir.path().join("two.json"), "[]").unwrap();
        std::fs::write(dir.path().join("skip.yml"), "").unwrap();
        let config = FileSdConfig { files: vec!["*.json".to_owned()], ..Default::default() };
        let files = expand_patterns(&config, dir.path());
        let names: Vec<_> = files.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, vec!["one.json", "two.json"]);

        let mut watch = FileWatch::default();
        assert!(watch.changed(&config, dir.path()), "first look");
        assert!(!watch.changed(&config, dir.path()));
        std::fs::write(dir.path().join("one.json"), r#"[{"targets": ["a:1"]}]"#).unwrap();
        assert!(watch.changed(&config, dir.path()), "size changed");
        std::fs::remove_file(dir.path().join("two.json")).unwrap();
        assert!(watch.changed(&config, dir.path()), "file vanished");
    }

    #[test]
    fn glob_classes() {
        assert!(glob_regex("node-[0-9].json").unwrap().is_match("node-3.json"));
        assert!(!glob_regex("node-[!0-9].json").unwrap().is_match("node-3.json"));
        assert!(glob_regex("a?c.yml").unwrap().is_match("abc.yml"));
        assert!(!glob_regex("a.c").unwrap().is_match("abc"), "dots are literal");
    }
}
