//! The built-in words: what each one does to the stack (REFERENCE-LANGUAGE
//! §7, amended by DIALECT).
//!
//! Invariants: a word checks its operands before it changes the stack, so a
//! failing word leaves the stack as it found it (§6.4); messages name the
//! word as the program spelled it; higher-order words never call a block
//! themselves: they push an `IterFrame` and the VM's loop runs the block;
//! a word whose work grows with its operands charges that work to the
//! reduction budget (`Vm::charge`: one per element, `bytes` per string).

use crate::convert::{self, IntRange};
use crate::deep::TooDeep;
use crate::error::{ErrorKind, VmError};
use crate::host::{Host, Stream, TaskState};
use crate::json;
use crate::map::Map;
use crate::render::{display, display_text, notation, notation_in_message};
use crate::symbol::Symbol;
use crate::value::{new_seq, BlockId, Class, ResultValue, Value};
use crate::vm::{Flow, Items, IterFrame, Vm};
use crate::word::Word;
use arcstr::ArcStr;
use std::cell::RefCell;
use std::rc::Rc;

type R = Result<Flow, VmError>;

fn int_of(v: &Value) -> Option<i64> {
    match v {
        Value::Int(n) => Some(*n),
        _ => None,
    }
}

fn is_num(v: &Value) -> bool {
    matches!(v, Value::Int(_) | Value::Float(_))
}

fn as_f64(v: &Value) -> f64 {
    match v {
        Value::Int(n) => *n as f64,
        Value::Float(f) => *f,
        _ => f64::NAN,
    }
}

fn is_coll(v: &Value) -> bool {
    matches!(v, Value::Array(_) | Value::List(_) | Value::Set(_) | Value::Map(_))
}

fn info_map(id: u64, state: TaskState) -> Value {
    let status = status_text(state);
    let mut m = Map::new();
    m.insert(ArcStr::from("completed"), Value::Bool(state == TaskState::Completed));
    m.insert(ArcStr::from("failed"), Value::Bool(state == TaskState::Failed));
    m.insert(ArcStr::from("id"), Value::Int(id as i64));
    m.insert(ArcStr::from("pending"), Value::Bool(state == TaskState::Running));
    m.insert(ArcStr::from("running"), Value::Bool(state == TaskState::Running));
    m.insert(ArcStr::from("status"), Value::str(status));
    Value::map(m)
}

fn status_text(state: TaskState) -> &'static str {
    match state {
        TaskState::Running => "running",
        TaskState::Completed => "completed",
        TaskState::Failed => "failed",
        TaskState::Consumed => "consumed",
    }
}

/// A non-negative index operand, or the reference's error for it.
fn index_arg(word: &str, v: &Value) -> Result<usize, VmError> {
    match v {
        Value::Int(n) if *n < 0 => Err(VmError::invalid(word, format!("index cannot be negative: {n}"))),
        Value::Int(n) => Ok(usize::try_from(*n).unwrap_or(usize::MAX)),
        other => Err(VmError::type_error(word, "non-negative index", other.kind())),
    }
}

fn count_arg(word: &str, v: &Value) -> Result<usize, VmError> {
    match v {
        Value::Int(n) if *n < 0 => Err(VmError::invalid(word, format!("count cannot be negative: {n}"))),
        Value::Int(n) => Ok(usize::try_from(*n).unwrap_or(usize::MAX)),
        other => Err(VmError::type_error(word, "number", other.kind())),
    }
}

fn str_arg<'v>(word: &str, v: &'v Value, expected: &str) -> Result<&'v ArcStr, VmError> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(VmError::type_error(word, expected, other.kind())),
    }
}

/// The reductions for scanning or building `len` bytes of string (a
/// reduction, one plain instruction, costs about as much as copying 16
/// bytes).
fn bytes(len: usize) -> usize {
    len / 16
}

/// The reductions for a word whose work is proportional to the size of `v`
/// (shallow: the length of a string or collection; rendering and comparing
/// words use it for the value they walk).
fn weight(v: &Value) -> usize {
    match v {
        Value::Str(s) => bytes(s.len()),
        Value::Array(s) | Value::List(s) | Value::Set(s) => s.borrow().len(),
        Value::Map(m) => m.borrow().len(),
        _ => 0,
    }
}

/// The longest string a word builds (DIALECT 16).
const MAX_STRING: usize = 1 << 30;

/// The length of the string `word` is about to build (`None`: it overflowed
/// `usize`), checked before anything is allocated.
fn fits(word: &str, len: Option<usize>) -> Result<usize, VmError> {
    len.filter(|&n| n <= MAX_STRING).ok_or_else(|| VmError::invalid(word, "result would exceed 1 GiB"))
}

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

fn char_index_of(hay: &str, byte: usize) -> i64 {
    hay[..byte].chars().count() as i64
}

impl Vm {
    fn need(&self, word: &str, n: usize) -> Result<(), VmError> {
        if self.stack.len() < n {
            return Err(VmError::underflow(word, n, self.stack.len()));
        }
        Ok(())
    }

    /// The value `i` places below the top (0 = top). Callers check depth.
    fn peek(&self, i: usize) -> &Value {
        &self.stack[self.stack.len() - 1 - i]
    }

    fn pop(&mut self) -> Value {
        self.stack.pop().unwrap_or(Value::Nil)
    }

    /// Pops `n` values and pushes `v`.
    fn replace(&mut self, n: usize, v: Value) -> R {
        let len = self.stack.len();
        self.stack.truncate(len - n);
        self.stack.push(v);
        Ok(Flow::Next)
    }

    /// Whether the value on top of the stack supports receiver method `word`.
    pub(crate) fn supports(&self, word: Word) -> bool {
        use Word::*;
        let Some(top) = self.stack.last() else {
            return false;
        };
        let second = self.stack.len().checked_sub(2).map(|i| &self.stack[i]);
        let block_then = |f: fn(&Value) -> bool| matches!(top, Value::Block(_)) && second.is_some_and(f);
        let seq = |v: &Value| matches!(v, Value::Array(_) | Value::List(_) | Value::Set(_));
        match word {
            Length | IsBlank | Trim | TrimStart | TrimEnd | Uppercase | Lowercase | Lines | Chars => {
                matches!(top, Value::Str(_))
            }
            Count => matches!(top, Value::Str(_)) || is_coll(top),
            First | Last | Reverse => matches!(top, Value::Str(_)) || seq(top),
            Keys | Values => matches!(top, Value::Map(_)),
            ClearItems => is_coll(top),
            Each | Transform | Select | Find | Any | All => is_coll(top) || block_then(is_coll),
            Reduce => seq(top) || block_then(seq),
            IsError | UnwrapOr => matches!(top, Value::Result(_)),
            MapResult | AndThen => matches!(top, Value::Result(_)) || block_then(|v| matches!(v, Value::Result(_))),
            TaskId | TaskInfo | TaskStatus | IsPending | IsRunning | IsCompleted | IsFailed => {
                matches!(top, Value::Task(_))
            }
            _ => true,
        }
    }

    /// Runs one built-in word. `name` is the word as spelled; `site` is the
    /// instruction (blamed by the iterations it starts).
    pub(crate) fn exec_word(&mut self, word: Word, name: &str, host: &mut dyn Host, site: (u32, u32)) -> R {
        use Word::*;
        match word {
            // ---- stack
            Dup => {
                self.need(name, 1)?;
                let v = self.peek(0).clone();
                self.stack.push(v);
            }
            Drop => {
                self.need(name, 1)?;
                self.pop();
            }
            Swap => {
                self.need(name, 2)?;
                let n = self.stack.len();
                self.stack.swap(n - 1, n - 2);
            }
            Over => {
                self.need(name, 2)?;
                let v = self.peek(1).clone();
                self.stack.push(v);
            }
            Rot => {
                self.need(name, 3)?;
                let v = self.stack.remove(self.stack.len() - 3);
                self.stack.push(v);
            }
            Nip => {
                self.need(name, 2)?;
                let v = self.pop();
                self.pop();
                self.stack.push(v);
            }
            Tuck => {
                self.need(name, 2)?;
                let v = self.peek(0).clone();
                self.stack.insert(self.stack.len() - 2, v);
            }
            Pick | Roll => {
                self.need(name, 1)?;
                let n = index_arg(name, self.peek(0)).map_err(|e| match e.kind {
                    ErrorKind::Type => VmError::type_error(name, "non-negative index", self.peek(0).kind()),
                    _ => e,
                })?;
                let rest = self.stack.len() - 1;
                if n >= rest {
                    return Err(VmError::out_of_bounds(name, n, rest));
                }
                self.pop();
                let at = rest - 1 - n;
                if word == Pick {
                    let v = self.stack[at].clone();
                    self.stack.push(v);
                } else {
                    let v = self.stack.remove(at);
                    self.stack.push(v);
                    self.charge(bytes(n));
                }
            }
            Depth => self.stack.push(Value::Int(self.stack.len() as i64)),
            Clear => {
                self.charge(self.stack.len());
                self.stack.clear();
            }
            // ---- arithmetic
            Add | Sub | Mul | Div | Mod => return self.arith(word, name),
            Negate | Abs => {
                self.need(name, 1)?;
                let r = match self.peek(0) {
                    Value::Int(n) => {
                        let r = if word == Negate { n.checked_neg() } else { n.checked_abs() };
                        Value::Int(r.ok_or_else(|| VmError::overflow(name))?)
                    }
                    Value::Float(f) => Value::Float(if word == Negate { -f } else { f.abs() }),
                    other => return Err(VmError::type_error(name, "number", other.kind())),
                };
                return self.replace(1, r);
            }
            Min | Max => {
                self.need(name, 2)?;
                let (a, b) = (self.peek(1), self.peek(0));
                for v in [a, b] {
                    if !is_num(v) {
                        return Err(VmError::type_error(name, "number", v.kind()));
                    }
                }
                let r = match (a, b) {
                    (Value::Int(x), Value::Int(y)) => Value::Int(if word == Min { *x.min(y) } else { *x.max(y) }),
                    _ => {
                        let (x, y) = (as_f64(a), as_f64(b));
                        Value::Float(if word == Min { x.min(y) } else { x.max(y) })
                    }
                };
                return self.replace(2, r);
            }
            Clamp => {
                self.need(name, 3)?;
                let (v, lo, hi) = (self.peek(2), self.peek(1), self.peek(0));
                for x in [v, lo, hi] {
                    if !is_num(x) {
                        return Err(VmError::type_error(name, "number", x.kind()));
                    }
                }
                let r = match (v, lo, hi) {
                    (Value::Int(v), Value::Int(lo), Value::Int(hi)) => {
                        if lo > hi {
                            return Err(VmError::invalid(name, "minimum cannot exceed maximum"));
                        }
                        Value::Int(*v.max(lo).min(hi))
                    }
                    _ => {
                        let (v, lo, hi) = (as_f64(v), as_f64(lo), as_f64(hi));
                        if lo.is_nan() || hi.is_nan() {
                            return Err(VmError::invalid(name, "minimum and maximum must be ordered numbers"));
                        }
                        if lo > hi {
                            return Err(VmError::invalid(name, "minimum cannot exceed maximum"));
                        }
                        Value::Float(v.max(lo).min(hi))
                    }
                };
                return self.replace(3, r);
            }
            // ---- comparison and logic
            Eq | Ne => {
                self.need(name, 2)?;
                self.charge(weight(self.peek(0)));
                let eq = self.peek(1).equals(self.peek(0)).map_err(|e| e.error(name))?;
                return self.replace(2, Value::Bool(eq == (word == Eq)));
            }
            Lt | Gt | Le | Ge => {
                self.need(name, 2)?;
                let (a, b) = (self.peek(1), self.peek(0));
                for v in [a, b] {
                    if !is_num(v) {
                        return Err(VmError::type_error(name, "number", v.kind()));
                    }
                }
                use std::cmp::Ordering;
                let ord = match (a, b) {
                    (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
                    (Value::Int(x), Value::Float(y)) => crate::value::cmp_int_float(*x, *y),
                    (Value::Float(x), Value::Int(y)) => crate::value::cmp_int_float(*y, *x).map(Ordering::reverse),
                    _ => as_f64(a).partial_cmp(&as_f64(b)),
                };
                let r = match (word, ord) {
                    (_, None) => false,
                    (Lt, Some(o)) => o == Ordering::Less,
                    (Gt, Some(o)) => o == Ordering::Greater,
                    (Le, Some(o)) => o != Ordering::Greater,
                    (_, Some(o)) => o != Ordering::Less,
                };
                return self.replace(2, Value::Bool(r));
            }
            Not => {
                self.need(name, 1)?;
                let t = self.peek(0).truthy().ok_or_else(VmError::result_condition)?;
                return self.replace(1, Value::Bool(!t));
            }
            And | Or => {
                self.need(name, 2)?;
                let a = self.peek(1).truthy().ok_or_else(VmError::result_condition)?;
                let b = self.peek(0).truthy().ok_or_else(VmError::result_condition)?;
                return self.replace(2, Value::Bool(if word == And { a && b } else { a || b }));
            }
            // ---- assertions
            Assert => {
                self.need(name, 1)?;
                match self.peek(0).truthy() {
                    None => return Err(VmError::invalid(name, "Result values require ok? before assertion")),
                    Some(false) => {
                        return Err(VmError::assertion("truthy", &notation_in_message(self.peek(0), &self.program)))
                    }
                    Some(true) => {
                        self.pop();
                    }
                }
            }
            AssertTrue | AssertFalse => {
                self.need(name, 1)?;
                let want = word == AssertTrue;
                match self.peek(0) {
                    Value::Bool(b) if *b == want => {
                        self.pop();
                    }
                    Value::Bool(b) => return Err(VmError::assertion(&want.to_string(), &b.to_string())),
                    other => return Err(VmError::type_error(name, "bool", other.kind())),
                }
            }
            AssertEquals => {
                self.need(name, 2)?;
                self.charge(weight(self.peek(0)));
                let (actual, expected) = (self.peek(1), self.peek(0));
                if !actual.equals(expected).map_err(|e| e.error(name))? {
                    return Err(VmError::assertion(
                        &notation_in_message(expected, &self.program),
                        &notation_in_message(actual, &self.program),
                    ));
                }
                self.pop();
                self.pop();
            }
            AssertOk | AssertError => {
                self.need(name, 1)?;
                let Value::Result(r) = self.peek(0) else {
                    return Err(VmError::type_error(name, "result", self.peek(0).kind()));
                };
                let is_ok = matches!(**r, ResultValue::Ok(_));
                if is_ok != (word == AssertOk) {
                    let want = if word == AssertOk { "ok result" } else { "error result" };
                    return Err(VmError::assertion(want, &notation_in_message(self.peek(0), &self.program)));
                }
                self.pop();
            }
            // ---- predicates and introspection
            IsNil => {
                self.need(name, 1)?;
                let r = matches!(self.peek(0), Value::Nil);
                return self.replace(1, Value::Bool(r));
            }
            IsEmpty => {
                self.need(name, 1)?;
                let r = match self.peek(0) {
                    Value::Str(s) => s.is_empty(),
                    Value::Array(s) | Value::List(s) | Value::Set(s) => s.borrow().is_empty(),
                    Value::Map(m) => m.borrow().is_empty(),
                    other => return Err(VmError::type_error(name, "string, array, or map", other.kind())),
                };
                return self.replace(1, Value::Bool(r));
            }
            IsOk => {
                self.need(name, 1)?;
                let Value::Result(r) = self.peek(0) else {
                    return Err(VmError::type_error(name, "result", self.peek(0).kind()));
                };
                let ok = matches!(**r, ResultValue::Ok(_));
                return self.replace(1, Value::Bool(ok));
            }
            IsCallable => {
                self.need(name, 1)?;
                let r = matches!(self.peek(0), Value::Block(_) | Value::Class(_));
                return self.replace(1, Value::Bool(r));
            }
            Type => {
                self.need(name, 1)?;
                let k = self.peek(0).kind();
                return self.replace(1, Value::str(k));
            }
            ClassOf => {
                self.need(name, 1)?;
                let c = self.peek(0).class();
                return self.replace(1, Value::Class(c));
            }
            InstanceOf => {
                self.need(name, 2)?;
                let class = match self.peek(0) {
                    Value::Class(c) => c.name().to_string(),
                    Value::Str(s) => s.to_string(),
                    other => return Err(VmError::type_error(name, "class or class name", other.kind())),
                };
                let r = self.peek(1).class_name() == class;
                return self.replace(2, Value::Bool(r));
            }
            RespondsTo => {
                self.need(name, 2)?;
                let method = str_arg(name, self.peek(1), "method name string")?.clone();
                let receiver = self.pop();
                let r = match Word::from_name(&method) {
                    Some(w) if w.is_method() => {
                        self.stack.push(receiver.clone());
                        let r = self.supports(w);
                        self.pop();
                        r
                    }
                    Some(_) => true,
                    None => false,
                };
                return self.replace(1, Value::Bool(r));
            }
            Inspect => {
                self.need(name, 1)?;
                let text = notation(self.peek(0), &self.program).map_err(|e| e.error(name))?;
                self.charge(bytes(text.len()));
                self.stack.push(Value::str(&text));
            }
            Debug => self.need(name, 1)?,
            // ---- bindings and construction
            Var => {
                self.need(name, 1)?;
                let sym = Symbol::intern(str_arg(name, self.peek(0), "variable name string")?);
                self.pop();
                let v = self.stack.pop().unwrap_or(Value::Nil);
                self.declare(sym, v);
            }
            Set => {
                self.need(name, 2)?;
                let key = str_arg(name, self.peek(0), "variable name string")?.clone();
                let Some(sym) = Symbol::lookup(&key) else {
                    return Err(VmError::unknown_variable(&key));
                };
                let v = self.peek(1).clone();
                if self.assign(sym, v).is_err() {
                    return Err(VmError::unknown_variable(&key));
                }
                self.pop();
                self.pop();
            }
            Get => {
                self.need(name, 1)?;
                let key = str_arg(name, self.peek(0), "variable name string")?.clone();
                let v = Symbol::lookup(&key).and_then(|s| self.lookup(s)).cloned();
                let v = v.ok_or_else(|| VmError::unknown_variable(&key))?;
                return self.replace(1, v);
            }
            ArrayW | ListW | MapW | SetW => {
                let fresh = || -> Value {
                    let seq = || new_seq(Vec::new());
                    match word {
                        ArrayW => Value::Array(seq()),
                        ListW => Value::List(seq()),
                        SetW => Value::Set(seq()),
                        _ => Value::Map(Rc::new(RefCell::new(Map::new()))),
                    }
                };
                if let Some(Value::Str(n)) = self.stack.last() {
                    let sym = Symbol::intern(n);
                    self.pop();
                    self.declare(sym, fresh());
                } else if name.starts_with(char::is_uppercase) {
                    let class = match word {
                        ArrayW => Class::Array,
                        ListW => Class::List,
                        SetW => Class::Set,
                        _ => Class::Map,
                    };
                    self.stack.push(Value::Class(class));
                } else {
                    self.stack.push(fresh());
                }
            }
            New => {
                self.need(name, 1)?;
                let v = match self.peek(0) {
                    Value::Class(Class::Array) => Value::array(Vec::new()),
                    Value::Class(Class::List) => Value::List(new_seq(Vec::new())),
                    Value::Class(Class::Set) => Value::Set(new_seq(Vec::new())),
                    Value::Class(Class::Map) => Value::map(Map::new()),
                    other => return Err(VmError::type_error(name, "collection class", other.kind())),
                };
                return self.replace(1, v);
            }
            Range => {
                self.need(name, 2)?;
                let (a, b) = (self.peek(1), self.peek(0));
                let (Some(a), Some(b)) = (int_of(a), int_of(b)) else {
                    let bad = if int_of(a).is_none() { a } else { b };
                    return Err(VmError::type_error(name, "number", bad.kind()));
                };
                let span = a.abs_diff(b);
                if span > 100_000_000 {
                    return Err(VmError::invalid(name, "range is too large"));
                }
                self.charge(span as usize);
                let items: Vec<Value> = if a <= b {
                    (a..b).map(Value::Int).collect()
                } else {
                    ((b + 1)..=a).rev().map(Value::Int).collect()
                };
                return self.replace(2, Value::array(items));
            }
            // ---- strings and collections, receiver first
            Concat => {
                self.need(name, 2)?;
                let suffix = str_arg(name, self.peek(0), "string")?;
                let s = str_arg(name, self.peek(1), "receiver string")?;
                let len = fits(name, s.len().checked_add(suffix.len()))?;
                let joined = Value::concat(&[s, suffix]);
                self.charge(bytes(len));
                return self.replace(2, joined);
            }
            At => {
                self.need(name, 2)?;
                let cost = match (self.peek(1), self.peek(0)) {
                    (Value::Str(s), Value::Int(i)) => bytes(usize::try_from(*i).unwrap_or(0).min(s.len())),
                    _ => 0,
                };
                self.charge(cost);
                let r = match (self.peek(1), self.peek(0)) {
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
                return self.replace(2, r);
            }
            Has | Contains => {
                self.need(name, 2)?;
                self.charge(weight(self.peek(1)));
                let item = self.peek(0);
                let r = match self.peek(1) {
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
                return self.replace(2, Value::Bool(r));
            }
            Take | Skip => {
                self.need(name, 2)?;
                self.charge(weight(self.peek(1)));
                let n = count_arg(name, self.peek(0))?;
                let r = match self.peek(1) {
                    Value::Str(s) => {
                        let t: String =
                            if word == Take { s.chars().take(n).collect() } else { s.chars().skip(n).collect() };
                        Value::str(&t)
                    }
                    v @ (Value::Array(s) | Value::List(s) | Value::Set(s)) => {
                        let items = s.borrow();
                        let part: Vec<Value> = if word == Take {
                            items.iter().take(n).cloned().collect()
                        } else {
                            items.iter().skip(n).cloned().collect()
                        };
                        v.same_kind_seq(part)
                    }
                    other => return Err(VmError::type_error(name, "string, array, list, or set", other.kind())),
                };
                return self.replace(2, r);
            }
            Repeat => {
                self.need(name, 2)?;
                let n = count_arg(name, self.peek(0))?;
                let s = str_arg(name, self.peek(1), "receiver string")?;
                if !matches!(s.len().checked_mul(n), Some(len) if len <= MAX_STRING) {
                    return Err(VmError::invalid(name, "repeated string is too large"));
                }
                let r = s.repeat(n);
                self.charge(bytes(r.len()));
                return self.replace(2, Value::str(&r));
            }
            Split => {
                self.need(name, 2)?;
                let d = str_arg(name, self.peek(0), "string")?;
                let s = str_arg(name, self.peek(1), "receiver string")?;
                let parts: Vec<Value> = if d.is_empty() {
                    s.chars().map(|c| Value::str(c.encode_utf8(&mut [0; 4]))).collect()
                } else {
                    s.split(&**d).map(Value::str).collect()
                };
                let cost = bytes(s.len()) + parts.len();
                self.charge(cost);
                return self.replace(2, Value::array(parts));
            }
            Join => {
                self.need(name, 2)?;
                let d = str_arg(name, self.peek(0), "string")?;
                let Some(seq) = self.peek(1).as_seq() else {
                    return Err(VmError::type_error(name, "array, list, or set", self.peek(1).kind()));
                };
                let items = seq.borrow();
                let mut len = Some(d.len().saturating_mul(items.len().saturating_sub(1)));
                for item in items.iter() {
                    let Value::Str(s) = item else {
                        return Err(VmError::type_error(name, "collection of strings", item.kind()));
                    };
                    len = len.and_then(|n| n.checked_add(s.len()));
                }
                let len = fits(name, len)?;
                let mut out = String::with_capacity(len);
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(d);
                    }
                    if let Value::Str(s) = item {
                        out.push_str(s);
                    }
                }
                drop(items);
                let cost = weight(self.peek(1)) + bytes(out.len());
                self.charge(cost);
                return self.replace(2, Value::str(&out));
            }
            IndexOf | LastIndexOf => {
                self.need(name, 2)?;
                let needle = str_arg(name, self.peek(0), "string")?;
                let s = str_arg(name, self.peek(1), "receiver string")?;
                let at = if word == IndexOf { s.find(&**needle) } else { s.rfind(&**needle) };
                let r = at.map_or(Value::Nil, |b| Value::Int(char_index_of(s, b)));
                self.charge(bytes(s.len()));
                return self.replace(2, r);
            }
            StartsWith | EndsWith => {
                self.need(name, 2)?;
                let affix = str_arg(name, self.peek(0), "string")?;
                let s = str_arg(name, self.peek(1), "receiver string")?;
                let r = if word == StartsWith { s.starts_with(&**affix) } else { s.ends_with(&**affix) };
                return self.replace(2, Value::Bool(r));
            }
            Slice => {
                self.need(name, 3)?;
                self.charge(weight(self.peek(2)));
                let count = count_arg(name, self.peek(0))?;
                let start = index_arg(name, self.peek(1))?;
                let r = match self.peek(2) {
                    Value::Str(s) => Value::str(&s.chars().skip(start).take(count).collect::<String>()),
                    v @ (Value::Array(s) | Value::List(s)) => {
                        v.same_kind_seq(s.borrow().iter().skip(start).take(count).cloned().collect())
                    }
                    other => return Err(VmError::type_error(name, "receiver string", other.kind())),
                };
                return self.replace(3, r);
            }
            Replace => {
                self.need(name, 3)?;
                let with = str_arg(name, self.peek(0), "string")?;
                let pattern = str_arg(name, self.peek(1), "string")?;
                let s = str_arg(name, self.peek(2), "receiver string")?;
                if !pattern.is_empty() && with.len() > pattern.len() {
                    let grows = s.matches(&**pattern).count().checked_mul(with.len() - pattern.len());
                    fits(name, grows.and_then(|g| g.checked_add(s.len())))?;
                }
                let r = if pattern.is_empty() { s.to_string() } else { s.replace(&**pattern, with) };
                self.charge(bytes(s.len() + r.len()));
                return self.replace(3, Value::str(&r));
            }
            Push => {
                self.need(name, 2)?;
                if let Value::Set(_) = self.peek(1) {
                    // A set looks for the item before adding it.
                    self.charge(weight(self.peek(1)));
                }
                let item = self.peek(0).clone();
                match self.peek(1) {
                    Value::Array(s) | Value::List(s) => s.borrow_mut().push(item),
                    Value::Set(s) => {
                        let present = position_of(&s.borrow(), &item).map_err(|e| e.error(name))?.is_some();
                        if !present {
                            s.borrow_mut().push(item);
                        }
                    }
                    other => return Err(VmError::type_error(name, "array, list, or set", other.kind())),
                }
                self.pop();
            }
            Put => {
                self.need(name, 3)?;
                let Value::Map(m) = self.peek(2) else {
                    return Err(VmError::type_error(name, "map", self.peek(2).kind()));
                };
                let key = str_arg(name, self.peek(1), "map key string")?.clone();
                let v = self.peek(0).clone();
                m.borrow_mut().insert(key, v);
                self.pop();
                self.pop();
            }
            InsertAt => {
                self.need(name, 3)?;
                self.charge(bytes(weight(self.peek(2))));
                let i = index_arg(name, self.peek(1))?;
                let item = self.peek(0).clone();
                match self.peek(2) {
                    Value::Array(s) | Value::List(s) => {
                        let len = s.borrow().len();
                        if i > len {
                            return Err(VmError::out_of_bounds(name, i, len));
                        }
                        s.borrow_mut().insert(i, item);
                    }
                    other => return Err(VmError::type_error(name, "array or list", other.kind())),
                }
                self.pop();
                self.pop();
            }
            Remove => {
                self.need(name, 2)?;
                self.charge(weight(self.peek(1)));
                let item = self.peek(0);
                match self.peek(1) {
                    Value::Array(s) | Value::List(s) | Value::Set(s) => {
                        let at = position_of(&s.borrow(), item).map_err(|e| e.error(name))?;
                        if let Some(at) = at {
                            s.borrow_mut().remove(at);
                        }
                    }
                    Value::Map(m) => {
                        let key = str_arg(name, item, "map key string")?;
                        m.borrow_mut().remove(key);
                    }
                    other => return Err(VmError::type_error(name, "collection", other.kind())),
                }
                self.pop();
            }
            RemoveAt => {
                self.need(name, 2)?;
                self.charge(bytes(weight(self.peek(1))));
                let i = index_arg(name, self.peek(0))?;
                match self.peek(1) {
                    Value::Array(s) | Value::List(s) => {
                        let len = s.borrow().len();
                        if i >= len {
                            return Err(VmError::out_of_bounds(name, i, len));
                        }
                        s.borrow_mut().remove(i);
                    }
                    other => return Err(VmError::type_error(name, "array or list", other.kind())),
                }
                self.pop();
            }
            // ---- receiver methods (the VM checked `supports`)
            Length | Count => {
                if let Value::Str(s) = self.peek(0) {
                    self.charge(bytes(s.len()));
                }
                let n = match self.peek(0) {
                    Value::Str(s) => s.chars().count(),
                    Value::Array(s) | Value::List(s) | Value::Set(s) => s.borrow().len(),
                    Value::Map(m) => m.borrow().len(),
                    _ => 0,
                };
                return self.replace(1, Value::Int(n as i64));
            }
            First | Last => {
                let r = match self.peek(0) {
                    Value::Str(s) => {
                        let c = if word == First { s.chars().next() } else { s.chars().next_back() };
                        c.map_or(Value::Nil, |c| Value::str(c.encode_utf8(&mut [0; 4])))
                    }
                    v => v
                        .as_seq()
                        .and_then(|s| {
                            let s = s.borrow();
                            if word == First {
                                s.first().cloned()
                            } else {
                                s.last().cloned()
                            }
                        })
                        .unwrap_or(Value::Nil),
                };
                return self.replace(1, r);
            }
            Reverse => {
                self.charge(weight(self.peek(0)));
                let r = match self.peek(0) {
                    Value::Str(s) => Value::str(&s.chars().rev().collect::<String>()),
                    v => {
                        let items: Vec<Value> =
                            v.as_seq().map(|s| s.borrow().iter().rev().cloned().collect()).unwrap_or_default();
                        v.same_kind_seq(items)
                    }
                };
                return self.replace(1, r);
            }
            IsBlank | Trim | TrimStart | TrimEnd | Uppercase | Lowercase | Lines | Chars => {
                let Value::Str(s) = self.peek(0) else {
                    return Err(VmError::unknown_word(name));
                };
                let scanned = bytes(s.len());
                let r = match word {
                    IsBlank => Value::Bool(s.trim().is_empty()),
                    Trim => Value::str(s.trim()),
                    TrimStart => Value::str(s.trim_start()),
                    TrimEnd => Value::str(s.trim_end()),
                    Uppercase => Value::str(&s.to_uppercase()),
                    Lowercase => Value::str(&s.to_lowercase()),
                    Lines => Value::array(s.lines().map(Value::str).collect()),
                    _ => Value::array(s.chars().map(|c| Value::str(c.encode_utf8(&mut [0; 4]))).collect()),
                };
                self.charge(scanned + weight(&r));
                return self.replace(1, r);
            }
            Keys | Values => {
                self.charge(weight(self.peek(0)));
                let Value::Map(m) = self.peek(0) else {
                    return Err(VmError::unknown_word(name));
                };
                let items: Vec<Value> = if word == Keys {
                    m.borrow().keys().map(|k| Value::Str(k.clone())).collect()
                } else {
                    m.borrow().values().cloned().collect()
                };
                return self.replace(1, Value::array(items));
            }
            ClearItems => {
                self.charge(weight(self.peek(0)));
                match self.peek(0) {
                    Value::Array(s) | Value::List(s) | Value::Set(s) => s.borrow_mut().clear(),
                    Value::Map(m) => m.borrow_mut().clear(),
                    _ => return Err(VmError::unknown_word(name)),
                }
            }
            Each | Transform | Select | Reduce | Find | Any | All => return self.higher_order(word, name, site),
            MapResult | AndThen => {
                self.need(name, 2)?;
                let (block, result) = match (self.peek(1), self.peek(0)) {
                    (Value::Block(b), r @ Value::Result(_)) | (r @ Value::Result(_), Value::Block(b)) => {
                        (*b, r.clone())
                    }
                    (other, Value::Result(_)) => return Err(VmError::type_error(name, "block", other.kind())),
                    _ => return Err(VmError::unknown_word(name)),
                };
                self.pop();
                self.pop();
                let Value::Result(r) = &result else {
                    return Ok(Flow::Next);
                };
                match &**r {
                    ResultValue::Err { .. } => self.stack.push(result.clone()),
                    ResultValue::Ok(v) => {
                        let items = Items::Seq(vec![v.clone()]);
                        return self.start_iter(IterFrame {
                            word,
                            site,
                            block: block.0,
                            items,
                            index: 0,
                            receiver: result.clone(),
                            out: Vec::new(),
                            acc: Value::Nil,
                            done: false,
                        });
                    }
                }
            }
            IsError => {
                let Value::Result(r) = self.peek(0) else {
                    return Err(VmError::unknown_word(name));
                };
                let e = matches!(**r, ResultValue::Err { .. });
                return self.replace(1, Value::Bool(e));
            }
            UnwrapOr => {
                self.need(name, 2)?;
                let Value::Result(r) = self.peek(0) else {
                    return Err(VmError::unknown_word(name));
                };
                let v = match &**r {
                    ResultValue::Ok(v) => v.clone(),
                    ResultValue::Err { .. } => self.peek(1).clone(),
                };
                return self.replace(2, v);
            }
            TaskId | TaskInfo | TaskStatus | IsPending | IsRunning | IsCompleted | IsFailed => {
                let Value::Task(id) = *self.peek(0) else {
                    return Err(VmError::unknown_word(name));
                };
                if word == TaskId {
                    return self.replace(1, Value::Int(id as i64));
                }
                let state = host.task_state(id);
                let r = match word {
                    TaskInfo => info_map(id, state),
                    TaskStatus => Value::str(status_text(state)),
                    IsPending | IsRunning => Value::Bool(state == TaskState::Running),
                    IsCompleted => Value::Bool(state == TaskState::Completed),
                    _ => Value::Bool(state == TaskState::Failed),
                };
                return self.replace(1, r);
            }
            // ---- results
            OkW => {
                self.need(name, 1)?;
                let v = self.pop();
                self.stack.push(Value::ok(v));
            }
            Fail => {
                self.need(name, 2)?;
                let message = str_arg(name, self.peek(0), "error message string")?;
                let kind = str_arg(name, self.peek(1), "error kind string")?;
                let r = Value::Result(Rc::new(ResultValue::Err { kind: kind.clone(), message: message.clone() }));
                return self.replace(2, r);
            }
            ValueW | ErrorW => {
                self.need(name, 1)?;
                let Value::Result(r) = self.peek(0) else {
                    return Err(VmError::type_error(name, "result", self.peek(0).kind()));
                };
                let v = match (&**r, word) {
                    (ResultValue::Ok(v), ValueW) => v.clone(),
                    (ResultValue::Err { kind, message }, ErrorW) => {
                        let mut m = Map::new();
                        m.insert(ArcStr::from("kind"), Value::Str(kind.clone()));
                        m.insert(ArcStr::from("message"), Value::Str(message.clone()));
                        Value::map(m)
                    }
                    (ResultValue::Err { kind, message }, _) => {
                        return Err(VmError::new(
                            ErrorKind::ResultUnwrap,
                            format!("cannot use {name} on error result; expected ok result ({kind}: {message})"),
                        ))
                    }
                    (ResultValue::Ok(v), _) => {
                        return Err(VmError::new(
                            ErrorKind::ResultUnwrap,
                            format!(
                                "cannot use {name} on ok result; expected error result (value: {})",
                                notation_in_message(v, &self.program)
                            ),
                        ))
                    }
                };
                return self.replace(1, v);
            }
            ResultEnvelope => {
                self.need(name, 2)?;
                let Value::Map(options) = self.peek(0) else {
                    return Err(VmError::type_error(name, "options map", self.peek(0).kind()));
                };
                let Value::Result(r) = self.peek(1) else {
                    return Err(VmError::type_error(name, "result", self.peek(1).kind()));
                };
                let mut env = Map::new();
                env.insert(ArcStr::from("meta"), Value::Map(options.clone()));
                match &**r {
                    ResultValue::Ok(v) => {
                        env.insert(ArcStr::from("data"), v.clone());
                        env.insert(ArcStr::from("error"), Value::Nil);
                        env.insert(ArcStr::from("ok"), Value::Bool(true));
                    }
                    ResultValue::Err { kind, message } => {
                        let mut e = Map::new();
                        e.insert(ArcStr::from("code"), Value::Str(kind.clone()));
                        e.insert(ArcStr::from("kind"), Value::Str(kind.clone()));
                        e.insert(ArcStr::from("message"), Value::Str(message.clone()));
                        if let Some(Value::Str(c)) = options.borrow().get("capability") {
                            if !c.is_empty() {
                                e.insert(ArcStr::from("capability"), Value::Str(c.clone()));
                            }
                        }
                        env.insert(ArcStr::from("data"), Value::Nil);
                        env.insert(ArcStr::from("error"), Value::map(e));
                        env.insert(ArcStr::from("ok"), Value::Bool(false));
                    }
                }
                return self.replace(2, Value::map(env));
            }
            // ---- control
            Call => {
                self.need(name, 1)?;
                let Value::Block(BlockId(b)) = *self.peek(0) else {
                    return Err(VmError::type_error(name, "block", self.peek(0).kind()));
                };
                self.pop();
                self.call_block(b, 0, Call)?;
                return Ok(Flow::Jumped);
            }
            Exit => {
                self.need(name, 1)?;
                let code = match self.peek(0) {
                    Value::Int(n) => i32::try_from(*n)
                        .map_err(|_| VmError::invalid(name, "exit status must fit a 32-bit integer"))?,
                    other => return Err(VmError::type_error(name, "number", other.kind())),
                };
                self.pop();
                return Ok(Flow::Exit(code));
            }
            // ---- conversions and JSON
            ToInteger | ToInt | ToSmallint | ToTinyint | ToMediumint | ToUnsignedInt | ToUnsignedSmallint
            | ToUnsignedTinyint | ToUnsignedMediumint | ToUnsignedBigint | ToBit => {
                self.need(name, 1)?;
                let range = |min: i64, max: i64| Some(IntRange { word: word.name(), min, max });
                let range = match word {
                    ToInt => range(i32::MIN.into(), i32::MAX.into()),
                    ToSmallint => range(i16::MIN.into(), i16::MAX.into()),
                    ToTinyint => range(i8::MIN.into(), i8::MAX.into()),
                    ToMediumint => range(-8_388_608, 8_388_607),
                    ToUnsignedInt => range(0, u32::MAX.into()),
                    ToUnsignedSmallint => range(0, u16::MAX.into()),
                    ToUnsignedTinyint => range(0, u8::MAX.into()),
                    ToUnsignedMediumint => range(0, 16_777_215),
                    ToUnsignedBigint => range(0, i64::MAX),
                    ToBit => range(0, 1),
                    _ => None,
                };
                let r = convert::to_integer(self.peek(0), range);
                return self.replace(1, r);
            }
            ToFloat | ToFloat32 => {
                self.need(name, 1)?;
                let r = convert::to_float(self.peek(0), word == ToFloat32);
                return self.replace(1, r);
            }
            ToString => {
                self.need(name, 1)?;
                let s = display_text(self.peek(0), &self.program).map_err(|e| e.error(name))?;
                self.charge(bytes(s.len()));
                return self.replace(1, Value::Str(s));
            }
            JsonEncode => {
                self.need(name, 1)?;
                let s = json::encode(self.peek(0), name)?;
                self.charge(bytes(s.len()));
                return self.replace(1, Value::str(&s));
            }
            JsonDecode => {
                self.need(name, 1)?;
                self.charge(weight(self.peek(0)));
                let text = str_arg(name, self.peek(0), "JSON string")?;
                let r = match json::decode(text) {
                    Result::Ok(v) => Value::ok(v),
                    Err(m) => Value::err("JsonError", &m),
                };
                return self.replace(1, r);
            }
            // ---- input, output, environment
            Print | Println | Eprint => {
                self.need(name, 1)?;
                let mut text = display(self.peek(0), &self.program).map_err(|e| e.error(name))?;
                self.pop();
                if word == Println {
                    text.push('\n');
                }
                self.charge(bytes(text.len()));
                host.write(if word == Eprint { Stream::Stderr } else { Stream::Stdout }, &text);
            }
            ReadLine => return Ok(Flow::Block(crate::host::Effect::ReadLine)),
            Args => {
                let args = host.args().iter().map(|a| Value::str(a)).collect();
                self.stack.push(Value::array(args));
            }
            Sleep => {
                self.need(name, 1)?;
                let ms = match self.peek(0) {
                    Value::Int(n) if *n < 0 => return Err(VmError::invalid(name, "sleep duration cannot be negative")),
                    Value::Int(n) => *n as u64,
                    other => return Err(VmError::type_error(name, "number", other.kind())),
                };
                self.pop();
                return Ok(Flow::Block(crate::host::Effect::Sleep(ms)));
            }
            Random => {
                self.need(name, 1)?;
                let bound = match self.peek(0) {
                    Value::Int(n) if *n <= 0 => return Err(VmError::invalid(name, "upper bound must be positive")),
                    Value::Int(n) => *n as u64,
                    other => return Err(VmError::type_error(name, "number", other.kind())),
                };
                let r = self.random_below(bound) as i64;
                return self.replace(1, Value::Int(r));
            }
            Now => self.stack.push(Value::Int(host.now_ms())),
            RuntimeCapabilities => {
                let caps = host.runtime_capabilities();
                self.stack.push(caps);
            }
            // ---- tasks
            Spawn => {
                self.need(name, 1)?;
                let Value::Block(BlockId(b)) = *self.peek(0) else {
                    return Err(VmError::type_error(name, "block", self.peek(0).kind()));
                };
                let child = self.fork(b, 0).map_err(|e| e.error(name))?;
                let id = host.spawn(child).map_err(|m| VmError::host(name, m))?;
                return self.replace(1, Value::Task(id));
            }
            Await => {
                self.need(name, 1)?;
                let Value::Task(id) = *self.peek(0) else {
                    return Err(VmError::type_error(name, "task", self.peek(0).kind()));
                };
                self.pop();
                return Ok(Flow::Block(crate::host::Effect::Await(id)));
            }
            AwaitAll => {
                self.need(name, 1)?;
                let Some(seq) = self.peek(0).as_seq().filter(|_| !matches!(self.peek(0), Value::Set(_))) else {
                    return Err(VmError::type_error(name, "array or list of tasks", self.peek(0).kind()));
                };
                let items: Vec<Value> = seq.borrow().to_vec();
                self.charge(items.len());
                if let Some(bad) = items.iter().find(|v| !matches!(v, Value::Task(_))) {
                    return Err(VmError::type_error(name, "task", bad.kind()));
                }
                self.pop();
                return self.start_iter(IterFrame {
                    word,
                    site,
                    block: 0,
                    items: Items::Seq(items),
                    index: 0,
                    receiver: Value::Nil,
                    out: Vec::new(),
                    acc: Value::Nil,
                    done: false,
                });
            }
            ReleaseTask => {
                self.need(name, 1)?;
                let Value::Task(id) = *self.peek(0) else {
                    return Err(VmError::type_error(name, "task", self.peek(0).kind()));
                };
                let r = host.release_task(id).map_err(|m| VmError::host(name, m))?;
                return self.replace(1, Value::Bool(r));
            }
            TcpListen | TcpListeners | TcpListener | TcpAccept | TcpListenerClose | TcpListenerRelease | TcpConnect
            | TcpConnections | TcpConnection | TcpWrite | TcpRead | TcpClose | TcpRelease | WsListen | WsListeners
            | WsListener | WsAccept | WsListenerClose | WsListenerRelease | WsConnect | WsConnections
            | WsConnection | WsSend | WsRead | WsClose | WsRelease => return self.socket_word(word, name, host),
            Tasks => {
                let infos = host.running_tasks().into_iter().map(|id| info_map(id, TaskState::Running)).collect();
                self.stack.push(Value::array(infos));
            }
        }
        Ok(Flow::Next)
    }

    fn arith(&mut self, word: Word, name: &str) -> R {
        self.need(name, 2)?;
        let (a, b) = (self.peek(1), self.peek(0));
        if matches!(word, Word::Div | Word::Mod) && is_num(a) && as_f64(b) == 0.0 && is_num(b) {
            if word == Word::Mod && matches!(a, Value::Float(_)) {
                return Err(VmError::type_error(name, "number", "float"));
            }
            if !(word == Word::Mod && matches!(b, Value::Float(_))) {
                return Err(VmError::division_by_zero(name));
            }
        }
        for v in [a, b] {
            if !is_num(v) || (word == Word::Mod && matches!(v, Value::Float(_))) {
                return Err(VmError::type_error(name, "number", v.kind()));
            }
        }
        let r = match (a, b) {
            (Value::Int(x), Value::Int(y)) => {
                let r = match word {
                    Word::Add => x.checked_add(*y),
                    Word::Sub => x.checked_sub(*y),
                    Word::Mul => x.checked_mul(*y),
                    Word::Div => x.checked_div(*y),
                    _ => x.checked_rem(*y),
                };
                Value::Int(r.ok_or_else(|| VmError::overflow(name))?)
            }
            _ => {
                let (x, y) = (as_f64(a), as_f64(b));
                let r = match word {
                    Word::Add => x + y,
                    Word::Sub => x - y,
                    Word::Mul => x * y,
                    _ => x / y,
                };
                if !r.is_finite() {
                    return Err(VmError::overflow(name));
                }
                Value::Float(r)
            }
        };
        self.replace(2, r)
    }

    /// each / transform / select / reduce / find / any? / all?, with the
    /// block on either side of the collection (DIALECT point 11).
    fn higher_order(&mut self, word: Word, name: &str, site: (u32, u32)) -> R {
        let needed = if word == Word::Reduce { 3 } else { 2 };
        self.need(name, needed)?;
        let (block, coll) = match (self.peek(1), self.peek(0)) {
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
        self.charge(items.len());
        self.pop();
        self.pop();
        let acc = if word == Word::Reduce { self.pop() } else { Value::Nil };
        self.start_iter(IterFrame {
            word,
            site,
            block: block.0,
            items,
            index: 0,
            receiver: coll,
            out: Vec::new(),
            acc,
            done: false,
        })
    }
}

/// Takes a block's result into a running higher-order word.
pub(crate) fn feed_iter(it: &mut IterFrame, r: Value) -> Result<(), VmError> {
    let name = it.word.name();
    let predicate = |r: &Value| {
        r.truthy().ok_or_else(|| VmError::invalid(name, "Result values require ok? before use as a predicate"))
    };
    let i = it.index;
    it.index += 1;
    match it.word {
        Word::Each => {}
        Word::Transform => it.out.push(r),
        Word::Select if predicate(&r)? => match &it.items {
            Items::Seq(v) => it.out.push(v[i].clone()),
            Items::Map(v) => {
                it.out.push(Value::Str(v[i].0.clone()));
                it.out.push(v[i].1.clone());
            }
        },
        Word::Reduce => it.acc = r,
        Word::Find if predicate(&r)? => {
            it.acc = match &it.items {
                Items::Seq(v) => v[i].clone(),
                Items::Map(v) => v[i].1.clone(),
            };
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
                return Err(VmError::type_error(name, "block returning result", r.kind()));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `concat` cannot be driven past 1 GiB by a test without building
    /// strings of that size; its check is this one.
    #[test]
    fn a_built_string_may_reach_one_gib_but_not_exceed_it() {
        assert_eq!(fits("concat", Some(MAX_STRING)), Ok(MAX_STRING));
        let too_long = fits("concat", Some(MAX_STRING + 1)).map_err(|e| e.message);
        assert_eq!(too_long, Err("invalid argument in concat: result would exceed 1 GiB".to_string()));
        assert!(fits("concat", None).is_err(), "an overflowing length is too long");
    }
}
