//! Relabeling, with Prometheus's semantics: the rules of `relabel_configs`,
//! `metric_relabel_configs` and `alert_relabel_configs` applied to a label set.
//!
//! A [`Rule`] is compiled once (its regex anchored as `^(?:regex)$`) and applied many
//! times; [`process`] runs a list of rules and says whether the label set survives.
//! Label sets are `(name, value)` pairs sorted by name, with unique names.

mod config;

pub use config::{RelabelAction, RelabelConfig};
use md5::{Digest, Md5};
use regex::Regex;
use serde::{Deserialize, Serialize};

/// The relabeling actions Prometheus defines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Write `replacement` (with regex groups expanded) to `target_label`.
    #[default]
    Replace,
    /// Keep label sets whose joined source value matches `regex`.
    Keep,
    /// Drop label sets whose joined source value matches `regex`.
    Drop,
    /// Keep when the joined source value equals the value of `target_label`.
    KeepEqual,
    /// Drop when the joined source value equals the value of `target_label`.
    DropEqual,
    /// Write the hash of the joined source value modulo `modulus` to `target_label`.
    HashMod,
    /// Copy labels whose names match `regex` to names built from `replacement`.
    LabelMap,
    /// Remove labels whose names match `regex`.
    LabelDrop,
    /// Remove labels whose names do not match `regex`.
    LabelKeep,
    /// Write the lowercased joined source value to `target_label`.
    Lowercase,
    /// Write the uppercased joined source value to `target_label`.
    Uppercase,
}

impl Action {
    /// The action as written in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Replace => "replace",
            Self::Keep => "keep",
            Self::Drop => "drop",
            Self::KeepEqual => "keepequal",
            Self::DropEqual => "dropequal",
            Self::HashMod => "hashmod",
            Self::LabelMap => "labelmap",
            Self::LabelDrop => "labeldrop",
            Self::LabelKeep => "labelkeep",
            Self::Lowercase => "lowercase",
            Self::Uppercase => "uppercase",
        }
    }
}

/// A compiled relabeling rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Labels whose values are joined to form the input.
    pub source_labels: Vec<String>,
    /// Joins the source values.
    pub separator: String,
    /// The anchored regex.
    pub regex: Regex,
    /// For `hashmod`.
    pub modulus: u64,
    /// The label written or compared.
    pub target_label: String,
    /// The replacement template.
    pub replacement: String,
    /// What to do.
    pub action: Action,
}

impl Rule {
    /// Compiles a rule; `regex` is anchored here. The error is the regex crate's
    /// message, for the caller to place in its configuration report.
    pub fn new(
        action: Action,
        source_labels: Vec<String>,
        separator: &str,
        regex: &str,
        modulus: u64,
        target_label: &str,
        replacement: &str,
    ) -> Result<Self, regex::Error> {
        Ok(Self {
            source_labels,
            separator: separator.to_owned(),
            regex: Regex::new(&format!("^(?:{regex})$"))?,
            modulus,
            target_label: target_label.to_owned(),
            replacement: replacement.to_owned(),
            action,
        })
    }
}

/// Applies `rules` in order to `labels` (sorted by name, unique names). Returns false
/// when a rule drops the label set; `labels` is then left in an unspecified state.
/// Labels set to an empty value are removed, as in Prometheus.
pub fn process(labels: &mut Vec<(String, String)>, rules: &[Rule]) -> bool {
    rules.iter().all(|rule| apply(labels, rule))
}

fn apply(labels: &mut Vec<(String, String)>, rule: &Rule) -> bool {
    let value = joined_source(labels, rule);
    match rule.action {
        Action::Keep => rule.regex.is_match(&value),
        Action::Drop => !rule.regex.is_match(&value),
        Action::KeepEqual => get(labels, &rule.target_label) == value,
        Action::DropEqual => get(labels, &rule.target_label) != value,
        Action::Replace => {
            if let Some(captures) = rule.regex.captures(&value) {
                let mut target = String::new();
                captures.expand(&rule.target_label, &mut target);
                if target.is_empty() {
                    return true;
                }
                let mut result = String::new();
                captures.expand(&rule.replacement, &mut result);
                set(labels, &target, result);
            }
            true
        }
        Action::Lowercase => {
            set(labels, &rule.target_label, value.to_lowercase());
            true
        }
        Action::Uppercase => {
            set(labels, &rule.target_label, value.to_uppercase());
            true
        }
        Action::HashMod => {
            let digest = Md5::digest(value.as_bytes());
            let tail: [u8; 8] = digest[8..16].try_into().expect("md5 is 16 bytes");
            let modulus = rule.modulus.max(1);
            set(labels, &rule.target_label, (u64::from_be_bytes(tail) % modulus).to_string());
            true
        }
        Action::LabelMap => {
            let mapped: Vec<(String, String)> = labels
                .iter()
                .filter_map(|(name, value)| {
                    let captures = rule.regex.captures(name)?;
                    let mut new_name = String::new();
                    captures.expand(&rule.replacement, &mut new_name);
                    Some((new_name, value.clone()))
                })
                .collect();
            for (name, value) in mapped {
                set(labels, &name, value);
            }
            true
        }
        Action::LabelDrop => {
            labels.retain(|(name, _)| !rule.regex.is_match(name));
            true
        }
        Action::LabelKeep => {
            labels.retain(|(name, _)| rule.regex.is_match(name));
            true
        }
    }
}

fn joined_source(labels: &[(String, String)], rule: &Rule) -> String {
    let mut out = String::new();
    for (i, name) in rule.source_labels.iter().enumerate() {
        if i > 0 {
            out.push_str(&rule.separator);
        }
        out.push_str(get(labels, name));
    }
    out
}

fn get<'a>(labels: &'a [(String, String)], name: &str) -> &'a str {
    labels.binary_search_by(|(n, _)| n.as_str().cmp(name)).map(|i| labels[i].1.as_str()).unwrap_or("")
}

fn set(labels: &mut Vec<(String, String)>, name: &str, value: String) {
    match labels.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
        Ok(i) if value.is_empty() => {
            labels.remove(i);
        }
        Ok(i) => labels[i].1 = value,
        Err(_) if value.is_empty() => {}
        Err(i) => labels.insert(i, (name.to_owned(), value)),
    }
}

#[cfg(test)]
mod tests;
