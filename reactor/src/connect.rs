//! Outgoing TCP connects driven by the reactor (REFERENCE-SOCKETS
//! `tcp_connect`, PERFORMANCE §4.11): non-blocking, one resolved address
//! after the other, each with the connect timeout, keeping the first that
//! connects and otherwise the last error.
//!
//! Invariants:
//! * A `Connecting` owns at most one socket: the attempt in progress,
//!   registered under the connection's own poller key with writable
//!   interest. Moving to the next address drops (deregisters and closes)
//!   the previous socket first.
//! * The addresses come resolved (`resolve.rs` looks names up off the
//!   workers); the connect itself never blocks a thread.

use crate::registered::Registered;
use crate::Net;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The error text of an attempt that ran out of time (as `std`'s
/// `TcpStream::connect_timeout` words it).
const TIMED_OUT: &str = "connection timed out";

/// Where a connect stands after a step.
pub(crate) enum Progress {
    /// A new attempt started; it times out at this deadline.
    Started(Instant),
    /// The attempt in progress goes on (its deadline is unchanged).
    Waiting,
    Connected(Registered<TcpStream>),
    /// Every address failed: the last error, or the caller's fallback text
    /// when there was no specific one.
    Failed(Option<String>),
}

/// A connect in progress.
pub(crate) struct Connecting {
    addrs: std::vec::IntoIter<SocketAddr>,
    socket: Option<Registered<TcpStream>>,
    last_error: Option<String>,
    timeout: Duration,
    key: usize,
}

impl Connecting {
    /// Starts connecting to `addrs` in order; the socket is registered under
    /// `key`.
    pub(crate) fn start(net: &Net, addrs: Vec<SocketAddr>, timeout: Duration, key: usize) -> (Connecting, Progress) {
        let mut c = Connecting { addrs: addrs.into_iter(), socket: None, last_error: None, timeout, key };
        let progress = c.next_address(net);
        (c, progress)
    }

    /// The poller reported the attempt's socket writable (or failed).
    pub(crate) fn on_ready(&mut self, net: &Net) -> Progress {
        let Some(socket) = &self.socket else { return self.next_address(net) };
        socket.fired(true, true);
        let stream = socket.get();
        match stream.take_error() {
            Ok(None) => {}
            Ok(Some(e)) | Err(e) => return self.fail_attempt(net, e.to_string()),
        }
        match stream.peer_addr() {
            Ok(_) => match self.socket.take() {
                Some(socket) => Progress::Connected(socket),
                None => Progress::Failed(self.last_error.take()),
            },
            // Not connected yet (a stale event): wait again.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                socket.interest(false, true);
                Progress::Waiting
            }
            Err(e) => self.fail_attempt(net, e.to_string()),
        }
    }

    /// The attempt in progress ran out of time.
    pub(crate) fn on_timeout(&mut self, net: &Net) -> Progress {
        self.fail_attempt(net, TIMED_OUT.to_string())
    }

    fn fail_attempt(&mut self, net: &Net, error: String) -> Progress {
        self.socket = None;
        self.last_error = Some(error);
        self.next_address(net)
    }

    /// Starts the next address; connected at once, pending, or failed when
    /// none is left.
    fn next_address(&mut self, net: &Net) -> Progress {
        self.socket = None;
        for addr in self.addrs.by_ref() {
            match start_attempt(net, addr, self.key) {
                Ok((socket, true)) => return Progress::Connected(socket),
                Ok((socket, false)) => {
                    socket.interest(false, true);
                    self.socket = Some(socket);
                    return Progress::Started(Instant::now() + self.timeout);
                }
                Err(e) => self.last_error = Some(e.to_string()),
            }
        }
        Progress::Failed(self.last_error.take())
    }
}

/// A non-blocking socket connecting to `addr`, registered under `key`, and
/// whether it connected at once.
fn start_attempt(net: &Net, addr: SocketAddr, key: usize) -> io::Result<(Registered<TcpStream>, bool)> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    let family = if addr.is_ipv4() { AddressFamily::INET } else { AddressFamily::INET6 };
    let fd = rustix::net::socket_with(family, SocketType::STREAM, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC, None)?;
    let connected = match rustix::net::connect(&fd, &addr) {
        Ok(()) => true,
        Err(rustix::io::Errno::INPROGRESS) => false,
        Err(e) => return Err(e.into()),
    };
    let socket = Registered::new(TcpStream::from(fd), net.poller.registry.clone(), key)?;
    Ok((socket, connected))
}
