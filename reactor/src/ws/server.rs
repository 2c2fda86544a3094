//! WebSocket listeners and `ws_accept` (DIALECT 8: no peer can hold
//! `ws_accept`; DIALECT 15: `wss` listeners). A listener accepts eagerly
//! and runs its connections' handshakes in its `Backlog` (which keeps the
//! invariants of the handshakes: deadline, bound, order, routing).
//!
//! Invariants:
//! * Closing a listener drops its handshakes and unaccepted connections
//!   (they were never retained: no leak note) and answers its accepters.
//! * The `url` of an accepted connection is `ws://` or, on a TLS listener,
//!   `wss://`, with the listener's local address.

use super::{conn_full, WsConn};
use crate::backlog::{Accepter, Backlog, Established, Handshaking};
use crate::registered::Registered;
use crate::registry::Socket;
use crate::types::{now_ms, ListenerInfo, Replier, Reply, ReplyFn, Status};
use crate::waiters::Waiters;
use crate::{err, hold, key, share, Completed, Net, Shared, KIND_WS_CONN, KIND_WS_LISTENER};
use arcstr::ArcStr;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

fn unknown_listener(id: u64) -> Reply {
    err("UnknownWebSocketListener", format!("unknown WebSocket listener: {id}"))
}

fn listener_closed() -> Reply {
    err("WebSocketListenerClosed", "cannot accept from a closed WebSocket listener")
}

pub(crate) struct WsListener {
    info: ListenerInfo,
    /// `ws://` or `wss://` and the local address: the `url` of its
    /// connections.
    url: ArcStr,
    socket: Option<Registered<TcpListener>>,
    accepters: Waiters<Accepter>,
    backlog: Backlog,
}

/// What `ws_listen` hands to the resolver's continuation.
struct ListenStart {
    id: u64,
    host: String,
    port: u16,
    allowed_origins: Vec<String>,
    tls: Option<Arc<rustls::ServerConfig>>,
    reply: ReplyFn,
}

impl WsListener {
    fn snapshot(&self) -> ListenerInfo {
        self.info.clone()
    }

    /// Accepts what the kernel has and serves the accepters.
    fn serve(&mut self, net: &Net, done: &mut Completed) {
        let Some(socket) = &self.socket else { return };
        let (info, url) = (&mut self.info, &self.url);
        self.backlog.serve(net, socket, &mut self.accepters, done, |conn, peer| match conn {
            Established::Ws(ws) => take(net, info, url, *ws, peer),
            // A WebSocket listener's handshakes end in WebSockets.
            Established::Tcp(_) => err("WebSocketListenerError", "WebSocket handshake missing"),
        });
    }

    /// A listener timer: an accepter's timeout or the end of a pause.
    fn on_timeout(&mut self, net: &Net, token: u64, done: &mut Completed) {
        if self.backlog.on_timeout(token) {
            self.serve(net, done);
        } else if let Some(a) = self.accepters.take_where(|a| a.token == token) {
            a.timed_out(done);
        }
    }

    /// Closes the listener: drops its handshakes and unaccepted
    /// connections and answers its accepters; the ids of the handshakes.
    pub(crate) fn close(&mut self, done: &mut Completed) -> Vec<u64> {
        self.socket = None;
        self.info.status = Status::Closed;
        for a in self.accepters.drain() {
            done.answer(a.token, a.reply, listener_closed());
        }
        self.backlog.close()
    }
}

/// Retains a connection `ws_accept` takes.
fn take(
    net: &Net,
    info: &mut ListenerInfo,
    url: &str,
    ws: tungstenite::WebSocket<crate::link::Link>,
    peer: SocketAddr,
) -> Reply {
    let Some(id) = net.lock().ws.conns.reserve(net.max_sockets) else {
        return conn_full(net.max_sockets); // dropping `ws` closes it
    };
    info.accepted_connections += 1;
    let conn = WsConn::new(id, url, &peer.ip().to_string(), ws, 101, Box::new([]));
    let snapshot = hold(&conn).snapshot(&conn);
    net.lock().ws.conns.settle(id, Some(conn));
    Reply::WsConn(snapshot)
}

impl Socket for WsListener {
    type Lasting = ();

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
            let mut l = hold(&l);
            if let Some(s) = &l.socket {
                s.fired(readable, false);
            }
            l.serve(self, done);
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
        l.backlog.on_handshake(self, hid, timed_out);
        l.serve(self, done);
    }

    /// `ws_listen`: resolves the host (see `Net::resolve_then`, at most
    /// `LISTEN_LOOKUP`), then binds.
    pub fn ws_listen(
        self: &Arc<Self>,
        host: &str,
        port: u16,
        allowed_origins: Vec<String>,
        tls: Option<(&str, &str)>,
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
        let tls = match tls.map(|(cert, key)| crate::tls::server_config(cert, key)).transpose() {
            Ok(tls) => tls,
            Err(reason) => {
                self.lock().ws.listeners.settle(id, None);
                let text = format!("TLS certificate or key not usable: {reason}");
                return Some((reply, err("WebSocketListenerError", text)));
            }
        };
        let start = ListenStart { id, host: host.to_string(), port, allowed_origins, tls, reply };
        let lookup = crate::policy::lookup_host(host);
        self.resolve_then(lookup, port, crate::resolve::LISTEN_LOOKUP, start, Net::ws_bind)
    }

    /// Binds listener `start.id` to the first of the resolved addresses
    /// that the policy admits, and starts accepting.
    fn ws_bind(&self, start: ListenStart, addrs: Result<Vec<SocketAddr>, String>) -> Option<(ReplyFn, Reply)> {
        let ListenStart { id, host, port, allowed_origins, tls, reply } = start;
        let bound = addrs.and_then(|addrs| self.bind(&host, &addrs, key(id, KIND_WS_LISTENER)));
        let (listener, answer) = match bound {
            Err(message) => (None, err("WebSocketListenerError", message)),
            Ok(socket) => {
                let local = socket.get().local_addr().ok();
                let scheme = if tls.is_some() { "wss" } else { "ws" };
                let url = format!("{scheme}://{}", local.map(|a| a.to_string()).unwrap_or_default());
                let how = Handshaking {
                    listener: id,
                    kinds: (KIND_WS_LISTENER, KIND_WS_CONN),
                    error_kind: "WebSocketListenerError",
                    tls,
                    ws: Some(allowed_origins.into()),
                };
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
                    url: url.into(),
                    socket: Some(socket),
                    accepters: Waiters::default(),
                    backlog: Backlog::new(how),
                };
                if let Some(s) = &listener.socket {
                    s.interest(true, false);
                }
                let info = listener.snapshot();
                (Some(share(listener)), Reply::Listener(Box::new(info)))
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
        self.ws_listener_of(id).map_or_else(|| unknown_listener(id), |l| Reply::Listener(Box::new(hold(&l).snapshot())))
    }

    /// `ws_accept`: the oldest finished handshake, or a wait of at most
    /// `timeout_ms` for the next one.
    pub fn ws_accept<R: Replier>(&self, id: u64, timeout_ms: u64, reply: R) -> Option<(R, Reply)> {
        let Some(l) = self.ws_listener_of(id) else { return Some((reply, unknown_listener(id))) };
        let token = crate::token();
        self.request(token, reply, |done, reply| {
            let mut l = hold(&l);
            if l.info.status != Status::Listening {
                return Some(listener_closed());
            }
            l.accepters.push_back(Accepter { token, timeout_ms, reply: None });
            // Connections the poller has not reported yet count too.
            l.serve(self, done);
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
            Reply::Listener(Box::new(l.snapshot()))
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
    use crate::backlog::{HANDSHAKE_DEADLINE, MAX_PENDING};
    use crate::test_support::call;
    use crate::{Policy, Reactor};
    use std::io::Read;
    use std::net::TcpStream;
    use std::time::Instant;

    fn listen(net: &Arc<Net>) -> (u64, u16) {
        match call(|r| net.ws_listen("127.0.0.1", 0, Vec::new(), None, r)) {
            Reply::Listener(l) => (l.id, l.port),
            other => panic!("ws_listen failed: {other:?}"),
        }
    }

    /// (handshakes in progress, finished and waiting) of listener `id`.
    fn pending(net: &Net, id: u64) -> (usize, usize) {
        let Some(l) = net.ws_listener_of(id) else { return (0, 0) };
        let p = hold(&l).backlog.pending();
        p
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
