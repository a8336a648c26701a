//! String interning: one copy of each distinct label name or value.

use std::collections::HashMap;
use std::sync::Arc;

/// The id of an interned string; valid only in the [`Interner`] that issued it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StrId(pub u32);

/// Keeps one shared copy of each distinct string and a dense id for it. Strings are
/// never removed in this version (head garbage collection comes with block cutting).
#[derive(Debug, Default)]
pub struct Interner {
    ids: HashMap<Arc<str>, StrId>,
    strings: Vec<Arc<str>>,
    bytes: usize,
}

impl Interner {
    /// Returns the id of `s`, if interned.
    pub fn get(&self, s: &str) -> Option<StrId> {
        self.ids.get(s).copied()
    }

    /// Returns the id of `s`, interning a copy first if needed.
    pub fn intern(&mut self, s: &str) -> StrId {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = StrId(u32::try_from(self.strings.len()).expect("fewer than 2^32 label strings"));
        let shared: Arc<str> = Arc::from(s);
        self.bytes += s.len();
        self.strings.push(Arc::clone(&shared));
        self.ids.insert(shared, id);
        id
    }

    /// Returns the string of `id`. Panics on an id from another interner (an
    /// internal invariant).
    pub fn resolve(&self, id: StrId) -> &str {
        &self.strings[id.0 as usize]
    }

    /// Returns the number of distinct strings.
    pub fn len(&self) -> usize {
        self.strings.len()
    }

    /// Returns true when nothing is interned.
    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
    }

    /// Returns the total bytes of distinct strings (without overhead).
    pub fn string_bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interns_once() {
        let mut i = Interner::default();
        let a = i.intern("job");
        assert_eq!(i.intern("job"), a);
        assert_ne!(i.intern("node"), a);
        assert_eq!(i.resolve(a), "job");
        assert_eq!(i.get("nope"), None);
        assert_eq!((i.len(), i.string_bytes()), (2, 7));
    }
}
