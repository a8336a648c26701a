//! The series registry: dense refs, interned label sets, lookup by hash.

use wk_model::{Labels, METRIC_NAME};

use super::intern::{Interner, StrId};
use super::mix_hash::MixMap;
use super::postings::Postings;

/// The series registry and its postings. The head keeps it behind one `RwLock`:
/// lookups share it, series creation takes it exclusively (rare after warm-up).
///
/// Per series it stores only the interned label pairs in one arena (two `u32` per
/// label plus one offset), one hash-map entry and its postings bits.
#[derive(Debug, Default)]
pub struct Index {
    pub(crate) strings: Interner,
    /// `offsets[r]..offsets[r + 1]` is series `r`'s range in `label_ids`.
    offsets: Vec<u32>,
    /// Alternating name and value ids, sorted by name within a series.
    label_ids: Vec<StrId>,
    /// First series for each label hash.
    by_hash: MixMap<u64, u32>,
    /// Further series whose hash collides with the first (almost always empty).
    collisions: MixMap<u64, Vec<u32>>,
    pub(crate) postings: Postings,
    /// Series count per metric name (value id of `__name__`).
    per_metric: MixMap<StrId, u32>,
    /// Series count per scrape target: value ids of `job` and `instance`.
    per_target: MixMap<u64, u32>,
    /// Refs removed by garbage collection (never reused).
    removed: u32,
}

fn target_key(job: StrId, instance: StrId) -> u64 {
    (u64::from(job.0) << 32) | u64::from(instance.0)
}

impl Index {
    /// Returns the number of live series (removed ones excluded).
    pub fn len(&self) -> usize {
        self.refs_allocated() - self.removed as usize
    }

    /// Returns the number of refs ever handed out (live and removed); refs are
    /// dense and never reused.
    pub fn refs_allocated(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Returns true when there are no series.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Finds the series with exactly `labels`, whose stable hash is `hash`.
    pub fn lookup(&self, labels: &Labels, hash: u64) -> Option<u32> {
        let first = *self.by_hash.get(&hash)?;
        if self.labels_equal(first, labels) {
            return Some(first);
        }
        let more = self.collisions.get(&hash)?;
        more.iter().copied().find(|&r| self.labels_equal(r, labels))
    }

    /// Returns the number of series with metric name `name`.
    pub fn series_for_metric(&self, name: &str) -> u32 {
        self.strings.get(name).and_then(|id| self.per_metric.get(&id).copied()).unwrap_or(0)
    }

    /// Returns the number of series of the scrape target (`job`, `instance`) of
    /// `labels`, or `None` when `labels` lacks either label.
    pub fn series_for_target(&self, labels: &Labels) -> Option<u32> {
        let (job, instance) = (labels.get("job")?, labels.get("instance")?);
        let key = match (self.strings.get(job), self.strings.get(instance)) {
            (Some(j), Some(i)) => target_key(j, i),
            _ => return Some(0),
        };
        Some(self.per_target.get(&key).copied().unwrap_or(0))
    }

    /// Registers a new series and returns its ref. The caller has checked that it
    /// does not exist and that limits allow it.
    pub fn create(&mut self, labels: &Labels, hash: u64) -> u32 {
        let r = u32::try_from(self.refs_allocated()).expect("fewer than 2^32 series");
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        for (name, value) in labels {
            let (n, v) = (self.strings.intern(name), self.strings.intern(value));
            self.label_ids.push(n);
            self.label_ids.push(v);
            self.postings.add(r, n, v);
            if name == METRIC_NAME {
                *self.per_metric.entry(v).or_default() += 1;
            }
        }
        if let (Some(job), Some(instance)) = (labels.get("job"), labels.get("instance")) {
            let key = target_key(self.strings.intern(job), self.strings.intern(instance));
            *self.per_target.entry(key).or_default() += 1;
        }
        let end = u32::try_from(self.label_ids.len()).expect("label arena below 2^32 entries");
        self.offsets.push(end);
        self.postings.add_series(r);
        match self.by_hash.entry(hash) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(r);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.collisions.entry(hash).or_default().push(r);
            }
        }
        r
    }

    /// Removes the series `refs` from lookups, postings and counts. Their refs
    /// are never handed out again; their label strings stay interned and their
    /// arena entries stay (a few bytes each) so that readers holding a ref can
    /// still name it.
    pub fn remove_all(&mut self, refs: &[u32]) {
        let mut emptied = Vec::new();
        for &r in refs {
            self.remove(r, &mut emptied);
        }
        emptied.sort_unstable();
        emptied.dedup();
        for name in emptied {
            self.postings.prune_values(name);
        }
    }

    fn remove(&mut self, r: u32, emptied: &mut Vec<StrId>) {
        let pairs: Vec<(StrId, StrId)> = self.pairs(r).collect();
        let hash = {
            let labels = self.labels(r);
            labels.stable_hash()
        };
        match self.by_hash.get(&hash) {
            Some(&first) if first == r => {
                let next = self.collisions.get_mut(&hash).and_then(|more| (!more.is_empty()).then(|| more.remove(0)));
                match next {
                    Some(n) => {
                        self.by_hash.insert(hash, n);
                    }
                    None => {
                        self.by_hash.remove(&hash);
                    }
                }
            }
            _ => {
                if let Some(more) = self.collisions.get_mut(&hash) {
                    more.retain(|&x| x != r);
                }
            }
        }
        if self.collisions.get(&hash).is_some_and(Vec::is_empty) {
            self.collisions.remove(&hash);
        }
        let (mut job, mut instance) = (None, None);
        for &(n, v) in &pairs {
            if self.postings.remove(r, n, v) {
                emptied.push(n);
            }
            match self.strings.resolve(n) {
                METRIC_NAME => {
                    if let Some(c) = self.per_metric.get_mut(&v) {
                        *c -= 1;
                        if *c == 0 {
                            self.per_metric.remove(&v);
                        }
                    }
                }
                "job" => job = Some(v),
                "instance" => instance = Some(v),
                _ => {}
            }
        }
        if let (Some(j), Some(i)) = (job, instance)
            && let Some(c) = self.per_target.get_mut(&target_key(j, i))
        {
            *c -= 1;
            if *c == 0 {
                self.per_target.remove(&target_key(j, i));
            }
        }
        self.postings.remove_series(r);
        self.removed += 1;
    }

    /// Returns the interned pairs of series `r`. Panics on an unknown ref (an
    /// internal invariant: refs come from this index).
    pub fn pairs(&self, r: u32) -> impl Iterator<Item = (StrId, StrId)> + '_ {
        let (start, end) = (self.offsets[r as usize], self.offsets[r as usize + 1]);
        self.label_ids[start as usize..end as usize].chunks_exact(2).map(|p| (p[0], p[1]))
    }

    /// Rebuilds the label set of series `r`.
    pub fn labels(&self, r: u32) -> Labels {
        Labels::from_sorted(self.pairs(r).map(|(n, v)| (self.strings.resolve(n), self.strings.resolve(v))))
    }

    /// Returns true when series `r` has exactly `labels`.
    pub fn labels_equal(&self, r: u32, labels: &Labels) -> bool {
        let mut mine = self.pairs(r);
        let mut theirs = labels.iter();
        loop {
            match (mine.next(), theirs.next()) {
                (None, None) => return true,
                (Some((n, v)), Some((tn, tv))) => {
                    if self.strings.resolve(n) != tn || self.strings.resolve(v) != tv {
                        return false;
                    }
                }
                _ => return false,
            }
        }
    }

    /// Compares the label sets of two series like `Labels`'s `Ord`, without
    /// building them.
    pub fn cmp_series(&self, a: u32, b: u32) -> std::cmp::Ordering {
        let resolve = |(n, v): (StrId, StrId)| (self.strings.resolve(n), self.strings.resolve(v));
        self.pairs(a).map(resolve).cmp(self.pairs(b).map(resolve))
    }

    /// Returns the per-metric series counts as `(metric name id, count)`.
    pub(crate) fn per_metric(&self) -> impl Iterator<Item = (StrId, u32)> + '_ {
        self.per_metric.iter().map(|(&k, &v)| (k, v))
    }

    /// Returns approximate heap bytes of the registry's own arrays and maps.
    pub fn heap_bytes_estimate(&self) -> usize {
        self.offsets.capacity() * 4
            + self.label_ids.capacity() * 4
            + self.by_hash.capacity() * 13
            + self.strings.string_bytes()
            + self.postings.bitmap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied()).unwrap()
    }

    #[test]
    fn colliding_hashes_keep_series_apart() {
        let mut idx = Index::default();
        let a = l(&[("__name__", "up"), ("job", "a")]);
        let b = l(&[("__name__", "up"), ("job", "b")]);
        // Force a collision by registering both under one hash.
        let ra = idx.create(&a, 42);
        let rb = idx.create(&b, 42);
        assert_eq!(idx.lookup(&a, 42), Some(ra));
        assert_eq!(idx.lookup(&b, 42), Some(rb));
        assert_eq!(idx.lookup(&l(&[("job", "c")]), 42), None);
        assert_eq!(idx.labels(rb), b);
        assert_eq!(idx.series_for_metric("up"), 2);
        assert_eq!(idx.strings.len(), 5);
    }
}
