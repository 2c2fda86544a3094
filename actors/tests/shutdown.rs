//! Shutdown with live actors: the workers are joined promptly, the number of
//! actors still alive is reported, and every one of them is dropped, even
//! parked actors that hold each other's (or their own) handles.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{scheduler, wait_for, PATIENCE};
use rco_actors::{ActorRef, FnActor, Poll, Scheduler};

/// Counts drops of the actor that owns it.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

const PARKED: usize = 1_000;
const PAIRS: usize = 100;
const SPINNERS: usize = 4;

/// Spawns parked actors (some in handle cycles) and yield-forever actors;
/// returns how many were spawned once all of them have run at least once.
fn populate(sched: &Scheduler<FnActor>, drops: &Arc<AtomicUsize>, first_runs: &Arc<AtomicUsize>) -> usize {
    // Plain parked actors, each keeping its own handle (a self-cycle).
    for _ in 0..PARKED {
        let (guard, ran) = (DropCounter(drops.clone()), first_runs.clone());
        let mut me: Option<ActorRef<FnActor>> = None;
        sched.spawn(FnActor::new(move |cx| {
            let _ = &guard;
            if me.is_none() {
                me = Some(cx.self_ref());
                ran.fetch_add(1, SeqCst);
            }
            Poll::Park
        }));
    }
    // Pairs holding each other's handles (a two-actor cycle).
    for _ in 0..PAIRS {
        let peers: [Arc<Mutex<Option<ActorRef<FnActor>>>>; 2] = Default::default();
        for i in 0..2 {
            let (guard, ran) = (DropCounter(drops.clone()), first_runs.clone());
            let theirs = peers[1 - i].clone();
            let mut peer: Option<ActorRef<FnActor>> = None;
            let me = sched.spawn(FnActor::new(move |cx| {
                let _ = &guard;
                while cx.recv().is_some() {}
                if peer.is_none() {
                    peer = theirs.lock().expect("test lock").clone();
                    if peer.is_some() {
                        ran.fetch_add(1, SeqCst);
                    }
                }
                Poll::Park
            }));
            *peers[i].lock().expect("test lock") = Some(me);
        }
        // Both handles exist now: a message makes each actor pick its peer.
        for slot in &peers {
            let actor = slot.lock().expect("test lock").clone();
            actor.expect("spawned").send(()).expect("alive");
        }
    }
    // Runnable forever, never parked (so in no registry, only in queues),
    // each keeping its own handle.
    for _ in 0..SPINNERS {
        let (guard, ran) = (DropCounter(drops.clone()), first_runs.clone());
        let mut me: Option<ActorRef<FnActor>> = None;
        sched.spawn(FnActor::new(move |cx| {
            let _ = &guard;
            if me.is_none() {
                me = Some(cx.self_ref());
                ran.fetch_add(1, SeqCst);
            }
            Poll::Yield
        }));
    }
    let total = PARKED + 2 * PAIRS + SPINNERS;
    assert!(wait_for(PATIENCE, || first_runs.load(SeqCst) == total));
    total
}

#[test]
fn shutdown_joins_promptly_and_drops_live_actors() {
    let sched: Scheduler<FnActor> = scheduler(0);
    let (drops, first_runs) = Default::default();
    let total = populate(&sched, &drops, &first_runs);
    assert_eq!(sched.live_actors(), total);
    let start = Instant::now();
    assert_eq!(sched.shutdown(), total);
    assert!(start.elapsed() < Duration::from_secs(2), "slow shutdown: {:?}", start.elapsed());
    assert_eq!(drops.load(SeqCst), total, "every live actor is dropped");
}

#[test]
fn dropping_the_scheduler_shuts_it_down() {
    let sched: Scheduler<FnActor> = scheduler(2);
    let (drops, first_runs) = Default::default();
    let total = populate(&sched, &drops, &first_runs);
    drop(sched);
    assert_eq!(drops.load(SeqCst), total);
}

/// Actors still queued (never run) at shutdown are dropped too, and woken
/// handles that outlive the scheduler are harmless.
#[test]
fn shutdown_drops_queued_actors_and_later_wakes_are_noops() {
    let sched: Scheduler<FnActor> = scheduler(1);
    let drops = Arc::new(AtomicUsize::new(0));
    let completed = Arc::new(AtomicUsize::new(0));
    const QUEUED: usize = 10_000;
    let refs: Vec<ActorRef<FnActor>> = (0..QUEUED)
        .map(|_| {
            let (guard, completed) = (DropCounter(drops.clone()), completed.clone());
            let mut slices = 0;
            sched.spawn(FnActor::new(move |_| {
                let _ = &guard;
                slices += 1;
                if slices < 10 {
                    return Poll::Yield;
                }
                completed.fetch_add(1, SeqCst);
                Poll::Done
            }))
        })
        .collect();
    let alive = sched.shutdown();
    assert_eq!(alive + completed.load(SeqCst), QUEUED);
    assert_eq!(drops.load(SeqCst), QUEUED);
    for actor in &refs {
        actor.wake();
    }
    assert!(format!("{:?}", refs[0]).contains("done"));
}
