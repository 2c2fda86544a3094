//! `Value`: every runtime value of the language, with equality and truthiness.
//!
//! Invariants: a `Value` is 16 bytes; strings are immutable and cheaply
//! shared (`ArcStr`, one thin pointer);
//! arrays, lists, sets and maps are shared mutable references
//! (`Rc<RefCell<..>>`, REFERENCE-LANGUAGE §3.2) and never leave the VM that
//! owns them: values cross to another task only through `deep_copy`, which
//! rebuilds every collection, so no `Rc` is ever shared between tasks.
//! Map keys stay sorted byte-wise (see `map.rs`); sets keep
//! insertion order and hold no two equal elements. A value may nest to any
//! depth: freeing it never overflows the native stack (the containers'
//! `Drop` goes through `deep::free`), and equality and deep copy fail with
//! `TooDeep` past `deep::MAX_NESTING` levels (DIALECT 16).

pub use crate::deep::CopyMemo;
use crate::deep::{self, TooDeep};
use crate::map::Map;
use arcstr::ArcStr;
use std::cell::RefCell;
use std::rc::Rc;

/// A shared, mutable sequence (array, list or set).
pub type Seq = Rc<RefCell<Elements>>;

/// The elements of a sequence: a vector whose nested values are freed
/// with a bounded native stack (DIALECT 16: freeing always works, at any
/// depth; see `deep::free`). Only a collection whose elements are freed pays for it;
/// the drop of a `Value` itself stays the compiler's.
#[derive(Clone, Debug, Default)]
pub struct Elements(pub Vec<Value>);

impl Drop for Elements {
    fn drop(&mut self) {
        if !self.0.is_empty() && !deep::leaves_only(self.0.iter()) {
            deep::free(deep::Contents::Items(std::mem::take(&mut self.0)));
        }
    }
}

impl std::ops::Deref for Elements {
    type Target = Vec<Value>;
    fn deref(&self) -> &Vec<Value> {
        &self.0
    }
}

impl std::ops::DerefMut for Elements {
    fn deref_mut(&mut self) -> &mut Vec<Value> {
        &mut self.0
    }
}

/// A new sequence holding `items`.
#[inline]
pub fn new_seq(items: Vec<Value>) -> Seq {
    Rc::new(RefCell::new(Elements(items)))
}
/// A shared, mutable map with byte-wise sorted string keys.
pub type MapRef = Rc<RefCell<Map>>;

/// A compiled block: the index of its chunk in the program.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct BlockId(pub u32);

/// An ok or error Result (REFERENCE-LANGUAGE §7.8).
#[derive(Clone, Debug)]
pub enum ResultValue {
    Ok(Value),
    Err { kind: ArcStr, message: ArcStr },
}

/// A chain of ok Results around a collection is freed like `Elements`.
impl Drop for ResultValue {
    fn drop(&mut self) {
        if let ResultValue::Ok(v) = self {
            if v.owns_nested() {
                deep::free(deep::Contents::One(std::mem::take(v)));
            }
        }
    }
}

/// A built-in class: what `class_of` reports for each kind of value, and
/// the collection classes pushed by their bare names (`Array new`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Class {
    Nil,
    Bool,
    Number,
    Float,
    String,
    Array,
    List,
    Set,
    Map,
    Block,
    Task,
    Result,
    Class,
}

impl Class {
    /// The name `class_of` prints.
    pub fn name(self) -> &'static str {
        match self {
            Class::Nil => "Nil",
            Class::Bool => "Bool",
            Class::Number => "Number",
            Class::Float => "Float",
            Class::String => "String",
            Class::Array => "Array",
            Class::List => "List",
            Class::Set => "Set",
            Class::Map => "Map",
            Class::Block => "Block",
            Class::Task => "Task",
            Class::Result => "Result",
            Class::Class => "Class",
        }
    }
}

/// A Ricochet value. 16 bytes: a tag and one word (strings are thin
/// pointers, classes a byte), so the stack and collections move two words
/// per value.
#[derive(Clone, Debug, Default)]
pub enum Value {
    #[default]
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(ArcStr),
    Array(Seq),
    List(Seq),
    Set(Seq),
    Map(MapRef),
    Block(BlockId),
    Task(u64),
    Result(Rc<ResultValue>),
    /// A built-in class value (`Array`, `Set`, ... pushed without a name).
    Class(Class),
}

impl Value {
    /// Drops the value, inline when it owns nothing: the VM's hot paths
    /// drop mostly numbers and bools, and the general drop glue of `Value`
    /// is an out-of-line call.
    #[inline(always)]
    pub fn discard(self) {
        match self {
            Value::Nil | Value::Bool(_) | Value::Int(_) | Value::Float(_) => std::mem::forget(self),
            other => drop(other),
        }
    }

    /// A copy of the value, inline for an integer (the common case on the
    /// VM's hot paths; the general clone is a jump over every kind).
    #[inline(always)]
    pub fn fast_clone(&self) -> Value {
        match self {
            Value::Int(n) => Value::Int(*n),
            other => other.clone(),
        }
    }

    /// Where the heap block of a string, a collection or a Result starts
    /// (its counts, then its data; for a hint to the cache, never to be
    /// read through).
    pub fn block(&self) -> Option<*const u8> {
        match self {
            Value::Str(s) => Some(s.as_ptr()),
            Value::Array(s) | Value::List(s) | Value::Set(s) => Some(Rc::as_ptr(s).cast()),
            Value::Map(m) => Some(Rc::as_ptr(m).cast()),
            Value::Result(r) => Some(Rc::as_ptr(r).cast()),
            _ => None,
        }
    }

    pub fn str(s: &str) -> Value {
        Value::Str(ArcStr::from(s))
    }

    /// A new string of `parts` one after another, in one allocation.
    pub fn concat(parts: &[&str]) -> Value {
        let len = parts.iter().map(|p| p.len()).sum();
        if len == 0 {
            // arcstr allocates only non-empty strings (a debug assertion
            // in `init_with`); the empty one is static.
            return Value::Str(ArcStr::new());
        }
        let text = ArcStr::init_with(len, |buf| {
            let mut at = 0;
            for p in parts {
                buf[at..at + p.len()].copy_from_slice(p.as_bytes());
                at += p.len();
            }
        });
        // Whole strings one after another are UTF-8: never the default.
        Value::Str(text.unwrap_or_default())
    }

    pub fn array(items: Vec<Value>) -> Value {
        Value::Array(new_seq(items))
    }

    pub fn map(entries: Map) -> Value {
        Value::Map(Rc::new(RefCell::new(entries)))
    }

    pub fn ok(v: Value) -> Value {
        Value::Result(Rc::new(ResultValue::Ok(v)))
    }

    pub fn err(kind: &str, message: &str) -> Value {
        Value::Result(Rc::new(ResultValue::Err { kind: ArcStr::from(kind), message: ArcStr::from(message) }))
    }

    /// The kind name `type` reports (REFERENCE-LANGUAGE §3.1).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) => "number",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::Array(_) => "array",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::Map(_) => "map",
            Value::Block(_) => "block",
            Value::Task(_) => "task",
            Value::Result(_) => "result",
            Value::Class(_) => "class",
        }
    }

    /// The class `class_of` reports.
    pub fn class(&self) -> Class {
        match self {
            Value::Nil => Class::Nil,
            Value::Bool(_) => Class::Bool,
            Value::Int(_) => Class::Number,
            Value::Float(_) => Class::Float,
            Value::Str(_) => Class::String,
            Value::Array(_) => Class::Array,
            Value::List(_) => Class::List,
            Value::Set(_) => Class::Set,
            Value::Map(_) => Class::Map,
            Value::Block(_) => Class::Block,
            Value::Task(_) => Class::Task,
            Value::Result(_) => Class::Result,
            Value::Class(_) => Class::Class,
        }
    }

    /// The name of the class `class_of` reports.
    pub fn class_name(&self) -> &'static str {
        self.class().name()
    }

    /// Truthiness (§3.3); `None` for a Result, which is neither.
    pub fn truthy(&self) -> Option<bool> {
        Some(match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(n) => *n != 0,
            Value::Float(f) => !(*f == 0.0 || f.is_nan()),
            Value::Str(s) => !s.is_empty(),
            Value::Array(s) | Value::List(s) | Value::Set(s) => !s.borrow().is_empty(),
            Value::Map(m) => !m.borrow().is_empty(),
            Value::Result(_) => return None,
            Value::Block(_) | Value::Task(_) | Value::Class(_) => true,
        })
    }

    /// The sequence behind an array, list or set.
    pub fn as_seq(&self) -> Option<&Seq> {
        match self {
            Value::Array(s) | Value::List(s) | Value::Set(s) => Some(s),
            _ => None,
        }
    }

    /// A new sequence of the same kind (array, list or set) as `self`.
    pub fn same_kind_seq(&self, items: Vec<Value>) -> Value {
        self.with_seq(new_seq(items))
    }

    /// `seq` as a sequence of the same kind (array, list or set) as `self`.
    pub fn with_seq(&self, seq: Seq) -> Value {
        match self {
            Value::List(_) => Value::List(seq),
            Value::Set(_) => Value::Set(seq),
            _ => Value::Array(seq),
        }
    }

    /// `=` (§3.4): numbers compare by exact value across int and float;
    /// everything else structurally. Fails only for two values that are
    /// both nested deeper than `MAX_NESTING` where they would have to be
    /// compared (DIALECT 16).
    pub fn equals(&self, other: &Value) -> Result<bool, TooDeep> {
        match (self, other) {
            (Value::Int(a), Value::Float(b)) | (Value::Float(b), Value::Int(a)) => Ok(int_eq_float(*a, *b)),
            // The common cases, as `deep::structural_eq` answers them,
            // without setting up its walk (a third of a `=` on strings).
            (Value::Str(a), Value::Str(b)) => Ok(a == b),
            (Value::Int(a), Value::Int(b)) => Ok(a == b),
            _ => deep::structural_eq(self, other),
        }
    }

    /// A copy that shares nothing mutable with `self` (for handing a value to
    /// another task). Sharing and cycles inside the value are preserved.
    pub fn deep_copy(&self) -> Result<Value, TooDeep> {
        if deep::is_shared_as_is(self) {
            return Ok(self.clone());
        }
        self.deep_copy_in(&mut CopyMemo::default())
    }

    /// `deep_copy` sharing one memo across several values, so that two
    /// bindings of one collection still share their copy.
    pub fn deep_copy_in(&self, memo: &mut CopyMemo) -> Result<Value, TooDeep> {
        deep::deep_copy(self, memo)
    }
}

const _: () = assert!(std::mem::size_of::<Value>() == 16);

/// Exact comparison of an integer with a float (2^53+1 != 2^53 as float).
pub fn int_eq_float(a: i64, b: f64) -> bool {
    b.fract() == 0.0 && (-TWO_POW_63..TWO_POW_63).contains(&b) && (b as i64) == a
}

/// 2^63: the floats in `-TWO_POW_63..TWO_POW_63` convert to `i64` exactly.
pub const TWO_POW_63: f64 = (1u64 << 63) as f64;

/// Exact ordering of an integer against a float; `None` for NaN.
pub fn cmp_int_float(a: i64, b: f64) -> Option<std::cmp::Ordering> {
    use std::cmp::Ordering;
    if b.is_nan() {
        return None;
    }
    if b >= TWO_POW_63 {
        return Some(Ordering::Less);
    }
    if b < -TWO_POW_63 {
        return Some(Ordering::Greater);
    }
    let t = b.trunc();
    let ti = t as i64;
    Some(match a.cmp(&ti) {
        Ordering::Equal => 0.0_f64.partial_cmp(&(b - t)).unwrap_or(Ordering::Equal),
        o => o,
    })
}

#[cfg(test)]
mod tests {
    use super::Value;

    #[test]
    fn concat_of_empty_parts_is_the_empty_string() {
        // arcstr's allocator asserts a non-zero length (found by fuzz/run).
        assert!(matches!(Value::concat(&["", ""]), Value::Str(s) if s.is_empty()));
        assert!(matches!(Value::concat(&[]), Value::Str(s) if s.is_empty()));
        assert!(matches!(Value::concat(&["a", ""]), Value::Str(s) if s == "a"));
    }
}
