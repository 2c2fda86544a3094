//! Socket requests from a task, performed by the reactor, and the reactor's
//! replies turned into Ricochet values (snapshot maps and Results,
//! REFERENCE-SOCKETS §4).
//!
//! Invariants: a request is answered exactly once, either at once (the
//! returned `Value`, no reply function made) or later through the
//! `ReplyFn` its `Replier` made; replies carry only plain data, and values
//! are built on the worker running the task. Every snapshot of one kind is
//! a map of that kind's shape (made once), whose keys are listed once,
//! beside their values (`snapshot!`); a read result is the data keys given
//! at once and its connection's snapshot deferred (`Map::lazy`: made only
//! if the script looks at it, with the values of the moment of the read).

use arcstr::ArcStr;
use rco_lang::map::{Deferred, Shape};
use rco_lang::sockets::{SocketRequest, TlsFiles, WsListenArgs};
use rco_lang::{Map, Value};
use rco_reactor::{ConnInfo, ListenerInfo, Net, Replier, Reply, Status, WsConnInfo};
use std::sync::{Arc, LazyLock};

/// Performs `request`: its reply now, or `None` when the reply function
/// `reply` makes will get it (made only then, or at once for a listen or a
/// connect, which always wait for a lookup or a connection). `unused`: the
/// script drops the answer unseen, so a write's makes no snapshot.
pub fn perform<R: Replier>(net: &Arc<Net>, request: SocketRequest, unused: bool, reply: R) -> Option<Reply> {
    use SocketRequest as Q;
    let now = |r: Reply| Some(r);
    fn later<T>(answer: Option<(T, Reply)>) -> Option<Reply> {
        answer.map(|(_, r)| r)
    }
    match request {
        Q::TcpListen(a) => {
            later(net.tcp_listen(&a.host, a.port, a.nodelay, a.tls.as_ref().map(TlsFiles::paths), reply.reply_fn()))
        }
        Q::TcpListeners => now(net.tcp_listeners()),
        Q::TcpListener(id) => now(net.tcp_listener(id)),
        Q::TcpAccept { id, timeout_ms } => later(net.tcp_accept(id, timeout_ms, reply)),
        Q::TcpListenerClose(id) => now(net.tcp_listener_close(id)),
        Q::TcpListenerRelease(id) => now(net.tcp_listener_release(id)),
        Q::TcpConnect(a) => later(net.tcp_connect(&a.host, a.port, a.timeout_ms, a.nodelay, a.tls, reply.reply_fn())),
        Q::TcpConnections => now(net.tcp_connections()),
        Q::TcpConnection(id) => now(net.tcp_connection(id)),
        Q::TcpWrite { id, data } => later(net.tcp_write(id, data, !unused, reply)),
        Q::TcpRead { id, timeout_ms, max_bytes } => later(net.tcp_read(id, max_bytes, timeout_ms, reply)),
        Q::TcpClose(id) => now(net.tcp_close(id)),
        Q::TcpRelease(id) => now(net.tcp_release(id)),
        Q::WsListen(a) => {
            let WsListenArgs { host, port, allowed_origins, tls } = *a;
            later(net.ws_listen(&host, port, allowed_origins, tls.as_ref().map(TlsFiles::paths), reply.reply_fn()))
        }
        Q::WsListeners => now(net.ws_listeners()),
        Q::WsListener(id) => now(net.ws_listener(id)),
        Q::WsAccept { id, timeout_ms } => later(net.ws_accept(id, timeout_ms, reply)),
        Q::WsListenerClose(id) => now(net.ws_listener_close(id)),
        Q::WsListenerRelease(id) => now(net.ws_listener_release(id)),
        Q::WsConnect(a) => later(net.ws_connect(&a.url, &a.host, a.port, a.timeout_ms, reply.reply_fn())),
        Q::WsConnections => now(net.ws_connections()),
        Q::WsConnection(id) => now(net.ws_connection(id)),
        Q::WsSend { id, message } => later(net.ws_send(id, message, !unused, reply)),
        Q::WsRead { id, timeout_ms, max_bytes } => later(net.ws_read(id, max_bytes, timeout_ms, reply)),
        Q::WsClose(id) => now(net.ws_close(id)),
        Q::WsRelease(id) => now(net.ws_release(id)),
    }
}

/// The entries of one kind of snapshot, in key order: `$name => value`.
/// Defines the list of its keys (for its `Shape`) and a function building
/// its values in that order, so the keys are written once, beside their
/// values. The function takes the reply's record by value: its own texts
/// move into the values (a connection's lasting ones, shared, are counted).
macro_rules! snapshot {
    ($keys:ident, $values:ident($($arg:ident: $ty:ty),*), { $($key:ident => $value:expr,)* }) => {
        const $keys: &[&str] = &[$(stringify!($key)),*];

        fn $values($($arg: $ty),*) -> [Value; $keys.len()] {
            [$($value),*]
        }
    };
}

snapshot!(LISTENER, listener_values(l: ListenerInfo), {
    accepted_connections => int(l.accepted_connections),
    closed => Value::Bool(l.status == Status::Closed),
    error => opt(&l.error),
    host => Value::str(&l.host),
    id => int(l.id),
    listening => Value::Bool(l.status == Status::Listening),
    local_addr => opt(&l.local_addr),
    port => Value::Int(i64::from(l.port)),
    started_at_ms => Value::Int(l.started_at_ms),
    status => Value::Str(l.status.text()),
});

snapshot!(CONN, conn_values(c: ConnInfo), {
    bytes_read => int(c.bytes_read),
    bytes_written => int(c.bytes_written),
    closed => Value::Bool(c.status == Status::Closed),
    connected => Value::Bool(c.status == Status::Connected),
    error => text(c.error),
    host => Value::Str(c.identity.host.clone()),
    id => int(c.id),
    local_addr => text(c.identity.local_addr.clone()),
    peer_addr => text(c.identity.peer_addr.clone()),
    port => Value::Int(i64::from(c.identity.port)),
    started_at_ms => Value::Int(c.identity.started_at_ms),
    status => Value::Str(c.status.text()),
});

snapshot!(WS, ws_values(c: WsConnInfo), {
    closed => Value::Bool(c.status == Status::Closed),
    connected => Value::Bool(c.status == Status::Connected),
    error => text(c.error),
    host => Value::Str(c.identity.host.clone()),
    id => int(c.id),
    messages_received => int(c.messages_received),
    messages_sent => int(c.messages_sent),
    response_headers => headers(&c.identity.response_headers),
    response_status => Value::Int(i64::from(c.identity.response_status)),
    started_at_ms => Value::Int(c.identity.started_at_ms),
    status => Value::Str(c.status.text()),
    url => Value::Str(c.identity.url.clone()),
});

/// The keys a `tcp_read` result adds to its connection's snapshot.
const READ: [&str; 2] = ["bytes", "data"];
/// The keys a `ws_read` result adds to its connection's snapshot.
const WS_READ: [&str; 3] = ["bytes", "message", "message_type"];

/// The shape of a snapshot kind (its sorted keys, given in order).
fn shape(keys: &[&str]) -> Shape {
    let shape = Shape::new(keys.iter().copied());
    debug_assert!(shape.keys().iter().map(|k| &**k).eq(keys.iter().copied()), "keys out of order: {keys:?}");
    shape
}

/// The connection snapshot in a read result, made only if the script
/// looks at it (`Map::lazy`: the data keys are given at once), from the
/// record of the moment of the read.
struct DeferredSnapshot<T> {
    shape: Shape,
    info: T,
    values: fn(T) -> Vec<Value>,
}

impl<T: Clone + Send> Deferred for DeferredSnapshot<T> {
    fn shape(&self) -> &Shape {
        &self.shape
    }

    fn values(&self) -> Vec<Value> {
        (self.values)(self.info.clone())
    }
}

/// The shape of each kind of snapshot: a snapshot (one per read and write)
/// is built without sorting, cloning or counting its keys.
struct Shapes {
    listener: Shape,
    conn: Shape,
    read: Shape,
    ws: Shape,
    ws_read: Shape,
}

impl Shapes {
    fn new() -> Shapes {
        Shapes {
            listener: shape(LISTENER),
            conn: shape(CONN),
            read: shape(&READ),
            ws: shape(WS),
            ws_read: shape(&WS_READ),
        }
    }

    fn listener(&self, l: ListenerInfo) -> Value {
        Value::map(Map::shaped(self.listener, listener_values(l).into()))
    }

    fn conn(&self, c: ConnInfo) -> Value {
        Value::map(Map::shaped(self.conn, conn_values(c).into()))
    }

    fn ws(&self, c: WsConnInfo) -> Value {
        Value::map(Map::shaped(self.ws, ws_values(c).into()))
    }
}

/// Made once for the program (a shape lives as long as it).
static SHAPES: LazyLock<Shapes> = LazyLock::new(Shapes::new);

fn text(s: Option<ArcStr>) -> Value {
    s.map_or(Value::Nil, Value::Str)
}

fn opt(s: &Option<String>) -> Value {
    s.as_deref().map_or(Value::Nil, Value::str)
}

fn int(n: u64) -> Value {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

fn headers(headers: &[(ArcStr, ArcStr)]) -> Value {
    Value::map(headers.iter().map(|(k, v)| (k.clone(), Value::Str(v.clone()))).collect())
}

/// The value a socket word pushes for `reply`.
pub fn to_value(reply: Reply) -> Value {
    let k = &*SHAPES;
    match reply {
        Reply::Listener(l) => Value::ok(k.listener(*l)),
        Reply::Listeners(ls) => Value::array(ls.into_iter().map(|l| k.listener(l)).collect()),
        Reply::Conn(c) => Value::ok(k.conn(c)),
        Reply::Conns(cs) => Value::array(cs.into_iter().map(|c| k.conn(c)).collect()),
        Reply::Read(c, chunk) => {
            let given = [int(chunk.bytes as u64), Value::Str(chunk.text)];
            let values = |c| conn_values(c).into();
            let conn = DeferredSnapshot { shape: k.conn, info: c, values };
            Value::ok(Value::map(Map::lazy(k.read, given, conn)))
        }
        Reply::WsConn(c) => Value::ok(k.ws(c)),
        Reply::WsConns(cs) => Value::array(cs.into_iter().map(|c| k.ws(c)).collect()),
        Reply::WsRead(c, m) => {
            let given = [int(m.bytes as u64), Value::Str(m.text), Value::Str(m.kind)];
            let values = |c| ws_values(c).into();
            let conn = DeferredSnapshot { shape: k.ws, info: c, values };
            Value::ok(Value::map(Map::lazy(k.ws_read, given, conn)))
        }
        Reply::Released => Value::ok(Value::Bool(true)),
        // Asked for only when the script drops the answer unseen
        // (`socket_answer` gives it nil without coming here).
        Reply::Written => Value::Nil,
        Reply::Error(e) => Value::err(e.kind, &e.message),
    }
}
