//! Results: `ok`, `fail`, `ok?`, `value`, `error`, `result_envelope`, and
//! the methods `error?`, `unwrap_or`, `map_result`, `and_then`
//! (REFERENCE-LANGUAGE §7.8).
//!
//! Invariants: a Result is `Ok(value)` or `Err(kind, message)`, both
//! strings; unwrapping the wrong side is a `ResultUnwrap` error naming
//! what was there; `map_result` and `and_then` run their block as an
//! iteration over the one value of an ok Result (`collections::feed_iter`)
//! and pass an error Result through untouched.

use super::{collections, str_arg, Cx, R};
use crate::error::{ErrorKind, VmError};
use crate::map::Map;
use crate::render::notation_in_message;
use crate::value::{ResultValue, Value};
use crate::vm::{Flow, Items, Vm};
use crate::word::Word;
use arcstr::ArcStr;
use std::rc::Rc;

pub(crate) fn ok(vm: &mut Vm, _: Cx) -> R {
    let v = vm.pop();
    vm.stack.push(Value::ok(v));
    Ok(Flow::Next)
}

pub(crate) fn fail(vm: &mut Vm, cx: Cx) -> R {
    let message = str_arg(cx.name(), vm.peek(0), "error message string")?;
    let kind = str_arg(cx.name(), vm.peek(1), "error kind string")?;
    let r = Value::Result(Rc::new(ResultValue::Err { kind: kind.clone(), message: message.clone() }));
    vm.replace(2, r)
}

pub(crate) fn is_ok(vm: &mut Vm, cx: Cx) -> R {
    let Value::Result(r) = vm.peek(0) else {
        return Err(VmError::type_error(cx.name(), "result", vm.peek(0).kind()));
    };
    let ok = matches!(**r, ResultValue::Ok(_));
    vm.replace(1, Value::Bool(ok))
}

/// `value` and `error`.
pub(crate) fn unwrap(vm: &mut Vm, cx: Cx) -> R {
    let name = cx.name();
    let Value::Result(r) = vm.peek(0) else {
        return Err(VmError::type_error(name, "result", vm.peek(0).kind()));
    };
    let v = match (&**r, cx.word) {
        (ResultValue::Ok(v), Word::ValueW) => v.clone(),
        (ResultValue::Err { kind, message }, Word::ErrorW) => {
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
                    notation_in_message(v, &vm.program)
                ),
            ))
        }
    };
    vm.replace(1, v)
}

pub(crate) fn result_envelope(vm: &mut Vm, cx: Cx) -> R {
    let Value::Map(options) = vm.peek(0) else {
        return Err(VmError::type_error(cx.name(), "options map", vm.peek(0).kind()));
    };
    let Value::Result(r) = vm.peek(1) else {
        return Err(VmError::type_error(cx.name(), "result", vm.peek(1).kind()));
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
    vm.replace(2, Value::map(env))
}

// ---- receiver methods (the VM checked `supports`)

pub(crate) fn is_error(vm: &mut Vm, cx: Cx) -> R {
    let Value::Result(r) = vm.peek(0) else {
        return Err(VmError::unknown_word(cx.name()));
    };
    let e = matches!(**r, ResultValue::Err { .. });
    vm.replace(1, Value::Bool(e))
}

pub(crate) fn unwrap_or(vm: &mut Vm, cx: Cx) -> R {
    let Value::Result(r) = vm.peek(0) else {
        return Err(VmError::unknown_word(cx.name()));
    };
    let v = match &**r {
        ResultValue::Ok(v) => v.clone(),
        ResultValue::Err { .. } => vm.peek(1).clone(),
    };
    vm.replace(2, v)
}

/// `map_result` and `and_then`, with the block on either side of the
/// Result.
pub(crate) fn map_result(vm: &mut Vm, cx: Cx) -> R {
    let (block, result) = match (vm.peek(1), vm.peek(0)) {
        (Value::Block(b), r @ Value::Result(_)) | (r @ Value::Result(_), Value::Block(b)) => (*b, r.clone()),
        (other, Value::Result(_)) => return Err(VmError::type_error(cx.name(), "block", other.kind())),
        _ => return Err(VmError::unknown_word(cx.name())),
    };
    vm.pop();
    vm.pop();
    let Value::Result(r) = &result else {
        return Ok(Flow::Next);
    };
    match &**r {
        ResultValue::Err { .. } => {
            vm.stack.push(result.clone());
            Ok(Flow::Next)
        }
        ResultValue::Ok(v) => {
            let items = Items::Seq(vec![v.clone()]);
            collections::iterate(vm, &cx, block.0, items, result.clone(), Value::Nil)
        }
    }
}
