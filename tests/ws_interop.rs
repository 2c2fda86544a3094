//! WebSocket interop: rco against the Python `websockets` library (a
//! WebSocket implementation that is not ours) and against hostile raw-TCP
//! peers, on loopback only, every wait bounded. Scripts and peers live in
//! tests/ws_interop/.
//!
//! * `python_client_against_rco_server`: `py_client.py` (websockets asyncio
//!   client) against `py_client_server.rco` (`ws_listen`/`ws_accept`): text
//!   echo, a binary frame read as `binary` (lossy text), a ping read as
//!   `ping` with the automatic pong reaching Python, an empty message, a
//!   fragmented message, an unsolicited pong, a close initiated by Python
//!   (read as `close` with its reason, the close echoed back), a close
//!   initiated by `ws_close` (Python sees ConnectionClosed with a close
//!   frame), an Origin refused with 403 and its body (`ws_accept` gives a
//!   `WebSocketListenerError` Result), an allowed Origin, a message over
//!   `max_bytes` (`WebSocketMessageTooLarge`, the connection stays usable),
//!   a 2 MiB message in and a 3 MiB message out.
//! * `rco_client_against_python_server`: `rco_client.rco` (`ws_connect`)
//!   against `py_server.py` (websockets asyncio server): response status and
//!   headers (the `sec-websocket-accept` the server sent), text echo, a binary
//!   frame, a server ping answered by rco, the server's close read as `close`
//!   with its reason and echoed back, reads and sends after the close.
//! * `ping_flood_then_silence`: 100,000 pings unread, then the last one's
//!   pong awaited with nothing sent (pong_flood.py, pong_server.rco).
//! * `hostile_*`: `hostile_client.py` breaks the protocol against
//!   `hostile_server.rco` (accept, then read until close or error): bad
//!   handshakes, protocol violations after the handshake, a peer that stops
//!   mid-frame. Each must give an error Result (or `close`), never a panic
//!   or a hang; the server must then serve a well-behaved client and exit 0
//!   on its own.
//!
//! Each test is skipped with a note when python3 or its `websockets` package
//! is missing.

#[path = "ws_interop/support.rs"]
mod support;

use std::time::Duration;
use support::{expected, python, rco, run, Running};

const SERVER_START: Duration = Duration::from_secs(10);
const RUN_LIMIT: Duration = Duration::from_secs(30);

#[test]
fn python_client_against_rco_server() {
    let Some(mut py) = python() else { return };
    let mut server =
        Running::start(rco().args(["run", "--allow-sockets", "py_client_server.rco"]), "rco py_client_server.rco");
    let port = server.port(SERVER_START).to_string();
    let client = run(py.args(["py_client.py", &port]), "py_client.py", RUN_LIMIT);
    let served = server.finish(RUN_LIMIT);
    client.assert_clean_exit(&format!("py_client.py (rco side: {served:#?})"));
    served.assert_clean_exit("rco py_client_server.rco");
    assert_eq!(served.stdout, expected("py_client_server.out"), "rco side\n--- python side\n{}", client.stdout);
    assert_eq!(client.stdout, expected("py_client.out"), "python side\n--- rco side\n{}", served.stdout);
    assert_eq!(served.stderr, "", "no leak note, no stack note");
    assert_eq!(client.stderr, "");
}

/// A peer floods pings without reading, then only reads: the pong to its
/// last ping arrives with no further frame from it, and the connection
/// still echoes (pong_flood.py, pong_server.rco).
#[test]
fn ping_flood_then_silence() {
    let Some(mut py) = python() else { return };
    let mut server = Running::start(rco().args(["run", "--allow-sockets", "pong_server.rco"]), "rco pong_server.rco");
    let port = server.port(SERVER_START).to_string();
    let client = run(py.args(["pong_flood.py", &port]), "pong_flood.py", RUN_LIMIT);
    let served = server.finish(RUN_LIMIT);
    let context = format!("--- rco\n{}{}--- python\n{}{}", served.stdout, served.stderr, client.stdout, client.stderr);
    client.assert_clean_exit(&context);
    served.assert_clean_exit(&context);
    let py_want = [
        "handshake HTTP/1.1 101 Switching Protocols",
        "last pong received True pongs at most pings True",
        "echo 1 after the flood",
    ];
    assert_eq!(client.stdout.lines().collect::<Vec<_>>(), py_want, "{context}");
    let rco_want = ["pings read 100000", "echo after the flood", "done"];
    assert_eq!(served.stdout.lines().collect::<Vec<_>>(), rco_want, "{context}");
    assert_eq!(served.stderr, "", "{context}");
}

#[test]
fn rco_client_against_python_server() {
    let Some(mut py) = python() else { return };
    let mut server = Running::start(py.arg("py_server.py"), "py_server.py");
    let port = server.port(SERVER_START).to_string();
    let client = run(rco().args(["run", "--allow-sockets", "rco_client.rco", &port]), "rco rco_client.rco", RUN_LIMIT);
    let served = server.finish(RUN_LIMIT);
    client.assert_clean_exit(&format!("rco rco_client.rco (python side: {served:#?})"));
    served.assert_clean_exit("py_server.py");
    // The accept key the server sent is what rco reports in
    // response_headers.
    let key = served
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("server accept-key "))
        .unwrap_or_else(|| panic!("no accept key in\n{}", served.stdout))
        .to_string();
    let mask = |text: &str| text.replace(&key, "<ACCEPT-KEY>");
    assert_eq!(mask(&client.stdout), expected("rco_client.out"), "rco side\n--- python side\n{}", served.stdout);
    assert_eq!(mask(&served.stdout), expected("py_server.out"), "python side\n--- rco side\n{}", client.stdout);
    assert_eq!(client.stderr, "", "no leak note, no stack note");
    assert_eq!(served.stderr, "");
}

// ---------------------------------------------------------------------------
// Hostile peers

/// An expected line, or one of several acceptable lines.
type Line = &'static [&'static str];

/// The well-behaved client that follows every hostile case.
const ALIVE: &[Line] = &[
    &["accept ok"],
    &["accept within bound true"],
    &["read text [alive] 5"],
    &["read close [] 0"],
    &["status closed"],
    &["released true"],
    &["connections left 0"],
    &["done"],
];

const REFUSED: &[Line] = &[&["accept error WebSocketListenerError"], &["accept within bound true"]];

/// A protocol violation after the handshake: the spec's answer is a
/// `WebSocketError` Result and status `failed`; a `close` is tolerated.
const VIOLATION: &[Line] = &[
    &["accept ok"],
    &["accept within bound true"],
    &["read error WebSocketError", "read close [] 0"],
    &["status failed", "status closed"],
    &["released true"],
];

const SHAKEN: &str = "handshake HTTP/1.1 101 Switching Protocols";

/// Runs `hostile_client.py PORT case` against `hostile_server.rco 2
/// [accept_ms]`; checks both outputs and that rco exits 0 on its own without
/// a panic. `rco_first`/`py_first` are the lines of the hostile connection;
/// the well-behaved client's lines follow. With `wants_none`, the hostile
/// connection must show a `read none`; elsewhere a `read none` only means a
/// slow peer and is dropped.
fn hostile(case: &str, accept_ms: Option<&str>, rco_first: &[Line], py_first: &[&str], wants_none: bool) {
    let Some(mut py) = python() else { return };
    let mut args = vec!["run", "--allow-sockets", "hostile_server.rco", "2"];
    args.extend(accept_ms);
    let mut server = Running::start(rco().args(&args), "rco hostile_server.rco");
    let port = server.port(SERVER_START).to_string();
    let client = run(py.args(["hostile_client.py", &port, case]), "hostile_client.py", RUN_LIMIT);
    let served = server.finish(RUN_LIMIT);
    let context = format!(
        "case {case}\n--- rco stdout\n{}--- rco stderr\n{}--- python stdout\n{}--- python stderr\n{}",
        served.stdout, served.stderr, client.stdout, client.stderr
    );
    served.assert_clean_exit(&format!("rco hostile_server.rco, {context}"));
    client.assert_clean_exit(&format!("hostile_client.py, {context}"));
    assert_eq!(served.stderr, "", "{context}");

    let first_end = served.stdout.find("released").unwrap_or(served.stdout.len());
    if wants_none {
        assert!(served.stdout[..first_end].contains("read none\n"), "a read timeout gives `none`\n{context}");
    }
    let got: Vec<&str> = served.stdout.lines().filter(|l| *l != "read none").collect();
    let want: Vec<Line> = rco_first.iter().chain(ALIVE).copied().collect();
    let matches = got.len() == want.len() && got.iter().zip(&want).all(|(g, w)| w.contains(g));
    assert!(matches, "rco side: want {want:?}\n{context}");

    let mut py_want: Vec<&str> = py_first.to_vec();
    py_want.push("alive client done");
    assert_eq!(client.stdout.lines().collect::<Vec<_>>(), py_want, "python side\n{context}");
}

fn violation(case: &str) {
    hostile(case, None, VIOLATION, &[SHAKEN, "server ended"], false);
}

#[test]
fn hostile_garbage_handshake() {
    hostile("garbage_handshake", None, REFUSED, &["server ended"], false);
}

#[test]
fn hostile_eof_before_handshake() {
    hostile("eof_handshake", None, REFUSED, &["closed without a request"], false);
}

// A handshake that stalls (partial request, peer silent) does not hold
// `ws_accept` (DIALECT 8): the well-behaved client that comes after it is
// accepted first; the server's next `ws_accept` then only times out (the
// stalled handshake has 10 s of its own), and the server ends on its own.
#[test]
fn hostile_stalled_handshake() {
    let Some(mut py) = python() else { return };
    let mut server = Running::start(
        rco().args(["run", "--allow-sockets", "hostile_server.rco", "2", "1500"]),
        "rco hostile_server.rco",
    );
    let port = server.port(SERVER_START).to_string();
    let client = run(py.args(["hostile_client.py", &port, "stalled_handshake"]), "hostile_client.py", RUN_LIMIT);
    let served = server.finish(RUN_LIMIT);
    let context = format!("--- rco\n{}{}--- python\n{}{}", served.stdout, served.stderr, client.stdout, client.stderr);
    served.assert_clean_exit(&context);
    client.assert_clean_exit(&context);
    let got: Vec<&str> = served.stdout.lines().filter(|l| *l != "read none").collect();
    let want = [
        "accept ok",
        "accept within bound true",
        "read text [alive] 5",
        "read close [] 0",
        "status closed",
        "released true",
        "accept error SocketAcceptTimeout",
        "accept within bound true",
        "connections left 0",
        "done",
    ];
    assert_eq!(got, want, "{context}");
    assert_eq!(client.stdout.lines().collect::<Vec<_>>(), ["alive client done", "server ended"], "{context}");
    assert_eq!(served.stderr, "", "{context}");
}

#[test]
fn hostile_unmasked_client_frame() {
    violation("unmasked_frame");
}

#[test]
fn hostile_reserved_data_opcode() {
    violation("reserved_opcode");
}

#[test]
fn hostile_reserved_control_opcode() {
    violation("reserved_control_opcode");
}

#[test]
fn hostile_rsv_bits_without_extension() {
    violation("rsv_bits");
}

#[test]
fn hostile_invalid_utf8_text() {
    violation("invalid_utf8");
}

#[test]
fn hostile_control_frame_over_125_bytes() {
    violation("big_control");
}

#[test]
fn hostile_fragmented_control_frame() {
    violation("fragmented_control");
}

#[test]
fn hostile_continuation_without_start() {
    violation("continuation_first");
}

#[test]
fn hostile_frame_announcing_huge_length() {
    violation("huge_length");
}

#[test]
fn hostile_garbage_frames() {
    violation("garbage_frames");
}

#[test]
fn hostile_peer_stops_mid_frame_then_disconnects() {
    let rco_first: &[Line] = &[
        &["accept ok"],
        &["accept within bound true"],
        &["read error WebSocketError", "read close [] 0"],
        &["status failed", "status closed"],
        &["released true"],
    ];
    hostile("midframe_disconnect", None, rco_first, &[SHAKEN, "disconnecting mid-frame"], true);
}

#[test]
fn hostile_peer_stops_mid_frame_then_resumes() {
    // The 10 bytes read before the timeout are kept: the frame completes.
    const TEXT: &str = "read text [0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`a0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`a] 100";
    let rco_first: &[Line] = &[
        &["accept ok"],
        &["accept within bound true"],
        &[TEXT],
        &["read close [] 0"],
        &["status closed"],
        &["released true"],
    ];
    hostile("midframe_resume", None, rco_first, &[SHAKEN, "server ended"], true);
}

/// DIALECT 8, issue 14: examples/sockets/ws_chat.rco (accept timeout 300 s)
/// serves a client within a second while another peer holds a silent TCP
/// connection to it. Raw `std` peers, no Python needed.
#[test]
fn ws_chat_serves_a_client_beside_a_silent_peer() {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::Instant;

    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let mut chat = Running::start(
        rco().args(["run", "--allow-sockets", "../../examples/sockets/ws_chat.rco", &port.to_string(), "1"]),
        "rco ws_chat.rco",
    );
    let connect = || {
        let deadline = Instant::now() + SERVER_START;
        loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => break s,
                Err(e) if Instant::now() > deadline => panic!("ws_chat.rco does not listen: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    };
    let silent = connect();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let mut client = connect();
    client.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let request = format!(
        "GET /chat HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    client.write_all(request.as_bytes()).expect("handshake");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && client.read(&mut byte).is_ok_and(|n| n == 1) {
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    // A masked text frame (zero key); the chat broadcasts it back to us.
    client.write_all(&[0x81, 0x85, 0, 0, 0, 0, b'h', b'e', b'l', b'l', b'o']).expect("message");
    let mut echoed = [0u8; 7];
    client.read_exact(&mut echoed).expect("the broadcast");
    assert_eq!(&echoed, b"\x81\x05hello");
    let served_in = started.elapsed();
    assert!(served_in < Duration::from_secs(1), "the client waited {served_in:?} behind a silent peer");
    client.write_all(&[0x88, 0x80, 0, 0, 0, 0]).expect("close");
    let done = chat.finish(RUN_LIMIT);
    done.assert_clean_exit("rco ws_chat.rco");
    assert!(done.stdout.ends_with("served 1 clients, 1 messages relayed\n"), "{}", done.stdout);
    drop(silent);
}
