//! The socket layer shared by TCP and WebSockets: a `Registry` of sockets
//! of one kind by id, each socket `Shared` in a `Record`: behind a lock of
//! its own, beside what it keeps unchanged for its life (a connection's
//! identity, which its snapshots share by counting the record), the
//! `Alarm` a connection keeps for its waiters' deadlines, and the `Socket`
//! trait by which closing everything reaches each of them.
//! (The other shared parts: a socket's wait queues are `Waiters`, its
//! readiness is `Registered`, its timers are armed with `Net::arm`, and
//! what a critical section completes is a `Completed`.)
//!
//! Invariants: ids come from one counter per registry and are never reused;
//! an id is reserved (counted against the cap with the retained sockets)
//! before the socket exists, and settled once: retained, or given up. The
//! registry lives under the state lock, which is never held while a
//! socket's lock is taken. A record's lasting part never changes once the
//! record is made; a record kept by a snapshot after its socket's release
//! holds no descriptor (its socket ended before it could be released).

use crate::timer::TimerId;
use crate::{Action, Completed, Net, TokenHash};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// A socket behind a lock of its own (requests and events on one socket
/// wait for each other, never for another socket's), beside what it keeps
/// unchanged for its life (a connection's identity), which is read without
/// the lock. Snapshots share the record to show that identity: taking one
/// counts the reference in the line the lock is in, which the request or
/// event taking it holds already (an identity of its own, a separate
/// allocation, cost a cold line when a read's snapshot was taken and
/// another when the script dropped it). The lock comes first (`repr(C)`),
/// next to the counts and the socket's first fields.
#[repr(C)]
pub(crate) struct Record<T: Socket> {
    state: Mutex<T>,
    pub(crate) lasting: T::Lasting,
}

pub(crate) type Shared<T> = Arc<Record<T>>;

/// A socket that keeps nothing apart from its state.
pub(crate) fn share<T: Socket<Lasting = ()>>(socket: T) -> Shared<T> {
    share_lasting(socket, ())
}

pub(crate) fn share_lasting<T: Socket>(socket: T, lasting: T::Lasting) -> Shared<T> {
    Arc::new(Record { state: Mutex::new(socket), lasting })
}

/// Locks a socket. Every critical section leaves it consistent (its waiters
/// are answered or queued whole), so a poisoned lock is recovered.
pub(crate) fn hold<T: Socket>(socket: &Shared<T>) -> MutexGuard<'_, T> {
    socket.state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The one timer a connection keeps for the deadlines of its waiters. It
/// is set for the earliest and not moved for a later one, so once a
/// connection has its alarm a read that waits costs no timer operation (a
/// timer per waiting read cost an insertion and a removal in the timer
/// heap, and a map entry, every round trip). When it rings, the connection
/// times out the waiters whose deadlines have passed and sets it again for
/// the earliest left. Invariant: while a waiter waits, the alarm is set no
/// later than its deadline.
#[derive(Default)]
pub(crate) struct Alarm(Option<(Instant, TimerId)>);

impl Alarm {
    /// Makes sure connection `id` of registry `kind` is looked at by
    /// `deadline`.
    pub(crate) fn by(&mut self, net: &Net, deadline: Instant, kind: usize, id: u64) {
        if let Some((at, timer)) = self.0 {
            if at <= deadline {
                return;
            }
            net.cancel(timer);
        }
        self.0 = Some((deadline, net.arm(deadline, Action::Alarm { kind, id })));
    }

    /// It rang: no timer is set any more.
    pub(crate) fn rang(&mut self) {
        self.0 = None;
    }

    /// The connection ended: its timer goes once its lock is released.
    pub(crate) fn silence(&mut self, done: &mut Completed) {
        if let Some((_, timer)) = self.0.take() {
            done.silence(timer);
        }
    }
}

/// A socket of a registry: what it keeps unchanged beside its lock, and
/// what closing every socket does to it (at exit, `Net::close_all`): close
/// it and answer its waiters.
pub(crate) trait Socket {
    type Lasting;

    fn shut(&mut self, done: &mut Completed);
}

/// The retained sockets of one kind, by id: hashed, since every request
/// and event looks its socket up (a B-tree of 1,000 connections cost 2-3 %
/// of an echo's CPU); listings sort by id.
pub(crate) struct Registry<S: Socket> {
    entries: HashMap<u64, Shared<S>, TokenHash>,
    next: u64,
    /// Ids reserved for sockets not retained yet (a listen or a connect in
    /// progress, an accepted connection being registered).
    in_flight: usize,
}

impl<S: Socket> Default for Registry<S> {
    fn default() -> Self {
        Registry { entries: HashMap::default(), next: 0, in_flight: 0 }
    }
}

impl<S: Socket> Registry<S> {
    /// The next id, unless the retained sockets and those in flight have
    /// reached `max`.
    pub(crate) fn reserve(&mut self, max: usize) -> Option<u64> {
        if self.entries.len() + self.in_flight >= max {
            return None;
        }
        self.in_flight += 1;
        self.next += 1;
        Some(self.next - 1)
    }

    /// Settles reserved id `id`: its socket is retained, or (`None`) the
    /// reservation is given up (the id stays used).
    pub(crate) fn settle(&mut self, id: u64, socket: Option<Shared<S>>) {
        self.in_flight -= 1;
        if let Some(socket) = socket {
            self.entries.insert(id, socket);
        }
    }

    pub(crate) fn get(&self, id: u64) -> Option<Shared<S>> {
        self.entries.get(&id).cloned()
    }

    /// Asks for the record of `id` (its counts and all its lines, see
    /// `prefetch_counted`) without touching it: a `get` that follows finds
    /// it in the cache.
    pub(crate) fn ask(&self, id: u64) {
        if let Some(record) = self.entries.get(&id) {
            crate::prefetch_counted(Arc::as_ptr(record).cast(), std::mem::size_of::<Record<S>>());
        }
    }

    /// Every retained socket, in id order.
    pub(crate) fn all(&self) -> Vec<Shared<S>> {
        let mut all: Vec<_> = self.entries.iter().collect();
        all.sort_unstable_by_key(|(id, _)| **id);
        all.into_iter().map(|(_, socket)| socket.clone()).collect()
    }

    pub(crate) fn remove(&mut self, id: u64) {
        self.entries.remove(&id);
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Empties the registry; `in_flight` reservations the caller cancels
    /// are given up with it.
    pub(crate) fn take_all(&mut self, cancelled: usize) -> BTreeMap<u64, Shared<S>> {
        self.in_flight -= cancelled;
        std::mem::take(&mut self.entries).into_iter().collect()
    }
}

/// One protocol's sockets: its listeners, its connections, and its
/// connects in progress (by the connection id each reserved).
pub(crate) struct Sockets<L: Socket, C: Socket, D: Socket> {
    pub(crate) listeners: Registry<L>,
    pub(crate) conns: Registry<C>,
    pub(crate) dials: BTreeMap<u64, Shared<D>>,
}

impl<L: Socket, C: Socket, D: Socket> Default for Sockets<L, C, D> {
    fn default() -> Self {
        Sockets { listeners: Registry::default(), conns: Registry::default(), dials: BTreeMap::new() }
    }
}

impl<L: Socket, C: Socket, D: Socket> Sockets<L, C, D> {
    /// Takes every socket out (at exit, under the state lock; the connects
    /// in progress give up their ids); `Taken::shut` then closes them.
    pub(crate) fn take_all(&mut self) -> Taken<L, C, D> {
        let dials = std::mem::take(&mut self.dials);
        Taken { listeners: self.listeners.take_all(0), conns: self.conns.take_all(dials.len()), dials }
    }
}

/// Sockets taken out of their registries.
pub(crate) struct Taken<L: Socket, C: Socket, D: Socket> {
    listeners: BTreeMap<u64, Shared<L>>,
    conns: BTreeMap<u64, Shared<C>>,
    dials: BTreeMap<u64, Shared<D>>,
}

impl<L: Socket, C: Socket, D: Socket> Taken<L, C, D> {
    /// Shuts them all, listeners first; the ids of the listeners and
    /// connections (those that were retained).
    pub(crate) fn shut(self, done: &mut Completed) -> (Vec<u64>, Vec<u64>) {
        fn shut_all<S: Socket>(sockets: BTreeMap<u64, Shared<S>>, done: &mut Completed) -> Vec<u64> {
            for socket in sockets.values() {
                hold(socket).shut(done);
            }
            sockets.into_keys().collect()
        }
        let retained = (shut_all(self.listeners, done), shut_all(self.conns, done));
        shut_all(self.dials, done);
        retained
    }
}
