//! Parking idle workers and waking them without lost wake-ups, plus the
//! optional [`IdleHook`] through which one idle worker polls an I/O reactor
//! instead of parking.
//!
//! # Protocol
//!
//! Shared state: an atomic `idle` counter (workers between "announced idle"
//! and "back to searching"), and under one mutex an `epoch` (bumped by every
//! notification that found an idle worker), the number of `sleepers` blocked
//! on the condvar, the number of `tokens` granted to them, and whether a
//! worker is inside a blocking [`IdleHook::poll`].
//!
//! An idle worker (see [`Sleep::idle`]):
//! 1. `idle += 1`, then a SeqCst fence;
//! 2. reads `epoch` under the lock;
//! 3. searches all queues once more; if it finds work it leaves;
//! 4. locks again: if `epoch` changed it leaves (someone pushed work since
//!    step 2); otherwise it either takes the poll right and blocks in
//!    `hook.poll(None)`, or becomes a sleeper and waits on the condvar until
//!    it is granted a token (or shutdown).
//!
//! A notifier (see [`Sleep::notify`], called after every push):
//! 1. SeqCst fence, then reads `idle`: if 0, returns (the common, lock-free
//!    path while all workers are busy);
//! 2. otherwise, under the lock: `epoch += 1`; if some sleeper has no token
//!    yet, grants one and `notify_one`s; else, if a worker is blocked in the
//!    hook's poll, calls [`IdleHook::interrupt`] (once per poll).
//!
//! # Why no wake-up is lost
//!
//! Take a push P followed by its notify N, and a worker W going idle.
//! * If N reads `idle == 0`, then by the two SeqCst fences W's increment is
//!   ordered after N's fence, so W's re-search (step 3, after W's fence) sees
//!   P's push and W runs the work.
//! * Otherwise N takes the lock. If N's critical section comes before W's
//!   step 2, W's step-2 lock acquisition happens after P, so W's re-search
//!   sees P. If it falls between W's steps 2 and 4, W sees the bumped epoch
//!   at step 4 and goes back to searching. If it comes after W's step 4, W is
//!   either a sleeper or the blocking poller. A sleeper: N grants a token if
//!   some sleeper lacks one; otherwise at least one token is outstanding,
//!   and it is consumed after N (under the lock), so some worker wakes and
//!   searches after P either way. The poller: N interrupts it
//!   (interrupts are sticky, so it does not matter whether `poll` has
//!   started blocking yet), unless N runs inside that very poll, which
//!   returns by itself after dispatching.
//!
//! A worker leaves the condvar only by consuming a token (spurious wake-ups
//! loop), so `sleepers` and `tokens` stay exact. A sleeper stays asleep while
//! another worker holds the poll right; whenever the poll right is released,
//! a tokenless sleeper is woken so that it can take over polling (otherwise
//! nobody would poll the reactor while every worker sleeps).

use std::cell::Cell;
use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Lets an idle worker poll an I/O reactor instead of parking, so the reactor
/// needs no thread of its own.
///
/// At most one worker at a time calls [`poll`](IdleHook::poll). An idle
/// worker calls `poll(None)`; a busy worker periodically calls
/// `poll(Some(Duration::ZERO))` so that I/O is not starved while all workers
/// are busy.
pub trait IdleHook: Send + Sync + 'static {
    /// Waits for I/O (and the reactor's own timers), wakes the actors whose
    /// events are ready (via [`ActorRef::wake`](crate::ActorRef::wake)), and
    /// returns. `None`: block until some event or
    /// [`interrupt`](IdleHook::interrupt); `Some(d)`: block at most `d`
    /// (the scheduler only passes `Duration::ZERO`). Must return once it has
    /// woken actors (they run on this worker after it returns) and must not
    /// panic.
    fn poll(&self, timeout: Option<Duration>);

    /// Makes the current `poll`, or the next one if none is in progress,
    /// return promptly (a sticky flag, like an eventfd). Called from any
    /// thread when work arrives while a worker blocks in `poll`; must not
    /// block.
    fn interrupt(&self);
}

thread_local! {
    /// Whether the current thread is inside `IdleHook::poll`: wakes made by
    /// the poll itself need not interrupt it, it returns after dispatching.
    static IN_POLL: Cell<bool> = const { Cell::new(false) };
}

pub(crate) struct Sleep {
    idle: AtomicUsize,
    state: Mutex<State>,
    wakeup: Condvar,
    hook: Option<Arc<dyn IdleHook>>,
    /// The right to call `hook.poll`, held by at most one worker.
    poll_right: AtomicBool,
    shutdown: AtomicBool,
}

#[derive(Default)]
struct State {
    epoch: u64,
    sleepers: usize,
    tokens: usize,
    /// A worker is in (or about to enter) `hook.poll(None)`.
    blocking_poll: bool,
    /// `interrupt()` was already sent for the current blocking poll.
    interrupted: bool,
}

impl Sleep {
    pub(crate) fn new(hook: Option<Arc<dyn IdleHook>>) -> Self {
        Sleep {
            idle: AtomicUsize::new(0),
            state: Mutex::default(),
            wakeup: Condvar::new(),
            hook,
            poll_right: AtomicBool::new(false),
            shutdown: AtomicBool::new(false),
        }
    }

    /// No user code runs under this lock and every critical section keeps
    /// the counters consistent, so a poisoned lock is recovered.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(SeqCst)
    }

    /// Called by a worker that found no task. Re-runs `search` once after
    /// announcing itself idle; if that finds nothing, sleeps (or polls the
    /// hook) until notified or shut down, and returns `None` so the caller
    /// searches again.
    pub(crate) fn idle<T>(&self, search: impl FnOnce() -> Option<T>) -> Option<T> {
        self.idle.fetch_add(1, SeqCst);
        fence(SeqCst);
        let epoch = self.lock().epoch;
        let found = search();
        if found.is_none() {
            self.wait(epoch);
        }
        self.idle.fetch_sub(1, SeqCst);
        found
    }

    fn wait(&self, epoch: u64) {
        let mut state = self.lock();
        if state.epoch != epoch || self.is_shutdown() {
            return;
        }
        if let Some(hook) = &self.hook {
            if self.try_take_poll_right() {
                state.blocking_poll = true;
                state.interrupted = false;
                drop(state);
                poll_marked(hook.as_ref(), None);
                self.lock().blocking_poll = false;
                self.release_poll_right();
                return;
            }
        }
        state.sleepers += 1;
        while state.tokens == 0 && !self.is_shutdown() {
            state = self.wakeup.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        state.tokens = state.tokens.saturating_sub(1);
        state.sleepers -= 1;
    }

    /// Called after work was pushed on any queue: wakes an idle worker, if
    /// there is one, so the work is not delayed.
    pub(crate) fn notify(&self) {
        fence(SeqCst);
        if self.idle.load(SeqCst) == 0 {
            return;
        }
        let interrupt = {
            let mut state = self.lock();
            state.epoch += 1;
            if state.sleepers > state.tokens {
                state.tokens += 1;
                self.wakeup.notify_one();
                false
            } else if state.blocking_poll && !state.interrupted && !IN_POLL.get() {
                state.interrupted = true;
                true
            } else {
                false
            }
        };
        if interrupt {
            self.interrupt_hook();
        }
    }

    /// Polls the hook without blocking if no other worker holds the poll
    /// right. Called periodically by busy workers so that I/O readiness is
    /// noticed even when no worker is ever idle.
    pub(crate) fn poll_now(&self) {
        if let Some(hook) = &self.hook {
            if self.try_take_poll_right() {
                poll_marked(hook.as_ref(), Some(Duration::ZERO));
                self.release_poll_right();
            }
        }
    }

    fn try_take_poll_right(&self) -> bool {
        self.poll_right.compare_exchange(false, true, SeqCst, SeqCst).is_ok()
    }

    /// Releases the poll right, then wakes a tokenless sleeper if there is
    /// one: it may have gone to sleep because we held the right, and someone
    /// must take over polling. (The fences pair with `idle`'s: either we see
    /// that worker idle here, or its later CAS of the right sees it free.)
    fn release_poll_right(&self) {
        self.poll_right.store(false, SeqCst);
        fence(SeqCst);
        if self.idle.load(SeqCst) == 0 {
            return;
        }
        let mut state = self.lock();
        if state.sleepers > state.tokens && !state.blocking_poll {
            state.tokens += 1;
            self.wakeup.notify_one();
        }
    }

    /// Makes every worker leave `idle` and stop.
    pub(crate) fn shutdown(&self) {
        self.shutdown.store(true, SeqCst);
        let polling = {
            let state = self.lock();
            self.wakeup.notify_all();
            state.blocking_poll
        };
        if polling {
            self.interrupt_hook();
        }
    }

    fn interrupt_hook(&self) {
        if let Some(hook) = &self.hook {
            hook.interrupt();
        }
    }
}

/// Calls `hook.poll`, marking this thread as the poller meanwhile.
fn poll_marked(hook: &dyn IdleHook, timeout: Option<Duration>) {
    IN_POLL.set(true);
    hook.poll(timeout);
    IN_POLL.set(false);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;
    use std::thread;

    /// Many rounds of "worker goes idle while a producer publishes work and
    /// notifies": the worker must always get the work, never sleep forever.
    #[test]
    fn no_lost_wakeup_between_recheck_and_sleep() {
        let sleep = Arc::new(Sleep::new(None));
        let published = Arc::new(AtomicU64::new(0));
        let consumed = Arc::new(AtomicU64::new(0));
        const ROUNDS: u64 = 2_000;
        let worker = {
            let (sleep, published, consumed) = (sleep.clone(), published.clone(), consumed.clone());
            thread::spawn(move || {
                let take = || {
                    let c = consumed.load(SeqCst);
                    (published.load(SeqCst) > c).then(|| consumed.store(c + 1, SeqCst))
                };
                while consumed.load(SeqCst) < ROUNDS {
                    if take().is_none() {
                        sleep.idle(take);
                    }
                }
            })
        };
        for round in 1..=ROUNDS {
            published.store(round, SeqCst);
            sleep.notify();
            while consumed.load(SeqCst) < round {
                thread::yield_now();
            }
        }
        worker.join().expect("worker thread");
    }
}
