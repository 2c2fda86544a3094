//! Moving VM state between worker threads.
//!
//! A `Vm` and its `Value`s use `Rc` (non-atomic reference counts) because a
//! task's heap is private to it. The scheduler moves an actor between worker
//! threads, so the VM must be `Send`. That is sound because of the
//! invariants below, which the glue upholds:
//!
//! 1. No `Rc` is ever reachable from two VMs: a task starts from a deep copy
//!    of its parent's bindings (`Vm::fork`), and a result crosses to an
//!    awaiting task only as a deep copy (`Value::deep_copy`), which creates
//!    fresh `Rc`s and never touches the source's reference counts.
//! 2. A VM is used by one thread at a time: the actor that owns it runs on
//!    at most one worker at once (the scheduler's guarantee), and a stored
//!    result is only read under the task table's mutex.

use rco_lang::deep::TooDeep;
use rco_lang::{Value, Vm};

/// A VM that may move to another thread (see the module doc).
pub struct SendVm(pub Vm);

// SAFETY: every `Rc` inside the VM is reachable only from this VM (invariant
// 1), and the VM is accessed by one thread at a time (invariant 2), so no
// reference count is ever touched by two threads.
unsafe impl Send for SendVm {}

/// A value detached from every VM: a deep copy nobody else references, or
/// the fact that the value was too deep to copy (DIALECT 16), which the
/// `await` that would receive it reports.
pub struct SendValue(Result<Value, TooDeep>);

impl SendValue {
    /// Detaches a copy of `v` from its VM.
    pub fn copy_of(v: &Value) -> SendValue {
        SendValue(v.deep_copy())
    }

    /// A fresh copy for the VM that receives it, or the fact that it is too
    /// deep (the VM names the word that waits for it).
    pub fn to_value(&self) -> Result<Value, TooDeep> {
        self.0.as_ref().map_err(|e| *e).and_then(Value::deep_copy)
    }
}

// SAFETY: the value is a deep copy whose `Rc`s are owned by this wrapper
// alone (invariant 1); it is only read (to make another deep copy) under the
// task table's mutex (invariant 2).
unsafe impl Send for SendValue {}
