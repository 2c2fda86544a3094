//! Park/unpark: wakes are never lost, never duplicated, and an actor never
//! runs on two workers at once.
//!
//! The stress test has external threads and the actors themselves wake
//! random actors concurrently, including while the target is running. Each
//! waker bumps the target's `requested` counter before waking it, and each
//! run records the counter value it saw; a wake is honoured if some run
//! started after it, i.e. observed a value at least as large. The two
//! deterministic tests pin down the "wake while queued" and "wake while
//! running" cases exactly.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{scheduler, wait_for, Rng, PATIENCE};
use rco_actors::{ActorRef, Completion, FnActor, Poll, Scheduler};

#[derive(Default)]
struct Probe {
    /// Bumped by a waker before each wake.
    requested: AtomicU64,
    /// The largest `requested` value a run has seen at its start.
    observed: AtomicU64,
    runs: AtomicU64,
    in_run: AtomicBool,
    overlaps: AtomicU64,
}

impl Probe {
    /// Requests a wake; returns the request number to wait for.
    fn request(&self, actor: &ActorRef<FnActor>) -> u64 {
        let n = self.requested.fetch_add(1, SeqCst) + 1;
        actor.wake();
        n
    }

    fn enter(&self) {
        if self.in_run.swap(true, SeqCst) {
            self.overlaps.fetch_add(1, SeqCst);
        }
        self.runs.fetch_add(1, SeqCst);
        self.observed.fetch_max(self.requested.load(SeqCst), SeqCst);
    }

    fn leave(&self) {
        self.in_run.store(false, SeqCst);
    }
}

const ACTORS: usize = 64;
const WAKER_THREADS: usize = 3;
const WAKES_PER_THREAD: usize = 50_000;

#[test]
fn concurrent_wakes_are_exact() {
    let sched: Scheduler<FnActor> = scheduler(0);
    let probes: Arc<Vec<Probe>> = Arc::new((0..ACTORS).map(|_| Probe::default()).collect());
    let refs: Arc<std::sync::OnceLock<Vec<ActorRef<FnActor>>>> = Arc::default();
    // Yields and wakes made by the actors themselves, to bound the runs.
    let extra = Arc::new(AtomicU64::new(0));

    let actors: Vec<ActorRef<FnActor>> = (0..ACTORS)
        .map(|i| {
            let (probes, refs, extra) = (probes.clone(), refs.clone(), extra.clone());
            let mut rng = Rng::new(i as u64 + 1);
            sched.spawn(FnActor::new(move |_| {
                let me = &probes[i];
                me.enter();
                // Stay running a little, so that wakes race with the run.
                for _ in 0..rng.below(200) {
                    std::hint::spin_loop();
                }
                let roll = rng.below(8);
                if roll == 0 {
                    if let Some(refs) = refs.get() {
                        // Wake a random actor (maybe ourselves) from a worker.
                        let target = rng.below(ACTORS);
                        probes[target].request(&refs[target]);
                        extra.fetch_add(1, SeqCst);
                    }
                }
                me.leave();
                if roll == 1 {
                    extra.fetch_add(1, SeqCst);
                    Poll::Yield
                } else {
                    Poll::Park
                }
            }))
        })
        .collect();
    refs.set(actors.clone()).expect("set once");

    let wakers: Vec<_> = (0..WAKER_THREADS)
        .map(|t| {
            let (probes, actors) = (probes.clone(), actors.clone());
            thread::spawn(move || {
                let mut rng = Rng::new(1000 + t as u64);
                for n in 0..WAKES_PER_THREAD {
                    let i = rng.below(ACTORS);
                    let wanted = probes[i].request(&actors[i]);
                    // Now and then, wait for the wake to be honoured: a lost
                    // wake would leave the actor parked, failing here.
                    if n % 64 == 0 {
                        let honoured = wait_for(PATIENCE, || probes[i].observed.load(SeqCst) >= wanted);
                        assert!(honoured, "wake {wanted} of actor {i} was lost");
                    }
                }
            })
        })
        .collect();
    for waker in wakers {
        waker.join().expect("waker thread");
    }

    // Every wake, including the last one, is followed by a run.
    for (i, probe) in probes.iter().enumerate() {
        let wanted = probe.requested.load(SeqCst);
        assert!(wait_for(PATIENCE, || probe.observed.load(SeqCst) >= wanted), "last wake of actor {i} was lost");
    }
    // Each run has a distinct cause that happened before it: its spawn, a
    // wake request, or a `Yield`. Reading the runs first makes the bound
    // valid even while actor-to-actor wakes are still in flight.
    let runs: u64 = probes.iter().map(|p| p.runs.load(SeqCst)).sum();
    let wakes: u64 = probes.iter().map(|p| p.requested.load(SeqCst)).sum();
    let bound = ACTORS as u64 + wakes + extra.load(SeqCst);
    assert!(runs <= bound, "{runs} runs for at most {bound} allowed");
    let overlaps: u64 = probes.iter().map(|p| p.overlaps.load(SeqCst)).sum();
    assert_eq!(overlaps, 0, "an actor ran on two workers at once");
    assert_eq!(sched.shutdown(), ACTORS);
}

/// Waking a queued actor many times queues it once: it runs exactly once.
#[test]
fn wakes_while_queued_run_once() {
    let sched: Scheduler<FnActor> = scheduler(1);
    let probe = Arc::new(Probe::default());
    let p = probe.clone();
    let target = sched.spawn(FnActor::new(move |_| {
        p.enter();
        p.leave();
        Poll::Park
    }));
    assert!(wait_for(PATIENCE, || format!("{target:?}").contains("parked")));

    // Occupy the only worker, so that the woken target stays queued.
    let release = Arc::new(AtomicBool::new(false));
    let blocker_running = Completion::new();
    let (r, b) = (release.clone(), blocker_running.clone());
    sched.spawn(FnActor::new(move |_| {
        b.complete();
        while !r.load(SeqCst) {
            thread::yield_now();
        }
        Poll::Done
    }));
    assert!(blocker_running.wait_timeout(PATIENCE));
    for _ in 0..100 {
        target.wake(); // the first queues it, the others find it queued
    }
    release.store(true, SeqCst);
    assert!(wait_for(PATIENCE, || probe.runs.load(SeqCst) == 2));
    thread::sleep(Duration::from_millis(50));
    assert_eq!(probe.runs.load(SeqCst), 2, "wakes while queued ran it again");
    assert_eq!(sched.shutdown(), 1);
}

/// Waking a running actor many times runs it exactly once more after it
/// parks.
#[test]
fn wakes_while_running_rerun_once() {
    let sched: Scheduler<FnActor> = scheduler(2);
    let probe = Arc::new(Probe::default());
    let running = Completion::new();
    let release = Arc::new(AtomicBool::new(false));
    let (p, s, r) = (probe.clone(), running.clone(), release.clone());
    let target = sched.spawn(FnActor::new(move |_| {
        p.enter();
        if p.runs.load(SeqCst) == 1 {
            s.complete();
            let deadline = Instant::now() + PATIENCE;
            while !r.load(SeqCst) && Instant::now() < deadline {
                thread::yield_now();
            }
        }
        p.leave();
        Poll::Park
    }));
    assert!(running.wait_timeout(PATIENCE));
    for _ in 0..100 {
        target.wake(); // all during the run: coalesced into one re-run
    }
    release.store(true, SeqCst);
    assert!(wait_for(PATIENCE, || probe.runs.load(SeqCst) == 2));
    thread::sleep(Duration::from_millis(50));
    assert_eq!(probe.runs.load(SeqCst), 2, "wakes during a run were not coalesced");
    assert_eq!(sched.shutdown(), 1);
}
