//! `TaskTable`: every task of the process, its state, its result, and the
//! actors waiting for it.
//!
//! Invariants: ids count from 0 in spawn order and are never reused;
//! `running` is the number of entries in the `Running` state, so a task
//! frees its slot the moment it finishes (DIALECT point 6), not when it is
//! awaited; every waiter registered on a running task is woken exactly once,
//! when the task finishes.

use crate::send::SendValue;
use rco_lang::{TaskState, VmError};
use std::collections::BTreeMap;

/// How a finished task ended.
pub enum Ending {
    Value(SendValue),
    /// The error and where it happened (`task#N at FILE:L:C`).
    Failed(VmError, String),
}

enum Entry {
    Running { waiters: Vec<Box<dyn FnOnce() + Send>> },
    Finished { ending: Ending, awaited: bool },
}

/// What `await` finds.
pub enum AwaitState<'a> {
    Unknown,
    Finished(&'a Ending),
    /// The task is still running; the waiter was registered.
    Pending,
}

/// The process's tasks.
pub struct TaskTable {
    next_id: u64,
    running: usize,
    max_running: usize,
    entries: BTreeMap<u64, Entry>,
}

impl TaskTable {
    pub fn new(max_running: usize) -> TaskTable {
        TaskTable { next_id: 0, running: 0, max_running, entries: BTreeMap::new() }
    }

    /// Reserves an id for a new running task.
    pub fn spawn(&mut self) -> Result<u64, String> {
        if self.running >= self.max_running {
            return Err(format!("task limit exceeded: at most {} tasks may run at once", self.max_running));
        }
        let id = self.next_id;
        self.next_id += 1;
        self.running += 1;
        self.entries.insert(id, Entry::Running { waiters: Vec::new() });
        Ok(id)
    }

    /// Records how a task ended; returns the waiters to wake (outside the lock).
    pub fn finish(&mut self, id: u64, ending: Ending) -> Vec<Box<dyn FnOnce() + Send>> {
        match self.entries.insert(id, Entry::Finished { ending, awaited: false }) {
            Some(Entry::Running { waiters }) => {
                self.running -= 1;
                waiters
            }
            _ => Vec::new(),
        }
    }

    /// `await`: the ending if finished (marking it awaited), or registers
    /// `waiter` to run when it finishes.
    pub fn await_task(&mut self, id: u64, waiter: Box<dyn FnOnce() + Send>) -> AwaitState<'_> {
        match self.entries.get_mut(&id) {
            None => AwaitState::Unknown,
            Some(Entry::Running { waiters }) => {
                waiters.push(waiter);
                AwaitState::Pending
            }
            Some(Entry::Finished { ending, awaited }) => {
                *awaited = true;
                AwaitState::Finished(ending)
            }
        }
    }

    pub fn state(&self, id: u64) -> TaskState {
        match self.entries.get(&id) {
            None => TaskState::Consumed,
            Some(Entry::Running { .. }) => TaskState::Running,
            Some(Entry::Finished { ending: Ending::Value(_), .. }) => TaskState::Completed,
            Some(Entry::Finished { ending: Ending::Failed(..), .. }) => TaskState::Failed,
        }
    }

    /// `release_task`: `Ok(true)` released, `Ok(false)` unknown.
    pub fn release(&mut self, id: u64) -> Result<bool, String> {
        match self.entries.get(&id) {
            None => Ok(false),
            Some(Entry::Finished { awaited: true, .. }) => {
                self.entries.remove(&id);
                Ok(true)
            }
            Some(_) => Err("task must be awaited before release_task".into()),
        }
    }

    /// Ids of running tasks, in id order.
    pub fn running_ids(&self) -> Vec<u64> {
        self.entries.iter().filter(|(_, e)| matches!(e, Entry::Running { .. })).map(|(id, _)| *id).collect()
    }

    pub fn running(&self) -> usize {
        self.running
    }

    pub fn known(&self) -> usize {
        self.entries.len()
    }

    pub fn max_running(&self) -> usize {
        self.max_running
    }
}

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
            t.await_task(
                a,
                Box::new(move || {
                    w.fetch_add(1, Ordering::SeqCst);
                })
            ),
            AwaitState::Pending
        ));
        assert!(t.release(a).is_err(), "running tasks cannot be released");
        for wake in t.finish(a, Ending::Value(SendValue::copy_of(&Value::Int(1)))) {
            wake();
        }
        assert_eq!(woken.load(Ordering::SeqCst), 1);
        assert_eq!(t.running(), 1);
        assert_eq!(t.spawn().expect("slot freed at finish"), 2);
        assert!(t.release(a).is_err(), "not awaited yet");
        assert!(matches!(t.await_task(a, Box::new(|| {})), AwaitState::Finished(_)));
        assert_eq!(t.release(a), Ok(true));
        assert_eq!(t.release(a), Ok(false));
        assert_eq!(t.state(a), TaskState::Consumed);
        assert_eq!(t.known(), 2);
        assert_eq!(t.running_ids(), vec![1, 2]);
    }
}
