//! `socket_ops`: an arbitrary sequence of TCP operations driven against a
//! real `rco_reactor::Reactor` on loopback (a fresh reactor per input).
//!
//! Bits 4 and 5 of the last byte set the reactor up (`rco_fuzz::reactor`:
//! polled as in production, with an allow-list of loopback). The input is
//! decoded into at most `MAX_OPS` operations: listen, connect
//! (to one of our listeners, or to a port nobody listens on), accept, read,
//! write, close, release, listener close, listener release, and a registry
//! check, each with an id that is either one the model knows or an invalid
//! one (never issued, or `u64::MAX`).
//!
//! Oracle: no panic; every reply arrives within its timeout plus `SLACK`
//! (a reply answered "now" is counted the same way); ids are never reused;
//! the registries (`tcp_listeners`, `tcp_connections`) hold exactly the ids
//! of the model (issued and not yet released), and a listener we closed is
//! reported `closed`; deterministic answers hold (a read of at most `max`
//! bytes returns at most `max` bytes or one whole character, DIALECT 14;
//! releasing a socket we closed succeeds, releasing a listener still
//! listening fails, operations on unknown ids fail); and after `close_all()` and dropping the reactor the
//! process has exactly as many open fds as before the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rco_reactor::types::{Reply, Status};
use rco_reactor::Net;
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

const MAX_OPS: usize = 24;
/// Per-registry cap given to the reactor (small, so `RegistryFull` is reached).
const MAX_SOCKETS: usize = 6;
/// How late a reply may be beyond its own timeout (the machine is shared).
const SLACK: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT_MS: u64 = 1000;
/// The tcp_write timeout of the reactor is 10 s; writes here are small.
const WRITE_WAIT: Duration = Duration::from_secs(10);

struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = self.data.get(self.pos).copied();
        self.pos += 1;
        b
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let start = self.pos.min(self.data.len());
        let end = (start + n).min(self.data.len());
        self.pos = end;
        &self.data[start..end]
    }
}

fn timeout_ms(b: u8) -> u64 {
    [0, 1, 10, 50][(b & 3) as usize]
}

struct Model {
    /// Listeners issued and not released: (id, port, closed by us).
    listeners: Vec<(u64, u16, bool)>,
    /// Connections issued and not released: (id, closed by us).
    conns: Vec<(u64, bool)>,
    seen_listener_ids: HashSet<u64>,
    seen_conn_ids: HashSet<u64>,
    /// A port with nobody listening (bound then dropped before the run).
    dead_port: u16,
}

impl Model {
    fn listener_pick(&self, b: u8) -> Option<usize> {
        if b & 0x80 != 0 || self.listeners.is_empty() {
            None
        } else {
            Some((b as usize) % self.listeners.len())
        }
    }
    fn conn_pick(&self, b: u8) -> Option<usize> {
        if b & 0x80 != 0 || self.conns.is_empty() {
            None
        } else {
            Some((b as usize) % self.conns.len())
        }
    }
}

fn invalid_id(b: u8) -> u64 {
    match b & 3 {
        0 => u64::MAX,
        1 => 1 << 62,
        2 => 100_000 + u64::from(b),
        _ => u64::MAX - 3,
    }
}

fn check_registries(net: &Arc<Net>, m: &Model) {
    let Reply::Listeners(ls) = net.tcp_listeners() else { panic!("tcp_listeners: not a list") };
    let got: BTreeSet<u64> = ls.iter().map(|l| l.id).collect();
    let want: BTreeSet<u64> = m.listeners.iter().map(|l| l.0).collect();
    assert_eq!(got, want, "listener registry differs from the model");
    for l in &ls {
        let closed_by_us = m.listeners.iter().any(|x| x.0 == l.id && x.2);
        if closed_by_us {
            assert_ne!(l.status, Status::Listening, "listener {} closed but still listening", l.id);
        } else {
            assert_eq!(l.status, Status::Listening, "listener {} not closed but {:?}", l.id, l.status);
        }
    }
    let Reply::Conns(cs) = net.tcp_connections() else { panic!("tcp_connections: not a list") };
    let got: BTreeSet<u64> = cs.iter().map(|c| c.id).collect();
    let want: BTreeSet<u64> = m.conns.iter().map(|c| c.0).collect();
    assert_eq!(got, want, "connection registry differs from the model");
    for c in &cs {
        if m.conns.iter().any(|x| x.0 == c.id && x.1) {
            assert_ne!(c.status, Status::Connected, "connection {} closed by us but still connected", c.id);
        }
    }
    let (nc, nl) = net.tcp_counts();
    assert_eq!((nc, nl), (m.conns.len(), m.listeners.len()), "tcp_counts differs from the model");
}

fn run(data: &[u8]) {
    let dead_port = {
        // Bind an ephemeral port and drop it: nothing listens there now.
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    // The last byte also sets up the reactor (read, not consumed, so the
    // operations an input decodes to do not depend on it).
    let setup = data.last().copied().unwrap_or(0);
    let reactor = rco_fuzz::reactor(setup & 0x10 != 0, setup & 0x20 != 0, MAX_SOCKETS);
    let net = reactor.handle();
    let mut m = Model {
        listeners: Vec::new(),
        conns: Vec::new(),
        seen_listener_ids: HashSet::new(),
        seen_conn_ids: HashSet::new(),
        dead_port,
    };
    let mut input = Input { data, pos: 0 };
    for _ in 0..MAX_OPS {
        let Some(op) = input.byte() else { break };
        let a = input.byte().unwrap_or(0);
        match op % 10 {
            0 => {
                let full = m.listeners.len() >= MAX_SOCKETS;
                let n = net.clone();
                match rco_fuzz::call("tcp_listen", SLACK, move |reply| n.tcp_listen("127.0.0.1", 0, a & 1 != 0, None, reply)) {
                    Reply::Listener(info) => {
                        assert!(!full, "tcp_listen past the registry cap");
                        assert_eq!(info.status, Status::Listening);
                        assert!(m.seen_listener_ids.insert(info.id), "listener id {} reused", info.id);
                        m.listeners.push((info.id, info.port, false));
                    }
                    Reply::Error(e) => assert!(full, "tcp_listen failed below the cap: {e:?}"),
                    other => panic!("tcp_listen: unexpected reply {other:?}"),
                }
            }
            1 => {
                let port = match m.listener_pick(a) {
                    Some(i) => m.listeners[i].1,
                    None => m.dead_port,
                };
                let full = m.conns.len() >= MAX_SOCKETS;
                let n = net.clone();
                let r =
                    rco_fuzz::call("tcp_connect", Duration::from_millis(CONNECT_TIMEOUT_MS) + SLACK, move |reply| {
                        n.tcp_connect("127.0.0.1", port, CONNECT_TIMEOUT_MS, a & 0x40 != 0, false, reply)
                    });
                match r {
                    Reply::Conn(info) => {
                        assert!(!full, "tcp_connect past the registry cap");
                        assert!(m.seen_conn_ids.insert(info.id), "connection id {} reused", info.id);
                        m.conns.push((info.id, false));
                    }
                    Reply::Error(_) => {}
                    other => panic!("tcp_connect: unexpected reply {other:?}"),
                }
            }
            2 => {
                let t = timeout_ms(a >> 4);
                let id = m.listener_pick(a).map_or_else(|| invalid_id(a), |i| m.listeners[i].0);
                let n = net.clone();
                let r = rco_fuzz::call("tcp_accept", Duration::from_millis(t) + SLACK, move |reply| {
                    n.tcp_accept(id, t, reply)
                });
                match r {
                    Reply::Conn(info) => {
                        assert!(
                            m.listeners.iter().any(|l| l.0 == id && !l.2),
                            "accept on a closed or unknown listener"
                        );
                        assert!(m.seen_conn_ids.insert(info.id), "connection id {} reused", info.id);
                        m.conns.push((info.id, false));
                    }
                    Reply::Error(_) => {}
                    other => panic!("tcp_accept: unexpected reply {other:?}"),
                }
            }
            3 => {
                let t = timeout_ms(a >> 4);
                let max = [0usize, 1, 7, 4096][((a >> 2) & 3) as usize];
                let pick = m.conn_pick(a);
                let id = pick.map_or_else(|| invalid_id(a), |i| m.conns[i].0);
                let n = net.clone();
                let r = rco_fuzz::call("tcp_read", Duration::from_millis(t) + SLACK, move |reply| {
                    n.tcp_read(id, max, t, reply)
                });
                match (&r, pick) {
                    (Reply::Read(_, chunk), Some(i)) => {
                        assert!(!m.conns[i].1, "read succeeded on a connection we closed");
                        // DIALECT 14: past max only by one character, whole.
                        let one_char = chunk.bytes <= 4 && chunk.text.chars().count() == 1;
                        assert!(chunk.bytes <= max || one_char, "read {} bytes, max {max}", chunk.bytes);
                    }
                    (Reply::Error(_), _) => {}
                    (other, _) => panic!("tcp_read of {id}: unexpected reply {other:?}"),
                }
            }
            4 => {
                let len = usize::from(input.byte().unwrap_or(0)) * 16;
                let chunk = input.take(16).to_vec();
                let bytes: Vec<u8> =
                    if chunk.is_empty() { vec![b'x'; len] } else { chunk.iter().copied().cycle().take(len).collect() };
                // Scripts write text: the fuzzer's bytes, decoded.
                let text = arcstr::ArcStr::from(String::from_utf8_lossy(&bytes));
                let pick = m.conn_pick(a);
                let id = pick.map_or_else(|| invalid_id(a), |i| m.conns[i].0);
                let n = net.clone();
                let r = rco_fuzz::call("tcp_write", WRITE_WAIT + SLACK, move |reply| n.tcp_write(id, text, len.is_multiple_of(2), reply));
                match (&r, pick) {
                    (Reply::Error(_), _) => {}
                    (Reply::Conn(_) | Reply::Written, Some(i)) => assert!(!m.conns[i].1, "write succeeded on a connection we closed"),
                    (other, _) => panic!("tcp_write of {id}: unexpected reply {other:?}"),
                }
            }
            5 => {
                let pick = m.conn_pick(a);
                let id = pick.map_or_else(|| invalid_id(a), |i| m.conns[i].0);
                let r = net.tcp_close(id);
                match (r, pick) {
                    (Reply::Conn(info), Some(i)) => {
                        assert_ne!(info.status, Status::Connected, "tcp_close left the connection connected");
                        m.conns[i].1 = true;
                    }
                    (Reply::Error(_), None) => {}
                    (other, _) => panic!("tcp_close of {id}: unexpected reply {other:?}"),
                }
            }
            6 => {
                let pick = m.conn_pick(a);
                let id = pick.map_or_else(|| invalid_id(a), |i| m.conns[i].0);
                let r = net.tcp_release(id);
                match (&r, pick) {
                    (Reply::Released, Some(i)) => {
                        m.conns.remove(i);
                    }
                    (Reply::Error(_), Some(i)) => {
                        assert!(!m.conns[i].1, "release of a connection we closed failed: {r:?}")
                    }
                    (Reply::Error(_), None) => {}
                    (other, _) => panic!("tcp_release of {id}: unexpected reply {other:?}"),
                }
            }
            7 => {
                let pick = m.listener_pick(a);
                let id = pick.map_or_else(|| invalid_id(a), |i| m.listeners[i].0);
                let r = net.tcp_listener_close(id);
                match (r, pick) {
                    (Reply::Listener(info), Some(i)) => {
                        assert_eq!(info.status, Status::Closed, "tcp_listener_close left {:?}", info.status);
                        m.listeners[i].2 = true;
                    }
                    (Reply::Error(_), None) => {}
                    (other, _) => panic!("tcp_listener_close of {id}: unexpected reply {other:?}"),
                }
            }
            8 => {
                let pick = m.listener_pick(a);
                let id = pick.map_or_else(|| invalid_id(a), |i| m.listeners[i].0);
                let r = net.tcp_listener_release(id);
                match (&r, pick) {
                    (Reply::Released, Some(i)) => {
                        assert!(m.listeners[i].2, "released a listener still listening");
                        m.listeners.remove(i);
                    }
                    (Reply::Error(_), Some(i)) => {
                        assert!(!m.listeners[i].2, "release of a closed listener failed: {r:?}")
                    }
                    (Reply::Error(_), None) => {}
                    (other, _) => panic!("tcp_listener_release of {id}: unexpected reply {other:?}"),
                }
            }
            _ => check_registries(&net, &m),
        }
    }
    check_registries(&net, &m);
    let retained = net.close_all();
    let mut l = retained.tcp_listeners.clone();
    l.sort_unstable();
    let mut want: Vec<u64> = m.listeners.iter().map(|x| x.0).collect();
    want.sort_unstable();
    assert_eq!(l, want, "close_all reported other listeners than the model");
    let mut c = retained.tcp_connections.clone();
    c.sort_unstable();
    let mut want: Vec<u64> = m.conns.iter().map(|x| x.0).collect();
    want.sort_unstable();
    assert_eq!(c, want, "close_all reported other connections than the model");
    drop(net);
    drop(reactor);
}

fuzz_target!(|data: &[u8]| {
    let before = rco_fuzz::open_fds();
    run(data);
    rco_fuzz::assert_no_fd_leak(before);
});
