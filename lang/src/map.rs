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
//! (the sorted keys, made once for the program and shared by every map of
//! that shape without a reference count) and the values in key order, so
//! building one sorts nothing, clones no key, touches no shared count and
//! makes one allocation. It behaves as the same entries in a
//! `Small` map: a lookup or an update of an existing key works in place,
//! and the first insertion of a new key or removal turns it into `Small`.
//!
//! A map a host builds per operation whose scripts mostly look at a few of
//! its keys (a read result: its data, and the connection's snapshot) can
//! defer the rest: `Lazy` holds the entries given now (at most
//! [`LAZY_GIVEN`], inline in its one box) and a [`Deferred`] that makes the
//! others the first time a script looks past the first ones (a lookup of
//! one of their keys, an iteration, a copy); a change turns it into an
//! ordinary map first. Nothing a script can do tells it from the
//! same entries in a `Small` map.
//!
//! Invariants: `Small` is sorted by key, without duplicate keys, and holds
//! at most `SMALL` entries; only `clear` turns a `Large` map back into a
//! `Small` one; a `Shaped` map has exactly one value per key of its shape;
//! a `Lazy` map's deferred keys are not among its given ones.

use crate::deep;
use crate::value::Value;
use arcstr::ArcStr;
use std::collections::{btree_map, BTreeMap};
use std::ops::Bound;

/// The most entries a map keeps in a vector.
const SMALL: usize = 32;

#[derive(Debug)]
pub enum Map {
    Small(Vec<(ArcStr, Value)>),
    Large(BTreeMap<ArcStr, Value>),
    Shaped(Shape, Vec<Value>),
    Lazy(Box<Lazy>),
}

/// The entries of a `Lazy` map a host makes only when they are looked at.
pub trait Deferred: Send {
    /// Their keys (sorted, none among the map's given keys).
    fn shape(&self) -> &Shape;
    /// Their values, in the order of the shape's keys.
    fn values(&self) -> Vec<Value>;
}

/// The most entries a lazy map is given at once (a read result is given
/// two or three: its data).
pub const LAZY_GIVEN: usize = 3;

/// A map with entries given now and entries deferred (see the module's
/// notes). The given values are inline and the deferred part is its last
/// field, so a map's one box holds them all whatever the deferred part's
/// type (`Box<Lazy<D>>` becomes a `Box<Lazy>`): a read result makes one
/// allocation for its entries.
pub struct Lazy<D: ?Sized = dyn Deferred> {
    /// The keys of the given entries.
    shape: Shape,
    /// Their values in key order; the slots past them hold nil.
    given: [Value; LAZY_GIVEN],
    /// What a look past them made, once (boxed: most maps never need it).
    made: std::cell::OnceCell<Box<Made>>,
    deferred: D,
}

/// What a lazy map made when a script looked past its given entries.
struct Made {
    /// The deferred entries.
    rest: Map,
    /// All the entries in one map, once something walked them.
    whole: std::cell::OnceCell<Map>,
}

impl std::fmt::Debug for Lazy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.whole().iter()).finish()
    }
}

impl Lazy {
    /// The given entries, in key order.
    fn given(&self) -> Zip<'_> {
        self.shape.0.iter().zip(self.given.iter())
    }

    fn made(&self) -> &Made {
        self.made.get_or_init(|| {
            let rest = Map::Shaped(*self.deferred.shape(), self.deferred.values());
            Box::new(Made { rest, whole: std::cell::OnceCell::new() })
        })
    }

    fn rest(&self) -> &Map {
        &self.made().rest
    }

    /// What it holds, taken out (to free it without recursion).
    pub(crate) fn take_contents(&mut self) -> ([Value; LAZY_GIVEN], [Map; 2]) {
        let given = std::mem::take(&mut self.given);
        let made = self.made.take().map_or_else(Default::default, |made| {
            let Made { rest, whole } = *made;
            [rest, whole.into_inner().unwrap_or_default()]
        });
        (given, made)
    }

    fn whole(&self) -> &Map {
        let made = self.made();
        made.whole.get_or_init(|| {
            let mut entries: Vec<(ArcStr, Value)> =
                self.given().chain(made.rest.iter()).map(|(k, v)| (k.clone(), v.clone())).collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Map::from_sorted(entries)
        })
    }

    /// The whole map, taken out (before a change).
    fn take_whole(&mut self) -> Map {
        self.whole();
        self.made.get_mut().and_then(|made| made.whole.take()).unwrap_or_default()
    }
}

impl Clone for Map {
    fn clone(&self) -> Map {
        match self {
            Map::Small(v) => Map::Small(v.clone()),
            Map::Large(m) => Map::Large(m.clone()),
            Map::Shaped(shape, values) => Map::Shaped(*shape, values.clone()),
            Map::Lazy(lazy) => lazy.whole().clone(),
        }
    }
}

/// The keys of `Shaped` maps: sorted byte-wise, without duplicates. A
/// shape lives as long as the program (a host makes one per kind of map it
/// builds, a fixed few), so copying it into each map counts nothing.
#[derive(Clone, Copy, Debug)]
pub struct Shape(&'static [ArcStr]);

/// Where `key` is among `keys`, sorted by `name` (`Err`: where it would
/// go). Up to `SCAN` keys are scanned for an equal one, where a key of
/// another length is rejected without reading its bytes (a binary search
/// compares bytes at every step: option maps and socket results, the maps
/// read on every request, have two to fourteen keys).
fn locate<K>(keys: &[K], key: &str, name: impl Fn(&K) -> &ArcStr) -> Result<usize, usize> {
    const SCAN: usize = 16;
    if keys.len() > SCAN {
        return keys.binary_search_by(|k| (**name(k)).cmp(key));
    }
    match keys.iter().position(|k| {
        let k: &str = name(k);
        k.len() == key.len() && k == key
    }) {
        Some(i) => Ok(i),
        None => Err(keys.partition_point(|k| **name(k) < *key)),
    }
}

impl Shape {
    /// The shape of maps with `keys` (in any order; a repeated key counts
    /// once). [`Shape::keys`] gives the order values must follow. Its keys
    /// are kept for the rest of the program: make one per kind of map, once.
    pub fn new<'k>(keys: impl IntoIterator<Item = &'k str>) -> Shape {
        let mut keys: Vec<ArcStr> = keys.into_iter().map(ArcStr::from).collect();
        keys.sort();
        keys.dedup();
        Shape(Vec::leak(keys))
    }

    /// The keys, in the order of a shaped map's values.
    pub fn keys(&self) -> &'static [ArcStr] {
        self.0
    }
}

/// A map's values are freed like a sequence's elements (see `deep::free`),
/// a lazy map's too (a script can nest maps in one: a `response_headers`
/// map it was given is an ordinary, shared map).
impl Drop for Map {
    fn drop(&mut self) {
        let leaves_only = match self {
            // Its box goes with the enum when its given values free
            // nothing nested (a read result's): the maps it made are
            // ordinary ones, each freed by its own drop (taking them out
            // first made two empty maps to drop: 3.5% of a TCP echo's
            // round trip).
            Map::Lazy(lazy) => deep::leaves_only(lazy.given.iter()),
            // A small map of values that free nothing nested (a snapshot,
            // a read's result) drops without the bounded free's set-up.
            Map::Small(entries) => deep::leaves_only(entries.iter().map(|(_, v)| v)),
            Map::Shaped(_, values) => deep::leaves_only(values.iter()),
            Map::Large(_) => false,
        };
        if !leaves_only && !self.is_empty() {
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
    pub fn shaped(shape: Shape, values: Vec<Value>) -> Map {
        assert_eq!(shape.0.len(), values.len(), "a shaped map needs one value per key");
        Map::Shaped(shape, values)
    }

    /// A map of `shape`'s keys with the `given` values (in key order) and
    /// `deferred`'s entries, made when looked at.
    ///
    /// # Panics
    /// If `given` has not one value per key of `shape`, or more than
    /// [`LAZY_GIVEN`]: a bug of the caller, whose values follow a fixed list
    /// of keys.
    pub fn lazy<const N: usize>(shape: Shape, given: [Value; N], deferred: impl Deferred + 'static) -> Map {
        const { assert!(N <= LAZY_GIVEN, "a lazy map is given at most LAZY_GIVEN entries") };
        assert_eq!(shape.0.len(), N, "a lazy map needs one given value per key");
        debug_assert!(
            deferred.shape().keys().iter().all(|k| Map::position(&shape, k).is_none()),
            "a key both given and deferred"
        );
        let mut slots: [Value; LAZY_GIVEN] = Default::default();
        for (slot, value) in slots.iter_mut().zip(given) {
            *slot = value;
        }
        Map::Lazy(Box::new(Lazy { shape, given: slots, made: std::cell::OnceCell::new(), deferred }))
    }

    /// A map of entries sorted by key without duplicates.
    fn from_sorted(entries: Vec<(ArcStr, Value)>) -> Map {
        if entries.len() <= SMALL {
            Map::Small(entries)
        } else {
            Map::Large(entries.into_iter().collect())
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Map::Small(v) => v.len(),
            Map::Large(m) => m.len(),
            Map::Shaped(_, values) => values.len(),
            Map::Lazy(lazy) => lazy.shape.0.len() + lazy.deferred.shape().keys().len(),
        }
    }

    /// A shaped or lazy map as the same entries in an ordinary one (before
    /// a change: an insertion of a new key or a removal, or any change of a
    /// lazy one); any other map as it is.
    fn unshape(&mut self) {
        match self {
            Map::Shaped(shape, values) => {
                let entries = shape.0.iter().cloned().zip(std::mem::take(values)).collect();
                *self = Map::Small(entries);
            }
            Map::Lazy(lazy) => {
                *self = lazy.take_whole();
                self.unshape();
            }
            _ => {}
        }
    }

    /// Where `key` is in a shape.
    fn position(shape: &Shape, key: &str) -> Option<usize> {
        locate(shape.0, key, |k| k).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every entry (a cleared map is small again).
    pub fn clear(&mut self) {
        *self = Map::new();
    }

    /// Where `key` is (`Ok`) or would go (`Err`) in a small map.
    fn search(v: &[(ArcStr, Value)], key: &str) -> Result<usize, usize> {
        locate(v, key, |(k, _)| k)
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Map::Small(v) => Map::search(v, key).ok().map(|i| &v[i].1),
            Map::Large(m) => m.get(key),
            Map::Shaped(shape, values) => Map::position(shape, key).map(|i| &values[i]),
            // A key that is not deferred makes nothing.
            Map::Lazy(lazy) => Map::position(&lazy.shape, key)
                .map(|i| &lazy.given[i])
                .or_else(|| Map::position(lazy.deferred.shape(), key).and_then(|_| lazy.rest().get(key))),
        }
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.unshape_lazy();
        match self {
            Map::Small(v) => Map::search(v, key).ok().map(|i| &mut v[i].1),
            Map::Large(m) => m.get_mut(key),
            Map::Shaped(shape, values) => Map::position(shape, key).map(|i| &mut values[i]),
            Map::Lazy(_) => unreachable!("a lazy map is made ordinary above"),
        }
    }

    /// A lazy map made ordinary (before a change).
    fn unshape_lazy(&mut self) {
        if let Map::Lazy(_) = self {
            self.unshape();
        }
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key` to `value`; the value it replaces, if any.
    pub fn insert(&mut self, key: ArcStr, value: Value) -> Option<Value> {
        self.unshape_lazy();
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
                    let mut large: BTreeMap<ArcStr, Value> = std::mem::take(v).into_iter().collect();
                    large.insert(key, value);
                    *self = Map::Large(large);
                    None
                }
            },
            Map::Large(m) => m.insert(key, value),
            Map::Shaped(..) | Map::Lazy(_) => unreachable!("a shaped map is unshaped above"),
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.unshape_lazy();
        if let Map::Shaped(shape, _) = self {
            Map::position(shape, key)?;
            self.unshape();
        }
        match self {
            Map::Small(v) => Map::search(v, key).ok().map(|i| v.remove(i).1),
            Map::Large(m) => m.remove(key),
            Map::Shaped(..) | Map::Lazy(_) => unreachable!("a shaped map is unshaped above"),
        }
    }

    /// The entries in key order.
    pub fn iter(&self) -> Iter<'_> {
        match self {
            Map::Small(v) => Iter::Small(v.iter()),
            Map::Large(m) => Iter::Large(m.iter()),
            Map::Shaped(shape, values) => Iter::Shaped(shape.0.iter().zip(values.iter())),
            Map::Lazy(lazy) => lazy.whole().iter(),
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
            (Map::Lazy(lazy), k) => lazy.whole().iter_after(k),
        }
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &ArcStr> + '_ {
        self.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + '_ {
        self.iter().map(|(_, v)| v)
    }
}

/// The entries of a [`Map`] in key order.
pub enum Iter<'a> {
    Small(std::slice::Iter<'a, (ArcStr, Value)>),
    Large(btree_map::Iter<'a, ArcStr, Value>),
    Shaped(Zip<'a>),
}

/// The entries of a shaped map: its keys beside its values.
type Zip<'a> = std::iter::Zip<std::slice::Iter<'a, ArcStr>, std::slice::Iter<'a, Value>>;

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a ArcStr, &'a Value);

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
    Small(std::slice::Iter<'a, (ArcStr, Value)>),
    Large(btree_map::Range<'a, ArcStr, Value>),
    Shaped(Zip<'a>),
}

impl<'a> Iterator for After<'a> {
    type Item = (&'a ArcStr, &'a Value);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            After::Small(i) => i.next().map(|(k, v)| (k, v)),
            After::Large(i) => i.next(),
            After::Shaped(i) => i.next(),
        }
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = (&'a ArcStr, &'a Value);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Like `BTreeMap`'s: a later entry with the same key replaces an earlier one.
impl FromIterator<(ArcStr, Value)> for Map {
    fn from_iter<I: IntoIterator<Item = (ArcStr, Value)>>(entries: I) -> Map {
        let entries = entries.into_iter();
        let mut map = Map::Small(Vec::with_capacity(entries.size_hint().0.min(SMALL)));
        for (k, v) in entries {
            map.insert(k, v);
        }
        map
    }
}

impl<const N: usize> From<[(ArcStr, Value); N]> for Map {
    fn from(entries: [(ArcStr, Value); N]) -> Map {
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

    fn key(k: u8) -> ArcStr {
        ArcStr::from(format!("k{k}"))
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
        /// always come out in the same order, whether the map starts empty,
        /// shaped (with the keys of `start`) or lazy (the even keys of
        /// `start` given, the odd ones deferred).
        #[test]
        fn behaves_like_a_btreemap(
            start in proptest::collection::btree_set(0u8..80, 0..20),
            start_as in 0u8..3,
            ops in proptest::collection::vec(op(), 0..300),
        ) {
            let start = if start_as > 0 { start } else { Default::default() };
            let mut model: BTreeMap<ArcStr, Value> = start.iter().map(|&k| (key(k), Value::Int(i64::from(k)))).collect();
            let shaped = |keys: &[u8]| {
                let names: Vec<String> = keys.iter().map(|&k| format!("k{k}")).collect();
                let shape = Shape::new(names.iter().map(String::as_str));
                let values: Vec<i64> = shape.keys().iter().map(|k| k[1..].parse().unwrap_or(0)).collect();
                (shape, values)
            };
            let mut map = if start_as == 2 {
                // Every third key given (at most `LAZY_GIVEN`), the others
                // deferred.
                let given: Vec<u8> = start.iter().copied().step_by(3).take(LAZY_GIVEN).collect();
                let deferred: Vec<u8> = start.iter().copied().filter(|k| !given.contains(k)).collect();
                let (shape, values) = shaped(&given);
                let (deferred_shape, deferred) = shaped(&deferred);
                let deferred = Ints { shape: deferred_shape, values: deferred };
                match values[..] {
                    [] => Map::lazy(shape, [], deferred),
                    [a] => Map::lazy(shape, [Value::Int(a)], deferred),
                    [a, b] => Map::lazy(shape, [Value::Int(a), Value::Int(b)], deferred),
                    [a, b, c] => Map::lazy(shape, [Value::Int(a), Value::Int(b), Value::Int(c)], deferred),
                    _ => unreachable!("at most LAZY_GIVEN keys are given"),
                }
            } else {
                let all: Vec<u8> = start.iter().copied().collect();
                let (shape, values) = shaped(&all);
                Map::shaped(shape, values.into_iter().map(Value::Int).collect())
            };
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
            let ours: Vec<&ArcStr> = map.keys().collect();
            let theirs: Vec<&ArcStr> = model.keys().collect();
            prop_assert_eq!(ours, theirs);
            // Resuming after any key, present or not, gives the rest in order.
            for k in 0..80 {
                let k = key(k);
                let ours: Vec<&ArcStr> = map.iter_after(Some(&k)).map(|(k, _)| k).collect();
                let theirs: Vec<&ArcStr> = model.range::<str, _>((Bound::Excluded(&*k), Bound::Unbounded)).map(|(k, _)| k).collect();
                prop_assert_eq!(ours, theirs);
            }
            prop_assert_eq!(map.iter_after(None).count(), model.len());
            let rebuilt: Map = model.clone().into_iter().collect();
            prop_assert!(rebuilt.iter().zip(model.iter()).all(|((a, x), (b, y))| a == b && x.equals(y) == Ok(true)));
        }
    }

    /// Deferred entries for the tests: integers.
    struct Ints {
        shape: Shape,
        values: Vec<i64>,
    }

    impl Deferred for Ints {
        fn shape(&self) -> &Shape {
            &self.shape
        }

        fn values(&self) -> Vec<Value> {
            self.values.iter().map(|&v| Value::Int(v)).collect()
        }
    }

    #[test]
    fn a_lazy_map_makes_its_deferred_entries_only_when_looked_at() {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        static MADE: AtomicUsize = AtomicUsize::new(0);
        struct Counted(Shape);
        impl Deferred for Counted {
            fn shape(&self) -> &Shape {
                &self.0
            }
            fn values(&self) -> Vec<Value> {
                MADE.fetch_add(1, SeqCst);
                vec![Value::Int(1)]
            }
        }
        let map = Map::lazy(Shape::new(["data"]), [Value::Int(0)], Counted(Shape::new(["id"])));
        assert_eq!(map.len(), 2);
        assert!(map.get("data").is_some() && map.get("nope").is_none());
        assert_eq!(MADE.load(SeqCst), 0, "a given key or no key made the deferred ones");
        assert!(map.get("id").is_some_and(|v| v.equals(&Value::Int(1)) == Ok(true)));
        assert_eq!(map.keys().map(|k| &**k).collect::<Vec<_>>(), ["data", "id"]);
        assert_eq!(MADE.load(SeqCst), 1, "made once");
    }

    /// A script can nest lazy maps through the ordinary maps they hold
    /// (a `response_headers`); freeing the nest never recurses per level.
    #[test]
    fn nested_lazy_maps_free_without_recursion() {
        let (outer, id) = (Shape::new(["next"]), Shape::new(["id"]));
        let mut value = Value::Nil;
        for _ in 0..200_000 {
            let inner: Map = [(ArcStr::from("lazy"), value)].into();
            value = Value::map(Map::lazy(outer, [Value::map(inner)], Ints { shape: id, values: vec![1] }));
        }
        drop(value);
        // A host could give a lazy map as a given value of another.
        let mut value = Value::Nil;
        for _ in 0..200_000 {
            value = Value::map(Map::lazy(outer, [value], Ints { shape: id, values: vec![1] }));
        }
        drop(value);
    }

    #[test]
    fn later_duplicates_win_when_collecting() {
        let m: Map = [(key(1), Value::Int(1)), (key(0), Value::Int(0)), (key(1), Value::Int(2))].into();
        assert_eq!(m.len(), 2);
        assert!(m.get("k1").is_some_and(|v| v.equals(&Value::Int(2)) == Ok(true)));
        assert_eq!(m.keys().map(|k| &**k).collect::<Vec<_>>(), ["k0", "k1"]);
    }
}
