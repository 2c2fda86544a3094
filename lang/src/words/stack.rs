//! Stack words: `dup`, `drop`, `swap`, `over`, `rot`, `nip`, `tuck`,
//! `pick`, `roll`, `depth`, `clear` (REFERENCE-LANGUAGE §7.1).
//!
//! Invariants: they move values, never look into them; `pick` and `roll`
//! check their index against the values under it before popping it. The
//! VM runs `dup`, `drop`, `swap` and `over` itself when it can (the ops
//! `Dup`, `Drop`, `Swap`, `Over`); these handlers are their general path.

use super::{bytes, index_arg, Cx, R};
use crate::error::VmError;
use crate::value::Value;
use crate::vm::{Flow, Vm};

pub(crate) fn dup(vm: &mut Vm, _: Cx) -> R {
    let v = vm.peek(0).clone();
    vm.stack.push(v);
    Ok(Flow::Next)
}

pub(crate) fn drop(vm: &mut Vm, _: Cx) -> R {
    vm.pop();
    Ok(Flow::Next)
}

pub(crate) fn swap(vm: &mut Vm, _: Cx) -> R {
    let n = vm.stack.len();
    vm.stack.swap(n - 1, n - 2);
    Ok(Flow::Next)
}

pub(crate) fn over(vm: &mut Vm, _: Cx) -> R {
    let v = vm.peek(1).clone();
    vm.stack.push(v);
    Ok(Flow::Next)
}

pub(crate) fn rot(vm: &mut Vm, _: Cx) -> R {
    let v = vm.stack.remove(vm.stack.len() - 3);
    vm.stack.push(v);
    Ok(Flow::Next)
}

pub(crate) fn nip(vm: &mut Vm, _: Cx) -> R {
    let v = vm.pop();
    vm.pop();
    vm.stack.push(v);
    Ok(Flow::Next)
}

pub(crate) fn tuck(vm: &mut Vm, _: Cx) -> R {
    let v = vm.peek(0).clone();
    vm.stack.insert(vm.stack.len() - 2, v);
    Ok(Flow::Next)
}

/// Pops the index on top for `pick` or `roll`: where the value it reaches
/// is in the stack, once checked against the values under it.
fn reach(vm: &mut Vm, name: &str) -> Result<usize, VmError> {
    let n = index_arg(name, vm.peek(0))?;
    let rest = vm.stack.len() - 1;
    if n >= rest {
        return Err(VmError::out_of_bounds(name, n, rest));
    }
    vm.pop();
    Ok(rest - 1 - n)
}

pub(crate) fn pick(vm: &mut Vm, cx: Cx) -> R {
    let at = reach(vm, cx.name())?;
    let v = vm.stack[at].clone();
    vm.stack.push(v);
    Ok(Flow::Next)
}

pub(crate) fn roll(vm: &mut Vm, cx: Cx) -> R {
    let at = reach(vm, cx.name())?;
    let index = vm.stack.len() - 1 - at;
    let v = vm.stack.remove(at);
    vm.stack.push(v);
    vm.charge(bytes(index));
    Ok(Flow::Next)
}

pub(crate) fn depth(vm: &mut Vm, _: Cx) -> R {
    vm.stack.push(Value::Int(vm.stack.len() as i64));
    Ok(Flow::Next)
}

pub(crate) fn clear(vm: &mut Vm, _: Cx) -> R {
    vm.charge(vm.stack.len());
    vm.stack.clear();
    Ok(Flow::Next)
}
