//! A stalled WebSocket server handshake must wait for the peer without
//! burning CPU. It once armed readable and writable interest while waiting
//! for the rest of the request: the socket is writable all the while, so
//! the reactor spun until the handshake timed out (one silent client held
//! a core). Alone in its test binary, so the process CPU time it measures
//! is its own.

mod common;

use rco_reactor::{Policy, Reactor, Reply};
use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

/// User plus system CPU time of this process, from /proc/self/stat.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the line, in clock ticks (USER_HZ = 100).
    let rest = &stat[stat.rfind(')').expect("command name") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    Duration::from_millis(ticks * 10)
}

#[test]
fn a_stalled_handshake_waits_without_spinning() {
    let reactor = Reactor::start(Policy::default(), 8).expect("reactor");
    let net = reactor.handle();
    let Reply::Listener(listener) = common::call(|r| net.ws_listen("127.0.0.1", 0, Vec::new(), None, r)) else {
        panic!("ws_listen failed")
    };
    let mut peer = std::net::TcpStream::connect(("127.0.0.1", listener.port)).expect("connect");
    peer.write_all(b"GET / HTTP/1.1\r\n").expect("half a request");
    let before = cpu_time();
    let (tx, rx) = mpsc::channel();
    let reply: rco_reactor::ReplyFn = Box::new(move |r| {
        let _ = tx.send(r);
    });
    let answer = match net.ws_accept(listener.id, 1000, reply) {
        Some((_, r)) => r,
        None => rx.recv_timeout(Duration::from_secs(10)).expect("ws_accept ignored its timeout"),
    };
    // The handshake goes on (its own deadline is 10 s): ws_accept only waited.
    assert!(matches!(answer, Reply::Error(ref e) if e.kind == "SocketAcceptTimeout"), "{answer:?}");
    let spent = cpu_time() - before;
    // Waiting costs next to nothing; spinning for the 1 s wait cost ~0.8 s.
    assert!(spent < Duration::from_millis(300), "the reactor used {spent:?} of CPU waiting for a silent peer");
    drop(peer);
}
