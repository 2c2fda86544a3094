//! The reactor: one event loop that owns every timer (and, with the socket
//! issue, every socket), built on `polling` (epoll on Linux, kqueue on BSD
//! and macOS).
//!
//! It knows nothing of the language or of actors: requests arrive through a
//! `ReactorHandle` and are answered by running the callback given with
//! them (the glue's callbacks post a message to the requesting actor).
//!
//! Invariants: the loop never blocks on anything but `Poller::wait`; every
//! request is registered before the loop is notified, so a request made
//! while the loop sleeps wakes it (no lost wake-up); callbacks run on the
//! reactor thread outside every lock.

pub mod timer;

use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use timer::{Callback, Timers};

struct Shared {
    poller: polling::Poller,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    timers: Timers,
    stopping: bool,
}

/// A cheap, cloneable handle for making requests to the reactor.
#[derive(Clone)]
pub struct ReactorHandle {
    shared: Arc<Shared>,
}

/// The running reactor; dropping it stops and joins its thread.
pub struct Reactor {
    handle: ReactorHandle,
    thread: Option<JoinHandle<()>>,
}

impl Reactor {
    /// Starts the reactor on a thread of its own.
    pub fn start() -> io::Result<Reactor> {
        let shared = Arc::new(Shared { poller: polling::Poller::new()?, state: Mutex::new(State::default()) });
        let looped = shared.clone();
        let thread = std::thread::Builder::new().name("rco-reactor".into()).spawn(move || event_loop(&looped))?;
        Ok(Reactor { handle: ReactorHandle { shared }, thread: Some(thread) })
    }

    /// A handle for making requests.
    pub fn handle(&self) -> ReactorHandle {
        self.handle.clone()
    }
}

impl Drop for Reactor {
    fn drop(&mut self) {
        self.handle.lock().stopping = true;
        let _ = self.handle.shared.poller.notify();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl ReactorHandle {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Critical sections only push to or pop from the timer heap, which
        // cannot be left half-updated; recover from poisoning.
        self.shared.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `callback` on the reactor thread once `delay` has passed.
    pub fn after(&self, delay: Duration, callback: Callback) {
        let deadline = Instant::now() + delay;
        self.lock().timers.insert(deadline, callback);
        // Wake the loop so it recomputes its timeout.
        let _ = self.shared.poller.notify();
    }

    /// Number of timers not yet fired.
    pub fn pending_timers(&self) -> usize {
        self.lock().timers.len()
    }
}

fn event_loop(shared: &Shared) {
    let mut events = polling::Events::new();
    loop {
        let timeout = {
            let state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
            if state.stopping {
                return;
            }
            state.timers.timeout(Instant::now())
        };
        events.clear();
        // An error here (EINTR) only shortens the wait; the loop re-checks.
        let _ = shared.poller.wait(&mut events, timeout);
        let due = shared.state.lock().unwrap_or_else(PoisonError::into_inner).timers.expire(Instant::now());
        for callback in due {
            callback();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn timers_fire_in_order_and_wake_a_sleeping_loop() {
        let reactor = Reactor::start().expect("reactor");
        let (tx, rx) = mpsc::channel();
        let h = reactor.handle();
        let start = Instant::now();
        for ms in [50u64, 10, 30] {
            let tx = tx.clone();
            h.after(Duration::from_millis(ms), Box::new(move || tx.send(ms).expect("receiver alive")));
        }
        let got: Vec<u64> = (0..3).map(|_| rx.recv_timeout(Duration::from_secs(5)).expect("fired")).collect();
        assert_eq!(got, vec![10, 30, 50]);
        assert!(start.elapsed() >= Duration::from_millis(50));
        assert_eq!(h.pending_timers(), 0);
    }
}
