//! Input, output and the environment: `print`, `println`, `eprint`,
//! `read_line`, `args`, `sleep`, `random`, `now`, `runtime_capabilities`
//! (REFERENCE-LANGUAGE §7.11).
//!
//! Invariants: the VM touches no stream, clock or thread itself: output,
//! arguments, time and capabilities are `Host` calls, and what may wait
//! (`read_line`, `sleep`) is an effect the VM blocks on; one `print` is one
//! `Host::write`; `random` is the VM's own generator (`Vm::random_below`).

use super::{bytes, int_arg, Cx, R};
use crate::error::VmError;
use crate::host::{Effect, Stream};
use crate::render::display;
use crate::value::Value;
use crate::vm::{Flow, Vm};
use crate::word::Word;

/// `print`, `println` and `eprint`.
pub(crate) fn print(vm: &mut Vm, cx: Cx) -> R {
    let mut text = display(vm.peek(0), &vm.program).map_err(|e| e.error(cx.name()))?;
    vm.pop();
    if cx.word == Word::Println {
        text.push('\n');
    }
    vm.charge(bytes(text.len()));
    cx.host.write(if cx.word == Word::Eprint { Stream::Stderr } else { Stream::Stdout }, &text);
    Ok(Flow::Next)
}

pub(crate) fn read_line(_: &mut Vm, _: Cx) -> R {
    Ok(Flow::Block(Effect::ReadLine))
}

pub(crate) fn args(vm: &mut Vm, cx: Cx) -> R {
    let args = cx.host.args().iter().map(|a| Value::str(a)).collect();
    vm.stack.push(Value::array(args));
    Ok(Flow::Next)
}

pub(crate) fn sleep(vm: &mut Vm, cx: Cx) -> R {
    let ms = int_arg(cx.name(), vm.peek(0))?;
    if ms < 0 {
        return Err(VmError::invalid(cx.name(), "sleep duration cannot be negative"));
    }
    vm.pop();
    Ok(Flow::Block(Effect::Sleep(ms as u64)))
}

pub(crate) fn random(vm: &mut Vm, cx: Cx) -> R {
    let bound = int_arg(cx.name(), vm.peek(0))?;
    if bound <= 0 {
        return Err(VmError::invalid(cx.name(), "upper bound must be positive"));
    }
    let r = vm.random_below(bound as u64) as i64;
    vm.replace(1, Value::Int(r))
}

pub(crate) fn now(vm: &mut Vm, cx: Cx) -> R {
    vm.stack.push(Value::Int(cx.host.now_ms()));
    Ok(Flow::Next)
}

pub(crate) fn runtime_capabilities(vm: &mut Vm, cx: Cx) -> R {
    let caps = cx.host.runtime_capabilities();
    vm.stack.push(caps);
    Ok(Flow::Next)
}
