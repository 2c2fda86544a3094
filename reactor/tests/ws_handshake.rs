//! Server handshakes run beside `ws_accept` (DIALECT 8): a silent or slow
//! peer holds nobody, finished handshakes are accepted in the order they
//! finish, waiters in the order they came, a malformed request is answered
//! `400 Bad Request`, a completed handshake counts against the registry
//! only once accepted, and closing the listener drops what was never
//! accepted. Loopback only; raw `std` peers. (The 10 s handshake deadline
//! and the 1024 cap are tested in `ws/server.rs` with short values.)

mod common;

use common::{call, start};
use rco_reactor::{Net, Policy, Reactor, Reply};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn listen(net: &Arc<Net>) -> (u64, u16) {
    match call(|r| net.ws_listen("127.0.0.1", 0, Vec::new(), None, r)) {
        Reply::Listener(l) => (l.id, l.port),
        other => panic!("ws_listen failed: {other:?}"),
    }
}

fn request(port: u16, origin: Option<&str>) -> String {
    let origin = origin.map(|o| format!("Origin: {o}\r\n")).unwrap_or_default();
    format!(
        "GET /x HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{origin}\r\n"
    )
}

fn peer(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    s
}

/// Reads the HTTP answer head (up to the blank line).
fn answer(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => got.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// A text frame from a client (masked with a zero key).
fn text_frame(text: &str) -> Vec<u8> {
    let mut f = vec![0x81, 0x80 | u8::try_from(text.len()).expect("short text"), 0, 0, 0, 0];
    f.extend_from_slice(text.as_bytes());
    f
}

fn accept(net: &Arc<Net>, listener: u64, timeout_ms: u64) -> Reply {
    call(|r| net.ws_accept(listener, timeout_ms, r))
}

fn read_text(net: &Arc<Net>, id: u64) -> String {
    match call(|r| net.ws_read(id, 1024, 2000, r)) {
        Reply::WsRead(_, m) => m.text.to_string(),
        other => panic!("ws_read failed: {other:?}"),
    }
}

#[test]
fn a_silent_peer_does_not_hold_ws_accept() {
    let reactor = Reactor::start(Policy::default(), 16).expect("reactor");
    let net = reactor.handle();
    let (listener, port) = listen(&net);
    let _silent = peer(port);
    std::thread::sleep(Duration::from_millis(50));
    let mut talker = peer(port);
    talker.write_all(request(port, None).as_bytes()).expect("request");
    let started = Instant::now();
    let Reply::WsConn(c) = accept(&net, listener, 3000) else { panic!("the talker was not accepted") };
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
    assert!(answer(&mut talker).starts_with("HTTP/1.1 101"));
    talker.write_all(&text_frame("hi")).expect("frame");
    assert_eq!(read_text(&net, c.id), "hi");
    // The silent peer's handshake goes on: ws_accept just waits.
    match accept(&net, listener, 100) {
        Reply::Error(e) => assert_eq!(e.kind, "SocketAcceptTimeout", "{e:?}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[test]
fn handshakes_are_accepted_in_the_order_they_finish() {
    let reactor = Reactor::start(Policy::default(), 16).expect("reactor");
    let net = reactor.handle();
    let (listener, port) = listen(&net);
    let mut peers: Vec<TcpStream> = (0..3).map(|_| peer(port)).collect();
    std::thread::sleep(Duration::from_millis(50));
    // They connected 0, 1, 2; they finish 2, 0, 1.
    for i in [2, 0, 1] {
        peers[i].write_all(request(port, None).as_bytes()).expect("request");
        assert!(answer(&mut peers[i]).starts_with("HTTP/1.1 101"), "peer {i}");
        peers[i].write_all(&text_frame(&format!("peer {i}"))).expect("frame");
    }
    let mut ids = Vec::new();
    for want in ["peer 2", "peer 0", "peer 1"] {
        let Reply::WsConn(c) = accept(&net, listener, 2000) else { panic!("not accepted") };
        assert_eq!(read_text(&net, c.id), want);
        ids.push(c.id);
    }
    assert_eq!(ids, vec![0, 1, 2], "ids are taken in accept order");
}

#[test]
fn waiters_are_served_in_the_order_they_began() {
    let reactor = Reactor::start(Policy::default(), 16).expect("reactor");
    let net = reactor.handle();
    let (listener, port) = listen(&net);
    let first = start(|r| net.ws_accept(listener, 5000, r));
    std::thread::sleep(Duration::from_millis(20));
    let second = start(|r| net.ws_accept(listener, 5000, r));
    std::thread::sleep(Duration::from_millis(20));
    let mut a = peer(port);
    a.write_all(request(port, None).as_bytes()).expect("request");
    let got = first.recv_timeout(Duration::from_secs(5)).expect("the first waiter is served first");
    assert!(matches!(got, Reply::WsConn(_)), "{got:?}");
    assert!(second.try_recv().is_err(), "the second waiter still waits");
    let mut b = peer(port);
    b.write_all(request(port, None).as_bytes()).expect("request");
    let got = second.recv_timeout(Duration::from_secs(5)).expect("then the second");
    assert!(matches!(got, Reply::WsConn(_)), "{got:?}");
}

#[test]
fn a_malformed_request_is_answered_400_and_is_an_accept_error() {
    let reactor = Reactor::start(Policy::default(), 16).expect("reactor");
    let net = reactor.handle();
    let (listener, port) = listen(&net);
    let mut bad = peer(port);
    bad.write_all(b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n").expect("request");
    assert!(answer(&mut bad).starts_with("HTTP/1.1 400 Bad Request\r\n"));
    match accept(&net, listener, 2000) {
        Reply::Error(e) => assert_eq!(e.kind, "WebSocketListenerError", "{e:?}"),
        other => panic!("expected the handshake's failure, got {other:?}"),
    }
    // A refused Origin keeps its 403 (and is no 400).
    let reactor = Reactor::start(Policy::default(), 16).expect("reactor");
    let net = reactor.handle();
    let (listener, port) = listen(&net);
    let mut refused = peer(port);
    refused.write_all(request(port, Some("http://evil.example")).as_bytes()).expect("request");
    let head = answer(&mut refused);
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    let mut rest = String::new();
    let _ = refused.read_to_string(&mut rest);
    assert_eq!(rest, "WebSocket Origin is not allowed: http://evil.example");
    assert!(matches!(accept(&net, listener, 2000), Reply::Error(e) if e.kind == "WebSocketListenerError"));
}

#[test]
fn a_finished_handshake_counts_against_the_cap_only_once_accepted() {
    let reactor = Reactor::start(Policy::default(), 1).expect("reactor");
    let net = reactor.handle();
    let (listener, port) = listen(&net);
    let mut peers: Vec<TcpStream> = (0..2).map(|_| peer(port)).collect();
    for p in &mut peers {
        p.write_all(request(port, None).as_bytes()).expect("request");
        assert!(answer(p).starts_with("HTTP/1.1 101"), "both handshakes finish");
    }
    assert_eq!(net.ws_counts(), (0, 1), "nothing retained before ws_accept");
    assert!(matches!(accept(&net, listener, 2000), Reply::WsConn(_)));
    match accept(&net, listener, 2000) {
        Reply::Error(e) => assert_eq!(e.kind, "RegistryFull", "{e:?}"),
        other => panic!("expected RegistryFull, got {other:?}"),
    }
    assert_eq!(net.ws_counts(), (1, 1));
}

#[test]
fn closing_the_listener_drops_what_was_never_accepted() {
    let reactor = Reactor::start(Policy::default(), 16).expect("reactor");
    let net = reactor.handle();
    let (listener, port) = listen(&net);
    let mut done = peer(port);
    done.write_all(request(port, None).as_bytes()).expect("request");
    assert!(answer(&mut done).starts_with("HTTP/1.1 101"));
    let mut silent = peer(port);
    std::thread::sleep(Duration::from_millis(50));
    assert!(matches!(net.ws_listener_close(listener), Reply::Listener(_)));
    for p in [&mut done, &mut silent] {
        let mut buf = [0u8; 16];
        // End of stream, or a reset: either way the connection is gone.
        assert!(!matches!(p.read(&mut buf), Ok(n) if n > 0), "a dropped connection gave data");
    }
    let retained = net.close_all();
    assert!(retained.ws_connections.is_empty(), "no leak note for unaccepted connections");
}
