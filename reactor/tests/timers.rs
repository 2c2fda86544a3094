//! Resource use of answered waits: a read that waits arms a timeout timer;
//! once the read is answered, that timer must not keep memory until its
//! deadline. A busy server reading with a long timeout (300 s is allowed)
//! would otherwise grow by one heap entry per wait for minutes.
//!
//! Own test binary: it measures the process's resident memory.

mod common;

use arcstr::ArcStr;
use common::call;
use rco_reactor::{Policy, Reactor, Reply};
use std::sync::mpsc;
use std::time::Duration;

fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Ping-pong `rounds` times over one connection pair, each read waiting
/// (its timer armed) before the write that answers it.
fn ping_pong(rounds: usize, read_timeout_ms: u64) -> u64 {
    let reactor = Reactor::start(Policy::default(), 100).expect("reactor");
    let net = reactor.handle();
    let Reply::Listener(l) = call(|r| net.tcp_listen("127.0.0.1", 0, true, None, r)) else { panic!("listen") };
    let Reply::Conn(a) = call(|r| net.tcp_connect("127.0.0.1", l.port, 2000, true, false, r)) else {
        panic!("connect")
    };
    let Reply::Conn(b) = call(|r| net.tcp_accept(l.id, 2000, r)) else { panic!("accept") };
    let before = resident_kib();
    for _ in 0..rounds {
        let (tx, rx) = mpsc::channel();
        let waiting = net.tcp_read(
            b.id,
            16,
            read_timeout_ms,
            Box::new(move |r| {
                let _ = tx.send(r);
            }) as rco_reactor::ReplyFn,
        );
        assert!(waiting.is_none(), "nothing to read yet: the read waits");
        let Reply::Conn(_) = call(|r| net.tcp_write(a.id, ArcStr::from("x"), true, r)) else { panic!("write") };
        let Ok(Reply::Read(_, data)) = rx.recv_timeout(Duration::from_secs(5)) else { panic!("read") };
        assert_eq!(data.text, "x");
    }
    let grown = resident_kib().saturating_sub(before);
    net.close_all();
    grown
}

/// Regression test (the bug was fixed by 0f2adeb, "cancel the timers of
/// answered waits"): before, each answered wait left its timer in the heap
/// until the deadline, and 40,000 answered reads with a 300 s timeout grew
/// the process by ~2-4 MiB (200,000 by ~11 MiB); now by a few KiB.
#[test]
fn answered_reads_do_not_keep_their_timers() {
    let rounds = 40_000;
    // Warm up the allocator and the reactor's buffers first.
    ping_pong(1_000, 300_000);
    let grown = ping_pong(rounds, 300_000);
    eprintln!("resident growth over {rounds} answered reads with a 300 s timeout: {grown} KiB");
    assert!(grown < 1024, "{rounds} answered reads with a 300 s timeout grew the process by {grown} KiB");
}
