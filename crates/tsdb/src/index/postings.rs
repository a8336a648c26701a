//! Postings: which series carry each `name=value` pair.

use roaring::RoaringBitmap;

use super::intern::StrId;
use super::mix_hash::MixMap;

/// Roaring bitmaps of series refs per label pair, the distinct values of each label
/// name, and the set of all series. Owned by [`super::Index`] and changed only under
/// its write lock.
#[derive(Debug, Default)]
pub struct Postings {
    pairs: MixMap<u64, RoaringBitmap>,
    values: MixMap<StrId, Vec<StrId>>,
    all: RoaringBitmap,
}

fn key(name: StrId, value: StrId) -> u64 {
    (u64::from(name.0) << 32) | u64::from(value.0)
}

fn push(bitmap: &mut RoaringBitmap, r: u32) {
    // Refs grow monotonically, so `push` (append at the end) almost always works.
    if bitmap.try_push(r).is_err() {
        bitmap.insert(r);
    }
}

impl Postings {
    /// Records that series `r` has the pair `name=value`.
    pub fn add(&mut self, r: u32, name: StrId, value: StrId) {
        let bitmap = self.pairs.entry(key(name, value)).or_insert_with(|| {
            self.values.entry(name).or_default().push(value);
            RoaringBitmap::new()
        });
        push(bitmap, r);
    }

    /// Removes series `r` from the pair `name=value`; a pair left without
    /// series disappears. Returns true when it did: the caller then calls
    /// [`Postings::prune_values`] for the name, once per batch of removals.
    pub fn remove(&mut self, r: u32, name: StrId, value: StrId) -> bool {
        let k = key(name, value);
        let Some(bitmap) = self.pairs.get_mut(&k) else {
            return false;
        };
        bitmap.remove(r);
        if bitmap.is_empty() {
            self.pairs.remove(&k);
            return true;
        }
        false
    }

    /// Drops the values of `name` that no series has any more (and the name
    /// when none is left).
    pub fn prune_values(&mut self, name: StrId) {
        let pairs = &self.pairs;
        if let Some(values) = self.values.get_mut(&name) {
            values.retain(|&v| pairs.contains_key(&key(name, v)));
            if values.is_empty() {
                self.values.remove(&name);
            }
        }
    }

    /// Removes series `r` from the set of all series.
    pub fn remove_series(&mut self, r: u32) {
        self.all.remove(r);
    }

    /// Records that series `r` exists.
    pub fn add_series(&mut self, r: u32) {
        push(&mut self.all, r);
    }

    /// Returns the refs with `name=value`, if any series has the pair.
    pub fn get(&self, name: StrId, value: StrId) -> Option<&RoaringBitmap> {
        self.pairs.get(&key(name, value))
    }

    /// Returns the distinct values of label `name`, in insertion order.
    pub fn values(&self, name: StrId) -> &[StrId] {
        self.values.get(&name).map_or(&[], Vec::as_slice)
    }

    /// Returns the ids of all label names in use.
    pub fn names(&self) -> impl Iterator<Item = StrId> + '_ {
        self.values.keys().copied()
    }

    /// Returns the refs of all series.
    pub fn all(&self) -> &RoaringBitmap {
        &self.all
    }

    /// Returns the number of distinct pairs.
    pub fn pair_count(&self) -> usize {
        self.pairs.len()
    }

    /// Returns the heap bytes of the bitmaps' serialized form, a lower bound of their
    /// memory, for reporting.
    pub fn bitmap_bytes(&self) -> usize {
        self.pairs.values().map(RoaringBitmap::serialized_size).sum::<usize>() + self.all.serialized_size()
    }
}
