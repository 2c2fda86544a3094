//! `Timers`: a min-heap of deadlines, each with the action to take when it
//! expires.
//!
//! Invariants: every action is returned exactly once, in deadline order
//! (ties in insertion order); actions are returned, not run, so the caller
//! runs them outside its locks and they cannot re-enter the heap.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// What runs when a timer fires.
pub type Callback = Box<dyn FnOnce() + Send>;

struct Entry<A> {
    deadline: Instant,
    seq: u64,
    action: A,
}

impl<A> PartialEq for Entry<A> {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}
impl<A> Eq for Entry<A> {}
impl<A> PartialOrd for Entry<A> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<A> Ord for Entry<A> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
    }
}

/// Pending timers, each carrying an action of type `A`.
pub struct Timers<A> {
    heap: BinaryHeap<Reverse<Entry<A>>>,
    seq: u64,
}

impl<A> Default for Timers<A> {
    fn default() -> Self {
        Timers { heap: BinaryHeap::new(), seq: 0 }
    }
}

impl<A> Timers<A> {
    /// Adds a timer.
    pub fn insert(&mut self, deadline: Instant, action: A) {
        self.seq += 1;
        self.heap.push(Reverse(Entry { deadline, seq: self.seq, action }));
    }

    /// How long until the next deadline (`None`: no timer).
    pub fn timeout(&self, now: Instant) -> Option<Duration> {
        self.heap.peek().map(|Reverse(e)| e.deadline.saturating_duration_since(now))
    }

    /// Removes and returns the actions of every timer due at `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<A> {
        let mut due = Vec::new();
        while self.heap.peek().is_some_and(|Reverse(e)| e.deadline <= now) {
            if let Some(Reverse(e)) = self.heap.pop() {
                due.push(e.action);
            }
        }
        due
    }

    /// Number of pending timers.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
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
}
