//! What the reactor answers: snapshots of listeners and connections (a
//! connection's identity shared with its record: `ConnIdentityRef`,
//! `WsIdentityRef`), the data reads deliver (bytes become the script's text
//! here, once: `Chunk`), socket errors with their stable kinds
//! (REFERENCE-SOCKETS §4, §11), and where a reply's connection record lies
//! (`RecordHint`: an address for the cache, never read through).

use crate::tcp::Conn;
use crate::ws::WsConn;
use crate::{Record, Shared};
use arcstr::ArcStr;
use std::mem::offset_of;
use std::num::NonZeroUsize;
use std::sync::Arc;

/// Lifecycle of a listener or connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Listening,
    Connected,
    Closed,
    Failed,
}

impl Status {
    /// Its name, the value of a snapshot's `status` (a literal: cloning it
    /// counts no reference).
    pub fn text(self) -> ArcStr {
        match self {
            Status::Listening => arcstr::literal!("listening"),
            Status::Connected => arcstr::literal!("connected"),
            Status::Closed => arcstr::literal!("closed"),
            Status::Failed => arcstr::literal!("failed"),
        }
    }
}

/// A listener snapshot (§4.2).
#[derive(Clone, Debug)]
pub struct ListenerInfo {
    pub id: u64,
    pub host: String,
    pub port: u16,
    pub started_at_ms: i64,
    pub status: Status,
    pub local_addr: Option<String>,
    pub error: Option<String>,
    pub accepted_connections: u64,
}

/// A TCP connection snapshot (§4.1): what changes, and what a connection
/// keeps for its life (`ConnIdentity`) shared with it, so taking one (once
/// per read and write) counts one reference and copies no text.
#[derive(Clone, Debug)]
pub struct ConnInfo {
    pub id: u64,
    pub identity: ConnIdentityRef,
    pub status: Status,
    pub error: Option<ArcStr>,
    pub bytes_read: u64,
    pub bytes_written: u64,
}

/// A connection's identity as its snapshots share it: a handle on the
/// connection's record, where the identity is kept beside the lock (see
/// `registry::Record`). A snapshot the script keeps keeps that record, not
/// the socket: a connection's stream and buffers go when it ends.
macro_rules! identity_ref {
    ($name:ident, $socket:ty, $identity:ty) => {
        #[derive(Clone)]
        pub struct $name(pub(crate) Shared<$socket>);

        impl std::ops::Deref for $name {
            type Target = $identity;

            fn deref(&self) -> &$identity {
                &self.0.lasting
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                <$identity as std::fmt::Debug>::fmt(self, f)
            }
        }
    };
}

identity_ref!(ConnIdentityRef, Conn, ConnIdentity);
identity_ref!(WsIdentityRef, WsConn, WsIdentity);

/// What a TCP connection's snapshot shows that never changes once it is
/// connected.
#[derive(Debug)]
pub struct ConnIdentity {
    pub host: ArcStr,
    pub port: u16,
    pub started_at_ms: i64,
    pub local_addr: Option<ArcStr>,
    pub peer_addr: Option<ArcStr>,
}

/// A WebSocket connection snapshot (§4.3). Like `ConnInfo`, what never
/// changes is shared with the connection.
#[derive(Clone, Debug)]
pub struct WsConnInfo {
    pub id: u64,
    pub identity: WsIdentityRef,
    pub status: Status,
    pub error: Option<ArcStr>,
    pub messages_sent: u64,
    pub messages_received: u64,
}

/// What a WebSocket connection's snapshot shows that never changes once
/// its handshake is done.
#[derive(Debug)]
pub struct WsIdentity {
    pub url: ArcStr,
    pub host: ArcStr,
    pub started_at_ms: i64,
    pub response_status: u16,
    /// Lower-cased names, sorted.
    pub response_headers: Box<[(ArcStr, ArcStr)]>,
}

/// One message `ws_read` returns.
#[derive(Clone, Debug)]
pub struct WsMessage {
    /// `text`, `binary`, `ping`, `pong`, `close`, `frame` or `none` (a
    /// literal: it becomes the script's string without an allocation).
    pub kind: ArcStr,
    /// Made once, where the message is decoded (it becomes the script's
    /// string as it is).
    pub text: ArcStr,
    pub bytes: usize,
}

impl WsMessage {
    /// A message of `kind` whose payload the script gets as text, decoded
    /// as a TCP read's bytes are (`Chunk`).
    pub(crate) fn decoded(kind: ArcStr, payload: &[u8]) -> WsMessage {
        let Chunk { text, bytes } = Chunk::new(payload);
        WsMessage { kind, text, bytes }
    }
}

/// The data one `tcp_read` returns: its text (bytes that are not UTF-8
/// decoded as U+FFFD, REFERENCE-SOCKETS §5), made once where the bytes are
/// read, and how many bytes were read.
#[derive(Clone, Debug, Default)]
pub struct Chunk {
    pub text: ArcStr,
    pub bytes: usize,
}

impl Chunk {
    pub fn new(bytes: &[u8]) -> Chunk {
        // `from_utf8` checks a word of ASCII at a time, `from_utf8_lossy`
        // a byte at a time (7 times the instructions): valid text first.
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => ArcStr::from(text),
            Err(_) => ArcStr::from(String::from_utf8_lossy(bytes)),
        };
        Chunk { text, bytes: bytes.len() }
    }

    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }
}

/// A socket error Result: its kind (`TcpSocketError`, ...) and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketError {
    pub kind: &'static str,
    pub message: String,
}

impl SocketError {
    pub fn new(kind: &'static str, message: impl Into<String>) -> SocketError {
        SocketError { kind, message: message.into() }
    }
}

/// The answer to a socket request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Boxed: a listener's snapshot is the largest, and rare; every reply
    /// is moved a few times on its way to the task, and boxed once.
    Listener(Box<ListenerInfo>),
    Listeners(Vec<ListenerInfo>),
    Conn(ConnInfo),
    Conns(Vec<ConnInfo>),
    /// A read: the snapshot after it and the data read (empty on timeout
    /// or end of stream).
    Read(ConnInfo, Chunk),
    WsConn(WsConnInfo),
    WsConns(Vec<WsConnInfo>),
    /// A WebSocket read: the snapshot after it and the message.
    WsRead(WsConnInfo, WsMessage),
    /// A write or send asked without its snapshot (its caller drops the
    /// answer unseen) succeeded.
    Written,
    /// A release succeeded.
    Released,
    Error(SocketError),
}

impl Reply {
    /// Where the record of the connection this reply is about lies, if it
    /// carries one: the memory the task taking it touches next (dropping
    /// the snapshot, making its next request on the connection), for a
    /// hint to the cache ahead of that task's run.
    pub fn record(&self) -> Option<RecordHint> {
        let (record, ws) = match self {
            Reply::Conn(c) | Reply::Read(c, _) => (Arc::as_ptr(&c.identity.0) as usize, false),
            Reply::WsConn(c) | Reply::WsRead(c, _) => (Arc::as_ptr(&c.identity.0) as usize, true),
            _ => return None,
        };
        // A record is aligned to 8 bytes: its lowest bit tells the kinds.
        NonZeroUsize::new(record | usize::from(ws)).map(RecordHint)
    }

    /// The text a read delivers (a TCP chunk or a WebSocket message), if
    /// this reply is one: made when the socket's event was handled, and the
    /// first thing after the reply itself that the task taking it reads.
    pub fn text(&self) -> Option<&ArcStr> {
        match self {
            Reply::Read(_, chunk) => Some(&chunk.text),
            Reply::WsRead(_, message) => Some(&message.text),
            _ => None,
        }
    }
}

/// Where a connection's record lies (`Reply::record`): an address to ask
/// the memory system for, never to read through (the record may be gone by
/// then: a hint cannot fault).
#[derive(Clone, Copy, Debug)]
pub struct RecordHint(NonZeroUsize);

impl RecordHint {
    /// Asks for the record's reference counts and state: the lines a
    /// request or a dropped snapshot touch, not the identity after them
    /// (read only when a snapshot is shown).
    pub fn prefetch(self) {
        let hint = self.0.get();
        let state = match hint & 1 {
            0 => offset_of!(Record<Conn>, lasting),
            _ => offset_of!(Record<WsConn>, lasting),
        };
        crate::prefetch_counted((hint & !1) as *const u8, state);
    }
}

/// Where a reply goes: run once, on whichever thread completes the request.
pub type ReplyFn = Box<dyn FnOnce(Reply) + Send>;

/// What makes a request's `ReplyFn`, only if the request must wait: a
/// request answered while it is made hands its `Replier` back with the
/// answer, having made nothing (for a task: no boxed closure, no reference
/// count taken and dropped).
pub trait Replier {
    fn reply_fn(self) -> ReplyFn;
}

impl Replier for ReplyFn {
    fn reply_fn(self) -> ReplyFn {
        self
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
