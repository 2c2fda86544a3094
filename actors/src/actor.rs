//! The [`Actor`] trait, the [`Poll`] result of one run slice, and the
//! [`Context`] an actor gets while it runs.
//!
//! Invariants: `run` is only ever called by the worker that moved the actor
//! from SCHEDULED to RUNNING (see `actor_ref`), so it is never called on two
//! threads at once; the `Context` borrows that worker and cannot escape the
//! call.

use crate::actor_ref::ActorRef;
use crate::worker::WorkerLocal;

/// What one call of [`Actor::run`] reports back to the scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Poll {
    /// The actor used up its budget but has more to do: it is requeued at
    /// the back of the worker's queue, behind the other runnable actors.
    Yield,
    /// The actor waits for a wake (e.g. a message): it is not run again until
    /// [`ActorRef::wake`] is called. A wake that arrived *during* this run is
    /// not lost: the actor is then requeued at once.
    Park,
    /// The actor is finished: it is dropped and never run again.
    Done,
}

/// A lightweight task run by the [`Scheduler`](crate::Scheduler).
///
/// `run` is called whenever the actor is runnable. It must return promptly
/// (the actor counts its own reductions and returns [`Poll::Yield`] when its
/// budget is used up) because a worker thread runs nothing else meanwhile. A
/// panic in `run` is caught and treated like [`Poll::Done`] (the actor is
/// dropped), so that a faulty actor cannot kill a worker thread.
pub trait Actor: Send + 'static {
    /// Runs one slice of the actor.
    fn run(&mut self, cx: &mut Context<'_>) -> Poll;
}

/// Any `FnMut(&mut Context) -> Poll` closure is an actor, handy for tests and
/// small helpers.
impl<F> Actor for F
where
    F: FnMut(&mut Context<'_>) -> Poll + Send + 'static,
{
    fn run(&mut self, cx: &mut Context<'_>) -> Poll {
        self(cx)
    }
}

/// What an actor can do while it runs: learn its own [`ActorRef`] and spawn
/// other actors onto the current worker's local queue.
pub struct Context<'a> {
    me: &'a ActorRef,
    worker: &'a WorkerLocal,
}

impl<'a> Context<'a> {
    pub(crate) fn new(me: &'a ActorRef, worker: &'a WorkerLocal) -> Self {
        Context { me, worker }
    }

    /// A handle to the running actor itself (to hand to others so they can
    /// wake it, e.g. inside a [`MailboxSender`](crate::MailboxSender)).
    pub fn self_ref(&self) -> ActorRef {
        self.me.clone()
    }

    /// Spawns `actor` onto this worker's local queue (cheaper and more cache
    /// friendly than the global injector; idle peers may steal it).
    pub fn spawn(&self, actor: Box<dyn Actor>) -> ActorRef {
        self.spawn_with(|_| actor)
    }

    /// Like [`Context::spawn`], but the actor is built by `make`, which gets
    /// the new actor's own [`ActorRef`] first (e.g. to create its
    /// [`Mailbox`](crate::Mailbox)). The actor is not run before `make`
    /// returns.
    pub fn spawn_with(&self, make: impl FnOnce(&ActorRef) -> Box<dyn Actor>) -> ActorRef {
        self.worker.spawn_local(make)
    }
}
