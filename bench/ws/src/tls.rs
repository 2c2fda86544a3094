//! TLS for bench/ws (the `wss` phase): a rustls connection driven sans-I/O
//! over a `TcpStream`, presented to tungstenite as a `Read + Write` stream.
//! Shared by the native server (`ws_native`) and the generator (`wsgen`).
//!
//! On a non-blocking socket it never blocks: `read` returns plaintext that
//! rustls already has, else reads TLS records from the socket until it has
//! some (or the socket says WouldBlock); `write` encrypts into rustls'
//! outgoing buffer (one TLS record per call) and `flush` sends that buffer
//! (one `writev` while the socket takes it all). tungstenite always flushes
//! after a `send`, so an echo costs one read and one write system call, as
//! in the plain server. On a blocking socket (the generator's handshakes)
//! the same code simply blocks.
//!
//! rustls 0.23 with the `ring` provider only (no aws-lc), its defaults
//! otherwise (TLS 1.3 and 1.2, the provider's cipher suite order).

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, ConnectionCommon, RootCertStore, ServerConfig, ServerConnection, SideData};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::ops::DerefMut;
use std::sync::Arc;

/// A stream the benchmark programs poll: plain TCP or TLS over TCP.
pub trait BenchStream: Read + Write {
    /// The socket, for the poller.
    fn tcp(&self) -> &TcpStream;
    /// Encrypted bytes that are waiting for the socket to take them.
    fn pending_write(&self) -> bool;
    /// What TLS negotiated (None: plain TCP).
    fn tls_info(&self) -> Option<String> {
        None
    }
}

impl BenchStream for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
    fn pending_write(&self) -> bool {
        false
    }
}

pub struct TlsStream<C> {
    pub sock: TcpStream,
    pub conn: C,
}

pub type ServerTls = TlsStream<ServerConnection>;
pub type ClientTls = TlsStream<ClientConnection>;

fn wouldblock(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

impl<C, D> TlsStream<C>
where
    C: DerefMut<Target = ConnectionCommon<D>>,
    D: SideData,
{
    pub fn new(sock: TcpStream, conn: C) -> Self {
        TlsStream { sock, conn }
    }

    /// Sends what rustls has for the socket; WouldBlock if it did not take it all.
    fn send_tls(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            if self.conn.write_tls(&mut self.sock)? == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
        }
        Ok(())
    }
}

impl<C, D> Read for TlsStream<C>
where
    C: DerefMut<Target = ConnectionCommon<D>>,
    D: SideData,
{
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                // Ok(0): the peer's close_notify. A close without it is
                // UnexpectedEof, passed on (the connection is dropped).
                Ok(n) => return Ok(n),
                Err(e) if wouldblock(&e) => {}
                Err(e) => return Err(e),
            }
            // Handshake flights, session tickets, alerts: out first (a
            // blocking client handshake waits for the answer to them).
            match self.send_tls() {
                Ok(()) => {}
                Err(e) if wouldblock(&e) => {}
                Err(e) => return Err(e),
            }
            // Ok(0) (end of stream) is noted by rustls: the reader reports it.
            self.conn.read_tls(&mut self.sock)?;
            if let Err(e) = self.conn.process_new_packets() {
                let _ = self.send_tls(); // the alert, if any
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
        }
    }
}

impl<C, D> Write for TlsStream<C>
where
    C: DerefMut<Target = ConnectionCommon<D>>,
    D: SideData,
{
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.conn.writer().write(buf)?;
        if n > 0 {
            return Ok(n);
        }
        // rustls' outgoing buffer is at its limit (64 KiB): make room.
        // (tungstenite takes Ok(0) for a reset connection: never return it.)
        self.send_tls()?;
        match self.conn.writer().write(buf)? {
            0 => Err(io::ErrorKind::WouldBlock.into()),
            n => Ok(n),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_tls()
    }
}

impl<C, D> BenchStream for TlsStream<C>
where
    C: DerefMut<Target = ConnectionCommon<D>>,
    D: SideData,
{
    fn tcp(&self) -> &TcpStream {
        &self.sock
    }
    fn pending_write(&self) -> bool {
        self.conn.wants_write()
    }
    fn tls_info(&self) -> Option<String> {
        Some(describe(&self.conn))
    }
}

// Deprecated since 0.23.48 only for lacking post-quantum key exchange; ring
// is what the brief (and the runtime) uses: X25519 then P-256, P-384.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn bad(what: &str, path: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("{what} {path}: {e}"))
}

/// A server config with the certificate chain and key of these PEM files.
pub fn server_config(cert_file: &str, key_file: &str) -> io::Result<Arc<ServerConfig>> {
    let certs = CertificateDer::pem_file_iter(cert_file)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| bad("certificate file", cert_file, e))?;
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| bad("key file", key_file, e))?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(io::Error::other)?;
    Ok(Arc::new(config))
}

/// A client config trusting exactly the certificates of this PEM file (the
/// bench's own CA). Resumption is off, so every connection runs a full
/// handshake whatever the server offers.
pub fn client_config(ca_file: &str) -> io::Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_file).map_err(|e| bad("CA file", ca_file, e))? {
        roots.add(cert.map_err(|e| bad("CA file", ca_file, e))?).map_err(|e| bad("CA file", ca_file, e))?;
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(config))
}

/// A TLS client over a connected (blocking) socket, its handshake completed.
pub fn client_handshake(config: &Arc<ClientConfig>, name: ServerName<'static>, mut sock: TcpStream) -> io::Result<ClientTls> {
    let mut conn = ClientConnection::new(config.clone(), name).map_err(io::Error::other)?;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock)?;
    }
    Ok(TlsStream::new(sock, conn))
}

/// "TLSv1_3 TLS13_AES_256_GCM_SHA384 X25519": what a connection negotiated.
pub fn describe<D: SideData>(conn: &ConnectionCommon<D>) -> String {
    let v = conn.protocol_version().map(|v| format!("{v:?}")).unwrap_or_else(|| "?".into());
    let s = conn.negotiated_cipher_suite().map(|s| format!("{:?}", s.suite())).unwrap_or_else(|| "?".into());
    let g = conn.negotiated_key_exchange_group().map(|g| format!("{:?}", g.name())).unwrap_or_else(|| "?".into());
    format!("{v} {s} {g}")
}
