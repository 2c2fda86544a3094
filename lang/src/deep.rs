//! Values of any depth (DIALECT 16): freeing, deep copy and equality, and
//! what the printers share with them (`MAX_NESTING`, `TooDeep`, `OnPath`).
//!
//! Invariants: nothing here recurses on the Rust stack along a value's
//! nesting; each traversal keeps an explicit stack, so freeing works at any
//! depth and copying and comparing fail with `TooDeep` past `MAX_NESTING`
//! levels instead of overflowing a worker's native stack. Depth counts
//! collections only (`[]` is one level, `[[1]]` two); an ok Result wraps its
//! value without adding a level, and chains of them are unwound in loops.
//! A collection met again on the path from the root is a cycle, never a
//! level: copying keeps it a cycle, comparing takes the pair as equal (the
//! two values are compared as the infinite trees they unfold to).

use crate::error::VmError;
use crate::map::Map;
use crate::value::{BlockId, MapRef, ResultValue, Seq, Value};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::rc::Rc;
use std::sync::Arc;

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

/// Levels up to which `OnPath` searches a vector; deeper paths also keep a
/// hash set, so the check stays cheap at any depth without allocating a set
/// for the common shallow value.
const SHALLOW: usize = 32;

/// The collections (or pairs of them) on the path from the root to the
/// point a traversal has reached, to recognise a cycle. A key is never on
/// the path twice.
pub struct OnPath<K> {
    keys: Vec<K>,
    deep: HashSet<K>,
}

impl<K: Copy + Eq + Hash> OnPath<K> {
    pub fn new() -> OnPath<K> {
        OnPath { keys: Vec::new(), deep: HashSet::new() }
    }

    /// How many keys are on the path (the depth reached).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn contains(&self, key: K) -> bool {
        self.keys[..self.keys.len().min(SHALLOW)].contains(&key)
            || (self.keys.len() > SHALLOW && self.deep.contains(&key))
    }

    pub fn push(&mut self, key: K) {
        if self.keys.len() >= SHALLOW {
            self.deep.insert(key);
        }
        self.keys.push(key);
    }

    pub fn pop(&mut self) {
        if let Some(key) = self.keys.pop() {
            if self.keys.len() >= SHALLOW {
                self.deep.remove(&key);
            }
        }
    }
}

/// The address of a collection, its identity on a path or in a memo.
pub(crate) fn addr<T>(rc: &Rc<T>) -> usize {
    Rc::as_ptr(rc) as *const u8 as usize
}

/// Whether a value holds other values a traversal must enter: a collection
/// or an ok Result.
pub fn is_nested(v: &Value) -> bool {
    match v {
        Value::Array(_) | Value::List(_) | Value::Set(_) | Value::Map(_) => true,
        Value::Result(r) => matches!(**r, ResultValue::Ok(_)),
        _ => false,
    }
}

/// The entries of a map, cloned (cheap: keys are `Arc`s, collections `Rc`s),
/// so that a traversal can hold them while it enters them one by one.
pub fn entries(m: &MapRef) -> Vec<(Arc<str>, Value)> {
    m.borrow().iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

// ---- freeing

/// What a uniquely owned value held, taken out of it.
enum Contents {
    Items(Vec<Value>),
    Map(Map),
    One(Value),
}

/// Takes out what `v` holds when `v` is the last owner of it and it holds
/// something that could nest; `v` then drops without recursing.
fn take_contents(v: &mut Value) -> Option<Contents> {
    match v {
        Value::Array(s) | Value::List(s) | Value::Set(s) => {
            let items = Rc::get_mut(s)?.get_mut();
            (!items.is_empty()).then(|| Contents::Items(std::mem::take(items)))
        }
        Value::Map(m) => {
            let map = Rc::get_mut(m)?.get_mut();
            (!map.is_empty()).then(|| Contents::Map(std::mem::take(map)))
        }
        Value::Result(r) => match Rc::get_mut(r)? {
            ResultValue::Ok(inner) if is_nested(inner) => Some(Contents::One(std::mem::take(inner))),
            _ => None,
        },
        _ => None,
    }
}

/// Frees what `v` holds without recursing (called by `Value`'s `Drop`):
/// a uniquely owned collection is emptied onto an explicit stack, and every
/// value on that stack is emptied in turn before it drops.
pub(crate) fn free(v: &mut Value) {
    let Some(contents) = take_contents(v) else { return };
    let mut pending: Vec<Value> = Vec::new();
    release(contents, &mut pending);
    while let Some(mut next) = pending.pop() {
        if let Some(contents) = take_contents(&mut next) {
            release(contents, &mut pending);
        }
        // `next` drops here, emptied: its own drop takes nothing.
    }
}

/// Drops the values of `contents` that own nothing deeper and queues the
/// others.
fn release(contents: Contents, pending: &mut Vec<Value>) {
    let mut keep = |v: Value| {
        let unique = match &v {
            Value::Array(s) | Value::List(s) | Value::Set(s) => Rc::strong_count(s) == 1,
            Value::Map(m) => Rc::strong_count(m) == 1,
            Value::Result(r) => Rc::strong_count(r) == 1,
            _ => false,
        };
        if unique {
            pending.push(v);
        }
    };
    match contents {
        Contents::Items(items) => items.into_iter().for_each(keep),
        Contents::Map(Map::Small(entries)) => entries.into_iter().for_each(|(_, v)| keep(v)),
        Contents::Map(Map::Large(entries)) => entries.into_values().for_each(keep),
        Contents::One(v) => keep(v),
    }
}

// ---- deep copy

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
    Seq { src: Seq, next: usize, items: Vec<Value>, dst: Seq },
    Map { entries: Vec<(Arc<str>, Value)>, next: usize, dst: MapRef },
}

/// A copy of `v` that shares nothing mutable with it; sharing and cycles
/// inside are preserved through `memo`. Fails past `MAX_NESTING` levels.
pub fn deep_copy(v: &Value, memo: &mut CopyMemo) -> Result<Value, TooDeep> {
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
            CopyFrame::Map { entries, next, .. } => {
                while opened.is_none() && *next < entries.len() {
                    let (copy, child) = copy_one(&entries[*next].1, memo, depth)?;
                    entries[*next].1 = copy;
                    *next += 1;
                    opened = child;
                }
            }
        }
        match opened {
            Some(child) => frames.push(child),
            None => match frames.pop() {
                Some(CopyFrame::Seq { items, dst, .. }) => *dst.borrow_mut() = items,
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
            let dst: Seq = Rc::new(RefCell::new(Vec::new()));
            let fresh = inner.with_seq(dst.clone());
            let items = Vec::with_capacity(s.borrow().len());
            opened = Some(CopyFrame::Seq { src: s.clone(), next: 0, items, dst });
            fresh
        }
        (Value::Map(m), None) => {
            let dst: MapRef = Rc::new(RefCell::new(Map::new()));
            opened = Some(CopyFrame::Map { entries: entries(m), next: 0, dst: dst.clone() });
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
    /// The values of two maps with the same keys, in key order.
    Map { x: Vec<Value>, y: Vec<Value>, next: usize },
}

/// The first look at a pair: decided at once, or to be entered.
enum Look {
    Equal(bool),
    Enter(EqFrame, (usize, usize)),
}

fn look(a: &Value, b: &Value) -> Look {
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
                if Rc::ptr_eq(x, y) {
                    true
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
                if Rc::ptr_eq(x, y) {
                    true
                } else {
                    let (mx, my) = (x.borrow(), y.borrow());
                    if mx.len() != my.len() || !mx.keys().eq(my.keys()) {
                        false
                    } else if mx.is_empty() {
                        true
                    } else {
                        let frame = EqFrame::Map {
                            x: mx.values().cloned().collect(),
                            y: my.values().cloned().collect(),
                            next: 0,
                        };
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
    let mut answer = match look(a, b) {
        Look::Equal(e) => return Ok(e),
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
                    match look(&xs[*next], &ys[*next]) {
                        Look::Equal(true) => *next += 1,
                        other => step = Some(other),
                    }
                }
                step.unwrap_or(Look::Equal(true))
            }
            EqFrame::Map { x, y, next } => {
                if answer == Some(true) {
                    *next += 1;
                }
                let mut step = if answer == Some(false) { Some(Look::Equal(false)) } else { None };
                while step.is_none() && *next < x.len() {
                    match look(&x[*next], &y[*next]) {
                        Look::Equal(true) => *next += 1,
                        other => step = Some(other),
                    }
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
                        match look(&xs[*next], &ys[*candidate]) {
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
            // A pair already being compared further up: a cycle, equal
            // unless some other part differs.
            Look::Enter(_, key) if path.contains(key) => Some(true),
            Look::Enter(_, _) if frames.len() >= MAX_NESTING => return Err(TooDeep),
            Look::Enter(frame, key) => {
                frames.push(frame);
                path.push(key);
                None
            }
        };
    }
    Ok(answer.unwrap_or(true))
}
