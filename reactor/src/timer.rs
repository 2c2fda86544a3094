//! `Timers`: an ordered map of deadlines, each with the action to take when it
//! expires.
//!
//! Invariants: every action not cancelled is returned exactly once, in
//! deadline order (ties in insertion order); actions are returned, not run,
//! so the caller runs them outside its locks and they cannot re-enter.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What runs when a timer fires.
pub type Callback = Box<dyn FnOnce() + Send>;

/// A pending timer: its deadline, in nanoseconds since the `Timers` were
/// created, and a sequence number (ties fire in insertion order). Two words,
/// not an `Instant` and a word: every parked `sleep` and waiting read keeps
/// one in the map, and the map's nodes are sized by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimerId(u64, u64);

/// Pending timers, each carrying an action of type `A`; a timer can be
/// cancelled, so a request answered early leaves nothing behind.
pub struct Timers<A> {
    pending: BTreeMap<TimerId, A>,
    seq: u64,
    /// Time zero of the deadlines.
    epoch: Instant,
}

impl<A> Default for Timers<A> {
    fn default() -> Self {
        Timers { pending: BTreeMap::new(), seq: 0, epoch: Instant::now() }
    }
}

impl<A> Timers<A> {
    /// Adds a timer.
    pub fn insert(&mut self, deadline: Instant, action: A) -> TimerId {
        self.seq += 1;
        let id = TimerId(self.nanos(deadline), self.seq);
        self.pending.insert(id, action);
        id
    }

    /// Removes a timer that has not fired (a no-op if it has).
    pub fn cancel(&mut self, id: TimerId) {
        self.pending.remove(&id);
    }

    /// How long until the next deadline (`None`: no timer).
    pub fn timeout(&self, now: Instant) -> Option<Duration> {
        let now = self.nanos(now);
        self.pending.keys().next().map(|id| Duration::from_nanos(id.0.saturating_sub(now)))
    }

    /// Removes and returns the actions of every timer due at `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<A> {
        let now = self.nanos(now);
        if self.pending.keys().next().is_none_or(|id| id.0 > now) {
            return Vec::new(); // the common case: no allocation, no split
        }
        let later = self.pending.split_off(&TimerId(now, u64::MAX));
        std::mem::replace(&mut self.pending, later).into_values().collect()
    }

    /// `at` in nanoseconds since `epoch` (0 before it; the largest value
    /// past 584 years).
    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Number of pending timers.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn expires_in_deadline_order_exactly_once() {
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut timers: Timers<Callback> = Timers::default();
        let base = Instant::now();
        for (i, ms) in [30u64, 10, 20, 10].into_iter().enumerate() {
            let order = order.clone();
            timers.insert(base + Duration::from_millis(ms), Box::new(move || order.lock().expect("lock").push(i)));
        }
        assert_eq!(timers.timeout(base), Some(Duration::from_millis(10)));
        for cb in timers.expire(base + Duration::from_millis(20)) {
            cb();
        }
        assert_eq!(*order.lock().expect("lock"), vec![1, 3, 2]);
        assert_eq!(timers.len(), 1);
        for cb in timers.expire(base + Duration::from_secs(1)) {
            cb();
        }
        assert_eq!(*order.lock().expect("lock"), vec![1, 3, 2, 0]);
        assert!(timers.is_empty());
    }

    #[test]
    fn cancelled_timers_never_fire_and_free_their_entry() {
        let mut timers: Timers<u32> = Timers::default();
        let base = Instant::now();
        let a = timers.insert(base + Duration::from_millis(5), 1);
        timers.insert(base + Duration::from_millis(5), 2);
        timers.cancel(a);
        timers.cancel(a);
        assert_eq!(timers.len(), 1);
        assert_eq!(timers.expire(base + Duration::from_millis(5)), vec![2]);
        assert!(timers.is_empty());
    }
}
