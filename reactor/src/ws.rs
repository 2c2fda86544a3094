//! WebSocket listeners and connections: `tungstenite` driven over the
//! reactor's non-blocking sockets (REFERENCE-SOCKETS §4.3, §6; DIALECT 7-9).
//!
//! Invariants:
//! * The server side (listeners, their handshakes and `ws_accept`) is in
//!   `ws/server.rs`; no peer can hold `ws_accept` (DIALECT 8).
//! * The client side never blocks: the URL is checked completely before
//!   anything else (DIALECT 9), the host is resolved off the workers with
//!   the connect timeout as its deadline, then a non-blocking connect (see
//!   `connect.rs`) with what the lookup left of that timeout, and the client
//!   handshakes resumed on readiness with the timeout again: for a `wss://`
//!   URL, TLS (verifying the server's certificate for the URL's host; a
//!   failure is `TLS handshake failed: REASON`, never plain text; DIALECT
//!   15), then the WebSocket handshake, both under that one deadline.
//! * A read takes exactly one message; `ws_read` over `max_bytes` discards
//!   the message and leaves the connection open; a Close frame (or the
//!   library's closed report) closes the connection.
//! * Closing answers every waiter at once (`WebSocketClosed`,
//!   `WebSocketListenerClosed`).
//! * tungstenite's output is flushed when a send waits, after a message
//!   whose reply it queued (a ping, a close), and while the socket refuses
//!   it (`WsConn::flush_blocked`, which also keeps write interest): output
//!   never waits for a readiness the connection does not ask for, and a
//!   round trip runs no flush with nothing to write.

mod server;

use crate::connect::{Connecting, Progress};
use crate::link::Link;
use crate::policy::lookup_host;
use crate::registry::{Socket, Sockets};
use crate::types::{now_ms, Replier, Reply, ReplyFn, Status, WsConnInfo, WsIdentity, WsIdentityRef, WsMessage};
use crate::waiters::Waiters;
use crate::{
    err, hold, key, share, share_lasting, Action, Alarm, Completed, Net, Shared, KIND_WS_CONN, KIND_WS_LISTENER,
};
use arcstr::ArcStr;
use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::client::ClientHandshake;
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

type Stream = Link;
type ClientMid = MidHandshake<ClientHandshake<Stream>>;
type ClientResult =
    Result<(WebSocket<Stream>, tungstenite::handshake::client::Response), HandshakeError<ClientHandshake<Stream>>>;

/// The largest message or frame a WebSocket accepts.
const MAX_MESSAGE: usize = 16 << 20;
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// The read buffer of a WebSocket, kept for as long as it lives (a larger
/// message grows it as needed). tungstenite's default, 128 KiB, would be
/// most of an idle connection's cost.
const READ_BUFFER: usize = 2048;

pub(crate) fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
        .read_buffer_size(READ_BUFFER)
        // No write buffering: a message goes to the socket at once, and an
        // idle connection holds no write buffer.
        .write_buffer_size(0)
}

fn unknown_conn(id: u64) -> Reply {
    err("UnknownWebSocket", format!("unknown WebSocket: {id}"))
}

fn closed_read() -> Reply {
    err("WebSocketClosed", "cannot read from a closed WebSocket")
}

fn closed_send() -> Reply {
    err("WebSocketClosed", "cannot send to a closed WebSocket")
}

fn conn_full(max: usize) -> Reply {
    err(
        "RegistryFull",
        format!(
            "WebSocket registry retained connection limit of {max} reached; release closed WebSockets before starting another connection"
        ),
    )
}

/// A stream that is never read or written: a client handshake started on it
/// only checks and formats the request.
struct NoStream;

impl io::Read for NoStream {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::ErrorKind::WouldBlock.into())
    }
}

impl io::Write for NoStream {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::ErrorKind::WouldBlock.into())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Checks a `ws_connect` URL completely (scheme, host, port, path: all the
/// client handshake will need), before any connection is made: the URL the
/// handshake will request (the scheme lower-cased, as a URL parser does:
/// `WS://h/` is `ws://h/`), and whether it is `wss://`. The language has
/// checked its scheme, host and port with the reference's texts; what else
/// the handshake refuses is an `invalid WebSocket URL` here rather than a
/// failure after connecting.
fn check_url(url: &str) -> Result<(String, bool), String> {
    let invalid = |e: tungstenite::Error| format!("invalid WebSocket URL: {e}");
    let target = match url.split_once("://") {
        Some((scheme, rest)) => format!("{}://{rest}", scheme.to_ascii_lowercase()),
        None => url.to_string(),
    };
    let request = target.as_str().into_client_request().map_err(invalid)?;
    let tls = matches!(tungstenite::client::uri_mode(request.uri()).map_err(invalid)?, tungstenite::stream::Mode::Tls);
    ClientHandshake::start(NoStream, request, Some(config())).map_err(invalid)?;
    Ok((target, tls))
}

fn would_block(e: &tungstenite::Error) -> bool {
    matches!(e, tungstenite::Error::Io(io) if io.kind() == io::ErrorKind::WouldBlock || io.kind() == io::ErrorKind::Interrupted)
}

/// A `ws_connect` in progress (its id is reserved, not yet retained).
pub(crate) struct Dial {
    id: u64,
    token: u64,
    /// The URL as given (for the snapshot).
    url: String,
    /// The URL the handshake requests (its scheme lower-cased).
    target: String,
    host: String,
    /// A `wss://` URL: TLS before the handshake.
    tls: bool,
    timeout: Duration,
    /// `None` once answered.
    reply: Option<ReplyFn>,
    stage: Stage,
}

enum Stage {
    /// In the registry, before the first connect attempt (so no event of
    /// its socket is missed).
    Starting,
    Connecting(Connecting),
    /// The TLS handshake of a `wss://` URL (`None` only during a step).
    Tls(Option<Link>),
    /// The client handshake, between two steps (`None` only during one).
    Handshake(Option<ClientMid>),
}

/// What `ws_connect` hands to the resolver's continuation.
struct DialStart {
    id: u64,
    url: String,
    target: String,
    host: String,
    tls: bool,
    timeout: Duration,
    /// The lookup counts against the connect timeout.
    deadline: Instant,
    reply: ReplyFn,
}

// A waiter's reply function is `None` only while its own request serves
// the socket (`Net::request`).

struct Reader {
    token: u64,
    max_bytes: usize,
    /// When it times out (set when it starts to wait).
    deadline: Option<Instant>,
    reply: Option<ReplyFn>,
}

struct Sender {
    token: u64,
    /// Whether its answer carries the connection's snapshot.
    snapshot: bool,
    /// When it times out (set when it starts to wait).
    deadline: Option<Instant>,
    reply: Option<ReplyFn>,
}

pub(crate) struct WsConn {
    id: u64,
    status: Status,
    error: Option<ArcStr>,
    messages_sent: u64,
    messages_received: u64,
    socket: Option<WebSocket<Stream>>,
    readers: Waiters<Reader>,
    senders: Waiters<Sender>,
    /// Set no later than the deadline of any waiter.
    alarm: Alarm,
    /// tungstenite holds output the socket would not take yet (a send, or
    /// its reply to a ping or a close): flushed again, and write interest
    /// kept, until it goes. Otherwise nothing is flushed without a reason:
    /// a flush runs tungstenite's write path (~150 instructions) even with
    /// nothing to write, and an echo's round trip made four such.
    flush_blocked: bool,
}

/// The WebSocket registries (under the state lock; each socket behind its
/// own, a listener together with its server handshakes).
pub(crate) type Ws = Sockets<server::WsListener, WsConn, Dial>;

impl WsConn {
    /// Its snapshot; `record` is its own (the snapshot shares its identity).
    fn snapshot(&self, record: &Shared<WsConn>) -> WsConnInfo {
        WsConnInfo {
            id: self.id,
            identity: WsIdentityRef(record.clone()),
            status: self.status,
            error: self.error.clone(),
            messages_sent: self.messages_sent,
            messages_received: self.messages_received,
        }
    }

    fn rearm(&self) {
        if let Some(ws) = &self.socket {
            let write = !self.senders.is_empty() || self.flush_blocked;
            ws.get_ref().socket().interest(!self.readers.is_empty(), write);
        }
    }

    /// Flushes tungstenite's output (see `flush_blocked`).
    fn flush(&mut self) -> tungstenite::Result<()> {
        let Some(ws) = self.socket.as_mut() else { return Ok(()) };
        let result = ws.flush();
        self.flush_blocked = matches!(&result, Err(e) if would_block(e));
        result
    }

    /// Drops the socket (after a best-effort Close) and answers every waiter.
    fn end(&mut self, status: Status, error: Option<String>, done: &mut Completed) {
        self.alarm.silence(done);
        if let Some(mut ws) = self.socket.take() {
            if status == Status::Closed {
                let _ = ws.close(None);
                let _ = ws.flush();
            }
            ws.get_mut().shutdown();
        }
        self.status = status;
        if error.is_some() {
            self.error = error.map(ArcStr::from);
        }
        for r in self.readers.drain() {
            done.answer_alarmed(r.token, r.reply, closed_read());
        }
        for s in self.senders.drain() {
            done.answer_alarmed(s.token, s.reply, closed_send());
        }
    }

    /// Reads one message for the first reader; `false` if it would block.
    fn read_one(&mut self, record: &Shared<WsConn>, done: &mut Completed) -> bool {
        let Some(ws) = self.socket.as_mut() else { return true };
        let Some(max_bytes) = self.readers.front().map(|r| r.max_bytes) else { return true };
        let result = ws.read();
        // Answer pings (and flush a queued close reply) as soon as possible;
        // a data message queues no reply, and a read that would block
        // queued none either (a control frame is returned as a message).
        let queued_reply = match &result {
            Ok(Message::Text(_) | Message::Binary(_)) => false,
            Err(e) if would_block(e) => self.flush_blocked,
            _ => true,
        };
        if queued_reply {
            let _ = self.flush();
        }
        let message = match result {
            Err(e) if would_block(&e) => return false,
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                WsMessage { kind: arcstr::literal!("close"), text: ArcStr::from(""), bytes: 0 }
            }
            Err(e) => {
                let message = e.to_string();
                if let Some(r) = self.readers.pop_front() {
                    done.answer_alarmed(r.token, r.reply, err("WebSocketError", message.clone()));
                }
                self.end(Status::Failed, Some(message), done);
                return true;
            }
            Ok(Message::Text(t)) => {
                WsMessage { kind: arcstr::literal!("text"), bytes: t.len(), text: ArcStr::from(t.as_str()) }
            }
            Ok(Message::Binary(b)) => WsMessage::decoded(arcstr::literal!("binary"), &b),
            Ok(Message::Ping(b)) => WsMessage::decoded(arcstr::literal!("ping"), &b),
            Ok(Message::Pong(b)) => WsMessage::decoded(arcstr::literal!("pong"), &b),
            Ok(Message::Close(frame)) => {
                let reason = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                WsMessage { kind: arcstr::literal!("close"), bytes: reason.len(), text: ArcStr::from(reason) }
            }
            Ok(Message::Frame(_)) => WsMessage { kind: arcstr::literal!("frame"), text: ArcStr::from(""), bytes: 0 },
        };
        let Some(reader) = self.readers.pop_front() else { return true };
        if message.bytes > max_bytes {
            let text = format!("WebSocket message has {} bytes, exceeding max_bytes {max_bytes}", message.bytes);
            done.answer_alarmed(reader.token, reader.reply, err("WebSocketMessageTooLarge", text));
            return true;
        }
        if message.kind == "close" {
            self.socket = None;
            self.status = Status::Closed;
            done.answer_alarmed(reader.token, reader.reply, Reply::WsRead(self.snapshot(record), message));
            self.end(Status::Closed, None, done);
        } else {
            self.messages_received += 1;
            done.answer_alarmed(reader.token, reader.reply, Reply::WsRead(self.snapshot(record), message));
        }
        true
    }

    /// Flushes queued sends; answers the senders once all is written.
    fn flush_sends(&mut self, record: &Shared<WsConn>, done: &mut Completed) {
        if self.socket.is_none() || (self.senders.is_empty() && !self.flush_blocked) {
            return;
        }
        match self.flush() {
            Ok(()) => {
                for s in self.senders.drain() {
                    let answer = if s.snapshot { Reply::WsConn(self.snapshot(record)) } else { Reply::Written };
                    done.answer_alarmed(s.token, s.reply, answer);
                }
            }
            Err(e) if would_block(&e) => {}
            Err(e) => {
                let message = e.to_string();
                if let Some(s) = self.senders.pop_front() {
                    done.answer_alarmed(s.token, s.reply, err("WebSocketError", message.clone()));
                }
                self.end(Status::Failed, Some(message), done);
            }
        }
    }

    /// The alarm rang at `now`: readers whose deadline passed get a `none`
    /// message, a send that could not go out in `SEND_TIMEOUT` fails the
    /// connection; then the alarm is set for the earliest deadline left.
    fn alarm_rang(&mut self, record: &Shared<WsConn>, net: &Net, now: Instant, done: &mut Completed) {
        self.alarm.rang();
        while let Some(r) = self.readers.take_where(|r| r.deadline.is_some_and(|d| d <= now)) {
            let none = WsMessage { kind: arcstr::literal!("none"), text: ArcStr::from(""), bytes: 0 };
            done.answer_alarmed(r.token, r.reply, Reply::WsRead(self.snapshot(record), none));
        }
        if let Some(s) = self.senders.take_where(|s| s.deadline.is_some_and(|d| d <= now)) {
            done.answer_alarmed(s.token, s.reply, err("WebSocketError", "timed out sending a WebSocket message"));
            self.end(Status::Failed, Some("timed out sending a WebSocket message".into()), done);
            return;
        }
        let readers = self.readers.iter().filter_map(|r| r.deadline);
        if let Some(next) = readers.chain(self.senders.iter().filter_map(|s| s.deadline)).min() {
            self.alarm.by(net, next, KIND_WS_CONN, self.id);
        }
        self.rearm();
    }

    /// Serves senders, then readers, as far as the socket allows (`record`
    /// is its own, for the snapshots of the answers).
    fn pump(&mut self, record: &Shared<WsConn>, readable: bool, writable: bool, done: &mut Completed) {
        if writable || readable {
            self.flush_sends(record, done);
        }
        if readable {
            while !self.readers.is_empty() && self.socket.is_some() && self.read_one(record, done) {}
        }
        self.rearm();
    }
}

impl Socket for WsConn {
    type Lasting = WsIdentity;

    fn shut(&mut self, done: &mut Completed) {
        self.end(Status::Closed, None, done);
    }
}

impl Socket for Dial {
    type Lasting = ();

    fn shut(&mut self, done: &mut Completed) {
        self.stage = Stage::Starting;
        self.answer(err("WebSocketError", "connect cancelled: every socket was closed"), done);
    }
}

impl Dial {
    /// Advances the connect on readiness, or on the timeout of its current
    /// stage (`timed_out`).
    fn step(&mut self, net: &Net, timed_out: bool, done: &mut Completed) {
        match &mut self.stage {
            Stage::Starting => {}
            Stage::Connecting(c) => {
                let progress = if timed_out { c.on_timeout(net) } else { c.on_ready(net) };
                self.connect_progress(net, progress, done);
            }
            Stage::Tls(_) if timed_out => self.failed(net, "TLS handshake failed: handshake timed out".into(), done),
            Stage::Tls(link) => {
                let Some(link) = link.take() else { return };
                link.socket().fired(true, true);
                self.tls_step(net, link, done);
            }
            Stage::Handshake(_) if timed_out => self.failed(net, "WebSocket handshake timed out".into(), done),
            Stage::Handshake(mid) => {
                let Some(mid) = mid.take() else { return };
                mid.get_ref().get_ref().socket().fired(true, true);
                let result = mid.handshake();
                self.handshake_step(net, result, done);
            }
        }
    }

    fn connect_progress(&mut self, net: &Net, progress: Progress, done: &mut Completed) {
        let (id, token) = (self.id, self.token);
        match progress {
            Progress::Waiting => {}
            Progress::Started(deadline) => {
                net.arm(deadline, Action::Expire { kind: KIND_WS_CONN, id, token });
            }
            Progress::Failed(error) => {
                self.failed(net, error.unwrap_or_else(|| "WebSocket connection failed".into()), done);
            }
            Progress::Connected(stream) => {
                if let Err(e) = stream.get().set_nodelay(true) {
                    self.failed(net, e.to_string(), done);
                    return;
                }
                // The handshakes get the connect timeout again, from now.
                net.arm(Instant::now() + self.timeout, Action::Expire { kind: KIND_WS_CONN, id, token });
                if !self.tls {
                    self.start_handshake(net, Link::plain(stream), done);
                    return;
                }
                match net.tls_client(stream, &self.host) {
                    Ok(link) => self.tls_step(net, link, done),
                    Err(reason) => self.failed(net, format!("TLS handshake failed: {reason}"), done),
                }
            }
        }
    }

    /// Runs the TLS handshake as far as it goes; then the WebSocket's.
    fn tls_step(&mut self, net: &Net, mut link: Link, done: &mut Completed) {
        match link.handshake() {
            Ok(false) => self.stage = Stage::Tls(Some(link)),
            Ok(true) => self.start_handshake(net, link, done),
            Err(e) => self.failed(net, format!("TLS handshake failed: {e}"), done),
        }
    }

    fn start_handshake(&mut self, net: &Net, link: Link, done: &mut Completed) {
        self.stage = Stage::Handshake(None);
        let result = tungstenite::client::client_with_config(self.target.as_str(), link, Some(config()));
        self.handshake_step(net, result, done);
    }

    fn handshake_step(&mut self, net: &Net, result: ClientResult, done: &mut Completed) {
        match result {
            Err(HandshakeError::Interrupted(mid)) => {
                mid.get_ref().get_ref().socket().await_blocked();
                self.stage = Stage::Handshake(Some(mid));
            }
            Err(HandshakeError::Failure(e)) => self.failed(net, e.to_string(), done),
            Ok((ws, response)) => {
                let headers: BTreeMap<String, String> = response
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.as_str().to_ascii_lowercase(), v.to_str().unwrap_or("").to_string()))
                    .collect();
                let headers = headers.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
                let conn = WsConn::new(self.id, &self.url, &self.host, ws, response.status().as_u16(), headers);
                let info = hold(&conn).snapshot(&conn);
                self.settle(net, Some(conn));
                self.answer(Reply::WsConn(info), done);
            }
        }
    }

    fn failed(&mut self, net: &Net, message: String, done: &mut Completed) {
        self.settle(net, None);
        self.answer(err("WebSocketError", message), done);
    }

    /// Leaves the connects in progress: the connection is retained
    /// (`Some`), or its id given up.
    fn settle(&mut self, net: &Net, conn: Option<Shared<WsConn>>) {
        let mut state = net.lock();
        if state.ws.dials.remove(&self.id).is_some() {
            state.ws.conns.settle(self.id, conn);
        }
        self.stage = Stage::Starting;
    }

    fn answer(&mut self, answer: Reply, done: &mut Completed) {
        if self.reply.is_some() {
            done.answer(self.token, self.reply.take(), answer);
        }
    }
}

impl WsConn {
    /// The record of a WebSocket whose handshake is done, as connection
    /// `id`, its identity beside its lock.
    fn new(
        id: u64,
        url: &str,
        host: &str,
        ws: WebSocket<Stream>,
        response_status: u16,
        response_headers: Box<[(ArcStr, ArcStr)]>,
    ) -> Shared<WsConn> {
        ws.get_ref().socket().edge(key(id, KIND_WS_CONN));
        let identity = WsIdentity {
            url: url.into(),
            host: host.into(),
            started_at_ms: now_ms(),
            response_status,
            response_headers,
        };
        let conn = WsConn {
            id,
            status: Status::Connected,
            error: None,
            messages_sent: 0,
            messages_received: 0,
            socket: Some(ws),
            readers: Waiters::default(),
            senders: Waiters::default(),
            alarm: Alarm::default(),
            flush_blocked: false,
        };
        conn.rearm();
        share_lasting(conn, identity)
    }
}

impl Net {
    fn ws_conn_of(&self, id: u64) -> Option<Shared<WsConn>> {
        self.find(|state| &state.ws.conns, id)
    }

    /// Closes everything; the retained ids, listeners first.
    pub(crate) fn ws_close_all(&self, done: &mut Completed) -> (Vec<u64>, Vec<u64>) {
        let taken = {
            let mut state = self.lock();
            state.handshakes.clear();
            state.ws.take_all()
        };
        taken.shut(done)
    }

    pub(crate) fn ws_event(&self, kind: usize, id: u64, ev: crate::poller::Ready, done: &mut Completed) {
        let (readable, writable) = (ev.readable, ev.writable);
        if kind == KIND_WS_LISTENER {
            self.ws_listener_event(id, readable, done);
        } else if crate::backlog::is_handshake(id) {
            self.ws_handshake_event(id, None, done);
        } else if let Some(record) = self.ws_conn_of(id) {
            let mut c = hold(&record);
            if let Some(ws) = &c.socket {
                ws.get_ref().socket().fired_by(ev);
            }
            c.pump(&record, readable, writable, done);
        } else {
            let dial = self.lock().ws.dials.get(&id).cloned();
            if let Some(d) = dial {
                hold(&d).step(self, false, done);
            }
        }
    }

    pub(crate) fn ws_timeout(&self, kind: usize, id: u64, token: u64, done: &mut Completed) {
        if kind == KIND_WS_LISTENER {
            self.ws_listener_timeout(id, token, done);
            return;
        }
        if crate::backlog::is_handshake(id) {
            self.ws_handshake_event(id, Some(token), done);
            return;
        }
        let Some(d) = self.lock().ws.dials.get(&id).cloned() else { return };
        let mut d = hold(&d);
        if d.token == token {
            d.step(self, true, done);
        }
    }

    /// The alarm of connection `id` rang.
    pub(crate) fn ws_alarm(&self, id: u64, done: &mut Completed) {
        if let Some(c) = self.ws_conn_of(id) {
            hold(&c).alarm_rang(&c, self, Instant::now(), done);
        }
    }

    /// `ws_connect`: checks the whole URL, resolves the host (see
    /// `Net::resolve_then`; the lookup counts against `timeout_ms`), applies
    /// the address policy, connects and runs the client handshake without
    /// blocking. `host` is the URL's host, lower-cased (an IPv6 one
    /// bracketed), and `port` its port or the scheme's.
    pub fn ws_connect(
        self: &Arc<Self>,
        url: &str,
        host: &str,
        port: u16,
        timeout_ms: u64,
        reply: ReplyFn,
    ) -> Option<(ReplyFn, Reply)> {
        let (target, tls) = match check_url(url) {
            Ok(checked) => checked,
            Err(message) => return Some((reply, err("SocketRequestError", message))),
        };
        if let Err(denied) = self.policy.check(host, port) {
            return Some((reply, crate::denied("ws_connect", &denied)));
        }
        let Some(id) = self.lock().ws.conns.reserve(self.max_sockets) else {
            return Some((reply, conn_full(self.max_sockets)));
        };
        let timeout = Duration::from_millis(timeout_ms);
        let deadline = Instant::now() + timeout;
        let start =
            DialStart { id, url: url.to_string(), target, host: host.to_string(), tls, timeout, deadline, reply };
        self.resolve_then(lookup_host(host), port, timeout, start, Net::ws_dial)
    }

    /// Starts connecting `start.id` to the resolved addresses.
    fn ws_dial(&self, start: DialStart, addrs: Result<Vec<SocketAddr>, String>) -> Option<(ReplyFn, Reply)> {
        let addrs = addrs.and_then(|addrs| self.policy.admit(&start.host, &addrs, true).map(|()| addrs));
        let addrs = match addrs {
            Ok(addrs) => addrs,
            Err(message) => {
                self.lock().ws.conns.settle(start.id, None);
                return Some((start.reply, err("WebSocketError", message)));
            }
        };
        let DialStart { id, url, target, host, tls, timeout, deadline, reply } = start;
        let token = crate::token();
        let dial =
            share(Dial { id, token, url, target, host, tls, timeout, reply: Some(reply), stage: Stage::Starting });
        self.with_done(|done| {
            let mut d = hold(&dial);
            self.lock().ws.dials.insert(id, dial.clone());
            let left = deadline.saturating_duration_since(Instant::now());
            let (connecting, progress) = Connecting::start(self, addrs, left, key(id, KIND_WS_CONN));
            d.stage = Stage::Connecting(connecting);
            d.connect_progress(self, progress, done);
        });
        None
    }

    /// `ws_connections`.
    pub fn ws_connections(&self) -> Reply {
        let conns = self.lock().ws.conns.all();
        Reply::WsConns(conns.iter().map(|c| hold(c).snapshot(c)).collect())
    }

    /// `ws_connection`.
    pub fn ws_connection(&self, id: u64) -> Reply {
        self.ws_conn_of(id).map_or_else(|| unknown_conn(id), |c| Reply::WsConn(hold(&c).snapshot(&c)))
    }

    /// `ws_send`: one text message; answered with the connection's snapshot
    /// if `snapshot`, else `Reply::Written`.
    pub fn ws_send<R: Replier>(&self, id: u64, message: ArcStr, snapshot: bool, reply: R) -> Option<(R, Reply)> {
        let Some(record) = self.ws_conn_of(id) else { return Some((reply, unknown_conn(id))) };
        let token = crate::token();
        self.request(token, reply, |done, reply| {
            let mut c = hold(&record);
            let Some(ws) = c.socket.as_mut() else { return Some(closed_send()) };
            match ws.write(Message::Text(message.as_str().into())) {
                Ok(()) => {}
                Err(e) if would_block(&e) => {}
                Err(e) => {
                    let message = e.to_string();
                    c.end(Status::Failed, Some(message.clone()), done);
                    return Some(err("WebSocketError", message));
                }
            }
            c.messages_sent += 1;
            c.senders.push_back(Sender { token, snapshot, deadline: None, reply: None });
            c.flush_sends(&record, done);
            c.rearm();
            let conn = &mut *c;
            if let Some(s) = conn.senders.last_mut().filter(|s| s.token == token) {
                s.reply = reply.take().map(Replier::reply_fn);
                let deadline = Instant::now() + SEND_TIMEOUT;
                s.deadline = Some(deadline);
                conn.alarm.by(self, deadline, KIND_WS_CONN, id);
            }
            None
        })
    }

    /// `ws_read`: one message, waiting up to `timeout_ms`.
    pub fn ws_read<R: Replier>(&self, id: u64, max_bytes: usize, timeout_ms: u64, reply: R) -> Option<(R, Reply)> {
        let Some(record) = self.ws_conn_of(id) else { return Some((reply, unknown_conn(id))) };
        let token = crate::token();
        self.request(token, reply, |done, reply| {
            let mut c = hold(&record);
            if c.socket.is_none() {
                return Some(closed_read());
            }
            c.readers.push_back(Reader { token, max_bytes, deadline: None, reply: None });
            c.pump(&record, true, false, done);
            let conn = &mut *c;
            if let Some(r) = conn.readers.last_mut().filter(|r| r.token == token) {
                r.reply = reply.take().map(Replier::reply_fn);
                let deadline = Instant::now() + Duration::from_millis(timeout_ms);
                r.deadline = Some(deadline);
                conn.alarm.by(self, deadline, KIND_WS_CONN, id);
            }
            None
        })
    }

    /// `ws_close`.
    pub fn ws_close(&self, id: u64) -> Reply {
        let Some(record) = self.ws_conn_of(id) else { return unknown_conn(id) };
        self.with_done(|done| {
            let mut c = hold(&record);
            c.end(Status::Closed, None, done);
            Reply::WsConn(c.snapshot(&record))
        })
    }

    /// `ws_release`.
    pub fn ws_release(&self, id: u64) -> Reply {
        let Some(c) = self.ws_conn_of(id) else { return unknown_conn(id) };
        let c = hold(&c);
        if c.status == Status::Connected {
            return err("WebSocketOpen", format!("WebSocket {id} is still connected; close it before ws_release"));
        }
        self.lock().ws.conns.remove(id);
        Reply::Released
    }
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn urls_are_checked_whole() {
        for (url, want) in [
            ("ws://h:1/x", Ok(("ws://h:1/x", false))),
            ("ws://h", Ok(("ws://h", false))),
            ("ws://h:1/x?q=1", Ok(("ws://h:1/x?q=1", false))),
            ("wss://h/x", Ok(("wss://h/x", true))),
            ("WSS://H/x", Ok(("wss://H/x", true))),
            ("Ws://h/x", Ok(("ws://h/x", false))),
            ("ws://[::1]:9/", Ok(("ws://[::1]:9/", false))),
            ("ws://h:1/a b", Err("invalid WebSocket URL: HTTP format error: invalid uri character")),
            ("ws://h:1/<x>", Err("invalid WebSocket URL: HTTP format error: invalid uri character")),
            ("ws://h:1/x\ny", Err("invalid WebSocket URL: HTTP format error: invalid uri character")),
        ] {
            let want = want.map(|(target, tls)| (target.to_string(), tls)).map_err(String::from);
            assert_eq!(check_url(url), want, "{url}");
        }
    }
}
