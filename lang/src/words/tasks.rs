//! Tasks: `spawn`, `await`, `await_all`, `release_task`, `tasks`, and the
//! methods of a task `id`, `info`, `task_status`, `pending?`, `running?`,
//! `completed?`, `failed?` (REFERENCE-LANGUAGE §8.1).
//!
//! Invariants: `spawn` forks a VM with a copy of what the block can reach
//! (`Vm::fork`, `capture.rs`) and hands it to the host, and charges the
//! spawning program what the host ran of it at once (`Spawned::work`); `await` and
//! `await_all` never wait in the VM: they return an `Await` effect per
//! task (`await_all` as an iteration over its tasks, checked all before
//! the first is awaited); a task's state is the host's answer of the
//! moment.

use super::{collections, Cx, R};
use crate::error::VmError;
use crate::host::{Effect, TaskState};
use crate::map::Map;
use crate::value::{BlockId, Value};
use crate::vm::{answer_cost, Flow, Items, Vm};
use crate::word::Word;
use arcstr::ArcStr;

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

/// The task on top, or `expected task`.
fn task_arg(vm: &Vm, name: &str) -> Result<u64, VmError> {
    match vm.peek(0) {
        Value::Task(id) => Ok(*id),
        other => Err(VmError::type_error(name, "task", other.kind())),
    }
}

pub(crate) fn spawn(vm: &mut Vm, cx: Cx) -> R {
    let Value::Block(BlockId(b)) = *vm.peek(0) else {
        return Err(VmError::type_error(cx.name(), "block", vm.peek(0).kind()));
    };
    let child = vm.fork(b, 0).map_err(|e| e.error(cx.name()))?;
    let spawned = cx.host.spawn(child).map_err(|m| VmError::host(cx.name(), m))?;
    vm.charge(usize::try_from(spawned.work).unwrap_or(usize::MAX));
    vm.replace(1, Value::Task(spawned.id))
}

/// `await`.
pub(crate) fn await_task(vm: &mut Vm, cx: Cx) -> R {
    let id = task_arg(vm, cx.name())?;
    vm.pop();
    // A finished task's result goes straight on the stack (the host's
    // fast path); otherwise the VM waits for it.
    let depth = vm.stack.len();
    cx.host.take_results(&[Value::Task(id)], &mut vm.stack);
    match vm.stack.last() {
        Some(result) if vm.stack.len() > depth => {
            let cost = answer_cost(result);
            vm.charge(usize::try_from(cost).unwrap_or(usize::MAX));
            Ok(Flow::Next)
        }
        _ => Ok(Flow::Block(Effect::Await(id))),
    }
}

pub(crate) fn await_all(vm: &mut Vm, cx: Cx) -> R {
    let Some(seq) = vm.peek(0).as_seq().filter(|_| !matches!(vm.peek(0), Value::Set(_))) else {
        return Err(VmError::type_error(cx.name(), "array or list of tasks", vm.peek(0).kind()));
    };
    let tasks = seq.clone();
    vm.charge(tasks.borrow().len());
    if let Some(bad) = tasks.borrow().iter().find(|v| !matches!(v, Value::Task(_))) {
        return Err(VmError::type_error(cx.name(), "task", bad.kind()));
    }
    vm.pop();
    collections::iterate(vm, &cx, 0, Items::Tasks(tasks), Value::Nil, Value::Nil)
}

pub(crate) fn release_task(vm: &mut Vm, cx: Cx) -> R {
    let id = task_arg(vm, cx.name())?;
    let r = cx.host.release_task(id).map_err(|m| VmError::host(cx.name(), m))?;
    vm.replace(1, Value::Bool(r))
}

pub(crate) fn tasks(vm: &mut Vm, cx: Cx) -> R {
    let infos = cx.host.running_tasks().into_iter().map(|id| info_map(id, TaskState::Running)).collect();
    vm.stack.push(Value::array(infos));
    Ok(Flow::Next)
}

// ---- receiver methods (the VM checked `supports`: a task is on top)

/// `id`, `info`, `task_status`, `pending?`, `running?`, `completed?`,
/// `failed?`.
pub(crate) fn task_query(vm: &mut Vm, cx: Cx) -> R {
    let Value::Task(id) = *vm.peek(0) else {
        return Err(VmError::unknown_word(cx.name()));
    };
    if cx.word == Word::TaskId {
        return vm.replace(1, Value::Int(id as i64));
    }
    let state = cx.host.task_state(id);
    let r = match cx.word {
        Word::TaskInfo => info_map(id, state),
        Word::TaskStatus => Value::str(status_text(state)),
        Word::IsPending | Word::IsRunning => Value::Bool(state == TaskState::Running),
        Word::IsCompleted => Value::Bool(state == TaskState::Completed),
        _ => Value::Bool(state == TaskState::Failed),
    };
    vm.replace(1, r)
}
