//! Lightweight actors on a work-stealing scheduler.
//!
//! This crate owns scheduling only: it knows nothing of the Ricochet language,
//! of sockets or of timers. A language runtime implements [`Actor`] for its
//! VM (which runs a script slice by slice and counts its own reductions), and
//! this crate decides *where* and *when* each actor runs.
//!
//! * [`Scheduler`] — one worker thread per core, each with a FIFO
//!   `crossbeam_deque` queue, a global injector and work stealing.
//! * [`Actor`] / [`Poll`] / [`Context`] — what an actor is and what a run
//!   slice reports (`Yield`, `Park`, `Done`); [`FnActor`], a closure as an
//!   actor.
//! * [`ActorRef`] — a cheap handle whose [`ActorRef::wake`] makes a parked
//!   actor runnable exactly once (never lost, never duplicated) and whose
//!   [`ActorRef::send`] puts a message in the actor's mailbox and wakes it.
//! * [`Completion`] — a latch the main thread blocks on until, e.g., the
//!   main actor is done.
//! * [`IdleHook`] — lets an idle worker poll an I/O reactor instead of
//!   parking, so no dedicated reactor thread is needed.
//!
//! # Design in brief
//!
//! * Queues are FIFO: a yielding actor goes behind the other runnable actors
//!   of its worker, so a worker round-robins and nothing starves.
//! * A worker looks for work in its local queue, then takes a batch from the
//!   global injector, then steals a batch from a peer; every 61st pick it
//!   looks at the global injector first, and every 61st pick or every
//!   millisecond it polls the idle hook without blocking, so injected work,
//!   I/O and timers are never starved by busy workers.
//! * A scheduler runs actors of one type `A`, so an actor is one
//!   allocation: an `Arc`'d header holding its atomic state, its mailbox
//!   and the actor itself, and every queue holds one-word pointers (the
//!   cost of a task is the runtime's unit: see ARCHITECTURE.md). Its state
//!   machine (IDLE/SCHEDULED/RUNNING/NOTIFIED/DONE) guarantees that a wake is
//!   neither lost nor duplicated and that an actor never runs on two workers
//!   at once.
//! * Idle workers park on a condvar (or block in the idle hook) with an
//!   announce-recheck-sleep protocol that loses no wake-up; while all
//!   workers are busy, pushing work costs one fence and one atomic load.
//! * An actor lives until it returns [`Poll::Done`] (or panics), or until the
//!   scheduler shuts down, which drops every actor still alive.
//!
//! # Example
//!
//! A counter actor that sums the numbers it receives and signals completion
//! when it receives `0`:
//!
//! ```
//! use rco_actors::{Actor, Completion, Config, Context, Poll, Scheduler};
//! use std::sync::{Arc, atomic::{AtomicU64, Ordering}};
//!
//! struct Counter {
//!     total: Arc<AtomicU64>,
//!     done: Completion,
//! }
//!
//! impl Actor for Counter {
//!     type Msg = u64;
//!
//!     fn run(&mut self, cx: &mut Context<'_, Self>) -> Poll {
//!         // A real actor would also count reductions and return
//!         // `Poll::Yield` when its budget is used up.
//!         while let Some(n) = cx.recv() {
//!             if n == 0 {
//!                 self.done.complete();
//!                 return Poll::Done;
//!             }
//!             self.total.fetch_add(n, Ordering::Relaxed);
//!         }
//!         Poll::Park // wait for more mail: `send` wakes us
//!     }
//! }
//!
//! let sched = Scheduler::new(Config::default()).expect("worker threads");
//! let total = Arc::new(AtomicU64::new(0));
//! let done = Completion::new();
//! let sender = sched.spawn(Counter { total: total.clone(), done: done.clone() });
//! for n in [1, 2, 3, 0] {
//!     sender.clone().send(n).expect("the counter is alive until it reads 0");
//! }
//! done.wait();
//! assert_eq!(total.load(Ordering::Relaxed), 6);
//! assert_eq!(sched.shutdown(), 0); // no actor was left alive
//! ```

#![forbid(unsafe_code)]

mod actor;
mod actor_ref;
mod completion;
mod mailbox;
mod registry;
mod scheduler;
mod sleep;
mod worker;

pub use actor::{Actor, Context, FnActor, Poll};
pub use actor_ref::{ActorRef, SendError};
pub use completion::Completion;
pub use scheduler::{Config, Scheduler};
pub use sleep::IdleHook;

#[cfg(test)]
mod tests {
    /// The handles are meant to be shared across threads.
    #[test]
    fn handles_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<crate::ActorRef<crate::FnActor<String>>>();
        assert_send_sync::<crate::Completion>();
        assert_send_sync::<crate::Scheduler<crate::FnActor>>();
        assert_send_sync::<crate::Config>();
    }
}
