//! The series cache: from the label bytes a sender sent to the validated label
//! set and the store's [`SeriesRef`] they resolved to.
//!
//! Senders repeat the same series in every request (a Prometheus shard sends each
//! of its series every scrape interval). Without the cache each repetition builds
//! a [`Labels`] (validation and an allocation) and the store looks it up by hash;
//! with it a known series costs one hash of the sent bytes, one map probe and a
//! comparison of the cached set with the decoded labels, and the append passes the
//! ref as a hint ([`Appender::append`](wk_storage::Appender::append) documents
//! hints). The cached [`Labels`] still go with every append, so a hint the store
//! no longer knows falls back to a lookup by labels and nothing depends on refs
//! staying valid.
//!
//! Only label sets that passed every check and were appended are cached; a hit
//! is verified pair by pair against the decoded labels, so a hash collision is a
//! miss, never a wrong series. The cache is bounded: a shard that reaches its
//! share of the capacity is emptied and refills from the next requests.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use parking_lot::RwLock;
use wk_model::Labels;
use wk_storage::SeriesRef;
use xxhash_rust::xxh3::xxh3_64;

/// Shards of the map, so that concurrent requests rarely meet on a lock.
const SHARDS: usize = 32;

/// What a hit hands to the caller.
#[derive(Debug)]
struct Entry {
    labels: Labels,
    r: SeriesRef,
}

/// The keys are already xxh3 hashes: use them as they are.
#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Shard = HashMap<u64, Entry, BuildHasherDefault<IdentityHasher>>;

/// A bounded, concurrent map from sent label bytes to `(Labels, SeriesRef)`.
/// Shared by every ingest request of one store.
pub(crate) struct SeriesCache {
    shards: Box<[RwLock<Shard>]>,
    per_shard: usize,
}

impl std::fmt::Debug for SeriesCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeriesCache")
            .field("entries", &self.len())
            .field("capacity", &(self.per_shard * SHARDS))
            .finish()
    }
}

/// The key of a series: a hash of its label fields as sent.
pub(crate) fn key(sent_labels: &[u8]) -> u64 {
    xxh3_64(sent_labels)
}

impl SeriesCache {
    /// A cache of at most about `capacity` series; 0 turns it off.
    pub(crate) fn new(capacity: usize) -> Self {
        let shards = (0..SHARDS).map(|_| RwLock::new(Shard::default())).collect();
        Self { shards, per_shard: capacity.div_ceil(SHARDS) }
    }

    fn shard(&self, key: u64) -> &RwLock<Shard> {
        // The low bits pick the bucket inside a shard; the high bits pick the shard.
        &self.shards[(key >> 59) as usize % SHARDS]
    }

    /// Runs `f` with the cached labels and ref of the series `key` if they equal
    /// `labels` (sorted pairs), and returns its result; `None` on a miss. `f` runs
    /// under the shard's read lock: keep it short and never take this cache in it.
    pub(crate) fn with_hit<T>(
        &self,
        key: u64,
        labels: &[(&str, &str)],
        f: impl FnOnce(&Labels, SeriesRef) -> T,
    ) -> Option<T> {
        if self.per_shard == 0 {
            return None;
        }
        let shard = self.shard(key).read();
        let entry = shard.get(&key)?;
        if !entry.labels.iter().eq(labels.iter().copied()) {
            return None;
        }
        Some(f(&entry.labels, entry.r))
    }

    /// Remembers that the series sent as `key` has `labels` and ref `r`.
    pub(crate) fn insert(&self, key: u64, labels: Labels, r: SeriesRef) {
        if self.per_shard == 0 {
            return;
        }
        let mut shard = self.shard(key).write();
        if shard.len() >= self.per_shard && !shard.contains_key(&key) {
            shard.clear();
        }
        shard.insert(key, Entry { labels, r });
    }

    /// The number of cached series.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.read().len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied()).unwrap()
    }

    #[test]
    fn hits_only_for_equal_labels() {
        let cache = SeriesCache::new(100);
        let up = [("__name__", "up"), ("job", "a")];
        cache.insert(key(b"sent"), labels(&up), SeriesRef(7));
        assert_eq!(cache.with_hit(key(b"sent"), &up, |_, r| r), Some(SeriesRef(7)));
        // Same key, other labels (a collision): a miss, never the wrong series.
        assert_eq!(cache.with_hit(key(b"sent"), &[("__name__", "up"), ("job", "b")], |_, r| r), None);
        assert_eq!(cache.with_hit(key(b"other"), &up, |_, r| r), None);
    }

    #[test]
    fn bounded_and_can_be_off() {
        let cache = SeriesCache::new(SHARDS);
        for i in 0..1000u32 {
            let name = format!("m{i}");
            cache.insert(key(name.as_bytes()), labels(&[("__name__", &name)]), SeriesRef(i));
        }
        assert!(cache.len() <= SHARDS, "{cache:?}");
        let off = SeriesCache::new(0);
        off.insert(1, labels(&[("__name__", "up")]), SeriesRef(0));
        assert_eq!(off.with_hit(1, &[("__name__", "up")], |_, r| r), None);
        assert_eq!(off.len(), 0);
    }
}
