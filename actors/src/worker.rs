//! A worker thread: its local queue and registry shard, the find-task loop
//! with its fairness rule, running one actor slice, and routing wakes/spawns
//! made on a worker thread to that worker's local queue.
//!
//! Invariants:
//! * Only the worker thread pushes to or pops from its own local queue
//!   (peers only steal through `Shared::stealers`).
//! * Every push of new work (spawn or wake) is followed by one
//!   `Sleep::notify`, so idle peers can come and steal it: at once outside
//!   an actor's slice, at the end of the slice for pushes made during it
//!   (one wake-up per slice, not per push). Requeueing a yielded actor
//!   does not notify: its worker comes back to it anyway.
//! * The worker thread alone touches its registry shard; it hands the shard
//!   back to `Scheduler::shutdown` when it exits.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::hint;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::rc::Rc;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_deque::{Steal, Worker};

use crate::actor::{Actor, Context, Poll};
use crate::actor_ref::ActorRef;
use crate::registry::Shard;
use crate::scheduler::Shared;

/// Every `FAIRNESS_INTERVAL`-th pick looks at the global queue before the
/// local one, and polls the idle hook without blocking, so that neither
/// injected work nor I/O is starved by a worker whose local queue never runs
/// dry. (61, a prime, as in Go and Tokio: it avoids resonating with
/// periodic workloads.)
const FAIRNESS_INTERVAL: u32 = 61;

/// A busy worker also polls the idle hook when this much time has passed
/// since it last did, whatever the number of picks: 61 picks of actors that
/// each use a long slice would leave timers and I/O unserved for tens of
/// milliseconds while no worker is idle.
const POLL_INTERVAL: Duration = Duration::from_millis(1);

/// The clock is read for `POLL_INTERVAL` every this many picks, not at
/// every one: a pick of a tiny actor (spawn + finish of a trivial task)
/// costs about as much as reading the clock. A slice is bounded by its
/// budget, so the poll is at most this many slices late.
const CLOCK_EVERY: u32 = 4;

thread_local! {
    /// The worker running on this thread, if any (a `WorkerLocal<A>`: a
    /// thread-local cannot be generic).
    static CURRENT: RefCell<Option<Rc<dyn Any>>> = const { RefCell::new(None) };
}

pub(crate) struct WorkerLocal<A: Actor> {
    index: usize,
    queue: Worker<ActorRef<A>>,
    shared: Arc<Shared<A>>,
    /// The actors this worker spawned (see `registry`).
    registry: RefCell<Shard<A>>,
    /// Set while an actor runs: work it pushes tells idle peers once, when
    /// its slice ends (see `push`).
    in_slice: Cell<bool>,
    /// Work was pushed during the current slice and peers were not told.
    notify_owed: Cell<bool>,
}

/// Queues an actor that just became SCHEDULED through a wake: on the current
/// worker's local queue if this thread is a worker of the actor's scheduler,
/// otherwise on that scheduler's global queue. If the scheduler is gone, the
/// actor was already dropped by shutdown and there is nothing to do.
pub(crate) fn schedule<A: Actor>(actor: ActorRef<A>) {
    // `try_with` fails only while thread-local storage is being torn down,
    // which no worker thread is doing while it runs actors.
    let local = CURRENT.try_with(|current| {
        let current = current.borrow();
        let worker = current.as_ref().and_then(|w| w.downcast_ref::<WorkerLocal<A>>());
        match worker {
            Some(worker) if ptr::eq(Arc::as_ptr(&worker.shared), actor.scheduler().as_ptr()) => {
                worker.push(actor.clone());
                true
            }
            _ => false,
        }
    });
    if local != Ok(true) {
        if let Some(shared) = actor.scheduler().upgrade() {
            shared.inject(actor);
        }
    }
}

/// The body of a worker thread; returns the actors it registered. (Actors
/// left in its queue are drained by shutdown through the stealers.)
pub(crate) fn run<A: Actor>(local: WorkerLocal<A>) -> Vec<ActorRef<A>> {
    let local = Rc::new(local);
    CURRENT.with(|current| *current.borrow_mut() = Some(local.clone() as Rc<dyn Any>));
    local.main_loop();
    CURRENT.with(|current| *current.borrow_mut() = None);
    let registered = local.registry.borrow_mut().take_all();
    registered
}

impl<A: Actor> WorkerLocal<A> {
    pub(crate) fn new(index: usize, queue: Worker<ActorRef<A>>, shared: Arc<Shared<A>>) -> Self {
        WorkerLocal {
            index,
            queue,
            shared,
            registry: RefCell::default(),
            in_slice: Cell::new(false),
            notify_owed: Cell::new(false),
        }
    }

    /// Pushes new work on the local queue and tells idle peers about it:
    /// at once outside a slice, at the end of the slice inside one. An actor
    /// that spawns or wakes many in one slice (an accept loop, a spawning
    /// loop) then costs one wake-up of a peer per slice, not one per actor,
    /// and the peer steals a batch; the work waits at most one slice.
    fn push(&self, actor: ActorRef<A>) {
        self.queue.push(actor);
        if self.in_slice.get() {
            self.notify_owed.set(true);
        } else {
            self.shared.sleep.notify();
        }
    }

    /// `Context::spawn`: the new actor goes on this worker's queue and in
    /// this worker's registry shard.
    pub(crate) fn spawn_local(&self, actor: A) -> ActorRef<A> {
        let actor = self.shared.new_actor(actor);
        self.registry.borrow_mut().insert(actor.clone());
        self.shared.tallies[self.index].spawned();
        self.push(actor.clone());
        actor
    }

    fn main_loop(&self) {
        let sleep = &self.shared.sleep;
        let mut until_fairness_tick = FAIRNESS_INTERVAL;
        let mut last_poll = Instant::now();
        let mut yielded = None;
        while !sleep.is_shutdown() {
            until_fairness_tick -= 1;
            let fairness_tick = until_fairness_tick == 0;
            if fairness_tick {
                until_fairness_tick = FAIRNESS_INTERVAL;
            }
            let look_at_clock = until_fairness_tick.is_multiple_of(CLOCK_EVERY);
            if fairness_tick || (look_at_clock && last_poll.elapsed() >= POLL_INTERVAL) {
                sleep.poll_now();
                last_poll = Instant::now();
            }
            // The actor that just yielded goes behind those the poll woke:
            // they have waited for their event, it has just had a slice.
            if let Some(actor) = yielded.take() {
                self.queue.push(actor);
            }
            let found = self.find_task(fairness_tick).or_else(|| {
                // Nothing to run: a good time to sweep finished actors.
                self.registry.borrow_mut().sweep_if_worthwhile();
                self.shared.sweep_outside();
                sleep.idle(|| self.find_task(false))
            });
            if let Some(actor) = found {
                yielded = self.run_actor(actor);
            }
        }
    }

    /// Local queue, then a batch from the global queue, then a batch stolen
    /// from a peer; with `global_first`, the global queue comes first.
    fn find_task(&self, global_first: bool) -> Option<ActorRef<A>> {
        if global_first {
            if let Some(actor) = self.steal_global() {
                return Some(actor);
            }
        }
        self.queue.pop().or_else(|| self.steal_global()).or_else(|| self.steal_peers())
    }

    fn steal_global(&self) -> Option<ActorRef<A>> {
        loop {
            match self.shared.injector.steal_batch_and_pop(&self.queue) {
                Steal::Success(actor) => return Some(actor),
                Steal::Empty => return None,
                Steal::Retry => hint::spin_loop(),
            }
        }
    }

    /// Tries every peer, starting with the next one, until one yields work or
    /// all are definitely empty (a `Retry` means a race: try again).
    fn steal_peers(&self) -> Option<ActorRef<A>> {
        let stealers = &self.shared.stealers;
        loop {
            let mut retry = false;
            for offset in 1..stealers.len() {
                let peer = &stealers[(self.index + offset) % stealers.len()];
                match peer.steal_batch_and_pop(&self.queue) {
                    Steal::Success(actor) => return Some(actor),
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            if !retry {
                return None;
            }
            hint::spin_loop();
        }
    }

    /// Runs one slice of `actor` and applies the state transition for its
    /// result (see `actor_ref`); an actor that yielded is handed back, for
    /// the caller to requeue. Work the slice pushed is announced to idle
    /// peers once, when it ends (see `push`).
    fn run_actor(&self, actor: ActorRef<A>) -> Option<ActorRef<A>> {
        // Announce the run, then look for a halt (see `Scheduler::stop_runs`).
        let in_run = &self.shared.in_run[self.index].0;
        in_run.store(true, SeqCst);
        if self.shared.halted.load(SeqCst) {
            in_run.store(false, SeqCst);
            // Not run: the registry keeps it alive until shutdown.
            return None;
        }
        self.in_slice.set(true);
        let yielded = self.run_slice(actor);
        self.in_slice.set(false);
        in_run.store(false, SeqCst);
        if self.notify_owed.replace(false) {
            self.shared.sleep.notify();
        }
        yielded
    }

    fn run_slice(&self, actor: ActorRef<A>) -> Option<ActorRef<A>> {
        actor.start_run();
        let outcome = {
            let mut slot = actor.lock_actor();
            let Some(running) = slot.as_mut() else {
                // Unreachable in practice: only shutdown empties the slot of a
                // live actor, and it does so after joining the workers.
                return None;
            };
            let mut cx = Context::new(&actor, self);
            // A panicking actor is retired like a finished one instead of
            // killing this worker. The actor is not used after a panic (it is
            // dropped), so no broken invariant of it can be observed.
            panic::catch_unwind(AssertUnwindSafe(|| running.run(&mut cx))).unwrap_or(Poll::Done)
        }; // The actor lock is released before the actor can be requeued.
        match outcome {
            Poll::Yield => {
                actor.yielded();
                return Some(actor);
            }
            Poll::Park => {
                if actor.parked() {
                    self.push(actor);
                } else {
                    actor.trim_mail();
                }
            }
            Poll::Done => {
                self.shared.tallies[self.index].finished();
                actor.finish();
            }
        }
        None
    }
}
