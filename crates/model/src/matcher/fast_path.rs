//! Anchored regexes with fast paths that avoid the regex engine.
//!
//! Recognised shapes, all on patterns whose pieces hold no regex metacharacter:
//! a literal `abc`, `prefix.*`, `.*suffix`, `.*contains.*`, `.*`, `.+` and literal
//! alternations `a|b|c` (a sorted-set lookup). Anything else runs the compiled regex
//! `^(?s:pattern)$`. Property tests check that every fast path agrees with it.

use regex::Regex;

/// Why a pattern failed to compile; converted into `ModelError::InvalidRegex`.
#[derive(Debug, Clone)]
pub struct CompileError {
    /// The pattern as given.
    pub pattern: String,
    /// The compiler's message.
    pub message: String,
}

/// How a pattern is evaluated.
#[derive(Debug, Clone)]
enum Kind {
    Literal(Box<str>),
    Prefix(Box<str>),
    Suffix(Box<str>),
    Contains(Box<str>),
    Any,
    NonEmpty,
    /// Sorted, deduplicated alternatives.
    Set(Box<[Box<str>]>),
    Regex(Regex),
}

/// A compiled, fully anchored regex with an optional fast path.
#[derive(Debug, Clone)]
pub struct FastRegex {
    kind: Kind,
}

impl FastRegex {
    /// Compiles `pattern`, choosing a fast path when the shape allows it.
    pub fn new(pattern: &str) -> Result<Self, CompileError> {
        let kind = match classify(pattern) {
            Some(kind) => kind,
            None => Kind::Regex(anchored(pattern)?),
        };
        Ok(Self { kind })
    }

    /// Returns true when the whole of `v` matches.
    pub fn is_match(&self, v: &str) -> bool {
        match &self.kind {
            Kind::Literal(l) => v == &**l,
            Kind::Prefix(p) => v.starts_with(&**p),
            Kind::Suffix(s) => v.ends_with(&**s),
            Kind::Contains(c) => v.contains(&**c),
            Kind::Any => true,
            Kind::NonEmpty => !v.is_empty(),
            Kind::Set(set) => set.binary_search_by(|x| (**x).cmp(v)).is_ok(),
            Kind::Regex(re) => re.is_match(v),
        }
    }

    /// Returns the finite set of matching values, when the pattern is a literal or a
    /// literal alternation.
    pub fn set_values(&self) -> Option<Vec<&str>> {
        match &self.kind {
            Kind::Literal(l) => Some(vec![&**l]),
            Kind::Set(set) => Some(set.iter().map(|s| &**s).collect()),
            _ => None,
        }
    }

    /// Returns the name of the evaluation strategy, for tests and debugging.
    pub fn strategy(&self) -> &'static str {
        match self.kind {
            Kind::Literal(_) => "literal",
            Kind::Prefix(_) => "prefix",
            Kind::Suffix(_) => "suffix",
            Kind::Contains(_) => "contains",
            Kind::Any => "any",
            Kind::NonEmpty => "non-empty",
            Kind::Set(_) => "set",
            Kind::Regex(_) => "regex",
        }
    }
}

/// Compiles `pattern` the way Prometheus does: `^(?s:pattern)$`.
pub fn anchored(pattern: &str) -> Result<Regex, CompileError> {
    Regex::new(&format!("^(?s:{pattern})$"))
        .map_err(|e| CompileError { pattern: pattern.to_owned(), message: e.to_string() })
}

fn is_plain(s: &str) -> bool {
    !s.bytes().any(|b| b"\\.+*?()|[]{}^$".contains(&b))
}

fn classify(p: &str) -> Option<Kind> {
    if p == ".*" {
        return Some(Kind::Any);
    }
    if p == ".+" {
        return Some(Kind::NonEmpty);
    }
    if is_plain(p) {
        return Some(Kind::Literal(p.into()));
    }
    if let Some(mid) = p.strip_prefix(".*").and_then(|r| r.strip_suffix(".*"))
        && is_plain(mid)
    {
        return Some(Kind::Contains(mid.into()));
    }
    if let Some(prefix) = p.strip_suffix(".*")
        && is_plain(prefix)
    {
        return Some(Kind::Prefix(prefix.into()));
    }
    if let Some(suffix) = p.strip_prefix(".*")
        && is_plain(suffix)
    {
        return Some(Kind::Suffix(suffix.into()));
    }
    let alternatives: Vec<&str> = p.split('|').collect();
    if alternatives.len() > 1 && alternatives.iter().all(|a| is_plain(a)) {
        let mut set: Vec<Box<str>> = alternatives.into_iter().map(Into::into).collect();
        set.sort_unstable();
        set.dedup();
        return Some(Kind::Set(set.into_boxed_slice()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn shapes_pick_their_fast_path() {
        let cases = [
            ("abc", "literal"),
            ("abc.*", "prefix"),
            (".*abc", "suffix"),
            (".*abc.*", "contains"),
            (".*", "any"),
            (".+", "non-empty"),
            ("a|b|c", "set"),
            ("a.c", "regex"),
            ("a\\.c", "regex"),
            ("(?i)a", "regex"),
        ];
        for (p, want) in cases {
            assert_eq!(FastRegex::new(p).unwrap().strategy(), want, "{p}");
        }
    }

    fn pattern() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec!["a", "b", "ab", "ba", ".*", ".+", "|", "\n", "é", ".", "x", "a*", ""]);
        prop::collection::vec(piece, 0..6).prop_map(|v| v.concat())
    }

    fn subject() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(vec!["a", "b", "x", "\n", "é", "."]), 0..6).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn fast_paths_agree_with_the_regex(p in pattern(), subjects in prop::collection::vec(subject(), 1..8)) {
            let Ok(reference) = anchored(&p) else { return Ok(()) };
            let fast = FastRegex::new(&p).unwrap();
            for s in subjects.iter().map(String::as_str).chain(["", "ab", "ba"]) {
                prop_assert_eq!(fast.is_match(s), reference.is_match(s), "{:?} ({}) on {:?}", p, fast.strategy(), s);
            }
        }
    }
}
