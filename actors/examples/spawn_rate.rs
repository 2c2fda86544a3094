//! Rough cost check: time per spawn+complete and memory per parked actor.
//!
//! `cargo run -p rco-actors --release --example spawn_rate [COUNT]`

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rco_actors::{Config, FnActor, Poll, Scheduler};

/// Resident memory of this process in bytes (Linux only; 0 elsewhere).
fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn main() {
    let count: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let sched: Scheduler<FnActor> = Scheduler::new(Config::default()).expect("worker threads");

    // Spawn + complete, from inside an actor (the Ricochet `spawn` path).
    // The children capture nothing (no allocation for their closure, no
    // shared counter), so this measures the scheduler's own cost.
    let start = Instant::now();
    sched.spawn(FnActor::new(move |cx| {
        for _ in 0..count {
            cx.spawn(FnActor::new(|_| Poll::Done));
        }
        Poll::Done
    }));
    while sched.live_actors() > 0 {
        std::thread::sleep(Duration::from_micros(50));
    }
    let elapsed = start.elapsed();
    println!(
        "spawn+complete: {count} actors in {elapsed:?} = {:.0} ns/actor",
        elapsed.as_nanos() as f64 / count as f64
    );

    // Parked actors: memory per actor (a minimal actor; the glue adds its VM).
    let before = rss_bytes();
    let parked = Arc::new(AtomicUsize::new(0));
    for _ in 0..count {
        let p = parked.clone();
        sched.spawn(FnActor::new(move |_| {
            p.fetch_add(1, Ordering::Relaxed);
            Poll::Park
        }));
    }
    while parked.load(Ordering::Relaxed) < count {
        std::thread::yield_now();
    }
    let per_actor = rss_bytes().saturating_sub(before) / count;
    println!("parked: {count} actors, ~{per_actor} bytes/actor (RSS delta)");
    let start = Instant::now();
    let alive = sched.shutdown();
    println!("shutdown dropped {alive} live actors in {:?}", start.elapsed());
}
