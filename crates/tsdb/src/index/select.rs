//! Matcher evaluation over postings, and label name/value listing.
//!
//! Matchers that do not match the empty string narrow the result: their postings
//! are intersected, cheapest first (exact pairs and literal alternations are direct
//! lookups; other regexes scan the label's distinct values, never the series).
//! Matchers that match the empty string (`!=`, `!~`, `=""`, `=~".*"`) also select
//! series lacking the label, so they subtract the series whose value does *not*
//! match. With no narrowing matcher the start is the set of all series.

use roaring::RoaringBitmap;
use wk_model::{MatchOp, Matcher};

use super::registry::Index;

impl Index {
    /// Returns the refs of the series that match every matcher.
    pub fn select_refs(&self, matchers: &[Matcher]) -> RoaringBitmap {
        let (narrow, widen): (Vec<&Matcher>, Vec<&Matcher>) = matchers.iter().partition(|m| !m.matches_empty());
        // Single-pair postings are borrowed, smallest first; the others are computed
        // (unions over matching values) and applied after them.
        let mut exact: Vec<Option<&RoaringBitmap>> = Vec::new();
        let mut computed: Vec<&Matcher> = Vec::new();
        for m in narrow {
            match m.set_values().as_deref() {
                Some([v]) => exact.push(self.pair(m.name(), v)),
                _ => computed.push(m),
            }
        }
        if exact.iter().any(Option::is_none) {
            return RoaringBitmap::new();
        }
        let mut exact: Vec<&RoaringBitmap> = exact.into_iter().flatten().collect();
        exact.sort_by_key(|p| p.len());
        let mut result: Option<RoaringBitmap> = exact.first().map(|p| (*p).clone());
        for p in exact.iter().skip(1) {
            if let Some(r) = result.as_mut() {
                *r &= *p;
            }
        }
        for m in computed {
            if result.as_ref().is_some_and(RoaringBitmap::is_empty) {
                return RoaringBitmap::new();
            }
            let p = self.matching(m);
            result = Some(match result {
                None => p,
                Some(r) => r & p,
            });
        }
        let mut result = result.unwrap_or_else(|| self.postings.all().clone());
        for m in widen {
            if result.is_empty() {
                break;
            }
            result -= self.not_matching(m);
        }
        result
    }

    /// Returns the postings of `name=value`, if any series has the pair.
    fn pair(&self, name: &str, value: &str) -> Option<&RoaringBitmap> {
        let (n, v) = (self.strings.get(name)?, self.strings.get(value)?);
        self.postings.get(n, v)
    }

    /// Union of postings of the values of `m.name()` that `m` matches.
    fn matching(&self, m: &Matcher) -> RoaringBitmap {
        let mut out = RoaringBitmap::new();
        let Some(name) = self.strings.get(m.name()) else {
            return out;
        };
        if let Some(values) = m.set_values() {
            for v in values {
                if let Some(p) = self.strings.get(v).and_then(|v| self.postings.get(name, v)) {
                    out |= p;
                }
            }
            return out;
        }
        self.union_values(name, &mut out, |v| m.matches(v));
        out
    }

    /// Union of postings of the values of `m.name()` that `m` does not match.
    fn not_matching(&self, m: &Matcher) -> RoaringBitmap {
        let mut out = RoaringBitmap::new();
        let Some(name) = self.strings.get(m.name()) else {
            return out;
        };
        if m.op() == MatchOp::Neq {
            if let Some(p) = self.strings.get(m.value()).and_then(|v| self.postings.get(name, v)) {
                out |= p;
            }
            return out;
        }
        self.union_values(name, &mut out, |v| !m.matches(v));
        out
    }

    fn union_values(&self, name: super::StrId, out: &mut RoaringBitmap, keep: impl Fn(&str) -> bool) {
        for &v in self.postings.values(name) {
            if keep(self.strings.resolve(v))
                && let Some(p) = self.postings.get(name, v)
            {
                *out |= p;
            }
        }
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
