//! Assertions and introspection: `assert`, `assert_true`, `assert_false`,
//! `assert_equals`, `assert_ok`, `assert_error`, `nil?`, `callable?`,
//! `type`, `class_of`, `instance_of?`, `responds_to?`, `inspect`, `debug`
//! (REFERENCE-LANGUAGE §7.4-7.5, §5.5).
//!
//! Invariants: a failed assertion is an `Assertion` error whose values are
//! written in notation (`render::notation_in_message`: cut past the
//! nesting limit), and leaves the stack as it was; a passing one pops what
//! it checked. `responds_to?` answers as a call would resolve: any fixed
//! word, a method only on a receiver it accepts (`Vm::supports`).

use super::{bytes, str_arg, weight, Cx, R};
use crate::error::VmError;
use crate::render::{notation, notation_in_message};
use crate::value::{ResultValue, Value};
use crate::vm::{Flow, Vm};
use crate::word::Word;

pub(crate) fn assert(vm: &mut Vm, cx: Cx) -> R {
    match vm.peek(0).truthy() {
        None => Err(VmError::invalid(cx.name(), "Result values require ok? before assertion")),
        Some(false) => Err(VmError::assertion("truthy", &notation_in_message(vm.peek(0), &vm.program))),
        Some(true) => {
            vm.pop();
            Ok(Flow::Next)
        }
    }
}

/// `assert_true` and `assert_false`.
pub(crate) fn assert_bool(vm: &mut Vm, cx: Cx) -> R {
    let want = cx.word == Word::AssertTrue;
    match vm.peek(0) {
        Value::Bool(b) if *b == want => {
            vm.pop();
            Ok(Flow::Next)
        }
        Value::Bool(b) => Err(VmError::assertion(&want.to_string(), &b.to_string())),
        other => Err(VmError::type_error(cx.name(), "bool", other.kind())),
    }
}

pub(crate) fn assert_equals(vm: &mut Vm, cx: Cx) -> R {
    vm.charge(weight(vm.peek(0)));
    let (actual, expected) = (vm.peek(1), vm.peek(0));
    if !actual.equals(expected).map_err(|e| e.error(cx.name()))? {
        return Err(VmError::assertion(
            &notation_in_message(expected, &vm.program),
            &notation_in_message(actual, &vm.program),
        ));
    }
    vm.pop();
    vm.pop();
    Ok(Flow::Next)
}

/// `assert_ok` and `assert_error`.
pub(crate) fn assert_result(vm: &mut Vm, cx: Cx) -> R {
    let Value::Result(r) = vm.peek(0) else {
        return Err(VmError::type_error(cx.name(), "result", vm.peek(0).kind()));
    };
    let is_ok = matches!(**r, ResultValue::Ok(_));
    let want_ok = cx.word == Word::AssertOk;
    if is_ok != want_ok {
        let want = if want_ok { "ok result" } else { "error result" };
        return Err(VmError::assertion(want, &notation_in_message(vm.peek(0), &vm.program)));
    }
    vm.pop();
    Ok(Flow::Next)
}

pub(crate) fn is_nil(vm: &mut Vm, _: Cx) -> R {
    let r = matches!(vm.peek(0), Value::Nil);
    vm.replace(1, Value::Bool(r))
}

pub(crate) fn is_callable(vm: &mut Vm, _: Cx) -> R {
    let r = matches!(vm.peek(0), Value::Block(_) | Value::Class(_));
    vm.replace(1, Value::Bool(r))
}

/// `type`.
pub(crate) fn type_name(vm: &mut Vm, _: Cx) -> R {
    let k = vm.peek(0).kind();
    vm.replace(1, Value::str(k))
}

pub(crate) fn class_of(vm: &mut Vm, _: Cx) -> R {
    let c = vm.peek(0).class();
    vm.replace(1, Value::Class(c))
}

pub(crate) fn instance_of(vm: &mut Vm, cx: Cx) -> R {
    let class = match vm.peek(0) {
        Value::Class(c) => c.name().to_string(),
        Value::Str(s) => s.to_string(),
        other => return Err(VmError::type_error(cx.name(), "class or class name", other.kind())),
    };
    let r = vm.peek(1).class_name() == class;
    vm.replace(2, Value::Bool(r))
}

pub(crate) fn responds_to(vm: &mut Vm, cx: Cx) -> R {
    let method = str_arg(cx.name(), vm.peek(1), "method name string")?.clone();
    let receiver = vm.pop();
    let r = match Word::from_name(&method) {
        Some(w) if w.is_method() => {
            vm.stack.push(receiver.clone());
            let r = vm.supports(w);
            vm.pop();
            r
        }
        Some(_) => true,
        None => false,
    };
    vm.replace(1, Value::Bool(r))
}

pub(crate) fn inspect(vm: &mut Vm, cx: Cx) -> R {
    let text = notation(vm.peek(0), &vm.program).map_err(|e| e.error(cx.name()))?;
    vm.charge(bytes(text.len()));
    vm.stack.push(Value::str(&text));
    Ok(Flow::Next)
}

/// `debug` ( v -- v ): silent under `rco run` (§5.5); it only needs a value.
pub(crate) fn debug(_: &mut Vm, _: Cx) -> R {
    Ok(Flow::Next)
}
