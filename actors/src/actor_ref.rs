//! [`ActorRef`], the header it points to (one allocation per actor: its
//! state, its mailbox and the actor itself), the atomic state machine that
//! makes [`ActorRef::wake`] exact, and sending.
//!
//! Every actor is one `Arc<Header<A>>`: an atomic state, a weak pointer to
//! its scheduler, its mailbox and the actor, the first three with the
//! reference counts in one cache line (`repr(C)`, tested), so a send to a
//! parked actor touches one line. Queues, the registry and user handles
//! all hold that same `Arc` (an `ActorRef`, one word).
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
//!
//! The mailbox: `send` enqueues under the mailbox lock and only then wakes
//! the actor, so the actor either sees the message in its current drain or
//! is run again after the wake: no message is left unread while it is
//! parked. A message is either accepted (and then received exactly once, or
//! dropped with the actor when it is done) or handed back in [`SendError`]
//! when the actor is already DONE: never lost silently, never duplicated.
//! `send` reads DONE under the mailbox lock and `finish` stores DONE before
//! it empties the mailbox under that lock, so no message is accepted after
//! the mailbox was emptied for good. `send` takes the handle: the wake that
//! must queue the actor queues that handle itself (no reference count is
//! taken and dropped per message).

use std::error::Error;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use crate::actor::Actor;
use crate::mailbox::Mailbox;
use crate::scheduler::Shared;
use crate::worker;

const IDLE: u8 = 0;
const SCHEDULED: u8 = 1;
const RUNNING: u8 = 2;
const NOTIFIED: u8 = 3;
const DONE: u8 = 4;

/// In this order (`repr(C)`): the reference counts, the state, the
/// scheduler and the mailbox share the first cache line, so a send to a
/// parked actor (a socket's reply, delivered by the reactor while the
/// actor is out of the cache) touches one line, not two (in the layout
/// the compiler chose, the state came last, three lines further).
#[repr(C)]
pub(crate) struct Header<A: Actor> {
    state: AtomicU8,
    /// In a worker's registry shard (see `registry`): set by the worker
    /// running the actor, the first time it parks.
    registered: AtomicBool,
    scheduler: Weak<Shared<A>>,
    mail: Mutex<Mailbox<A::Msg>>,
    /// `None` once the actor is done (it is dropped then, not with the last
    /// handle).
    actor: Mutex<Option<A>>,
}

/// A handle to an actor: wakes it, sends to its mailbox. Cheap to clone
/// (one `Arc`), `Send + Sync`.
pub struct ActorRef<A: Actor>(Arc<Header<A>>);

impl<A: Actor> Clone for ActorRef<A> {
    fn clone(&self) -> Self {
        ActorRef(self.0.clone())
    }
}

/// The message could not be delivered because the actor is done; the
/// message is handed back.
pub struct SendError<M>(pub M);

/// Every critical section of these locks only pushes/pops a `VecDeque`,
/// takes an `Option` or runs the actor (whose panics the worker catches and
/// then retires the actor), none of which leaves them inconsistent; so a
/// poisoned lock is recovered rather than propagated.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<A: Actor> ActorRef<A> {
    pub(crate) fn new(scheduler: Weak<Shared<A>>, actor: A) -> Self {
        ActorRef(Arc::new(Header {
            state: AtomicU8::new(SCHEDULED),
            registered: AtomicBool::new(false),
            scheduler,
            mail: Mutex::new(Mailbox::Empty),
            actor: Mutex::new(Some(actor)),
        }))
    }

    /// Where the actor's header lies (its state, mailbox and the actor
    /// itself: the data of its one `Arc`) and how many bytes it spans: for
    /// a hint to the cache (`Actor::upcoming`), never to be read through.
    pub fn memory(&self) -> (*const u8, usize) {
        (Arc::as_ptr(&self.0).cast(), std::mem::size_of::<Header<A>>())
    }

    /// `Actor::warm` on the actor, if it is not done, and
    /// `Actor::warm_message` on its first message. Called only by the
    /// worker that holds it out of every queue, so its lock is free (and
    /// the locks are taken one after the other, not nested).
    pub(crate) fn warm(&self) {
        if let Some(actor) = lock(&self.0.actor).as_ref() {
            actor.warm();
        }
        if let Some(first) = lock(&self.0.mail).front() {
            A::warm_message(first);
        }
    }

    /// Makes the actor runnable if it is parked; see the module docs for
    /// why a wake is never lost nor duplicated.
    pub fn wake(&self) {
        if self.woken() {
            worker::schedule(self.clone());
        }
    }

    /// The wake's step of the state machine: whether the actor was parked,
    /// so that the waker must queue it (exactly one waker is told so).
    fn woken(&self) -> bool {
        let mut current = self.0.state.load(Ordering::Acquire);
        loop {
            let next = match current {
                IDLE => SCHEDULED,
                RUNNING => NOTIFIED,
                DONE => return false,
                covered => covered,
            };
            match self.0.state.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return current == IDLE,
                Err(actual) => current = actual,
            }
        }
    }

    /// Enqueues `msg` in the actor's mailbox and wakes it. Fails, handing
    /// the message back, only if the actor is done. Takes the handle: a
    /// wake that queues the actor moves it into the queue rather than
    /// counting another (a reply's sender is used once; a caller that
    /// keeps its handle sends through a clone).
    pub fn send(self, msg: A::Msg) -> Result<(), SendError<A::Msg>> {
        {
            let mut mail = lock(&self.0.mail);
            if self.is_done() {
                return Err(SendError(msg));
            }
            mail.push(msg);
        }
        // Wake after unlocking: the actor may already be draining.
        if self.woken() {
            worker::schedule(self);
        }
        Ok(())
    }

    pub(crate) fn recv(&self) -> Option<A::Msg> {
        lock(&self.0.mail).pop()
    }

    pub(crate) fn has_mail(&self) -> bool {
        !lock(&self.0.mail).is_empty()
    }

    pub(crate) fn scheduler(&self) -> &Weak<Shared<A>> {
        &self.0.scheduler
    }

    pub(crate) fn lock_actor(&self) -> MutexGuard<'_, Option<A>> {
        lock(&self.0.actor)
    }

    /// Marks the actor registered; whether it was not yet. Called only by
    /// the worker that runs it (or holds it out of every queue), so no two
    /// threads race on it: a load and, the first time, a store, not a
    /// locked swap at every park.
    pub(crate) fn mark_registered(&self) -> bool {
        let first = !self.0.registered.load(Ordering::Relaxed);
        if first {
            self.0.registered.store(true, Ordering::Relaxed);
        }
        first
    }

    /// SCHEDULED to RUNNING, by the worker that popped the actor. A store,
    /// not a locked swap: a wake meanwhile leaves SCHEDULED as it is (its
    /// compare-exchange either precedes the store, or sees RUNNING and
    /// makes it NOTIFIED), and the actor's memory came with its handle
    /// through the queue, not through this state.
    pub(crate) fn start_run(&self) {
        debug_assert_eq!(self.0.state.load(Ordering::Relaxed), SCHEDULED, "popped an actor that was not scheduled");
        self.0.state.store(RUNNING, Ordering::Release);
    }

    pub(crate) fn yielded(&self) {
        self.0.state.swap(SCHEDULED, Ordering::AcqRel);
    }

    pub(crate) fn parked(&self) -> bool {
        match self.0.state.compare_exchange(RUNNING, IDLE, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => false,
            Err(_notified) => {
                self.0.state.swap(SCHEDULED, Ordering::AcqRel);
                true
            }
        }
    }

    /// Marks the actor done and drops it and its unread messages; whether
    /// it was still there (not finished before). The actor is dropped in
    /// place, under its own lock (which nothing but a run takes), and the
    /// messages after the mailbox lock is released: their destructors may
    /// send to or wake other actors, and sends to this one fail from now on.
    pub(crate) fn finish(&self) -> bool {
        self.finish_locked(&mut self.lock_actor())
    }

    /// `finish` by the run that ended the actor, which holds its lock.
    pub(crate) fn finish_locked(&self, slot: &mut Option<A>) -> bool {
        self.0.state.store(DONE, Ordering::Release);
        let unread = {
            let mut mail = lock(&self.0.mail);
            // Most actors end with an empty mailbox that owns no buffer.
            (!matches!(*mail, Mailbox::Empty)).then(|| std::mem::take(&mut *mail))
        };
        drop(unread);
        // Dropped in place (`take` would move it out first).
        let was_there = slot.is_some();
        *slot = None;
        was_there
    }

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

impl<A: Actor> fmt::Debug for ActorRef<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorRef").field("id", &Arc::as_ptr(&self.0)).field("state", &self.state_name()).finish()
    }
}

impl<M> fmt::Debug for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<M> fmt::Display for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the actor is done: message not delivered")
    }
}

impl<M> Error for SendError<M> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FnActor, Poll};

    fn state(actor: &ActorRef<FnActor<u32>>) -> u8 {
        actor.0.state.load(Ordering::Acquire)
    }

    /// A handle without a scheduler: `wake` makes the transitions but has
    /// nowhere to push, which is exactly what we need to check the state
    /// machine in isolation.
    fn detached() -> ActorRef<FnActor<u32>> {
        ActorRef::new(Weak::new(), FnActor::new(|_| Poll::Done))
    }

    /// What a send to a parked actor touches (the reference count a wake
    /// clones, the state, the scheduler and the mailbox) lies in the
    /// allocation's first cache line, for messages of up to 24 bytes whose
    /// tag is a niche (as the runtime's are).
    #[test]
    fn a_send_touches_one_line() {
        #[allow(dead_code)]
        enum Message {
            Plain,
            Number(u64),
            Boxed(Box<[u8; 100]>),
            Text(Option<String>),
        }
        let counts = 2 * std::mem::size_of::<usize>();
        let end = counts + std::mem::offset_of!(Header<FnActor<Message>>, mail) + size_of::<Mutex<Mailbox<Message>>>();
        assert!(end <= 64, "the mailbox ends at byte {end}");
        assert!(
            std::mem::offset_of!(Header<FnActor<Message>>, state)
                < std::mem::offset_of!(Header<FnActor<Message>>, mail)
        );
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
        a.start_run();
        assert!(a.finish());
        a.wake();
        assert_eq!(state(&a), DONE);
        assert!(!a.finish());
        assert!(format!("{a:?}").contains("done"));
    }

    #[test]
    fn mail_is_fifo_and_a_send_after_done_returns_the_message() {
        let a = detached();
        assert!(!a.has_mail());
        for i in 0..3 {
            a.clone().send(i).expect("actor alive");
        }
        assert!(a.has_mail());
        assert_eq!(a.recv(), Some(0));
        assert_eq!(a.recv(), Some(1));
        assert!(a.has_mail(), "not empty: kept");
        assert!(a.finish());
        assert!(!a.has_mail(), "unread messages are dropped with the actor");
        match a.send(7) {
            Err(SendError(7)) => {}
            other => panic!("expected the message back, got {other:?}"),
        }
    }

    #[test]
    fn an_empty_mailbox_keeps_no_buffer() {
        let a = detached();
        a.clone().send(1).expect("alive");
        a.clone().send(2).expect("alive");
        assert_eq!((a.recv(), a.recv()), (Some(1), Some(2)));
        assert!(!a.0.mail.lock().map(|m| m.holds_buffer()).unwrap_or(true));
    }
}
