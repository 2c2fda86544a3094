//! The registry of parked actors and the live-actor count.
//!
//! The registry exists so that `Scheduler::shutdown` can drop every actor
//! that is still alive, including parked ones (in no queue) whose handles
//! form cycles (e.g. two actors holding each other's `ActorRef`).
//!
//! Design, driven by the cost of spawn + complete (the hot path):
//! * An actor is registered when it first parks, not when it is spawned:
//!   until then it is always in a queue or running, where shutdown finds it
//!   anyway, and most short actors (a trivial task) never park, so they
//!   never touch the registry.
//! * Each worker owns a [`Shard`] (no lock: only that thread touches it) in
//!   which it registers the actors that park on it.
//! * Finishing an actor does not touch the registry at all: finished actors
//!   are swept out lazily, when the shard's vector is full or when the
//!   worker goes idle, at an amortized O(1) cost per registration.
//! * The live count is kept in per-worker [`Tally`] counters (each written
//!   by its worker alone, with plain stores, so never contended; spawns
//!   from outside the workers share one more, counted atomically) and
//!   summed on demand.
//!
//! Invariants: every actor that is not done and has ever parked is in
//! exactly one shard; every other one that is not done is in a queue, in a
//! run, or held by its worker between two runs (which registers it if the
//! worker stops then). So shutdown reaches every live actor, and an actor
//! is only ever dropped when it finishes or at shutdown, never behind the
//! scheduler's back. A shard holds a finished actor's small header (its
//! actor is already dropped) at most until the next sweep.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use crate::actor::Actor;
use crate::actor_ref::ActorRef;

/// Actors registered by one spawner.
pub(crate) struct Shard<A: Actor> {
    actors: Vec<ActorRef<A>>,
    inserted_since_sweep: usize,
}

impl<A: Actor> Default for Shard<A> {
    fn default() -> Self {
        Shard { actors: Vec::new(), inserted_since_sweep: 0 }
    }
}

impl<A: Actor> Shard<A> {
    pub(crate) fn insert(&mut self, actor: ActorRef<A>) {
        if self.actors.len() == self.actors.capacity() {
            self.sweep();
        }
        self.actors.push(actor);
        self.inserted_since_sweep += 1;
    }

    /// Sweeps if at least half as many actors were inserted since the last
    /// sweep as the shard holds, so that the sweep's cost is paid by them.
    pub(crate) fn sweep_if_worthwhile(&mut self) {
        if self.inserted_since_sweep > 0 && self.inserted_since_sweep * 2 >= self.actors.len() {
            self.sweep();
        }
    }

    /// Drops finished actors. Leaves room for at least half as many inserts
    /// as survivors before the next full-vector sweep (amortization), and
    /// gives memory back when most actors are gone.
    fn sweep(&mut self) {
        self.actors.retain(|actor| !actor.is_done());
        self.inserted_since_sweep = 0;
        let len = self.actors.len();
        if len < self.actors.capacity() / 4 {
            self.actors.shrink_to(2 * len);
        }
        self.actors.reserve(len / 2 + 1);
    }

    /// All registered actors (some possibly finished), emptying the shard.
    pub(crate) fn take_all(&mut self) -> Vec<ActorRef<A>> {
        self.inserted_since_sweep = 0;
        std::mem::take(&mut self.actors)
    }
}

/// Spawn and finish counts of one worker (or of all outside spawners),
/// padded to a cache line pair so that workers never share one. A worker's
/// tally has one writer, its worker, which counts with a plain load and
/// store (`own_*`: no locked instruction, two per task saved); the
/// outside spawners' tally is shared and counts with `fetch_add`.
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct Tally {
    spawned: AtomicUsize,
    finished: AtomicUsize,
}

impl Tally {
    /// A spawn counted by any thread.
    pub(crate) fn spawned(&self) {
        self.spawned.fetch_add(1, Relaxed);
    }

    /// A spawn counted by the tally's only writer.
    pub(crate) fn own_spawned(&self) {
        bump(&self.spawned);
    }

    /// A finish counted by the tally's only writer.
    pub(crate) fn own_finished(&self) {
        bump(&self.finished);
    }
}

/// Adds one to a counter that only the calling thread writes.
fn bump(counter: &AtomicUsize) {
    counter.store(counter.load(Relaxed) + 1, Relaxed);
}

/// Number of live actors: spawned minus finished. Every finish is counted
/// after its spawn, so reading all `finished` first never underflows.
pub(crate) fn live(tallies: &[Tally]) -> usize {
    let finished: usize = tallies.iter().map(|t| t.finished.load(Relaxed)).sum();
    let spawned: usize = tallies.iter().map(|t| t.spawned.load(Relaxed)).sum();
    spawned.saturating_sub(finished)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FnActor, Poll};
    use std::sync::Weak;

    fn actor() -> ActorRef<FnActor> {
        ActorRef::new(Weak::new(), FnActor::new(|_| Poll::Done))
    }

    fn finished_actor() -> ActorRef<FnActor> {
        let actor = actor();
        actor.finish();
        actor
    }

    #[test]
    fn sweeps_drop_finished_actors_only() {
        let mut shard = Shard::default();
        let live: Vec<_> = (0..10).map(|_| actor()).collect();
        live.iter().for_each(|a| shard.insert(a.clone()));
        for _ in 0..10_000 {
            shard.insert(finished_actor());
        }
        assert!(shard.actors.len() < 100, "full-vector sweeps bound growth");
        shard.sweep();
        assert_eq!(shard.actors.len(), 10);
        assert!(shard.actors.capacity() < 100, "memory given back");
        assert_eq!(shard.take_all().len(), 10);
        assert!(shard.actors.is_empty());
    }

    #[test]
    fn idle_sweep_only_when_amortized() {
        let mut shard = Shard::default();
        (0..2).for_each(|_| shard.insert(actor()));
        shard.sweep(); // 2 live, room for 2 more, nothing inserted since
        shard.insert(finished_actor());
        shard.sweep_if_worthwhile(); // 1 insert does not pay for scanning 3
        assert_eq!(shard.actors.len(), 3);
        shard.insert(finished_actor());
        shard.sweep_if_worthwhile(); // 2 inserts pay for scanning 4
        assert_eq!(shard.actors.len(), 2);
    }

    #[test]
    fn live_count_is_spawned_minus_finished() {
        let tallies: Vec<Tally> = (0..3).map(|_| Tally::default()).collect();
        (0..5).for_each(|_| tallies[0].spawned());
        tallies[2].spawned();
        tallies[1].own_finished();
        tallies[1].own_finished();
        assert_eq!(live(&tallies), 4);
    }
}
