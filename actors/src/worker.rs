//! A worker thread: its local queue and registry shard, the find-task loop
//! with its fairness rule, running one actor slice, and routing wakes/spawns
//! made on a worker thread to that worker's local queue.
//!
//! Invariants:
//! * Only the worker thread pushes to or pops from its own local queue
//!   (peers only steal through `Shared::stealers`).
//! * A worker runs everything in its local queue itself, so pushing there
//!   needs no wake-up. Peers help only with a backlog: when a worker has
//!   done `Config::wake_peer_after` units of work while other actors waited
//!   in its queue, it raises its `overloaded` flag and then calls
//!   `Sleep::notify` (the flag is the "push" of the sleep protocol, so no
//!   wake-up is lost); it lowers the flag when it finds its queue empty.
//!   Peers steal only from a worker whose flag is up. (Moving a tiny actor
//!   to another core costs more than running it; see `Config`.)
//! * The worker thread alone touches its registry shard, in which it
//!   registers the actors that park on it (see `registry`); it hands the
//!   shard back to `Scheduler::shutdown` when it exits.
//! * At most two actors are out of every queue between runs besides the
//!   one that yielded: the next to run and the one after it (`next`,
//!   `after`: named to `Actor::upcoming` two runs ahead, `Actor::warm`ed
//!   one run ahead, with `Actor::warm_message` on its first message).
//!   They run, in that order, before anything else in the local queue,
//!   and the worker registers them if it exits first.

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
    /// The actors that parked on this worker (see `registry`).
    registry: RefCell<Shard<A>>,
    /// Work done since other actors last found this worker's queue empty
    /// (see `account`).
    backlog_work: Cell<u64>,
    /// This worker's `Shared::overloaded` flag as it last stored it.
    overloaded: Cell<bool>,
    /// This worker's `Shared::in_run` flag as it last stored it.
    announced: Cell<bool>,
    /// The actors this worker runs next and after it, taken from its queue
    /// ahead, so that their memory can be asked for while the runs before
    /// them go on (see `look_ahead`). Held in no queue: peers do not steal
    /// them.
    next: Cell<Option<ActorRef<A>>>,
    after: Cell<Option<ActorRef<A>>>,
}

/// Whether `slot` holds an actor.
fn held<A: Actor>(slot: &Cell<Option<ActorRef<A>>>) -> bool {
    let actor = slot.take();
    let held = actor.is_some();
    slot.set(actor);
    held
}

/// Queues an actor that just became SCHEDULED through a wake: on the current
/// worker's local queue if this thread is a worker of the actor's scheduler,
/// otherwise on that scheduler's global queue. If the scheduler is gone, the
/// actor was already dropped by shutdown and there is nothing to do.
pub(crate) fn schedule<A: Actor>(actor: ActorRef<A>) {
    // The handle itself goes into a queue (no count taken and dropped).
    let mut pending = Some(actor);
    // `try_with` fails only while thread-local storage is being torn down,
    // which no worker thread is doing while it runs actors; the actor then
    // goes to the global queue.
    let _ = CURRENT.try_with(|current| {
        let current = current.borrow();
        let Some(worker) = current.as_ref().and_then(|w| w.downcast_ref::<WorkerLocal<A>>()) else { return };
        let ours = |a: &mut ActorRef<A>| ptr::eq(Arc::as_ptr(&worker.shared), a.scheduler().as_ptr());
        if let Some(actor) = pending.take_if(ours) {
            worker.push(actor);
        }
    });
    if let Some(actor) = pending {
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
            backlog_work: Cell::new(0),
            overloaded: Cell::new(false),
            announced: Cell::new(false),
            next: Cell::new(None),
            after: Cell::new(None),
        }
    }

    /// Pushes new work on the local queue. No peer is told: this worker
    /// gets to it, and asks for help only with a backlog (see `account`).
    pub(crate) fn push(&self, actor: ActorRef<A>) {
        self.queue.push(actor);
    }

    /// Counts a run's `work` (`None`: not reported) towards this worker's
    /// backlog if other actors waited in its queue all through the run
    /// (`waiting`). Once the backlog reaches `wake_peer_after`, the worker
    /// raises its flag and wakes a peer to steal half its queue; every
    /// further backlog of that size wakes another. A run that found the
    /// queue empty behind it starts the count again and lowers the flag.
    /// Like BEAM's "wake up other" check: a peer is woken for work that has
    /// waited behind real work, not for every actor pushed.
    fn account(&self, waiting: bool, work: Option<u64>) {
        if !waiting {
            self.backlog_work.set(0);
            if self.overloaded.replace(false) {
                self.shared.overloaded[self.index].0.store(false, SeqCst);
            }
            return;
        }
        let threshold = self.shared.wake_peer_after;
        let backlog = self.backlog_work.get().saturating_add(work.unwrap_or(threshold));
        if backlog < threshold {
            self.backlog_work.set(backlog);
            return;
        }
        self.backlog_work.set(0);
        if !self.overloaded.replace(true) {
            self.shared.overloaded[self.index].0.store(true, SeqCst);
        }
        self.shared.sleep.notify();
    }

    /// `Context::spawn` and `Context::start`: a new actor, counted, for the
    /// caller to push on this worker's queue (and put in the registry only
    /// if it parks).
    pub(crate) fn spawn_local(&self, actor: A) -> ActorRef<A> {
        self.shared.tallies[self.index].own_spawned();
        self.shared.new_actor(actor)
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
                self.end_runs();
                self.registry.borrow_mut().sweep_if_worthwhile();
                sleep.idle(|| self.find_task(false))
            });
            if let Some(actor) = found {
                self.look_ahead();
                let waiting = held(&self.next) || held(&self.after) || !self.queue.is_empty();
                let (work, requeue) = self.run_actor(actor);
                self.account(waiting, work);
                yielded = requeue;
            }
        }
        self.end_runs();
        // Held between two runs, in no queue: shutdown must find them.
        for actor in [yielded, self.next.take(), self.after.take()].into_iter().flatten() {
            self.register(&actor);
        }
    }

    /// Before a run: the actor to run after it, named to its type a run
    /// ago (its header has arrived since), is warmed (`Actor::warm`: its
    /// own memory asked for), and the one to run after that is taken from
    /// the queue and named (`Actor::upcoming`: its header asked for).
    fn look_ahead(&self) {
        if !held(&self.next) {
            let next = self.after.take().or_else(|| {
                let next = self.queue.pop();
                next.iter().for_each(A::upcoming);
                next
            });
            if let Some(next) = &next {
                next.warm();
            }
            self.next.set(next);
        }
        if !held(&self.after) {
            if let Some(after) = self.queue.pop() {
                A::upcoming(&after);
                self.after.set(Some(after));
            }
        }
    }

    /// Puts `actor` in this worker's registry shard unless it is in one.
    fn register(&self, actor: &ActorRef<A>) {
        if actor.mark_registered() {
            self.registry.borrow_mut().insert(actor.clone());
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
        (self.next.take().or_else(|| self.after.take()))
            .or_else(|| self.queue.pop())
            .or_else(|| self.steal_global())
            .or_else(|| self.steal_peers())
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
                let peer = (self.index + offset) % stealers.len();
                if !self.shared.overloaded[peer].0.load(SeqCst) {
                    continue;
                }
                match stealers[peer].steal_batch_and_pop(&self.queue) {
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
    /// result (see `actor_ref`); returns the work the run reported and, if
    /// it yielded, the actor, for the caller to requeue.
    fn run_actor(&self, actor: ActorRef<A>) -> (Option<u64>, Option<ActorRef<A>>) {
        // Announce runs (once per busy period: the flag stays up until the
        // worker idles, so a run of a tiny actor costs no locked store),
        // then look for a halt before each one (see `Scheduler::stop_runs`).
        if !self.announced.replace(true) {
            self.shared.in_run[self.index].0.store(true, SeqCst);
        }
        if self.shared.halted.load(SeqCst) {
            self.end_runs();
            // Not run: the registry keeps it alive until shutdown.
            self.register(&actor);
            return (Some(0), None);
        }
        self.run_slice(actor)
    }

    /// Lowers this worker's in-run flag: no run is in progress, and the
    /// next one announces itself again.
    fn end_runs(&self) {
        if self.announced.replace(false) {
            self.shared.in_run[self.index].0.store(false, SeqCst);
        }
    }

    fn run_slice(&self, actor: ActorRef<A>) -> (Option<u64>, Option<ActorRef<A>>) {
        actor.start_run();
        let (outcome, work) = {
            let mut slot = actor.lock_actor();
            let Some(running) = slot.as_mut() else {
                // Unreachable in practice: only shutdown empties the slot of a
                // live actor, and it does so after joining the workers.
                return (Some(0), None);
            };
            let mut cx = Context::new(&actor, self);
            // A panicking actor is retired like a finished one instead of
            // killing this worker. The actor is not used after a panic (it is
            // dropped), so no broken invariant of it can be observed.
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| running.run(&mut cx))).unwrap_or(Poll::Done);
            if outcome == Poll::Done {
                // Under the run's lock: taking it again would cost two
                // locked instructions per actor.
                actor.finish_locked(&mut slot);
            }
            (outcome, cx.work)
        }; // The actor lock is released before the actor can be requeued.
        match outcome {
            Poll::Yield => {
                actor.yielded();
                return (work, Some(actor));
            }
            Poll::Park => {
                // Registered while it still runs here: once parked, only
                // its handles (perhaps a cycle of them) keep it.
                self.register(&actor);
                if actor.parked() {
                    self.push(actor);
                }
            }
            Poll::Done => self.shared.tallies[self.index].own_finished(),
        }
        (work, None)
    }
}
