//! The WebSocket lifecycle state machine of the reactor, against a model:
//! the WebSocket counterpart of `lifecycle.rs`, smaller.
//!
//! `random_ws_lifecycles_match_the_model` runs random sequences of
//! ws_listen / ws_connect+ws_accept (as one step, to one of our listeners) /
//! ws_connect to a closed listener's port / ws_accept / ws_send / ws_read
//! (sometimes with a tiny max_bytes) / ws_close / ws_release /
//! ws_listener_close / ws_listener_release / lookups, with unknown and
//! released ids and wrong orders. A model predicts every reply kind (and the
//! message of the deterministic errors) and, after every step, the ids,
//! statuses and message counters of `ws_listeners()` / `ws_connections()`.
//! Where the OS leaves a choice (a peer whose socket is gone may have sent a
//! reset), the model accepts each valid outcome and follows the one it got.
//!
//! At the end `close_all()` must report exactly the retained ids, and once
//! the reactor is dropped the process's open descriptors must be back to
//! what they were before it started.

mod common;

use arcstr::ArcStr;
use common::{
    check_listing, expect_error, expect_listener, id_pool, open_fds, serial, settle_fds, start, try_call, wait, Setup,
    PATIENT_MS, SHORT_MS,
};
use proptest::prelude::*;
use proptest::sample::Index;
use rco_reactor::{ListenerInfo, Reply, Status, WsConnInfo};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn expect_kind(reply: &Reply, kind: &str) -> Result<(), TestCaseError> {
    match reply {
        Reply::Error(e) if e.kind == kind => Ok(()),
        _ => Err(TestCaseError::fail(format!("expected a {kind} error, got {reply:?}"))),
    }
}

fn expect_conn(reply: Reply) -> Result<WsConnInfo, TestCaseError> {
    match reply {
        Reply::WsConn(c) => Ok(c),
        other => Err(TestCaseError::fail(format!("expected a WebSocket snapshot, got {other:?}"))),
    }
}

fn unknown_conn(id: u64) -> String {
    format!("unknown WebSocket: {id}")
}

fn unknown_listener(id: u64) -> String {
    format!("unknown WebSocket listener: {id}")
}

const CLOSED_READ: &str = "cannot read from a closed WebSocket";
const CLOSED_SEND: &str = "cannot send to a closed WebSocket";
const LISTENER_CLOSED: &str = "cannot accept from a closed WebSocket listener";

/// What an endpoint knows of the other end of its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Peer {
    /// Its socket is open.
    Open,
    /// It closed cleanly (a Close frame follows the inbox, then a FIN).
    Closed,
    /// Its socket is gone and a reset may have come: reads may give the
    /// pending messages, the close, or an error; sends may fail.
    Unsure,
}

#[derive(Debug)]
struct ModelListener {
    status: Status,
    port: u16,
    accepted: u64,
}

#[derive(Debug)]
struct ModelConn {
    status: Status,
    url: String,
    peer: u64,
    /// Text messages the peer sent that this end has not read.
    inbox: VecDeque<String>,
    peer_state: Peer,
    sent: u64,
    received: u64,
    has_error: bool,
}

#[derive(Default, Debug)]
struct Model {
    listeners: BTreeMap<u64, ModelListener>,
    conns: BTreeMap<u64, ModelConn>,
    ports: BTreeMap<u64, u16>,
    next_listener: u64,
    next_conn: u64,
    next_char: u8,
}

impl Model {
    fn conn_ids(&self) -> Vec<u64> {
        let connected = self.conns.iter().filter(|(_, c)| c.status == Status::Connected).map(|(id, _)| *id);
        let mut ids: Vec<u64> = connected.clone().chain(connected.clone()).chain(connected).collect();
        // Connections with something to read (messages, a close, a reset).
        let busy = self
            .conns
            .iter()
            .filter(|(_, c)| c.status == Status::Connected && (!c.inbox.is_empty() || c.peer_state != Peer::Open))
            .map(|(id, _)| *id);
        ids.extend(busy.clone().chain(busy.clone()).chain(busy));
        id_pool(ids, self.conns.keys().copied(), self.next_conn)
    }

    fn listener_ids(&self) -> Vec<u64> {
        let listening = self.listeners.iter().filter(|(_, l)| l.status == Status::Listening).map(|(id, _)| *id);
        id_pool(listening.clone().chain(listening).collect(), self.listeners.keys().copied(), self.next_listener)
    }

    fn connected(&self, id: u64) -> bool {
        self.conns.get(&id).is_some_and(|c| c.status == Status::Connected)
    }

    fn text(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| {
                self.next_char = self.next_char.wrapping_add(1);
                char::from(b'!' + self.next_char % 90)
            })
            .collect()
    }

    /// Connection `id` loses its socket: `clean` when it sent a Close frame.
    fn end_gone(&mut self, id: u64, clean: bool) {
        let Some(c) = self.conns.get(&id) else { return };
        let (peer, unread) = (c.peer, !c.inbox.is_empty());
        if !self.connected(peer) {
            return;
        }
        let p = self.conns.get_mut(&peer).expect("connected");
        p.peer_state = match (p.peer_state, clean && !unread) {
            (Peer::Unsure, _) | (_, false) => Peer::Unsure,
            _ => Peer::Closed,
        };
    }

    fn read_would_wait(&self, id: u64) -> bool {
        self.conns
            .get(&id)
            .is_some_and(|c| c.status == Status::Connected && c.inbox.is_empty() && c.peer_state == Peer::Open)
    }
}

#[derive(Clone, Debug)]
enum Op {
    Listen,
    /// ws_connect to a listening listener, then ws_accept, then the
    /// connect's reply (or just listen when none listens).
    Pair(Index),
    /// ws_connect to a port of a closed listener (refused).
    ConnectRefused(Index),
    Accept(Index),
    Send(Index, usize),
    /// A read; `tiny` uses a max_bytes of 1..=4.
    Read(Index, bool, usize),
    Close(Index),
    Release(Index),
    ListenerClose(Index),
    ListenerRelease(Index),
    Lookup(Index),
    ListenerLookup(Index),
    CloseWhileReading(Index),
    CloseWhileAccepting(Index),
}

fn op() -> impl Strategy<Value = Op> {
    let i = any::<Index>;
    prop_oneof![
        2 => Just(Op::Listen),
        6 => i().prop_map(Op::Pair),
        1 => i().prop_map(Op::ConnectRefused),
        2 => i().prop_map(Op::Accept),
        6 => (i(), 1..24usize).prop_map(|(c, n)| Op::Send(c, n)),
        6 => (i(), any::<bool>(), 1..5usize).prop_map(|(c, t, n)| Op::Read(c, t, n)),
        3 => i().prop_map(Op::Close),
        2 => i().prop_map(Op::Release),
        1 => i().prop_map(Op::ListenerClose),
        1 => i().prop_map(Op::ListenerRelease),
        1 => i().prop_map(Op::Lookup),
        1 => i().prop_map(Op::ListenerLookup),
        1 => i().prop_map(Op::CloseWhileReading),
        1 => i().prop_map(Op::CloseWhileAccepting),
    ]
}

struct Harness {
    net: Arc<rco_reactor::Net>,
    model: Model,
}

impl Harness {
    fn check_conn(&self, c: &WsConnInfo) -> Result<(), TestCaseError> {
        let m = self.model.conns.get(&c.id).ok_or_else(|| TestCaseError::fail(format!("unexpected conn {c:?}")))?;
        prop_assert_eq!(c.status, m.status, "status of WebSocket {}", c.id);
        prop_assert_eq!(c.messages_sent, m.sent, "messages_sent of WebSocket {}", c.id);
        prop_assert_eq!(c.messages_received, m.received, "messages_received of WebSocket {}", c.id);
        prop_assert_eq!(c.error.is_some(), m.has_error, "error field of {:?}", c);
        prop_assert_eq!(&*c.identity.url, m.url.as_str());
        prop_assert_eq!(&*c.identity.host, "127.0.0.1");
        prop_assert_eq!(c.identity.response_status, 101);
        Ok(())
    }

    fn check_listener(&self, l: &ListenerInfo) -> Result<(), TestCaseError> {
        let m =
            self.model.listeners.get(&l.id).ok_or_else(|| TestCaseError::fail(format!("unexpected listener {l:?}")))?;
        prop_assert_eq!(l.status, m.status, "status of listener {}", l.id);
        prop_assert_eq!(l.port, m.port);
        prop_assert_eq!(l.accepted_connections, m.accepted);
        prop_assert_eq!(&l.host, "127.0.0.1");
        Ok(())
    }

    fn check_all(&self) -> Result<(), TestCaseError> {
        let Reply::Listeners(ls) = self.net.ws_listeners() else {
            return Err(TestCaseError::fail("ws_listeners gave no list"));
        };
        check_listing("listener", &ls, |l| l.id, self.model.listeners.keys().copied(), |l| self.check_listener(l))?;
        let Reply::WsConns(cs) = self.net.ws_connections() else {
            return Err(TestCaseError::fail("ws_connections gave no list"));
        };
        check_listing("connection", &cs, |c| c.id, self.model.conns.keys().copied(), |c| self.check_conn(c))?;
        prop_assert_eq!(self.net.ws_counts(), (self.model.conns.len(), self.model.listeners.len()));
        Ok(())
    }

    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match op {
            Op::Listen => self.listen(),
            Op::Pair(i) => {
                let listening: Vec<u64> = self
                    .model
                    .listeners
                    .iter()
                    .filter(|(_, l)| l.status == Status::Listening)
                    .map(|(id, _)| *id)
                    .collect();
                if listening.is_empty() {
                    return self.listen();
                }
                self.pair(*i.get(&listening))
            }
            Op::ConnectRefused(i) => {
                let listening: Vec<u16> =
                    self.model.listeners.values().filter(|l| l.status == Status::Listening).map(|l| l.port).collect();
                let gone: Vec<u16> = self.model.ports.values().copied().filter(|p| !listening.contains(p)).collect();
                if gone.is_empty() {
                    return self.listen();
                }
                self.connect_refused(*i.get(&gone))
            }
            Op::Accept(i) => {
                let id = *i.get(&self.model.listener_ids());
                self.accept(id)
            }
            Op::Send(i, len) => {
                let id = *i.get(&self.model.conn_ids());
                self.send(id, *len)
            }
            Op::Read(i, tiny, n) => {
                let id = *i.get(&self.model.conn_ids());
                self.read(id, if *tiny { *n } else { 64 })
            }
            Op::Close(i) => {
                let id = *i.get(&self.model.conn_ids());
                self.close(id)
            }
            Op::Release(i) => {
                let id = *i.get(&self.model.conn_ids());
                self.release(id)
            }
            Op::ListenerClose(i) => {
                let id = *i.get(&self.model.listener_ids());
                self.listener_close(id)
            }
            Op::ListenerRelease(i) => {
                let id = *i.get(&self.model.listener_ids());
                self.listener_release(id)
            }
            Op::Lookup(i) => {
                let id = *i.get(&self.model.conn_ids());
                let reply = self.net.ws_connection(id);
                if self.model.conns.contains_key(&id) {
                    self.check_conn(&expect_conn(reply)?)
                } else {
                    expect_error(&reply, "UnknownWebSocket", &unknown_conn(id))
                }
            }
            Op::ListenerLookup(i) => {
                let id = *i.get(&self.model.listener_ids());
                let reply = self.net.ws_listener(id);
                if self.model.listeners.contains_key(&id) {
                    self.check_listener(&expect_listener(reply)?)
                } else {
                    expect_error(&reply, "UnknownWebSocketListener", &unknown_listener(id))
                }
            }
            Op::CloseWhileReading(i) => {
                let id = *i.get(&self.model.conn_ids());
                self.close_while_reading(id)
            }
            Op::CloseWhileAccepting(i) => {
                let id = *i.get(&self.model.listener_ids());
                self.close_while_accepting(id)
            }
        }
    }

    fn listen(&mut self) -> Result<(), TestCaseError> {
        let l = expect_listener(try_call(|r| self.net.ws_listen("127.0.0.1", 0, Vec::new(), None, r))?)?;
        let id = self.model.next_listener;
        self.model.next_listener += 1;
        prop_assert_eq!(l.id, id, "listener ids are sequential");
        prop_assert!(l.port != 0);
        self.model.listeners.insert(id, ModelListener { status: Status::Listening, port: l.port, accepted: 0 });
        self.model.ports.insert(id, l.port);
        self.check_listener(&l)
    }

    fn pair(&mut self, listener: u64) -> Result<(), TestCaseError> {
        let port = self.model.listeners[&listener].port;
        let url = format!("ws://127.0.0.1:{port}/x");
        let net = self.net.clone();
        let connecting = start(|r| net.ws_connect(&url, "127.0.0.1", port, PATIENT_MS, r));
        let (client, server) = (self.model.next_conn, self.model.next_conn + 1);
        self.model.next_conn += 2;
        let accepted = try_call(|r| self.net.ws_accept(listener, PATIENT_MS, r))?;
        let connected = wait(&connecting)?;
        let (s, c) = (expect_conn(accepted)?, expect_conn(connected)?);
        prop_assert_eq!(c.id, client, "ws_connect reserves its id first");
        prop_assert_eq!(s.id, server, "the accepted id is taken after the OS accept");
        self.model.listeners.get_mut(&listener).expect("listening").accepted += 1;
        let conn = |url: String, peer: u64| ModelConn {
            status: Status::Connected,
            url,
            peer,
            inbox: VecDeque::new(),
            peer_state: Peer::Open,
            sent: 0,
            received: 0,
            has_error: false,
        };
        self.model.conns.insert(client, conn(url, server));
        self.model.conns.insert(server, conn(format!("ws://127.0.0.1:{port}"), client));
        self.check_conn(&c)?;
        self.check_conn(&s)
    }

    fn connect_refused(&mut self, port: u16) -> Result<(), TestCaseError> {
        let url = format!("ws://127.0.0.1:{port}/x");
        let net = self.net.clone();
        let reply = try_call(|r| net.ws_connect(&url, "127.0.0.1", port, PATIENT_MS, r))?;
        // The id was reserved before connecting: it is burnt.
        self.model.next_conn += 1;
        expect_kind(&reply, "WebSocketError")
    }

    fn accept(&mut self, id: u64) -> Result<(), TestCaseError> {
        let started = Instant::now();
        let reply = try_call(|r| self.net.ws_accept(id, SHORT_MS, r))?;
        match self.model.listeners.get(&id).map(|l| l.status) {
            None => expect_error(&reply, "UnknownWebSocketListener", &unknown_listener(id)),
            Some(Status::Listening) => {
                prop_assert!(started.elapsed() >= Duration::from_millis(SHORT_MS), "accept timed out early");
                expect_error(
                    &reply,
                    "SocketAcceptTimeout",
                    &format!("timed out after {SHORT_MS} ms waiting for socket connection"),
                )
            }
            Some(_) => expect_error(&reply, "WebSocketListenerClosed", LISTENER_CLOSED),
        }
    }

    /// A failure of connection `id`: it is Failed with an error; its
    /// message count is what the reactor says (the send may have counted).
    fn failed(&mut self, id: u64, sent_options: &[u64]) -> Result<(), TestCaseError> {
        self.model.end_gone(id, false);
        let info = expect_conn(self.net.ws_connection(id))?;
        prop_assert!(
            sent_options.contains(&info.messages_sent),
            "messages_sent {} after a failure",
            info.messages_sent
        );
        let m = self.model.conns.get_mut(&id).expect("known");
        m.status = Status::Failed;
        m.has_error = true;
        m.sent = info.messages_sent;
        self.check_conn(&info)
    }

    fn send(&mut self, id: u64, len: usize) -> Result<(), TestCaseError> {
        let text = self.model.text(len);
        let net = self.net.clone();
        let sent = text.clone();
        // Every other send asks no snapshot, as a script dropping the
        // answer does.
        let snapshot = len.is_multiple_of(2);
        let reply = try_call(|r| net.ws_send(id, ArcStr::from(sent), snapshot, r))?;
        let Some(c) = self.model.conns.get(&id) else {
            return expect_error(&reply, "UnknownWebSocket", &unknown_conn(id));
        };
        if c.status != Status::Connected {
            return expect_error(&reply, "WebSocketClosed", CLOSED_SEND);
        }
        let (peer, peer_state, before) = (c.peer, c.peer_state, c.sent);
        match reply {
            Reply::WsConn(_) | Reply::Written => {
                prop_assert_eq!(matches!(reply, Reply::WsConn(_)), snapshot, "a snapshot only when asked: {:?}", reply);
                self.model.conns.get_mut(&id).expect("known").sent += 1;
                if peer_state == Peer::Open {
                    self.model.conns.get_mut(&peer).expect("peer open").inbox.push_back(text);
                } else {
                    // The peer's socket is gone: it answers with a reset.
                    self.model.conns.get_mut(&id).expect("known").peer_state = Peer::Unsure;
                }
                match reply {
                    Reply::WsConn(info) => self.check_conn(&info),
                    _ => Ok(()),
                }
            }
            Reply::Error(e) if peer_state != Peer::Open => {
                prop_assert_eq!(e.kind, "WebSocketError", "{:?}", e);
                self.failed(id, &[before, before + 1])
            }
            other => Err(TestCaseError::fail(format!("send to an open peer gave {other:?}"))),
        }
    }

    fn read(&mut self, id: u64, max: usize) -> Result<(), TestCaseError> {
        let timeout = if self.model.read_would_wait(id) { SHORT_MS } else { PATIENT_MS };
        let net = self.net.clone();
        let started = Instant::now();
        let reply = try_call(|r| net.ws_read(id, max, timeout, r))?;
        self.apply_read(id, max, reply, started.elapsed())
    }

    fn apply_read(&mut self, id: u64, max: usize, reply: Reply, waited: Duration) -> Result<(), TestCaseError> {
        let Some(c) = self.model.conns.get(&id) else {
            return expect_error(&reply, "UnknownWebSocket", &unknown_conn(id));
        };
        if c.status != Status::Connected {
            return expect_error(&reply, "WebSocketClosed", CLOSED_READ);
        }
        let (next, pending, peer_state) = (c.inbox.front().cloned(), c.inbox.len(), c.peer_state);
        let sent = c.sent;
        match reply {
            Reply::WsRead(info, msg) if msg.kind == "text" => {
                let Some(next) = next else {
                    return Err(TestCaseError::fail(format!("read a message nobody sent: {msg:?}")));
                };
                prop_assert_eq!(&*msg.text, next.as_str(), "messages arrive in order");
                prop_assert_eq!(msg.bytes, next.len());
                prop_assert!(msg.bytes <= max, "a {}-byte message over max_bytes {max} was delivered", msg.bytes);
                let m = self.model.conns.get_mut(&id).expect("known");
                m.inbox.pop_front();
                m.received += 1;
                self.check_conn(&info)
            }
            Reply::Error(e) if e.kind == "WebSocketMessageTooLarge" => {
                let Some(next) = next else {
                    return Err(TestCaseError::fail(format!("too large, but nothing was sent: {e:?}")));
                };
                prop_assert!(next.len() > max, "{:?} for a {}-byte message (max {max})", e, next.len());
                prop_assert_eq!(
                    &e.message,
                    &format!("WebSocket message has {} bytes, exceeding max_bytes {max}", next.len())
                );
                self.model.conns.get_mut(&id).expect("known").inbox.pop_front();
                // The message is discarded; the connection stays open.
                let info = expect_conn(self.net.ws_connection(id))?;
                prop_assert_eq!(info.status, Status::Connected, "still connected after WebSocketMessageTooLarge");
                self.check_conn(&info)
            }
            Reply::WsRead(info, msg) if msg.kind == "none" => {
                prop_assert!(
                    pending == 0 && peer_state == Peer::Open,
                    "read timed out with {pending} messages pending, peer {peer_state:?}"
                );
                prop_assert!(waited >= Duration::from_millis(SHORT_MS), "read timed out early: {waited:?}");
                self.check_conn(&info)
            }
            Reply::WsRead(info, msg) if msg.kind == "close" => {
                prop_assert!(
                    peer_state == Peer::Unsure || (peer_state == Peer::Closed && pending == 0),
                    "close read with {pending} messages pending, peer {peer_state:?}"
                );
                self.model.conns.get_mut(&id).expect("known").status = Status::Closed;
                self.check_conn(&info)
            }
            Reply::Error(e) if e.kind == "WebSocketError" => {
                prop_assert_eq!(peer_state, Peer::Unsure, "read error {:?} without a reset", e);
                self.failed(id, &[sent])
            }
            other => Err(TestCaseError::fail(format!("read gave {other:?}"))),
        }
    }

    fn close(&mut self, id: u64) -> Result<(), TestCaseError> {
        let reply = self.net.ws_close(id);
        let Some(c) = self.model.conns.get(&id) else {
            return expect_error(&reply, "UnknownWebSocket", &unknown_conn(id));
        };
        if c.status == Status::Connected {
            self.model.end_gone(id, true);
        }
        self.model.conns.get_mut(&id).expect("known").status = Status::Closed;
        let info = expect_conn(reply)?;
        self.check_conn(&info)
    }

    fn release(&mut self, id: u64) -> Result<(), TestCaseError> {
        let reply = self.net.ws_release(id);
        match self.model.conns.get(&id).map(|c| c.status) {
            None => expect_error(&reply, "UnknownWebSocket", &unknown_conn(id)),
            Some(Status::Connected) => expect_error(
                &reply,
                "WebSocketOpen",
                &format!("WebSocket {id} is still connected; close it before ws_release"),
            ),
            Some(_) => {
                prop_assert!(matches!(reply, Reply::Released), "release gave {reply:?}");
                self.model.conns.remove(&id);
                Ok(())
            }
        }
    }

    fn listener_close(&mut self, id: u64) -> Result<(), TestCaseError> {
        let reply = self.net.ws_listener_close(id);
        let Some(l) = self.model.listeners.get_mut(&id) else {
            return expect_error(&reply, "UnknownWebSocketListener", &unknown_listener(id));
        };
        l.status = Status::Closed;
        let l = expect_listener(reply)?;
        self.check_listener(&l)
    }

    fn listener_release(&mut self, id: u64) -> Result<(), TestCaseError> {
        let reply = self.net.ws_listener_release(id);
        match self.model.listeners.get(&id).map(|l| l.status) {
            None => expect_error(&reply, "UnknownWebSocketListener", &unknown_listener(id)),
            Some(Status::Listening) => expect_error(
                &reply,
                "WebSocketListenerOpen",
                &format!("WebSocket listener {id} is still listening; close it before ws_listener_release"),
            ),
            Some(_) => {
                prop_assert!(matches!(reply, Reply::Released), "listener release gave {reply:?}");
                self.model.listeners.remove(&id);
                Ok(())
            }
        }
    }

    fn close_while_reading(&mut self, id: u64) -> Result<(), TestCaseError> {
        if !self.model.read_would_wait(id) {
            return self.close(id);
        }
        let net = self.net.clone();
        let waiting = start(|r| net.ws_read(id, 64, 10_000, r));
        std::thread::sleep(Duration::from_millis(5));
        let started = Instant::now();
        self.close(id)?;
        let reply = wait(&waiting)?;
        prop_assert!(started.elapsed() < Duration::from_secs(1), "close woke the read late");
        expect_error(&reply, "WebSocketClosed", CLOSED_READ)
    }

    fn close_while_accepting(&mut self, id: u64) -> Result<(), TestCaseError> {
        if !self.model.listeners.get(&id).is_some_and(|l| l.status == Status::Listening) {
            return self.listener_close(id);
        }
        let net = self.net.clone();
        let waiting = start(|r| net.ws_accept(id, 10_000, r));
        std::thread::sleep(Duration::from_millis(5));
        let started = Instant::now();
        self.listener_close(id)?;
        let reply = wait(&waiting)?;
        prop_assert!(started.elapsed() < Duration::from_secs(1), "close woke the accept late");
        expect_error(&reply, "WebSocketListenerClosed", LISTENER_CLOSED)
    }
}

fn run_case(setup: Setup, ops: &[Op]) -> Result<(), TestCaseError> {
    let baseline = open_fds();
    let reactor = setup.start(10_000)?;
    let mut h = Harness { net: reactor.handle(), model: Model::default() };
    for (n, op) in ops.iter().enumerate() {
        h.step(op).map_err(|e| TestCaseError::fail(format!("step {n} {op:?}: {e}\nmodel: {:#?}", h.model)))?;
        h.check_all().map_err(|e| TestCaseError::fail(format!("after step {n} {op:?}: {e}\nmodel: {:#?}", h.model)))?;
    }
    // Snapshots kept past the end share their connections' records: they
    // must hold no descriptor once the reactor is gone.
    let kept = h.net.ws_connections();
    let retained = h.net.close_all();
    prop_assert_eq!(&retained.ws_listeners, &h.model.listeners.keys().copied().collect::<Vec<_>>());
    prop_assert_eq!(&retained.ws_connections, &h.model.conns.keys().copied().collect::<Vec<_>>());
    prop_assert!(retained.tcp_listeners.is_empty() && retained.tcp_connections.is_empty());
    prop_assert_eq!(h.net.ws_counts(), (0, 0), "close_all empties the registries");
    drop(h);
    drop(reactor);
    let after = settle_fds(baseline);
    // A leak leaves more descriptors than at the start; fewer can only be
    // a descriptor of another thread of the test process (seen once in CI
    // conditions: 6 against a baseline of 7) closing meanwhile.
    prop_assert!(after <= baseline, "open descriptors after the reactor is gone: {after}, before: {baseline}");
    let Reply::WsConns(kept) = kept else { return Err(TestCaseError::fail(format!("listing: {kept:?}"))) };
    for info in &kept {
        prop_assert!(info.identity.url.starts_with("ws") && !info.identity.host.is_empty(), "{info:?}");
    }
    drop(kept);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(32),
        max_shrink_iters: 100,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_ws_lifecycles_match_the_model(setup in Setup::strategy(), ops in prop::collection::vec(op(), 5..=25)) {
        let _serial = serial();
        run_case(setup, &ops)?;
    }
}
