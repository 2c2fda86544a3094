//! Strings: `concat`, `repeat`, `split`, `join`, `index_of`,
//! `last_index_of`, `starts_with?`, `ends_with?`, `replace`, and the
//! methods `length`, `blank?`, `trim`, `trim_start`, `trim_end`,
//! `uppercase`, `lowercase`, `lines`, `chars` (REFERENCE-LANGUAGE §7.6).
//! The words that take strings and collections alike (`at`, `take`,
//! `count`...) are in `collections`.
//!
//! Invariants: the receiver is deeper than the arguments, and the
//! arguments are checked first (their errors come before the receiver's);
//! indices are in characters, not bytes; a word that builds a string
//! checks its length (at most 1 GiB, DIALECT 16: `fits`) before it
//! allocates; scanning and building charge one reduction per 16 bytes.

use super::{bytes, count_arg, str_arg, weight, Cx, R};
use crate::error::VmError;
use crate::value::Value;
use crate::vm::Vm;
use crate::word::Word;

/// The longest string a word builds (DIALECT 16).
const MAX_STRING: usize = 1 << 30;

/// The length of the string `word` is about to build (`None`: it overflowed
/// `usize`), checked before anything is allocated.
fn fits(word: &str, len: Option<usize>) -> Result<usize, VmError> {
    len.filter(|&n| n <= MAX_STRING).ok_or_else(|| VmError::invalid(word, "result would exceed 1 GiB"))
}

fn char_index_of(hay: &str, byte: usize) -> i64 {
    hay[..byte].chars().count() as i64
}

pub(crate) fn concat(vm: &mut Vm, cx: Cx) -> R {
    let suffix = str_arg(cx.name(), vm.peek(0), "string")?;
    let s = str_arg(cx.name(), vm.peek(1), "receiver string")?;
    let len = fits(cx.name(), s.len().checked_add(suffix.len()))?;
    let joined = Value::concat(&[s, suffix]);
    vm.charge(bytes(len));
    vm.replace(2, joined)
}

pub(crate) fn repeat(vm: &mut Vm, cx: Cx) -> R {
    let n = count_arg(cx.name(), vm.peek(0))?;
    let s = str_arg(cx.name(), vm.peek(1), "receiver string")?;
    if !matches!(s.len().checked_mul(n), Some(len) if len <= MAX_STRING) {
        return Err(VmError::invalid(cx.name(), "repeated string is too large"));
    }
    let r = s.repeat(n);
    vm.charge(bytes(r.len()));
    vm.replace(2, Value::str(&r))
}

pub(crate) fn split(vm: &mut Vm, cx: Cx) -> R {
    let d = str_arg(cx.name(), vm.peek(0), "string")?;
    let s = str_arg(cx.name(), vm.peek(1), "receiver string")?;
    let parts: Vec<Value> = if d.is_empty() {
        s.chars().map(|c| Value::str(c.encode_utf8(&mut [0; 4]))).collect()
    } else {
        s.split(&**d).map(Value::str).collect()
    };
    let cost = bytes(s.len()) + parts.len();
    vm.charge(cost);
    vm.replace(2, Value::array(parts))
}

pub(crate) fn join(vm: &mut Vm, cx: Cx) -> R {
    let name = cx.name();
    let d = str_arg(name, vm.peek(0), "string")?;
    let Some(seq) = vm.peek(1).as_seq() else {
        return Err(VmError::type_error(name, "array, list, or set", vm.peek(1).kind()));
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
    let cost = weight(vm.peek(1)) + bytes(out.len());
    vm.charge(cost);
    vm.replace(2, Value::str(&out))
}

/// `index_of` and `last_index_of`.
pub(crate) fn index_of(vm: &mut Vm, cx: Cx) -> R {
    let needle = str_arg(cx.name(), vm.peek(0), "string")?;
    let s = str_arg(cx.name(), vm.peek(1), "receiver string")?;
    let at = if cx.word == Word::IndexOf { s.find(&**needle) } else { s.rfind(&**needle) };
    let r = at.map_or(Value::Nil, |b| Value::Int(char_index_of(s, b)));
    vm.charge(bytes(s.len()));
    vm.replace(2, r)
}

/// `starts_with?` and `ends_with?`.
pub(crate) fn affix(vm: &mut Vm, cx: Cx) -> R {
    let affix = str_arg(cx.name(), vm.peek(0), "string")?;
    let s = str_arg(cx.name(), vm.peek(1), "receiver string")?;
    let r = if cx.word == Word::StartsWith { s.starts_with(&**affix) } else { s.ends_with(&**affix) };
    vm.replace(2, Value::Bool(r))
}

pub(crate) fn replace(vm: &mut Vm, cx: Cx) -> R {
    let with = str_arg(cx.name(), vm.peek(0), "string")?;
    let pattern = str_arg(cx.name(), vm.peek(1), "string")?;
    let s = str_arg(cx.name(), vm.peek(2), "receiver string")?;
    if !pattern.is_empty() && with.len() > pattern.len() {
        let grows = s.matches(&**pattern).count().checked_mul(with.len() - pattern.len());
        fits(cx.name(), grows.and_then(|g| g.checked_add(s.len())))?;
    }
    let r = if pattern.is_empty() { s.to_string() } else { s.replace(&**pattern, with) };
    vm.charge(bytes(s.len() + r.len()));
    vm.replace(3, Value::str(&r))
}

// ---- receiver methods (the VM checked `supports`: a string is on top)

/// `length` (and `count` of a string): in characters.
pub(crate) fn length(vm: &mut Vm, _: Cx) -> R {
    let (scanned, n) = match vm.peek(0) {
        Value::Str(s) => (bytes(s.len()), s.chars().count()),
        _ => (0, 0),
    };
    vm.charge(scanned);
    vm.replace(1, Value::Int(n as i64))
}

/// `blank?`, `trim`, `trim_start`, `trim_end`, `uppercase`, `lowercase`,
/// `lines`, `chars`.
pub(crate) fn text(vm: &mut Vm, cx: Cx) -> R {
    let Value::Str(s) = vm.peek(0) else {
        return Err(VmError::unknown_word(cx.name()));
    };
    let scanned = bytes(s.len());
    let r = match cx.word {
        Word::IsBlank => Value::Bool(s.trim().is_empty()),
        Word::Trim => Value::str(s.trim()),
        Word::TrimStart => Value::str(s.trim_start()),
        Word::TrimEnd => Value::str(s.trim_end()),
        Word::Uppercase => Value::str(&s.to_uppercase()),
        Word::Lowercase => Value::str(&s.to_lowercase()),
        Word::Lines => Value::array(s.lines().map(Value::str).collect()),
        _ => Value::array(s.chars().map(|c| Value::str(c.encode_utf8(&mut [0; 4]))).collect()),
    };
    vm.charge(scanned + weight(&r));
    vm.replace(1, r)
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
