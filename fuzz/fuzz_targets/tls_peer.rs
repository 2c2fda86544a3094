//! `tls_peer`: arbitrary bytes from a raw TCP peer to rco's TLS, on
//! loopback, through a real `rco_reactor::Reactor` (DIALECT 15): garbage,
//! truncated and stalled TLS handshakes on either side.
//!
//! Input layout: byte 0 is the mode (bit 0: rco is the client, the peer a
//! fake server answering its ClientHello with the input; else rco is a TLS
//! listener and the peer a client; bit 1: the peer shuts down its write
//! side after sending; bit 2 (peer as client): a real ClientHello comes
//! first, cut after 4 × byte 2 of its bytes; bit 3 (peer as client): the
//! listener is a `wss` WebSocket listener, else a TLS TCP listener; bits
//! 4-5: the accept or connect timeout). Byte 1 sets the reactor up
//! (`rco_fuzz::reactor`: bit 2 polled as in production, bit 3 an
//! allow-list of loopback). The rest is what the peer sends.
//!
//! Oracle: no panic; `tcp_accept` and `tcp_connect` answer within their
//! timeout plus `SLACK`; no peer without the private key completes a
//! handshake: a connect fails with `TcpSocketError: TLS handshake failed:
//! ...`, an accept with a handshake failure (`TcpListenerError` or
//! `WebSocketListenerError`) or its timeout, never a connection and never
//! plain text; after `close_all()`, dropping the
//! reactor and the peer, the process has as many open fds as before the
//! input; an input that takes half a second or more used less CPU than
//! half its wall time (a stalled handshake costs nothing while it waits).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rco_reactor::types::Reply;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

const SLACK: Duration = Duration::from_secs(5);

/// The certificate and key files (fuzz/certs), also the client's trust
/// roots through `SSL_CERT_FILE`.
fn files() -> &'static (String, String) {
    static FILES: OnceLock<(String, String)> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("certs");
        let cert = dir.join("localhost.pem").to_string_lossy().into_owned();
        let key = dir.join("localhost.key").to_string_lossy().into_owned();
        std::env::set_var("SSL_CERT_FILE", &cert);
        (cert, key)
    })
}

/// A real ClientHello, as rustls sends it to `localhost`.
fn client_hello() -> &'static [u8] {
    static HELLO: OnceLock<Vec<u8>> = OnceLock::new();
    HELLO.get_or_init(|| {
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let mut conn = rustls::ClientConnection::new(Arc::new(config), name).expect("client");
        let mut hello = Vec::new();
        conn.write_tls(&mut hello).expect("hello");
        hello
    })
}

fn run(data: &[u8]) {
    let mode = data.first().copied().unwrap_or(0);
    let sel = data.get(1).copied().unwrap_or(0);
    let cut = usize::from(data.get(2).copied().unwrap_or(0)) * 4;
    let rest = data.get(3..).unwrap_or(&[]);
    let shutdown = mode & 2 != 0;
    let timeout_ms = [50u64, 200, 500, 1000][((mode >> 4) & 3) as usize];
    let (cert, key) = files();

    let reactor = rco_fuzz::reactor(sel & 4 != 0, sel & 8 != 0, 8);
    let net = reactor.handle();
    let n = net.clone();
    if mode & 1 != 0 {
        // rco is the client; the peer answers its ClientHello with the input.
        let server = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = server.local_addr().expect("addr").port();
        let answer = rest.to_vec();
        let peer = std::thread::spawn(move || {
            server.set_nonblocking(false).expect("blocking");
            let Ok((mut s, _)) = server.accept() else { return };
            let _ = s.set_read_timeout(Some(Duration::from_millis(300)));
            let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(&answer);
            if shutdown {
                let _ = s.shutdown(Shutdown::Write);
            }
            // Until the client gives up (bounded by the read timeout).
            let _ = s.set_read_timeout(Some(Duration::from_millis(timeout_ms) + SLACK));
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
        });
        let r = rco_fuzz::call("tcp_connect", Duration::from_millis(timeout_ms) + SLACK, move |reply| {
            n.tcp_connect("127.0.0.1", port, timeout_ms, true, true, reply)
        });
        match &r {
            Reply::Error(e) => assert!(
                e.kind == "TcpSocketError" && e.message.starts_with("TLS handshake failed: "),
                "tcp_connect: unexpected failure {e:?}"
            ),
            other => panic!("tcp_connect: a peer without the key completed a TLS handshake: {other:?}"),
        }
        let _ = net.close_all();
        drop(net);
        drop(reactor);
        peer.join().expect("peer thread");
        return;
    }
    // rco is a TLS listener; the peer is a client sending the input.
    let wss = mode & 8 != 0;
    let files = Some((cert.as_str(), key.as_str()));
    let listening = rco_fuzz::call("listen", SLACK, move |reply| {
        if wss {
            n.ws_listen("127.0.0.1", 0, Vec::new(), files, reply)
        } else {
            n.tcp_listen("127.0.0.1", 0, true, files, reply)
        }
    });
    let Reply::Listener(l) = listening else { panic!("tcp_listen with TLS failed on loopback: {listening:?}") };
    let mut peer = TcpStream::connect(("127.0.0.1", l.port)).expect("peer connect");
    peer.set_write_timeout(Some(Duration::from_secs(2))).expect("write timeout");
    if mode & 4 != 0 {
        let hello = client_hello();
        let _ = peer.write_all(&hello[..cut.min(hello.len())]);
    }
    let _ = peer.write_all(rest);
    if shutdown {
        let _ = peer.shutdown(Shutdown::Write);
    }
    let n = net.clone();
    let lid = l.id;
    let accepted = rco_fuzz::call("accept", Duration::from_millis(timeout_ms) + SLACK, move |reply| {
        if wss {
            n.ws_accept(lid, timeout_ms, reply)
        } else {
            n.tcp_accept(lid, timeout_ms, reply)
        }
    });
    let kind = if wss { "WebSocketListenerError" } else { "TcpListenerError" };
    match &accepted {
        Reply::Error(e) if e.kind == "SocketAcceptTimeout" => {}
        Reply::Error(e) => assert!(
            e.kind == kind && e.message.starts_with("TLS handshake failed: "),
            "accept: unexpected failure {e:?}"
        ),
        other => panic!("accept: a peer without a real handshake was accepted: {other:?}"),
    }
    let _ = net.close_all();
    drop(net);
    drop(reactor);
    drop(peer);
}

fuzz_target!(|data: &[u8]| rco_fuzz::peer_input(|| run(data)));
