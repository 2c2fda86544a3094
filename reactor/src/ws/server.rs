//! WebSocket listeners, their server handshakes and `ws_accept` (DIALECT 8:
//! no peer can hold `ws_accept`).
//!
//! Invariants:
//! * A listener accepts eagerly, whether or not anyone waits in
//!   `ws_accept`, and runs each connection's server handshake on the
//!   reactor at once, resumed on readiness, with the Origin guard, the
//!   16 MiB cap and a deadline of its own (`HANDSHAKE_DEADLINE` from the OS
//!   accept). A slow or silent client delays nobody else.
//! * A finished handshake (a WebSocket, or its failure as an error Result)
//!   waits in the listener's `ready` queue in finish order; `ws_accept`
//!   takes the oldest, and waiting accepters are served in the order they
//!   began to wait.
//! * At most `MAX_PENDING` connections per listener are in a handshake or
//!   in `ready`; beyond that the listener stops accepting (its interest is
//!   off) and new connections stay in the kernel's backlog.
//! * A connection gets its id, counts against `--max-sockets` and joins the
//!   registry only when `ws_accept` takes it (so ids follow accept order);
//!   until then its poller key is a handshake key (`HANDSHAKE` bit set), in
//!   the connection kind's key space.
//! * A malformed request is answered `400 Bad Request`, a refused Origin
//!   `403`; a deadline passing answers nothing.
//! * An OS accept error (too many open files) becomes the next
//!   `ws_accept`'s error Result (one at a time) and pauses accepting for
//!   `ACCEPT_BACKOFF`, so the reactor does not spin on it.
//! * A listener's handshakes are part of it, under its lock (a handshake
//!   step holds up only its own listener); the state records which
//!   listener each handshake belongs to (`Handshakes`), to route its
//!   events and deadline, until it finishes, times out or is dropped.
//! * Closing a listener drops its handshakes and unaccepted connections
//!   (they were never retained: no leak note) and answers its accepters.

use super::{config, conn_full, Stream, WsConn};
use crate::registered::Registered;
use crate::registry::Socket;
use crate::types::{now_ms, ListenerInfo, Replier, Reply, ReplyFn, SocketError, Status};
use crate::waiters::Waiters;
use crate::{err, hold, key, share, Action, Completed, Net, Shared, KIND_WS_CONN, KIND_WS_LISTENER};
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tungstenite::handshake::server::{Callback, ErrorResponse, Request, Response, ServerHandshake};
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::WebSocket;

type Mid = MidHandshake<ServerHandshake<Stream, OriginGuard>>;

/// Connections per listener in a handshake or waiting for `ws_accept`.
#[cfg(not(test))]
const MAX_PENDING: usize = 1024;
#[cfg(test)]
const MAX_PENDING: usize = 4;

/// How long a server handshake may take, from the OS accept (the unit
/// tests below use short values of this and of `MAX_PENDING`).
#[cfg(not(test))]
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);
#[cfg(test)]
const HANDSHAKE_DEADLINE: Duration = Duration::from_millis(300);

/// The pause in accepting after an OS accept error.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The bit that marks a handshake id (kept clear of connection ids, which
/// never get near it, and of the two bits of the poller key's kind).
const HANDSHAKE: u64 = 1 << 60;

/// The answer to a request the handshake could not read.
const BAD_REQUEST: &[u8] = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

/// Whether a poller id in the connection kind is a handshake's.
pub(crate) fn is_handshake(id: u64) -> bool {
    id & HANDSHAKE != 0
}

fn unknown_listener(id: u64) -> Reply {
    err("UnknownWebSocketListener", format!("unknown WebSocket listener: {id}"))
}

fn listener_closed() -> Reply {
    err("WebSocketListenerClosed", "cannot accept from a closed WebSocket listener")
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

struct Accepter {
    token: u64,
    timeout_ms: u64,
    /// `None` only while its own request serves the listener.
    reply: Option<ReplyFn>,
}

/// Which listener each server handshake in progress belongs to (under the
/// state lock: its events and deadline are routed there).
#[derive(Default)]
pub(crate) struct Handshakes {
    listener_of: BTreeMap<u64, u64>,
    next: u64,
}

impl Handshakes {
    pub(crate) fn clear(&mut self) {
        self.listener_of.clear();
    }
}

/// A server handshake in progress.
pub(crate) struct Handshake {
    /// `None` only during a step.
    mid: Option<Mid>,
    /// The token of its deadline timer.
    token: u64,
    peer: SocketAddr,
}

/// A connection whose handshake has finished, waiting for `ws_accept`.
enum Finished {
    Open(Box<WebSocket<Stream>>, SocketAddr),
    Failed(SocketError),
}

pub(crate) struct WsListener {
    info: ListenerInfo,
    local: Option<SocketAddr>,
    allowed_origins: Vec<String>,
    socket: Option<Registered<TcpListener>>,
    accepters: Waiters<Accepter>,
    /// Its handshakes in progress, by handshake id (a handshake's
    /// syscalls and parsing hold up this listener only).
    handshakes: BTreeMap<u64, Handshake>,
    ready: VecDeque<Finished>,
    /// The token of the timer that ends a pause after an accept error.
    backoff: Option<u64>,
}

impl WsListener {
    fn snapshot(&self) -> ListenerInfo {
        self.info.clone()
    }

    fn room(&self) -> bool {
        self.handshakes.len() + self.ready.len() < MAX_PENDING
    }

    /// Readable interest while it may accept: listening, not pausing, with
    /// room.
    fn rearm(&self) {
        if let Some(s) = &self.socket {
            s.interest(self.backoff.is_none() && self.room(), false);
        }
    }
}

/// What `ws_listen` hands to the resolver's continuation.
struct ListenStart {
    id: u64,
    host: String,
    port: u16,
    allowed_origins: Vec<String>,
    reply: ReplyFn,
}

impl WsListener {
    /// Readiness of the listening socket.
    fn on_event(&mut self, net: &Net, readable: bool, done: &mut Completed) {
        if let Some(s) = &self.socket {
            s.fired(readable, false);
        }
        if readable {
            self.accept_ready(net, done);
        } else {
            self.rearm();
        }
    }

    /// A listener timer: an accepter's timeout or the end of a pause.
    fn on_timeout(&mut self, net: &Net, token: u64, done: &mut Completed) {
        if self.backoff == Some(token) {
            self.backoff = None;
            self.accept_ready(net, done);
        } else if let Some(a) = self.accepters.take_where(|a| a.token == token) {
            let text = format!("timed out after {} ms waiting for socket connection", a.timeout_ms);
            done.answer(a.token, a.reply, err("SocketAcceptTimeout", text));
        }
    }

    /// Takes every connection the kernel has (while there is room) and
    /// starts its handshake.
    fn accept_ready(&mut self, net: &Net, done: &mut Completed) {
        loop {
            let Some(socket) = &self.socket else { return };
            if self.backoff.is_some() || !self.room() {
                self.rearm();
                return;
            }
            match socket.get().accept() {
                Ok((stream, peer)) => self.start_handshake(net, stream, peer, done),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.rearm();
                    return;
                }
                // The peer gave up before the accept: nothing to report.
                Err(e) if matches!(e.kind(), io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted) => {}
                Err(e) => {
                    let token = net.token();
                    self.backoff = Some(token);
                    let action = Action::Expire { kind: KIND_WS_LISTENER, id: self.info.id, token };
                    net.arm(Instant::now() + ACCEPT_BACKOFF, action);
                    let queued =
                        self.ready.iter().any(|f| matches!(f, Finished::Failed(e) if e.kind == "SocketAcceptError"));
                    if !queued {
                        self.ready.push_back(Finished::Failed(SocketError::new("SocketAcceptError", e.to_string())));
                    }
                    self.rearm();
                    self.serve_accepters(net, done);
                    return;
                }
            }
        }
    }

    /// Starts the handshake of a connection it accepted.
    fn start_handshake(&mut self, net: &Net, stream: TcpStream, peer: SocketAddr, done: &mut Completed) {
        let hid = {
            let mut state = net.lock();
            let hid = HANDSHAKE | state.handshakes.next;
            state.handshakes.next += 1;
            hid
        };
        let registered = stream
            .set_nonblocking(true)
            .and_then(|()| stream.set_nodelay(true))
            .and_then(|()| Registered::new(stream, net.poller.clone(), key(hid, KIND_WS_CONN)));
        let stream = match registered {
            Ok(s) => s,
            Err(e) => {
                self.ready.push_back(Finished::Failed(SocketError::new("WebSocketListenerError", e.to_string())));
                self.serve_accepters(net, done);
                return;
            }
        };
        stream.farewell(Some(BAD_REQUEST));
        let token = net.token();
        let guard = OriginGuard { allowed: self.allowed_origins.clone() };
        net.lock().handshakes.listener_of.insert(hid, self.info.id);
        net.arm(Instant::now() + HANDSHAKE_DEADLINE, Action::Expire { kind: KIND_WS_CONN, id: hid, token });
        self.handshakes.insert(hid, Handshake { mid: None, token, peer });
        let result = tungstenite::accept_hdr_with_config(stream, guard, Some(config()));
        self.handshake_step(net, hid, result, done);
    }

    /// Readiness of handshake `hid`.
    fn continue_handshake(&mut self, net: &Net, hid: u64, done: &mut Completed) {
        let Some(mid) = self.handshakes.get_mut(&hid).and_then(|h| h.mid.take()) else { return };
        mid.get_ref().get_ref().fired(true, true);
        let result = mid.handshake();
        self.handshake_step(net, hid, result, done);
    }

    /// The deadline of handshake `hid` passed.
    fn on_handshake_timeout(&mut self, net: &Net, hid: u64, token: u64, done: &mut Completed) {
        if self.handshakes.get(&hid).is_none_or(|h| h.token != token) {
            return;
        }
        let Some(h) = self.handshakes.remove(&hid) else { return };
        if let Some(mid) = &h.mid {
            mid.get_ref().get_ref().farewell(None);
        }
        let failed = SocketError::new("WebSocketListenerError", "WebSocket handshake timed out");
        self.finish(net, hid, Finished::Failed(failed), done);
    }

    fn handshake_step(
        &mut self,
        net: &Net,
        hid: u64,
        result: Result<WebSocket<Stream>, HandshakeError<ServerHandshake<Stream, OriginGuard>>>,
        done: &mut Completed,
    ) {
        let finished = match result {
            Err(HandshakeError::Interrupted(mid)) => {
                mid.get_ref().get_ref().await_blocked();
                if let Some(h) = self.handshakes.get_mut(&hid) {
                    h.mid = Some(mid);
                }
                return;
            }
            // The library dropped the stream, which sent `400 Bad Request`
            // unless an answer (the Origin guard's 403) had gone out.
            Err(HandshakeError::Failure(e)) => {
                Finished::Failed(SocketError::new("WebSocketListenerError", e.to_string()))
            }
            Ok(ws) => {
                ws.get_ref().farewell(None);
                match self.handshakes.get(&hid) {
                    Some(h) => Finished::Open(Box::new(ws), h.peer),
                    None => return,
                }
            }
        };
        if self.handshakes.remove(&hid).is_some() {
            self.finish(net, hid, finished, done);
        }
    }

    /// Handshake `hid` finished (and left `handshakes`): its outcome joins
    /// the queue.
    fn finish(&mut self, net: &Net, hid: u64, finished: Finished, done: &mut Completed) {
        net.lock().handshakes.listener_of.remove(&hid);
        self.ready.push_back(finished);
        self.serve_accepters(net, done);
    }

    /// Hands finished handshakes to waiting accepters, oldest first on both
    /// sides; then accepts again if that made room.
    fn serve_accepters(&mut self, net: &Net, done: &mut Completed) {
        let mut served = false;
        while !self.accepters.is_empty() && !self.ready.is_empty() {
            let (Some(a), Some(finished)) = (self.accepters.pop_front(), self.ready.pop_front()) else { break };
            let answer = match finished {
                Finished::Failed(e) => Reply::Error(e),
                Finished::Open(ws, peer) => self.take(net, *ws, peer),
            };
            done.answer(a.token, a.reply, answer);
            served = true;
        }
        if served {
            self.accept_ready(net, done);
        }
    }

    /// Retains a connection `ws_accept` takes.
    fn take(&mut self, net: &Net, ws: WebSocket<Stream>, peer: SocketAddr) -> Reply {
        let Some(id) = net.lock().ws.conns.reserve(net.max_sockets) else {
            return conn_full(net.max_sockets); // dropping `ws` closes it
        };
        self.info.accepted_connections += 1;
        let url = format!("ws://{}", self.local.map(|a| a.to_string()).unwrap_or_default());
        let conn = WsConn::new(id, &url, &peer.ip().to_string(), ws, 101, Arc::new([]));
        let info = conn.snapshot();
        net.lock().ws.conns.settle(id, Some(share(conn)));
        Reply::WsConn(info)
    }

    /// Closes the listener: drops its handshakes and unaccepted
    /// connections and answers its accepters; the ids of the handshakes.
    pub(crate) fn close(&mut self, done: &mut Completed) -> Vec<u64> {
        self.socket = None;
        self.info.status = Status::Closed;
        self.backoff = None;
        self.ready.clear();
        for a in self.accepters.drain() {
            done.answer(a.token, a.reply, listener_closed());
        }
        let handshakes = std::mem::take(&mut self.handshakes);
        for h in handshakes.values() {
            if let Some(mid) = &h.mid {
                mid.get_ref().get_ref().farewell(None);
            }
        }
        handshakes.into_keys().collect()
    }
}

impl Socket for WsListener {
    fn shut(&mut self, done: &mut Completed) {
        self.close(done);
    }
}

impl Net {
    fn ws_listener_of(&self, id: u64) -> Option<Shared<WsListener>> {
        self.find(|state| &state.ws.listeners, id)
    }

    /// Readiness of listener `id`.
    pub(crate) fn ws_listener_event(&self, id: u64, readable: bool, done: &mut Completed) {
        if let Some(l) = self.ws_listener_of(id) {
            hold(&l).on_event(self, readable, done);
        }
    }

    /// A timer of listener `id`.
    pub(crate) fn ws_listener_timeout(&self, id: u64, token: u64, done: &mut Completed) {
        if let Some(l) = self.ws_listener_of(id) {
            hold(&l).on_timeout(self, token, done);
        }
    }

    /// Readiness of handshake `hid`, or its deadline (`timed_out`, with the
    /// timer's token).
    pub(crate) fn ws_handshake_event(&self, hid: u64, timed_out: Option<u64>, done: &mut Completed) {
        let listener = {
            let state = self.lock();
            state.handshakes.listener_of.get(&hid).and_then(|id| state.ws.listeners.get(*id))
        };
        let Some(l) = listener else { return };
        let mut l = hold(&l);
        match timed_out {
            None => l.continue_handshake(self, hid, done),
            Some(token) => l.on_handshake_timeout(self, hid, token, done),
        }
    }

    /// `ws_listen`: resolves the host (see `Net::resolve_then`, at most
    /// `LISTEN_LOOKUP`), then binds.
    pub fn ws_listen(
        self: &Arc<Self>,
        host: &str,
        port: u16,
        allowed_origins: Vec<String>,
        reply: ReplyFn,
    ) -> Option<(ReplyFn, Reply)> {
        if let Err(denied) = self.policy.check(host, port) {
            return Some((reply, crate::denied("ws_listen", &denied)));
        }
        let Some(id) = self.lock().ws.listeners.reserve(self.max_sockets) else {
            let full = err(
                "RegistryFull",
                format!(
                    "WebSocket listener registry retained listener limit of {} reached; release closed WebSocket listeners before starting another listener",
                    self.max_sockets
                ),
            );
            return Some((reply, full));
        };
        let start = ListenStart { id, host: host.to_string(), port, allowed_origins, reply };
        let lookup = crate::policy::lookup_host(host);
        self.resolve_then(lookup, port, crate::resolve::LISTEN_LOOKUP, start, Net::ws_bind)
    }

    /// Binds listener `start.id` to the first of the resolved addresses
    /// that the policy admits, and starts accepting.
    fn ws_bind(&self, start: ListenStart, addrs: Result<Vec<SocketAddr>, String>) -> Option<(ReplyFn, Reply)> {
        let ListenStart { id, host, port, allowed_origins, reply } = start;
        let bound = addrs.and_then(|addrs| self.bind(&host, &addrs, key(id, KIND_WS_LISTENER)));
        let (listener, answer) = match bound {
            Err(message) => (None, err("WebSocketListenerError", message)),
            Ok(socket) => {
                let local = socket.get().local_addr().ok();
                let listener = WsListener {
                    info: ListenerInfo {
                        id,
                        host,
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
                    accepters: Waiters::default(),
                    handshakes: BTreeMap::new(),
                    ready: VecDeque::new(),
                    backoff: None,
                };
                listener.rearm();
                let info = listener.snapshot();
                (Some(share(listener)), Reply::Listener(info))
            }
        };
        self.lock().ws.listeners.settle(id, listener);
        Some((reply, answer))
    }

    /// `ws_listeners`.
    pub fn ws_listeners(&self) -> Reply {
        let listeners = self.lock().ws.listeners.all();
        Reply::Listeners(listeners.iter().map(|l| hold(l).snapshot()).collect())
    }

    /// `ws_listener`.
    pub fn ws_listener(&self, id: u64) -> Reply {
        self.ws_listener_of(id).map_or_else(|| unknown_listener(id), |l| Reply::Listener(hold(&l).snapshot()))
    }

    /// `ws_accept`: the oldest finished handshake, or a wait of at most
    /// `timeout_ms` for the next one.
    pub fn ws_accept<R: Replier>(&self, id: u64, timeout_ms: u64, reply: R) -> Option<(R, Reply)> {
        let Some(l) = self.ws_listener_of(id) else { return Some((reply, unknown_listener(id))) };
        let token = self.token();
        self.request(token, reply, |done, reply| {
            let mut l = hold(&l);
            if l.info.status != Status::Listening {
                return Some(listener_closed());
            }
            l.accepters.push_back(Accepter { token, timeout_ms, reply: None });
            // Connections the poller has not reported yet count too.
            l.accept_ready(self, done);
            l.serve_accepters(self, done);
            if let Some(a) = l.accepters.last_mut().filter(|a| a.token == token) {
                a.reply = reply.take().map(Replier::reply_fn);
                self.arm_timer(KIND_WS_LISTENER, id, token, Duration::from_millis(timeout_ms));
            }
            None
        })
    }

    /// `ws_listener_close`.
    pub fn ws_listener_close(&self, id: u64) -> Reply {
        let Some(l) = self.ws_listener_of(id) else { return unknown_listener(id) };
        self.with_done(|done| {
            let mut l = hold(&l);
            let handshakes = l.close(done);
            let mut state = self.lock();
            for hid in handshakes {
                state.handshakes.listener_of.remove(&hid);
            }
            Reply::Listener(l.snapshot())
        })
    }

    /// `ws_listener_release`.
    pub fn ws_listener_release(&self, id: u64) -> Reply {
        let Some(l) = self.ws_listener_of(id) else { return unknown_listener(id) };
        let l = hold(&l);
        if l.info.status == Status::Listening {
            return err(
                "WebSocketListenerOpen",
                format!("WebSocket listener {id} is still listening; close it before ws_listener_release"),
            );
        }
        self.lock().ws.listeners.remove(id);
        Reply::Released
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::call;
    use crate::{Policy, Reactor};
    use std::io::Read;

    fn listen(net: &Arc<Net>) -> (u64, u16) {
        match call(|r| net.ws_listen("127.0.0.1", 0, Vec::new(), r)) {
            Reply::Listener(l) => (l.id, l.port),
            other => panic!("ws_listen failed: {other:?}"),
        }
    }

    /// (handshakes in progress, finished and waiting) of listener `id`.
    fn pending(net: &Net, id: u64) -> (usize, usize) {
        let Some(l) = net.ws_listener_of(id) else { return (0, 0) };
        let l = hold(&l);
        (l.handshakes.len(), l.ready.len())
    }

    fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !done() {
            assert!(Instant::now() < deadline, "{what}: not within 5 s");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn each_handshake_has_its_own_deadline() {
        let reactor = Reactor::start(Policy::default(), 8).expect("reactor");
        let net = reactor.handle();
        let (id, port) = listen(&net);
        let mut silent = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let started = Instant::now();
        // ws_accept waits longer than the deadline: it gets the failure.
        match call(|r| net.ws_accept(id, 3000, r)) {
            Reply::Error(e) => {
                assert_eq!((e.kind, e.message.as_str()), ("WebSocketListenerError", "WebSocket handshake timed out"))
            }
            other => panic!("expected the deadline's failure, got {other:?}"),
        }
        let waited = started.elapsed();
        assert!(
            waited >= HANDSHAKE_DEADLINE - Duration::from_millis(50) && waited < Duration::from_secs(2),
            "{waited:?}"
        );
        // No answer on a deadline, just the end.
        silent.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
        let mut buf = [0u8; 64];
        assert!(matches!(silent.read(&mut buf), Ok(0) | Err(_)), "a timed-out handshake got an answer");
        assert_eq!(net.ws_counts(), (0, 1));
    }

    #[test]
    fn at_most_max_pending_connections_per_listener() {
        let reactor = Reactor::start(Policy::default(), 8).expect("reactor");
        let net = reactor.handle();
        let (id, port) = listen(&net);
        let peers: Vec<TcpStream> =
            (0..MAX_PENDING + 2).map(|_| TcpStream::connect(("127.0.0.1", port)).expect("connect")).collect();
        wait_for("the first connections are taken", || pending(&net, id).0 == MAX_PENDING);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(pending(&net, id), (MAX_PENDING, 0), "the rest stay in the kernel's backlog");
        // The deadlines pass: the failures still take the room...
        wait_for("the deadlines pass", || pending(&net, id) == (0, MAX_PENDING));
        // ... until ws_accept takes them; then the backlog is accepted.
        for _ in 0..2 {
            assert!(
                matches!(call(|r| net.ws_accept(id, 1000, r)), Reply::Error(e) if e.kind == "WebSocketListenerError")
            );
        }
        wait_for("the last two are taken", || pending(&net, id).0 == 2 || pending(&net, id).1 == MAX_PENDING);
        // Closing the listener drops everything it holds.
        assert!(matches!(net.ws_listener_close(id), Reply::Listener(_)));
        assert_eq!(pending(&net, id), (0, 0));
        assert!(net.lock().handshakes.listener_of.is_empty());
        drop(peers);
    }
}
