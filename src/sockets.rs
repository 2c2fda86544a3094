//! Socket requests from a task, performed by the reactor, and the reactor's
//! replies turned into Ricochet values (snapshot maps and Results,
//! REFERENCE-SOCKETS §4).
//!
//! Invariants: a request is answered exactly once, either at once (the
//! returned `Value`) or later through the `ReplyFn`; replies carry only
//! plain data, and values are built on the worker running the task.

use rco_lang::sockets::SocketRequest;
use rco_lang::Value;
use rco_reactor::{ConnInfo, ListenerInfo, Net, Reply, ReplyFn, WsConnInfo};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Performs `request`: its reply now, or `None` when `reply` will get it.
pub fn perform(net: &Arc<Net>, request: SocketRequest, reply: ReplyFn) -> Option<Reply> {
    use SocketRequest as Q;
    let now = |r: Reply| Some(r);
    let later = |answer: Option<(ReplyFn, Reply)>| answer.map(|(_, r)| r);
    match request {
        Q::TcpListen { host, port, nodelay } => now(net.tcp_listen(&host, port, nodelay)),
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
        Q::WsListen { host, port, allowed_origins } => now(net.ws_listen(&host, port, allowed_origins)),
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

thread_local! {
    /// Snapshot keys, allocated once per worker: snapshots are built for
    /// every read and write, so their keys are shared, not re-allocated.
    static KEYS: std::cell::RefCell<std::collections::HashMap<&'static str, Arc<str>>> = Default::default();
}

fn key(name: &'static str) -> Arc<str> {
    KEYS.with_borrow_mut(|keys| keys.entry(name).or_insert_with(|| Arc::from(name)).clone())
}

fn map(entries: Vec<(&'static str, Value)>) -> Value {
    Value::map(entries.into_iter().map(|(k, v)| (key(k), v)).collect::<BTreeMap<_, _>>())
}

fn opt(s: &Option<String>) -> Value {
    s.as_deref().map_or(Value::Nil, Value::str)
}

fn int(n: u64) -> Value {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

fn listener_value(l: &ListenerInfo) -> Value {
    map(vec![
        ("accepted_connections", int(l.accepted_connections)),
        ("closed", Value::Bool(l.status == rco_reactor::Status::Closed)),
        ("error", opt(&l.error)),
        ("host", Value::str(&l.host)),
        ("id", int(l.id)),
        ("listening", Value::Bool(l.status == rco_reactor::Status::Listening)),
        ("local_addr", opt(&l.local_addr)),
        ("port", Value::Int(i64::from(l.port))),
        ("started_at_ms", Value::Int(l.started_at_ms)),
        ("status", Value::str(l.status.as_str())),
    ])
}

fn conn_entries(c: &ConnInfo) -> Vec<(&'static str, Value)> {
    vec![
        ("bytes_read", int(c.bytes_read)),
        ("bytes_written", int(c.bytes_written)),
        ("closed", Value::Bool(c.status == rco_reactor::Status::Closed)),
        ("connected", Value::Bool(c.status == rco_reactor::Status::Connected)),
        ("error", opt(&c.error)),
        ("host", Value::str(&c.host)),
        ("id", int(c.id)),
        ("local_addr", opt(&c.local_addr)),
        ("peer_addr", opt(&c.peer_addr)),
        ("port", Value::Int(i64::from(c.port))),
        ("started_at_ms", Value::Int(c.started_at_ms)),
        ("status", Value::str(c.status.as_str())),
    ]
}

fn ws_entries(c: &WsConnInfo) -> Vec<(&'static str, Value)> {
    let headers = c.response_headers.iter().map(|(k, v)| (Arc::<str>::from(k.as_str()), Value::str(v))).collect();
    vec![
        ("closed", Value::Bool(c.status == rco_reactor::Status::Closed)),
        ("connected", Value::Bool(c.status == rco_reactor::Status::Connected)),
        ("error", opt(&c.error)),
        ("host", Value::str(&c.host)),
        ("id", int(c.id)),
        ("messages_received", int(c.messages_received)),
        ("messages_sent", int(c.messages_sent)),
        ("response_headers", Value::map(headers)),
        ("response_status", Value::Int(i64::from(c.response_status))),
        ("started_at_ms", Value::Int(c.started_at_ms)),
        ("status", Value::str(c.status.as_str())),
        ("url", Value::str(&c.url)),
    ]
}

/// The value a socket word pushes for `reply`.
pub fn to_value(reply: Reply) -> Value {
    match reply {
        Reply::Listener(l) => Value::ok(listener_value(&l)),
        Reply::Listeners(ls) => Value::array(ls.iter().map(listener_value).collect()),
        Reply::Conn(c) => Value::ok(map(conn_entries(&c))),
        Reply::Conns(cs) => Value::array(cs.iter().map(|c| map(conn_entries(c))).collect()),
        Reply::Read(c, bytes) => {
            let mut entries = conn_entries(&c);
            entries.push(("bytes", int(bytes.len() as u64)));
            entries.push(("data", Value::str(&String::from_utf8_lossy(&bytes))));
            Value::ok(map(entries))
        }
        Reply::WsConn(c) => Value::ok(map(ws_entries(&c))),
        Reply::WsConns(cs) => Value::array(cs.iter().map(|c| map(ws_entries(c))).collect()),
        Reply::WsRead(c, m) => {
            let mut entries = ws_entries(&c);
            entries.push(("bytes", int(m.bytes as u64)));
            entries.push(("message", Value::str(&m.text)));
            entries.push(("message_type", Value::str(m.kind)));
            Value::ok(map(entries))
        }
        Reply::Released => Value::ok(Value::Bool(true)),
        Reply::Error(e) => Value::err(e.kind, &e.message),
    }
}
