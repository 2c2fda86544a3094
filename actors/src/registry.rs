//! The registry of live actors: every actor from spawn until it is done.
//!
//! It exists so that `Scheduler::shutdown` can drop actors that are parked
//! (in no queue) and whose handles form cycles (e.g. two actors holding each
//! other's `MailboxSender`), and so that the live count is exact.
//!
//! Invariants: an actor is in exactly one slot of the shard named by its
//! header from spawn until `remove` or `drain`; `Header::slot` is only read
//! or written under that shard's lock. Sharding (one shard per worker plus
//! one for spawns from outside) keeps the lock uncontended in the common
//! case where an actor is spawned and finishes on the same worker.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::actor_ref::ActorRef;

pub(crate) struct Registry {
    shards: Box<[Mutex<Shard>]>,
}

#[derive(Default)]
struct Shard {
    slots: Vec<Option<ActorRef>>,
    /// Indices of empty slots, reused before growing `slots`.
    free: Vec<usize>,
    live: usize,
}

impl Registry {
    pub(crate) fn new(shards: usize) -> Self {
        Registry { shards: (0..shards.max(1)).map(|_| Mutex::default()).collect() }
    }

    /// Each critical section below leaves the shard consistent before
    /// anything can panic (no user code runs under the lock), so a poisoned
    /// lock is recovered rather than propagated.
    fn lock(&self, shard: usize) -> MutexGuard<'_, Shard> {
        self.shards[shard % self.shards.len()].lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn insert(&self, actor: &ActorRef) {
        let mut shard = self.lock(actor.0.shard);
        let index = match shard.free.pop() {
            Some(index) => index,
            None => {
                shard.slots.push(None);
                shard.slots.len() - 1
            }
        };
        shard.slots[index] = Some(actor.clone());
        shard.live += 1;
        actor.0.slot.store(index, Ordering::Relaxed);
    }

    /// Removes a finished actor; returns the registry's handle so the caller
    /// drops it outside the lock.
    pub(crate) fn remove(&self, actor: &ActorRef) -> Option<ActorRef> {
        let mut shard = self.lock(actor.0.shard);
        let index = actor.0.slot.load(Ordering::Relaxed);
        // Check identity so that a stale call can never evict another actor
        // that reuses the slot.
        let removed = shard
            .slots
            .get_mut(index)
            .filter(|slot| slot.as_ref().is_some_and(|a| Arc::ptr_eq(&a.0, &actor.0)))
            .and_then(Option::take);
        if removed.is_some() {
            shard.free.push(index);
            shard.live -= 1;
        }
        removed
    }

    /// Number of registered (live) actors.
    pub(crate) fn len(&self) -> usize {
        (0..self.shards.len()).map(|i| self.lock(i).live).sum()
    }

    /// Empties the registry, returning every actor still in it.
    pub(crate) fn drain(&self) -> Vec<ActorRef> {
        let mut all = Vec::new();
        for i in 0..self.shards.len() {
            let shard = std::mem::take(&mut *self.lock(i));
            all.extend(shard.slots.into_iter().flatten());
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Weak;

    #[test]
    fn insert_remove_reuses_slots_and_drain_returns_rest() {
        let registry = Registry::new(2);
        let actors: Vec<_> = (0..4).map(|i| ActorRef::new(Weak::new(), i % 2)).collect();
        actors.iter().for_each(|a| registry.insert(a));
        assert_eq!(registry.len(), 4);
        assert!(registry.remove(&actors[0]).is_some());
        assert!(registry.remove(&actors[0]).is_none(), "removed twice");
        assert_eq!(registry.len(), 3);
        let again = ActorRef::new(Weak::new(), 0);
        registry.insert(&again);
        assert_eq!(again.0.slot.load(Ordering::Relaxed), 0, "slot reused");
        assert_eq!(registry.drain().len(), 4);
        assert_eq!(registry.len(), 0);
    }
}
