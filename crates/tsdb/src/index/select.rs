//! Matcher evaluation over postings, and label name/value listing.
//!
//! Matchers that do not match the empty string narrow the result: their postings
//! are intersected, cheapest first (exact pairs and literal alternations are direct
//! lookups; other regexes scan the label's distinct values, never the series).
//! Matchers that match the empty string (`!=`, `!~`, `=""`, `=~".*"`) also select
//! series lacking the label, so they subtract the series whose value does *not*
//! match. With no narrowing matcher the start is the set of all series.

use std::borrow::Cow;

use roaring::RoaringBitmap;
use wk_model::{MatchOp, Matcher};

use super::registry::Index;

/// What matcher evaluation needs from an index: the head's registry and block
/// indexes implement it, so both select with one algorithm.
pub(crate) trait LabelIndex {
    /// All series.
    fn all_series(&self) -> Cow<'_, RoaringBitmap>;
    /// The series with `name=value`, if any.
    fn pair_postings(&self, name: &str, value: &str) -> Option<Cow<'_, RoaringBitmap>>;
    /// The union of the postings of the values of label `name` for which `keep`
    /// holds.
    fn union_values(&self, name: &str, keep: &dyn Fn(&str) -> bool) -> RoaringBitmap;
}

/// Returns the series of `ix` that match every matcher.
pub(crate) fn select<I: LabelIndex + ?Sized>(ix: &I, matchers: &[Matcher]) -> RoaringBitmap {
    let (narrow, widen): (Vec<&Matcher>, Vec<&Matcher>) = matchers.iter().partition(|m| !m.matches_empty());
    // Single-pair postings are looked up first, smallest first; the others are
    // computed (unions over matching values) and applied after them.
    let mut exact: Vec<Cow<'_, RoaringBitmap>> = Vec::new();
    let mut computed: Vec<&Matcher> = Vec::new();
    for m in narrow {
        match m.set_values().as_deref() {
            Some([v]) => match ix.pair_postings(m.name(), v) {
                Some(p) => exact.push(p),
                None => return RoaringBitmap::new(),
            },
            _ => computed.push(m),
        }
    }
    exact.sort_by_key(|p| p.len());
    let mut exact = exact.into_iter();
    let mut result: Option<RoaringBitmap> = exact.next().map(Cow::into_owned);
    for p in exact {
        if let Some(r) = result.as_mut() {
            *r &= p.as_ref();
        }
    }
    for m in computed {
        if result.as_ref().is_some_and(RoaringBitmap::is_empty) {
            return RoaringBitmap::new();
        }
        let p = matching(ix, m);
        result = Some(match result {
            None => p,
            Some(r) => r & p,
        });
    }
    let mut result = result.unwrap_or_else(|| ix.all_series().into_owned());
    for m in widen {
        if result.is_empty() {
            break;
        }
        result -= not_matching(ix, m);
    }
    result
}

/// Union of postings of the values of `m.name()` that `m` matches.
fn matching<I: LabelIndex + ?Sized>(ix: &I, m: &Matcher) -> RoaringBitmap {
    if let Some(values) = m.set_values() {
        let mut out = RoaringBitmap::new();
        for v in values {
            if let Some(p) = ix.pair_postings(m.name(), v) {
                out |= p.as_ref();
            }
        }
        return out;
    }
    ix.union_values(m.name(), &|v| m.matches(v))
}

/// Union of postings of the values of `m.name()` that `m` does not match.
fn not_matching<I: LabelIndex + ?Sized>(ix: &I, m: &Matcher) -> RoaringBitmap {
    if m.op() == MatchOp::Neq {
        return ix.pair_postings(m.name(), m.value()).map(Cow::into_owned).unwrap_or_default();
    }
    ix.union_values(m.name(), &|v| !m.matches(v))
}

impl LabelIndex for Index {
    fn all_series(&self) -> Cow<'_, RoaringBitmap> {
        Cow::Borrowed(self.postings.all())
    }

    fn pair_postings(&self, name: &str, value: &str) -> Option<Cow<'_, RoaringBitmap>> {
        let (n, v) = (self.strings.get(name)?, self.strings.get(value)?);
        self.postings.get(n, v).map(Cow::Borrowed)
    }

    fn union_values(&self, name: &str, keep: &dyn Fn(&str) -> bool) -> RoaringBitmap {
        let mut out = RoaringBitmap::new();
        let Some(name) = self.strings.get(name) else {
            return out;
        };
        for &v in self.postings.values(name) {
            if keep(self.strings.resolve(v))
                && let Some(p) = self.postings.get(name, v)
            {
                out |= p;
            }
        }
        out
    }
}

impl Index {
    /// Returns the refs of the series that match every matcher.
    pub fn select_refs(&self, matchers: &[Matcher]) -> RoaringBitmap {
        select(self, matchers)
    }

    /// Returns the sorted label names used by the series matching `matchers`
    /// (all series when empty).
    pub fn label_names(&self, matchers: &[Matcher]) -> Vec<String> {
        let mut names: Vec<String> = if matchers.is_empty() {
            self.postings.names().map(|n| self.strings.resolve(n).to_owned()).collect()
        } else {
            let refs = self.select_refs(matchers);
            let mut ids: Vec<super::StrId> = refs.iter().flat_map(|r| self.pairs(r).map(|(n, _)| n)).collect();
            ids.sort_unstable();
            ids.dedup();
            ids.into_iter().map(|n| self.strings.resolve(n).to_owned()).collect()
        };
        names.sort_unstable();
        names
    }

    /// Returns the sorted distinct values of label `name` over the series matching
    /// `matchers` (all series when empty).
    pub fn label_values(&self, name: &str, matchers: &[Matcher]) -> Vec<String> {
        let Some(name_id) = self.strings.get(name) else {
            return Vec::new();
        };
        let refs = (!matchers.is_empty()).then(|| self.select_refs(matchers));
        let mut values: Vec<String> = self
            .postings
            .values(name_id)
            .iter()
            .filter(|&&v| match (&refs, self.postings.get(name_id, v)) {
                (None, _) => true,
                (Some(refs), Some(p)) => !refs.is_disjoint(p),
                (Some(_), None) => false,
            })
            .map(|&v| self.strings.resolve(v).to_owned())
            .collect();
        values.sort_unstable();
        values
    }
}

#[cfg(test)]
mod tests {
    use wk_model::Labels;

    use super::*;

    fn index() -> Index {
        let mut idx = Index::default();
        for (i, pairs) in [
            vec![("__name__", "up"), ("job", "node"), ("instance", "a")],
            vec![("__name__", "up"), ("job", "node"), ("instance", "b")],
            vec![("__name__", "up"), ("job", "api")],
            vec![("__name__", "down"), ("job", "api"), ("env", "prod")],
        ]
        .into_iter()
        .enumerate()
        {
            let l = Labels::from_pairs(pairs).unwrap();
            idx.create(&l, i as u64);
        }
        idx
    }

    fn sel(idx: &Index, ms: &[(MatchOp, &str, &str)]) -> Vec<u32> {
        let ms: Vec<_> = ms.iter().map(|&(op, n, v)| Matcher::new(op, n, v).unwrap()).collect();
        idx.select_refs(&ms).iter().collect()
    }

    #[test]
    fn matcher_semantics() {
        let idx = index();
        use MatchOp::*;
        assert_eq!(sel(&idx, &[(Eq, "__name__", "up")]), [0, 1, 2]);
        assert_eq!(sel(&idx, &[(Eq, "__name__", "up"), (Neq, "job", "node")]), [2]);
        assert_eq!(sel(&idx, &[(Eq, "__name__", "up"), (Eq, "instance", "")]), [2]);
        assert_eq!(sel(&idx, &[(Re, "instance", "a|b")]), [0, 1]);
        assert_eq!(sel(&idx, &[(Re, "job", ".*")]), [0, 1, 2, 3]);
        assert_eq!(sel(&idx, &[(Nre, "instance", "a.*")]), [1, 2, 3]);
        assert_eq!(sel(&idx, &[(Re, "job", "n.+"), (Re, "instance", "b|c")]), [1]);
        assert_eq!(sel(&idx, &[(Eq, "nope", "x")]), Vec::<u32>::new());
        assert_eq!(sel(&idx, &[]), [0, 1, 2, 3]);
    }

    #[test]
    fn names_and_values() {
        let idx = index();
        assert_eq!(idx.label_names(&[]), ["__name__", "env", "instance", "job"]);
        let up = [Matcher::eq("__name__", "up")];
        assert_eq!(idx.label_names(&up), ["__name__", "instance", "job"]);
        assert_eq!(idx.label_values("job", &[]), ["api", "node"]);
        assert_eq!(idx.label_values("env", &up), Vec::<String>::new());
        assert_eq!(idx.label_values("instance", &up), ["a", "b"]);
    }
}
