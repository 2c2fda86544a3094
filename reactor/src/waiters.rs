//! `Waiters`: the requests queued on one socket (readers, writers,
//! accepters), served in arrival order.
//!
//! Almost always at most one request waits on a socket (its task's), and an
//! idle connection keeps its queues for as long as it lives, so the first
//! waiter is kept inline and the others (boxed: one word while there are
//! none) only while two or more wait.
//!
//! Invariant: `rest` is `None` whenever it would be empty, and `first` is
//! `None` only when no waiter waits.

use std::collections::VecDeque;

pub(crate) struct Waiters<T> {
    first: Option<T>,
    // Boxed on purpose: one word inside every connection while at most one
    // waits (an empty `VecDeque` is four).
    #[allow(clippy::box_collection)]
    rest: Option<Box<VecDeque<T>>>,
}

impl<T> Default for Waiters<T> {
    fn default() -> Self {
        Waiters { first: None, rest: None }
    }
}

impl<T> Waiters<T> {
    pub(crate) fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    pub(crate) fn push_back(&mut self, waiter: T) {
        match self.first {
            None => self.first = Some(waiter),
            Some(_) => self.rest.get_or_insert_with(Box::default).push_back(waiter),
        }
    }

    pub(crate) fn front(&self) -> Option<&T> {
        self.first.as_ref()
    }

    pub(crate) fn front_mut(&mut self) -> Option<&mut T> {
        self.first.as_mut()
    }

    pub(crate) fn pop_front(&mut self) -> Option<T> {
        let first = self.first.take();
        self.first = self.rest.as_mut().and_then(|rest| rest.pop_front());
        self.tidy();
        first
    }

    /// Drops the queue of the others once it is empty.
    fn tidy(&mut self) {
        if self.rest.as_ref().is_some_and(|rest| rest.is_empty()) {
            self.rest = None;
        }
    }

    /// The latest waiter.
    pub(crate) fn last_mut(&mut self) -> Option<&mut T> {
        match self.rest.as_mut().and_then(|rest| rest.back_mut()) {
            Some(last) => Some(last),
            None => self.first.as_mut(),
        }
    }

    /// The waiters in arrival order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.first.iter().chain(self.rest.iter().flat_map(|rest| rest.iter()))
    }

    /// Removes and returns the first waiter that `is` picks.
    pub(crate) fn take_where(&mut self, mut is: impl FnMut(&T) -> bool) -> Option<T> {
        if self.first.as_ref().is_some_and(&mut is) {
            return self.pop_front();
        }
        let rest = self.rest.as_mut()?;
        let i = rest.iter().position(is)?;
        let waiter = rest.remove(i);
        self.tidy();
        waiter
    }

    /// Removes every waiter, in arrival order.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = T> {
        let Waiters { first, rest } = std::mem::take(self);
        first.into_iter().chain(rest.into_iter().flat_map(|rest| *rest))
    }
}

#[cfg(test)]
mod tests {
    use super::Waiters;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    #[derive(Debug, Clone)]
    enum Op {
        Push(u8),
        Pop,
        Take(u8),
        Drain,
    }

    proptest! {
        /// Behaves as a `VecDeque`, and holds no buffer with one waiter or none.
        #[test]
        fn behaves_like_a_queue(ops in proptest::collection::vec(prop_oneof![
            3 => any::<u8>().prop_map(Op::Push),
            2 => Just(Op::Pop),
            1 => any::<u8>().prop_map(Op::Take),
            1 => Just(Op::Drain),
        ], 0..100)) {
            let mut w = Waiters::default();
            let mut model = VecDeque::new();
            for op in ops {
                match op {
                    Op::Push(n) => { w.push_back(n); model.push_back(n); }
                    Op::Pop => prop_assert_eq!(w.pop_front(), model.pop_front()),
                    Op::Take(n) => {
                        let want = model.iter().position(|&m| m % 4 == n % 4).and_then(|i| model.remove(i));
                        prop_assert_eq!(w.take_where(|&m| m % 4 == n % 4), want);
                    }
                    Op::Drain => prop_assert_eq!(w.drain().collect::<Vec<_>>(), model.drain(..).collect::<Vec<_>>()),
                }
                prop_assert_eq!(w.iter().copied().collect::<Vec<_>>(), model.iter().copied().collect::<Vec<_>>());
                prop_assert_eq!(w.front(), model.front());
                prop_assert_eq!(w.last_mut().copied(), model.back().copied());
                prop_assert_eq!(w.is_empty(), model.is_empty());
                if model.len() <= 1 {
                    prop_assert!(w.rest.is_none());
                }
            }
        }
    }
}
