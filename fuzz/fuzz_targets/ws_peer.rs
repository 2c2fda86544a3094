//! `ws_peer`: arbitrary bytes from a raw TCP peer to a `ws_listen`
//! listener of a real `rco_reactor::Reactor` on loopback.
//!
//! Input layout: byte 0 is the mode (bit 0: send a valid handshake request
//! first, else the first part of the input is sent raw as the prelude;
//! bit 1: the peer shuts down its write side after sending everything;
//! bits 2-3: no Origin header / an allowed Origin / a forbidden Origin;
//! bits 4-5: the accept timeout; bits 6-7: how many `ws_read`s follow).
//! Byte 1 is the `max_bytes` selector of the reads (bits 0-1) and sets the
//! reactor up (`rco_fuzz::reactor`: bit 2 polled as in production, bit 3
//! an allow-list of loopback). Without the handshake,
//! byte 2 is the length of the raw prelude. The rest is sent as frames
//! after `ws_accept` answered.
//!
//! Oracle: no panic; `ws_accept` and every `ws_read` answer within their
//! timeout plus `SLACK` (an error Result, a `failed`/`closed` connection or
//! a `none` message are all fine); a read of a connection we closed fails;
//! after `close_all()`, dropping the reactor and the peer, the process has
//! as many open fds as before the input; an input that takes half a second
//! or more used less CPU than half its wall time (waiting for a silent peer
//! costs nothing: a reactor that spins while it waits fails this).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rco_reactor::types::Reply;
use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

const SLACK: Duration = Duration::from_secs(5);
const ALLOWED_ORIGIN: &str = "http://allowed.example";

fn handshake(port: u16, origin: u8) -> Vec<u8> {
    let mut req = format!(
        "GET /chat HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    );
    match origin {
        1 => req.push_str(&format!("Origin: {ALLOWED_ORIGIN}\r\n")),
        2 => req.push_str("Origin: http://evil.example\r\n"),
        _ => {}
    }
    req.push_str("\r\n");
    req.into_bytes()
}

fn run(data: &[u8]) {
    let mode = data.first().copied().unwrap_or(1);
    let sel = data.get(1).copied().unwrap_or(0);
    let valid = mode & 1 != 0;
    let shutdown = mode & 2 != 0;
    let origin = (mode >> 2) & 3;
    let accept_ms = [10u64, 50, 200, 500][((mode >> 4) & 3) as usize];
    let reads = 1 + ((mode >> 6) & 3) as usize;
    let max_bytes = [0usize, 1, 16, 1 << 20][(sel & 3) as usize];
    let rest = data.get(2..).unwrap_or(&[]);

    let reactor = rco_fuzz::reactor(sel & 4 != 0, sel & 8 != 0, 8);
    let net = reactor.handle();
    let n = net.clone();
    let listening = rco_fuzz::call("ws_listen", SLACK, move |reply| {
        n.ws_listen("127.0.0.1", 0, vec![ALLOWED_ORIGIN.to_string()], None, reply)
    });
    let Reply::Listener(l) = listening else {
        panic!("ws_listen failed on loopback")
    };
    let (prelude, frames) = if valid {
        (handshake(l.port, origin), rest)
    } else {
        let n = usize::from(rest.first().copied().unwrap_or(0)).min(rest.len().saturating_sub(1));
        let body = rest.get(1..).unwrap_or(&[]);
        (body[..n].to_vec(), &body[n..])
    };
    let mut peer = TcpStream::connect(("127.0.0.1", l.port)).expect("peer connect");
    peer.set_write_timeout(Some(Duration::from_secs(2))).expect("write timeout");
    let _ = peer.write_all(&prelude);
    // Bug 1 of docs/FUZZING.md (fixed in 5cce19c): a peer that stopped in
    // the middle of its handshake request kept `ws_accept` waiting past its
    // timeout. With RCO_FUZZ_AVOID_KNOWN_WS_STALL=1 a raw prelude is always
    // followed by the rest of the input and end of stream, which steps
    // around that bug (for fuzzing a tree that lacks the fix).
    let avoid_stall = std::env::var("RCO_FUZZ_AVOID_KNOWN_WS_STALL").is_ok_and(|v| v == "1");
    let frames = if avoid_stall && !valid {
        let _ = peer.write_all(frames);
        let _ = peer.shutdown(Shutdown::Write);
        &[][..]
    } else {
        frames
    };
    if shutdown && frames.is_empty() {
        let _ = peer.shutdown(Shutdown::Write);
    }
    let n = net.clone();
    let lid = l.id;
    let accepted = rco_fuzz::call("ws_accept", Duration::from_millis(accept_ms) + SLACK, move |reply| {
        n.ws_accept(lid, accept_ms, reply)
    });
    if let Reply::WsConn(c) = accepted {
        let _ = peer.write_all(frames);
        if shutdown {
            let _ = peer.shutdown(Shutdown::Write);
        }
        for i in 0..reads {
            let n = net.clone();
            let r = rco_fuzz::call("ws_read", Duration::from_millis(50) + SLACK, move |reply| {
                n.ws_read(c.id, max_bytes, 50, reply)
            });
            match r {
                Reply::WsRead(_, msg) => {
                    assert!(
                        ["text", "binary", "ping", "pong", "close", "frame", "none"].contains(&&*msg.kind),
                        "ws_read: unknown message kind {:?}",
                        msg.kind
                    );
                }
                Reply::Error(_) => {}
                other => panic!("ws_read: unexpected reply {other:?}"),
            }
            if i == 1 && sel & 0x80 != 0 {
                let _ = net.ws_close(c.id);
                let n = net.clone();
                let r =
                    rco_fuzz::call("ws_read after ws_close", SLACK, move |reply| n.ws_read(c.id, max_bytes, 50, reply));
                assert!(matches!(r, Reply::Error(_)), "ws_read after ws_close did not fail: {r:?}");
                break;
            }
        }
    }
    let _ = net.close_all();
    drop(net);
    drop(reactor);
    drop(peer);
}

fuzz_target!(|data: &[u8]| rco_fuzz::peer_input(|| run(data)));
