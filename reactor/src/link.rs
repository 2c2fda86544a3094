//! `Link`: the byte stream of one connection, TCP or WebSocket: its
//! registered socket, with a TLS session over it or not (DIALECT 15). The
//! protocols above read and write through it and never know which.
//!
//! TLS is `rustls`, sans-I/O: records are read from and written to the
//! non-blocking socket here, so a TLS connection waits on readiness like a
//! plain one and never blocks a worker.
//!
//! Invariants:
//! * A read answers from the session's plaintext first, and reads the
//!   socket only when none is left, until plaintext comes or the socket
//!   would block: plaintext the session holds is never left waiting for an
//!   event that will not come (edge mode, `Registered`).
//! * A write takes new plaintext only once the session's earlier records
//!   are in the kernel, so a session buffers at most one write's records
//!   (`flush` reports `WouldBlock` while any are left).
//! * A peer that closes without TLS's close_notify is an end of stream, as
//!   with plain TCP.
//! * The handshake (`handshake`) runs before anything else is read or
//!   written; until it completes, the socket's one-shot interest follows
//!   the direction it waits in (`Registered::await_blocked`).

use crate::registered::Registered;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;

pub(crate) struct Link {
    socket: Registered<TcpStream>,
    /// Boxed: a session is large and most connections have none.
    tls: Option<Box<rustls::Connection>>,
}

impl Link {
    /// A plain connection.
    pub(crate) fn plain(socket: Registered<TcpStream>) -> Link {
        Link { socket, tls: None }
    }

    /// A TLS client session over `socket`, to `name` (SNI and the name its
    /// certificate must hold); its handshake is still to run.
    pub(crate) fn client(
        socket: Registered<TcpStream>,
        config: Arc<rustls::ClientConfig>,
        name: rustls::pki_types::ServerName<'static>,
    ) -> io::Result<Link> {
        let session = rustls::ClientConnection::new(config, name).map_err(tls_error)?;
        Ok(Link { socket, tls: Some(Box::new(session.into())) })
    }

    /// A TLS server session over `socket`; its handshake is still to run.
    pub(crate) fn server(socket: Registered<TcpStream>, config: Arc<rustls::ServerConfig>) -> io::Result<Link> {
        let session = rustls::ServerConnection::new(config).map_err(tls_error)?;
        Ok(Link { socket, tls: Some(Box::new(session.into())) })
    }

    /// The registered socket (readiness, interest, addresses).
    pub(crate) fn socket(&self) -> &Registered<TcpStream> {
        &self.socket
    }

    /// The TCP stream itself.
    pub(crate) fn get(&self) -> &TcpStream {
        self.socket.get()
    }

    /// A read would block: the socket is drained (`Registered::drained`)
    /// and no TLS session holds plaintext or records.
    pub(crate) fn drained(&self) -> bool {
        self.tls.is_none() && self.socket.drained()
    }

    pub(crate) fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Runs the TLS handshake as far as the socket allows: `true` once it
    /// is complete (at once for a plain link), `false` while it waits (its
    /// interest armed); an error is the handshake's failure, whose text is
    /// the reason (`invalid peer certificate: UnknownIssuer`).
    pub(crate) fn handshake(&mut self) -> io::Result<bool> {
        let Some(tls) = self.tls.as_deref_mut() else { return Ok(true) };
        loop {
            match flush_records(tls, &mut self.socket) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.socket.await_blocked();
                    return Ok(false);
                }
                Err(e) => return Err(e),
            }
            if !tls.is_handshaking() {
                return Ok(true);
            }
            match tls.read_tls(&mut self.socket) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the peer closed the connection")),
                Ok(_) => {
                    if let Err(e) = tls.process_new_packets() {
                        // The alert that tells the peer why, best effort.
                        let _ = tls.write_tls(&mut self.socket);
                        return Err(tls_error(e));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.socket.await_blocked();
                    return Ok(false);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Ends the connection: TLS's close_notify, best effort and without
    /// blocking, then the TCP shutdown both ways.
    pub(crate) fn shutdown(&mut self) {
        if let Some(tls) = self.tls.as_deref_mut() {
            tls.send_close_notify();
            let _ = tls.write_tls(&mut self.socket);
        }
        let _ = self.socket.get().shutdown(Shutdown::Both);
    }
}

/// Writes `tls`'s pending records to `socket`; `WouldBlock` if it cannot
/// take them all now.
fn flush_records(tls: &mut rustls::Connection, socket: &mut Registered<TcpStream>) -> io::Result<()> {
    while tls.wants_write() {
        match tls.write_tls(socket) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A TLS failure as an I/O error whose text is rustls's.
fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl Read for Link {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(tls) = self.tls.as_deref_mut() else { return self.socket.read(buf) };
        loop {
            match tls.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // Closed without close_notify: an end of stream all the same.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            tls.read_tls(&mut self.socket)?;
            if let Err(e) = tls.process_new_packets() {
                let _ = tls.write_tls(&mut self.socket);
                return Err(tls_error(e));
            }
            // What the records asked to send (a key update's answer).
            match flush_records(tls, &mut self.socket) {
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
                _ => {}
            }
        }
    }
}

impl Write for Link {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(tls) = self.tls.as_deref_mut() else { return self.socket.write(buf) };
        flush_records(tls, &mut self.socket)?;
        let n = tls.writer().write(buf)?;
        // The records go out now if they can; `flush` sends the rest.
        match flush_records(tls, &mut self.socket) {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(n),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.tls.as_deref_mut() {
            None => self.socket.flush(),
            Some(tls) => flush_records(tls, &mut self.socket),
        }
    }
}
