//! No starvation: actors that never finish (always `Yield`), or that keep
//! waking each other, do not stop other actors, spawned from outside or
//! from inside actors, from completing within a bounded time.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use common::scheduler;
use rco_actors::{ActorRef, Completion, FnActor, Poll, Scheduler};

/// Everything here should finish in milliseconds; a starved actor would
/// never finish at all.
const BOUND: Duration = Duration::from_secs(10);

/// Spawns `count` yield-forever actors; returns their shared run counter.
fn spawn_spinners(sched: &Scheduler<FnActor>, count: usize) -> Arc<AtomicU64> {
    let runs = Arc::new(AtomicU64::new(0));
    for _ in 0..count {
        let runs = runs.clone();
        sched.spawn(FnActor::new(move |_| {
            runs.fetch_add(1, SeqCst);
            Poll::Yield
        }));
    }
    runs
}

/// Spawns `count` short actors from outside, each of which also spawns one
/// child from inside; completes the returned latch when all `2 * count`
/// have finished.
fn spawn_short_work(sched: &Scheduler<FnActor>, count: usize) -> Completion {
    let done = Completion::new();
    let finished = Arc::new(AtomicUsize::new(0));
    let finish = move |finished: &AtomicUsize, done: &Completion| {
        if finished.fetch_add(1, SeqCst) + 1 == 2 * count {
            done.complete();
        }
    };
    for _ in 0..count {
        let (finished, done) = (finished.clone(), done.clone());
        let mut steps = 0;
        sched.spawn(FnActor::new(move |cx| {
            steps += 1;
            if steps == 1 {
                let (finished, done) = (finished.clone(), done.clone());
                cx.spawn(FnActor::new(move |_| {
                    finish(&finished, &done);
                    Poll::Done
                }));
            }
            if steps < 3 {
                return Poll::Yield; // a few slices, to go through the queues
            }
            finish(&finished, &done);
            Poll::Done
        }));
    }
    done
}

fn check_spinners_do_not_starve(workers: usize) {
    let sched = scheduler(workers);
    // As many spinners as workers: each worker may be hogged by one.
    let spinner_runs = spawn_spinners(&sched, sched.workers());
    assert!(common::wait_for(BOUND, || spinner_runs.load(SeqCst) > 1_000));
    let start = Instant::now();
    let done = spawn_short_work(&sched, 200);
    assert!(done.wait_timeout(BOUND), "short actors starved by yield-forever actors ({workers} workers)");
    assert!(start.elapsed() < BOUND);
    // After the short work is done, only the spinners are alive.
    let spinners = sched.workers();
    assert_eq!(sched.shutdown(), spinners);
}

#[test]
fn yield_forever_does_not_starve_others_single_worker() {
    check_spinners_do_not_starve(1);
}

#[test]
fn yield_forever_does_not_starve_others_all_workers() {
    check_spinners_do_not_starve(0);
}

/// Two actors that wake each other forever (each wake lands on the local
/// queue) must not monopolise a worker either.
#[test]
fn mutually_waking_actors_do_not_starve_others() {
    let sched: Scheduler<FnActor> = scheduler(1);
    let stop = Arc::new(AtomicBool::new(false));
    let wakes = Arc::new(AtomicU64::new(0));
    let refs: [Arc<OnceLock<ActorRef<FnActor>>>; 2] = Default::default();
    for i in 0..2 {
        let (stop, wakes, partner) = (stop.clone(), wakes.clone(), refs[1 - i].clone());
        let me = sched.spawn(FnActor::new(move |cx| {
            // Wake the partner (or ourselves until it exists), then park.
            match partner.get() {
                Some(p) => p.wake(),
                None => cx.self_ref().wake(),
            }
            if stop.load(SeqCst) {
                return Poll::Done; // the partner was woken to see `stop` too
            }
            wakes.fetch_add(1, SeqCst);
            Poll::Park
        }));
        refs[i].set(me).expect("set once");
    }
    assert!(common::wait_for(BOUND, || wakes.load(SeqCst) > 1_000));
    let done = spawn_short_work(&sched, 100);
    assert!(done.wait_timeout(BOUND), "starved by mutually waking actors");
    stop.store(true, SeqCst);
    assert!(common::wait_for(BOUND, || sched.live_actors() == 0));
    assert_eq!(sched.shutdown(), 0);
}
