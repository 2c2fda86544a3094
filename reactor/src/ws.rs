//! WebSocket listeners and connections: `tungstenite` driven over the
//! reactor's non-blocking sockets (REFERENCE-SOCKETS §4.3, §6; DIALECT 7-9).
//!
//! Invariants:
//! * The server handshake never blocks: it resumes on readiness, with the
//!   Origin guard and the 16 MiB message and frame cap; its connection id is
//!   taken after the OS accept and burnt if the handshake fails.
//! * The client side never blocks either: a non-blocking connect (see
//!   `connect.rs`), then the client handshake resumed on readiness, each
//!   with the connect timeout.
//! * A read takes exactly one message; `ws_read` over `max_bytes` discards
//!   the message and leaves the connection open; a Close frame (or the
//!   library's closed report) closes the connection.
//! * Closing answers every waiter at once (`WebSocketClosed`,
//!   `WebSocketListenerClosed`).

use crate::connect::{Connecting, Progress};
use crate::registered::Registered;
use crate::types::{now_ms, Reply, ReplyFn, Status, WsConnInfo, WsMessage};
use crate::{err, key, Action, Completed, Net, KIND_WS_CONN, KIND_WS_LISTENER};
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tungstenite::handshake::client::ClientHandshake;
use tungstenite::handshake::server::{Callback, ErrorResponse, Request, Response, ServerHandshake};
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

type Stream = Registered<TcpStream>;
type Mid = MidHandshake<ServerHandshake<Stream, OriginGuard>>;
type ClientMid = MidHandshake<ClientHandshake<Stream>>;
type ClientResult =
    Result<(WebSocket<Stream>, tungstenite::handshake::client::Response), HandshakeError<ClientHandshake<Stream>>>;

/// The largest message or frame a WebSocket accepts.
const MAX_MESSAGE: usize = 16 << 20;
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

fn config() -> WebSocketConfig {
    WebSocketConfig {
        max_message_size: Some(MAX_MESSAGE),
        max_frame_size: Some(MAX_MESSAGE),
        // No write buffering: a message goes to the socket at once, and an
        // idle connection holds no write buffer.
        write_buffer_size: 0,
        ..WebSocketConfig::default()
    }
}

/// A 403 answer with `body` (the Origin guard's refusal).
fn forbidden(body: String) -> ErrorResponse {
    let mut r = ErrorResponse::new(Some(body));
    *r.status_mut() = tungstenite::http::StatusCode::FORBIDDEN;
    r
}

/// The Origin guard of `ws_accept`.
pub(crate) struct OriginGuard {
    allowed: Vec<String>,
}

impl Callback for OriginGuard {
    fn on_request(self, request: &Request, response: Response) -> Result<Response, ErrorResponse> {
        match request.headers().get("origin") {
            None => Ok(response),
            Some(v) => match v.to_str() {
                Err(_) => Err(forbidden("invalid Origin header value".into())),
                Ok(origin) if self.allowed.iter().any(|a| a == origin) => Ok(response),
                Ok(origin) => Err(forbidden(format!("WebSocket Origin is not allowed: {origin}"))),
            },
        }
    }
}

fn unknown_conn(id: u64) -> Reply {
    err("UnknownWebSocket", format!("unknown WebSocket: {id}"))
}

fn unknown_listener(id: u64) -> Reply {
    err("UnknownWebSocketListener", format!("unknown WebSocket listener: {id}"))
}

fn closed_read() -> Reply {
    err("WebSocketClosed", "cannot read from a closed WebSocket")
}

fn closed_send() -> Reply {
    err("WebSocketClosed", "cannot send to a closed WebSocket")
}

fn listener_closed() -> Reply {
    err("WebSocketListenerClosed", "cannot accept from a closed WebSocket listener")
}

fn conn_full(max: usize) -> Reply {
    err(
        "RegistryFull",
        format!(
            "WebSocket registry retained connection limit of {max} reached; release closed WebSockets before starting another connection"
        ),
    )
}

fn would_block(e: &tungstenite::Error) -> bool {
    matches!(e, tungstenite::Error::Io(io) if io.kind() == io::ErrorKind::WouldBlock || io.kind() == io::ErrorKind::Interrupted)
}

struct Accepter {
    token: u64,
    timeout_ms: u64,
    reply: ReplyFn,
}

/// A server handshake in progress for an accepted connection.
struct Handshake {
    mid: Option<Mid>,
    listener: u64,
    token: u64,
    reply: ReplyFn,
    host: String,
    url: String,
}

/// A `ws_connect` in progress (its id is reserved, not yet retained).
struct Dial {
    token: u64,
    url: String,
    host: String,
    timeout: Duration,
    reply: ReplyFn,
    stage: Stage,
}

enum Stage {
    Connecting(Connecting),
    /// The client handshake, between two steps (`None` only during one).
    Handshake(Option<ClientMid>),
}

/// What `ws_connect` hands to the resolver's continuation.
struct DialStart {
    id: u64,
    url: String,
    host: String,
    timeout: Duration,
    reply: ReplyFn,
}

pub(crate) struct WsListener {
    info: crate::types::ListenerInfo,
    local: Option<SocketAddr>,
    allowed_origins: Vec<String>,
    socket: Option<Registered<TcpListener>>,
    accepters: VecDeque<Accepter>,
}

struct Reader {
    token: u64,
    max_bytes: usize,
    reply: ReplyFn,
}

struct Sender {
    token: u64,
    reply: ReplyFn,
}

pub(crate) struct WsConn {
    info: WsConnInfo,
    socket: Option<WebSocket<Stream>>,
    readers: VecDeque<Reader>,
    senders: VecDeque<Sender>,
}

/// The WebSocket registries.
#[derive(Default)]
pub(crate) struct Ws {
    listeners: BTreeMap<u64, WsListener>,
    conns: BTreeMap<u64, WsConn>,
    handshakes: BTreeMap<u64, Handshake>,
    dials: BTreeMap<u64, Dial>,
    next_listener: u64,
    next_conn: u64,
    listeners_in_flight: usize,
    conns_in_flight: usize,
    /// Handshake deadlines to arm, moved into the timer heap by the caller.
    pub(crate) deadlines: Vec<(Instant, Action)>,
}

impl WsListener {
    fn snapshot(&self) -> crate::types::ListenerInfo {
        self.info.clone()
    }

    fn rearm(&self) {
        if let Some(s) = &self.socket {
            s.interest(!self.accepters.is_empty(), false);
        }
    }

    fn close(&mut self, done: &mut Completed) {
        self.socket = None;
        self.info.status = Status::Closed;
        for a in self.accepters.drain(..) {
            done.answer(a.token, a.reply, listener_closed());
        }
    }
}

impl WsConn {
    fn snapshot(&self) -> WsConnInfo {
        self.info.clone()
    }

    fn rearm(&self) {
        if let Some(ws) = &self.socket {
            ws.get_ref().interest(!self.readers.is_empty(), !self.senders.is_empty());
        }
    }

    /// Drops the socket (after a best-effort Close) and answers every waiter.
    fn end(&mut self, status: Status, error: Option<String>, done: &mut Completed) {
        if let Some(mut ws) = self.socket.take() {
            if status == Status::Closed {
                let _ = ws.close(None);
                let _ = ws.flush();
            }
        }
        self.info.status = status;
        if error.is_some() {
            self.info.error = error.map(Arc::from);
        }
        for r in self.readers.drain(..) {
            done.answer(r.token, r.reply, closed_read());
        }
        for s in self.senders.drain(..) {
            done.answer(s.token, s.reply, closed_send());
        }
    }

    /// Reads one message for the first reader; `false` if it would block.
    fn read_one(&mut self, done: &mut Completed) -> bool {
        let Some(ws) = self.socket.as_mut() else { return true };
        let Some(max_bytes) = self.readers.front().map(|r| r.max_bytes) else { return true };
        let result = ws.read();
        // Answer pings (and flush a queued close reply) as soon as possible.
        let _ = ws.flush();
        let message = match result {
            Err(e) if would_block(&e) => return false,
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                WsMessage { kind: "close", text: String::new(), bytes: 0 }
            }
            Err(e) => {
                let message = e.to_string();
                if let Some(r) = self.readers.pop_front() {
                    done.answer(r.token, r.reply, err("WebSocketError", message.clone()));
                }
                self.end(Status::Failed, Some(message), done);
                return true;
            }
            Ok(Message::Text(t)) => WsMessage { kind: "text", bytes: t.len(), text: t },
            Ok(Message::Binary(b)) => {
                WsMessage { kind: "binary", bytes: b.len(), text: String::from_utf8_lossy(&b).into() }
            }
            Ok(Message::Ping(b)) => {
                WsMessage { kind: "ping", bytes: b.len(), text: String::from_utf8_lossy(&b).into() }
            }
            Ok(Message::Pong(b)) => {
                WsMessage { kind: "pong", bytes: b.len(), text: String::from_utf8_lossy(&b).into() }
            }
            Ok(Message::Close(frame)) => {
                let reason = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                WsMessage { kind: "close", bytes: reason.len(), text: reason }
            }
            Ok(Message::Frame(_)) => WsMessage { kind: "frame", text: String::new(), bytes: 0 },
        };
        let Some(reader) = self.readers.pop_front() else { return true };
        if message.bytes > max_bytes {
            let text = format!("WebSocket message has {} bytes, exceeding max_bytes {max_bytes}", message.bytes);
            done.answer(reader.token, reader.reply, err("WebSocketMessageTooLarge", text));
            return true;
        }
        if message.kind == "close" {
            self.socket = None;
            self.info.status = Status::Closed;
            done.answer(reader.token, reader.reply, Reply::WsRead(self.snapshot(), message));
            self.end(Status::Closed, None, done);
        } else {
            self.info.messages_received += 1;
            done.answer(reader.token, reader.reply, Reply::WsRead(self.snapshot(), message));
        }
        true
    }

    /// Flushes queued sends; answers the senders once all is written.
    fn flush_sends(&mut self, done: &mut Completed) {
        let Some(ws) = self.socket.as_mut() else { return };
        match ws.flush() {
            Ok(()) => {
                for s in self.senders.drain(..) {
                    done.answer(s.token, s.reply, Reply::WsConn(self.info.clone()));
                }
            }
            Err(e) if would_block(&e) => {}
            Err(e) => {
                let message = e.to_string();
                if let Some(s) = self.senders.pop_front() {
                    done.answer(s.token, s.reply, err("WebSocketError", message.clone()));
                }
                self.end(Status::Failed, Some(message), done);
            }
        }
    }

    fn pump(&mut self, readable: bool, writable: bool, done: &mut Completed) {
        if writable || readable {
            self.flush_sends(done);
        }
        if readable {
            while !self.readers.is_empty() && self.socket.is_some() && self.read_one(done) {}
        }
        self.rearm();
    }
}

impl Ws {
    /// Retained WebSocket connections and listeners.
    pub(crate) fn counts(&self) -> (usize, usize) {
        (self.conns.len(), self.listeners.len())
    }

    /// Closes everything; the retained ids, listeners first.
    pub(crate) fn close_all(&mut self, done: &mut Completed) -> (Vec<u64>, Vec<u64>) {
        let listeners: Vec<u64> = self.listeners.keys().copied().collect();
        let conns: Vec<u64> = self.conns.keys().copied().collect();
        for l in self.listeners.values_mut() {
            l.close(done);
        }
        for c in self.conns.values_mut() {
            c.end(Status::Closed, None, done);
        }
        for (_, h) in std::mem::take(&mut self.handshakes) {
            done.answer(h.token, h.reply, listener_closed());
        }
        for (_, d) in std::mem::take(&mut self.dials) {
            self.conns_in_flight -= 1;
            done.answer(d.token, d.reply, err("WebSocketError", "connect cancelled: every socket was closed"));
        }
        self.listeners.clear();
        self.conns.clear();
        (listeners, conns)
    }

    pub(crate) fn on_event(
        &mut self,
        net: &Net,
        kind: usize,
        id: u64,
        readable: bool,
        writable: bool,
        done: &mut Completed,
    ) {
        if kind == KIND_WS_LISTENER {
            if let Some(s) = self.listeners.get(&id).and_then(|l| l.socket.as_ref()) {
                s.fired();
            }
            if readable {
                self.serve_accepters(net, id, done);
            }
        } else if self.handshakes.contains_key(&id) {
            self.continue_handshake(id, done);
        } else if self.dials.contains_key(&id) {
            self.dial_step(net, id, None, done);
        } else if let Some(c) = self.conns.get_mut(&id) {
            if let Some(ws) = &c.socket {
                ws.get_ref().fired();
            }
            c.pump(readable, writable, done);
        }
    }

    pub(crate) fn on_timeout(&mut self, net: &Net, kind: usize, id: u64, token: u64, done: &mut Completed) {
        if kind == KIND_WS_CONN && self.dials.get(&id).is_some_and(|d| d.token == token) {
            self.dial_step(net, id, Some(token), done);
            return;
        }
        if kind == KIND_WS_LISTENER {
            let Some(l) = self.listeners.get_mut(&id) else { return };
            if let Some(i) = l.accepters.iter().position(|a| a.token == token) {
                if let Some(a) = l.accepters.remove(i) {
                    let text = format!("timed out after {} ms waiting for socket connection", a.timeout_ms);
                    done.answer(a.token, a.reply, err("SocketAcceptTimeout", text));
                }
                l.rearm();
            }
            return;
        }
        if self.handshakes.get(&id).is_some_and(|h| h.token == token) {
            if let Some(h) = self.handshakes.remove(&id) {
                done.answer(h.token, h.reply, err("WebSocketListenerError", "WebSocket handshake timed out"));
            }
            return;
        }
        let Some(c) = self.conns.get_mut(&id) else { return };
        if let Some(i) = c.readers.iter().position(|r| r.token == token) {
            if let Some(r) = c.readers.remove(i) {
                let none = WsMessage { kind: "none", text: String::new(), bytes: 0 };
                done.answer(r.token, r.reply, Reply::WsRead(c.snapshot(), none));
            }
            c.rearm();
        } else if let Some(i) = c.senders.iter().position(|s| s.token == token) {
            if let Some(s) = c.senders.remove(i) {
                done.answer(s.token, s.reply, err("WebSocketError", "timed out sending a WebSocket message"));
            }
            c.end(Status::Failed, Some("timed out sending a WebSocket message".into()), done);
        }
    }

    /// Advances `ws_connect` `id` on readiness, or on the timeout of its
    /// current stage (`timed_out`).
    fn dial_step(&mut self, net: &Net, id: u64, timed_out: Option<u64>, done: &mut Completed) {
        let Some(d) = self.dials.get_mut(&id) else { return };
        match &mut d.stage {
            Stage::Connecting(c) => {
                let progress = if timed_out.is_some() { c.on_timeout(net) } else { c.on_ready(net) };
                self.connect_progress(id, progress, done);
            }
            Stage::Handshake(_) if timed_out.is_some() => {
                self.dial_failed(id, "WebSocket handshake timed out".into(), done);
            }
            Stage::Handshake(mid) => {
                let Some(mid) = mid.take() else { return };
                mid.get_ref().get_ref().fired();
                let result = mid.handshake();
                self.client_handshake_step(id, result, done);
            }
        }
    }

    fn connect_progress(&mut self, id: u64, progress: Progress, done: &mut Completed) {
        let Some(d) = self.dials.get_mut(&id) else { return };
        match progress {
            Progress::Waiting => {}
            Progress::Started(deadline) => {
                self.deadlines.push((deadline, Action::Expire { kind: KIND_WS_CONN, id, token: d.token }));
            }
            Progress::Failed(error) => {
                self.dial_failed(id, error.unwrap_or_else(|| "WebSocket connection failed".into()), done);
            }
            Progress::Connected(stream) => {
                if let Err(e) = stream.get().set_nodelay(true) {
                    self.dial_failed(id, e.to_string(), done);
                    return;
                }
                // The handshake gets the connect timeout again, from now.
                let deadline = Instant::now() + d.timeout;
                self.deadlines.push((deadline, Action::Expire { kind: KIND_WS_CONN, id, token: d.token }));
                d.stage = Stage::Handshake(None);
                let result = tungstenite::client::client_with_config(d.url.as_str(), stream, Some(config()));
                self.client_handshake_step(id, result, done);
            }
        }
    }

    fn client_handshake_step(&mut self, id: u64, result: ClientResult, done: &mut Completed) {
        match result {
            Err(HandshakeError::Interrupted(mid)) => {
                mid.get_ref().get_ref().await_blocked();
                if let Some(d) = self.dials.get_mut(&id) {
                    d.stage = Stage::Handshake(Some(mid));
                }
            }
            Err(HandshakeError::Failure(e)) => self.dial_failed(id, e.to_string(), done),
            Ok((ws, response)) => {
                let Some(d) = self.dials.remove(&id) else { return };
                self.conns_in_flight -= 1;
                let headers: BTreeMap<String, String> = response
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.as_str().to_ascii_lowercase(), v.to_str().unwrap_or("").to_string()))
                    .collect();
                let headers = headers.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
                let answer = self.adopt(id, d.url, d.host, ws, response.status().as_u16(), headers);
                done.answer(d.token, d.reply, answer);
            }
        }
    }

    fn dial_failed(&mut self, id: u64, message: String, done: &mut Completed) {
        if let Some(d) = self.dials.remove(&id) {
            self.conns_in_flight -= 1;
            done.answer(d.token, d.reply, err("WebSocketError", message));
        }
    }

    fn serve_accepters(&mut self, net: &Net, id: u64, done: &mut Completed) {
        loop {
            let Some(l) = self.listeners.get_mut(&id) else { return };
            if l.accepters.is_empty() {
                l.rearm();
                return;
            }
            let Some(socket) = &l.socket else { return };
            match socket.get().accept() {
                Ok((stream, peer)) => {
                    let Some(a) = l.accepters.pop_front() else { return };
                    self.start_handshake(net, id, stream, peer, a, done);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    l.rearm();
                    return;
                }
                Err(e) => {
                    if let Some(a) = l.accepters.pop_front() {
                        done.answer(a.token, a.reply, err("SocketAcceptError", e.to_string()));
                    }
                }
            }
        }
    }

    fn start_handshake(
        &mut self,
        net: &Net,
        listener: u64,
        stream: TcpStream,
        peer: SocketAddr,
        a: Accepter,
        done: &mut Completed,
    ) {
        if self.conns.len() + self.conns_in_flight >= net.max_sockets {
            done.answer(a.token, a.reply, conn_full(net.max_sockets));
            return;
        }
        let Some(l) = self.listeners.get(&listener) else { return };
        let url = format!("ws://{}", l.local.map(|a| a.to_string()).unwrap_or_default());
        let guard = OriginGuard { allowed: l.allowed_origins.clone() };
        let id = self.next_conn;
        if let Err(e) = stream.set_nonblocking(true).and_then(|()| stream.set_nodelay(true)) {
            done.answer(a.token, a.reply, err("WebSocketListenerError", e.to_string()));
            return;
        }
        let stream = match Registered::new(stream, net.poller.clone(), key(id, KIND_WS_CONN)) {
            Ok(s) => s,
            Err(e) => {
                done.answer(a.token, a.reply, err("WebSocketListenerError", e.to_string()));
                return;
            }
        };
        self.next_conn += 1;
        self.conns_in_flight += 1;
        let handshake =
            Handshake { mid: None, listener, token: a.token, reply: a.reply, host: peer.ip().to_string(), url };
        // The handshake gets a timeout of its own, as long as the accept's
        // (so the whole wait can approach twice `timeout_ms`, as in the
        // reference); a silent client cannot hold `ws_accept` forever.
        let deadline = Instant::now() + Duration::from_millis(a.timeout_ms);
        self.deadlines.push((deadline, Action::Expire { kind: KIND_WS_CONN, id, token: a.token }));
        let result = tungstenite::accept_hdr_with_config(stream, guard, Some(config()));
        self.handshakes.insert(id, handshake);
        self.handshake_step(id, result, done);
    }

    fn continue_handshake(&mut self, id: u64, done: &mut Completed) {
        let Some(mid) = self.handshakes.get_mut(&id).and_then(|h| h.mid.take()) else { return };
        mid.get_ref().get_ref().fired();
        let result = mid.handshake();
        self.handshake_step(id, result, done);
    }

    fn handshake_step(
        &mut self,
        id: u64,
        result: Result<WebSocket<Stream>, HandshakeError<ServerHandshake<Stream, OriginGuard>>>,
        done: &mut Completed,
    ) {
        match result {
            Err(HandshakeError::Interrupted(mid)) => {
                mid.get_ref().get_ref().await_blocked();
                if let Some(h) = self.handshakes.get_mut(&id) {
                    h.mid = Some(mid);
                }
            }
            Err(HandshakeError::Failure(e)) => {
                self.conns_in_flight -= 1;
                if let Some(h) = self.handshakes.remove(&id) {
                    done.answer(h.token, h.reply, err("WebSocketListenerError", e.to_string()));
                }
            }
            Ok(ws) => {
                self.conns_in_flight -= 1;
                let Some(h) = self.handshakes.remove(&id) else { return };
                if let Some(l) = self.listeners.get_mut(&h.listener) {
                    l.info.accepted_connections += 1;
                }
                let answer = self.adopt(id, h.url, h.host, ws, 101, Arc::new([]));
                done.answer(h.token, h.reply, answer);
            }
        }
    }

    /// Retains a WebSocket whose handshake is done as connection `id`.
    fn adopt(
        &mut self,
        id: u64,
        url: String,
        host: String,
        ws: WebSocket<Stream>,
        response_status: u16,
        response_headers: Arc<[(Arc<str>, Arc<str>)]>,
    ) -> Reply {
        let conn = WsConn {
            info: WsConnInfo {
                id,
                url: url.into(),
                host: host.into(),
                started_at_ms: now_ms(),
                status: Status::Connected,
                response_status,
                response_headers,
                error: None,
                messages_sent: 0,
                messages_received: 0,
            },
            socket: Some(ws),
            readers: VecDeque::new(),
            senders: VecDeque::new(),
        };
        conn.rearm();
        let info = conn.snapshot();
        self.conns.insert(id, conn);
        Reply::WsConn(info)
    }
}

impl Net {
    /// `ws_listen`.
    pub fn ws_listen(&self, host: &str, port: u16, allowed_origins: Vec<String>) -> Reply {
        if let Err(denied) = self.policy.check(host, port) {
            return crate::denied("ws_listen", &denied);
        }
        let id = {
            let mut state = self.lock();
            let ws = &mut state.ws;
            if ws.listeners.len() + ws.listeners_in_flight >= self.max_sockets {
                return err(
                    "RegistryFull",
                    format!(
                        "WebSocket listener registry retained listener limit of {} reached; release closed WebSocket listeners before starting another listener",
                        self.max_sockets
                    ),
                );
            }
            ws.listeners_in_flight += 1;
            ws.next_listener += 1;
            ws.next_listener - 1
        };
        let bound = self.bind(host, port, key(id, KIND_WS_LISTENER));
        let mut state = self.lock();
        state.ws.listeners_in_flight -= 1;
        match bound {
            Err(message) => err("WebSocketListenerError", message),
            Ok(socket) => {
                let local = socket.get().local_addr().ok();
                let listener = WsListener {
                    info: crate::types::ListenerInfo {
                        id,
                        host: host.to_string(),
                        port: local.map_or(port, |a| a.port()),
                        started_at_ms: now_ms(),
                        status: Status::Listening,
                        local_addr: local.map(|a| a.to_string()),
                        error: None,
                        accepted_connections: 0,
                    },
                    local,
                    allowed_origins,
                    socket: Some(socket),
                    accepters: VecDeque::new(),
                };
                let info = listener.snapshot();
                state.ws.listeners.insert(id, listener);
                Reply::Listener(info)
            }
        }
    }

    /// `ws_listeners`.
    pub fn ws_listeners(&self) -> Reply {
        Reply::Listeners(self.lock().ws.listeners.values().map(WsListener::snapshot).collect())
    }

    /// `ws_listener`.
    pub fn ws_listener(&self, id: u64) -> Reply {
        self.lock().ws.listeners.get(&id).map_or_else(|| unknown_listener(id), |l| Reply::Listener(l.snapshot()))
    }

    /// `ws_accept`: waits for a connection, then its server handshake.
    pub fn ws_accept(&self, id: u64, timeout_ms: u64, reply: ReplyFn) -> Option<(ReplyFn, Reply)> {
        self.with_state(|state, done| {
            let Some(l) = state.ws.listeners.get_mut(&id) else { return Some((reply, unknown_listener(id))) };
            if l.info.status != Status::Listening {
                return Some((reply, listener_closed()));
            }
            state.next_token += 1;
            let token = state.next_token;
            l.accepters.push_back(Accepter { token, timeout_ms, reply });
            state.ws.serve_accepters(self, id, done);
            state.arm_deadlines();
            let waiting = state.ws.listeners.get(&id).is_some_and(|l| l.accepters.iter().any(|a| a.token == token));
            if waiting {
                self.arm_timer(state, KIND_WS_LISTENER, id, token, Duration::from_millis(timeout_ms));
            }
            None
        })
    }

    /// `ws_listener_close`.
    pub fn ws_listener_close(&self, id: u64) -> Reply {
        self.with_state(|state, done| match state.ws.listeners.get_mut(&id) {
            None => unknown_listener(id),
            Some(l) => {
                l.close(done);
                Reply::Listener(l.snapshot())
            }
        })
    }

    /// `ws_listener_release`.
    pub fn ws_listener_release(&self, id: u64) -> Reply {
        let mut state = self.lock();
        match state.ws.listeners.get(&id) {
            None => unknown_listener(id),
            Some(l) if l.info.status == Status::Listening => err(
                "WebSocketListenerOpen",
                format!("WebSocket listener {id} is still listening; close it before ws_listener_release"),
            ),
            Some(_) => {
                state.ws.listeners.remove(&id);
                Reply::Released
            }
        }
    }

    /// `ws_connect`: resolves the host (see `Net::resolve_then`), connects
    /// and runs the client handshake without blocking.
    pub fn ws_connect(
        self: &Arc<Self>,
        url: &str,
        host: &str,
        port: u16,
        timeout_ms: u64,
        reply: ReplyFn,
    ) -> Option<(ReplyFn, Reply)> {
        if let Err(denied) = self.policy.check(host, port) {
            return Some((reply, crate::denied("ws_connect", &denied)));
        }
        let id = {
            let mut state = self.lock();
            let ws = &mut state.ws;
            if ws.conns.len() + ws.conns_in_flight >= self.max_sockets {
                return Some((reply, conn_full(self.max_sockets)));
            }
            ws.conns_in_flight += 1;
            ws.next_conn += 1;
            ws.next_conn - 1
        };
        let timeout = Duration::from_millis(timeout_ms);
        let start = DialStart { id, url: url.to_string(), host: host.to_string(), timeout, reply };
        let resolve_host = host.trim_start_matches('[').trim_end_matches(']');
        self.resolve_then(resolve_host, port, start, Net::ws_dial)
    }

    /// Starts connecting `start.id` to the resolved addresses.
    fn ws_dial(&self, start: DialStart, addrs: Result<Vec<SocketAddr>, String>) -> Option<(ReplyFn, Reply)> {
        let addrs = match addrs {
            Ok(addrs) => addrs,
            Err(message) => {
                self.lock().ws.conns_in_flight -= 1;
                return Some((start.reply, err("WebSocketError", message)));
            }
        };
        self.with_state(|state, done| {
            state.next_token += 1;
            let token = state.next_token;
            let DialStart { id, url, host, timeout, reply } = start;
            let (connecting, progress) = Connecting::start(self, addrs, timeout, key(id, KIND_WS_CONN));
            state.ws.dials.insert(id, Dial { token, url, host, timeout, reply, stage: Stage::Connecting(connecting) });
            state.ws.connect_progress(id, progress, done);
            state.arm_deadlines();
        });
        None
    }

    /// `ws_connections`.
    pub fn ws_connections(&self) -> Reply {
        Reply::WsConns(self.lock().ws.conns.values().map(WsConn::snapshot).collect())
    }

    /// `ws_connection`.
    pub fn ws_connection(&self, id: u64) -> Reply {
        self.lock().ws.conns.get(&id).map_or_else(|| unknown_conn(id), |c| Reply::WsConn(c.snapshot()))
    }

    /// `ws_send`: one text message.
    pub fn ws_send(&self, id: u64, message: String, reply: ReplyFn) -> Option<(ReplyFn, Reply)> {
        self.with_state(|state, done| {
            let Some(c) = state.ws.conns.get_mut(&id) else { return Some((reply, unknown_conn(id))) };
            let Some(ws) = c.socket.as_mut() else { return Some((reply, closed_send())) };
            match ws.write(Message::Text(message)) {
                Ok(()) => {}
                Err(e) if would_block(&e) => {}
                Err(e) => {
                    let message = e.to_string();
                    c.end(Status::Failed, Some(message.clone()), done);
                    return Some((reply, err("WebSocketError", message)));
                }
            }
            c.info.messages_sent += 1;
            state.next_token += 1;
            let token = state.next_token;
            c.senders.push_back(Sender { token, reply });
            c.flush_sends(done);
            let waiting = c.senders.iter().any(|s| s.token == token);
            c.rearm();
            if waiting {
                self.arm_timer(state, KIND_WS_CONN, id, token, SEND_TIMEOUT);
            }
            None
        })
    }

    /// `ws_read`: one message, waiting up to `timeout_ms`.
    pub fn ws_read(&self, id: u64, max_bytes: usize, timeout_ms: u64, reply: ReplyFn) -> Option<(ReplyFn, Reply)> {
        self.with_state(|state, done| {
            let Some(c) = state.ws.conns.get_mut(&id) else { return Some((reply, unknown_conn(id))) };
            if c.socket.is_none() {
                return Some((reply, closed_read()));
            }
            state.next_token += 1;
            let token = state.next_token;
            c.readers.push_back(Reader { token, max_bytes, reply });
            c.pump(true, false, done);
            if c.readers.iter().any(|r| r.token == token) {
                self.arm_timer(state, KIND_WS_CONN, id, token, Duration::from_millis(timeout_ms));
            }
            None
        })
    }

    /// `ws_close`.
    pub fn ws_close(&self, id: u64) -> Reply {
        self.with_state(|state, done| match state.ws.conns.get_mut(&id) {
            None => unknown_conn(id),
            Some(c) => {
                c.end(Status::Closed, None, done);
                Reply::WsConn(c.snapshot())
            }
        })
    }

    /// `ws_release`.
    pub fn ws_release(&self, id: u64) -> Reply {
        let mut state = self.lock();
        match state.ws.conns.get(&id) {
            None => unknown_conn(id),
            Some(c) if c.info.status == Status::Connected => {
                err("WebSocketOpen", format!("WebSocket {id} is still connected; close it before ws_release"))
            }
            Some(_) => {
                state.ws.conns.remove(&id);
                Reply::Released
            }
        }
    }

    /// Resolves `host:port` with the policy and binds the first address.
    pub(crate) fn bind(&self, host: &str, port: u16, key: usize) -> Result<Registered<TcpListener>, String> {
        let listener = self.policy.resolve(host, port).and_then(|addrs| {
            let mut last = None;
            for addr in addrs {
                match TcpListener::bind(addr) {
                    Ok(l) => return Ok(l),
                    Err(e) => last = Some(e.to_string()),
                }
            }
            Err(last.unwrap_or_else(|| format!("failed to bind socket listener for {host}:{port}")))
        })?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        Registered::new(listener, self.poller.clone(), key).map_err(|e| e.to_string())
    }
}
