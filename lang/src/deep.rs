//! Values of any depth (DIALECT 16): freeing, deep copy and equality, and
//! what the printers share with them (`MAX_NESTING`, `TooDeep`, `OnPath`).
//!
//! Invariants: no traversal recurses on the Rust stack along a value's
//! nesting (freeing lets the compiler's drop recurse `NATIVE_FREES` levels,
//! a fixed bound); each keeps an explicit stack, so freeing works at any
//! depth and copying and comparing fail with `TooDeep` past `MAX_NESTING`
//! levels instead of overflowing a worker's native stack. Depth counts
//! collections only (`[]` is one level, `[[1]]` two); an ok Result wraps its
//! value without adding a level, and chains of them are unwound in loops.
//! A collection met again on the path from the root is a cycle, never a
//! level: copying keeps it a cycle, comparing takes the pair as equal (the
//! two values are compared as the infinite trees they unfold to).

use crate::error::VmError;
use crate::map::Map;
use crate::value::{new_seq, BlockId, MapRef, ResultValue, Seq, Value};
use arcstr::ArcStr;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::rc::Rc;

/// How deeply values may nest for copying, printing, comparing and
/// `json_encode`.
pub const MAX_NESTING: usize = 10_000;

/// A value nested deeper than `MAX_NESTING`: the word that met it fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooDeep;

impl TooDeep {
    /// The error of `word`: `nesting limit exceeded in WORD: ...`.
    pub fn error(self, word: &str) -> VmError {
        VmError::nesting(word, MAX_NESTING)
    }
}

/// Levels `OnPath` keeps in an array searched linearly; deeper levels
/// also go in a hash set, so the check stays cheap at any depth, and a
/// shallow value (the common case) costs no allocation.
const SHALLOW: usize = 16;

/// The collections (or pairs of them) on the path from the root to the
/// point a traversal has reached, to recognise a cycle. A key is never on
/// the path twice.
pub(crate) struct OnPath<K> {
    near: [K; SHALLOW],
    depth: usize,
    /// The keys past the first `SHALLOW`, in order and as a set.
    far: Vec<K>,
    far_set: HashSet<K>,
}

impl<K: Copy + Default + Eq + Hash> OnPath<K> {
    pub fn new() -> OnPath<K> {
        OnPath { near: [K::default(); SHALLOW], depth: 0, far: Vec::new(), far_set: HashSet::new() }
    }

    /// How many keys are on the path (the depth reached).
    pub fn depth(&self) -> usize {
        self.depth
    }

    pub fn contains(&self, key: K) -> bool {
        self.near[..self.depth.min(SHALLOW)].contains(&key) || (self.depth > SHALLOW && self.far_set.contains(&key))
    }

    pub fn push(&mut self, key: K) {
        match self.near.get_mut(self.depth) {
            Some(slot) => *slot = key,
            None => {
                self.far.push(key);
                self.far_set.insert(key);
            }
        }
        self.depth += 1;
    }

    pub fn pop(&mut self) {
        if self.depth > SHALLOW {
            if let Some(key) = self.far.pop() {
                self.far_set.remove(&key);
            }
        }
        self.depth = self.depth.saturating_sub(1);
    }
}

/// The address of a collection, its identity on a path or in a memo.
pub(crate) fn addr<T>(rc: &Rc<T>) -> usize {
    Rc::as_ptr(rc) as *const u8 as usize
}

/// Whether a value holds other values a traversal must enter: a collection
/// or an ok Result.
pub(crate) fn is_nested(v: &Value) -> bool {
    match v {
        Value::Array(_) | Value::List(_) | Value::Set(_) | Value::Map(_) => true,
        Value::Result(r) => matches!(**r, ResultValue::Ok(_)),
        _ => false,
    }
}

// ---- freeing

/// What a collection or an ok Result held, taken out of it to be freed.
pub(crate) enum Contents {
    Items(Vec<Value>),
    /// The entries of a map, taken out of it (`std::mem::take`).
    Map(Map),
    One(Value),
}

impl Value {
    /// Whether dropping this value would free values inside it: it is the
    /// last owner of a collection or a Result.
    pub(crate) fn owns_nested(&self) -> bool {
        match self {
            Value::Array(s) | Value::List(s) | Value::Set(s) => Rc::strong_count(s) == 1,
            Value::Map(m) => Rc::strong_count(m) == 1,
            Value::Result(r) => Rc::strong_count(r) == 1,
            _ => false,
        }
    }
}

/// How many values `leaves_only` looks at: past that, a collection is freed
/// by `free` (a test that fails late would cost a second pass).
const LEAVES_CHECKED: usize = 16;

/// Whether the few `values` (at most `LEAVES_CHECKED`) free nothing nested
/// when they drop: the compiler's drop of their collection then recurses
/// no deeper, and `free`'s set-up can be skipped.
pub(crate) fn leaves_only<'a>(values: impl ExactSizeIterator<Item = &'a Value>) -> bool {
    values.len() <= LEAVES_CHECKED && values.into_iter().all(|v| !v.owns_nested())
}

/// Takes out what `v` holds when `v` is its last owner; `v` then drops
/// without recursing.
fn take_contents(v: &mut Value) -> Option<Contents> {
    match v {
        Value::Array(s) | Value::List(s) | Value::Set(s) => {
            let items = Rc::get_mut(s)?.get_mut();
            (!items.is_empty()).then(|| Contents::Items(std::mem::take(&mut items.0)))
        }
        Value::Map(m) => {
            let map = Rc::get_mut(m)?.get_mut();
            (!map.is_empty()).then(|| Contents::Map(std::mem::take(map)))
        }
        Value::Result(r) => match Rc::get_mut(r)? {
            ResultValue::Ok(inner) if inner.owns_nested() => Some(Contents::One(std::mem::take(inner))),
            _ => None,
        },
        _ => None,
    }
}

/// Values waiting to be emptied: one in a slot, the others on a stack, so
/// that a chain of single nested values (the common shape) never allocates.
#[derive(Default)]
struct Pending {
    slot: Option<Value>,
    stack: Vec<Value>,
}

impl Pending {
    fn take(&mut self) -> Option<Value> {
        self.slot.take().or_else(|| self.stack.pop())
    }

    /// Keeps a value that owns nested values; drops any other at once
    /// (shallowly: it owns nothing that would be freed).
    fn keep(&mut self, v: Value) {
        if v.owns_nested() {
            match self.slot {
                None => self.slot = Some(v),
                Some(_) => self.stack.push(v),
            }
        }
    }

    fn keep_all(&mut self, contents: Contents) {
        match contents {
            Contents::Items(items) => items.into_iter().for_each(|v| self.keep(v)),
            Contents::Map(mut map) => match &mut map {
                Map::Small(entries) => std::mem::take(entries).into_iter().for_each(|(_, v)| self.keep(v)),
                Map::Large(entries) => std::mem::take(entries).into_values().for_each(|v| self.keep(v)),
                Map::Shaped(_, values) => std::mem::take(values).into_iter().for_each(|v| self.keep(v)),
                // Its given values and the ordinary maps it made go on the stack.
                Map::Lazy(lazy) => {
                    let (given, made) = lazy.take_contents();
                    given.into_iter().for_each(|v| self.keep(v));
                    made.into_iter().for_each(|m| self.keep_all(Contents::Map(m)));
                }
            },
            Contents::One(v) => self.keep(v),
        }
    }
}

thread_local! {
    /// How many frees are running inside each other on this thread.
    static FREEING: Cell<usize> = const { Cell::new(0) };
}

/// How many frees may run inside each other on the native stack (the
/// compiler's drop, cheapest for the common shallow value) before the
/// innermost one goes on with an explicit stack.
const NATIVE_FREES: usize = 64;

/// Frees what a collection or Result held (called by the `Drop` of
/// `Elements`, `Map` and `ResultValue`). Up to `NATIVE_FREES` levels the
/// compiler's drop recurses; below that, every value that is the last owner
/// of nested values is emptied onto an explicit stack before it drops, so
/// its own drop finds nothing to free and the native stack stays bounded.
#[inline(never)]
pub(crate) fn free(contents: Contents) {
    let depth = FREEING.get();
    if depth < NATIVE_FREES {
        FREEING.set(depth + 1);
        match contents {
            Contents::Items(items) => drop(items),
            // The entries, not the map: a map's own drop would come back here.
            Contents::Map(mut map) => match &mut map {
                Map::Small(entries) => drop(std::mem::take(entries)),
                Map::Large(entries) => drop(std::mem::take(entries)),
                Map::Shaped(_, values) => drop(std::mem::take(values)),
                Map::Lazy(lazy) => drop(lazy.take_contents()),
            },
            Contents::One(v) => drop(v),
        }
        FREEING.set(depth);
        return;
    }
    let mut pending = Pending::default();
    pending.keep_all(contents);
    while let Some(mut next) = pending.take() {
        if let Some(contents) = take_contents(&mut next) {
            pending.keep_all(contents);
        }
    }
}

// ---- deep copy

/// Whether the copy of `v` is `v` itself: immutable values that hold no
/// collection, block or task handle.
pub(crate) fn is_shared_as_is(v: &Value) -> bool {
    matches!(v, Value::Nil | Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Str(_) | Value::Class(_))
}

/// The state of one deep copy that may span several values: the
/// collections already copied (by address), and what the copied values hold
/// that a spawned task could run or await (see `capture.rs`).
#[derive(Default)]
pub struct CopyMemo {
    seen: HashMap<usize, Value>,
    /// Every block value met while copying (in order met, repeats allowed).
    pub blocks: Vec<BlockId>,
    /// Whether a task handle was met while copying.
    pub saw_task: bool,
}

/// A collection being copied: the source's items (or entries), the next one
/// to copy, and the fresh collection they go into when all are copied.
enum CopyFrame {
    Seq {
        src: Seq,
        next: usize,
        items: Vec<Value>,
        dst: Seq,
    },
    /// A map resumes after the key of the last entry copied.
    Map {
        src: MapRef,
        after: Option<ArcStr>,
        entries: Vec<(ArcStr, Value)>,
        dst: MapRef,
    },
}

/// A copy of `v` that shares nothing mutable with it; sharing and cycles
/// inside are preserved through `memo`. Fails past `MAX_NESTING` levels.
pub fn deep_copy(v: &Value, memo: &mut CopyMemo) -> Result<Value, TooDeep> {
    // Most values a spawn or an await copies are numbers and strings: no
    // memo, no frames (a task's result and its captures are usually these).
    if is_shared_as_is(v) {
        return Ok(v.clone());
    }
    let (root, opened) = copy_one(v, memo, 0)?;
    let mut frames: Vec<CopyFrame> = opened.into_iter().collect();
    // Depth first, meeting the values in the order a recursive copy would
    // (`memo.blocks` keeps that order): a frame stops at its first item that
    // opens a frame of its own.
    loop {
        let depth = frames.len();
        let Some(frame) = frames.last_mut() else { break };
        let mut opened = None;
        match frame {
            CopyFrame::Seq { src, next, items, .. } => {
                let src = src.borrow();
                while opened.is_none() && *next < src.len() {
                    let (copy, child) = copy_one(&src[*next], memo, depth)?;
                    items.push(copy);
                    *next += 1;
                    opened = child;
                }
            }
            CopyFrame::Map { src, after, entries, .. } => {
                let src = src.borrow();
                for (k, item) in src.iter_after(after.as_deref()) {
                    let (copy, child) = copy_one(item, memo, depth)?;
                    entries.push((k.clone(), copy));
                    if child.is_some() {
                        opened = child;
                        break;
                    }
                }
                if opened.is_some() {
                    *after = entries.last().map(|(k, _)| k.clone());
                }
            }
        }
        match opened {
            Some(child) => frames.push(child),
            None => match frames.pop() {
                Some(CopyFrame::Seq { items, dst, .. }) => dst.borrow_mut().0 = items,
                Some(CopyFrame::Map { entries, dst, .. }) => *dst.borrow_mut() = entries.into_iter().collect(),
                None => {}
            },
        }
    }
    Ok(root)
}

/// The copy of one value met at `depth` open collections: scalars as they
/// are, an ok Result chain unwound in a loop, a collection already copied
/// as its copy, any other collection as a fresh one with the frame that
/// will fill it.
fn copy_one(v: &Value, memo: &mut CopyMemo, depth: usize) -> Result<(Value, Option<CopyFrame>), TooDeep> {
    let mut oks = 0;
    let mut inner = v;
    while let Value::Result(r) = inner {
        match &**r {
            ResultValue::Ok(x) => {
                oks += 1;
                inner = x;
            }
            ResultValue::Err { .. } => break,
        }
    }
    let key = match inner {
        Value::Array(s) | Value::List(s) | Value::Set(s) => Some(addr(s)),
        Value::Map(m) => Some(addr(m)),
        _ => None,
    };
    let mut opened = None;
    let mut copy = match (inner, key.and_then(|k| memo.seen.get(&k))) {
        (_, Some(done)) => done.clone(),
        (Value::Array(_) | Value::List(_) | Value::Set(_) | Value::Map(_), None) if depth >= MAX_NESTING => {
            return Err(TooDeep)
        }
        (Value::Array(s) | Value::List(s) | Value::Set(s), None) => {
            let dst: Seq = new_seq(Vec::new());
            let fresh = inner.with_seq(dst.clone());
            let items = Vec::with_capacity(s.borrow().len());
            opened = Some(CopyFrame::Seq { src: s.clone(), next: 0, items, dst });
            fresh
        }
        (Value::Map(m), None) => {
            let dst: MapRef = Rc::new(RefCell::new(Map::new()));
            let entries = Vec::with_capacity(m.borrow().len());
            opened = Some(CopyFrame::Map { src: m.clone(), after: None, entries, dst: dst.clone() });
            Value::Map(dst)
        }
        // A fresh `Rc`: the error's texts are `Arc`s, safe to share.
        (Value::Result(r), None) => Value::Result(Rc::new((**r).clone())),
        (Value::Block(b), None) => {
            memo.blocks.push(*b);
            Value::Block(*b)
        }
        (Value::Task(id), None) => {
            memo.saw_task = true;
            Value::Task(*id)
        }
        (other, None) => other.clone(),
    };
    if let Some(k) = key.filter(|_| opened.is_some()) {
        memo.seen.insert(k, copy.clone());
    }
    for _ in 0..oks {
        copy = Value::ok(copy);
    }
    Ok((copy, opened))
}

// ---- equality

/// A pair of collections being compared.
enum EqFrame {
    /// Arrays or lists of one length, element by element.
    Seq { x: Seq, y: Seq, next: usize },
    /// Sets of one size: element `next` of `x` against candidate `candidate`
    /// of `y`, until every element of `x` has an equal one in `y`.
    Set { x: Seq, y: Seq, next: usize, candidate: usize },
    /// Two maps with the same keys, value by value in key order, resuming
    /// after the key of the pair last entered.
    Map { x: MapRef, y: MapRef, after: Option<ArcStr> },
}

/// The first look at a pair: decided at once, to be entered, or a pair of
/// collections past `MAX_NESTING` levels.
enum Look {
    Equal(bool),
    Enter(EqFrame, (usize, usize)),
    TooDeep,
}

/// Looks at a pair met inside the open pairs on `path`. A pair already on
/// it is a cycle, taken as equal (unless some other part differs). Two
/// other distinct collections of one kind are one level deeper: past
/// `MAX_NESTING`, comparing them fails even where their sizes alone would
/// decide, so the limit does not depend on the contents.
fn look(a: &Value, b: &Value, path: &OnPath<(usize, usize)>) -> Look {
    let (mut a, mut b) = (a, b);
    loop {
        return Look::Equal(match (a, b) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(x), Value::Bool(y)) => x == y,
            (Value::Int(x), Value::Int(y)) => x == y,
            (Value::Float(x), Value::Float(y)) => x == y,
            (Value::Str(x), Value::Str(y)) => x == y,
            (Value::Block(x), Value::Block(y)) => x == y,
            (Value::Task(x), Value::Task(y)) => x == y,
            (Value::Class(x), Value::Class(y)) => x == y,
            (Value::Array(x), Value::Array(y)) | (Value::List(x), Value::List(y)) | (Value::Set(x), Value::Set(y)) => {
                if Rc::ptr_eq(x, y) || path.contains((addr(x), addr(y))) {
                    true
                } else if path.depth() >= MAX_NESTING {
                    return Look::TooDeep;
                } else if x.borrow().len() != y.borrow().len() {
                    false
                } else if x.borrow().is_empty() {
                    true
                } else {
                    let (x2, y2) = (x.clone(), y.clone());
                    let frame = if matches!(a, Value::Set(_)) {
                        EqFrame::Set { x: x2, y: y2, next: 0, candidate: 0 }
                    } else {
                        EqFrame::Seq { x: x2, y: y2, next: 0 }
                    };
                    return Look::Enter(frame, (addr(x), addr(y)));
                }
            }
            (Value::Map(x), Value::Map(y)) => {
                if Rc::ptr_eq(x, y) || path.contains((addr(x), addr(y))) {
                    true
                } else if path.depth() >= MAX_NESTING {
                    return Look::TooDeep;
                } else {
                    let (mx, my) = (x.borrow(), y.borrow());
                    if mx.len() != my.len() || !mx.keys().eq(my.keys()) {
                        false
                    } else if mx.is_empty() {
                        true
                    } else {
                        let frame = EqFrame::Map { x: x.clone(), y: y.clone(), after: None };
                        return Look::Enter(frame, (addr(x), addr(y)));
                    }
                }
            }
            (Value::Result(x), Value::Result(y)) => match (&**x, &**y) {
                (ResultValue::Ok(p), ResultValue::Ok(q)) => {
                    (a, b) = (p, q);
                    continue;
                }
                (ResultValue::Err { kind: k1, message: m1 }, ResultValue::Err { kind: k2, message: m2 }) => {
                    k1 == k2 && m1 == m2
                }
                _ => false,
            },
            _ => false,
        });
    }
}

/// Structural equality (REFERENCE-LANGUAGE §3.4) at any depth up to
/// `MAX_NESTING`: never a wrong answer because a value is deep.
pub fn structural_eq(a: &Value, b: &Value) -> Result<bool, TooDeep> {
    let mut frames: Vec<EqFrame> = Vec::new();
    let mut path: OnPath<(usize, usize)> = OnPath::new();
    // The answer for the pair the top frame is at (None: not compared yet).
    let mut answer = match look(a, b, &path) {
        Look::Equal(e) => return Ok(e),
        Look::TooDeep => return Err(TooDeep),
        Look::Enter(frame, key) => {
            frames.push(frame);
            path.push(key);
            None
        }
    };
    while let Some(top) = frames.last_mut() {
        // Advance the top frame past pairs decided at once, up to a pair to
        // enter or its own answer.
        let step = match top {
            EqFrame::Seq { x, y, next } => {
                if answer == Some(true) {
                    *next += 1;
                }
                let (xs, ys) = (x.borrow(), y.borrow());
                let mut step = if answer == Some(false) { Some(Look::Equal(false)) } else { None };
                while step.is_none() && *next < xs.len() {
                    match look(&xs[*next], &ys[*next], &path) {
                        Look::Equal(true) => *next += 1,
                        other => step = Some(other),
                    }
                }
                step.unwrap_or(Look::Equal(true))
            }
            EqFrame::Map { x, y, after } => {
                // The keys are equal (see `look`): pairs go in step.
                let mut step = if answer == Some(false) { Some(Look::Equal(false)) } else { None };
                let mut stop = None;
                if step.is_none() {
                    let (mx, my) = (x.borrow(), y.borrow());
                    for ((k, p), (_, q)) in mx.iter_after(after.as_deref()).zip(my.iter_after(after.as_deref())) {
                        match look(p, q, &path) {
                            Look::Equal(true) => {}
                            other => {
                                stop = Some(k.clone());
                                step = Some(other);
                                break;
                            }
                        }
                    }
                }
                if stop.is_some() {
                    *after = stop;
                }
                step.unwrap_or(Look::Equal(true))
            }
            EqFrame::Set { x, y, next, candidate } => {
                match answer {
                    Some(true) => {
                        *next += 1;
                        *candidate = 0;
                    }
                    Some(false) => *candidate += 1,
                    None => {}
                }
                let (xs, ys) = (x.borrow(), y.borrow());
                let mut step = None;
                while step.is_none() {
                    if *next == xs.len() {
                        step = Some(Look::Equal(true));
                    } else if *candidate == ys.len() {
                        step = Some(Look::Equal(false));
                    } else {
                        match look(&xs[*next], &ys[*candidate], &path) {
                            Look::Equal(true) => {
                                *next += 1;
                                *candidate = 0;
                            }
                            Look::Equal(false) => *candidate += 1,
                            enter => step = Some(enter),
                        }
                    }
                }
                step.unwrap_or(Look::Equal(true))
            }
        };
        answer = match step {
            // The frame is decided: its answer goes to the frame below.
            Look::Equal(e) => {
                frames.pop();
                path.pop();
                Some(e)
            }
            Look::TooDeep => return Err(TooDeep),
            Look::Enter(frame, key) => {
                frames.push(frame);
                path.push(key);
                None
            }
        };
    }
    Ok(answer.unwrap_or(true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::{notation, notation_in_message};

    /// An array nested `levels` deep (`[]` is one level).
    fn nest(levels: usize) -> Value {
        let mut v = Value::array(Vec::new());
        for _ in 1..levels {
            v = Value::array(vec![v]);
        }
        v
    }

    /// Runs `f` on a thread with a stack far smaller than a worker's: the
    /// traversals must not recurse along a value's nesting.
    fn on_small_stack(f: impl FnOnce() + Send + 'static) {
        let t = std::thread::Builder::new().stack_size(128 * 1024).spawn(f);
        assert!(t.map(|t| t.join().is_ok()).unwrap_or(false), "the traversal overflowed or panicked");
    }

    #[test]
    fn values_of_any_depth_and_kind_are_freed() {
        on_small_stack(|| {
            let mut v = Value::Nil;
            for i in 0..500_000 {
                v = match i % 5 {
                    0 => Value::array(vec![v]),
                    1 => Value::List(new_seq(vec![v])),
                    2 => Value::Set(new_seq(vec![v, Value::Int(1)])),
                    3 => Value::map(Map::from([(ArcStr::from("k"), v)])),
                    _ => Value::ok(v),
                };
            }
            drop(v);
        });
    }

    #[test]
    fn limits_hold_at_10000_levels_on_a_small_stack() {
        on_small_stack(|| {
            let prog = crate::compile("t.rco", "").unwrap_or_else(|_| panic!("an empty program compiles"));
            let (ok, deep) = (nest(MAX_NESTING), nest(MAX_NESTING + 1));
            assert_eq!(notation(&ok, &prog).map(|s| s.len()), Ok(2 * MAX_NESTING));
            assert_eq!(notation(&deep, &prog), Err(TooDeep));
            let elided = notation_in_message(&deep, &prog);
            assert_eq!(elided.len(), 2 * MAX_NESTING + 3);
            assert!(elided.contains("[...]"), "the innermost collection is written ...");
            assert_eq!(ok.equals(&nest(MAX_NESTING)), Ok(true));
            assert_eq!(deep.equals(&nest(MAX_NESTING + 1)), Err(TooDeep));
            assert_eq!(deep.equals(&deep.clone()), Ok(true), "one collection is equal to itself at any depth");
            assert_eq!(ok.equals(&nest(MAX_NESTING - 1)), Ok(false));
            assert!(ok.deep_copy().is_ok_and(|c| c.equals(&ok) == Ok(true)));
            assert_eq!(deep.deep_copy().map(|_| ()), Err(TooDeep));
            assert_eq!(Value::ok(Value::ok(deep.clone())).deep_copy().map(|_| ()), Err(TooDeep));
        });
    }

    #[test]
    fn a_copy_keeps_sharing_and_cycles_and_meets_blocks_in_order() {
        let shared = Value::array(vec![Value::Block(BlockId(2))]);
        let cyclic = Value::array(vec![Value::Block(BlockId(1))]);
        if let Value::Array(s) = &cyclic {
            s.borrow_mut().push(cyclic.clone());
            s.borrow_mut().push(shared.clone());
            s.borrow_mut().push(shared.clone());
            s.borrow_mut().push(Value::ok(Value::Task(7)));
        }
        let mut memo = CopyMemo::default();
        let copy = cyclic.deep_copy_in(&mut memo);
        assert_eq!(memo.blocks, vec![BlockId(1), BlockId(2)]);
        assert!(memo.saw_task);
        let Ok(Value::Array(c)) = &copy else { panic!("an array copies to an array") };
        let items = c.borrow();
        assert!(matches!(&items[1], Value::Array(inner) if Rc::ptr_eq(inner, c)), "the cycle is kept");
        assert!(matches!((&items[2], &items[3]), (Value::Array(a), Value::Array(b)) if Rc::ptr_eq(a, b)));
        assert!(matches!((&items[2], &shared), (Value::Array(a), Value::Array(b)) if !Rc::ptr_eq(a, b)));
        // Break the cycles so the test does not leak them.
        drop(items);
        c.borrow_mut().clear();
        if let Value::Array(s) = &cyclic {
            s.borrow_mut().clear();
        }
    }

    #[test]
    fn cycles_compare_as_the_trees_they_unfold_to() {
        let cycle = |head: i64| {
            let v = Value::array(vec![Value::Int(head)]);
            if let Value::Array(s) = &v {
                s.borrow_mut().push(v.clone());
            }
            v
        };
        let (a, b, c) = (cycle(1), cycle(1), cycle(2));
        assert_eq!(a.equals(&b), Ok(true));
        assert_eq!(a.equals(&c), Ok(false));
        let sa = Value::Set(new_seq(vec![c.clone(), a.clone()]));
        let sb = Value::Set(new_seq(vec![b.clone(), cycle(2)]));
        assert_eq!(sa.equals(&sb), Ok(true), "sets match elements in any order");
        for v in [&a, &b, &c] {
            if let Value::Array(s) = v {
                s.borrow_mut().clear();
            }
        }
    }
}
