//! `Backlog`: the connections a listener accepts eagerly, whose server
//! handshakes run on the reactor (DIALECT 8 and 15), and the finished ones
//! waiting for an accept. WebSocket listeners have one (a WebSocket
//! handshake, after TLS on a `wss` listener), and so do TLS TCP listeners
//! (TLS alone); a plain TCP listener accepts only when asked.
//!
//! Invariants:
//! * A listener with a backlog accepts whether or not anyone waits, and
//!   runs each connection's handshakes at once, resumed on readiness, under
//!   one deadline of its own (`HANDSHAKE_DEADLINE` from the OS accept). A
//!   slow or silent client delays nobody else.
//! * A finished handshake (a connection, or its failure as an error
//!   Result) waits in `ready` in finish order; accepts take the oldest, and
//!   waiting accepters are served in the order they began to wait.
//! * At most `MAX_PENDING` connections per listener are in a handshake or
//!   in `ready`; beyond that the listener stops accepting (its interest is
//!   off) and new connections stay in the kernel's backlog.
//! * A connection gets its id, counts against `--max-sockets` and joins
//!   its registry only when an accept takes it (so ids follow accept
//!   order); until then its poller key is a handshake key (`HANDSHAKE` bit
//!   set) in the connection kind's key space, and the state records which
//!   listener it belongs to (`Handshakes`), to route its events and its
//!   deadline, until it finishes, times out or is dropped.
//! * A malformed WebSocket request over plain TCP is answered `400 Bad
//!   Request`, a refused Origin `403`; a deadline passing answers nothing.
//! * An OS accept error (too many open files) becomes the next accept's
//!   error Result (one at a time) and pauses accepting for
//!   `ACCEPT_BACKOFF`, so the reactor does not spin on it.
//! * The handshakes are part of their listener, under its lock: a
//!   handshake step holds up only its own listener.

use crate::link::Link;
use crate::registered::Registered;
use crate::types::{Reply, ReplyFn, SocketError};
use crate::waiters::Waiters;
use crate::{key, Action, Completed, Net};
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tungstenite::handshake::server::{Callback, ErrorResponse, Request, Response, ServerHandshake};
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::WebSocket;

type Mid = MidHandshake<ServerHandshake<Link, OriginGuard>>;

/// Connections per listener in a handshake or waiting for an accept.
#[cfg(not(test))]
const MAX_PENDING: usize = 1024;
#[cfg(test)]
pub(crate) const MAX_PENDING: usize = 4;

/// How long a connection's server handshakes may take, from the OS accept
/// (the unit tests use short values of this and of `MAX_PENDING`).
#[cfg(not(test))]
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);
#[cfg(test)]
pub(crate) const HANDSHAKE_DEADLINE: Duration = Duration::from_millis(300);

/// The pause in accepting after an OS accept error.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The bit that marks a handshake id (kept clear of connection ids, which
/// never get near it, and of the two bits of the poller key's kind).
const HANDSHAKE: u64 = 1 << 60;

/// The answer to a WebSocket request the handshake could not read.
const BAD_REQUEST: &[u8] = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

/// Whether a poller id in a connection kind is a handshake's.
pub(crate) fn is_handshake(id: u64) -> bool {
    id & HANDSHAKE != 0
}

/// A waiting `tcp_accept` or `ws_accept`.
pub(crate) struct Accepter {
    pub(crate) token: u64,
    pub(crate) timeout_ms: u64,
    /// `None` only while its own request serves the listener.
    pub(crate) reply: Option<ReplyFn>,
}

impl Accepter {
    /// The answer of an accepter whose timeout passed.
    pub(crate) fn timed_out(self, done: &mut Completed) {
        let text = format!("timed out after {} ms waiting for socket connection", self.timeout_ms);
        done.answer(self.token, self.reply, crate::err("SocketAcceptTimeout", text));
    }
}

/// Which listener each server handshake in progress belongs to (under the
/// state lock: its events and deadline are routed there).
#[derive(Default)]
pub(crate) struct Handshakes {
    pub(crate) listener_of: BTreeMap<u64, u64>,
    next: u64,
}

impl Handshakes {
    pub(crate) fn clear(&mut self) {
        self.listener_of.clear();
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
    allowed: Arc<[String]>,
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

/// What a listener's connections go through before an accept takes them.
pub(crate) struct Handshaking {
    /// The listener's id, and its kind and its connections' kind (poller
    /// keys and timers).
    pub(crate) listener: u64,
    pub(crate) kinds: (usize, usize),
    /// The kind of the error Results (`TcpListenerError`,
    /// `WebSocketListenerError`).
    pub(crate) error_kind: &'static str,
    /// TLS first, with this configuration.
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
    /// Then a WebSocket handshake allowing these Origins.
    pub(crate) ws: Option<Arc<[String]>>,
}

/// A connection whose handshakes have finished.
pub(crate) enum Established {
    Tcp(Link),
    Ws(Box<WebSocket<Link>>),
}

enum Finished {
    Open(Established, SocketAddr),
    Failed(SocketError),
}

/// A connection's server handshake in progress.
enum Stage {
    Tls(Link),
    /// Boxed: a WebSocket handshake's state is several times a link's.
    Ws(Box<Mid>),
}

struct Handshake {
    /// `None` only during a step.
    stage: Option<Stage>,
    /// The token of its deadline timer.
    token: u64,
    peer: SocketAddr,
}

/// How a step left a handshake.
enum Step {
    Waiting(Stage),
    Done(Established),
    Failed(String),
}

pub(crate) struct Backlog {
    how: Handshaking,
    handshakes: BTreeMap<u64, Handshake>,
    ready: VecDeque<Finished>,
    /// The token of the timer that ends a pause after an accept error.
    backoff: Option<u64>,
}

impl Backlog {
    pub(crate) fn new(how: Handshaking) -> Backlog {
        Backlog { how, handshakes: BTreeMap::new(), ready: VecDeque::new(), backoff: None }
    }

    /// Whether its listener should accept now: not pausing, with room.
    pub(crate) fn accepting(&self) -> bool {
        self.backoff.is_none() && self.handshakes.len() + self.ready.len() < MAX_PENDING
    }

    /// (in a handshake, finished and waiting).
    #[cfg(test)]
    pub(crate) fn pending(&self) -> (usize, usize) {
        (self.handshakes.len(), self.ready.len())
    }

    /// Takes every connection the kernel has for `socket` (while there is
    /// room) and starts its handshakes.
    fn accept_ready(&mut self, net: &Net, socket: &Registered<TcpListener>) {
        while self.accepting() {
            match socket.get().accept() {
                Ok((stream, peer)) => self.start(net, stream, peer),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // The peer gave up before the accept: nothing to report.
                Err(e) if matches!(e.kind(), io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted) => {}
                Err(e) => {
                    let token = crate::token();
                    self.backoff = Some(token);
                    let action = Action::Expire { kind: self.how.kinds.0, id: self.how.listener, token };
                    net.arm(Instant::now() + ACCEPT_BACKOFF, action);
                    let queued =
                        self.ready.iter().any(|f| matches!(f, Finished::Failed(e) if e.kind == "SocketAcceptError"));
                    if !queued {
                        self.ready.push_back(Finished::Failed(SocketError::new("SocketAcceptError", e.to_string())));
                    }
                    break;
                }
            }
        }
        socket.interest(self.accepting(), false);
    }

    /// Starts the handshakes of a connection it accepted.
    fn start(&mut self, net: &Net, stream: TcpStream, peer: SocketAddr) {
        let hid = {
            let mut state = net.lock();
            let hid = HANDSHAKE | state.handshakes.next;
            state.handshakes.next += 1;
            hid
        };
        let registered = stream
            .set_nonblocking(true)
            .and_then(|()| stream.set_nodelay(true))
            .and_then(|()| Registered::new(stream, net.poller.registry.clone(), key(hid, self.how.kinds.1)));
        let link = registered.and_then(|socket| match &self.how.tls {
            Some(config) => Link::server(socket, config.clone()),
            None => Ok(Link::plain(socket)),
        });
        let link = match link {
            Ok(link) => link,
            Err(e) => {
                self.ready.push_back(Finished::Failed(SocketError::new(self.how.error_kind, e.to_string())));
                return;
            }
        };
        let token = crate::token();
        net.lock().handshakes.listener_of.insert(hid, self.how.listener);
        let deadline = Action::Expire { kind: self.how.kinds.1, id: hid, token };
        net.arm(Instant::now() + HANDSHAKE_DEADLINE, deadline);
        let step = if link.is_tls() { self.step_tls(link) } else { self.start_ws(link) };
        self.handshakes.insert(hid, Handshake { stage: None, token, peer });
        self.apply(net, hid, step);
    }

    /// Readiness of handshake `hid`, or its deadline (`timed_out`, with the
    /// timer's token); whether an accept may now be served.
    pub(crate) fn on_handshake(&mut self, net: &Net, hid: u64, timed_out: Option<u64>) {
        let Some(h) = self.handshakes.get_mut(&hid) else { return };
        if let Some(token) = timed_out {
            if h.token != token {
                return;
            }
            let text = match &h.stage {
                Some(Stage::Tls(_)) => "TLS handshake failed: handshake timed out",
                _ => "WebSocket handshake timed out",
            };
            if let Some(Stage::Ws(mid)) = &h.stage {
                // No answer on a deadline: the connection just ends.
                mid.get_ref().get_ref().socket().farewell(None);
            }
            self.handshakes.remove(&hid);
            self.finish(net, hid, Finished::Failed(SocketError::new(self.how.error_kind, text)));
            return;
        }
        let step = match h.stage.take() {
            None => return,
            Some(Stage::Tls(link)) => {
                link.socket().fired(true, true);
                self.step_tls(link)
            }
            Some(Stage::Ws(mid)) => {
                mid.get_ref().get_ref().socket().fired(true, true);
                self.step_ws((*mid).handshake())
            }
        };
        self.apply(net, hid, step);
    }

    /// Runs the TLS handshake as far as it goes; then the WebSocket's.
    fn step_tls(&self, mut link: Link) -> Step {
        match link.handshake() {
            Ok(false) => Step::Waiting(Stage::Tls(link)),
            Ok(true) => self.start_ws(link),
            Err(e) => Step::Failed(format!("TLS handshake failed: {e}")),
        }
    }

    /// Starts the WebSocket handshake, if the listener's connections have
    /// one; otherwise they are established.
    fn start_ws(&self, link: Link) -> Step {
        let Some(allowed) = &self.how.ws else { return Step::Done(Established::Tcp(link)) };
        if !link.is_tls() {
            // Plain text: a request it cannot read is answered.
            link.socket().farewell(Some(BAD_REQUEST));
        }
        let guard = OriginGuard { allowed: allowed.clone() };
        self.step_ws(tungstenite::accept_hdr_with_config(link, guard, Some(crate::ws::config())))
    }

    fn step_ws(&self, result: Result<WebSocket<Link>, HandshakeError<ServerHandshake<Link, OriginGuard>>>) -> Step {
        match result {
            Err(HandshakeError::Interrupted(mid)) => {
                mid.get_ref().get_ref().socket().await_blocked();
                Step::Waiting(Stage::Ws(Box::new(mid)))
            }
            // The library dropped the stream, which sent `400 Bad Request`
            // unless an answer (the Origin guard's 403) had gone out.
            Err(HandshakeError::Failure(e)) => Step::Failed(e.to_string()),
            Ok(ws) => {
                ws.get_ref().socket().farewell(None);
                Step::Done(Established::Ws(Box::new(ws)))
            }
        }
    }

    fn apply(&mut self, net: &Net, hid: u64, step: Step) {
        let finished = match step {
            Step::Waiting(stage) => {
                if let Some(h) = self.handshakes.get_mut(&hid) {
                    h.stage = Some(stage);
                }
                return;
            }
            Step::Failed(text) => Finished::Failed(SocketError::new(self.how.error_kind, text)),
            Step::Done(conn) => match self.handshakes.get(&hid) {
                Some(h) => Finished::Open(conn, h.peer),
                None => return,
            },
        };
        if self.handshakes.remove(&hid).is_some() {
            self.finish(net, hid, finished);
        }
    }

    /// Handshake `hid` finished (and left `handshakes`): its outcome joins
    /// the queue.
    fn finish(&mut self, net: &Net, hid: u64, finished: Finished) {
        net.lock().handshakes.listener_of.remove(&hid);
        self.ready.push_back(finished);
    }

    /// A timer of the listener: the end of its pause after an accept
    /// error (`true`), or not its own.
    pub(crate) fn on_timeout(&mut self, token: u64) -> bool {
        if self.backoff != Some(token) {
            return false;
        }
        self.backoff = None;
        true
    }

    /// Accepts what the kernel has, then hands finished connections to
    /// waiting accepters, oldest first on both sides (`take` makes the
    /// answer of an established one), accepting again as that makes room.
    pub(crate) fn serve(
        &mut self,
        net: &Net,
        socket: &Registered<TcpListener>,
        accepters: &mut Waiters<Accepter>,
        done: &mut Completed,
        mut take: impl FnMut(Established, SocketAddr) -> Reply,
    ) {
        loop {
            self.accept_ready(net, socket);
            if accepters.is_empty() || self.ready.is_empty() {
                return;
            }
            while !accepters.is_empty() && !self.ready.is_empty() {
                let (Some(a), Some(finished)) = (accepters.pop_front(), self.ready.pop_front()) else { return };
                let answer = match finished {
                    Finished::Failed(e) => Reply::Error(e),
                    Finished::Open(conn, peer) => take(conn, peer),
                };
                done.answer(a.token, a.reply, answer);
            }
        }
    }

    /// Drops its handshakes and unaccepted connections (never retained: no
    /// leak note); the ids of the handshakes, to forget in `Handshakes`.
    pub(crate) fn close(&mut self) -> Vec<u64> {
        self.backoff = None;
        self.ready.clear();
        let handshakes = std::mem::take(&mut self.handshakes);
        for h in handshakes.values() {
            if let Some(Stage::Ws(mid)) = &h.stage {
                mid.get_ref().get_ref().socket().farewell(None);
            }
        }
        handshakes.into_keys().collect()
    }
}
