//! The idle hook: an idle worker polls a (fake) reactor instead of parking;
//! work woken from outside interrupts the poll and runs promptly; "I/O"
//! completing inside the poll wakes actors; busy workers still poll without
//! blocking; at most one worker polls at a time; shutdown interrupts a
//! blocking poll.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use common::{wait_for, PATIENCE};
use rco_actors::{ActorRef, Config, FnActor, IdleHook, Poll, Scheduler};

/// A fake reactor. `poll(None)` blocks until "I/O" is ready or it is
/// interrupted; readiness wakes the registered actors from inside `poll`,
/// as a real reactor would.
#[derive(Default)]
struct FakeReactor {
    state: Mutex<ReactorState>,
    signal: Condvar,
    blocking_polls: AtomicUsize,
    nonblocking_polls: AtomicUsize,
    interrupts: AtomicUsize,
    in_poll: AtomicUsize,
    max_in_poll: AtomicUsize,
}

#[derive(Default)]
struct ReactorState {
    /// Sticky, like an eventfd: set by `interrupt`, cleared by `poll`.
    interrupted: bool,
    /// Actors whose "I/O" is ready.
    ready: Vec<ActorRef<FnActor>>,
}

impl FakeReactor {
    /// Simulates I/O readiness for `actor` (e.g. a socket became readable).
    fn complete_io(&self, actor: ActorRef<FnActor>) {
        self.lock().ready.push(actor);
        self.signal.notify_all();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ReactorState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a worker is currently blocked in `poll(None)`.
    fn blocked_in_poll(&self) -> bool {
        self.in_poll.load(SeqCst) == 1 && self.blocking_polls.load(SeqCst) > 0
    }
}

impl IdleHook for FakeReactor {
    fn poll(&self, timeout: Option<Duration>) {
        let inside = self.in_poll.fetch_add(1, SeqCst) + 1;
        self.max_in_poll.fetch_max(inside, SeqCst);
        let counter = match timeout {
            None => &self.blocking_polls,
            Some(_) => &self.nonblocking_polls,
        };
        counter.fetch_add(1, SeqCst);
        let ready = {
            let mut state = self.lock();
            while timeout.is_none() && !state.interrupted && state.ready.is_empty() {
                state = self.signal.wait(state).unwrap_or_else(PoisonError::into_inner);
            }
            state.interrupted = false;
            std::mem::take(&mut state.ready)
        };
        self.in_poll.fetch_sub(1, SeqCst);
        for actor in ready {
            actor.wake();
        }
    }

    fn interrupt(&self) {
        self.interrupts.fetch_add(1, SeqCst);
        self.lock().interrupted = true;
        self.signal.notify_all();
    }
}

fn scheduler_with(reactor: &Arc<FakeReactor>, workers: usize) -> Scheduler<FnActor> {
    Scheduler::new(Config { workers, idle_hook: Some(reactor.clone()), ..Config::default() })
        .expect("spawn worker threads")
}

/// Spawns an actor that parks after every run; returns it and its run count.
fn spawn_parker(sched: &Scheduler<FnActor>) -> (ActorRef<FnActor>, Arc<AtomicUsize>) {
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let actor = sched.spawn(FnActor::new(move |_| {
        r.fetch_add(1, SeqCst);
        Poll::Park
    }));
    (actor, runs)
}

/// Generous bound for "promptly" (the work should run in microseconds).
const PROMPT: Duration = Duration::from_secs(2);

#[test]
fn idle_worker_polls_and_external_wake_interrupts_it() {
    let reactor = Arc::new(FakeReactor::default());
    let sched = scheduler_with(&reactor, 1);
    let (actor, runs) = spawn_parker(&sched);
    assert!(wait_for(PATIENCE, || runs.load(SeqCst) == 1));
    // With nothing to do, the only worker blocks in the hook, not on a condvar.
    assert!(wait_for(PATIENCE, || reactor.blocked_in_poll()));

    let start = Instant::now();
    actor.wake();
    assert!(wait_for(PROMPT, || runs.load(SeqCst) == 2), "woken work delayed");
    assert!(start.elapsed() < PROMPT);
    assert!(reactor.interrupts.load(SeqCst) >= 1, "the poll was not interrupted");
    assert_eq!(sched.shutdown(), 1);
}

#[test]
fn io_completing_inside_poll_wakes_actor_without_self_interrupt() {
    let reactor = Arc::new(FakeReactor::default());
    let sched = scheduler_with(&reactor, 1);
    let (actor, runs) = spawn_parker(&sched);
    assert!(wait_for(PATIENCE, || runs.load(SeqCst) == 1));
    // (The spawn itself may have interrupted the first poll.)
    let interrupts_before = reactor.interrupts.load(SeqCst);
    for round in 2..=20 {
        assert!(wait_for(PATIENCE, || reactor.blocked_in_poll()));
        reactor.complete_io(actor.clone());
        assert!(wait_for(PROMPT, || runs.load(SeqCst) == round), "I/O wake delayed");
    }
    // Wakes made by the poll itself never interrupt it (it returns anyway).
    assert_eq!(reactor.interrupts.load(SeqCst), interrupts_before);
    assert_eq!(sched.shutdown(), 1);
}

#[test]
fn busy_workers_still_poll_io_without_blocking() {
    let reactor = Arc::new(FakeReactor::default());
    let sched = scheduler_with(&reactor, 1);
    // Keeps the only worker busy forever: it never goes idle.
    sched.spawn(FnActor::new(|_| Poll::Yield));
    let (actor, runs) = spawn_parker(&sched);
    assert!(wait_for(PATIENCE, || runs.load(SeqCst) == 1));
    // (The worker may have blocked in the hook before the spawns.)
    let blocking_before = reactor.blocking_polls.load(SeqCst);
    reactor.complete_io(actor);
    assert!(wait_for(PROMPT, || runs.load(SeqCst) == 2), "I/O starved by a busy worker");
    assert!(reactor.nonblocking_polls.load(SeqCst) > 0);
    assert_eq!(reactor.blocking_polls.load(SeqCst), blocking_before);
    assert_eq!(sched.shutdown(), 2);
}

#[test]
fn at_most_one_worker_polls_and_all_wakes_run() {
    let reactor = Arc::new(FakeReactor::default());
    let sched = scheduler_with(&reactor, 4);
    let actors: Vec<_> = (0..32).map(|_| spawn_parker(&sched)).collect();
    assert!(wait_for(PATIENCE, || actors.iter().all(|(_, r)| r.load(SeqCst) == 1)));
    let rounds = 200;
    for round in 0..rounds {
        for (i, (actor, _)) in actors.iter().enumerate() {
            // Alternate external wakes and "I/O" wakes from inside the poll.
            if (i + round) % 2 == 0 {
                actor.wake();
            } else {
                reactor.complete_io(actor.clone());
            }
        }
        let target = round + 2;
        let all_ran = wait_for(PROMPT, || actors.iter().all(|(_, r)| r.load(SeqCst) >= target));
        assert!(all_ran, "round {round}: some wake was not run");
        // Spread the rounds out so that workers go idle in between.
        if round % 20 == 0 {
            thread::sleep(Duration::from_millis(2));
        }
    }
    assert_eq!(reactor.max_in_poll.load(SeqCst), 1, "two workers polled at once");
    assert!(reactor.blocking_polls.load(SeqCst) > 0);
    assert_eq!(sched.shutdown(), actors.len());
}

#[test]
fn shutdown_interrupts_a_blocking_poll() {
    let reactor = Arc::new(FakeReactor::default());
    let sched = scheduler_with(&reactor, 2);
    assert!(wait_for(PATIENCE, || reactor.blocked_in_poll()));
    let start = Instant::now();
    assert_eq!(sched.shutdown(), 0);
    assert!(start.elapsed() < PROMPT, "shutdown waited for the poll");
    assert!(reactor.interrupts.load(SeqCst) >= 1);
}
