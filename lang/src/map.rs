//! `Map`: the entries of a Ricochet map, sorted byte-wise by key.
//!
//! Most maps are small (options, socket snapshots of 10-15 keys, JSON
//! objects) and many are built and dropped per operation (a snapshot per
//! socket read or write), so a small map is a sorted vector: one
//! allocation, binary search. A map that grows past `SMALL` entries turns
//! into a `BTreeMap`, so building a large one stays O(n log n). Both keep
//! the same order, so iteration, rendering and equality never depend on the
//! representation.
//!
//! A map a host builds many times with the same keys (a socket snapshot,
//! once per read and write) can share its keys: `Shaped` holds a [`Shape`]
//! (the sorted keys, reference-counted once for all the maps of that shape)
//! and the values in key order, so building one sorts nothing, clones no
//! key and makes one allocation. It behaves as the same entries in a
//! `Small` map: a lookup or an update of an existing key works in place,
//! and the first insertion of a new key or removal turns it into `Small`.
//!
//! Invariants: `Small` is sorted by key, without duplicate keys, and holds
//! at most `SMALL` entries; only `clear` turns a `Large` map back into a
//! `Small` one; a `Shaped` map has exactly one value per key of its shape.

use crate::deep;
use crate::value::Value;
use std::collections::{btree_map, BTreeMap};
use std::ops::Bound;
use std::sync::Arc;

/// The most entries a map keeps in a vector.
const SMALL: usize = 32;

#[derive(Clone, Debug)]
pub enum Map {
    Small(Vec<(Arc<str>, Value)>),
    Large(BTreeMap<Arc<str>, Value>),
    Shaped(Shape, Vec<Value>),
}

/// The keys of `Shaped` maps: sorted byte-wise, without duplicates.
#[derive(Clone, Debug)]
pub struct Shape(Arc<[Arc<str>]>);

impl Shape {
    /// The shape of maps with `keys` (in any order; a repeated key counts
    /// once). [`Shape::keys`] gives the order values must follow.
    pub fn new<'k>(keys: impl IntoIterator<Item = &'k str>) -> Shape {
        let mut keys: Vec<Arc<str>> = keys.into_iter().map(Arc::from).collect();
        keys.sort();
        keys.dedup();
        Shape(keys.into())
    }

    /// The keys, in the order of a shaped map's values.
    pub fn keys(&self) -> &[Arc<str>] {
        &self.0
    }
}

/// A map's values are freed like a sequence's elements (see `deep::free`).
impl Drop for Map {
    fn drop(&mut self) {
        if !self.is_empty() {
            deep::free(deep::Contents::Map(std::mem::take(self)));
        }
    }
}

impl Default for Map {
    fn default() -> Map {
        Map::new()
    }
}

impl Map {
    pub const fn new() -> Map {
        Map::Small(Vec::new())
    }

    /// The map with `shape`'s keys and `values` in key order.
    ///
    /// # Panics
    /// If `values` has not one value per key: a bug of the caller, whose
    /// values follow a fixed list of keys.
    pub fn shaped(shape: &Shape, values: Vec<Value>) -> Map {
        assert_eq!(shape.0.len(), values.len(), "a shaped map needs one value per key");
        Map::Shaped(shape.clone(), values)
    }

    pub fn len(&self) -> usize {
        match self {
            Map::Small(v) => v.len(),
            Map::Large(m) => m.len(),
            Map::Shaped(_, values) => values.len(),
        }
    }

    /// A shaped map as the same entries in a small one (before an insertion
    /// of a new key or a removal); any other map as it is.
    fn unshape(&mut self) {
        if let Map::Shaped(shape, values) = self {
            let entries = shape.0.iter().cloned().zip(std::mem::take(values)).collect();
            *self = Map::Small(entries);
        }
    }

    /// Where `key` is in a shape.
    fn position(shape: &Shape, key: &str) -> Option<usize> {
        shape.0.binary_search_by(|k| (**k).cmp(key)).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every entry (a cleared map is small again).
    pub fn clear(&mut self) {
        *self = Map::new();
    }

    /// Where `key` is (`Ok`) or would go (`Err`) in a small map.
    fn search(v: &[(Arc<str>, Value)], key: &str) -> Result<usize, usize> {
        v.binary_search_by(|(k, _)| (**k).cmp(key))
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Map::Small(v) => Map::search(v, key).ok().map(|i| &v[i].1),
            Map::Large(m) => m.get(key),
            Map::Shaped(shape, values) => Map::position(shape, key).map(|i| &values[i]),
        }
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        match self {
            Map::Small(v) => Map::search(v, key).ok().map(|i| &mut v[i].1),
            Map::Large(m) => m.get_mut(key),
            Map::Shaped(shape, values) => Map::position(shape, key).map(|i| &mut values[i]),
        }
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key` to `value`; the value it replaces, if any.
    pub fn insert(&mut self, key: Arc<str>, value: Value) -> Option<Value> {
        if let Map::Shaped(shape, values) = self {
            if let Some(i) = Map::position(shape, &key) {
                return Some(std::mem::replace(&mut values[i], value));
            }
            self.unshape();
        }
        match self {
            Map::Small(v) => match Map::search(v, &key) {
                Ok(i) => Some(std::mem::replace(&mut v[i].1, value)),
                Err(i) if v.len() < SMALL => {
                    v.insert(i, (key, value));
                    None
                }
                Err(_) => {
                    let mut large: BTreeMap<Arc<str>, Value> = std::mem::take(v).into_iter().collect();
                    large.insert(key, value);
                    *self = Map::Large(large);
                    None
                }
            },
            Map::Large(m) => m.insert(key, value),
            Map::Shaped(..) => unreachable!("a shaped map is unshaped above"),
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Value> {
        if let Map::Shaped(shape, _) = self {
            Map::position(shape, key)?;
            self.unshape();
        }
        match self {
            Map::Small(v) => Map::search(v, key).ok().map(|i| v.remove(i).1),
            Map::Large(m) => m.remove(key),
            Map::Shaped(..) => unreachable!("a shaped map is unshaped above"),
        }
    }

    /// The entries in key order.
    pub fn iter(&self) -> Iter<'_> {
        match self {
            Map::Small(v) => Iter::Small(v.iter()),
            Map::Large(m) => Iter::Large(m.iter()),
            Map::Shaped(shape, values) => Iter::Shaped(shape.0.iter().zip(values.iter())),
        }
    }

    /// The entries after `key` (all of them for `None`) in key order: a
    /// traversal that stops at an entry resumes here in O(log n), without
    /// holding a borrow or a copy of the map in between.
    pub fn iter_after(&self, key: Option<&str>) -> After<'_> {
        match (self, key) {
            (Map::Small(v), None) => After::Small(v.iter()),
            (Map::Small(v), Some(k)) => {
                let from = Map::search(v, k).map_or_else(|at| at, |at| at + 1);
                After::Small(v[from..].iter())
            }
            (Map::Large(m), None) => After::Large(m.range::<str, _>(..)),
            (Map::Large(m), Some(k)) => After::Large(m.range::<str, _>((Bound::Excluded(k), Bound::Unbounded))),
            (Map::Shaped(shape, values), k) => {
                let from = k.map_or(0, |k| shape.0.partition_point(|key| **key <= *k));
                After::Shaped(shape.0[from..].iter().zip(values[from..].iter()))
            }
        }
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Arc<str>> + '_ {
        self.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + '_ {
        self.iter().map(|(_, v)| v)
    }
}

/// The entries of a [`Map`] in key order.
pub enum Iter<'a> {
    Small(std::slice::Iter<'a, (Arc<str>, Value)>),
    Large(btree_map::Iter<'a, Arc<str>, Value>),
    Shaped(Zip<'a>),
}

/// The entries of a shaped map: its keys beside its values.
type Zip<'a> = std::iter::Zip<std::slice::Iter<'a, Arc<str>>, std::slice::Iter<'a, Value>>;

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a Arc<str>, &'a Value);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Small(i) => i.next().map(|(k, v)| (k, v)),
            Iter::Large(i) => i.next(),
            Iter::Shaped(i) => i.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Small(i) => i.size_hint(),
            Iter::Large(i) => i.size_hint(),
            Iter::Shaped(i) => i.size_hint(),
        }
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Small(i) => i.next_back().map(|(k, v)| (k, v)),
            Iter::Large(i) => i.next_back(),
            Iter::Shaped(i) => i.next_back(),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// The entries of a [`Map`] after a key (see [`Map::iter_after`]).
pub enum After<'a> {
    Small(std::slice::Iter<'a, (Arc<str>, Value)>),
    Large(btree_map::Range<'a, Arc<str>, Value>),
    Shaped(Zip<'a>),
}

impl<'a> Iterator for After<'a> {
    type Item = (&'a Arc<str>, &'a Value);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            After::Small(i) => i.next().map(|(k, v)| (k, v)),
            After::Large(i) => i.next(),
            After::Shaped(i) => i.next(),
        }
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = (&'a Arc<str>, &'a Value);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Like `BTreeMap`'s: a later entry with the same key replaces an earlier one.
impl FromIterator<(Arc<str>, Value)> for Map {
    fn from_iter<I: IntoIterator<Item = (Arc<str>, Value)>>(entries: I) -> Map {
        let entries = entries.into_iter();
        let mut map = Map::Small(Vec::with_capacity(entries.size_hint().0.min(SMALL)));
        for (k, v) in entries {
            map.insert(k, v);
        }
        map
    }
}

impl<const N: usize> From<[(Arc<str>, Value); N]> for Map {
    fn from(entries: [(Arc<str>, Value); N]) -> Map {
        entries.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, i64),
        Remove(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        // Up to 80 distinct keys: maps cross the small/large threshold.
        prop_oneof![
            3 => (0u8..80, any::<i64>()).prop_map(|(k, v)| Op::Insert(k, v)),
            1 => (0u8..80).prop_map(Op::Remove),
        ]
    }

    fn key(k: u8) -> Arc<str> {
        Arc::from(format!("k{k}"))
    }

    fn same(a: Option<&Value>, b: Option<&Value>) -> bool {
        match (a, b) {
            (None, None) => true,
            (Some(x), Some(y)) => x.equals(y) == Ok(true),
            _ => false,
        }
    }

    proptest! {
        /// Every operation answers as a `BTreeMap` does, and the entries
        /// always come out in the same order, whether the map starts empty
        /// or shaped (with the keys of `start`).
        #[test]
        fn behaves_like_a_btreemap(
            start in proptest::collection::btree_set(0u8..80, 0..20),
            shaped in any::<bool>(),
            ops in proptest::collection::vec(op(), 0..300),
        ) {
            let start = if shaped { start } else { Default::default() };
            let mut model: BTreeMap<Arc<str>, Value> = start.iter().map(|&k| (key(k), Value::Int(i64::from(k)))).collect();
            let names: Vec<String> = start.iter().map(|&k| format!("k{k}")).collect();
            let shape = Shape::new(names.iter().map(String::as_str));
            let values = shape.keys().iter().map(|k| model[k].clone()).collect();
            let mut map = Map::shaped(&shape, values);
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        let (a, b) = (map.insert(key(k), Value::Int(v)), model.insert(key(k), Value::Int(v)));
                        prop_assert!(same(a.as_ref(), b.as_ref()));
                    }
                    Op::Remove(k) => {
                        let (a, b) = (map.remove(&key(k)), model.remove(&key(k)));
                        prop_assert!(same(a.as_ref(), b.as_ref()));
                    }
                }
                prop_assert_eq!(map.len(), model.len());
                for k in 0..80 {
                    prop_assert!(same(map.get(&key(k)), model.get(&key(k))));
                }
            }
            let ours: Vec<&Arc<str>> = map.keys().collect();
            let theirs: Vec<&Arc<str>> = model.keys().collect();
            prop_assert_eq!(ours, theirs);
            // Resuming after any key, present or not, gives the rest in order.
            for k in 0..80 {
                let k = key(k);
                let ours: Vec<&Arc<str>> = map.iter_after(Some(&k)).map(|(k, _)| k).collect();
                let theirs: Vec<&Arc<str>> = model.range::<str, _>((Bound::Excluded(&*k), Bound::Unbounded)).map(|(k, _)| k).collect();
                prop_assert_eq!(ours, theirs);
            }
            prop_assert_eq!(map.iter_after(None).count(), model.len());
            let rebuilt: Map = model.clone().into_iter().collect();
            prop_assert!(rebuilt.iter().zip(model.iter()).all(|((a, x), (b, y))| a == b && x.equals(y) == Ok(true)));
        }
    }

    #[test]
    fn later_duplicates_win_when_collecting() {
        let m: Map = [(key(1), Value::Int(1)), (key(0), Value::Int(0)), (key(1), Value::Int(2))].into();
        assert_eq!(m.len(), 2);
        assert!(m.get("k1").is_some_and(|v| v.equals(&Value::Int(2)) == Ok(true)));
        assert_eq!(m.keys().map(|k| &**k).collect::<Vec<_>>(), ["k0", "k1"]);
    }
}
