//! `Host`: the effects the VM asks of whoever runs it.
//!
//! The language knows nothing of threads, files or sockets. Effects that
//! answer at once (writing output, spawning a task, asking about a task)
//! are `Host` calls; effects that may wait (an `await`, a `sleep`, reading a
//! line, a socket request) go to `Host::perform`: an answer it has at once
//! is used in the same run, without leaving the dispatch loop; otherwise
//! `Vm::run` returns (`Outcome::Waiting` once the host started the effect,
//! `Outcome::Blocked` with the effect when the host declines it, for the
//! caller to perform) and the answer comes later through `Vm::resume`.
//! Before an `await` (or each task of an `await_all`) becomes an effect, the
//! VM asks `Host::take_results` for the results already there: a finished
//! task costs no effect at all, and the answer is the one `perform` would
//! give.
//!
//! A host may run a new task ahead, inside `Host::spawn`, before the
//! spawning program goes on (`Host::ahead` true while it does): such a run
//! stops, `Outcome::Yielded`, before the first word that acts outside the
//! task (output, input, time, tasks, sockets, `exit`: `Word::acts_outside`),
//! so nothing it does can be seen before the spawn returns except that it
//! may have finished; the word runs when the task next runs.

use crate::sockets::SocketRequest;
use crate::value::Value;
use crate::vm::{Resume, Vm};

/// Where output goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// A task `Host::spawn` started.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Spawned {
    pub id: u64,
    /// The reductions it ran at once, charged to the spawning program.
    pub work: u64,
}

/// What a task is doing, as the task words report it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TaskState {
    Running,
    Completed,
    Failed,
    /// Released, or never existed.
    Consumed,
}

/// An effect the VM cannot perform alone.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Wait for task `.0` to finish; resume with its result.
    Await(u64),
    /// Wait `.0` milliseconds; resume with nothing.
    Sleep(u64),
    /// A socket request; resume with the word's result (usually a Result).
    Socket(SocketRequest),
    /// One line of standard input with its newline; resume with it as a
    /// string, or `Nil` at end of input.
    ReadLine,
}

/// What `Host::perform` did with an effect.
pub enum Performed {
    /// Answered at once: the VM goes on with the answer in the same run.
    Now(Resume),
    /// Started: its answer will come through `Vm::resume`, and `Vm::run`
    /// returns `Outcome::Waiting`.
    Started,
    /// Not performed: `Vm::run` returns it in `Outcome::Blocked`, for its
    /// caller to perform and answer through `Vm::resume`.
    Declined(Effect),
}

/// The services a running program uses. The task and socket methods have
/// the answers of a host that runs no tasks and has no sockets (embedded
/// uses, tests, fuzzing); the runtime overrides every one of them.
pub trait Host {
    /// Writes text as the program prints it (one call is one `print`).
    fn write(&mut self, stream: Stream, text: &str);
    /// The script's arguments.
    fn args(&self) -> Vec<String>;
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
    /// The `runtime_capabilities` map.
    fn runtime_capabilities(&mut self) -> Value {
        Value::Nil
    }
    /// Starts `task` as a new task; its id and the work done for it at
    /// once (a run ahead), or the reason it cannot run.
    fn spawn(&mut self, _task: Vm) -> Result<Spawned, String> {
        Err("this host runs no tasks".into())
    }
    /// The state of task `id`.
    fn task_state(&mut self, _id: u64) -> TaskState {
        TaskState::Consumed
    }
    /// Releases a finished task: `Ok(true)` released, `Ok(false)` unknown.
    fn release_task(&mut self, _id: u64) -> Result<bool, String> {
        Ok(false)
    }
    /// `await`'s and `await_all`'s fast path: for the task handles in
    /// `tasks`, from the first, appends to `out` each one's result as long
    /// as the task has finished with a value ready to hand over (marking it
    /// awaited, as `perform` of `Effect::Await` would), and stops at the
    /// first that has not; the VM awaits that one through `perform`. A host
    /// may take fewer, or none (the default).
    fn take_results(&mut self, _tasks: &[Value], _out: &mut Vec<Value>) {}
    /// Ids of the tasks still running, in id order.
    fn running_tasks(&mut self) -> Vec<u64> {
        Vec::new()
    }
    /// Whether the socket capability is on (the socket gate).
    fn sockets_enabled(&self) -> bool {
        false
    }
    /// Whether this host runs a task ahead (see the module doc): the VM
    /// stops before a word that acts outside the task.
    fn ahead(&self) -> bool {
        false
    }
    /// Performs an effect that may have to wait. `unused`: the program
    /// drops the answer unseen (`Vm::answer_unused`), so an answer that is
    /// costly to build may be `Nil` instead.
    fn perform(&mut self, effect: Effect, _unused: bool) -> Performed {
        Performed::Declined(effect)
    }
}
