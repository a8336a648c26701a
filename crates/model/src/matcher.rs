//! Label matchers with Prometheus semantics.
//!
//! A regex matcher is fully anchored: the pattern `p` is compiled as `^(?s:p)$`, as
//! Prometheus does (RE2 syntax via the `regex` crate; `.` also matches a newline).
//! Common shapes skip the regex engine; see [`fast_path`]. A label a series lacks
//! has the value `""`, so a matcher that matches the empty string also selects series
//! without the label.

pub mod fast_path;

use std::fmt;

use crate::ModelError;
use fast_path::FastRegex;

/// The comparison a [`Matcher`] applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `name="value"`: equal.
    Eq,
    /// `name!="value"`: not equal.
    Neq,
    /// `name=~"regex"`: the whole value matches.
    Re,
    /// `name!~"regex"`: the whole value does not match.
    Nre,
}

impl MatchOp {
    /// Returns the PromQL spelling of the operator.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Eq => "=",
            MatchOp::Neq => "!=",
            MatchOp::Re => "=~",
            MatchOp::Nre => "!~",
        }
    }
}

/// One label matcher, such as `mode=~"idle|iowait"`. Owns its name, value and the
/// compiled form of a regex.
#[derive(Clone)]
pub struct Matcher {
    name: String,
    op: MatchOp,
    value: String,
    re: Option<FastRegex>,
    matches_empty: bool,
}

impl Matcher {
    /// Creates a matcher; fails with [`ModelError::InvalidRegex`] when `op` is a regex
    /// operator and `value` does not compile.
    pub fn new(op: MatchOp, name: impl Into<String>, value: impl Into<String>) -> crate::Result<Self> {
        let (name, value) = (name.into(), value.into());
        let re = match op {
            MatchOp::Re | MatchOp::Nre => Some(FastRegex::new(&value)?),
            MatchOp::Eq | MatchOp::Neq => None,
        };
        let mut m = Self { name, op, value, re, matches_empty: false };
        m.matches_empty = m.matches("");
        Ok(m)
    }

    /// Shorthand for an equality matcher, which cannot fail.
    pub fn eq(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self::new(MatchOp::Eq, name, value).expect("equality matchers always build")
    }

    /// Returns the label name this matcher tests.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the operator.
    pub fn op(&self) -> MatchOp {
        self.op
    }

    /// Returns the value or pattern as given, without anchors.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Returns true when the label value `v` (`""` for an absent label) is selected.
    pub fn matches(&self, v: &str) -> bool {
        match (self.op, &self.re) {
            (MatchOp::Eq, _) => v == self.value,
            (MatchOp::Neq, _) => v != self.value,
            (MatchOp::Re, Some(re)) => re.is_match(v),
            (MatchOp::Nre, Some(re)) => !re.is_match(v),
            (MatchOp::Re | MatchOp::Nre, None) => {
                unreachable!("regex matchers are compiled in new")
            }
        }
    }

    /// Returns true when this matcher selects the empty string, and so series that
    /// lack the label. Precomputed.
    pub fn matches_empty(&self) -> bool {
        self.matches_empty
    }

    /// For `=~` with a literal alternation (or `=` with a non-empty value), returns the
    /// exact set of values that match, so an index can look them up instead of
    /// scanning all values of the label.
    pub fn set_values(&self) -> Option<Vec<&str>> {
        match (self.op, &self.re) {
            (MatchOp::Eq, _) if !self.value.is_empty() => Some(vec![self.value.as_str()]),
            (MatchOp::Re, Some(re)) => re.set_values(),
            _ => None,
        }
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl fmt::Display for Matcher {
    /// Formats as PromQL, for example `mode=~"idle|iowait"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op.as_str(), self.value)
    }
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<fast_path::CompileError> for ModelError {
    fn from(e: fast_path::CompileError) -> Self {
        ModelError::InvalidRegex { pattern: e.pattern, message: e.message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(op: MatchOp, v: &str) -> Matcher {
        Matcher::new(op, "l", v).unwrap()
    }

    #[test]
    fn table_of_prometheus_semantics() {
        let cases: &[(MatchOp, &str, &str, bool)] = &[
            (MatchOp::Eq, "a", "a", true),
            (MatchOp::Eq, "a", "", false),
            (MatchOp::Eq, "", "", true),
            (MatchOp::Neq, "a", "", true),
            (MatchOp::Re, "a|b", "b", true),
            (MatchOp::Re, "a|b", "ab", false),
            (MatchOp::Re, "a.*", "abc", true),
            (MatchOp::Re, "a.*", "ba", false),
            (MatchOp::Re, ".*", "", true),
            (MatchOp::Re, ".+", "", false),
            (MatchOp::Re, ".*c", "a\nc", true),
            (MatchOp::Re, "b", "abc", false),
            (MatchOp::Nre, "a|b", "c", true),
            (MatchOp::Nre, "", "", false),
            (MatchOp::Re, "(?i)abc", "ABC", true),
            (MatchOp::Re, "x|", "", true),
        ];
        for &(op, pat, v, want) in cases {
            assert_eq!(m(op, pat).matches(v), want, "{op:?} {pat:?} {v:?}");
        }
        assert!(m(MatchOp::Neq, "x").matches_empty());
        assert!(!m(MatchOp::Re, ".+").matches_empty());
    }

    #[test]
    fn bad_regex_is_a_typed_error() {
        let err = Matcher::new(MatchOp::Re, "l", "(").unwrap_err();
        assert!(matches!(err, ModelError::InvalidRegex { ref pattern, .. } if pattern == "("));
    }

    #[test]
    fn set_values_for_alternations() {
        assert_eq!(m(MatchOp::Re, "b|a").set_values(), Some(vec!["a", "b"]));
        assert_eq!(m(MatchOp::Eq, "a").set_values(), Some(vec!["a"]));
        assert_eq!(m(MatchOp::Re, "a.*").set_values(), None);
    }
}
