//! The [`Scheduler`]: its configuration, the state shared by all workers
//! (global injector, peers' stealers, sleep protocol, live-actor tallies,
//! the halt flag and per-worker in-run and overloaded flags), spawning from
//! outside, halting runs, and shutdown.
//!
//! Invariants:
//! * After [`Scheduler::stop_runs`] returns `true`, no actor run is in
//!   progress and none starts again (a worker raises its own in-run flag
//!   before its first run after idling and lowers it only when it idles or
//!   sees the halt; it reads the halt flag before every run; all SeqCst).
//! * Every actor that is not done is registered (see `registry`) or in a
//!   queue, so shutdown can drop every live actor, even parked ones in
//!   reference cycles, and the tallies give an exact live count.
//! * After [`Scheduler::shutdown`] returns, no worker thread runs, every
//!   queue is empty and every actor has been dropped (later wakes are
//!   no-ops).

use std::io;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_deque::{Injector, Steal, Stealer, Worker};

use crate::actor::Actor;
use crate::actor_ref::ActorRef;
use crate::registry::{self, Tally};
use crate::sleep::{IdleHook, Sleep};
use crate::worker::{self, WorkerLocal};

/// Scheduler settings. `Config::default()` means one worker per core and no
/// idle hook.
#[derive(Clone, Default)]
pub struct Config {
    /// Number of worker threads; 0 means one per core
    /// (`std::thread::available_parallelism`).
    pub workers: usize,
    /// Polled by an idle worker instead of parking (see [`IdleHook`]).
    pub idle_hook: Option<Arc<dyn IdleHook>>,
    /// How much work (in the units actors report with
    /// [`Context::report_work`](crate::Context::report_work)) a worker does
    /// while other actors wait in its local queue before it wakes an idle
    /// peer to steal from it. 0 (the default) wakes a peer after any run
    /// that had work waiting behind it. Moving an actor to another core
    /// costs more than running a tiny one (its memory and its handle cross
    /// caches, and waking a parked thread takes tens of µs), so a runtime
    /// whose actors report their work sets this to about the work a wake-up
    /// costs: short actors then stay on the worker that spawned or woke
    /// them, and a backlog of real work still spreads.
    pub wake_peer_after: u64,
}

/// State shared by the workers, the [`Scheduler`] handle and (weakly) every
/// actor.
pub(crate) struct Shared<A: Actor> {
    pub(crate) injector: Injector<ActorRef<A>>,
    /// One per worker, indexed by worker number.
    pub(crate) stealers: Box<[Stealer<ActorRef<A>>]>,
    pub(crate) sleep: Sleep,
    /// One per worker, indexed by worker number, then one for outside spawns.
    pub(crate) tallies: Box<[Tally]>,
    /// Set by [`Scheduler::stop_runs`]: no run starts after it.
    pub(crate) halted: AtomicBool,
    /// One per worker: whether it is inside a run (see `WorkerLocal::run_actor`).
    pub(crate) in_run: Box<[InRun]>,
    /// One per worker: whether it asked for help (see `WorkerLocal::account`):
    /// peers steal only from a worker that did.
    pub(crate) overloaded: Box<[InRun]>,
    /// `Config::wake_peer_after`.
    pub(crate) wake_peer_after: u64,
}

/// A flag of one worker on a cache line of its own: whether it may be inside
/// an actor's run (raised by its worker before the first run of a busy
/// period, lowered when it idles; read only by `stop_runs`), or whether it asked peers for help (written by its worker
/// when that changes, read by idle peers).
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct InRun(pub(crate) AtomicBool);

impl<A: Actor> Shared<A> {
    /// Creates a new actor in state SCHEDULED; the caller registers it and
    /// pushes it on a queue.
    pub(crate) fn new_actor(self: &Arc<Self>, actor: A) -> ActorRef<A> {
        ActorRef::new(Arc::downgrade(self), actor)
    }

    /// Pushes a runnable actor on the global queue (used by threads that are
    /// not workers of this scheduler) and wakes an idle worker.
    pub(crate) fn inject(&self, actor: ActorRef<A>) {
        self.injector.push(actor);
        self.sleep.notify();
    }
}

/// A pool of worker threads running [`Actor`]s of type `A`.
///
/// Dropping the scheduler shuts it down like [`Scheduler::shutdown`].
pub struct Scheduler<A: Actor> {
    shared: Arc<Shared<A>>,
    /// Each worker hands back its registry shard when it exits.
    threads: Vec<JoinHandle<Vec<ActorRef<A>>>>,
}

impl<A: Actor> Scheduler<A> {
    /// Starts the worker threads.
    ///
    /// Errors only if a thread cannot be spawned (the workers already started
    /// are stopped again).
    pub fn new(config: Config) -> io::Result<Scheduler<A>> {
        let count = match config.workers {
            0 => thread::available_parallelism().map_or(1, NonZeroUsize::get),
            n => n,
        };
        // FIFO local queues: an actor that yields goes behind the actors
        // already queued on its worker, so a worker round-robins over its
        // runnable actors and none can starve the others. (A LIFO queue
        // would favour the most recently woken actor: two actors waking each
        // other could then monopolise a worker.)
        let queues: Vec<Worker<ActorRef<A>>> = (0..count).map(|_| Worker::new_fifo()).collect();
        let shared = Arc::new(Shared {
            injector: Injector::new(),
            stealers: queues.iter().map(Worker::stealer).collect(),
            sleep: Sleep::new(config.idle_hook),
            tallies: (0..=count).map(|_| Tally::default()).collect(),
            halted: AtomicBool::new(false),
            in_run: (0..count).map(|_| InRun::default()).collect(),
            overloaded: (0..count).map(|_| InRun::default()).collect(),
            wake_peer_after: config.wake_peer_after,
        });
        let mut scheduler = Scheduler { shared: shared.clone(), threads: Vec::with_capacity(count) };
        for (index, queue) in queues.into_iter().enumerate() {
            let shared = shared.clone();
            let handle = thread::Builder::new()
                .name(format!("rco-worker-{index}"))
                .spawn(move || worker::run(WorkerLocal::new(index, queue, shared)))?;
            scheduler.threads.push(handle);
        }
        Ok(scheduler)
    }

    /// Spawns an actor from outside the workers (it goes to the global
    /// queue). Inside an actor, prefer [`Context::spawn`](crate::Context::spawn).
    pub fn spawn(&self, actor: A) -> ActorRef<A> {
        let actor = self.shared.new_actor(actor);
        self.shared.tallies[self.threads.len()].spawned();
        self.shared.inject(actor.clone());
        actor
    }

    /// Number of actors spawned and not yet done.
    pub fn live_actors(&self) -> usize {
        registry::live(&self.shared.tallies)
    }

    /// Stops running actors without shutting down: no run starts after
    /// this call, and it waits until `deadline` at most for the runs in
    /// progress to end (a run is bounded by its actor's budget, but may be
    /// stuck in a call). Returns whether they all ended. Queued and parked
    /// actors stay alive (shutdown drops them); wakes are then no-ops in
    /// effect. For a process that exits without dropping its actors.
    pub fn stop_runs(&self, deadline: Instant) -> bool {
        // SeqCst with the worker's store-then-load of `in_run` and `halted`
        // (see `run_actor`): either the worker sees `halted`, or this loop
        // sees its run.
        self.shared.halted.store(true, SeqCst);
        loop {
            if self.shared.in_run.iter().all(|flag| !flag.0.load(SeqCst)) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_micros(200));
        }
    }

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.threads.len()
    }

    /// Stops and joins the workers (each finishes the run slice it is in),
    /// then drops every actor still alive, parked or runnable. Returns how
    /// many actors were still alive.
    pub fn shutdown(mut self) -> usize {
        self.stop()
    }

    fn stop(&mut self) -> usize {
        self.shared.sleep.shutdown();
        let mut registered = Vec::new();
        for handle in self.threads.drain(..) {
            // A worker thread can only have died from a panicking idle hook;
            // the actors it registered are then dropped with their last
            // handle instead.
            if let Ok(shard) = handle.join() {
                registered.extend(shard);
            }
        }
        // Dropping each live actor (under its own lock only) breaks any cycle
        // of handles through it. Its destructor may wake other actors: they
        // land in the queues, which are emptied next, finishing the actors
        // found there (those that never parked are in no registry).
        let mut alive = registered.iter().filter(|actor| actor.finish()).count();
        drop(registered);
        for stealer in self.shared.stealers.iter() {
            alive += drain(|| stealer.steal());
        }
        alive += drain(|| self.shared.injector.steal());
        alive
    }

    /// A weak handle to the shared state, for tests that check teardown.
    #[cfg(test)]
    fn shared_weak(&self) -> std::sync::Weak<Shared<A>> {
        Arc::downgrade(&self.shared)
    }
}

/// Steals until the queue is empty, finishing (dropping) each actor;
/// returns how many were not finished before.
fn drain<A: Actor>(mut steal: impl FnMut() -> Steal<ActorRef<A>>) -> usize {
    let mut alive = 0;
    loop {
        match steal() {
            Steal::Success(actor) => alive += usize::from(actor.finish()),
            Steal::Empty => return alive,
            Steal::Retry => {}
        }
    }
}

impl<A: Actor> Drop for Scheduler<A> {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Context, FnActor, Poll};

    #[test]
    fn shutdown_frees_shared_state_even_with_self_referencing_actor() {
        let sched: Scheduler<FnActor> = Scheduler::new(Config { workers: 2, ..Config::default() }).expect("threads");
        assert_eq!(sched.workers(), 2);
        let weak = sched.shared_weak();
        // An actor that keeps its own handle: a cycle only shutdown breaks.
        let ran = crate::Completion::new();
        let signal = ran.clone();
        let mut me: Option<ActorRef<FnActor>> = None;
        sched.spawn(FnActor::new(move |cx: &mut Context<'_, FnActor>| {
            me.get_or_insert_with(|| cx.self_ref());
            signal.complete();
            Poll::Park
        }));
        ran.wait();
        assert_eq!(sched.shutdown(), 1);
        assert!(weak.upgrade().is_none(), "shared state leaked");
    }

    #[test]
    fn panicking_actor_is_retired_and_worker_survives() {
        let sched: Scheduler<FnActor> = Scheduler::new(Config { workers: 1, ..Config::default() }).expect("threads");
        sched.spawn(FnActor::new(|_| -> Poll { panic!("actor bug (expected by this test)") }));
        let done = crate::Completion::new();
        let signal = done.clone();
        sched.spawn(FnActor::new(move |_| {
            signal.complete();
            Poll::Done
        }));
        assert!(done.wait_timeout(std::time::Duration::from_secs(20)), "worker died");
        assert_eq!(sched.shutdown(), 0);
    }

    #[test]
    fn stop_runs_waits_for_runs_in_progress_and_starts_none() {
        let sched: Scheduler<FnActor> = Scheduler::new(Config { workers: 2, ..Config::default() }).expect("threads");
        let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for _ in 0..4 {
            let runs = runs.clone();
            sched.spawn(FnActor::new(move |_| {
                runs.fetch_add(1, SeqCst);
                thread::sleep(Duration::from_micros(100));
                Poll::Yield
            }));
        }
        while runs.load(SeqCst) < 20 {
            thread::yield_now();
        }
        assert!(sched.stop_runs(Instant::now() + Duration::from_secs(20)), "runs in progress did not end");
        let after = runs.load(SeqCst);
        thread::sleep(Duration::from_millis(20));
        assert_eq!(runs.load(SeqCst), after, "a run started after stop_runs");
        assert_eq!(sched.shutdown(), 4, "the stopped actors are still alive until shutdown");
    }

    #[test]
    fn default_config_uses_available_parallelism() {
        let sched: Scheduler<FnActor> = Scheduler::new(Config::default()).expect("threads");
        let cores = thread::available_parallelism().map_or(1, NonZeroUsize::get);
        assert_eq!(sched.workers(), cores);
        assert_eq!(sched.live_actors(), 0);
    }
}
