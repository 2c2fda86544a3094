//! `tcp_read` never ends a chunk inside a character (DIALECT 14), against a
//! raw `std` peer that sends half a character and then pauses, ends the
//! stream or resets: the kept bytes count in `max_bytes` but in no counter,
//! a timeout keeps them, an end delivers them as U+FFFD before the end
//! itself, and a local close discards them. (`tests/interop` drives the
//! same rules through `rco` with a Python peer.)

mod common;

use common::call;
use rco_reactor::{ConnInfo, Net, Policy, Reactor, Reply, Status};
use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

/// A reactor, a connection accepted from a raw peer: (reactor, net, the
/// accepted id, the peer).
fn accepted() -> (Reactor, Arc<Net>, u64, TcpStream) {
    let reactor = Reactor::start(Policy::default(), 16).expect("reactor");
    let net = reactor.handle();
    let Reply::Listener(l) = call(|r| net.tcp_listen("127.0.0.1", 0, true, None, r)) else { panic!("listen") };
    let peer = TcpStream::connect(("127.0.0.1", l.port)).expect("connect");
    let Reply::Conn(c) = call(|r| net.tcp_accept(l.id, 2000, r)) else { panic!("accept") };
    (reactor, net, c.id, peer)
}

/// One read: (text, bytes, the snapshot after it), or the error.
fn read(net: &Arc<Net>, id: u64, max: usize, timeout_ms: u64) -> Result<(String, usize, ConnInfo), String> {
    match call(|r| net.tcp_read(id, max, timeout_ms, r)) {
        Reply::Read(info, chunk) => Ok((chunk.text.to_string(), chunk.bytes, info)),
        Reply::Error(e) => Err(format!("{}: {}", e.kind, e.message)),
        other => panic!("tcp_read gave {other:?}"),
    }
}

fn chunk(net: &Arc<Net>, id: u64, max: usize, timeout_ms: u64) -> (String, usize, u64) {
    let (text, bytes, info) = read(net, id, max, timeout_ms).expect("a chunk");
    (text, bytes, info.bytes_read)
}

#[test]
fn half_a_character_then_a_pause() {
    let (_reactor, net, id, mut peer) = accepted();
    peer.write_all(b"a\xc3").expect("write");
    assert_eq!(chunk(&net, id, 64, 2000), ("a".into(), 1, 1));
    // Only the kept byte: the read waits, and its timeout keeps the byte.
    assert_eq!(chunk(&net, id, 64, 100), ("".into(), 0, 1));
    peer.write_all(b"\xa9!").expect("write");
    assert_eq!(chunk(&net, id, 64, 2000), ("é!".into(), 3, 4));
}

#[test]
fn max_bytes_counts_kept_bytes_and_a_long_character_comes_whole() {
    let (_reactor, net, id, mut peer) = accepted();
    peer.write_all("aé€😀".as_bytes()).expect("write");
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(chunk(&net, id, 2, 2000), ("a".into(), 1, 1));
    assert_eq!(chunk(&net, id, 2, 2000), ("é".into(), 2, 3));
    assert_eq!(chunk(&net, id, 2, 2000), ("€".into(), 3, 6));
    assert_eq!(chunk(&net, id, 1, 2000), ("😀".into(), 4, 10), "max_bytes + 3 at most");
}

#[test]
fn a_reader_waiting_for_the_rest_gets_it() {
    let (_reactor, net, id, mut peer) = accepted();
    peer.write_all(b"\xf0\x9f").expect("write");
    let net2 = net.clone();
    let reader = std::thread::spawn(move || chunk(&net2, id, 64, 3000));
    std::thread::sleep(Duration::from_millis(100));
    peer.write_all(b"\x98\x80").expect("write");
    assert_eq!(reader.join().expect("reader"), ("😀".into(), 4, 4));
}

#[test]
fn invalid_bytes_are_not_kept() {
    let (_reactor, net, id, mut peer) = accepted();
    peer.write_all(b"\xff\xc3(").expect("write");
    assert_eq!(chunk(&net, id, 64, 2000), ("\u{fffd}\u{fffd}(".into(), 3, 3));
}

#[test]
fn kept_bytes_made_invalid_go_out_alone() {
    // Found by the socket_ops fuzz target: a kept lead byte followed by a
    // byte that cannot continue it was delivered together with that byte,
    // two characters for `max_bytes` 1.
    let (_reactor, net, id, mut peer) = accepted();
    peer.write_all(b"\xf0{").expect("write");
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(chunk(&net, id, 1, 2000), ("\u{fffd}".into(), 1, 1));
    // The byte after it is already read: it comes at once, without more data.
    assert_eq!(chunk(&net, id, 1, 2000), ("{".into(), 1, 2));
}

#[test]
fn end_of_stream_after_half_a_character() {
    let (_reactor, net, id, mut peer) = accepted();
    peer.write_all(b"x\xe2\x82").expect("write");
    assert_eq!(chunk(&net, id, 64, 2000), ("x".into(), 1, 1));
    drop(peer);
    let (text, bytes, info) = read(&net, id, 64, 2000).expect("the kept bytes");
    assert_eq!((text.as_str(), bytes, info.bytes_read, info.status), ("\u{fffd}", 2, 3, Status::Connected));
    let (text, bytes, info) = read(&net, id, 64, 2000).expect("the end");
    assert_eq!((text.as_str(), bytes, info.bytes_read, info.status), ("", 0, 3, Status::Closed));
}

#[test]
fn reset_after_half_a_character() {
    let (_reactor, net, id, peer) = accepted();
    (&peer).write_all(b"\xc3").expect("write");
    // The read keeps the byte and waits; then the peer resets.
    let net2 = net.clone();
    let reader = std::thread::spawn(move || read(&net2, id, 64, 3000));
    std::thread::sleep(Duration::from_millis(100));
    rustix::net::sockopt::set_socket_linger(&peer, Some(Duration::ZERO)).expect("SO_LINGER");
    drop(peer);
    let (text, bytes, info) = reader.join().expect("reader").expect("the kept byte");
    assert_eq!((text.as_str(), bytes, info.status), ("\u{fffd}", 1, Status::Connected));
    let after = read(&net, id, 64, 2000);
    assert!(matches!(&after, Err(e) if e.starts_with("TcpSocketError: ")), "{after:?}");
    let Reply::Conn(info) = net.tcp_connection(id) else { panic!("snapshot") };
    assert_eq!((info.status, info.bytes_read), (Status::Failed, 1));
}

#[test]
fn a_local_close_discards_kept_bytes() {
    let (_reactor, net, id, mut peer) = accepted();
    peer.write_all(b"\xc3").expect("write");
    assert_eq!(chunk(&net, id, 64, 100), ("".into(), 0, 0));
    let Reply::Conn(info) = net.tcp_close(id) else { panic!("close") };
    assert_eq!((info.status, info.bytes_read), (Status::Closed, 0));
    assert!(read(&net, id, 64, 100).is_err_and(|e| e.starts_with("TcpSocketClosed")));
}
