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
//!   slice reports (`Yield`, `Park`, `Done`).
//! * [`ActorRef`] — a cheap handle whose [`ActorRef::wake`] makes a parked
//!   actor runnable exactly once (never lost, never duplicated).
//! * [`Mailbox`] / [`MailboxSender`] — a per-actor message queue whose
//!   `send` wakes the owner.
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
//! * An actor is one `Arc`'d header (atomic state + boxed actor). Its state
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
//! use rco_actors::{Actor, Completion, Config, Context, Mailbox, Poll, Scheduler};
//! use std::sync::{Arc, atomic::{AtomicU64, Ordering}};
//!
//! struct Counter {
//!     inbox: Mailbox<u64>,
//!     total: Arc<AtomicU64>,
//!     done: Completion,
//! }
//!
//! impl Actor for Counter {
//!     fn run(&mut self, _cx: &mut Context<'_>) -> Poll {
//!         // A real actor would also count reductions and return
//!         // `Poll::Yield` when its budget is used up.
//!         while let Some(n) = self.inbox.try_recv() {
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
//! let mut sender = None;
//! sched.spawn_with(|me| {
//!     let inbox = Mailbox::new(me.clone());
//!     sender = Some(inbox.sender());
//!     Box::new(Counter { inbox, total: total.clone(), done: done.clone() })
//! });
//! let sender = sender.expect("spawn_with ran the constructor");
//! for n in [1, 2, 3, 0] {
//!     sender.send(n).expect("the counter is alive until it reads 0");
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

pub use actor::{Actor, Context, Poll};
pub use actor_ref::ActorRef;
pub use completion::Completion;
pub use mailbox::{Mailbox, MailboxSender, SendError};
pub use scheduler::{Config, Scheduler};
pub use sleep::IdleHook;

#[cfg(test)]
mod tests {
    /// The handles are meant to be shared across threads.
    #[test]
    fn handles_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<crate::ActorRef>();
        assert_send_sync::<crate::MailboxSender<String>>();
        assert_send_sync::<crate::Completion>();
        assert_send_sync::<crate::Scheduler>();
        assert_send_sync::<crate::Config>();
    }
}
