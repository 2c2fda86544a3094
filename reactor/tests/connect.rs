//! Outgoing connects driven by the reactor: the first address that
//! connects wins, a refused or silent address gives its error, the connect
//! timeout holds per attempt, and a WebSocket client handshake that gets no
//! answer times out. Loopback only.

mod common;

use common::call as wait;
use rco_reactor::{Policy, Reactor, ReactorHandle, Reply};
use std::net::TcpListener;
use std::time::{Duration, Instant};

fn connect(net: &ReactorHandle, host: &str, port: u16, timeout_ms: u64) -> Reply {
    wait(|reply| net.tcp_connect(host, port, timeout_ms, true, false, reply))
}

/// A loopback port with nothing listening.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[test]
fn connects_to_a_literal_and_to_a_name() {
    let reactor = Reactor::start(Policy::default(), 16).expect("reactor");
    let net = reactor.handle();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    for host in ["127.0.0.1", "localhost"] {
        match connect(&net, host, port, 2000) {
            Reply::Conn(c) => {
                assert_eq!(&*c.identity.host, host);
                assert_eq!(c.identity.peer_addr.as_deref(), Some(format!("127.0.0.1:{port}").as_str()));
            }
            other => panic!("{host}: expected a connection, got {other:?}"),
        }
    }
    assert_eq!(net.tcp_counts(), (2, 0));
}

#[test]
fn a_refused_connect_reports_the_os_error() {
    let reactor = Reactor::start(Policy::default(), 16).expect("reactor");
    let net = reactor.handle();
    match connect(&net, "127.0.0.1", closed_port(), 2000) {
        Reply::Error(e) => {
            assert_eq!(e.kind, "TcpSocketError");
            assert!(e.message.contains("refused"), "{e:?}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    assert_eq!(net.tcp_counts(), (0, 0), "a failed connect retains nothing");
}

#[test]
fn a_connect_that_gets_no_answer_times_out() {
    // A listener that never accepts, with its accept queue filled: the
    // kernel drops further SYNs, so the next connect gets no answer.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut held = Vec::new();
    let reactor = Reactor::start(Policy::default(), 4096).expect("reactor");
    let net = reactor.handle();
    let started = Instant::now();
    loop {
        assert!(held.len() < 2000, "the accept queue never filled");
        let t = Instant::now();
        match connect(&net, "127.0.0.1", addr.port(), 300) {
            Reply::Conn(c) => held.push(c.id),
            Reply::Error(e) => {
                assert_eq!((e.kind, e.message.as_str()), ("TcpSocketError", "connection timed out"));
                let waited = t.elapsed();
                assert!(waited >= Duration::from_millis(290), "gave up after {waited:?}");
                assert!(waited < Duration::from_secs(5), "took {waited:?}");
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(net.tcp_counts(), (held.len(), 0));
    drop(listener);
}

#[test]
fn a_websocket_client_handshake_without_an_answer_times_out() {
    // A TCP server that accepts and then says nothing.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let reactor = Reactor::start(Policy::default(), 16).expect("reactor");
    let net = reactor.handle();
    let url = format!("ws://127.0.0.1:{port}/");
    let started = Instant::now();
    match wait(|reply| net.ws_connect(&url, "127.0.0.1", port, 300, reply)) {
        Reply::Error(e) => {
            assert_eq!((e.kind, e.message.as_str()), ("WebSocketError", "WebSocket handshake timed out"))
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(290) && waited < Duration::from_secs(5), "took {waited:?}");
    assert_eq!(net.ws_counts(), (0, 0));
    drop(listener);
}

#[test]
fn a_refused_websocket_connect_reports_the_os_error() {
    let reactor = Reactor::start(Policy::default(), 16).expect("reactor");
    let net = reactor.handle();
    let port = closed_port();
    let url = format!("ws://127.0.0.1:{port}/");
    match wait(|reply| net.ws_connect(&url, "127.0.0.1", port, 2000, reply)) {
        Reply::Error(e) => {
            assert_eq!(e.kind, "WebSocketError");
            assert!(e.message.contains("refused"), "{e:?}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

/// DIALECT 9: a `ws_connect` URL is checked completely before any
/// connection is made (here the path): the listener sees no connection.
#[test]
fn a_bad_websocket_url_is_refused_before_connecting() {
    let reactor = Reactor::start(Policy::default(), 16).expect("reactor");
    let net = reactor.handle();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    for url in [format!("ws://127.0.0.1:{port}/a b"), format!("ws://127.0.0.1:{port}/<x>")] {
        match wait(|reply| net.ws_connect(&url, "127.0.0.1", port, 2000, reply)) {
            Reply::Error(e) => {
                assert_eq!(e.kind, "SocketRequestError", "{url}: {e:?}");
                assert!(e.message.starts_with("invalid WebSocket URL: "), "{url}: {e:?}");
            }
            other => panic!("{url}: expected an error, got {other:?}"),
        }
    }
    std::thread::sleep(Duration::from_millis(50));
    assert!(listener.accept().is_err(), "a connection was made");
    assert_eq!(net.ws_counts(), (0, 0));
}

/// DIALECT 15: a `wss://` connect runs TLS first and never sends its
/// request in clear; a peer that does not answer the TLS handshake fails
/// it at the connect timeout.
#[test]
fn a_wss_connect_sends_nothing_in_clear() {
    use std::io::Read;
    let reactor = Reactor::start(Policy::default(), 16).expect("reactor");
    let net = reactor.handle();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let url = format!("wss://127.0.0.1:{port}/x");
    match wait(|reply| net.ws_connect(&url, "127.0.0.1", port, 500, reply)) {
        Reply::Error(e) => {
            assert_eq!((e.kind, e.message.as_str()), ("WebSocketError", "TLS handshake failed: handshake timed out"))
        }
        other => panic!("expected an error, got {other:?}"),
    }
    let (mut peer, _) = listener.accept().expect("the TCP connect happened");
    peer.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
    let mut sent = Vec::new();
    let _ = peer.read_to_end(&mut sent);
    assert_eq!(sent.first(), Some(&0x16), "the first record is not a TLS handshake: {sent:?}");
    assert!(!sent.windows(4).any(|w| w == b"GET "), "the request went out in clear");
    assert_eq!(net.ws_counts(), (0, 0));
}
