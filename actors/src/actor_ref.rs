//! [`ActorRef`], the per-actor header it points to, and the atomic state
//! machine that makes [`ActorRef::wake`] exact.
//!
//! Every actor is one `Arc<Header>`: an atomic state, a weak pointer to its
//! scheduler and the boxed actor. Queues, the registry and user handles all
//! hold that same `Arc` (an `ActorRef`).
//!
//! # States and transitions
//!
//! ```text
//! from       event                          to         who pushes it on a queue
//! ---------  -----------------------------  ---------  ------------------------
//! (spawn)    created                        SCHEDULED  the spawner
//! IDLE       wake                           SCHEDULED  the waker
//! SCHEDULED  popped by a worker             RUNNING    -
//! RUNNING    wake                           NOTIFIED   - (remembered)
//! RUNNING    run returned Park              IDLE       - (waits for a wake)
//! NOTIFIED   run returned Park              SCHEDULED  the running worker
//! RUNNING/
//! NOTIFIED   run returned Yield             SCHEDULED  the running worker
//! RUNNING/
//! NOTIFIED   run returned Done (or panic)   DONE       - (actor dropped)
//! any        scheduler shut down            DONE       - (actor dropped)
//! SCHEDULED/
//! NOTIFIED/
//! DONE       wake                           unchanged  - (already covered)
//! ```
//!
//! Invariants: an actor is pushed on a queue only by the thread that moved it
//! into SCHEDULED, so it is in at most one queue slot at a time and is never
//! run by two workers at once. Every wake is followed by a run that starts
//! after it: it either finds the actor IDLE and queues it, or SCHEDULED (a
//! run that has not started yet is pending), or RUNNING/NOTIFIED (the
//! worker requeues it when the run returns), so no wake is lost and none
//! causes a second queue entry.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use crate::actor::Actor;
use crate::scheduler::Shared;
use crate::worker;

const IDLE: u8 = 0;
const SCHEDULED: u8 = 1;
const RUNNING: u8 = 2;
const NOTIFIED: u8 = 3;
const DONE: u8 = 4;

/// The shared part of one actor.
pub(crate) struct Header {
    state: AtomicU8,
    /// Weak, so that actors parked in queues or held by stray handles never
    /// keep a shut-down scheduler alive (no reference cycle).
    scheduler: Weak<Shared>,
    /// The actor itself; `None` once it is done. The state machine already
    /// guarantees exclusive access, so this lock is never contended: it only
    /// lets us hand out `&mut dyn Actor` without `unsafe`.
    actor: Mutex<Option<Box<dyn Actor>>>,
}

/// A handle to an actor: cheap to clone, `Send + Sync`.
///
/// Holding an `ActorRef` keeps the actor's small header alive, not the
/// scheduler; waking an actor whose scheduler is gone does nothing.
#[derive(Clone)]
pub struct ActorRef(pub(crate) Arc<Header>);

impl ActorRef {
    /// A new actor in state SCHEDULED (its spawner pushes it next) with no
    /// actor installed yet (see [`ActorRef::install`]).
    pub(crate) fn new(scheduler: Weak<Shared>) -> Self {
        ActorRef(Arc::new(Header { state: AtomicU8::new(SCHEDULED), scheduler, actor: Mutex::new(None) }))
    }

    /// Makes the actor runnable if it is parked.
    ///
    /// Exactly-once semantics: if the actor is parked it is queued once; if it
    /// is running, it is run again after its current run returns (even if it
    /// returns [`Poll::Park`](crate::Poll::Park)); if it is already queued or
    /// done, nothing happens. Callable from any thread, including from inside
    /// actors (then the actor goes to the current worker's local queue).
    pub fn wake(&self) {
        let mut current = self.0.state.load(Ordering::Acquire);
        loop {
            let next = match current {
                IDLE => SCHEDULED,
                RUNNING => NOTIFIED,
                DONE => return,
                // SCHEDULED or NOTIFIED: a run after this wake is already
                // due. We still write the (same) state with a release RMW,
                // so that the worker's next acquiring RMW of the state (at
                // the start of that run, or when the current run returns)
                // sees everything the waker wrote before waking.
                covered => covered,
            };
            match self.0.state.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    if current == IDLE {
                        // We won IDLE → SCHEDULED: we alone push it.
                        worker::schedule(self.clone());
                    }
                    return;
                }
                Err(actual) => current = actual,
            }
        }
    }

    /// The scheduler this actor belongs to.
    pub(crate) fn scheduler(&self) -> &Weak<Shared> {
        &self.0.scheduler
    }

    /// Puts the actor in place before it is first queued.
    pub(crate) fn install(&self, actor: Box<dyn Actor>) {
        *self.lock_actor() = Some(actor);
    }

    /// Locks the actor slot. Poisoning cannot carry a broken invariant here
    /// (the slot is just an `Option` and panics in `run` are caught outside
    /// the lock's critical section), so a poisoned guard is simply recovered.
    pub(crate) fn lock_actor(&self) -> MutexGuard<'_, Option<Box<dyn Actor>>> {
        self.0.actor.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// SCHEDULED → RUNNING, by the worker that popped the actor.
    pub(crate) fn start_run(&self) {
        let previous = self.0.state.swap(RUNNING, Ordering::AcqRel);
        debug_assert_eq!(previous, SCHEDULED, "popped an actor that was not scheduled");
    }

    /// After `run` returned `Yield`: → SCHEDULED (a NOTIFIED wake is subsumed
    /// by the requeue). The caller pushes the actor. (A swap rather than a
    /// store, so that it acquires what a NOTIFIED waker published.)
    pub(crate) fn yielded(&self) {
        self.0.state.swap(SCHEDULED, Ordering::AcqRel);
    }

    /// After `run` returned `Park`: RUNNING → IDLE. Returns `true` if a wake
    /// arrived during the run (state NOTIFIED): then the state becomes
    /// SCHEDULED and the caller must push the actor.
    pub(crate) fn parked(&self) -> bool {
        match self.0.state.compare_exchange(RUNNING, IDLE, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => false,
            Err(_notified) => {
                // A swap, to also acquire from wakers that came since the CAS.
                self.0.state.swap(SCHEDULED, Ordering::AcqRel);
                true
            }
        }
    }

    /// → DONE, and takes the actor out so the caller can drop it (outside
    /// the lock: dropping may wake or message other actors). Later wakes are
    /// no-ops.
    pub(crate) fn finish(&self) -> Option<Box<dyn Actor>> {
        self.0.state.store(DONE, Ordering::Release);
        self.lock_actor().take()
    }

    /// Whether the actor has finished (or was dropped by shutdown).
    pub(crate) fn is_done(&self) -> bool {
        self.0.state.load(Ordering::Acquire) == DONE
    }

    fn state_name(&self) -> &'static str {
        match self.0.state.load(Ordering::Acquire) {
            IDLE => "parked",
            SCHEDULED => "scheduled",
            RUNNING => "running",
            NOTIFIED => "running (notified)",
            _ => "done",
        }
    }
}

impl fmt::Debug for ActorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorRef").field("id", &Arc::as_ptr(&self.0)).field("state", &self.state_name()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(actor: &ActorRef) -> u8 {
        actor.0.state.load(Ordering::Acquire)
    }

    /// A handle without a scheduler: `wake` makes the transitions but has
    /// nowhere to push, which is exactly what we need to check the state
    /// machine in isolation.
    fn detached() -> ActorRef {
        ActorRef::new(Weak::new())
    }

    #[test]
    fn wake_while_scheduled_is_absorbed() {
        let a = detached();
        a.wake();
        a.wake();
        assert_eq!(state(&a), SCHEDULED);
    }

    #[test]
    fn wake_while_running_is_remembered_across_park() {
        let a = detached();
        a.start_run();
        a.wake();
        assert_eq!(state(&a), NOTIFIED);
        a.wake(); // coalesced
        assert_eq!(state(&a), NOTIFIED);
        assert!(a.parked(), "a wake during the run must requeue");
        assert_eq!(state(&a), SCHEDULED);
    }

    #[test]
    fn park_without_wake_goes_idle_and_next_wake_schedules() {
        let a = detached();
        a.start_run();
        assert!(!a.parked());
        assert_eq!(state(&a), IDLE);
        a.wake();
        assert_eq!(state(&a), SCHEDULED);
    }

    #[test]
    fn yield_subsumes_notification() {
        let a = detached();
        a.start_run();
        a.wake();
        a.yielded();
        assert_eq!(state(&a), SCHEDULED);
    }

    #[test]
    fn done_ignores_wakes_and_drops_actor() {
        let a = detached();
        a.install(Box::new(|_: &mut crate::Context<'_>| crate::Poll::Done));
        a.start_run();
        assert!(a.finish().is_some());
        a.wake();
        assert_eq!(state(&a), DONE);
        assert!(a.finish().is_none());
        assert!(format!("{a:?}").contains("done"));
    }
}
