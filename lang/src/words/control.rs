//! Bindings named at run time and control: `var`, `set`, `get`, `call`,
//! `exit` (REFERENCE-LANGUAGE §4.2, §7.9). The compiler turns `NAME var`,
//! `$NAME`... into ops of their own; these are the words left when the
//! name is a string on the stack.
//!
//! Invariants: a name is looked up as the ops do (`Vm::lookup`, `assign`,
//! `declare`); an unknown name is `unknown variable: NAME`; `call` runs its
//! block in a frame of the VM (never on the Rust stack).

use super::{int_arg, str_arg, Cx, R};
use crate::error::VmError;
use crate::symbol::Symbol;
use crate::value::{BlockId, Value};
use crate::vm::{Flow, Vm};
use crate::word::Word;

pub(crate) fn var(vm: &mut Vm, cx: Cx) -> R {
    let sym = Symbol::intern(str_arg(cx.name(), vm.peek(0), "variable name string")?);
    vm.pop();
    let v = vm.pop();
    vm.declare(sym, v);
    Ok(Flow::Next)
}

pub(crate) fn set(vm: &mut Vm, cx: Cx) -> R {
    let key = str_arg(cx.name(), vm.peek(0), "variable name string")?.clone();
    let Some(sym) = Symbol::lookup(&key) else {
        return Err(VmError::unknown_variable(&key));
    };
    let v = vm.peek(1).clone();
    if vm.assign(sym, v).is_err() {
        return Err(VmError::unknown_variable(&key));
    }
    vm.pop();
    vm.pop();
    Ok(Flow::Next)
}

pub(crate) fn get(vm: &mut Vm, cx: Cx) -> R {
    let key = str_arg(cx.name(), vm.peek(0), "variable name string")?.clone();
    let v = Symbol::lookup(&key).and_then(|s| vm.lookup(s)).cloned();
    let v = v.ok_or_else(|| VmError::unknown_variable(&key))?;
    vm.replace(1, v)
}

pub(crate) fn call(vm: &mut Vm, cx: Cx) -> R {
    let Value::Block(BlockId(b)) = *vm.peek(0) else {
        return Err(VmError::type_error(cx.name(), "block", vm.peek(0).kind()));
    };
    vm.pop();
    vm.call_block(b, 0, Word::Call)?;
    Ok(Flow::Jumped)
}

pub(crate) fn exit(vm: &mut Vm, cx: Cx) -> R {
    let n = int_arg(cx.name(), vm.peek(0))?;
    let code = i32::try_from(n).map_err(|_| VmError::invalid(cx.name(), "exit status must fit a 32-bit integer"))?;
    vm.pop();
    Ok(Flow::Exit(code))
}
