//! [`Mailbox`]: an actor's queue of unread messages, first in, first out.
//!
//! Most actors hold at most one message at a time (a task waits for one
//! answer, then parks again), so one message is kept inline, with no
//! allocation; a second one moves both into a boxed `VecDeque` (boxed: the
//! mailbox stays as small as one message, in the header's first cache
//! line), which goes when a pop empties it (a parked actor keeps no queue,
//! and parking takes no look at the mailbox). An empty mailbox owns no
//! buffer and drops with a single test of its tag.
//!
//! Invariant: the messages come out in the order they went in, whatever
//! form the mailbox has.

use std::collections::VecDeque;
use std::mem;

#[derive(Default)]
pub(crate) enum Mailbox<M> {
    #[default]
    Empty,
    One(M),
    // Boxed on purpose (see the module's notes): a mailbox one message wide.
    #[allow(clippy::box_collection)]
    Many(Box<VecDeque<M>>),
}

impl<M> Mailbox<M> {
    pub(crate) fn push(&mut self, msg: M) {
        if let Mailbox::Many(queue) = self {
            queue.push_back(msg);
            return;
        }
        *self = match mem::take(self) {
            Mailbox::One(first) => Mailbox::Many(Box::new(VecDeque::from([first, msg]))),
            _ => Mailbox::One(msg),
        };
    }

    pub(crate) fn pop(&mut self) -> Option<M> {
        if let Mailbox::Many(queue) = self {
            let msg = queue.pop_front();
            if queue.is_empty() {
                *self = Mailbox::Empty;
            }
            return msg;
        }
        match mem::take(self) {
            Mailbox::One(msg) => Some(msg),
            _ => None,
        }
    }

    /// The message `pop` would take.
    pub(crate) fn front(&self) -> Option<&M> {
        match self {
            Mailbox::Empty => None,
            Mailbox::One(msg) => Some(msg),
            Mailbox::Many(queue) => queue.front(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Mailbox::Empty => true,
            Mailbox::One(_) => false,
            Mailbox::Many(queue) => queue.is_empty(),
        }
    }

    /// Whether it owns an allocation.
    #[cfg(test)]
    pub(crate) fn holds_buffer(&self) -> bool {
        matches!(self, Mailbox::Many(_))
    }
}

#[cfg(test)]
mod tests {
    use super::Mailbox;

    #[test]
    fn first_in_first_out_in_every_form() {
        let mut mail = Mailbox::default();
        assert!(mail.is_empty() && mail.pop().is_none() && mail.front().is_none());
        mail.push(1);
        assert_eq!(mail.front(), Some(&1));
        assert!(!mail.is_empty() && !mail.holds_buffer(), "one message is kept inline");
        assert_eq!(mail.pop(), Some(1));
        assert!(mail.is_empty());
        for n in 2..6 {
            mail.push(n);
        }
        assert_eq!(mail.front(), Some(&2));
        assert_eq!(mail.pop(), Some(2));
        mail.push(6);
        let rest: Vec<i32> = std::iter::from_fn(|| mail.pop()).collect();
        assert_eq!(rest, [3, 4, 5, 6]);
        assert!(mail.is_empty() && !mail.holds_buffer(), "the queue goes when a pop empties it");
        mail.push(7);
        assert_eq!(mail.pop(), Some(7), "one message inline again");
        assert!(!mail.holds_buffer());
    }
}
