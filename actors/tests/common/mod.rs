//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::thread;
use std::time::{Duration, Instant};

use rco_actors::{Actor, Config, Scheduler};

/// Generous upper bound for anything that should take milliseconds: only
/// reached when something is lost or starved.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub fn scheduler<A: Actor>(workers: usize) -> Scheduler<A> {
    Scheduler::new(Config { workers, ..Config::default() }).expect("spawn worker threads")
}

/// Polls `cond` until it holds or `timeout` passes; returns whether it held.
pub fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while !cond() {
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_micros(200));
    }
    true
}

/// A tiny deterministic PRNG (xorshift64*), to avoid a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }
}
