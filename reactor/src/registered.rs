//! `Registered`: a socket registered with the poller, deregistered on drop,
//! with the one-shot interest it has armed and the direction its last
//! would-block read or write went (for libraries that drive the stream,
//! such as a WebSocket handshake).
//!
//! Invariant (the safety contract of `polling::Poller::add`): a registered
//! socket is deleted from the poller before it is closed. Every socket the
//! reactor registers lives in a `Registered`, whose `Drop` deletes it first.

use polling::{Event, Poller};
use std::io;
use std::os::fd::AsFd;
use std::sync::Arc;

/// A socket and the poller it is registered with.
pub struct Registered<S: AsFd> {
    socket: S,
    poller: Arc<Poller>,
    key: usize,
    /// The interest last armed and not yet consumed by an event, so that
    /// re-arming the same interest costs no system call.
    armed: std::cell::Cell<(bool, bool)>,
    /// Whether the last read or write through `io::Read`/`io::Write` that
    /// would have blocked was a write (see `await_blocked`).
    blocked_writing: std::cell::Cell<bool>,
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
            key,
            armed: std::cell::Cell::new((false, false)),
            blocked_writing: std::cell::Cell::new(false),
        })
    }

    /// The socket itself.
    pub fn get(&self) -> &S {
        &self.socket
    }

    /// Records that the poller delivered an event: one-shot interest is
    /// now disarmed.
    pub fn fired(&self) {
        self.armed.set((false, false));
    }

    /// Sets the (one-shot) interest: readable, writable, both or none.
    pub fn interest(&self, readable: bool, writable: bool) {
        if self.armed.get() == (readable, writable) {
            return;
        }
        self.armed.set((readable, writable));
        let event = match (readable, writable) {
            (true, true) => Event::all(self.key),
            (true, false) => Event::readable(self.key),
            (false, true) => Event::writable(self.key),
            (false, false) => Event::none(self.key),
        };
        // Modifying a registered descriptor only fails if the kernel is out
        // of memory; the waiters then time out instead of hanging.
        let _ = self.poller.modify(self.socket.as_fd(), event);
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
        let _ = self.poller.delete(self.socket.as_fd());
    }
}

/// A registered stream reads and writes through the socket, so a
/// WebSocket can own its registration.
impl io::Read for Registered<std::net::TcpStream> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let result = (&self.socket).read(buf);
        if matches!(&result, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            self.blocked_writing.set(false);
        }
        result
    }
}

impl io::Write for Registered<std::net::TcpStream> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let result = (&self.socket).write(buf);
        if matches!(&result, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            self.blocked_writing.set(true);
        }
        result
    }

    fn flush(&mut self) -> io::Result<()> {
        (&self.socket).flush()
    }
}
