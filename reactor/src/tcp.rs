//! TCP listeners and connections, owned by the reactor (REFERENCE-SOCKETS
//! §3-§6 with DIALECT points 7, 8 and 13).
//!
//! Invariants:
//! * Ids come from one counter per registry, are taken after the
//!   allow-list and cap checks and before resolving or connecting, and are
//!   never reused; the cap counts retained entries plus starts in flight.
//! * Sockets are non-blocking, each behind its own lock (`Shared`); a
//!   connection's identity sits beside the lock in its record, shared by
//!   its snapshots (`ConnIdentityRef`), and never changes. An
//!   operation that cannot complete at once queues a waiter on its socket,
//!   its deadline on the connection's `Alarm` (an accepter: a timer of its
//!   own, and the listener's one-shot interest); waiters are served in
//!   arrival order when the poller reports readiness (a connection is
//!   edge-triggered: `Registered`).
//! * A read delivers whole characters (DIALECT 14): the one to three bytes
//!   of a character that may still complete are kept for the next read of
//!   the connection (`Conn::kept`, counted in `max_bytes`, in no counter);
//!   a read delivers at most `max_bytes`, cut between whole characters (an
//!   invalid sequence is one), or one whole character past it
//!   (`within_max`); what it does not deliver is kept, and whole kept
//!   bytes go out at the next read without another OS read. A read that
//!   finds nothing kept on a plain connection known drained (edge mode,
//!   `Link::drained`) waits without trying one. Otherwise a
//!   read performs one OS read (into a per-thread scratch buffer, from
//!   which the delivered bytes become the script's text once: `Chunk`),
//!   more only while everything it read is kept. A peer's end while bytes
//!   are kept is delivered after them (`Conn::ended`); a local close
//!   discards them.
//! * A TLS listener (DIALECT 15) accepts eagerly and runs its
//!   connections' TLS handshakes in its `Backlog`, as a WebSocket listener
//!   does; `tcp_accept` takes the oldest finished one. A TLS connect runs
//!   its client handshake after connecting, under the connect timeout
//!   again; every failure before it completes is `TLS handshake failed`.
//!   Reads, writes and counters count application data (`Link`).
//! * A write is answered with the connection's snapshot, or, when its
//!   script drops the answer unseen, `Reply::Written` (no snapshot made).
//! * Closing a socket (by the script, by end of stream or by an error)
//!   drops it from the poller and answers every waiter at once: readers and
//!   writers get `TcpSocketClosed`, accepters `TcpListenerClosed`.
//! * Nothing here blocks, or makes a syscall on a socket, while holding the
//!   state lock: host names are
//!   resolved on the lookup pool (`resolve.rs`) and binding happens outside
//!   it; a connect is non-blocking and resumes on writability (see
//!   `connect.rs`).

use crate::backlog::{Accepter, Backlog, Established, Handshaking};
use crate::connect::{Connecting, Progress};
use crate::link::Link;
use crate::policy::lookup_host;
use crate::poller::Ready;
use crate::registered::Registered;
use crate::registry::{Socket, Sockets};
use crate::resolve::LISTEN_LOOKUP;
use crate::types::{now_ms, Chunk, ConnIdentity, ConnInfo, ListenerInfo, Replier, Reply, ReplyFn, Status};
use crate::waiters::Waiters;
use crate::{
    err, hold, key, share, share_lasting, Action, Alarm, Completed, ConnIdentityRef, Net, Shared, KIND_TCP_CONN,
    KIND_TCP_LISTENER,
};

use arcstr::ArcStr;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

thread_local! {
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The fixed write timeout of `tcp_write`.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

// A waiter's reply function is `None` only while its own request serves
// the socket (`Net::request`).

struct Reader {
    token: u64,
    max_bytes: usize,
    /// When it times out (set when it starts to wait).
    deadline: Option<Instant>,
    reply: Option<ReplyFn>,
}

struct Writer {
    token: u64,
    /// The script's text, shared with its value rather than copied.
    data: ArcStr,
    /// Whether its answer carries the connection's snapshot.
    snapshot: bool,
    written: usize,
    /// When the socket last took bytes of this write, taken when the write
    /// blocks (`None` before: a write that completes at once reads no
    /// clock): it times out only after `WRITE_TIMEOUT` without progress,
    /// like a blocking socket with a write timeout.
    progress: Option<Instant>,
    reply: Option<ReplyFn>,
}

pub(crate) struct Listener {
    id: u64,
    host: String,
    port: u16,
    started_at_ms: i64,
    status: Status,
    local_addr: Option<SocketAddr>,
    error: Option<String>,
    accepted: u64,
    nodelay: bool,
    socket: Option<Registered<TcpListener>>,
    accepters: Waiters<Accepter>,
    texts: Texts,
    /// A TLS listener's connections in their handshakes (boxed: most
    /// listeners are plain).
    backlog: Option<Box<Backlog>>,
}

/// The texts of a listener's last accepted connection (its local address,
/// its peer's host), shared with the next when they are the same: the
/// connections from one host to one listener keep no copy of their own.
#[derive(Default)]
struct Texts {
    local: Option<ArcStr>,
    host: Option<ArcStr>,
}

impl Texts {
    fn share(slot: &mut Option<ArcStr>, text: String) -> ArcStr {
        match slot {
            Some(shared) if **shared == *text => shared.clone(),
            _ => slot.insert(ArcStr::from(text)).clone(),
        }
    }
}

pub(crate) struct Conn {
    id: u64,
    status: Status,
    error: Option<ArcStr>,
    bytes_read: u64,
    bytes_written: u64,
    stream: Option<Link>,
    /// The start of a character that may still complete (at most 3 bytes),
    /// kept for the next read.
    kept: Vec<u8>,
    /// The peer ended the stream while bytes were kept: the read after the
    /// one that delivered them reports this end (boxed: rare, and every
    /// connection would carry its size).
    ended: Option<Box<End>>,
    readers: Waiters<Reader>,
    writers: Waiters<Writer>,
    /// Set no later than the deadline of any waiter.
    alarm: Alarm,
}

/// How the peer ended a stream.
enum End {
    Eof,
    /// A reset or another read error, with its text.
    Error(String),
}

/// A `tcp_connect` in progress (its id is reserved, not yet retained).
pub(crate) struct Dial {
    id: u64,
    token: u64,
    host: ArcStr,
    port: u16,
    nodelay: bool,
    tls: bool,
    /// The connect timeout (the TLS handshake gets it again).
    timeout: Duration,
    /// `None` once answered.
    reply: Option<ReplyFn>,
    /// `None` until the first attempt starts (the dial is in its registry
    /// first, so no event of its socket is missed).
    connecting: Option<Connecting>,
    /// Once connected, the TLS handshake (`None` only during a step).
    securing: Option<Link>,
}

/// What `tcp_connect` hands to the resolver's continuation.
struct DialStart {
    id: u64,
    host: ArcStr,
    port: u16,
    /// The lookup counts against the connect's timeout.
    deadline: Instant,
    timeout: Duration,
    nodelay: bool,
    tls: bool,
    reply: ReplyFn,
}

/// What `tcp_listen` hands to the resolver's continuation.
struct ListenStart {
    id: u64,
    host: String,
    port: u16,
    nodelay: bool,
    tls: Option<Arc<rustls::ServerConfig>>,
    reply: ReplyFn,
}

/// The TCP registries (under the state lock; each socket behind its own).
pub(crate) type Tcp = Sockets<Listener, Conn, Dial>;

fn listener_full(max: usize) -> Reply {
    err(
        "RegistryFull",
        format!(
            "TCP listener registry retained listener limit of {max} reached; release closed TCP listeners before starting another listener"
        ),
    )
}

fn unknown_conn(id: u64) -> Reply {
    err("UnknownTcpSocket", format!("unknown TCP socket: {id}"))
}

fn unknown_listener(id: u64) -> Reply {
    err("UnknownTcpListener", format!("unknown TCP listener: {id}"))
}

fn closed_read() -> Reply {
    err("TcpSocketClosed", "cannot read from a closed TCP socket")
}

fn closed_write() -> Reply {
    err("TcpSocketClosed", "cannot write to a closed TCP socket")
}

fn listener_closed() -> Reply {
    err("TcpListenerClosed", "cannot accept from a closed TCP listener")
}

fn conn_full(max: usize) -> Reply {
    err(
        "RegistryFull",
        format!(
            "TCP socket registry retained connection limit of {max} reached; release closed TCP sockets before starting another connection"
        ),
    )
}

impl Listener {
    fn info(&self) -> ListenerInfo {
        ListenerInfo {
            id: self.id,
            host: self.host.clone(),
            port: self.port,
            started_at_ms: self.started_at_ms,
            status: self.status,
            local_addr: self.local_addr.map(|a| a.to_string()),
            error: self.error.clone(),
            accepted_connections: self.accepted,
        }
    }

    fn rearm(&self) {
        if let (Some(s), None) = (&self.socket, &self.backlog) {
            s.interest(!self.accepters.is_empty(), false);
        }
    }

    /// Hands connections to waiting accepters: those the kernel has, or on
    /// a TLS listener those whose handshakes finished.
    fn serve_accepters(&mut self, net: &Net, done: &mut Completed) {
        if let (Some(backlog), Some(socket)) = (self.backlog.as_deref_mut(), &self.socket) {
            let (nodelay, texts, accepted) = (self.nodelay, &mut self.texts, &mut self.accepted);
            backlog.serve(net, socket, &mut self.accepters, done, |conn, peer| {
                let Established::Tcp(link) = conn else { return err("TcpListenerError", "not a TCP connection") };
                let reply = net.tcp_adopt(nodelay, peer, texts, |_| Ok(link));
                if matches!(reply, Reply::Conn(_)) {
                    *accepted += 1;
                }
                reply
            });
            return;
        }
        loop {
            if self.accepters.is_empty() {
                break;
            }
            let Some(socket) = &self.socket else { return };
            match socket.get().accept() {
                Ok((stream, peer)) => {
                    let Some(a) = self.accepters.pop_front() else { return };
                    let reply = net.tcp_accepted(self.nodelay, stream, peer, &mut self.texts);
                    if matches!(reply, Reply::Conn(_)) {
                        self.accepted += 1;
                    }
                    done.answer(a.token, a.reply, reply);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    if let Some(a) = self.accepters.pop_front() {
                        done.answer(a.token, a.reply, err("SocketAcceptError", e.to_string()));
                    }
                }
            }
        }
        self.rearm();
    }

    /// Closes the listener and answers every accepter; the ids of the
    /// handshakes it dropped.
    fn close(&mut self, done: &mut Completed) -> Vec<u64> {
        self.socket = None;
        self.status = Status::Closed;
        for a in self.accepters.drain() {
            done.answer(a.token, a.reply, listener_closed());
        }
        self.backlog.as_mut().map(|b| b.close()).unwrap_or_default()
    }
}

impl Conn {
    /// The record of a connection around `stream`, its identity beside its
    /// lock; `texts`, for one a listener accepted, shares the texts it has
    /// in common with the one accepted before.
    fn new(id: u64, host: &str, port: u16, stream: Link, texts: &mut Texts) -> Shared<Conn> {
        stream.socket().edge(key(id, KIND_TCP_CONN));
        let identity = ConnIdentity {
            host: Texts::share(&mut texts.host, host.to_string()),
            port,
            started_at_ms: now_ms(),
            local_addr: stream.get().local_addr().ok().map(|a| Texts::share(&mut texts.local, a.to_string())),
            peer_addr: stream.get().peer_addr().ok().map(|a| ArcStr::from(a.to_string())),
        };
        let conn = Conn {
            id,
            status: Status::Connected,
            error: None,
            bytes_read: 0,
            bytes_written: 0,
            stream: Some(stream),
            kept: Vec::new(),
            ended: None,
            readers: Waiters::default(),
            writers: Waiters::default(),
            alarm: Alarm::default(),
        };
        share_lasting(conn, identity)
    }

    /// Its snapshot; `record` is its own (the snapshot shares its identity).
    fn info(&self, record: &Shared<Conn>) -> ConnInfo {
        ConnInfo {
            id: self.id,
            identity: ConnIdentityRef(record.clone()),
            status: self.status,
            error: self.error.clone(),
            bytes_read: self.bytes_read,
            bytes_written: self.bytes_written,
        }
    }

    fn rearm(&self) {
        if let Some(s) = &self.stream {
            s.socket().interest(!self.readers.is_empty(), !self.writers.is_empty());
        }
    }

    /// Drops the stream with `status` and answers every waiter.
    fn end(&mut self, status: Status, error: Option<String>, done: &mut Completed) {
        if let Some(mut s) = self.stream.take() {
            s.shutdown();
        }
        self.status = status;
        if error.is_some() {
            self.error = error.map(ArcStr::from);
        }
        self.kept = Vec::new();
        self.ended = None;
        self.alarm.silence(done);
        for r in self.readers.drain() {
            done.answer_alarmed(r.token, r.reply, closed_read());
        }
        for w in self.writers.drain() {
            done.answer_alarmed(w.token, w.reply, closed_write());
        }
    }

    /// Serves the first reader: one OS read (more while everything read is
    /// kept), or the end the peer left after kept bytes; `false` if it would
    /// block.
    fn read_once(&mut self, record: &Shared<Conn>, done: &mut Completed) -> bool {
        let Some(reader) = self.readers.front() else { return true };
        let max = reader.max_bytes;
        match self.ended.take().map(|end| *end) {
            Some(End::Eof) => return self.read_eof(record, done),
            Some(End::Error(message)) => return self.read_failed(message, done),
            None => {}
        }
        // A read that parks (the usual one, asked for before its data came)
        // tries nothing.
        if self.kept.is_empty() && self.stream.as_ref().is_some_and(Link::drained) {
            return false;
        }
        let mut chunk = std::mem::take(&mut self.kept);
        loop {
            // Whole characters first: read bytes that completed, or that a
            // cut at `max_bytes` left kept, go out without another read
            // (nothing to look at in the usual read, with nothing kept).
            if let Some((out, kept)) = (!chunk.is_empty()).then(|| take_whole(&chunk, max)).flatten() {
                self.kept = kept;
                self.deliver(record, out, done);
                return true;
            }
            let Some(stream) = self.stream.as_mut() else { return true };
            // `max_bytes` counts the kept bytes; a character longer than
            // `max_bytes` is completed one byte at a time.
            let want = max.saturating_sub(chunk.len()).max(1);
            // One scratch buffer per thread, grown to the largest read asked
            // for. With nothing kept (the usual case), what the read brings
            // goes out from it as the chunk's text: one copy.
            let result = SCRATCH.with_borrow_mut(|buf| {
                if buf.len() < want {
                    buf.resize(want, 0);
                }
                let n = stream.read(&mut buf[..want])?;
                if chunk.is_empty() && n > 0 {
                    if let Some((out, kept)) = take_whole(&buf[..n], max) {
                        return Ok(Scratch::Whole(out, kept));
                    }
                }
                chunk.extend_from_slice(&buf[..n]);
                Ok::<_, io::Error>(Scratch::Kept(n))
            });
            let result = match result {
                Ok(Scratch::Whole(out, kept)) => {
                    self.kept = kept;
                    self.deliver(record, out, done);
                    return true;
                }
                Ok(Scratch::Kept(n)) => Ok(n),
                Err(e) => Err(e),
            };
            match result {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => {
                    self.kept = chunk;
                    return false;
                }
                Ok(0) if chunk.is_empty() => return self.read_eof(record, done),
                Err(e) if chunk.is_empty() => return self.read_failed(e.to_string(), done),
                Ok(0) => {
                    // The kept bytes can no longer complete: they go out
                    // (as U+FFFD), and the end with the next read.
                    self.ended = Some(Box::new(End::Eof));
                    self.deliver(record, Chunk::new(&chunk), done);
                    return true;
                }
                Err(e) => {
                    self.ended = Some(Box::new(End::Error(e.to_string())));
                    self.deliver(record, Chunk::new(&chunk), done);
                    return true;
                }
                // Delivered at the top of the loop, or everything read so
                // far is kept: read on.
                Ok(_) => {}
            }
        }
    }

    /// Answers the first reader with `chunk`.
    fn deliver(&mut self, record: &Shared<Conn>, chunk: Chunk, done: &mut Completed) {
        self.bytes_read += chunk.bytes as u64;
        if let Some(r) = self.readers.pop_front() {
            done.answer_alarmed(r.token, r.reply, Reply::Read(self.info(record), chunk));
        }
    }

    /// End of stream: the first reader gets the empty chunk of a closed
    /// connection, the others `TcpSocketClosed`.
    fn read_eof(&mut self, record: &Shared<Conn>, done: &mut Completed) -> bool {
        let reader = self.readers.pop_front();
        self.stream = None;
        self.status = Status::Closed;
        if let Some(r) = reader {
            done.answer_alarmed(r.token, r.reply, Reply::Read(self.info(record), Chunk::default()));
        }
        self.end(Status::Closed, None, done);
        true
    }

    /// A read error: the first reader gets it and the connection fails.
    fn read_failed(&mut self, message: String, done: &mut Completed) -> bool {
        if let Some(r) = self.readers.pop_front() {
            done.answer_alarmed(r.token, r.reply, err("TcpSocketError", message.clone()));
        }
        self.end(Status::Failed, Some(message), done);
        true
    }

    /// Writes as much as the socket takes for the first writer; `false` if
    /// it would block before the writer is done.
    fn write_some(&mut self, record: &Shared<Conn>, done: &mut Completed) -> bool {
        let Some(stream) = self.stream.as_mut() else { return true };
        let Some(w) = self.writers.front_mut() else { return true };
        let before = w.written;
        // Then the flush: TLS records of the data may still be to send.
        let mut flushed = false;
        while !flushed {
            let result = if w.written < w.data.len() {
                match stream.write(&w.data.as_bytes()[w.written..]) {
                    Ok(0) => Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => {
                        w.written += n;
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            } else {
                stream.flush().map(|()| flushed = true)
            };
            match result {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if w.written > before || w.progress.is_none() {
                        w.progress = Some(Instant::now());
                    }
                    return false;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let message = e.to_string();
                    if let Some(w) = self.writers.pop_front() {
                        done.answer_alarmed(w.token, w.reply, err("TcpSocketError", message.clone()));
                    }
                    self.end(Status::Failed, Some(message), done);
                    return true;
                }
            }
        }
        if let Some(w) = self.writers.pop_front() {
            self.bytes_written += w.data.len() as u64;
            let answer = if w.snapshot { Reply::Conn(self.info(record)) } else { Reply::Written };
            done.answer_alarmed(w.token, w.reply, answer);
        }
        true
    }

    /// The alarm rang at `now`: readers whose deadline passed get the empty
    /// chunk of a timeout, a writer that made no progress for
    /// `WRITE_TIMEOUT` fails the connection; then the alarm is set for the
    /// earliest deadline left.
    fn alarm_rang(&mut self, record: &Shared<Conn>, net: &Net, now: Instant, done: &mut Completed) {
        self.alarm.rang();
        while let Some(r) = self.readers.take_where(|r| r.deadline.is_some_and(|d| d <= now)) {
            done.answer_alarmed(r.token, r.reply, Reply::Read(self.info(record), Chunk::default()));
        }
        let stalled = |w: &Writer| w.progress.is_some_and(|p| p + WRITE_TIMEOUT <= now);
        if let Some(w) = self.writers.take_where(stalled) {
            done.answer_alarmed(w.token, w.reply, err("TcpSocketError", "timed out writing to TCP socket"));
            self.end(Status::Failed, Some("timed out writing to TCP socket".into()), done);
            return;
        }
        let readers = self.readers.iter().filter_map(|r| r.deadline);
        let writers = self.writers.iter().filter_map(|w| w.progress.map(|p| p + WRITE_TIMEOUT));
        if let Some(next) = readers.chain(writers).min() {
            self.alarm.by(net, next, KIND_TCP_CONN, self.id);
        }
        self.rearm();
    }

    /// Serves readers, then writers, as far as the socket allows.
    /// (`record` is its own, for the snapshots of the answers.)
    fn pump(&mut self, record: &Shared<Conn>, readable: bool, writable: bool, done: &mut Completed) {
        if readable {
            while !self.readers.is_empty() && self.stream.is_some() && self.read_once(record, done) {}
        }
        if writable {
            while !self.writers.is_empty() && self.stream.is_some() && self.write_some(record, done) {}
        }
        self.rearm();
    }
}

/// What a read into the scratch buffer made: a chunk to deliver (and the
/// bytes to keep), or `n` more bytes kept.
enum Scratch {
    Whole(Chunk, Vec<u8>),
    Kept(usize),
}

/// The chunk a read with `max` delivers from `bytes` (its leading whole
/// characters, see `within_max`) and the bytes it keeps for the next read;
/// `None` if `bytes` hold no whole character yet.
fn take_whole(bytes: &[u8], max: usize) -> Option<(Chunk, Vec<u8>)> {
    // The usual read: text that fits, validated once.
    if bytes.len() <= max {
        if let Ok(text) = std::str::from_utf8(bytes) {
            return (!text.is_empty()).then(|| (Chunk { text: ArcStr::from(text), bytes: bytes.len() }, Vec::new()));
        }
    }
    let whole = complete_prefix(bytes);
    if whole == 0 {
        return None;
    }
    let cut = within_max(&bytes[..whole], max);
    Some((Chunk::new(&bytes[..cut]), bytes[cut..].to_vec()))
}

/// How many leading bytes of `bytes` (all whole characters or invalid
/// sequences) a read with `max` delivers: the whole units that fit, or the
/// first unit alone if none does (DIALECT 14: at most `max` bytes, or one
/// whole character past it). An invalid sequence is one unit, as it
/// decodes to one U+FFFD: kept bytes that a later byte made invalid go out
/// alone, not with the bytes after them.
fn within_max(bytes: &[u8], max: usize) -> usize {
    if bytes.len() <= max {
        return bytes.len();
    }
    let mut end = 0;
    while end < bytes.len() {
        let rest = &bytes[end..];
        let unit = match std::str::from_utf8(&rest[..rest.len().min(4)]) {
            Ok(text) => text.chars().next().map_or(rest.len(), char::len_utf8),
            Err(e) if e.valid_up_to() > 0 => std::str::from_utf8(&rest[..e.valid_up_to()])
                .ok()
                .and_then(|t| t.chars().next())
                .map_or(1, char::len_utf8),
            Err(e) => e.error_len().unwrap_or(rest.len().min(4)),
        };
        if end + unit > max {
            return if end == 0 { unit } else { end };
        }
        end += unit;
    }
    end
}

/// How many leading bytes of `bytes` end on a character boundary: all of
/// them, unless they end with the start of a character that may still
/// complete (`Utf8Error::error_len()` is `None`). Invalid bytes count as
/// complete (they decode to U+FFFD). Only the last three bytes can hold such
/// a start, and no character before it can swallow its lead byte.
pub(crate) fn complete_prefix(bytes: &[u8]) -> usize {
    let len = bytes.len();
    let Some(lead) = (len.saturating_sub(3)..len).rev().find(|&i| bytes[i] & 0xc0 != 0x80) else { return len };
    match std::str::from_utf8(&bytes[lead..]) {
        Err(e) if e.valid_up_to() == 0 && e.error_len().is_none() => lead,
        _ => len,
    }
}

impl Socket for Listener {
    type Lasting = ();

    fn shut(&mut self, done: &mut Completed) {
        self.close(done);
    }
}

impl Socket for Conn {
    type Lasting = ConnIdentity;

    fn shut(&mut self, done: &mut Completed) {
        self.end(Status::Closed, None, done);
    }
}

impl Socket for Dial {
    type Lasting = ();

    fn shut(&mut self, done: &mut Completed) {
        self.connecting = None;
        self.securing = None;
        self.answer(err("TcpSocketError", "connect cancelled: every socket was closed"), done);
    }
}

impl Dial {
    /// Applies a step of the connect: arms the timeout of a new attempt, or
    /// answers the `tcp_connect` with the connection or the error.
    fn progress(&mut self, net: &Net, progress: Progress, done: &mut Completed) {
        let (id, token) = (self.id, self.token);
        match progress {
            Progress::Waiting => {}
            Progress::Started(deadline) => {
                net.arm(deadline, Action::Expire { kind: KIND_TCP_CONN, id, token });
            }
            Progress::Connected(stream) => {
                self.connecting = None;
                if let Err(e) = stream.get().set_nodelay(self.nodelay) {
                    return self.fail(e.to_string(), net, done);
                }
                if !self.tls {
                    return self.connected(Link::plain(stream), net, done);
                }
                // The TLS handshake gets the connect timeout again, from now.
                net.arm(Instant::now() + self.timeout, Action::Expire { kind: KIND_TCP_CONN, id, token });
                match net.tls_client(stream, &self.host) {
                    Ok(link) => self.secure(net, link, done),
                    Err(reason) => self.fail(format!("TLS handshake failed: {reason}"), net, done),
                }
            }
            Progress::Failed(error) => {
                self.fail(error.unwrap_or_else(|| "TCP connection failed".to_string()), net, done);
            }
        }
    }

    /// Runs the TLS handshake as far as it goes.
    fn secure(&mut self, net: &Net, mut link: Link, done: &mut Completed) {
        match link.handshake() {
            Ok(false) => self.securing = Some(link),
            Ok(true) => self.connected(link, net, done),
            Err(e) => self.fail(format!("TLS handshake failed: {e}"), net, done),
        }
    }

    /// Retains the connection and answers the `tcp_connect` with it.
    fn connected(&mut self, link: Link, net: &Net, done: &mut Completed) {
        let conn = Conn::new(self.id, &self.host, self.port, link, &mut Texts::default());
        let info = hold(&conn).info(&conn);
        let mut state = net.lock();
        state.tcp.dials.remove(&self.id);
        state.tcp.conns.settle(self.id, Some(conn));
        drop(state);
        self.answer(Reply::Conn(info), done);
    }

    /// Gives up the connect with a `TcpSocketError` Result.
    fn fail(&mut self, message: String, net: &Net, done: &mut Completed) {
        let mut state = net.lock();
        if state.tcp.dials.remove(&self.id).is_some() {
            state.tcp.conns.settle(self.id, None);
        }
        drop(state);
        self.answer(err("TcpSocketError", message), done);
    }

    fn answer(&mut self, answer: Reply, done: &mut Completed) {
        if self.reply.is_some() {
            done.answer(self.token, self.reply.take(), answer);
        }
    }
}

impl Net {
    fn tcp_listener_of(&self, id: u64) -> Option<Shared<Listener>> {
        self.find(|state| &state.tcp.listeners, id)
    }

    fn tcp_conn_of(&self, id: u64) -> Option<Shared<Conn>> {
        self.find(|state| &state.tcp.conns, id)
    }

    /// Closes everything; the retained ids, listeners first.
    pub(crate) fn tcp_close_all(&self, done: &mut Completed) -> (Vec<u64>, Vec<u64>) {
        let taken = self.lock().tcp.take_all();
        taken.shut(done)
    }

    /// The records of the TCP connections `events` are for, into `found`
    /// (by position), under one lock: every record is asked for
    /// (`Registry::ask`) before the first is counted, so that their cache
    /// misses overlap instead of each count waiting for its own (a
    /// record's count and lock are cold when its event comes, at 1,000
    /// connections).
    pub(crate) fn tcp_conns_ahead(&self, events: &[Ready], found: &mut [Option<Shared<Conn>>]) {
        let conn = |ev: &Ready| {
            let id = (ev.key >> 2) as u64;
            (ev.key & 3 == KIND_TCP_CONN && !crate::backlog::is_handshake(id)).then_some(id)
        };
        let state = self.lock();
        for id in events.iter().filter_map(conn) {
            state.tcp.conns.ask(id);
        }
        for (ev, slot) in events.iter().zip(found) {
            *slot = conn(ev).and_then(|id| state.tcp.conns.get(id));
        }
    }

    /// Readiness reported by the poller for socket `id` of registry `kind`;
    /// `found`: its connection's record, if looked up already.
    pub(crate) fn tcp_event(&self, kind: usize, id: u64, ev: Ready, found: Option<Shared<Conn>>, done: &mut Completed) {
        let (readable, writable) = (ev.readable, ev.writable);
        if kind == KIND_TCP_LISTENER {
            let Some(l) = self.tcp_listener_of(id) else { return };
            let mut l = hold(&l);
            if let Some(s) = &l.socket {
                s.fired(readable, writable);
            }
            if readable {
                l.serve_accepters(self, done);
            } else {
                l.rearm();
            }
            return;
        }
        if crate::backlog::is_handshake(id) {
            self.tcp_handshake_event(id, None, done);
            return;
        }
        if let Some(record) = found.or_else(|| self.tcp_conn_of(id)) {
            let mut c = hold(&record);
            if let Some(s) = &c.stream {
                s.socket().fired_by(ev);
            }
            c.pump(&record, readable, writable, done);
            return;
        }
        let Some(d) = self.lock().tcp.dials.get(&id).cloned() else { return };
        let mut d = hold(&d);
        if let Some(link) = d.securing.take() {
            link.socket().fired(readable, writable);
            d.secure(self, link, done);
            return;
        }
        let Some(connecting) = d.connecting.as_mut() else { return };
        let progress = connecting.on_ready(self);
        d.progress(self, progress, done);
    }

    /// Readiness of server handshake `hid` of a TLS listener, or its
    /// deadline (`timed_out`, with the timer's token).
    fn tcp_handshake_event(&self, hid: u64, timed_out: Option<u64>, done: &mut Completed) {
        let listener = {
            let state = self.lock();
            state.handshakes.listener_of.get(&hid).and_then(|id| state.tcp.listeners.get(*id))
        };
        let Some(l) = listener else { return };
        let mut l = hold(&l);
        if let Some(backlog) = l.backlog.as_deref_mut() {
            backlog.on_handshake(self, hid, timed_out);
        }
        l.serve_accepters(self, done);
    }

    /// A waiter's timer expired: answer it if it still waits.
    pub(crate) fn tcp_timeout(&self, kind: usize, id: u64, token: u64, done: &mut Completed) {
        if kind == KIND_TCP_LISTENER {
            let Some(l) = self.tcp_listener_of(id) else { return };
            let mut l = hold(&l);
            if l.backlog.as_deref_mut().is_some_and(|b| b.on_timeout(token)) {
                l.serve_accepters(self, done);
            } else if let Some(a) = l.accepters.take_where(|a| a.token == token) {
                a.timed_out(done);
                l.rearm();
            }
            return;
        }
        if crate::backlog::is_handshake(id) {
            self.tcp_handshake_event(id, Some(token), done);
            return;
        }
        let Some(d) = self.lock().tcp.dials.get(&id).cloned() else { return };
        let mut d = hold(&d);
        if d.token != token {
            return;
        }
        if d.securing.take().is_some() {
            d.fail("TLS handshake failed: handshake timed out".into(), self, done);
            return;
        }
        let Some(connecting) = d.connecting.as_mut() else { return };
        let progress = connecting.on_timeout(self);
        d.progress(self, progress, done);
    }

    /// The alarm of connection `id` rang.
    pub(crate) fn tcp_alarm(&self, id: u64, done: &mut Completed) {
        if let Some(c) = self.tcp_conn_of(id) {
            hold(&c).alarm_rang(&c, self, Instant::now(), done);
        }
    }

    /// Retains a stream a plain listener accepted as a new connection.
    fn tcp_accepted(&self, nodelay: bool, stream: TcpStream, peer: SocketAddr, texts: &mut Texts) -> Reply {
        if let Err(e) = stream.set_nonblocking(true) {
            return err("TcpListenerError", e.to_string());
        }
        let register =
            |id| Registered::new(stream, self.poller.registry.clone(), key(id, KIND_TCP_CONN)).map(Link::plain);
        self.tcp_adopt(nodelay, peer, texts, register)
    }

    /// Retains a connection a listener accepted (whose handshakes, if any,
    /// are done) under a new id; `link` makes its link given the id.
    fn tcp_adopt(
        &self,
        nodelay: bool,
        peer: SocketAddr,
        texts: &mut Texts,
        link: impl FnOnce(u64) -> io::Result<Link>,
    ) -> Reply {
        let Some(id) = self.lock().tcp.conns.reserve(self.max_sockets) else { return conn_full(self.max_sockets) };
        let link = link(id).and_then(|link| link.get().set_nodelay(nodelay).map(|()| link));
        let (conn, answer) = match link {
            Err(e) => (None, err("TcpListenerError", e.to_string())),
            Ok(link) => {
                let conn = Conn::new(id, &peer.ip().to_string(), peer.port(), link, texts);
                let info = hold(&conn).info(&conn);
                (Some(conn), Reply::Conn(info))
            }
        };
        self.lock().tcp.conns.settle(id, conn);
        answer
    }

    /// `tcp_listen`: resolves the host (see `Net::resolve_then`, at most
    /// `LISTEN_LOOKUP`), then binds.
    pub fn tcp_listen(
        self: &Arc<Self>,
        host: &str,
        port: u16,
        nodelay: bool,
        tls: Option<(&str, &str)>,
        reply: ReplyFn,
    ) -> Option<(ReplyFn, Reply)> {
        if let Err(denied) = self.policy.check(host, port) {
            return Some((reply, crate::denied("tcp_listen", &denied)));
        }
        let Some(id) = self.lock().tcp.listeners.reserve(self.max_sockets) else {
            return Some((reply, listener_full(self.max_sockets)));
        };
        let tls = match tls.map(|(cert, key)| crate::tls::server_config(cert, key)).transpose() {
            Ok(tls) => tls,
            Err(reason) => {
                self.lock().tcp.listeners.settle(id, None);
                return Some((reply, err("TcpListenerError", format!("TLS certificate or key not usable: {reason}"))));
            }
        };
        let start = ListenStart { id, host: host.to_string(), port, nodelay, tls, reply };
        self.resolve_then(lookup_host(host), port, LISTEN_LOOKUP, start, Net::tcp_bind)
    }

    /// Binds listener `start.id` to the first of the resolved addresses
    /// that the policy admits.
    fn tcp_bind(&self, start: ListenStart, addrs: Result<Vec<SocketAddr>, String>) -> Option<(ReplyFn, Reply)> {
        let ListenStart { id, host, port, nodelay, tls, reply } = start;
        let registered = addrs.and_then(|addrs| self.bind(&host, &addrs, key(id, KIND_TCP_LISTENER)));
        let (listener, answer) = match registered {
            Err(message) => (None, err("TcpListenerError", message)),
            Ok(socket) => {
                let local = socket.get().local_addr().ok();
                let backlog = tls.map(|tls| {
                    // Accepting eagerly: interest from the start.
                    socket.interest(true, false);
                    Box::new(Backlog::new(Handshaking {
                        listener: id,
                        kinds: (KIND_TCP_LISTENER, KIND_TCP_CONN),
                        error_kind: "TcpListenerError",
                        tls: Some(tls),
                        ws: None,
                    }))
                });
                let listener = Listener {
                    id,
                    host,
                    port: local.map_or(port, |a| a.port()),
                    started_at_ms: now_ms(),
                    status: Status::Listening,
                    local_addr: local,
                    error: None,
                    accepted: 0,
                    nodelay,
                    socket: Some(socket),
                    accepters: Waiters::default(),
                    texts: Texts::default(),
                    backlog,
                };
                let info = listener.info();
                (Some(share(listener)), Reply::Listener(Box::new(info)))
            }
        };
        self.lock().tcp.listeners.settle(id, listener);
        Some((reply, answer))
    }

    /// `tcp_listeners`.
    pub fn tcp_listeners(&self) -> Reply {
        let listeners = self.lock().tcp.listeners.all();
        Reply::Listeners(listeners.iter().map(|l| hold(l).info()).collect())
    }

    /// `tcp_listener`.
    pub fn tcp_listener(&self, id: u64) -> Reply {
        self.tcp_listener_of(id).map_or_else(|| unknown_listener(id), |l| Reply::Listener(Box::new(hold(&l).info())))
    }

    /// `tcp_accept`: the reply now, or `None` when `reply` will get it.
    pub fn tcp_accept<R: Replier>(self: &Arc<Self>, id: u64, timeout_ms: u64, reply: R) -> Option<(R, Reply)> {
        let Some(l) = self.tcp_listener_of(id) else { return Some((reply, unknown_listener(id))) };
        let token = crate::token();
        self.request(token, reply, |done, reply| {
            let mut l = hold(&l);
            if l.status != Status::Listening {
                return Some(listener_closed());
            }
            l.accepters.push_back(Accepter { token, timeout_ms, reply: None });
            l.serve_accepters(self, done);
            if let Some(a) = l.accepters.last_mut().filter(|a| a.token == token) {
                a.reply = reply.take().map(Replier::reply_fn);
                self.arm_timer(KIND_TCP_LISTENER, id, token, Duration::from_millis(timeout_ms));
            }
            None
        })
    }

    /// `tcp_listener_close`.
    pub fn tcp_listener_close(&self, id: u64) -> Reply {
        let Some(l) = self.tcp_listener_of(id) else { return unknown_listener(id) };
        self.with_done(|done| {
            let mut l = hold(&l);
            let handshakes = l.close(done);
            let mut state = self.lock();
            for hid in handshakes {
                state.handshakes.listener_of.remove(&hid);
            }
            Reply::Listener(Box::new(l.info()))
        })
    }

    /// `tcp_listener_release`.
    pub fn tcp_listener_release(&self, id: u64) -> Reply {
        let Some(l) = self.tcp_listener_of(id) else { return unknown_listener(id) };
        let l = hold(&l);
        if l.status == Status::Listening {
            return err(
                "TcpListenerOpen",
                format!("TCP listener {id} is still listening; close it before tcp_listener_release"),
            );
        }
        self.lock().tcp.listeners.remove(id);
        Reply::Released
    }

    /// `tcp_connect`: resolves the host (see `Net::resolve_then`; the
    /// lookup counts against `timeout_ms`), applies the address policy, then
    /// connects without blocking, answering when an address connects or all
    /// have failed.
    pub fn tcp_connect(
        self: &Arc<Self>,
        host: &str,
        port: u16,
        timeout_ms: u64,
        nodelay: bool,
        tls: bool,
        reply: ReplyFn,
    ) -> Option<(ReplyFn, Reply)> {
        if let Err(denied) = self.policy.check(host, port) {
            return Some((reply, crate::denied("tcp_connect", &denied)));
        }
        let Some(id) = self.lock().tcp.conns.reserve(self.max_sockets) else {
            return Some((reply, conn_full(self.max_sockets)));
        };
        let timeout = Duration::from_millis(timeout_ms);
        let deadline = Instant::now() + timeout;
        let start = DialStart { id, host: host.into(), port, deadline, timeout, nodelay, tls, reply };
        self.resolve_then(lookup_host(host), port, timeout, start, Net::tcp_dial)
    }

    /// Starts connecting `start.id` to the resolved addresses.
    fn tcp_dial(&self, start: DialStart, addrs: Result<Vec<SocketAddr>, String>) -> Option<(ReplyFn, Reply)> {
        let addrs = addrs.and_then(|addrs| self.policy.admit(&start.host, &addrs, true).map(|()| addrs));
        let addrs = match addrs {
            Ok(addrs) => addrs,
            Err(message) => {
                self.lock().tcp.conns.settle(start.id, None);
                return Some((start.reply, err("TcpSocketError", message)));
            }
        };
        let DialStart { id, host, port, deadline, timeout, nodelay, tls, reply } = start;
        let token = crate::token();
        let (connecting, securing) = (None, None);
        let dial =
            share(Dial { id, token, host, port, nodelay, tls, timeout, reply: Some(reply), connecting, securing });
        self.with_done(|done| {
            let mut d = hold(&dial);
            self.lock().tcp.dials.insert(id, dial.clone());
            let timeout = deadline.saturating_duration_since(Instant::now());
            let (connecting, progress) = Connecting::start(self, addrs, timeout, key(id, KIND_TCP_CONN));
            d.connecting = Some(connecting);
            d.progress(self, progress, done);
        });
        None
    }

    /// `tcp_connections`.
    pub fn tcp_connections(&self) -> Reply {
        let conns = self.lock().tcp.conns.all();
        Reply::Conns(conns.iter().map(|c| hold(c).info(c)).collect())
    }

    /// `tcp_connection`.
    pub fn tcp_connection(&self, id: u64) -> Reply {
        self.tcp_conn_of(id).map_or_else(|| unknown_conn(id), |c| Reply::Conn(hold(&c).info(&c)))
    }

    /// `tcp_write`: all of `data`, or an error; waits for writability.
    /// Answered with the connection's snapshot if `snapshot`, else
    /// `Reply::Written` (a script that drops the answer unseen makes none).
    pub fn tcp_write<R: Replier>(&self, id: u64, data: ArcStr, snapshot: bool, reply: R) -> Option<(R, Reply)> {
        let Some(record) = self.tcp_conn_of(id) else { return Some((reply, unknown_conn(id))) };
        let token = crate::token();
        self.request(token, reply, |done, reply| {
            let mut c = hold(&record);
            if c.stream.is_none() {
                return Some(closed_write());
            }
            c.writers.push_back(Writer { token, data, snapshot, written: 0, progress: None, reply: None });
            c.pump(&record, false, true, done);
            let conn = &mut *c;
            if let Some(w) = conn.writers.last_mut().filter(|w| w.token == token) {
                w.reply = reply.take().map(Replier::reply_fn);
                // A writer that waits has taken its progress (or none) now.
                let since = *w.progress.get_or_insert_with(Instant::now);
                conn.alarm.by(self, since + WRITE_TIMEOUT, KIND_TCP_CONN, id);
            }
            None
        })
    }

    /// `tcp_read`: a chunk of at most `max_bytes` (whole characters, see
    /// the module's invariants), waiting up to `timeout_ms` for data.
    pub fn tcp_read<R: Replier>(&self, id: u64, max_bytes: usize, timeout_ms: u64, reply: R) -> Option<(R, Reply)> {
        let Some(record) = self.tcp_conn_of(id) else { return Some((reply, unknown_conn(id))) };
        let token = crate::token();
        self.request(token, reply, |done, reply| {
            let mut c = hold(&record);
            if c.stream.is_none() {
                return Some(closed_read());
            }
            c.readers.push_back(Reader { token, max_bytes, deadline: None, reply: None });
            c.pump(&record, true, false, done);
            let conn = &mut *c;
            if let Some(r) = conn.readers.last_mut().filter(|r| r.token == token) {
                r.reply = reply.take().map(Replier::reply_fn);
                let deadline = Instant::now() + Duration::from_millis(timeout_ms);
                r.deadline = Some(deadline);
                conn.alarm.by(self, deadline, KIND_TCP_CONN, id);
            }
            None
        })
    }

    /// `tcp_close`.
    pub fn tcp_close(&self, id: u64) -> Reply {
        let Some(record) = self.tcp_conn_of(id) else { return unknown_conn(id) };
        self.with_done(|done| {
            let mut c = hold(&record);
            c.end(Status::Closed, None, done);
            Reply::Conn(c.info(&record))
        })
    }

    /// `tcp_release`.
    pub fn tcp_release(&self, id: u64) -> Reply {
        let Some(c) = self.tcp_conn_of(id) else { return unknown_conn(id) };
        let c = hold(&c);
        if c.status == Status::Connected {
            return err("TcpSocketOpen", format!("TCP socket {id} is still connected; close it before tcp_release"));
        }
        self.lock().tcp.conns.remove(id);
        Reply::Released
    }
}

#[cfg(test)]
mod tests {
    use super::{complete_prefix, within_max};
    use proptest::prelude::*;

    /// The definition: scan the whole input, skipping invalid sequences.
    fn by_scanning(bytes: &[u8]) -> usize {
        let mut pos = 0;
        loop {
            match std::str::from_utf8(&bytes[pos..]) {
                Ok(_) => return bytes.len(),
                Err(e) => match e.error_len() {
                    Some(len) => pos += e.valid_up_to() + len,
                    None => return pos + e.valid_up_to(),
                },
            }
        }
    }

    #[test]
    fn within_max_cuts_between_units() {
        for (bytes, max, want) in [
            (&b"abc"[..], 2, 2),
            (b"abc", 0, 1),
            ("é!".as_bytes(), 1, 2),
            ("aé".as_bytes(), 2, 1),
            (b"\xf0{", 1, 1),
            (b"\xf0{", 0, 1),
            (b"\xff\xc3(", 2, 2),
            (b"\xe2\x82(", 1, 2), // an invalid sequence is one unit
        ] {
            assert_eq!(within_max(bytes, max), want, "{bytes:?} max {max}");
        }
    }

    #[test]
    fn examples() {
        for (bytes, want) in [
            (&b""[..], 0),
            (b"a", 1),
            (b"a\xc3", 1),
            (b"\xc3", 0),
            (b"\xc3\xa9", 2),
            (b"\xe2\x82", 0),
            (b"\xf0\x9f\x98", 0),
            (b"\xf0\x9f\x98\x80", 4),
            (b"\xe2(", 2),
            (b"\xff", 1),
            (b"\x80\x80\x80", 3),
            (b"\xed\xa0", 2), // a surrogate's start can never complete
        ] {
            assert_eq!(complete_prefix(bytes), want, "{bytes:?}");
        }
    }

    proptest! {
        #[test]
        fn only_the_tail_matters(text in ".{0,12}", junk in prop::collection::vec(any::<u8>(), 0..8), cut in 0usize..64) {
            let mut bytes = text.into_bytes();
            bytes.extend(junk);
            bytes.truncate(cut.min(bytes.len()));
            prop_assert_eq!(complete_prefix(&bytes), by_scanning(&bytes));
        }
    }
}
