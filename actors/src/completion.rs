//! [`Completion`]: a one-shot latch that lets a plain thread (typically the
//! program's main thread) block until some actor signals it.
//!
//! Invariant: once completed it stays completed; every waiter, present or
//! future, returns.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// A cloneable one-shot latch: [`complete`](Completion::complete) once,
/// [`wait`](Completion::wait) from any number of threads.
///
/// Typical use: the glue's main actor holds a clone and completes it when it
/// returns [`Poll::Done`](crate::Poll::Done) (or in its `Drop`, so that a
/// panicking actor releases the waiter too); the main thread waits on it and
/// then shuts the scheduler down.
#[derive(Clone, Default)]
pub struct Completion {
    inner: Arc<(Mutex<bool>, Condvar)>,
}

impl Completion {
    /// A latch that is not completed yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Completes the latch and releases all waiters. Idempotent.
    pub fn complete(&self) {
        *self.lock() = true;
        self.inner.1.notify_all();
    }

    /// Whether [`complete`](Completion::complete) has been called.
    pub fn is_complete(&self) -> bool {
        *self.lock()
    }

    /// Blocks the calling thread until the latch is completed.
    pub fn wait(&self) {
        let mut done = self.lock();
        while !*done {
            done = self.inner.1.wait(done).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Blocks until the latch is completed or `timeout` has passed; returns
    /// whether it was completed.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut done = self.lock();
        while !*done {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            done = self.inner.1.wait_timeout(done, left).unwrap_or_else(PoisonError::into_inner).0;
        }
        true
    }

    /// The guarded value is a plain `bool`, always consistent, so a poisoned
    /// lock is recovered rather than propagated.
    fn lock(&self) -> MutexGuard<'_, bool> {
        self.inner.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    #[test]
    fn wait_returns_after_complete_from_another_thread() {
        let c = Completion::new();
        assert!(!c.is_complete());
        assert!(!c.wait_timeout(Duration::from_millis(10)));
        let c2 = c.clone();
        let t = thread::spawn(move || c2.complete());
        c.wait();
        assert!(c.is_complete());
        assert!(c.wait_timeout(Duration::ZERO));
        t.join().expect("completer thread");
    }
}
