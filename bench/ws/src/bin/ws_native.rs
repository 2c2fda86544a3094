//! Native WebSocket echo server for bench/ws: `tungstenite` on non-blocking
//! sockets, one thread, one `polling` event loop (level-triggered). The ratio
//! denominator of the benchmark (PERFORMANCE.md §3.2, "native tungstenite").
//!
//! Usage: ws_native PORT [CERT_FILE KEY_FILE]
//!
//! With CERT_FILE and KEY_FILE (PEM: the certificate chain, the private
//! key), it serves `wss`: rustls 0.23 (`ring` provider, default config)
//! driven sans-I/O on the same loop (`rco_bench_ws::tls`: `read_tls` /
//! `process_new_packets` / `write_tls` over the non-blocking socket, the TLS
//! handshake running under tungstenite's non-blocking WebSocket handshake).
//!
//! Handshakes are driven without blocking (tungstenite's MidHandshake); each
//! readable connection is read until WouldBlock and every text or binary
//! message is sent straight back; frames the socket does not take at once
//! stay in tungstenite's write buffer and writable interest is armed until
//! they are flushed. (Configured as rco's WebSockets are: a 2 KiB read buffer, tungstenite
//! 0.30's default of 128 KiB being most of an idle connection's cost.) Prints "listening on PORT" once ready.

use polling::{Event, Events, PollMode, Poller};
use rco_bench_ws::tls::{self, BenchStream};
use std::collections::HashMap;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use tungstenite::handshake::server::{NoCallback, ServerHandshake};
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::{Error, Message, WebSocket};

const LISTENER: usize = usize::MAX - 1;

enum State<S: BenchStream> {
    Handshake(MidHandshake<ServerHandshake<S, NoCallback>>),
    Open(WebSocket<S>),
}

struct Conn<S: BenchStream> {
    fd: RawFd,
    state: Option<State<S>>,
    want_write: bool,
}

fn would_block(e: &Error) -> bool {
    matches!(e, Error::Io(io) if io.kind() == io::ErrorKind::WouldBlock)
}

/// Drives one connection; false = drop it.
fn drive<S: BenchStream>(c: &mut Conn<S>) -> bool {
    let ws = match c.state.take() {
        Some(State::Handshake(mid)) => match mid.handshake() {
            Ok(ws) => ws,
            Err(HandshakeError::Interrupted(mid)) => {
                // TLS handshake records the socket did not take yet (plain: never).
                c.want_write = mid.get_ref().get_ref().pending_write();
                c.state = Some(State::Handshake(mid));
                return true;
            }
            Err(HandshakeError::Failure(_)) => return false,
        },
        Some(State::Open(ws)) => ws,
        None => return false,
    };
    let mut ws = ws;
    loop {
        match ws.read() {
            Ok(m @ (Message::Text(_) | Message::Binary(_))) => match ws.send(m) {
                Ok(()) => {}
                Err(e) if would_block(&e) => {}
                Err(_) => return false,
            },
            Ok(_) => {} // ping/pong/close: tungstenite queues the replies
            Err(e) if would_block(&e) => break,
            Err(_) => return false,
        }
    }
    c.want_write = match ws.flush() {
        Ok(()) => false,
        Err(e) if would_block(&e) => true,
        Err(_) => return false,
    };
    c.state = Some(State::Open(ws));
    true
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args.get(1).and_then(|p| p.parse().ok()).unwrap_or(7000);
    match (args.get(2), args.get(3)) {
        (Some(cert), Some(key)) => {
            let config = tls::server_config(cert, key)?;
            serve(port, " (wss)", move |s| {
                let conn = rustls::ServerConnection::new(config.clone()).map_err(io::Error::other)?;
                Ok(tls::TlsStream::new(s, conn))
            })
        }
        (None, None) => serve(port, "", Ok),
        _ => Err(io::Error::other("usage: ws_native PORT [CERT_FILE KEY_FILE]")),
    }
}

fn serve<S: BenchStream>(port: u16, note: &str, wrap: impl Fn(TcpStream) -> io::Result<S>) -> io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    listener.set_nonblocking(true)?;
    let poller = Poller::new()?;
    // SAFETY: the listener lives until the process is killed.
    unsafe { poller.add_with_mode(&listener, Event::readable(LISTENER), PollMode::Level)? };
    println!("listening on {}{note}", listener.local_addr()?.port());
    let mut conns: HashMap<usize, Conn<S>> = HashMap::new();
    let mut next_key = 0usize;
    let mut events = Events::with_capacity(std::num::NonZeroUsize::new(1024).expect("nonzero"));
    loop {
        events.clear();
        poller.wait(&mut events, None)?;
        for ev in events.iter() {
            if ev.key == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((s, _)) => {
                            s.set_nodelay(true)?;
                            s.set_nonblocking(true)?;
                            let fd = s.as_raw_fd();
                            let key = next_key;
                            next_key += 1;
                            // SAFETY: deleted from the poller before the stream is dropped.
                            unsafe { poller.add_with_mode(&s, Event::readable(key), PollMode::Level)? };
                            let config = tungstenite::protocol::WebSocketConfig::default().read_buffer_size(2048);
                            let state = match wrap(s) {
                                Ok(s) => match tungstenite::accept_with_config(s, Some(config)) {
                                    Ok(ws) => Some(State::Open(ws)),
                                    Err(HandshakeError::Interrupted(mid)) => Some(State::Handshake(mid)),
                                    Err(HandshakeError::Failure(_)) => None,
                                },
                                Err(_) => None,
                            };
                            conns.insert(key, Conn { fd, state, want_write: false });
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(_) => break,
                    }
                }
                continue;
            }
            let Some(c) = conns.get_mut(&ev.key) else { continue };
            let was = c.want_write;
            let keep = drive(c);
            // SAFETY: c.fd is open while the connection is in `conns`.
            let fd = unsafe { BorrowedFd::borrow_raw(c.fd) };
            if !keep {
                let _ = poller.delete(fd);
                conns.remove(&ev.key);
            } else if c.want_write != was {
                let e = if c.want_write { Event::all(ev.key) } else { Event::readable(ev.key) };
                let _ = poller.modify_with_mode(fd, e, PollMode::Level);
            }
        }
    }
}
