//! The [`Actor`] trait, the [`Poll`] result of one run slice, the
//! [`Context`] an actor gets while it runs, and [`FnActor`] (a closure as an
//! actor).
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

/// A lightweight task run by the [`Scheduler`](crate::Scheduler). One
/// scheduler runs actors of one type (an enum or [`FnActor`] where several
/// kinds are needed), so an actor, its state and its mailbox are a single
/// allocation and queues hold thin pointers.
///
/// `run` is called whenever the actor is runnable. It must return promptly
/// (the actor counts its own reductions and returns [`Poll::Yield`] when its
/// budget is used up) because a worker thread runs nothing else meanwhile. A
/// panic in `run` is caught and treated like [`Poll::Done`] (the actor is
/// dropped), so that a faulty actor cannot kill a worker thread.
pub trait Actor: Send + Sized + 'static {
    /// What its mailbox holds (see [`ActorRef::send`] and [`Context::recv`]).
    type Msg: Send + 'static;

    /// Runs one slice of the actor.
    fn run(&mut self, cx: &mut Context<'_, Self>) -> Poll;

    /// Told by a worker, before it runs another actor, which actor it runs
    /// after that one: a hint to ask for `next`'s memory
    /// ([`ActorRef::memory`]) so that it arrives meanwhile. Nothing may
    /// depend on it; by default nothing is done.
    fn upcoming(_next: &ActorRef<Self>) {}

    /// Called by a worker, before it runs another actor, on the actor it
    /// runs after that one (named to `upcoming` a run before, so its own
    /// fields are in the cache by now): a hint to ask for the memory its
    /// run will read first. Nothing may depend on it; by default nothing
    /// is done.
    fn warm(&self) {}

    /// Called with the first message in the mailbox of the actor `warm` is
    /// called on, if it has one (the message its run will take first): a
    /// hint to ask for the memory the message leads to. Nothing may depend
    /// on it; by default nothing is done.
    fn warm_message(_first: &Self::Msg) {}
}

/// A closure as an actor, for tests and small helpers: a scheduler of
/// `FnActor<M>` runs any mix of closures whose mailboxes hold `M`.
pub struct FnActor<M: Send + 'static = ()>(Box<FnRun<M>>);

/// The closure inside an [`FnActor`].
type FnRun<M> = dyn FnMut(&mut Context<'_, FnActor<M>>) -> Poll + Send;

impl<M: Send + 'static> FnActor<M> {
    pub fn new(run: impl FnMut(&mut Context<'_, FnActor<M>>) -> Poll + Send + 'static) -> Self {
        FnActor(Box::new(run))
    }
}

impl<M: Send + 'static> Actor for FnActor<M> {
    type Msg = M;

    fn run(&mut self, cx: &mut Context<'_, Self>) -> Poll {
        (self.0)(cx)
    }
}

/// What an actor can do while it runs: read its mailbox, learn its own
/// [`ActorRef`] and spawn other actors onto the current worker's local queue.
pub struct Context<'a, A: Actor> {
    me: &'a ActorRef<A>,
    worker: &'a WorkerLocal<A>,
    /// What the run reported with `report_work`, if anything.
    pub(crate) work: Option<u64>,
}

impl<'a, A: Actor> Context<'a, A> {
    pub(crate) fn new(me: &'a ActorRef<A>, worker: &'a WorkerLocal<A>) -> Self {
        Context { me, worker, work: None }
    }

    /// Tells the scheduler how much work this run did, in the units of
    /// [`Config::wake_peer_after`](crate::Config::wake_peer_after) (rco:
    /// reductions). A run that reports nothing counts as more than that
    /// threshold: every run of it with work waiting behind wakes a peer.
    pub fn report_work(&mut self, units: u64) {
        self.work = Some(units);
    }

    /// A handle to the running actor itself (to hand to others so they can
    /// send to it or wake it).
    pub fn self_ref(&self) -> ActorRef<A> {
        self.me.clone()
    }

    /// Takes the oldest message of this actor's mailbox, if any. Never
    /// blocks (beyond the short queue lock).
    pub fn recv(&self) -> Option<A::Msg> {
        self.me.recv()
    }

    /// Whether a message is waiting.
    pub fn has_mail(&self) -> bool {
        self.me.has_mail()
    }

    /// Spawns `actor` onto this worker's local queue (cheaper and more cache
    /// friendly than the global injector; idle peers may steal it once this
    /// worker has a backlog, see [`Config::wake_peer_after`](crate::Config::wake_peer_after)).
    pub fn spawn(&self, actor: A) -> ActorRef<A> {
        let actor = self.worker.spawn_local(actor);
        self.worker.push(actor.clone());
        actor
    }

    /// Spawns `actor` like [`Context::spawn`] but keeps no handle to it:
    /// for an actor that hands out its own (`self_ref`) when it needs to be
    /// reached. One handle fewer is two locked instructions fewer (its
    /// reference count's increment and decrement), per spawn.
    pub fn start(&self, actor: A) {
        self.worker.push(self.worker.spawn_local(actor));
    }
}
