//! Arithmetic, comparison and logic: `+ - * / %`, `negate`, `abs`, `min`,
//! `max`, `clamp`, `= !=`, `< > <= >=`, `not`, `and`, `or`
//! (REFERENCE-LANGUAGE §7.2-7.3).
//!
//! Invariants: integers stay integers and overflow is an error, never a
//! wrap; a float result that is not finite is an overflow; `%` takes
//! integers only; ordering compares integers with floats exactly
//! (`value::cmp_int_float`); the logic words take truthy values, and a
//! Result there is an error. The VM runs integer arithmetic and comparison
//! itself when it can (`Op::Arith`, `fast_word`, the fused ops); these
//! handlers are the general path.

use super::{weight, Cx, R};
use crate::error::VmError;
use crate::value::Value;
use crate::vm::Vm;
use crate::word::Word;

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

/// The operands all numbers, or `expected number` for the first that is
/// not.
fn numbers(name: &str, values: &[&Value]) -> Result<(), VmError> {
    match values.iter().find(|v| !is_num(v)) {
        Some(v) => Err(VmError::type_error(name, "number", v.kind())),
        None => Ok(()),
    }
}

/// `+ - * / %`.
pub(crate) fn arithmetic(vm: &mut Vm, cx: Cx) -> R {
    let (word, name) = (cx.word, cx.name());
    let (a, b) = (vm.peek(1), vm.peek(0));
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
    vm.replace(2, r)
}

/// `negate` and `abs`.
pub(crate) fn negate_or_abs(vm: &mut Vm, cx: Cx) -> R {
    let negate = cx.word == Word::Negate;
    let r = match vm.peek(0) {
        Value::Int(n) => {
            let r = if negate { n.checked_neg() } else { n.checked_abs() };
            Value::Int(r.ok_or_else(|| VmError::overflow(cx.name()))?)
        }
        Value::Float(f) => Value::Float(if negate { -f } else { f.abs() }),
        other => return Err(VmError::type_error(cx.name(), "number", other.kind())),
    };
    vm.replace(1, r)
}

/// `min` and `max`.
pub(crate) fn min_or_max(vm: &mut Vm, cx: Cx) -> R {
    let min = cx.word == Word::Min;
    let (a, b) = (vm.peek(1), vm.peek(0));
    numbers(cx.name(), &[a, b])?;
    let r = match (a, b) {
        (Value::Int(x), Value::Int(y)) => Value::Int(if min { *x.min(y) } else { *x.max(y) }),
        _ => {
            let (x, y) = (as_f64(a), as_f64(b));
            Value::Float(if min { x.min(y) } else { x.max(y) })
        }
    };
    vm.replace(2, r)
}

pub(crate) fn clamp(vm: &mut Vm, cx: Cx) -> R {
    let name = cx.name();
    let (v, lo, hi) = (vm.peek(2), vm.peek(1), vm.peek(0));
    numbers(name, &[v, lo, hi])?;
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
    vm.replace(3, r)
}

/// `=` and `!=`: equality of any two values (§3.4).
pub(crate) fn equality(vm: &mut Vm, cx: Cx) -> R {
    vm.charge(weight(vm.peek(0)));
    let eq = vm.peek(1).equals(vm.peek(0)).map_err(|e| e.error(cx.name()))?;
    vm.replace(2, Value::Bool(eq == (cx.word == Word::Eq)))
}

/// `<`, `>`, `<=` and `>=`.
pub(crate) fn order(vm: &mut Vm, cx: Cx) -> R {
    use std::cmp::Ordering;
    let (a, b) = (vm.peek(1), vm.peek(0));
    numbers(cx.name(), &[a, b])?;
    let ord = match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Int(x), Value::Float(y)) => crate::value::cmp_int_float(*x, *y),
        (Value::Float(x), Value::Int(y)) => crate::value::cmp_int_float(*y, *x).map(Ordering::reverse),
        _ => as_f64(a).partial_cmp(&as_f64(b)),
    };
    let r = match (cx.word, ord) {
        (_, None) => false,
        (Word::Lt, Some(o)) => o == Ordering::Less,
        (Word::Gt, Some(o)) => o == Ordering::Greater,
        (Word::Le, Some(o)) => o != Ordering::Greater,
        (_, Some(o)) => o != Ordering::Less,
    };
    vm.replace(2, Value::Bool(r))
}

pub(crate) fn not(vm: &mut Vm, _: Cx) -> R {
    let t = vm.peek(0).truthy().ok_or_else(VmError::result_condition)?;
    vm.replace(1, Value::Bool(!t))
}

/// `and` and `or` (both operands are evaluated: they are values).
pub(crate) fn and_or(vm: &mut Vm, cx: Cx) -> R {
    let a = vm.peek(1).truthy().ok_or_else(VmError::result_condition)?;
    let b = vm.peek(0).truthy().ok_or_else(VmError::result_condition)?;
    vm.replace(2, Value::Bool(if cx.word == Word::And { a && b } else { a || b }))
}

#[cfg(test)]
mod tests {
    use crate::host::{Host, Stream};
    use crate::op::int_word;
    use crate::value::Value;
    use crate::vm::Vm;
    use crate::word::Word;
    use std::sync::Arc;

    struct Quiet;

    impl Host for Quiet {
        fn write(&mut self, _: Stream, _: &str) {}
        fn args(&self) -> Vec<String> {
            Vec::new()
        }
        fn now_ms(&self) -> i64 {
            0
        }
    }

    /// The VM's integer fast paths (`op::int_word`, run by `fast_word` and
    /// the superinstructions) compute what the words' handlers compute,
    /// and decline (falling back to the word) exactly where a word fails.
    #[test]
    fn the_integer_fast_paths_agree_with_the_words() {
        use Word::*;
        let program = Arc::new(crate::compile("arith.rco", "").expect("compiles"));
        let edges = [0, 1, -1, 2, -2, 3, 7, -7, 100, i64::from(i32::MAX), i64::MAX, i64::MIN, i64::MIN + 1];
        for word in [Add, Sub, Mul, Div, Mod, Lt, Gt, Le, Ge, Eq, Ne] {
            for a in edges {
                for b in edges {
                    let mut vm = Vm::new(program.clone());
                    vm.stack.extend([Value::Int(a), Value::Int(b)]);
                    let general = vm
                        .exec_word(word, crate::words::Spelled::name(word.name()), &mut Quiet, (0, 0))
                        .ok()
                        .and(vm.stack.pop());
                    let fast = int_word(word, a, b).map(|r| r.value());
                    assert_eq!(format!("{fast:?}"), format!("{general:?}"), "{a} {b} {}", word.name());
                }
            }
        }
    }
}
