//! Every error and warning of one configuration load, each with its position, so that
//! all of them can be reported at once.

use std::fmt;

use serde::{Deserialize, Deserializer};
use serde_saphyr::{Location, Spanned};

/// How serious a configuration finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The configuration is rejected.
    Error,
    /// The configuration is accepted; something in it is ignored or discouraged.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Error => "error",
            Self::Warning => "warning",
        })
    }
}

/// One finding, with the position it concerns (line and column are 1-based; 0 when
/// the finding concerns the file as a whole).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// 1-based line, 0 if unknown.
    pub line: u64,
    /// 1-based column, 0 if unknown.
    pub column: u64,
    /// What is wrong, in words an operator can act on.
    pub message: String,
}

/// The findings of one load.
#[derive(Debug, Default)]
pub struct Problems(Vec<Diagnostic>);

impl Problems {
    fn push(&mut self, severity: Severity, at: Location, message: impl Into<String>) {
        self.0.push(Diagnostic { severity, line: at.line(), column: at.column(), message: message.into() });
    }

    /// Adds an error at `at`.
    pub fn error(&mut self, at: Location, message: impl Into<String>) {
        self.push(Severity::Error, at, message);
    }

    /// Adds a warning at `at`.
    pub fn warning(&mut self, at: Location, message: impl Into<String>) {
        self.push(Severity::Warning, at, message);
    }

    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    /// The findings in file order (line, then column).
    pub fn into_sorted(self) -> Vec<Diagnostic> {
        let mut findings = self.0;
        findings.sort_by_key(|d| (d.line, d.column));
        findings
    }
}

/// Non-null entries of a list whose items may be written as `-` alone, each with its
/// position; each null entry is reported as `empty or null {what}`.
pub fn entries<'a, T>(list: &'a [Spanned<Option<T>>], what: &str, problems: &mut Problems) -> Vec<(&'a T, Location)> {
    let mut out = Vec::with_capacity(list.len());
    for item in list {
        match &item.value {
            Some(value) => out.push((value, item.referenced)),
            None => problems.error(item.referenced, format!("empty or null {what}")),
        }
    }
    out
}

/// Reads a section that may be written empty (`web:` alone) as its defaults. Use as
/// `#[serde(deserialize_with = "wk_config::null_as_default")]`.
pub fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A value without a position, for defaults.
pub fn unspanned<T>(value: T) -> Spanned<T> {
    Spanned::new(value, Location::UNKNOWN, Location::UNKNOWN)
}
