//! Sorted, compact, immutable label sets.
//!
//! A [`Labels`] owns one heap allocation: a string in which every name and value is
//! preceded by its byte length, written as one or more "length characters" (code
//! points below U+8000, 14 bits each; lengths under 128 take one byte). The pairs are
//! sorted by name and names are unique, so equal sets have equal encodings and
//! `==` / `Hash` are a byte comparison. `__name__` is a label like any other.

mod builder;

use std::cmp::Ordering;
use std::fmt;

use xxhash_rust::xxh3::xxh3_64;

pub use builder::{LabelsBuilder, is_valid_label_name, is_valid_metric_name};

/// The label that holds the metric name.
pub const METRIC_NAME: &str = "__name__";

const LEN_BITS: u32 = 14;
const LEN_MASK: u32 = (1 << LEN_BITS) - 1;
const LEN_MORE: u32 = 1 << LEN_BITS;

/// A sorted set of label pairs with unique names and non-empty values.
///
/// Build one with [`LabelsBuilder`] (validates) or [`Labels::from_sorted`] (trusts the
/// caller, for engines that rebuild sets they validated before).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Labels {
    data: Box<str>,
}

impl Labels {
    /// Returns the empty label set; it does not allocate.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Builds a set from pairs that the caller guarantees are sorted by name, unique
    /// and non-empty. Engines use this to rebuild sets they validated on ingest; the
    /// guarantee is checked in debug builds only.
    pub fn from_sorted<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut data = String::new();
        let mut prev: Option<&str> = None;
        for (name, value) in pairs {
            debug_assert!(prev.is_none_or(|p| p < name), "labels not sorted/unique");
            prev = Some(name);
            push_len(&mut data, name.len());
            data.push_str(name);
            push_len(&mut data, value.len());
            data.push_str(value);
        }
        Self { data: data.into_boxed_str() }
    }

    /// Validates and builds a set from unsorted pairs; see [`LabelsBuilder::build`]
    /// for the rules and failures. Pairs with an empty value are dropped.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> crate::Result<Self> {
        let mut b = LabelsBuilder::new();
        for (name, value) in pairs {
            b.add(name, value)?;
        }
        b.build()
    }

    /// Iterates over `(name, value)` pairs in name order.
    pub fn iter(&self) -> LabelsIter<'_> {
        LabelsIter { rest: &self.data }
    }

    /// Returns the value of label `name`, or `None` when the set lacks it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Returns the metric name (the value of `__name__`), if any.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// Returns the number of pairs.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Returns true when the set has no pairs.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Returns the heap bytes this set owns (for memory accounting).
    pub fn heap_bytes(&self) -> usize {
        self.data.len()
    }

    /// Returns a stable 64-bit hash: xxh3 over the sorted pairs in their canonical
    /// length-prefixed encoding (one contiguous buffer, so hashing is a single pass).
    /// The encoding is canonical, so equal sets hash equally; it is stable across
    /// processes and versions and engines may persist it (changing the encoding
    /// therefore needs a format version bump).
    pub fn stable_hash(&self) -> u64 {
        xxh3_64(self.data.as_bytes())
    }
}

fn push_len(out: &mut String, mut len: usize) {
    loop {
        let low = (len as u32) & LEN_MASK;
        len >>= LEN_BITS;
        let c = if len == 0 { low } else { low | LEN_MORE };
        out.push(char::from_u32(c).expect("length characters are below U+8000"));
        if len == 0 {
            return;
        }
    }
}

/// Reads one length from the front of `s`; returns it and the rest.
#[inline]
fn take_len(s: &str) -> (usize, &str) {
    // Fast path: a length below 128 is one ASCII byte.
    if let Some(&b) = s.as_bytes().first()
        && b < 0x80
    {
        return (usize::from(b), &s[1..]);
    }
    let mut len = 0usize;
    let mut shift = 0;
    for (i, c) in s.char_indices() {
        let c = c as u32;
        len |= ((c & LEN_MASK) as usize) << shift;
        shift += LEN_BITS;
        if c & LEN_MORE == 0 {
            return (len, &s[i + c_len(c)..]);
        }
    }
    panic!("labels encoding invariant: truncated length");
}

fn c_len(c: u32) -> usize {
    char::from_u32(c).map_or(1, char::len_utf8)
}

/// Iterator over the pairs of a [`Labels`], in name order.
#[derive(Debug, Clone)]
pub struct LabelsIter<'a> {
    rest: &'a str,
}

impl<'a> Iterator for LabelsIter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let (n, rest) = take_len(self.rest);
        let (name, rest) = rest.split_at(n);
        let (n, rest) = take_len(rest);
        let (value, rest) = rest.split_at(n);
        self.rest = rest;
        Some((name, value))
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = (&'a str, &'a str);
    type IntoIter = LabelsIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl Ord for Labels {
    /// Orders like Prometheus's `labels.Compare`: pair by pair, name then value, and a
    /// shorter set first when one is a prefix of the other.
    fn cmp(&self, other: &Self) -> Ordering {
        self.iter().cmp(other.iter())
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Labels {
    /// Formats as `{name="value", ...}` with Go-style quoting of values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (name, value)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{name}={value:?}")?;
        }
        f.write_str("}")
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_sorts() {
        let l = Labels::from_pairs([("job", "node"), ("__name__", "up"), ("a", "")]).unwrap();
        let pairs: Vec<_> = l.iter().collect();
        assert_eq!(pairs, vec![("__name__", "up"), ("job", "node")]);
        assert_eq!(l.metric_name(), Some("up"));
        assert_eq!(l.len(), 2);
        assert_eq!(l.to_string(), r#"{__name__="up", job="node"}"#);
    }

    #[test]
    fn long_strings_use_multi_char_lengths() {
        let long = "x".repeat(70_000);
        let l = Labels::from_sorted([("a", long.as_str()), ("b", "y")]);
        assert_eq!(l.get("a").map(str::len), Some(70_000));
        assert_eq!(l.get("b"), Some("y"));
    }

    #[test]
    fn ordering_matches_pairwise_compare() {
        let a = Labels::from_sorted([("a", "1")]);
        let b = Labels::from_sorted([("a", "1"), ("b", "1")]);
        let c = Labels::from_sorted([("a", "2")]);
        assert!(a < b && b < c);
    }

    #[test]
    fn hash_is_stable_and_separates_pairs() {
        let a = Labels::from_sorted([("a", "bc")]);
        let b = Labels::from_sorted([("ab", "c")]);
        assert_ne!(a.stable_hash(), b.stable_hash());
        assert_eq!(a.stable_hash(), Labels::from_sorted([("a", "bc")]).stable_hash());
    }
}
