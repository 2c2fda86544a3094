//! `Registered`: a socket registered with the poller, deregistered on drop,
//! with the one-shot interest it has armed (listeners, connects and
//! handshakes in progress) or, for an established connection, its readiness
//! in edge-triggered mode; the direction its last
//! would-block read or write went (for libraries that drive the stream,
//! such as a WebSocket handshake), and the last words it sends if it is
//! dropped before it has answered its peer (a server handshake that fails
//! inside the library answers `400 Bad Request` this way: the library drops
//! the stream with the error).
//!
//! Edge mode (a connection, `Registered::edge`): both directions are
//! registered once, so waiting costs no system call (one-shot interest cost
//! an `epoll_ctl` per wait). The socket is taken to be readable (writable)
//! from an event until a read (write) would block: any byte arriving later
//! is a new edge, hence a new event. A read or write it knows would block
//! answers `WouldBlock` without a system call (a library reading through it,
//! such as a WebSocket, finds out as cheaply). On Linux a short read means
//! drained, as mio and tokio take it, saving the read that would find
//! nothing: the connection is registered for `EPOLLRDHUP` too (by hand:
//! `polling` does not ask for it), so a peer's end that came with the last
//! bytes is reported with them (`fired_by`), and from then on a short read
//! proves nothing (the reactor's property test found that case when
//! `EPOLLRDHUP` was not asked for). Elsewhere only a read that would block
//! means drained.
//!
//! Invariants:
//! * (The safety contract of `polling::Poller::add`) a registered socket is
//!   deleted from the poller before it is closed. Every socket the reactor
//!   registers lives in a `Registered`, whose `Drop` deletes it first.
//! * The farewell is sent at most once, without blocking and without
//!   SIGPIPE, and only if nothing was written through `io::Write` and no
//!   read failed since it was set.

use polling::{Event, Poller};
use std::io;
use std::os::fd::AsFd;
use std::sync::Arc;

/// A socket and the poller it is registered with.
pub struct Registered<S: AsFd> {
    socket: S,
    poller: Arc<Poller>,
    key: std::cell::Cell<usize>,
    /// What to send the peer if dropped before anything else was written.
    farewell: std::cell::Cell<Option<&'static [u8]>>,
    /// The interest last armed and not yet consumed by an event, so that
    /// re-arming the same interest costs no system call.
    armed: std::cell::Cell<(bool, bool)>,
    /// Whether the last read or write through `io::Read`/`io::Write` that
    /// would have blocked was a write (see `await_blocked`).
    blocked_writing: std::cell::Cell<bool>,
    /// Edge-triggered (see the module's notes).
    edge: std::cell::Cell<bool>,
    /// In edge mode: whether it may be (readable, writable).
    ready: std::cell::Cell<(bool, bool)>,
    /// In edge mode: the peer's end (or an error) was reported, so a short
    /// read no longer means drained.
    ended: std::cell::Cell<bool>,
}

impl<S: AsFd> Registered<S> {
    /// Registers `socket` under `key`, with no interest yet.
    pub fn new(socket: S, poller: Arc<Poller>, key: usize) -> io::Result<Registered<S>> {
        // SAFETY: the socket is moved into the returned `Registered`, whose
        // `Drop` deletes it from the poller before the socket is dropped, so
        // the poller never holds a closed descriptor.
        unsafe { poller.add(&socket.as_fd(), Event::none(key))? };
        Ok(Registered {
            socket,
            poller,
            key: std::cell::Cell::new(key),
            farewell: std::cell::Cell::new(None),
            armed: std::cell::Cell::new((false, false)),
            blocked_writing: std::cell::Cell::new(false),
            edge: std::cell::Cell::new(false),
            ready: std::cell::Cell::new((false, false)),
            ended: std::cell::Cell::new(false),
        })
    }

    /// The socket itself.
    pub fn get(&self) -> &S {
        &self.socket
    }

    /// Records that the poller delivered an event (`readable`, `writable`):
    /// one-shot interest is now disarmed; in edge mode, the socket is ready
    /// in those directions.
    pub fn fired(&self, readable: bool, writable: bool) {
        if self.edge.get() {
            let (r, w) = self.ready.get();
            self.ready.set((r || readable, w || writable));
        } else {
            self.armed.set((false, false));
        }
    }

    /// Records an event of an established connection: `fired`, and its
    /// peer's end if the event reports one.
    pub(crate) fn fired_by(&self, ev: crate::poller::Ready) {
        self.fired(ev.readable, ev.writable);
        if ev.ended {
            self.ended.set(true);
        }
    }

    /// Sets the (one-shot) interest: readable, writable, both or none (in
    /// edge mode, interest is always in both: nothing to do).
    pub fn interest(&self, readable: bool, writable: bool) {
        if self.edge.get() || self.armed.get() == (readable, writable) {
            return;
        }
        self.armed.set((readable, writable));
        let key = self.key.get();
        let event = match (readable, writable) {
            (true, true) => Event::all(key),
            (true, false) => Event::readable(key),
            (false, true) => Event::writable(key),
            (false, false) => Event::none(key),
        };
        // Modifying a registered descriptor only fails if the kernel is out
        // of memory; the waiters then time out instead of hanging.
        let _ = self.poller.modify(self.socket.as_fd(), event);
    }
}

impl<S: AsFd> Registered<S> {
    /// Makes it an established connection under poller key `key`: edge
    /// mode, taken to be ready both ways until a read or write says not.
    pub fn edge(&self, key: usize) {
        self.key.set(key);
        self.edge.set(true);
        self.ready.set((true, true));
        // As in `interest`: only an out-of-memory kernel refuses (the
        // waiters then time out).
        #[cfg(target_os = "linux")]
        {
            use rustix::event::epoll::{self, EventData, EventFlags};
            let flags = EventFlags::IN | EventFlags::OUT | EventFlags::RDHUP | EventFlags::ET;
            let _ = epoll::modify(&*self.poller, self.socket.as_fd(), EventData::new_u64(key as u64), flags);
        }
        #[cfg(not(target_os = "linux"))]
        let _ = self.poller.modify_with_mode(self.socket.as_fd(), Event::all(key), polling::PollMode::Edge);
    }

    /// In edge mode: a read would block (it did since the last event), so
    /// a reader need not try one.
    pub fn drained(&self) -> bool {
        self.edge.get() && !self.ready.get().0
    }

    /// Sets (or clears) what the socket sends if dropped before it writes
    /// anything else.
    pub fn farewell(&self, bytes: Option<&'static [u8]>) {
        self.farewell.set(bytes);
    }
}

impl Registered<std::net::TcpStream> {
    /// Arms interest in the direction of the last operation that would have
    /// blocked: a library driving the stream (a WebSocket handshake) stopped
    /// there. Arming both would spin: a socket waiting for a peer's bytes is
    /// writable all the while.
    pub fn await_blocked(&self) {
        let writing = self.blocked_writing.get();
        self.interest(!writing, writing);
    }
}

impl<S: AsFd> Drop for Registered<S> {
    fn drop(&mut self) {
        if let Some(bytes) = self.farewell.take() {
            // Best effort: a full buffer or a gone peer only loses it.
            let flags = rustix::net::SendFlags::DONTWAIT | rustix::net::SendFlags::NOSIGNAL;
            let _ = rustix::net::send(self.socket.as_fd(), bytes, flags);
        }
        let _ = self.poller.delete(self.socket.as_fd());
    }
}

/// A registered stream reads and writes through the socket, so a
/// WebSocket can own its registration.
impl io::Read for Registered<std::net::TcpStream> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (readable, writable) = self.ready.get();
        if self.edge.get() && !readable {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        // rustix's system call, not libc's `recv`: no cancellation-point
        // bookkeeping around it (2-3 % of an echo's CPU).
        let wanted = buf.len();
        let result = rustix::net::recv(&self.socket, buf, rustix::net::RecvFlags::empty())
            .map(|(n, _)| n)
            .map_err(io::Error::from);
        match &result {
            // Drained (see the module's notes).
            Ok(n) if cfg!(target_os = "linux") && *n > 0 && *n < wanted && self.edge.get() && !self.ended.get() => {
                self.ready.set((false, writable));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if self.edge.get() {
                    self.ready.set((false, writable));
                }
                self.blocked_writing.set(false);
            }
            // The peer is gone: nobody to say farewell to.
            Err(e) if e.kind() != io::ErrorKind::Interrupted => self.farewell.set(None),
            _ => {}
        }
        result
    }
}

impl io::Write for Registered<std::net::TcpStream> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (readable, writable) = self.ready.get();
        if self.edge.get() && !writable {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        // As std does, without SIGPIPE (and without libc's wrapper, as in
        // `read`).
        let result = rustix::net::send(&self.socket, buf, rustix::net::SendFlags::NOSIGNAL).map_err(io::Error::from);
        match &result {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // Only a write that failed sets the kernel up to report
                // space again, so a short write is not taken as full.
                if self.edge.get() {
                    self.ready.set((readable, false));
                }
                self.blocked_writing.set(true);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // An answer has started (or the peer is gone): no farewell.
            _ => self.farewell.set(None),
        }
        result
    }

    fn flush(&mut self) -> io::Result<()> {
        (&self.socket).flush()
    }
}
