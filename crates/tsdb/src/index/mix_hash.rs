//! A fast hasher for integer keys (label hashes, interned id pairs).

use std::hash::{BuildHasherDefault, Hasher};

/// Hashes one integer with a folded 128-bit multiply, which spreads entropy to both
/// the high bits (hashbrown's tag) and the low bits (its bucket index). Not for
/// untrusted strings.
#[derive(Debug, Default, Clone, Copy)]
pub struct MixHasher(u64);

impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, x: u64) {
        let full = u128::from(self.0 ^ x) * 0x9E37_79B9_7F4A_7C15u128;
        self.0 = (full as u64) ^ ((full >> 64) as u64);
    }

    fn write_u32(&mut self, x: u32) {
        self.write_u64(u64::from(x));
    }
}

/// `BuildHasher` for [`MixHasher`].
pub type MixState = BuildHasherDefault<MixHasher>;

/// A `HashMap` keyed by integers, hashed with [`MixHasher`].
pub type MixMap<K, V> = std::collections::HashMap<K, V, MixState>;
