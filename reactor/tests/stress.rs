//! Concurrency stress of the TCP waiters: requests from many threads at once
//! racing the reactor thread's readiness events. A lost wake-up shows up as
//! a reply that never comes (each wait is bounded) or as bytes that never
//! arrive; a duplicated one as bytes counted twice.

mod common;

use arcstr::ArcStr;
use rco_reactor::{Net, Policy, Reactor, Reply, ReplyFn, Status};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a reply may take before the test calls it a lost wake-up.
const REPLY_LIMIT: Duration = Duration::from_secs(10);

/// Calls a request and waits at most `REPLY_LIMIT` for its reply (a lost
/// wake-up shows up as a panic here).
fn call(f: impl FnOnce(ReplyFn) -> Option<(ReplyFn, Reply)>) -> Reply {
    common::call_within(REPLY_LIMIT, f)
}

/// A connected pair: (client id, server id).
fn pair(net: &Arc<Net>, listener: u64, port: u16) -> (u64, u64) {
    let Reply::Conn(c) = call(|r| net.tcp_connect("127.0.0.1", port, 2000, true, false, r)) else { panic!("connect") };
    let Reply::Conn(s) = call(|r| net.tcp_accept(listener, 2000, r)) else { panic!("accept") };
    (c.id, s.id)
}

/// Four threads read one connection at once while another writes to it in
/// small pieces: every byte arrives exactly once, and the readers still
/// waiting when the writer closes are answered.
#[test]
fn concurrent_readers_of_one_connection_get_every_byte_once() {
    let reactor = Reactor::start(Policy::default(), 100).expect("reactor");
    let net = reactor.handle();
    let Reply::Listener(l) = call(|r| net.tcp_listen("127.0.0.1", 0, true, None, r)) else { panic!("listen") };
    let (client, server) = pair(&net, l.id, l.port);
    let received = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (net, received, done) = (net.clone(), received.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::Acquire) {
                    match call(|r| net.tcp_read(server, 7, 3000, r)) {
                        Reply::Read(info, data) => {
                            received.fetch_add(data.bytes as u64, Ordering::AcqRel);
                            if data.is_empty() && info.status != Status::Connected {
                                return; // end of stream
                            }
                        }
                        Reply::Error(e) if e.kind == "TcpSocketClosed" => return,
                        other => panic!("read gave {other:?}"),
                    }
                }
            })
        })
        .collect();
    let pieces = 20_000u64;
    let mut sent = 0u64;
    for n in 0..pieces {
        let data = ArcStr::from(char::from(b'a' + (n % 26) as u8).to_string().repeat(1 + (n % 5) as usize));
        sent += data.len() as u64;
        let Reply::Conn(_) = call(|r| net.tcp_write(client, data, true, r)) else { panic!("write {n}") };
    }
    let deadline = Instant::now() + REPLY_LIMIT;
    while received.load(Ordering::Acquire) < sent && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(received.load(Ordering::Acquire), sent, "every byte read exactly once");
    done.store(true, Ordering::Release);
    let Reply::Conn(_) = net.tcp_close(client) else { panic!("close") };
    for r in readers {
        r.join().expect("reader thread");
    }
    let Reply::Conn(info) = net.tcp_connection(server) else { panic!("snapshot") };
    assert_eq!(info.bytes_read, sent);
    net.close_all();
}

/// Many connection pairs, each ping-ponging from two threads of its own:
/// every read waits before the write that answers it, so readiness events
/// race new requests constantly.
#[test]
fn many_ping_pongs_in_parallel_lose_no_wake_up() {
    let reactor = Reactor::start(Policy::default(), 1000).expect("reactor");
    let net = reactor.handle();
    let Reply::Listener(l) = call(|r| net.tcp_listen("127.0.0.1", 0, true, None, r)) else { panic!("listen") };
    let rounds = 300;
    let threads: Vec<_> = (0..16)
        .map(|_| pair(&net, l.id, l.port))
        .flat_map(|(a, b)| {
            // Each side reads a byte then writes one back; `a` starts.
            [(a, true), (b, false)].map(|(me, starts)| {
                let net = net.clone();
                std::thread::spawn(move || {
                    if starts {
                        let Reply::Conn(_) = call(|r| net.tcp_write(me, ArcStr::from("x"), true, r)) else {
                            panic!("write")
                        };
                    }
                    for n in 0..rounds {
                        let reply = call(|r| net.tcp_read(me, 1, 5000, r));
                        let Reply::Read(_, data) = reply else { panic!("read {n}: {reply:?}") };
                        assert_eq!(data.text, "x", "round {n} of connection {me}");
                        if !(starts && n == rounds - 1) {
                            let Reply::Conn(_) = call(|r| net.tcp_write(me, ArcStr::from("x"), true, r)) else {
                                panic!("write")
                            };
                        }
                    }
                })
            })
        })
        .collect();
    for t in threads {
        t.join().expect("ping-pong thread");
    }
    let retained = net.close_all();
    assert_eq!(retained.tcp_connections.len(), 32);
}
