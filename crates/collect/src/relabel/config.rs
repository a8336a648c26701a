//! Relabeling rules, as Prometheus's `relabel_configs` and `metric_relabel_configs`.
//! This module owns their configuration shape and validation; applying them to
//! targets and samples belongs to the scraper.

use serde::{Deserialize, Serialize};
use wk_config::{Location, Problems, Spanned, unspanned};

/// One relabeling rule. Defaults are Prometheus's: separator `;`, regex `(.*)`,
/// replacement `$1`, action `replace`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelabelConfig {
    /// Labels whose values are joined with `separator` to form the input of `regex`.
    pub source_labels: Vec<String>,
    /// Separator between concatenated source label values.
    pub separator: String,
    /// RE2 regular expression, fully anchored, matched against the joined value.
    pub regex: Spanned<Option<String>>,
    /// Modulus for `hashmod`.
    pub modulus: u64,
    /// Label written by `replace`, `hashmod`, `lowercase`, `uppercase`, compared by
    /// `keepequal` and `dropequal`.
    pub target_label: Option<String>,
    /// Replacement with `$1`-style references to regex groups.
    pub replacement: String,
    /// What to do.
    pub action: Spanned<RelabelAction>,
}

/// The relabeling actions, owned by the crate that applies them.
pub use super::Action as RelabelAction;

impl Default for RelabelConfig {
    fn default() -> Self {
        Self {
            source_labels: Vec::new(),
            separator: ";".to_owned(),
            regex: unspanned(None),
            modulus: 0,
            target_label: None,
            replacement: "$1".to_owned(),
            action: unspanned(RelabelAction::Replace),
        }
    }
}

impl RelabelConfig {
    /// The regex as configured, or Prometheus's default `(.*)`.
    pub fn regex_source(&self) -> &str {
        self.regex.value.as_deref().unwrap_or("(.*)")
    }

    /// Compiles the rule for [`super::process`].
    pub fn compile(&self) -> Result<super::Rule, regex::Error> {
        super::Rule::new(
            self.action.value,
            self.source_labels.clone(),
            &self.separator,
            self.regex_source(),
            self.modulus,
            self.target_label.as_deref().unwrap_or_default(),
            &self.replacement,
        )
    }

    /// Checks the rule the way Prometheus does at load time, adding every problem found.
    pub fn validate(&self, rule_at: Location, problems: &mut Problems) {
        let at = if self.action.referenced == Location::UNKNOWN { rule_at } else { self.action.referenced };
        let action = self.action.value;
        let name = action.as_str();
        if let Err(e) = self.compile() {
            let at = if self.regex.value.is_some() { self.regex.referenced } else { at };
            problems.error(at, format!("invalid regex {:?} in relabel config: {}", self.regex_source(), one_line(&e)));
        }
        let needs_target = matches!(
            action,
            RelabelAction::Replace
                | RelabelAction::HashMod
                | RelabelAction::Lowercase
                | RelabelAction::Uppercase
                | RelabelAction::KeepEqual
                | RelabelAction::DropEqual
        );
        if needs_target && self.target_label.is_none() {
            problems.error(at, format!("relabel configuration for {name} action requires 'target_label' value"));
        }
        if let Some(target) = &self.target_label {
            let plain_name_required = !matches!(action, RelabelAction::Replace);
            if plain_name_required && !is_valid_label_name(target) {
                problems.error(at, format!("{target:?} is invalid 'target_label' for {name} action"));
            }
            if !plain_name_required && !is_valid_label_template(target) {
                problems.error(at, format!("{target:?} is invalid 'target_label' for {name} action"));
            }
        }
        if matches!(action, RelabelAction::Lowercase | RelabelAction::Uppercase) && self.replacement != "$1" {
            problems.error(at, format!("'replacement' can not be set for {name} action"));
        }
        if action == RelabelAction::HashMod && self.modulus == 0 {
            problems.error(at, "relabel configuration for hashmod requires non-zero modulus");
        }
        if action == RelabelAction::LabelMap && !is_valid_label_template(&self.replacement) {
            problems.error(at, format!("{:?} is invalid 'replacement' for labelmap action", self.replacement));
        }
        if matches!(action, RelabelAction::LabelDrop | RelabelAction::LabelKeep) {
            let only_regex = self.source_labels.is_empty()
                && self.target_label.is_none()
                && self.modulus == 0
                && self.separator == ";"
                && self.replacement == "$1";
            if !only_regex {
                problems.error(at, format!("{name} action requires only 'regex', and no other fields"));
            }
        }
        if matches!(action, RelabelAction::KeepEqual | RelabelAction::DropEqual) {
            let extra =
                self.regex.value.is_some() || self.modulus != 0 || self.separator != ";" || self.replacement != "$1";
            if extra {
                problems.error(
                    at,
                    format!("{name} action requires only 'source_labels' and `target_label`, and no other fields"),
                );
            }
        }
    }
}

/// Label names follow Prometheus 3's UTF-8 rules: any non-empty valid UTF-8 string.
/// Names that are not legacy (`[a-zA-Z_][a-zA-Z0-9_]*`) are accepted but discouraged.
pub fn is_valid_label_name(name: &str) -> bool {
    !name.is_empty()
}

/// A replacement that must expand to a label name: literal text plus `$1` / `${name}`
/// references. Every non-empty string qualifies under UTF-8 naming.
fn is_valid_label_template(text: &str) -> bool {
    !text.is_empty()
}

/// A regex error as one line: the `regex` crate prints syntax errors over several
/// lines with a caret diagram, of which the last line says what is wrong.
pub(crate) fn one_line(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines().last().unwrap_or_default().trim_start_matches("error: ").to_owned()
}
