//! Socket requests from a task, performed by the reactor, and the reactor's
//! replies turned into Ricochet values (snapshot maps and Results,
//! REFERENCE-SOCKETS §4).
//!
//! Invariants: a request is answered exactly once, either at once (the
//! returned `Value`) or later through the `ReplyFn`; replies carry only
//! plain data, and values are built on the worker running the task.

use rco_lang::sockets::SocketRequest;
use rco_lang::{Map, Value};
use rco_reactor::{ConnInfo, ListenerInfo, Net, Reply, ReplyFn, Status, WsConnInfo};
use std::sync::Arc;

/// Performs `request`: its reply now, or `None` when `reply` will get it.
pub fn perform(net: &Arc<Net>, request: SocketRequest, reply: ReplyFn) -> Option<Reply> {
    use SocketRequest as Q;
    let now = |r: Reply| Some(r);
    let later = |answer: Option<(ReplyFn, Reply)>| answer.map(|(_, r)| r);
    match request {
        Q::TcpListen { host, port, nodelay } => later(net.tcp_listen(&host, port, nodelay, reply)),
        Q::TcpListeners => now(net.tcp_listeners()),
        Q::TcpListener(id) => now(net.tcp_listener(id)),
        Q::TcpAccept { id, timeout_ms } => later(net.tcp_accept(id, timeout_ms, reply)),
        Q::TcpListenerClose(id) => now(net.tcp_listener_close(id)),
        Q::TcpListenerRelease(id) => now(net.tcp_listener_release(id)),
        Q::TcpConnect { host, port, timeout_ms, nodelay } => {
            later(net.tcp_connect(&host, port, timeout_ms, nodelay, reply))
        }
        Q::TcpConnections => now(net.tcp_connections()),
        Q::TcpConnection(id) => now(net.tcp_connection(id)),
        Q::TcpWrite { id, data } => later(net.tcp_write(id, data.into_bytes(), reply)),
        Q::TcpRead { id, timeout_ms, max_bytes } => later(net.tcp_read(id, max_bytes, timeout_ms, reply)),
        Q::TcpClose(id) => now(net.tcp_close(id)),
        Q::TcpRelease(id) => now(net.tcp_release(id)),
        Q::WsListen { host, port, allowed_origins } => later(net.ws_listen(&host, port, allowed_origins, reply)),
        Q::WsListeners => now(net.ws_listeners()),
        Q::WsListener(id) => now(net.ws_listener(id)),
        Q::WsAccept { id, timeout_ms } => later(net.ws_accept(id, timeout_ms, reply)),
        Q::WsListenerClose(id) => now(net.ws_listener_close(id)),
        Q::WsListenerRelease(id) => now(net.ws_listener_release(id)),
        Q::WsConnect { url, host, port, timeout_ms } => later(net.ws_connect(&url, &host, port, timeout_ms, reply)),
        Q::WsConnections => now(net.ws_connections()),
        Q::WsConnection(id) => now(net.ws_connection(id)),
        Q::WsSend { id, message } => later(net.ws_send(id, message, reply)),
        Q::WsRead { id, timeout_ms, max_bytes } => later(net.ws_read(id, max_bytes, timeout_ms, reply)),
        Q::WsClose(id) => now(net.ws_close(id)),
        Q::WsRelease(id) => now(net.ws_release(id)),
    }
}

/// Defines `Keys`: one shared string per snapshot key, so that building a
/// snapshot (once per read and write) allocates no key.
macro_rules! keys {
    ($($name:ident),* $(,)?) => {
        struct Keys {
            $($name: Arc<str>,)*
            /// `listening`, `connected`, `closed`, `failed` (by `Status`).
            statuses: [Arc<str>; 4],
        }

        impl Keys {
            fn new() -> Keys {
                let statuses = [Status::Listening, Status::Connected, Status::Closed, Status::Failed];
                Keys { $($name: Arc::from(stringify!($name)),)* statuses: statuses.map(|s| Arc::from(s.as_str())) }
            }
        }
    };
}

keys!(
    accepted_connections,
    bytes,
    bytes_read,
    bytes_written,
    closed,
    connected,
    data,
    error,
    host,
    id,
    listening,
    local_addr,
    message,
    message_type,
    messages_received,
    messages_sent,
    peer_addr,
    port,
    response_headers,
    response_status,
    started_at_ms,
    status,
    url,
);

impl Keys {
    fn status(&self, status: Status) -> Value {
        Value::Str(self.statuses[status as usize].clone())
    }
}

thread_local! {
    /// Per thread, so that the reference counts are not shared between cores.
    static KEYS: Keys = Keys::new();
}

/// A map from `(key, value)` entries.
fn map<const N: usize>(entries: [(&Arc<str>, Value); N]) -> Map {
    Map::from(entries.map(|(k, v)| (k.clone(), v)))
}

fn text(s: &Option<Arc<str>>) -> Value {
    s.clone().map_or(Value::Nil, Value::Str)
}

fn opt(s: &Option<String>) -> Value {
    s.as_deref().map_or(Value::Nil, Value::str)
}

fn int(n: u64) -> Value {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

fn listener_map(k: &Keys, l: &ListenerInfo) -> Value {
    Value::map(map([
        (&k.accepted_connections, int(l.accepted_connections)),
        (&k.closed, Value::Bool(l.status == Status::Closed)),
        (&k.error, opt(&l.error)),
        (&k.host, Value::str(&l.host)),
        (&k.id, int(l.id)),
        (&k.listening, Value::Bool(l.status == Status::Listening)),
        (&k.local_addr, opt(&l.local_addr)),
        (&k.port, Value::Int(i64::from(l.port))),
        (&k.started_at_ms, Value::Int(l.started_at_ms)),
        (&k.status, k.status(l.status)),
    ]))
}

fn conn_map(k: &Keys, c: &ConnInfo) -> Map {
    map([
        (&k.bytes_read, int(c.bytes_read)),
        (&k.bytes_written, int(c.bytes_written)),
        (&k.closed, Value::Bool(c.status == Status::Closed)),
        (&k.connected, Value::Bool(c.status == Status::Connected)),
        (&k.error, text(&c.error)),
        (&k.host, Value::Str(c.host.clone())),
        (&k.id, int(c.id)),
        (&k.local_addr, text(&c.local_addr)),
        (&k.peer_addr, text(&c.peer_addr)),
        (&k.port, Value::Int(i64::from(c.port))),
        (&k.started_at_ms, Value::Int(c.started_at_ms)),
        (&k.status, k.status(c.status)),
    ])
}

fn ws_map(k: &Keys, c: &WsConnInfo) -> Map {
    let headers = c.response_headers.iter().map(|(k, v)| (k.clone(), Value::Str(v.clone()))).collect();
    map([
        (&k.closed, Value::Bool(c.status == Status::Closed)),
        (&k.connected, Value::Bool(c.status == Status::Connected)),
        (&k.error, text(&c.error)),
        (&k.host, Value::Str(c.host.clone())),
        (&k.id, int(c.id)),
        (&k.messages_received, int(c.messages_received)),
        (&k.messages_sent, int(c.messages_sent)),
        (&k.response_headers, Value::map(headers)),
        (&k.response_status, Value::Int(i64::from(c.response_status))),
        (&k.started_at_ms, Value::Int(c.started_at_ms)),
        (&k.status, k.status(c.status)),
        (&k.url, Value::Str(c.url.clone())),
    ])
}

/// The value a socket word pushes for `reply`.
pub fn to_value(reply: Reply) -> Value {
    KEYS.with(|k| match reply {
        Reply::Listener(l) => Value::ok(listener_map(k, &l)),
        Reply::Listeners(ls) => Value::array(ls.iter().map(|l| listener_map(k, l)).collect()),
        Reply::Conn(c) => Value::ok(Value::map(conn_map(k, &c))),
        Reply::Conns(cs) => Value::array(cs.iter().map(|c| Value::map(conn_map(k, c))).collect()),
        Reply::Read(c, bytes) => {
            let mut entries = conn_map(k, &c);
            entries.insert(k.bytes.clone(), int(bytes.len() as u64));
            entries.insert(k.data.clone(), Value::str(&String::from_utf8_lossy(&bytes)));
            Value::ok(Value::map(entries))
        }
        Reply::WsConn(c) => Value::ok(Value::map(ws_map(k, &c))),
        Reply::WsConns(cs) => Value::array(cs.iter().map(|c| Value::map(ws_map(k, c))).collect()),
        Reply::WsRead(c, m) => {
            let mut entries = ws_map(k, &c);
            entries.insert(k.bytes.clone(), int(m.bytes as u64));
            entries.insert(k.message.clone(), Value::str(&m.text));
            entries.insert(k.message_type.clone(), Value::str(m.kind));
            Value::ok(Value::map(entries))
        }
        Reply::Released => Value::ok(Value::Bool(true)),
        Reply::Error(e) => Value::err(e.kind, &e.message),
    })
}
