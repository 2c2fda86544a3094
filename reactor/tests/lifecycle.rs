//! The TCP lifecycle state machine of the reactor, against a model.
//!
//! `random_lifecycles_match_the_model` runs random sequences of listen /
//! connect / accept / read / write / close / release (on listeners and
//! connections), including unknown and released ids and wrong orders
//! (release before close, read after close, accept on a closed listener),
//! against the real reactor on 127.0.0.1. A model predicts every reply
//! (kind, message, snapshot fields) and, after every step, the ids,
//! statuses and counters of `tcp_listeners()` / `tcp_connections()`. Where
//! the OS leaves a choice (a peer that reset), the model accepts each
//! outcome the OS may give and follows the one it got.
//!
//! At the end `close_all()` must report exactly the retained ids, and once
//! the reactor is dropped the process's open descriptors must be back to
//! what they were before it started. The tests in this file take one lock,
//! so descriptor counts are not disturbed by each other.

mod common;

use arcstr::ArcStr;
use common::{
    call, check_listing, error_of, expect_error, expect_listener, id_pool, open_fds, serial, settle_fds, start, Setup,
    PATIENT_MS, REFUSED, REPLY_LIMIT, SHORT_MS,
};
use proptest::prelude::*;
use proptest::sample::Index;
use rco_reactor::{ConnInfo, ListenerInfo, Policy, Reactor, Replier, Reply, ReplyFn, Status};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn expect_conn(reply: Reply) -> Result<ConnInfo, TestCaseError> {
    match reply {
        Reply::Conn(c) => Ok(c),
        other => Err(TestCaseError::fail(format!("expected a connection snapshot, got {other:?}"))),
    }
}

/// What an endpoint knows of the other end of its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Peer {
    /// Its socket is open (accepted or still in a listen backlog).
    Open,
    /// It closed with nothing unread: a clean FIN.
    Fin,
    /// A reset may have come (the peer closed with unread data, was dropped
    /// from a closed listener's backlog, or was written to after closing):
    /// reads may give data, EOF or an error; writes may fail.
    Unsure,
}

/// One end of a TCP connection made by the test.
#[derive(Debug)]
struct End {
    /// The registry id: an outbound end has one at once, an accepted end
    /// once accepted (`None` while in the listen backlog).
    id: Option<u64>,
    peer: usize,
    /// Bytes the peer wrote that this end has not read.
    inbox: VecDeque<u8>,
    /// This end's socket is open (in the registry and connected, or in a
    /// backlog).
    open: bool,
    peer_state: Peer,
    /// This end's local address (outbound ends), to check the accepted peer.
    local_addr: Option<arcstr::ArcStr>,
}

#[derive(Debug)]
struct ModelListener {
    status: Status,
    port: u16,
    accepted: u64,
    /// Ends waiting in the backlog, in arrival order.
    backlog: VecDeque<usize>,
}

#[derive(Debug)]
struct ModelConn {
    status: Status,
    end: usize,
    host: String,
    port: u16,
    bytes_read: u64,
    bytes_written: u64,
    has_error: bool,
}

#[derive(Default, Debug)]
struct Model {
    listeners: BTreeMap<u64, ModelListener>,
    conns: BTreeMap<u64, ModelConn>,
    ends: Vec<End>,
    /// Port of every listener ever made, released or not.
    ports: BTreeMap<u64, u16>,
    next_listener: u64,
    next_conn: u64,
    next_byte: u8,
}

impl Model {
    /// Ids to pick from: connected ones (favoured), retained ones, released
    /// ones and ids that never existed.
    fn conn_ids(&self) -> Vec<u64> {
        let connected = self.conns.iter().filter(|(_, c)| c.status == Status::Connected).map(|(id, _)| *id);
        id_pool(
            connected.clone().chain(connected.clone()).chain(connected).collect(),
            self.conns.keys().copied(),
            self.next_conn,
        )
    }

    fn listener_ids(&self) -> Vec<u64> {
        let listening = self.listeners.iter().filter(|(_, l)| l.status == Status::Listening).map(|(id, _)| *id);
        id_pool(listening.clone().chain(listening).collect(), self.listeners.keys().copied(), self.next_listener)
    }

    /// Ports to connect to: listening ones (favoured), then every port a
    /// listener of this run ever had.
    fn ports(&self) -> Vec<u16> {
        let listening = self.listeners.values().filter(|l| l.status == Status::Listening).map(|l| l.port);
        let mut ports: Vec<u16> = listening.clone().chain(listening).collect();
        ports.extend(self.ports.values().copied());
        ports
    }

    fn data(&mut self, len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| {
                self.next_byte = self.next_byte.wrapping_add(1);
                b'!' + self.next_byte % 90
            })
            .collect()
    }

    /// End `e` loses its socket (close, end of stream, error): tells its peer.
    fn end_closed(&mut self, e: usize) {
        if !self.ends[e].open {
            return;
        }
        self.ends[e].open = false;
        let unread = !self.ends[e].inbox.is_empty();
        let p = self.ends[e].peer;
        if self.ends[p].open {
            let state = &mut self.ends[p].peer_state;
            *state = match (*state, unread) {
                (Peer::Unsure, _) | (_, true) => Peer::Unsure,
                _ => Peer::Fin,
            };
        }
    }

    fn conn_end(&self, id: u64) -> Option<usize> {
        self.conns.get(&id).map(|c| c.end)
    }
}

#[derive(Clone, Debug)]
enum Op {
    Listen,
    /// Connect to a listening listener and accept at once (or just listen
    /// when none listens): favours connected pairs.
    Pair(Index),
    Connect(Index),
    Accept(Index),
    Read(Index, usize),
    Write(Index, usize),
    Close(Index),
    Release(Index),
    ListenerClose(Index),
    ListenerRelease(Index),
    Lookup(Index),
    ListenerLookup(Index),
    /// A read that waits, then the connection is closed: the read must get
    /// `TcpSocketClosed` at once (DIALECT 8).
    CloseWhileReading(Index),
    /// An accept that waits, then the listener is closed: `TcpListenerClosed`.
    CloseWhileAccepting(Index),
    /// A read that waits, then the peer writes: the read gets the data.
    PeerWritesWhileReading(Index, usize),
    /// With an allow-list: a listen (`true`) or a connect to a host it
    /// refuses gets `PermissionError` and changes nothing.
    Refused(bool),
}

fn op() -> impl Strategy<Value = Op> {
    let i = any::<Index>;
    prop_oneof![
        2 => Just(Op::Listen),
        4 => i().prop_map(Op::Pair),
        2 => i().prop_map(Op::Connect),
        3 => i().prop_map(Op::Accept),
        6 => (i(), 1..64usize).prop_map(|(c, n)| Op::Read(c, n)),
        6 => (i(), 1..48usize).prop_map(|(c, n)| Op::Write(c, n)),
        2 => i().prop_map(Op::Close),
        2 => i().prop_map(Op::Release),
        1 => i().prop_map(Op::ListenerClose),
        1 => i().prop_map(Op::ListenerRelease),
        1 => i().prop_map(Op::Lookup),
        1 => i().prop_map(Op::ListenerLookup),
        1 => i().prop_map(Op::CloseWhileReading),
        1 => i().prop_map(Op::CloseWhileAccepting),
        2 => (i(), 1..32usize).prop_map(|(c, n)| Op::PeerWritesWhileReading(c, n)),
        1 => any::<bool>().prop_map(Op::Refused),
    ]
}

struct Harness {
    net: Arc<rco_reactor::Net>,
    model: Model,
    /// The reactor admits only `ALLOWED`.
    allow_list: bool,
}

fn unknown_conn(id: u64) -> String {
    format!("unknown TCP socket: {id}")
}

fn unknown_listener(id: u64) -> String {
    format!("unknown TCP listener: {id}")
}

impl Harness {
    fn check_conn(&self, c: &ConnInfo) -> Result<(), TestCaseError> {
        let m = self.model.conns.get(&c.id).ok_or_else(|| TestCaseError::fail(format!("unexpected conn {c:?}")))?;
        prop_assert_eq!(c.status, m.status, "status of connection {}", c.id);
        prop_assert_eq!(c.bytes_read, m.bytes_read, "bytes_read of connection {}", c.id);
        prop_assert_eq!(c.bytes_written, m.bytes_written, "bytes_written of connection {}", c.id);
        prop_assert_eq!(&*c.identity.host, m.host.as_str());
        prop_assert_eq!(c.identity.port, m.port);
        prop_assert_eq!(c.error.is_some(), m.has_error, "error field of {:?}", c);
        prop_assert!(c.identity.local_addr.is_some() && c.identity.peer_addr.is_some(), "addresses kept: {:?}", c);
        Ok(())
    }

    fn check_listener(&self, l: &ListenerInfo) -> Result<(), TestCaseError> {
        let m =
            self.model.listeners.get(&l.id).ok_or_else(|| TestCaseError::fail(format!("unexpected listener {l:?}")))?;
        prop_assert_eq!(l.status, m.status, "status of listener {}", l.id);
        prop_assert_eq!(l.port, m.port);
        prop_assert_eq!(l.accepted_connections, m.accepted);
        prop_assert_eq!(&l.host, "127.0.0.1");
        prop_assert_eq!(l.local_addr.clone(), Some(format!("127.0.0.1:{}", m.port)));
        Ok(())
    }

    /// The registries as a whole match the model.
    fn check_all(&self) -> Result<(), TestCaseError> {
        let Reply::Listeners(ls) = self.net.tcp_listeners() else {
            return Err(TestCaseError::fail("tcp_listeners gave no list"));
        };
        check_listing("listener", &ls, |l| l.id, self.model.listeners.keys().copied(), |l| self.check_listener(l))?;
        let Reply::Conns(cs) = self.net.tcp_connections() else {
            return Err(TestCaseError::fail("tcp_connections gave no list"));
        };
        check_listing("connection", &cs, |c| c.id, self.model.conns.keys().copied(), |c| self.check_conn(c))?;
        prop_assert_eq!(self.net.tcp_counts(), (self.model.conns.len(), self.model.listeners.len()));
        Ok(())
    }

    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match op {
            Op::Listen => self.listen(),
            Op::Pair(i) => {
                let listening: Vec<(u64, u16)> = self
                    .model
                    .listeners
                    .iter()
                    .filter(|(_, l)| l.status == Status::Listening)
                    .map(|(id, l)| (*id, l.port))
                    .collect();
                if listening.is_empty() {
                    return self.listen();
                }
                let (id, port) = *i.get(&listening);
                self.connect(port)?;
                self.accept(id)
            }
            Op::Connect(i) => {
                let ports = self.model.ports();
                if ports.is_empty() {
                    return self.listen();
                }
                self.connect(*i.get(&ports))
            }
            Op::Accept(i) => {
                let id = *i.get(&self.model.listener_ids());
                self.accept(id)
            }
            Op::Read(i, max) => {
                let id = *i.get(&self.model.conn_ids());
                self.read(id, *max)
            }
            Op::Write(i, len) => {
                let id = *i.get(&self.model.conn_ids());
                self.write(id, *len)
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
                let reply = self.net.tcp_connection(id);
                if self.model.conns.contains_key(&id) {
                    self.check_conn(&expect_conn(reply)?)
                } else {
                    expect_error(&reply, "UnknownTcpSocket", &unknown_conn(id))
                }
            }
            Op::ListenerLookup(i) => {
                let id = *i.get(&self.model.listener_ids());
                let reply = self.net.tcp_listener(id);
                if self.model.listeners.contains_key(&id) {
                    self.check_listener(&expect_listener(reply)?)
                } else {
                    expect_error(&reply, "UnknownTcpListener", &unknown_listener(id))
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
            Op::PeerWritesWhileReading(i, len) => {
                let id = *i.get(&self.model.conn_ids());
                self.peer_writes_while_reading(id, *len)
            }
            Op::Refused(listen) => self.refused(*listen),
        }
    }

    fn refused(&mut self, listen: bool) -> Result<(), TestCaseError> {
        if !self.allow_list {
            return Ok(());
        }
        let net = self.net.clone();
        let port = self.model.ports().first().copied().unwrap_or(1);
        let (word, reply) = if listen {
            ("tcp_listen", call(|r| net.tcp_listen(REFUSED, 0, true, None, r)))
        } else {
            ("tcp_connect", call(|r| net.tcp_connect(REFUSED, port, 2000, true, false, r)))
        };
        let text = format!("host operation failed in {word}: socket host is not allowed: {REFUSED}");
        expect_error(&reply, "PermissionError", &text)
    }

    fn listen(&mut self) -> Result<(), TestCaseError> {
        let l = expect_listener(call(|r| self.net.tcp_listen("127.0.0.1", 0, true, None, r)))?;
        let m = &mut self.model;
        prop_assert_eq!(l.id, m.next_listener, "listener ids count up from 0");
        prop_assert_eq!(l.status, Status::Listening);
        prop_assert!(l.port != 0, "port 0 is replaced by the bound port");
        m.next_listener += 1;
        m.ports.insert(l.id, l.port);
        m.listeners.insert(
            l.id,
            ModelListener { status: Status::Listening, port: l.port, accepted: 0, backlog: VecDeque::new() },
        );
        self.check_listener(&l)
    }

    fn connect(&mut self, port: u16) -> Result<(), TestCaseError> {
        let net = self.net.clone();
        let reply = call(|r| net.tcp_connect("127.0.0.1", port, 2000, true, false, r));
        let m = &mut self.model;
        let id = m.next_conn;
        m.next_conn += 1; // taken before connecting: a failure burns it too
        let target =
            m.listeners.iter().find(|(_, l)| l.status == Status::Listening && l.port == port).map(|(id, _)| *id);
        let Some(listener) = target else {
            // Nothing listens there any more: refused.
            let e =
                error_of(&reply).ok_or_else(|| TestCaseError::fail(format!("connect to a closed port: {reply:?}")))?;
            prop_assert_eq!(e.kind, "TcpSocketError");
            return Ok(());
        };
        let c = expect_conn(reply)?;
        prop_assert_eq!(c.id, id, "connection ids count up, outbound reserved at connect");
        prop_assert_eq!(c.status, Status::Connected);
        prop_assert_eq!(c.identity.peer_addr.as_deref().map(str::to_string), Some(format!("127.0.0.1:{port}")));
        let (client, server) = (m.ends.len(), m.ends.len() + 1);
        m.ends.push(End {
            id: Some(id),
            peer: server,
            inbox: VecDeque::new(),
            open: true,
            peer_state: Peer::Open,
            local_addr: c.identity.local_addr.clone(),
        });
        m.ends.push(End {
            id: None,
            peer: client,
            inbox: VecDeque::new(),
            open: true,
            peer_state: Peer::Open,
            local_addr: None,
        });
        m.listeners.get_mut(&listener).expect("target listener").backlog.push_back(server);
        m.conns.insert(
            id,
            ModelConn {
                status: Status::Connected,
                end: client,
                host: "127.0.0.1".into(),
                port,
                bytes_read: 0,
                bytes_written: 0,
                has_error: false,
            },
        );
        self.check_conn(&c)
    }

    fn accept(&mut self, id: u64) -> Result<(), TestCaseError> {
        let net = self.net.clone();
        let waits = self.model.listeners.get(&id).is_some_and(|l| l.backlog.is_empty());
        let timeout = if waits { SHORT_MS } else { PATIENT_MS };
        let started = Instant::now();
        let reply = call(|r| net.tcp_accept(id, timeout, r));
        let Some(l) = self.model.listeners.get_mut(&id) else {
            return expect_error(&reply, "UnknownTcpListener", &unknown_listener(id));
        };
        if l.status != Status::Listening {
            return expect_error(&reply, "TcpListenerClosed", "cannot accept from a closed TCP listener");
        }
        let Some(server) = l.backlog.pop_front() else {
            prop_assert!(started.elapsed() >= Duration::from_millis(SHORT_MS), "accept timed out early");
            return expect_error(
                &reply,
                "SocketAcceptTimeout",
                &format!("timed out after {SHORT_MS} ms waiting for socket connection"),
            );
        };
        l.accepted += 1;
        let c = expect_conn(reply)?;
        let m = &mut self.model;
        prop_assert_eq!(c.id, m.next_conn, "accepted connections take the next id");
        m.next_conn += 1;
        let client = m.ends[server].peer;
        prop_assert_eq!(&c.identity.peer_addr, &m.ends[client].local_addr, "accept order is arrival order");
        let peer_port = c.identity.peer_addr.as_deref().and_then(|a| a.rsplit(':').next()).and_then(|p| p.parse().ok());
        prop_assert_eq!(Some(c.identity.port), peer_port, "accepted port is the peer's port");
        m.ends[server].id = Some(c.id);
        m.conns.insert(
            c.id,
            ModelConn {
                status: Status::Connected,
                end: server,
                host: "127.0.0.1".into(),
                port: c.identity.port,
                bytes_read: 0,
                bytes_written: 0,
                has_error: false,
            },
        );
        self.check_conn(&c)
    }

    /// Checks a read reply against the model and applies it.
    fn apply_read(&mut self, id: u64, max: usize, reply: Reply, waited: Duration) -> Result<(), TestCaseError> {
        let Some(conn) = self.model.conns.get(&id) else {
            return expect_error(&reply, "UnknownTcpSocket", &unknown_conn(id));
        };
        if conn.status != Status::Connected {
            return expect_error(&reply, "TcpSocketClosed", "cannot read from a closed TCP socket");
        }
        let e = conn.end;
        let (inbox_len, peer_state) = (self.model.ends[e].inbox.len(), self.model.ends[e].peer_state);
        match reply {
            Reply::Read(info, chunk) if !chunk.is_empty() => {
                // The model writes ASCII: the text is the bytes.
                let bytes = chunk.text.as_bytes();
                prop_assert_eq!(bytes.len(), chunk.bytes, "one byte per character of ASCII");
                prop_assert!(
                    bytes.len() <= max && bytes.len() <= inbox_len,
                    "read {} of {inbox_len} (max {max})",
                    bytes.len()
                );
                let want: Vec<u8> = self.model.ends[e].inbox.iter().take(bytes.len()).copied().collect();
                prop_assert_eq!(bytes, &want[..], "bytes arrive in order");
                self.model.ends[e].inbox.drain(..bytes.len());
                let m = self.model.conns.get_mut(&id).expect("known");
                m.bytes_read += bytes.len() as u64;
                self.check_conn(&info)
            }
            Reply::Read(info, _) if info.status == Status::Connected => {
                // A timeout: only when nothing is there and the peer is open.
                prop_assert!(
                    inbox_len == 0 && peer_state == Peer::Open,
                    "read timed out with {inbox_len} bytes pending, peer {peer_state:?}"
                );
                prop_assert!(waited >= Duration::from_millis(SHORT_MS), "read timed out early: {waited:?}");
                self.check_conn(&info)
            }
            Reply::Read(info, _) => {
                // End of stream.
                prop_assert_eq!(info.status, Status::Closed, "EOF closes");
                prop_assert!(
                    peer_state == Peer::Unsure || (peer_state == Peer::Fin && inbox_len == 0),
                    "EOF with {inbox_len} bytes pending, peer {peer_state:?}"
                );
                self.model.conns.get_mut(&id).expect("known").status = Status::Closed;
                self.model.end_closed(e);
                self.check_conn(&info)
            }
            Reply::Error(err) => {
                prop_assert_eq!(err.kind, "TcpSocketError", "{:?}", err);
                prop_assert_eq!(peer_state, Peer::Unsure, "read error {:?} without a reset", err);
                let m = self.model.conns.get_mut(&id).expect("known");
                m.status = Status::Failed;
                m.has_error = true;
                self.model.end_closed(e);
                Ok(())
            }
            other => Err(TestCaseError::fail(format!("read gave {other:?}"))),
        }
    }

    fn read(&mut self, id: u64, max: usize) -> Result<(), TestCaseError> {
        let net = self.net.clone();
        // Wait briefly only where the model expects the read to time out;
        // elsewhere the answer (data, EOF, reset) is due at once, and a
        // generous timeout keeps a loaded machine from faking a timeout.
        let timeout = if self.read_would_wait(id) { SHORT_MS } else { PATIENT_MS };
        let started = Instant::now();
        let reply = call(|r| net.tcp_read(id, max, timeout, r));
        self.apply_read(id, max, reply, started.elapsed())
    }

    fn write(&mut self, id: u64, len: usize) -> Result<(), TestCaseError> {
        let data = self.model.data(len);
        let net = self.net.clone();
        let sent = data.clone();
        // Every other write asks no snapshot, as a script dropping the
        // answer does.
        let snapshot = len.is_multiple_of(2);
        let text = ArcStr::from(std::str::from_utf8(&sent).expect("the model writes ASCII"));
        let reply = call(|r| net.tcp_write(id, text, snapshot, r));
        let Some(conn) = self.model.conns.get(&id) else {
            return expect_error(&reply, "UnknownTcpSocket", &unknown_conn(id));
        };
        if conn.status != Status::Connected {
            return expect_error(&reply, "TcpSocketClosed", "cannot write to a closed TCP socket");
        }
        let e = conn.end;
        let p = self.model.ends[e].peer;
        let peer_state = self.model.ends[e].peer_state;
        match reply {
            Reply::Conn(_) | Reply::Written => {
                prop_assert_eq!(matches!(reply, Reply::Conn(_)), snapshot, "a snapshot only when asked: {:?}", reply);
                self.model.conns.get_mut(&id).expect("known").bytes_written += len as u64;
                if peer_state == Peer::Open {
                    self.model.ends[p].inbox.extend(data);
                } else {
                    // The peer's socket is gone: it answers with a reset.
                    self.model.ends[e].peer_state = Peer::Unsure;
                }
                match reply {
                    Reply::Conn(info) => self.check_conn(&info),
                    _ => Ok(()),
                }
            }
            Reply::Error(err) if peer_state != Peer::Open => {
                prop_assert_eq!(err.kind, "TcpSocketError", "{:?}", err);
                let m = self.model.conns.get_mut(&id).expect("known");
                m.status = Status::Failed;
                m.has_error = true;
                self.model.end_closed(e);
                Ok(())
            }
            other => Err(TestCaseError::fail(format!("write to an open peer gave {other:?}"))),
        }
    }

    fn close(&mut self, id: u64) -> Result<(), TestCaseError> {
        let reply = self.net.tcp_close(id);
        let Some(conn) = self.model.conns.get_mut(&id) else {
            return expect_error(&reply, "UnknownTcpSocket", &unknown_conn(id));
        };
        conn.status = Status::Closed;
        let e = conn.end;
        self.model.end_closed(e);
        let c = expect_conn(reply)?;
        self.check_conn(&c)
    }

    fn release(&mut self, id: u64) -> Result<(), TestCaseError> {
        let reply = self.net.tcp_release(id);
        match self.model.conns.get(&id).map(|c| c.status) {
            None => expect_error(&reply, "UnknownTcpSocket", &unknown_conn(id)),
            Some(Status::Connected) => expect_error(
                &reply,
                "TcpSocketOpen",
                &format!("TCP socket {id} is still connected; close it before tcp_release"),
            ),
            Some(_) => {
                prop_assert!(matches!(reply, Reply::Released), "release gave {reply:?}");
                self.model.conns.remove(&id);
                Ok(())
            }
        }
    }

    fn listener_close(&mut self, id: u64) -> Result<(), TestCaseError> {
        let reply = self.net.tcp_listener_close(id);
        let Some(l) = self.model.listeners.get_mut(&id) else {
            return expect_error(&reply, "UnknownTcpListener", &unknown_listener(id));
        };
        l.status = Status::Closed;
        // Connections still in the backlog are reset by the kernel.
        let backlog: Vec<usize> = l.backlog.drain(..).collect();
        for server in backlog {
            self.model.ends[server].open = false;
            let client = self.model.ends[server].peer;
            if self.model.ends[client].open {
                self.model.ends[client].peer_state = Peer::Unsure;
            }
        }
        let l = expect_listener(reply)?;
        prop_assert_eq!(l.status, Status::Closed);
        self.check_listener(&l)
    }

    fn listener_release(&mut self, id: u64) -> Result<(), TestCaseError> {
        let reply = self.net.tcp_listener_release(id);
        match self.model.listeners.get(&id).map(|l| l.status) {
            None => expect_error(&reply, "UnknownTcpListener", &unknown_listener(id)),
            Some(Status::Listening) => expect_error(
                &reply,
                "TcpListenerOpen",
                &format!("TCP listener {id} is still listening; close it before tcp_listener_release"),
            ),
            Some(_) => {
                prop_assert!(matches!(reply, Reply::Released), "listener release gave {reply:?}");
                self.model.listeners.remove(&id);
                Ok(())
            }
        }
    }

    /// Whether a read on `id` would wait (connected, nothing pending, peer open).
    fn read_would_wait(&self, id: u64) -> bool {
        self.model.conns.get(&id).is_some_and(|c| {
            let end = &self.model.ends[c.end];
            c.status == Status::Connected && end.inbox.is_empty() && end.peer_state == Peer::Open
        })
    }

    fn close_while_reading(&mut self, id: u64) -> Result<(), TestCaseError> {
        if !self.read_would_wait(id) {
            return self.close(id);
        }
        let net = self.net.clone();
        let waiting = start(|r| net.tcp_read(id, 64, 10_000, r));
        std::thread::sleep(Duration::from_millis(5));
        let started = Instant::now();
        self.close(id)?;
        let reply =
            waiting.recv_timeout(REPLY_LIMIT).map_err(|_| TestCaseError::fail("a waiting read was not woken"))?;
        prop_assert!(started.elapsed() < Duration::from_secs(1), "close woke the read late");
        expect_error(&reply, "TcpSocketClosed", "cannot read from a closed TCP socket")
    }

    fn close_while_accepting(&mut self, id: u64) -> Result<(), TestCaseError> {
        let waits =
            self.model.listeners.get(&id).is_some_and(|l| l.status == Status::Listening && l.backlog.is_empty());
        if !waits {
            return self.listener_close(id);
        }
        let net = self.net.clone();
        let waiting = start(|r| net.tcp_accept(id, 10_000, r));
        std::thread::sleep(Duration::from_millis(5));
        let started = Instant::now();
        self.listener_close(id)?;
        let reply =
            waiting.recv_timeout(REPLY_LIMIT).map_err(|_| TestCaseError::fail("a waiting accept was not woken"))?;
        prop_assert!(started.elapsed() < Duration::from_secs(1), "close woke the accept late");
        expect_error(&reply, "TcpListenerClosed", "cannot accept from a closed TCP listener")
    }

    fn peer_writes_while_reading(&mut self, id: u64, len: usize) -> Result<(), TestCaseError> {
        let peer_id = self.model.conn_end(id).and_then(|e| self.model.ends[self.model.ends[e].peer].id);
        let peer_connected =
            peer_id.is_some_and(|p| self.model.conns.get(&p).is_some_and(|c| c.status == Status::Connected));
        let (Some(peer_id), true, true) = (peer_id, peer_connected, self.read_would_wait(id)) else {
            return self.read(id, 64);
        };
        let net = self.net.clone();
        let started = Instant::now();
        let waiting = start(|r| net.tcp_read(id, 64, 10_000, r));
        std::thread::sleep(Duration::from_millis(5));
        self.write(peer_id, len)?;
        let reply = waiting.recv_timeout(REPLY_LIMIT).map_err(|_| TestCaseError::fail("a waiting read got no data"))?;
        prop_assert!(started.elapsed() < Duration::from_secs(2), "the data woke the read late");
        prop_assert!(matches!(&reply, Reply::Read(_, b) if !b.is_empty()), "waiting read gave {reply:?}");
        self.apply_read(id, 64, reply, started.elapsed())
    }
}

fn run_case(setup: Setup, ops: &[Op]) -> Result<(), TestCaseError> {
    let baseline = open_fds();
    let reactor = setup.start(10_000)?;
    let mut h = Harness { net: reactor.handle(), model: Model::default(), allow_list: setup.allow_list };
    for (n, op) in ops.iter().enumerate() {
        h.step(op).map_err(|e| TestCaseError::fail(format!("step {n} {op:?}: {e}\nmodel: {:#?}", h.model)))?;
        h.check_all().map_err(|e| TestCaseError::fail(format!("after step {n} {op:?}: {e}\nmodel: {:#?}", h.model)))?;
    }
    let retained = h.net.close_all();
    prop_assert_eq!(&retained.tcp_listeners, &h.model.listeners.keys().copied().collect::<Vec<_>>());
    prop_assert_eq!(&retained.tcp_connections, &h.model.conns.keys().copied().collect::<Vec<_>>());
    prop_assert_eq!(h.net.tcp_counts(), (0, 0), "close_all empties the registries");
    drop(h);
    drop(reactor);
    let after = settle_fds(baseline);
    // A leak leaves more descriptors than at the start; fewer can only be
    // a descriptor of another thread of the test process (seen once in CI
    // conditions: 6 against a baseline of 7) closing meanwhile.
    prop_assert!(after <= baseline, "open descriptors after the reactor is gone: {after}, before: {baseline}");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64),
        max_shrink_iters: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_lifecycles_match_the_model(setup in Setup::strategy(), ops in prop::collection::vec(op(), 10..=40)) {
        let _serial = serial();
        run_case(setup, &ops)?;
    }
}

/// 200 connections (both ends retained by the reactor) opened, used and
/// closed: descriptors come back to what they were, first while the reactor
/// still runs, then once it is gone.
/// Their snapshots, kept past their release and the reactor's end, keep
/// their identities (shared with the connections' records) and no socket.
#[test]
fn two_hundred_connections_leave_no_descriptor_behind() {
    let _serial = serial();
    let baseline = open_fds();
    let reactor = Reactor::start(Policy::default(), 10_000).expect("reactor");
    let net = reactor.handle();
    let with_reactor = open_fds();
    let Reply::Listener(l) = call(|r| net.tcp_listen("127.0.0.1", 0, true, None, r)) else { panic!("listen failed") };
    let mut pairs = Vec::new();
    let mut kept = Vec::new();
    for n in 0..200u32 {
        let Reply::Conn(client) = call(|r| net.tcp_connect("127.0.0.1", l.port, 2000, true, false, r)) else {
            panic!("connect {n} failed")
        };
        let Reply::Conn(server) = call(|r| net.tcp_accept(l.id, 2000, r)) else { panic!("accept {n} failed") };
        let Reply::Conn(_) = call(|r| net.tcp_write(client.id, ArcStr::from(format!("hello {n}")), true, r)) else {
            panic!("write {n} failed")
        };
        let Reply::Read(read, data) = call(|r| net.tcp_read(server.id, 64, 2000, r)) else { panic!("read {n} failed") };
        assert_eq!(data.text, format!("hello {n}"));
        pairs.push((client.id, server.id));
        kept.extend([client, server, read]);
    }
    assert_eq!(net.tcp_counts(), (400, 1));
    assert!(open_fds() >= with_reactor + 401, "400 connections and a listener are open");
    for (n, (client, server)) in pairs.into_iter().enumerate() {
        // Half of them by EOF on the server side, half by closing both ends.
        assert!(matches!(net.tcp_close(client), Reply::Conn(_)));
        if n % 2 == 0 {
            let Reply::Read(info, data) = call(|r| net.tcp_read(server, 64, 2000, r)) else { panic!("EOF read") };
            assert!(data.is_empty() && info.status == Status::Closed, "EOF closes: {info:?}");
        } else {
            assert!(matches!(net.tcp_close(server), Reply::Conn(_)));
        }
        assert!(matches!(net.tcp_release(client), Reply::Released));
        assert!(matches!(net.tcp_release(server), Reply::Released));
    }
    assert!(matches!(net.tcp_listener_close(l.id), Reply::Listener(_)));
    assert!(matches!(net.tcp_listener_release(l.id), Reply::Released));
    assert_eq!(net.tcp_counts(), (0, 0));
    assert_eq!(settle_fds(with_reactor), with_reactor, "descriptors while the reactor runs");
    assert_eq!(net.close_all(), rco_reactor::Retained::default());
    drop(net);
    drop(reactor);
    assert_eq!(settle_fds(baseline), baseline, "descriptors once the reactor is gone");
    for info in &kept {
        assert_eq!((&*info.identity.host, info.status), ("127.0.0.1", Status::Connected), "{info:?}");
        assert!(info.identity.port > 0 && info.identity.peer_addr.is_some(), "{info:?}");
    }
    drop(kept);
    assert_eq!(settle_fds(baseline), baseline, "descriptors once the snapshots are gone");
}

/// A request that can be answered while it is made returns its answer by
/// value, without making its reply function (for a task: no message, no
/// wake-up, no spurious run, no reference to the task taken): a write that
/// fits, a read of data already there, an accept of a connection already
/// made. One that must wait makes it once.
#[test]
fn ready_answers_come_back_by_value() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    /// Counts the reply functions made.
    struct Counting(Arc<AtomicUsize>);
    impl Replier for Counting {
        fn reply_fn(self) -> ReplyFn {
            self.0.fetch_add(1, SeqCst);
            Box::new(|_| {})
        }
    }
    let reactor = Reactor::start(Policy::default(), 16).expect("reactor");
    let net = reactor.handle();
    let made = Arc::new(AtomicUsize::new(0));
    let counting = || Counting(made.clone());
    let Reply::Listener(l) = call(|r| net.tcp_listen("127.0.0.1", 0, true, None, r)) else { panic!("listen failed") };
    let Reply::Conn(client) = call(|r| net.tcp_connect("127.0.0.1", l.port, 2000, true, false, r)) else {
        panic!("connect failed")
    };
    std::thread::sleep(Duration::from_millis(20));
    let Some((_, Reply::Conn(server))) = net.tcp_accept(l.id, 2000, counting()) else { panic!("accept waited") };
    let Some((_, Reply::Conn(_))) = net.tcp_write(client.id, ArcStr::from("hello"), true, counting()) else {
        panic!("write waited")
    };
    std::thread::sleep(Duration::from_millis(20));
    let Some((_, Reply::Read(_, data))) = net.tcp_read(server.id, 64, 2000, counting()) else { panic!("read waited") };
    assert_eq!(data.text, "hello");
    assert_eq!(made.load(SeqCst), 0, "a reply function was made for an answer given by value");
    assert!(net.tcp_read(server.id, 64, 2000, counting()).is_none(), "a read with nothing to read waits");
    assert_eq!(made.load(SeqCst), 1, "a waiting read makes its reply function once");
}

/// A peer writes and closes at once: a read asking for more than was sent
/// gets the bytes, and the next read the end at once, not after its
/// timeout (a connection is edge-triggered, and the end that came with the
/// bytes is announced by no later event: a short read must not be taken to
/// mean that nothing is left).
#[test]
fn an_end_that_came_with_the_bytes_is_not_missed() {
    use std::io::Write;
    let reactor = Reactor::start_polled(Policy::default(), 16, 2).expect("reactor");
    let net = reactor.handle();
    let Reply::Listener(l) = call(|r| net.tcp_listen("127.0.0.1", 0, true, None, r)) else { panic!("listen failed") };
    let mut peer = std::net::TcpStream::connect(("127.0.0.1", l.port)).expect("connect");
    let Reply::Conn(server) = call(|r| net.tcp_accept(l.id, 2000, r)) else { panic!("accept failed") };
    peer.write_all(b"bye").expect("write");
    drop(peer);
    std::thread::sleep(Duration::from_millis(50));
    let Reply::Read(_, data) = call(|r| net.tcp_read(server.id, 64, 2000, r)) else { panic!("read failed") };
    assert_eq!(data.text, "bye");
    let started = Instant::now();
    let Reply::Read(info, data) = call(|r| net.tcp_read(server.id, 64, 2000, r)) else { panic!("EOF read failed") };
    assert!(data.is_empty() && info.status == Status::Closed, "the end: {info:?}");
    assert!(started.elapsed() < Duration::from_secs(1), "the end came after {:?}", started.elapsed());
}
