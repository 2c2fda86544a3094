//! A WebSocket server handshake that stalls (half a request, then silence)
//! ends with its own timeout: one silent peer cannot hold `ws_accept`
//! (found by the `ws_peer` fuzz target; fuzz/regressions/ws_peer/).

use rco_reactor::{Policy, Reactor, Reply};
use std::io::Write;
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[test]
fn a_stalled_handshake_times_out() {
    stalled_handshake(Duration::ZERO);
}

/// The peer is already waiting in the backlog when `ws_accept` comes, so the
/// handshake (and its deadline) starts inside the request, not on an event:
/// the deadline must still wake the sleeping reactor.
#[test]
fn a_stalled_handshake_already_pending_times_out() {
    stalled_handshake(Duration::from_millis(100));
}

fn stalled_handshake(pending_for: Duration) {
    let reactor = Reactor::start(Policy::default(), 8).expect("reactor");
    let net = reactor.handle();
    let Reply::Listener(listener) = net.ws_listen("127.0.0.1", 0, Vec::new()) else { panic!("ws_listen failed") };
    let mut peer = std::net::TcpStream::connect(("127.0.0.1", listener.port)).expect("connect");
    peer.write_all(b"GET / HTTP/1.1\r\n").expect("half a request");
    std::thread::sleep(pending_for);
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    let reply = Box::new(move |r| {
        let _ = tx.send(r);
    });
    let answer = match net.ws_accept(listener.id, 200, reply) {
        Some((_, r)) => r,
        None => rx.recv_timeout(Duration::from_secs(5)).expect("ws_accept ignored its timeout"),
    };
    match answer {
        Reply::Error(e) => assert_eq!(e.kind, "WebSocketListenerError", "{e:?}"),
        other => panic!("expected an error, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    assert_eq!(net.ws_counts(), (0, 1), "the stalled connection is not retained");
    drop(peer);
}
