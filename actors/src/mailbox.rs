//! [`Mailbox`] (the receiving end, owned by an actor) and [`MailboxSender`]
//! (cloneable handles other actors and threads use to send to it).
//!
//! Invariants:
//! * `send` enqueues under the lock and only then wakes the owner, so the
//!   owner either sees the message in its current drain or is run again
//!   after the wake (see `actor_ref`): no message is left unread while the
//!   owner is parked.
//! * A message is either accepted into the queue (and then received exactly
//!   once, or dropped with the mailbox) or handed back in [`SendError`] when
//!   the mailbox is already gone: never lost silently, never duplicated.

use std::collections::VecDeque;
use std::error::Error;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::actor_ref::ActorRef;

struct Shared<M> {
    owner: ActorRef,
    queue: Mutex<Queue<M>>,
}

struct Queue<M> {
    messages: VecDeque<M>,
    /// Set when the [`Mailbox`] is dropped: later sends fail.
    closed: bool,
}

impl<M> Shared<M> {
    /// Every critical section only pushes/pops a `VecDeque` or flips a flag,
    /// which cannot leave the queue inconsistent; so a poisoned lock is
    /// recovered rather than propagated.
    fn lock(&self) -> MutexGuard<'_, Queue<M>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The receiving end of an actor's message queue. Keep it inside the actor
/// and drain it with [`try_recv`](Mailbox::try_recv) in
/// [`Actor::run`](crate::Actor::run), returning
/// [`Poll::Park`](crate::Poll::Park) once it is empty. Dropping it (when the
/// actor is done) closes it: later sends fail and hand the message back.
pub struct Mailbox<M> {
    shared: Arc<Shared<M>>,
}

/// A handle to send messages to a [`Mailbox`]; cheap to clone, `Send + Sync`
/// when `M: Send`.
pub struct MailboxSender<M> {
    shared: Arc<Shared<M>>,
}

/// The message could not be delivered because the receiving [`Mailbox`] was
/// dropped (its actor is done); the message is handed back.
pub struct SendError<M>(pub M);

impl<M> Mailbox<M> {
    /// An empty mailbox whose sends wake `owner` (usually the actor's own
    /// ref, from [`Scheduler::spawn_with`](crate::Scheduler::spawn_with),
    /// [`Context::spawn_with`](crate::Context::spawn_with) or
    /// [`Context::self_ref`](crate::Context::self_ref)).
    pub fn new(owner: ActorRef) -> Self {
        Mailbox {
            shared: Arc::new(Shared { owner, queue: Mutex::new(Queue { messages: VecDeque::new(), closed: false }) }),
        }
    }

    /// A new sender to this mailbox.
    pub fn sender(&self) -> MailboxSender<M> {
        MailboxSender { shared: self.shared.clone() }
    }

    /// Takes the oldest message, if any. Never blocks (beyond the short
    /// queue lock).
    pub fn try_recv(&self) -> Option<M> {
        self.shared.lock().messages.pop_front()
    }

    /// Whether no message is waiting.
    pub fn is_empty(&self) -> bool {
        self.shared.lock().messages.is_empty()
    }
}

impl<M> Drop for Mailbox<M> {
    fn drop(&mut self) {
        // Close first so that no send succeeds afterwards; drop the unread
        // messages outside the lock (their destructors may send or wake).
        let unread = {
            let mut queue = self.shared.lock();
            queue.closed = true;
            std::mem::take(&mut queue.messages)
        };
        drop(unread);
    }
}

impl<M> MailboxSender<M> {
    /// Enqueues `msg` and wakes the owning actor. Fails, handing the message
    /// back, only if the [`Mailbox`] has been dropped.
    pub fn send(&self, msg: M) -> Result<(), SendError<M>> {
        {
            let mut queue = self.shared.lock();
            if queue.closed {
                return Err(SendError(msg));
            }
            queue.messages.push_back(msg);
        }
        // Wake after unlocking: the owner may already be draining.
        self.shared.owner.wake();
        Ok(())
    }

    /// The actor this sender delivers to.
    pub fn owner(&self) -> &ActorRef {
        &self.shared.owner
    }
}

impl<M> Clone for MailboxSender<M> {
    fn clone(&self) -> Self {
        MailboxSender { shared: self.shared.clone() }
    }
}

impl<M> fmt::Debug for MailboxSender<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailboxSender").field("owner", &self.shared.owner).finish()
    }
}

impl<M> fmt::Debug for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<M> fmt::Display for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending to a mailbox whose actor is gone")
    }
}

impl<M> Error for SendError<M> {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Weak;

    #[test]
    fn fifo_order_and_send_after_close_returns_message() {
        let mailbox = Mailbox::new(ActorRef::new(Weak::new()));
        let tx = mailbox.sender();
        assert!(mailbox.is_empty());
        for i in 0..3 {
            tx.clone().send(i).expect("mailbox alive");
        }
        assert_eq!(mailbox.try_recv(), Some(0));
        assert_eq!(mailbox.try_recv(), Some(1));
        drop(mailbox);
        match tx.send(7) {
            Err(SendError(7)) => {}
            other => panic!("expected the message back, got {other:?}"),
        }
        assert!(format!("{tx:?}").contains("MailboxSender"));
    }
}
