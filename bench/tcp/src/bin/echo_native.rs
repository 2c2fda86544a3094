//! Native TCP echo server for bench/tcp: one thread, one `polling` event
//! loop in level-triggered mode, one shared read buffer. The ratio
//! denominator of the benchmark (PERFORMANCE.md §3.1, "the project's own
//! native Rust `polling` echo").
//!
//! Usage: echo_native PORT
//!
//! Each readable connection is read until WouldBlock and everything read is
//! written straight back; bytes the socket does not take at once are kept
//! per connection, reading pauses and writable interest is armed until they
//! are flushed. Prints "listening on PORT" once ready.

use polling::{Event, Events, PollMode, Poller};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};

const LISTENER: usize = usize::MAX - 1;

struct Conn {
    stream: TcpStream,
    pending: Vec<u8>,
}

fn main() -> io::Result<()> {
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(7000);
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    listener.set_nonblocking(true)?;
    let poller = Poller::new()?;
    // SAFETY: the listener is never dropped: the loop runs until the process is killed.
    unsafe { poller.add_with_mode(&listener, Event::readable(LISTENER), PollMode::Level)? };
    println!("listening on {}", listener.local_addr()?.port());
    let mut conns: HashMap<usize, Conn> = HashMap::new();
    let mut next_key = 0usize;
    let mut events = Events::with_capacity(std::num::NonZeroUsize::new(1024).expect("nonzero"));
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        events.clear();
        poller.wait(&mut events, None)?;
        for ev in events.iter() {
            if ev.key == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            stream.set_nonblocking(true)?;
                            stream.set_nodelay(true)?;
                            let key = next_key;
                            next_key += 1;
                            // SAFETY: deleted from the poller before it is dropped (the `dead` branch).
                            unsafe { poller.add_with_mode(&stream, Event::readable(key), PollMode::Level)? };
                            conns.insert(key, Conn { stream, pending: Vec::new() });
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => {
                            eprintln!("accept: {e}");
                            break;
                        }
                    }
                }
                continue;
            }
            let key = ev.key;
            let Some(conn) = conns.get_mut(&key) else { continue };
            let mut dead = false;
            if ev.writable && !conn.pending.is_empty() {
                match conn.stream.write(&conn.pending) {
                    Ok(n) => {
                        conn.pending.drain(..n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => dead = true,
                }
                if !dead && conn.pending.is_empty() {
                    poller.modify_with_mode(&conn.stream, Event::readable(key), PollMode::Level)?;
                }
            } else if ev.readable && conn.pending.is_empty() {
                loop {
                    match conn.stream.read(&mut buf) {
                        Ok(0) => {
                            dead = true;
                            break;
                        }
                        Ok(n) => {
                            let mut off = 0;
                            while off < n {
                                match conn.stream.write(&buf[off..n]) {
                                    Ok(m) => off += m,
                                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                                    Err(_) => {
                                        dead = true;
                                        break;
                                    }
                                }
                            }
                            if dead {
                                break;
                            }
                            if off < n {
                                conn.pending.extend_from_slice(&buf[off..n]);
                                poller.modify_with_mode(&conn.stream, Event::writable(key), PollMode::Level)?;
                                break;
                            }
                            if n < buf.len() {
                                break; // drained (a short read); level mode reports the rest
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => {
                            dead = true;
                            break;
                        }
                    }
                }
            }
            if dead {
                if let Some(conn) = conns.remove(&key) {
                    poller.delete(&conn.stream)?;
                }
            }
        }
    }
}
