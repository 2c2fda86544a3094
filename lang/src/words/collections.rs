//! Collections: construction (`array`, `list`, `map`, `Set` and their
//! classes, `new`, `range`), access (`at`, `has?`, `contains?`, `empty?`,
//! `count`, `first`, `last`, `take`, `skip`, `slice`, `reverse`, `keys`,
//! `values`), mutation (`push`, `put`, `insert_at`, `remove`, `remove_at`,
//! `clear_items`) and the higher-order words (`each`, `transform`,
//! `select`, `reduce`, `find`, `any?`, `all?`) (REFERENCE-LANGUAGE §4.2,
//! §7.7). The access words that also take a string treat it as a sequence
//! of characters (§7.6).
//!
//! Invariants: a sequence word returns a collection of its receiver's kind
//! (`Value::same_kind_seq`); a set never holds two equal elements (`push`
//! looks first); membership is the equality of §3.4 (`position_of`);
//! mutating words change the collection in place, after every check. A
//! higher-order word snapshots its collection, pushes an `IterFrame` and
//! lets the VM run the block per item; `feed_iter` takes each block result
//! (also for `map_result`, `and_then`) and `finish_iter` gives the word's
//! value (also for `await_all`).

use super::{bytes, count_arg, index_arg, int_arg, is_coll, str_arg, strings, weight, Cx, R};
use crate::deep::TooDeep;
use crate::error::VmError;
use crate::map::Map;
use crate::symbol::Symbol;
use crate::value::{new_seq, Class, Value};
use crate::vm::{Flow, Items, IterFrame, Vm};
use crate::word::Word;

/// Where an element equal to `item` is in `items` (REFERENCE-LANGUAGE
/// §3.4 equality).
fn position_of(items: &[Value], item: &Value) -> Result<Option<usize>, TooDeep> {
    for (i, x) in items.iter().enumerate() {
        if x.equals(item)? {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

/// A new empty collection of a collection class.
fn empty(class: Class) -> Value {
    match class {
        Class::Array => Value::array(Vec::new()),
        Class::List => Value::List(new_seq(Vec::new())),
        Class::Set => Value::Set(new_seq(Vec::new())),
        _ => Value::map(Map::new()),
    }
}

/// `array`, `list`, `map`, `Set` (and `Array`, `List`, `Map`): declares
/// the name on top bound to a new empty collection, or else pushes a new
/// one (lower case) or the class (capitalised).
pub(crate) fn make(vm: &mut Vm, cx: Cx) -> R {
    let class = match cx.word {
        Word::ArrayW => Class::Array,
        Word::ListW => Class::List,
        Word::SetW => Class::Set,
        _ => Class::Map,
    };
    if let Some(Value::Str(n)) = vm.stack.last() {
        let sym = Symbol::intern(n);
        vm.pop();
        vm.declare(sym, empty(class));
    } else if cx.name().starts_with(char::is_uppercase) {
        vm.stack.push(Value::Class(class));
    } else {
        vm.stack.push(empty(class));
    }
    Ok(Flow::Next)
}

pub(crate) fn new(vm: &mut Vm, cx: Cx) -> R {
    let v = match vm.peek(0) {
        Value::Class(c @ (Class::Array | Class::List | Class::Set | Class::Map)) => empty(*c),
        other => return Err(VmError::type_error(cx.name(), "collection class", other.kind())),
    };
    vm.replace(1, v)
}

pub(crate) fn range(vm: &mut Vm, cx: Cx) -> R {
    let a = int_arg(cx.name(), vm.peek(1))?;
    let b = int_arg(cx.name(), vm.peek(0))?;
    let span = a.abs_diff(b);
    if span > 100_000_000 {
        return Err(VmError::invalid(cx.name(), "range is too large"));
    }
    vm.charge(span as usize);
    let items: Vec<Value> =
        if a <= b { (a..b).map(Value::Int).collect() } else { ((b + 1)..=a).rev().map(Value::Int).collect() };
    vm.replace(2, Value::array(items))
}

pub(crate) fn is_empty(vm: &mut Vm, cx: Cx) -> R {
    let r = match vm.peek(0) {
        Value::Str(s) => s.is_empty(),
        Value::Array(s) | Value::List(s) | Value::Set(s) => s.borrow().is_empty(),
        Value::Map(m) => m.borrow().is_empty(),
        other => return Err(VmError::type_error(cx.name(), "string, array, or map", other.kind())),
    };
    vm.replace(1, Value::Bool(r))
}

pub(crate) fn at(vm: &mut Vm, cx: Cx) -> R {
    let name = cx.name();
    let cost = match (vm.peek(1), vm.peek(0)) {
        (Value::Str(s), Value::Int(i)) => bytes(usize::try_from(*i).unwrap_or(0).min(s.len())),
        _ => 0,
    };
    vm.charge(cost);
    let r = match (vm.peek(1), vm.peek(0)) {
        (Value::Map(m), key) => {
            let key = str_arg(name, key, "map key string")?;
            m.borrow().get(key).cloned().unwrap_or(Value::Nil)
        }
        (Value::Array(s) | Value::List(s), i) => {
            let i = index_arg(name, i)?;
            s.borrow().get(i).cloned().unwrap_or(Value::Nil)
        }
        (Value::Str(s), i) => {
            let i = index_arg(name, i)?;
            s.chars().nth(i).map_or(Value::Nil, |c| Value::str(c.encode_utf8(&mut [0; 4])))
        }
        (other, _) => return Err(VmError::type_error(name, "string, array, list, or map", other.kind())),
    };
    vm.replace(2, r)
}

/// `has?` and `contains?`.
pub(crate) fn has(vm: &mut Vm, cx: Cx) -> R {
    let name = cx.name();
    vm.charge(weight(vm.peek(1)));
    let item = vm.peek(0);
    let r = match vm.peek(1) {
        Value::Str(s) => s.contains(&**str_arg(name, item, "string")?),
        Value::Array(s) | Value::List(s) | Value::Set(s) => {
            position_of(&s.borrow(), item).map_err(|e| e.error(name))?.is_some()
        }
        Value::Map(m) => match item {
            Value::Str(k) => m.borrow().contains_key(k),
            _ => false,
        },
        other => return Err(VmError::type_error(name, "collection or string", other.kind())),
    };
    vm.replace(2, Value::Bool(r))
}

/// `take` and `skip`.
pub(crate) fn take_or_skip(vm: &mut Vm, cx: Cx) -> R {
    let take = cx.word == Word::Take;
    vm.charge(weight(vm.peek(1)));
    let n = count_arg(cx.name(), vm.peek(0))?;
    let r = match vm.peek(1) {
        Value::Str(s) => {
            let t: String = if take { s.chars().take(n).collect() } else { s.chars().skip(n).collect() };
            Value::str(&t)
        }
        v @ (Value::Array(s) | Value::List(s) | Value::Set(s)) => {
            let items = s.borrow();
            let part: Vec<Value> =
                if take { items.iter().take(n).cloned().collect() } else { items.iter().skip(n).cloned().collect() };
            v.same_kind_seq(part)
        }
        other => return Err(VmError::type_error(cx.name(), "string, array, list, or set", other.kind())),
    };
    vm.replace(2, r)
}

pub(crate) fn slice(vm: &mut Vm, cx: Cx) -> R {
    vm.charge(weight(vm.peek(2)));
    let count = count_arg(cx.name(), vm.peek(0))?;
    let start = index_arg(cx.name(), vm.peek(1))?;
    let r = match vm.peek(2) {
        Value::Str(s) => Value::str(&s.chars().skip(start).take(count).collect::<String>()),
        v @ (Value::Array(s) | Value::List(s)) => {
            v.same_kind_seq(s.borrow().iter().skip(start).take(count).cloned().collect())
        }
        other => return Err(VmError::type_error(cx.name(), "receiver string", other.kind())),
    };
    vm.replace(3, r)
}

pub(crate) fn push(vm: &mut Vm, cx: Cx) -> R {
    if let Value::Set(_) = vm.peek(1) {
        // A set looks for the item before adding it.
        vm.charge(weight(vm.peek(1)));
    }
    let item = vm.peek(0).clone();
    match vm.peek(1) {
        Value::Array(s) | Value::List(s) => s.borrow_mut().push(item),
        Value::Set(s) => {
            let present = position_of(&s.borrow(), &item).map_err(|e| e.error(cx.name()))?.is_some();
            if !present {
                s.borrow_mut().push(item);
            }
        }
        other => return Err(VmError::type_error(cx.name(), "array, list, or set", other.kind())),
    }
    vm.pop();
    Ok(Flow::Next)
}

pub(crate) fn put(vm: &mut Vm, cx: Cx) -> R {
    let Value::Map(m) = vm.peek(2) else {
        return Err(VmError::type_error(cx.name(), "map", vm.peek(2).kind()));
    };
    let key = str_arg(cx.name(), vm.peek(1), "map key string")?.clone();
    let v = vm.peek(0).clone();
    m.borrow_mut().insert(key, v);
    vm.pop();
    vm.pop();
    Ok(Flow::Next)
}

pub(crate) fn insert_at(vm: &mut Vm, cx: Cx) -> R {
    vm.charge(bytes(weight(vm.peek(2))));
    let i = index_arg(cx.name(), vm.peek(1))?;
    let item = vm.peek(0).clone();
    match vm.peek(2) {
        Value::Array(s) | Value::List(s) => {
            let len = s.borrow().len();
            if i > len {
                return Err(VmError::out_of_bounds(cx.name(), i, len));
            }
            s.borrow_mut().insert(i, item);
        }
        other => return Err(VmError::type_error(cx.name(), "array or list", other.kind())),
    }
    vm.pop();
    vm.pop();
    Ok(Flow::Next)
}

pub(crate) fn remove(vm: &mut Vm, cx: Cx) -> R {
    vm.charge(weight(vm.peek(1)));
    let item = vm.peek(0);
    match vm.peek(1) {
        Value::Array(s) | Value::List(s) | Value::Set(s) => {
            let at = position_of(&s.borrow(), item).map_err(|e| e.error(cx.name()))?;
            if let Some(at) = at {
                s.borrow_mut().remove(at);
            }
        }
        Value::Map(m) => {
            let key = str_arg(cx.name(), item, "map key string")?;
            m.borrow_mut().remove(key);
        }
        other => return Err(VmError::type_error(cx.name(), "collection", other.kind())),
    }
    vm.pop();
    Ok(Flow::Next)
}

pub(crate) fn remove_at(vm: &mut Vm, cx: Cx) -> R {
    vm.charge(bytes(weight(vm.peek(1))));
    let i = index_arg(cx.name(), vm.peek(0))?;
    match vm.peek(1) {
        Value::Array(s) | Value::List(s) => {
            let len = s.borrow().len();
            if i >= len {
                return Err(VmError::out_of_bounds(cx.name(), i, len));
            }
            s.borrow_mut().remove(i);
        }
        other => return Err(VmError::type_error(cx.name(), "array or list", other.kind())),
    }
    vm.pop();
    Ok(Flow::Next)
}

// ---- receiver methods (the VM checked `supports`)

/// `count`: of a string, its `length`.
pub(crate) fn count(vm: &mut Vm, cx: Cx) -> R {
    let n = match vm.peek(0) {
        Value::Str(_) => return strings::length(vm, cx),
        Value::Array(s) | Value::List(s) | Value::Set(s) => s.borrow().len(),
        Value::Map(m) => m.borrow().len(),
        _ => 0,
    };
    vm.replace(1, Value::Int(n as i64))
}

/// `first` and `last`.
pub(crate) fn first_or_last(vm: &mut Vm, cx: Cx) -> R {
    let first = cx.word == Word::First;
    let r = match vm.peek(0) {
        Value::Str(s) => {
            let c = if first { s.chars().next() } else { s.chars().next_back() };
            c.map_or(Value::Nil, |c| Value::str(c.encode_utf8(&mut [0; 4])))
        }
        v => v
            .as_seq()
            .and_then(|s| {
                let s = s.borrow();
                if first {
                    s.first().cloned()
                } else {
                    s.last().cloned()
                }
            })
            .unwrap_or(Value::Nil),
    };
    vm.replace(1, r)
}

pub(crate) fn reverse(vm: &mut Vm, _: Cx) -> R {
    vm.charge(weight(vm.peek(0)));
    let r = match vm.peek(0) {
        Value::Str(s) => Value::str(&s.chars().rev().collect::<String>()),
        v => {
            let items: Vec<Value> = v.as_seq().map(|s| s.borrow().iter().rev().cloned().collect()).unwrap_or_default();
            v.same_kind_seq(items)
        }
    };
    vm.replace(1, r)
}

/// `keys` and `values`.
pub(crate) fn keys_or_values(vm: &mut Vm, cx: Cx) -> R {
    vm.charge(weight(vm.peek(0)));
    let Value::Map(m) = vm.peek(0) else {
        return Err(VmError::unknown_word(cx.name()));
    };
    let items: Vec<Value> = if cx.word == Word::Keys {
        m.borrow().keys().map(|k| Value::Str(k.clone())).collect()
    } else {
        m.borrow().values().cloned().collect()
    };
    vm.replace(1, Value::array(items))
}

pub(crate) fn clear_items(vm: &mut Vm, cx: Cx) -> R {
    vm.charge(weight(vm.peek(0)));
    match vm.peek(0) {
        Value::Array(s) | Value::List(s) | Value::Set(s) => s.borrow_mut().clear(),
        Value::Map(m) => m.borrow_mut().clear(),
        _ => return Err(VmError::unknown_word(cx.name())),
    }
    Ok(Flow::Next)
}

/// each / transform / select / reduce / find / any? / all?, with the
/// block on either side of the collection (DIALECT point 11).
pub(crate) fn higher_order(vm: &mut Vm, cx: Cx) -> R {
    let (word, name) = (cx.word, cx.name());
    let (block, coll) = match (vm.peek(1), vm.peek(0)) {
        (c, Value::Block(b)) if is_coll(c) => (*b, c.clone()),
        (Value::Block(b), c) => (*b, c.clone()),
        (other, _) => return Err(VmError::type_error(name, "block", other.kind())),
    };
    if word == Word::Reduce && matches!(coll, Value::Map(_)) {
        return Err(VmError::type_error(name, "array, list, or set", "map"));
    }
    let items = match &coll {
        Value::Map(m) => Items::Map(m.borrow().iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        v => Items::Seq(v.as_seq().map(|s| s.borrow().to_vec()).unwrap_or_default()),
    };
    // The snapshot (each item then also runs its block, which counts).
    vm.charge(items.len());
    vm.pop();
    vm.pop();
    let acc = if word == Word::Reduce { vm.pop() } else { Value::Nil };
    iterate(vm, &cx, block.0, items, coll, acc)
}

/// Starts the iteration of the word running (`cx`) over `items`: the VM
/// runs `block` per item (none: `await_all` awaits each) and gives each
/// result to `feed_iter`.
pub(crate) fn iterate(vm: &mut Vm, cx: &Cx, block: u32, items: Items, receiver: Value, acc: Value) -> R {
    // A word with one output per item sizes its output once (growing it
    // copied a million awaited results several times over).
    let out = match cx.word {
        Word::Transform | Word::AwaitAll => Vec::with_capacity(items.len()),
        _ => Vec::new(),
    };
    vm.start_iter(IterFrame { word: cx.word, site: cx.site, block, items, index: 0, receiver, out, acc, done: false })
}

/// Takes a block's result into a running higher-order word.
pub(crate) fn feed_iter(it: &mut IterFrame, r: Value) -> Result<(), VmError> {
    // The word's name is looked up only for an error.
    let word = it.word;
    let predicate = |r: &Value| {
        r.truthy().ok_or_else(|| VmError::invalid(word.name(), "Result values require ok? before use as a predicate"))
    };
    let i = it.index;
    it.index += 1;
    match it.word {
        Word::Each => {}
        Word::Transform => it.out.push(r),
        Word::Select if predicate(&r)? => match &it.items {
            Items::Map(v) => {
                it.out.push(Value::Str(v[i].0.clone()));
                it.out.push(v[i].1.clone());
            }
            items => it.out.push(items.element(i)),
        },
        Word::Reduce => it.acc = r,
        Word::Find if predicate(&r)? => {
            it.acc = it.items.element(i);
            it.done = true;
        }
        Word::Any if predicate(&r)? => {
            it.acc = Value::Bool(true);
            it.done = true;
        }
        Word::All if !predicate(&r)? => {
            it.acc = Value::Bool(false);
            it.done = true;
        }
        Word::MapResult => it.acc = Value::ok(r),
        Word::AndThen => {
            if !matches!(r, Value::Result(_)) {
                return Err(VmError::type_error(word.name(), "block returning result", r.kind()));
            }
            it.acc = r;
        }
        _ => {}
    }
    Ok(())
}

/// The value a finished higher-order word leaves on the stack.
pub(crate) fn finish_iter(it: IterFrame) -> Value {
    match it.word {
        Word::Each => it.receiver,
        Word::Transform | Word::AwaitAll => Value::array(it.out),
        Word::Select => match &it.receiver {
            Value::Map(_) => {
                let mut m = Map::new();
                let mut pairs = it.out.into_iter();
                while let (Some(Value::Str(k)), Some(v)) = (pairs.next(), pairs.next()) {
                    m.insert(k, v);
                }
                Value::map(m)
            }
            r => r.same_kind_seq(it.out),
        },
        Word::Any => {
            if it.done {
                it.acc
            } else {
                Value::Bool(false)
            }
        }
        Word::All => {
            if it.done {
                it.acc
            } else {
                Value::Bool(true)
            }
        }
        _ => it.acc,
    }
}
