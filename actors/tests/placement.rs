//! Where actors run (`Config::wake_peer_after`): actors that report little
//! work stay on the worker that spawned them, however many wait; a backlog
//! of real work is shared with an idle peer; and actors that report nothing
//! are shared as soon as work waits behind one of them.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::Duration;

use common::PATIENCE;
use rco_actors::{Completion, Config, Context, FnActor, Poll, Scheduler};

/// Spawns, from one actor, `count` children that each record the thread
/// they ran on, report `work` units (if any) and, with `busy`, keep their
/// worker busy that long; returns the threads the children ran on.
fn children_threads(wake_peer_after: u64, count: usize, work: Option<u64>, busy: Duration) -> HashSet<ThreadId> {
    let sched: Scheduler<FnActor> =
        Scheduler::new(Config { workers: 2, wake_peer_after, ..Config::default() }).expect("worker threads");
    let threads = Arc::new(Mutex::new(Vec::new()));
    let done = Completion::new();
    let (spawner_threads, spawner_done) = (threads.clone(), done.clone());
    sched.spawn(FnActor::new(move |cx: &mut Context<'_, FnActor>| {
        let left = Arc::new(Mutex::new(count));
        for _ in 0..count {
            let (threads, left, done) = (spawner_threads.clone(), left.clone(), spawner_done.clone());
            cx.spawn(FnActor::new(move |cx: &mut Context<'_, FnActor>| {
                threads.lock().expect("threads").push(thread::current().id());
                thread::sleep(busy);
                if let Some(units) = work {
                    cx.report_work(units);
                }
                let mut left = left.lock().expect("count");
                *left -= 1;
                if *left == 0 {
                    done.complete();
                }
                Poll::Done
            }));
        }
        cx.report_work(1);
        Poll::Done
    }));
    assert!(done.wait_timeout(PATIENCE), "children did not all run");
    assert_eq!(sched.shutdown(), 0);
    let threads = threads.lock().expect("threads");
    assert_eq!(threads.len(), count);
    threads.iter().copied().collect()
}

#[test]
fn tiny_actors_stay_on_the_worker_that_spawned_them() {
    // 1,000 units of work in all, under the threshold: no peer is woken.
    let threads = children_threads(10_000, 1_000, Some(1), Duration::ZERO);
    assert_eq!(threads.len(), 1, "a tiny actor crossed to the other worker");
}

#[test]
fn a_backlog_of_real_work_is_shared() {
    // After two children (2,000 units) six still wait: a peer steals.
    let threads = children_threads(1_500, 8, Some(1_000), Duration::from_millis(20));
    assert_eq!(threads.len(), 2, "the idle worker never helped");
}

#[test]
fn actors_that_report_no_work_are_shared_at_once() {
    let threads = children_threads(1_500, 8, None, Duration::from_millis(20));
    assert_eq!(threads.len(), 2, "the idle worker never helped");
}
