//! `TaskTable`: every task of the process, its state, its result, and the
//! actors waiting for it.
//!
//! Invariants: ids count from 0 in spawn order and are never reused, so
//! the entry of task `id` is `entries[id]` (a released task keeps a
//! `Released` slot of one word: cheaper than a tree of live ids); a result
//! that is nil, a boolean or a number (most tasks') is kept in its entry,
//! anything else boxed;
//! `running` is the number of entries in the `Running` state, so a task
//! frees its slot the moment it finishes (DIALECT point 6), not when it is
//! awaited; every waiter registered on a running task is woken exactly once,
//! when the task finishes; `take_result` (await's fast path) hands over and
//! marks awaited exactly what `await_task` would for a finished value, and
//! touches nothing else.

use crate::send::SendValue;
use rco_lang::{TaskState, Value, VmError};
use std::collections::HashMap;

/// Run once when the task it waits for finishes.
pub type Waiter = Box<dyn FnOnce() + Send>;

/// How a finished task ended.
pub enum Ending {
    Value(SendValue),
    /// The error and where it happened (`task#N at FILE:L:C`).
    Failed(VmError, String),
}

/// How `finish` records a task's end.
pub enum Ended {
    /// Its result, nil, a boolean or a number: kept in the entry.
    Scalar(Value),
    /// Any other ending, boxed.
    Boxed(Box<Ending>),
}

impl Ended {
    /// A task's result: in the entry if it can be, else copied and boxed.
    pub fn result(v: &Value) -> Ended {
        match v {
            Value::Nil | Value::Bool(_) | Value::Int(_) | Value::Float(_) => Ended::Scalar(v.clone()),
            _ => Ended::Boxed(Box::new(Ending::Value(SendValue::copy_of(v)))),
        }
    }
}

/// A scalar result in an entry: which kind, and its 64 bits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Nil,
    Bool,
    Int,
    Float,
}

/// Two words: an entry stays for every task ever spawned, most of them
/// finished, so an ending that is not a scalar is boxed and the waiters of
/// running tasks are kept apart (most tasks are awaited after they finish,
/// if at all).
enum Entry {
    Running,
    Scalar { kind: Kind, awaited: bool, bits: u64 },
    Finished { ending: Box<Ending>, awaited: bool },
    Released,
}

impl Entry {
    /// The entry of a task that ended so.
    fn ended(ended: Ended) -> Entry {
        let (kind, bits) = match ended {
            Ended::Boxed(ending) => return Entry::Finished { ending, awaited: false },
            Ended::Scalar(Value::Bool(b)) => (Kind::Bool, u64::from(b)),
            Ended::Scalar(Value::Int(i)) => (Kind::Int, i as u64),
            Ended::Scalar(Value::Float(f)) => (Kind::Float, f.to_bits()),
            Ended::Scalar(_) => (Kind::Nil, 0),
        };
        Entry::Scalar { kind, awaited: false, bits }
    }
}

/// The value a scalar entry holds.
fn scalar(kind: Kind, bits: u64) -> Value {
    match kind {
        Kind::Nil => Value::Nil,
        Kind::Bool => Value::Bool(bits != 0),
        Kind::Int => Value::Int(bits as i64),
        Kind::Float => Value::Float(f64::from_bits(bits)),
    }
}

/// What `await` finds.
pub enum AwaitState<'a> {
    Unknown,
    /// It finished with this scalar result.
    Scalar(Value),
    Finished(&'a Ending),
    /// The task is still running; the waiter was registered.
    Pending,
}

/// The process's tasks.
pub struct TaskTable {
    running: usize,
    max_running: usize,
    /// Indexed by id.
    entries: Vec<Entry>,
    released: usize,
    /// The waiters of running tasks, by id.
    waiters: HashMap<u64, Vec<Waiter>>,
}

impl TaskTable {
    pub fn new(max_running: usize) -> TaskTable {
        TaskTable { running: 0, max_running, entries: Vec::new(), released: 0, waiters: HashMap::new() }
    }

    /// Reserves an id for a new running task.
    pub fn spawn(&mut self) -> Result<u64, String> {
        if self.running >= self.max_running {
            return Err(format!("task limit exceeded: at most {} tasks may run at once", self.max_running));
        }
        let id = self.entries.len() as u64;
        self.running += 1;
        self.entries.push(Entry::Running);
        Ok(id)
    }

    /// Records how a task ended; returns the waiters to wake (outside the lock).
    pub fn finish(&mut self, id: u64, ended: Ended) -> Vec<Waiter> {
        let Some(entry @ Entry::Running) = self.entries.get_mut(id as usize) else {
            return Vec::new();
        };
        *entry = Entry::ended(ended);
        self.running -= 1;
        // Most tasks are awaited after they finish: skip hashing the id.
        if self.waiters.is_empty() {
            return Vec::new();
        }
        self.waiters.remove(&id).unwrap_or_default()
    }

    /// `await`: the ending if finished (marking it awaited), or registers
    /// the waiter `make_waiter` builds, to run when it finishes (built only
    /// then: most awaits find the task finished).
    pub fn await_task(&mut self, id: u64, make_waiter: impl FnOnce() -> Waiter) -> AwaitState<'_> {
        match self.entries.get_mut(id as usize) {
            None | Some(Entry::Released) => AwaitState::Unknown,
            Some(Entry::Running) => {
                self.waiters.entry(id).or_default().push(make_waiter());
                AwaitState::Pending
            }
            Some(Entry::Scalar { kind, awaited, bits }) => {
                *awaited = true;
                AwaitState::Scalar(scalar(*kind, *bits))
            }
            Some(Entry::Finished { ending, awaited }) => {
                *awaited = true;
                AwaitState::Finished(ending)
            }
        }
    }

    /// `await`'s fast path: the result of task `id` if it has finished
    /// with a value that can be handed over (marking it awaited), else
    /// `None` and nothing changes (running, failed, unknown, or a result
    /// nested too deep to copy: `await_task` answers those).
    pub fn take_result(&mut self, id: u64) -> Option<Value> {
        match self.entries.get_mut(id as usize)? {
            Entry::Scalar { kind, awaited, bits } => {
                *awaited = true;
                Some(scalar(*kind, *bits))
            }
            Entry::Finished { ending, awaited } => {
                let Ending::Value(v) = &**ending else { return None };
                let value = v.to_value().ok()?;
                *awaited = true;
                Some(value)
            }
            Entry::Running | Entry::Released => None,
        }
    }

    pub fn state(&self, id: u64) -> TaskState {
        match self.entries.get(id as usize) {
            None | Some(Entry::Released) => TaskState::Consumed,
            Some(Entry::Running) => TaskState::Running,
            Some(Entry::Scalar { .. }) => TaskState::Completed,
            Some(Entry::Finished { ending, .. }) => match **ending {
                Ending::Value(_) => TaskState::Completed,
                Ending::Failed(..) => TaskState::Failed,
            },
        }
    }

    /// `release_task`: `Ok(true)` released, `Ok(false)` unknown.
    pub fn release(&mut self, id: u64) -> Result<bool, String> {
        match self.entries.get_mut(id as usize) {
            None | Some(Entry::Released) => Ok(false),
            Some(entry @ (Entry::Finished { awaited: true, .. } | Entry::Scalar { awaited: true, .. })) => {
                *entry = Entry::Released;
                self.released += 1;
                Ok(true)
            }
            Some(_) => Err("task must be awaited before release_task".into()),
        }
    }

    /// Ids of running tasks, in id order.
    pub fn running_ids(&self) -> Vec<u64> {
        let running = self.entries.iter().enumerate().filter(|(_, e)| matches!(e, Entry::Running));
        running.map(|(id, _)| id as u64).collect()
    }

    pub fn running(&self) -> usize {
        self.running
    }

    pub fn known(&self) -> usize {
        self.entries.len() - self.released
    }

    pub fn max_running(&self) -> usize {
        self.max_running
    }
}

const _: () = assert!(std::mem::size_of::<Entry>() <= 16);

#[cfg(test)]
mod tests {
    use super::*;
    use rco_lang::Value;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn lifecycle_and_limits() {
        let mut t = TaskTable::new(2);
        let a = t.spawn().expect("slot");
        let b = t.spawn().expect("slot");
        assert_eq!((a, b), (0, 1));
        assert!(t.spawn().is_err());
        let woken = Arc::new(AtomicUsize::new(0));
        let w = woken.clone();
        assert!(matches!(
            t.await_task(a, || Box::new(move || {
                w.fetch_add(1, Ordering::SeqCst);
            })),
            AwaitState::Pending
        ));
        assert!(t.release(a).is_err(), "running tasks cannot be released");
        for wake in t.finish(a, Ended::result(&Value::Int(1))) {
            wake();
        }
        assert_eq!(woken.load(Ordering::SeqCst), 1);
        assert_eq!(t.running(), 1);
        assert_eq!(t.spawn().expect("slot freed at finish"), 2);
        assert!(t.release(a).is_err(), "not awaited yet");
        assert!(matches!(t.await_task(a, || Box::new(|| {})), AwaitState::Scalar(Value::Int(1))));
        assert_eq!(t.release(a), Ok(true));
        assert_eq!(t.release(a), Ok(false));
        assert_eq!(t.state(a), TaskState::Consumed);
        assert_eq!(t.known(), 2);
        assert_eq!(t.running_ids(), vec![1, 2]);
    }

    /// `take_result` hands over what `await_task` would and marks the task
    /// awaited; it leaves running, failed and unknown tasks untouched.
    #[test]
    fn take_result_is_await_of_a_finished_value() {
        let mut t = TaskTable::new(8);
        let (scalar, text, failed, running) = (0, 1, 2, 3);
        for _ in 0..4 {
            t.spawn().expect("slot");
        }
        assert!(t.finish(scalar, Ended::result(&Value::Int(5))).is_empty());
        assert!(t.finish(text, Ended::result(&Value::str("copied"))).is_empty());
        let error = VmError::new(rco_lang::ErrorKind::DivisionByZero, "division by zero");
        assert!(t.finish(failed, Ended::Boxed(Box::new(Ending::Failed(error, "task#2".into())))).is_empty());
        assert!(matches!(t.take_result(scalar), Some(Value::Int(5))));
        assert!(matches!(t.take_result(text), Some(Value::Str(s)) if s == "copied"));
        assert_eq!((t.release(scalar), t.release(text)), (Ok(true), Ok(true)), "marked awaited");
        for untouched in [failed, running, 99] {
            assert!(t.take_result(untouched).is_none());
        }
        assert!(t.release(failed).is_err(), "a failure is not taken: await re-raises it");
        assert_eq!(t.state(running), TaskState::Running);
    }

    /// Nil, booleans and numbers are kept in the entry, bit for bit;
    /// anything else is boxed.
    #[test]
    fn scalar_results_are_kept_exactly_and_others_boxed() {
        let results = [
            Value::Nil,
            Value::Bool(true),
            Value::Bool(false),
            Value::Int(i64::MIN),
            Value::Int(-1),
            Value::Float(-0.0),
            Value::Float(f64::NAN),
            Value::str("text"),
        ];
        let mut t = TaskTable::new(results.len());
        for v in &results {
            let id = t.spawn().expect("slot");
            assert!(t.finish(id, Ended::result(v)).is_empty());
            assert_eq!(t.state(id), TaskState::Completed);
            let got = match t.await_task(id, || Box::new(|| {})) {
                AwaitState::Scalar(got) => got,
                AwaitState::Finished(Ending::Value(copy)) => copy.to_value().expect("shallow"),
                _ => panic!("task {id} did not finish"),
            };
            let same = match (v, &got) {
                (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
                _ => v.equals(&got) == Ok(true),
            };
            assert!(same, "{v:?} came back as {got:?}");
            assert_eq!(matches!(v, Value::Str(_)), matches!(t.entries[id as usize], Entry::Finished { .. }));
            assert_eq!(t.release(id), Ok(true));
        }
    }
}
