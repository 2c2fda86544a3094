//! The 26 socket words, language side: the socket gate, argument popping
//! (raised errors) and option validation (`SocketRequestError` Results),
//! in the order of REFERENCE-SOCKETS §2.5 and §5, one handler per word
//! (named with its arity in the table of `word.rs`). What survives becomes
//! a `SocketRequest` effect that the host performs (allow-list,
//! registries, I/O); the host resumes the VM with the word's result.
//!
//! Invariants: the gate is checked before the stack is touched
//! (`Vm::exec_word` checks it before the arity); a raised error leaves the
//! stack as it was (single-id words pop first, as the reference does); a
//! request error consumes the arguments and pushes an error Result; a
//! request carries only plain data, so it can cross threads.

use super::{int_arg, str_arg, Cx, R};
use crate::error::VmError;
use crate::host::{Effect, Host};
use crate::value::Value;
use crate::vm::{Flow, Vm};
use arcstr::ArcStr;
use std::fmt;
use SocketRequest as Q;

/// A validated socket request. The requests that open a socket carry
/// their parameters boxed: they are the largest and the rarest, and every
/// request is moved a few times on its way to the reactor (the whole enum
/// is 40 bytes, a write's id and text; with them inline it was 104).
#[derive(Clone, Debug, PartialEq)]
pub enum SocketRequest {
    TcpListen(Box<TcpListenArgs>),
    TcpListeners,
    TcpListener(u64),
    TcpAccept { id: u64, timeout_ms: u64 },
    TcpListenerClose(u64),
    TcpListenerRelease(u64),
    TcpConnect(Box<TcpConnectArgs>),
    TcpConnections,
    TcpConnection(u64),
    TcpWrite { id: u64, data: ArcStr },
    TcpRead { id: u64, timeout_ms: u64, max_bytes: usize },
    TcpClose(u64),
    TcpRelease(u64),
    WsListen(Box<WsListenArgs>),
    WsListeners,
    WsListener(u64),
    WsAccept { id: u64, timeout_ms: u64 },
    WsListenerClose(u64),
    WsListenerRelease(u64),
    WsConnect(Box<WsConnectArgs>),
    WsConnections,
    WsConnection(u64),
    WsSend { id: u64, message: ArcStr },
    WsRead { id: u64, timeout_ms: u64, max_bytes: usize },
    WsClose(u64),
    WsRelease(u64),
}

const _: () = assert!(std::mem::size_of::<SocketRequest>() <= 40);

/// `tcp_listen`'s parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct TcpListenArgs {
    pub host: String,
    pub port: u16,
    pub nodelay: bool,
    pub tls: Option<TlsFiles>,
}

/// `tcp_connect`'s parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct TcpConnectArgs {
    pub host: String,
    pub port: u16,
    pub timeout_ms: u64,
    pub nodelay: bool,
    /// TLS over the connection (DIALECT 15).
    pub tls: bool,
}

/// `ws_listen`'s parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct WsListenArgs {
    pub host: String,
    pub port: u16,
    pub allowed_origins: Vec<String>,
    pub tls: Option<TlsFiles>,
}

/// `ws_connect`'s parameters: `url` as given; `host` lower-cased; `port`
/// explicit or the scheme's.
#[derive(Clone, Debug, PartialEq)]
pub struct WsConnectArgs {
    pub url: String,
    pub host: String,
    pub port: u16,
    pub timeout_ms: u64,
}

/// The PEM files a TLS listener serves (options `tls_cert_file` and
/// `tls_key_file`, DIALECT 15), as the script named them.
#[derive(Clone, Debug, PartialEq)]
pub struct TlsFiles {
    pub cert: String,
    pub key: String,
}

impl TlsFiles {
    /// (certificate file, key file).
    pub fn paths(&self) -> (&str, &str) {
        (&self.cert, &self.key)
    }
}

const DEFAULT_TIMEOUT_MS: i64 = 10_000;
const MAX_TIMEOUT_MS: i64 = 300_000;
const MAX_READ_BYTES: i64 = 16_777_216;

/// An options map, read in one pass (it is read on every request, so no
/// lookup per option): the values of the options the word knows (`known`,
/// one slot each), taken one by one while they are checked in the word's
/// order, and the smallest key it does not know, reported by `finish`
/// after them. A nil value is no option.
struct Options<const N: usize> {
    known: &'static [&'static str; N],
    values: [Option<Value>; N],
    unknown: Option<ArcStr>,
}

impl<const N: usize> Options<N> {
    /// The options argument, or `<Label> options must be a map, got <kind>`.
    fn new(label: impl fmt::Display, v: &Value, known: &'static [&'static str; N]) -> Result<Options<N>, String> {
        let Value::Map(m) = v else {
            return Err(format!("{label} options must be a map, got {}", v.kind()));
        };
        let mut o = Options { known, values: std::array::from_fn(|_| None), unknown: None };
        // In key order: the first unknown key is the smallest.
        for (k, v) in m.borrow().iter() {
            if matches!(v, Value::Nil) {
                continue;
            }
            match known.iter().position(|name| name.len() == k.len() && *name == &**k) {
                Some(i) => o.values[i] = Some(v.clone()),
                None if o.unknown.is_none() => o.unknown = Some(k.clone()),
                None => {}
            }
        }
        Ok(o)
    }

    /// The option `name` (one of the word's `known` options), if given.
    fn take(&mut self, name: &'static str) -> Option<Value> {
        let i = self.known.iter().position(|known| *known == name);
        debug_assert!(i.is_some(), "option {name} is not among the word's known options");
        self.values.get_mut(i?)?.take()
    }

    fn timeout(&mut self) -> Result<u64, String> {
        match self.take("timeout_ms") {
            None => Ok(DEFAULT_TIMEOUT_MS as u64),
            Some(Value::Int(n)) if n <= 0 => Err(format!("socket option timeout_ms must be positive, got {n}")),
            Some(Value::Int(n)) if n > MAX_TIMEOUT_MS => {
                Err(format!("socket option timeout_ms must be at most {MAX_TIMEOUT_MS}"))
            }
            Some(Value::Int(n)) => Ok(n as u64),
            Some(other) => Err(format!("socket option timeout_ms must be a number, got {}", other.kind())),
        }
    }

    fn max_bytes(&mut self, label: &str, default: usize) -> Result<usize, String> {
        match self.take("max_bytes") {
            None => Ok(default),
            Some(Value::Int(n)) if n <= 0 => Err(format!("{label} read option max_bytes must be positive, got {n}")),
            Some(Value::Int(n)) if n > MAX_READ_BYTES => {
                Err(format!("{label} read option max_bytes must be at most {MAX_READ_BYTES}"))
            }
            Some(Value::Int(n)) => Ok(n as usize),
            Some(other) => Err(format!("{label} read option max_bytes must be a number, got {}", other.kind())),
        }
    }

    fn nodelay(&mut self, label: &str) -> Result<bool, String> {
        match self.take("nodelay") {
            None => Ok(true),
            Some(Value::Bool(b)) => Ok(b),
            Some(other) => Err(format!("{label} option nodelay must be a bool, got {}", other.kind())),
        }
    }

    fn tls(&mut self, label: &str) -> Result<bool, String> {
        match self.take("tls") {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(b),
            Some(other) => Err(format!("{label} option tls must be a bool, got {}", other.kind())),
        }
    }

    /// `tls_cert_file` and `tls_key_file`: both or neither.
    fn tls_files(&mut self, label: &str) -> Result<Option<TlsFiles>, String> {
        let mut path = |name: &'static str| match self.take(name) {
            None => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s.to_string())),
            Some(other) => Err(format!("{label} option {name} must be a string, got {}", other.kind())),
        };
        match (path("tls_cert_file")?, path("tls_key_file")?) {
            (None, None) => Ok(None),
            (Some(cert), Some(key)) => Ok(Some(TlsFiles { cert, key })),
            (Some(_), None) => Err(format!("{label} option tls_cert_file needs tls_key_file")),
            (None, Some(_)) => Err(format!("{label} option tls_key_file needs tls_cert_file")),
        }
    }

    fn allowed_origins(&mut self) -> Result<Vec<String>, String> {
        let Some(v) = self.take("allowed_origins") else { return Ok(Vec::new()) };
        let items = match &v {
            Value::Array(s) | Value::List(s) => s.borrow().clone(),
            other => {
                return Err(format!("socket option allowed_origins must be an array or list, got {}", other.kind()))
            }
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Str(s) if s.is_empty() => Err(format!("socket option allowed_origins[{i}] must not be empty")),
                Value::Str(s) => Ok(s.to_string()),
                other => Err(format!("socket option allowed_origins[{i}] must be a string, got {}", other.kind())),
            })
            .collect()
    }

    /// After the known options: `unknown <what>: <smallest unknown key>`.
    fn finish(self, what: impl fmt::Display) -> Result<(), String> {
        match self.unknown {
            Some(k) => Err(format!("unknown {what}: {k}")),
            None => Ok(()),
        }
    }
}

fn port_in(label: &str, port: i64, min: i64) -> Result<u16, String> {
    if port < min || port > 65535 {
        return Err(format!("{label} port must be between {min} and 65535, got {port}"));
    }
    Ok(port as u16)
}

fn host_in(label: &str, host: &str) -> Result<(), String> {
    if host.trim().is_empty() {
        return Err(format!("{label} host must not be empty"));
    }
    Ok(())
}

/// Parses a `ws://` / `wss://` URL: its lower-cased host and its port.
pub fn parse_ws_url(url: &str) -> Result<(String, u16), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("invalid WebSocket URL: relative URL without a base".into());
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) {
        return Err("invalid WebSocket URL: relative URL without a base".into());
    }
    if scheme != "ws" && scheme != "wss" {
        return Err(format!("WebSocket URL scheme must be ws or wss, got {scheme}"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let Some((h, after)) = v6.split_once(']') else {
            return Err("invalid WebSocket URL: invalid IPv6 address".into());
        };
        (format!("[{h}]"), after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err("invalid WebSocket URL: empty host".into());
    }
    let port = match port {
        Some("") | None => {
            if scheme == "ws" {
                80
            } else {
                443
            }
        }
        Some(p) => p.parse::<u16>().map_err(|_| "invalid WebSocket URL: invalid port number".to_string())?,
    };
    Ok((host.to_ascii_lowercase(), port))
}

/// The socket gate, checked before the stack is looked at.
pub(crate) fn gate(host: &dyn Host, spelled: super::Spelled<'_>) -> Result<(), VmError> {
    if !host.sockets_enabled() {
        return Err(VmError::host(spelled.text(), "socket capability is not enabled"));
    }
    Ok(())
}

/// A socket id operand: negative ids and non-numbers raise.
fn id_of(name: &str, v: &Value) -> Result<u64, VmError> {
    match v {
        Value::Int(n) if *n < 0 => Err(VmError::invalid(name, format!("socket id cannot be negative: {n}"))),
        Value::Int(n) => Ok(*n as u64),
        other => Err(VmError::type_error(name, "number", other.kind())),
    }
}

/// Pops a socket id, then checks it (as the reference does).
fn pop_id(vm: &mut Vm, name: &str) -> Result<u64, VmError> {
    let v = vm.pop();
    id_of(name, &v)
}

fn string_at(vm: &Vm, name: &str, i: usize, expected: &str) -> Result<String, VmError> {
    str_arg(name, vm.peek(i), expected).map(|s| s.to_string())
}

/// Pops `n` arguments, the options map on top (validated later: its
/// errors are Results).
fn take_options(vm: &mut Vm, n: usize) -> Value {
    // Moved off the stack, not cloned and then dropped from it.
    let options = vm.pop();
    vm.stack.truncate(vm.stack.len() - (n - 1));
    options
}

/// `host port options`: the host and the port, checked, and the options.
fn endpoint(vm: &mut Vm, name: &str) -> Result<(String, i64, Value), VmError> {
    let port = int_arg(name, vm.peek(1))?;
    let host = string_at(vm, name, 2, "string")?;
    Ok((host, port, take_options(vm, 3)))
}

/// `id options`: the id, checked, and the options.
fn id_and_options(vm: &mut Vm, name: &str) -> Result<(u64, Value), VmError> {
    let id = id_of(name, vm.peek(1))?;
    Ok((id, take_options(vm, 2)))
}

/// `id text`: a write's id and its text (checked first), popped. The text
/// is the script's value, not a copy: the reactor writes from it. Moved
/// off the stack, not cloned and then dropped from it (two changes of its
/// atomic count per write).
fn id_and_text(vm: &mut Vm, name: &str, expected: &str) -> Result<(u64, ArcStr), VmError> {
    str_arg(name, vm.peek(0), expected)?;
    let id = id_of(name, vm.peek(1))?;
    let Value::Str(text) = vm.pop() else { unreachable!("the top was checked to be a string") };
    vm.pop().discard();
    Ok((id, text))
}

/// Blocks on `request`.
fn ask(request: SocketRequest) -> R {
    Ok(Flow::Block(Effect::Socket(request)))
}

/// Blocks on the request, or pushes the `SocketRequestError` Result its
/// options made.
fn ask_checked(vm: &mut Vm, request: Result<SocketRequest, String>) -> R {
    match request {
        Ok(request) => ask(request),
        Err(message) => {
            vm.stack.push(Value::err("SocketRequestError", &message));
            Ok(Flow::Next)
        }
    }
}

/// The options of an accept: its timeout.
fn accept_options(label: &str, options: &Value) -> Result<u64, String> {
    let mut o = Options::new(label, options, &["timeout_ms"])?;
    let timeout_ms = o.timeout()?;
    o.finish("socket option")?;
    Ok(timeout_ms)
}

/// The options of a read (`label`: `TCP` or `WebSocket`): its timeout and
/// its `max_bytes` (`default` if not given).
fn read_options(label: &str, options: &Value, default: usize) -> Result<(u64, usize), String> {
    if let Some(plain) = plain_read_options(options, default) {
        return Ok(plain);
    }
    let mut o = Options::new(format_args!("{label} read"), options, &["timeout_ms", "max_bytes"])?;
    let timeout_ms = o.timeout()?;
    let max_bytes = o.max_bytes(label, default)?;
    o.finish(format_args!("{label} read option"))?;
    Ok((timeout_ms, max_bytes))
}

/// The options of a read whose every entry is a valid `timeout_ms` or
/// `max_bytes` (a read loop passes the same such map on every call):
/// checked in one pass without `Options`' bookkeeping, which costs more
/// than the rest of the word. `None` for any other options, which
/// `read_options` then reads in full (and reports the first error of).
fn plain_read_options(options: &Value, default: usize) -> Option<(u64, usize)> {
    let Value::Map(m) = options else { return None };
    let (mut timeout_ms, mut max_bytes) = (DEFAULT_TIMEOUT_MS, default as i64);
    for (k, v) in m.borrow().iter() {
        match (&**k, v) {
            ("max_bytes", &Value::Int(n)) if (1..=MAX_READ_BYTES).contains(&n) => max_bytes = n,
            ("timeout_ms", &Value::Int(n)) if (1..=MAX_TIMEOUT_MS).contains(&n) => timeout_ms = n,
            _ => return None,
        }
    }
    Some((timeout_ms as u64, max_bytes as usize))
}

pub(crate) fn tcp_listen(vm: &mut Vm, cx: Cx) -> R {
    let (host, port, options) = endpoint(vm, cx.name())?;
    let request = (|| {
        host_in("TCP listener", &host)?;
        let port = port_in("TCP listener", port, 0)?;
        let mut o = Options::new("TCP listener", &options, &["nodelay", "tls_cert_file", "tls_key_file"])?;
        let nodelay = o.nodelay("TCP listener")?;
        let tls = o.tls_files("TCP listener")?;
        o.finish("TCP listener option")?;
        Ok(Q::TcpListen(Box::new(TcpListenArgs { host, port, nodelay, tls })))
    })();
    ask_checked(vm, request)
}

pub(crate) fn tcp_listeners(_: &mut Vm, _: Cx) -> R {
    ask(Q::TcpListeners)
}

pub(crate) fn tcp_listener(vm: &mut Vm, cx: Cx) -> R {
    ask(Q::TcpListener(pop_id(vm, cx.name())?))
}

pub(crate) fn tcp_accept(vm: &mut Vm, cx: Cx) -> R {
    let (id, options) = id_and_options(vm, cx.name())?;
    let request = accept_options("TCP accept", &options).map(|timeout_ms| Q::TcpAccept { id, timeout_ms });
    ask_checked(vm, request)
}

pub(crate) fn tcp_listener_close(vm: &mut Vm, cx: Cx) -> R {
    ask(Q::TcpListenerClose(pop_id(vm, cx.name())?))
}

pub(crate) fn tcp_listener_release(vm: &mut Vm, cx: Cx) -> R {
    ask(Q::TcpListenerRelease(pop_id(vm, cx.name())?))
}

pub(crate) fn tcp_connect(vm: &mut Vm, cx: Cx) -> R {
    let (host, port, options) = endpoint(vm, cx.name())?;
    let request = (|| {
        host_in("TCP", &host)?;
        let port = port_in("TCP", port, 1)?;
        let mut o = Options::new("TCP", &options, &["timeout_ms", "nodelay", "tls"])?;
        let timeout_ms = o.timeout()?;
        let nodelay = o.nodelay("TCP")?;
        let tls = o.tls("TCP")?;
        o.finish("TCP option")?;
        Ok(Q::TcpConnect(Box::new(TcpConnectArgs { host, port, timeout_ms, nodelay, tls })))
    })();
    ask_checked(vm, request)
}

pub(crate) fn tcp_connections(_: &mut Vm, _: Cx) -> R {
    ask(Q::TcpConnections)
}

pub(crate) fn tcp_connection(vm: &mut Vm, cx: Cx) -> R {
    ask(Q::TcpConnection(pop_id(vm, cx.name())?))
}

pub(crate) fn tcp_write(vm: &mut Vm, cx: Cx) -> R {
    let (id, data) = id_and_text(vm, cx.name(), "TCP data string")?;
    ask(Q::TcpWrite { id, data })
}

pub(crate) fn tcp_read(vm: &mut Vm, cx: Cx) -> R {
    let (id, options) = id_and_options(vm, cx.name())?;
    let request =
        read_options("TCP", &options, 65_536).map(|(timeout_ms, max_bytes)| Q::TcpRead { id, timeout_ms, max_bytes });
    ask_checked(vm, request)
}

pub(crate) fn tcp_close(vm: &mut Vm, cx: Cx) -> R {
    ask(Q::TcpClose(pop_id(vm, cx.name())?))
}

pub(crate) fn tcp_release(vm: &mut Vm, cx: Cx) -> R {
    ask(Q::TcpRelease(pop_id(vm, cx.name())?))
}

pub(crate) fn ws_listen(vm: &mut Vm, cx: Cx) -> R {
    let (host, port, options) = endpoint(vm, cx.name())?;
    let request = (|| {
        host_in("WebSocket listener", &host)?;
        let port = port_in("WebSocket listener", port, 0)?;
        let mut o =
            Options::new("WebSocket listener", &options, &["allowed_origins", "tls_cert_file", "tls_key_file"])?;
        let allowed_origins = o.allowed_origins()?;
        let tls = o.tls_files("WebSocket listener")?;
        o.finish("WebSocket listener option")?;
        Ok(Q::WsListen(Box::new(WsListenArgs { host, port, allowed_origins, tls })))
    })();
    ask_checked(vm, request)
}

pub(crate) fn ws_listeners(_: &mut Vm, _: Cx) -> R {
    ask(Q::WsListeners)
}

pub(crate) fn ws_listener(vm: &mut Vm, cx: Cx) -> R {
    ask(Q::WsListener(pop_id(vm, cx.name())?))
}

pub(crate) fn ws_accept(vm: &mut Vm, cx: Cx) -> R {
    let (id, options) = id_and_options(vm, cx.name())?;
    let request = accept_options("WebSocket accept", &options).map(|timeout_ms| Q::WsAccept { id, timeout_ms });
    ask_checked(vm, request)
}

pub(crate) fn ws_listener_close(vm: &mut Vm, cx: Cx) -> R {
    ask(Q::WsListenerClose(pop_id(vm, cx.name())?))
}

pub(crate) fn ws_listener_release(vm: &mut Vm, cx: Cx) -> R {
    ask(Q::WsListenerRelease(pop_id(vm, cx.name())?))
}

pub(crate) fn ws_connect(vm: &mut Vm, cx: Cx) -> R {
    let url = string_at(vm, cx.name(), 1, "WebSocket URL string")?;
    let options = take_options(vm, 2);
    let request = (|| {
        let (host, port) = parse_ws_url(&url)?;
        let mut o = Options::new("WebSocket", &options, &["timeout_ms"])?;
        let timeout_ms = o.timeout()?;
        o.finish("WebSocket option")?;
        Ok(Q::WsConnect(Box::new(WsConnectArgs { url, host, port, timeout_ms })))
    })();
    ask_checked(vm, request)
}

pub(crate) fn ws_connections(_: &mut Vm, _: Cx) -> R {
    ask(Q::WsConnections)
}

pub(crate) fn ws_connection(vm: &mut Vm, cx: Cx) -> R {
    ask(Q::WsConnection(pop_id(vm, cx.name())?))
}

pub(crate) fn ws_send(vm: &mut Vm, cx: Cx) -> R {
    let (id, message) = id_and_text(vm, cx.name(), "WebSocket text message string")?;
    ask(Q::WsSend { id, message })
}

pub(crate) fn ws_read(vm: &mut Vm, cx: Cx) -> R {
    let (id, options) = id_and_options(vm, cx.name())?;
    let request = read_options("WebSocket", &options, 1_048_576).map(|(timeout_ms, max_bytes)| Q::WsRead {
        id,
        timeout_ms,
        max_bytes,
    });
    ask_checked(vm, request)
}

pub(crate) fn ws_close(vm: &mut Vm, cx: Cx) -> R {
    ask(Q::WsClose(pop_id(vm, cx.name())?))
}

pub(crate) fn ws_release(vm: &mut Vm, cx: Cx) -> R {
    ask(Q::WsRelease(pop_id(vm, cx.name())?))
}

#[cfg(test)]
mod tests {
    use super::{parse_ws_url, plain_read_options, read_options};
    use crate::map::Map;
    use crate::value::Value;

    /// Where the plain path answers, it answers as the full one does.
    #[test]
    fn plain_read_options_agree_with_the_full_reading() {
        let values = [
            Value::Nil,
            Value::Int(-1),
            Value::Int(0),
            Value::Int(1),
            Value::Int(4096),
            Value::Int(300_000),
            Value::Int(300_001),
            Value::Int(16_777_216),
            Value::Int(16_777_217),
            Value::str("1"),
            Value::Bool(true),
        ];
        let keys = ["timeout_ms", "max_bytes", "max_byte", "nodelay"];
        let mut plain = 0;
        for (a, b) in keys.iter().flat_map(|a| keys.iter().map(move |b| (a, b))) {
            for (x, y) in values.iter().flat_map(|x| values.iter().map(move |y| (x, y))) {
                let mut m = Map::new();
                m.insert((*a).into(), x.clone());
                m.insert((*b).into(), y.clone());
                let options = Value::map(m);
                if let Some(fast) = plain_read_options(&options, 65_536) {
                    plain += 1;
                    assert_eq!(Ok(fast), read_options("TCP", &options, 65_536), "{options:?}");
                }
            }
        }
        assert!(plain > 0);
        assert_eq!(plain_read_options(&Value::map(Map::new()), 7), Some((10_000, 7)));
        assert_eq!(read_options("TCP", &Value::map(Map::new()), 7), Ok((10_000, 7)));
    }

    #[test]
    fn ws_urls() {
        assert_eq!(parse_ws_url("ws://Example.ORG:8080/chat"), Ok(("example.org".into(), 8080)));
        assert_eq!(parse_ws_url("wss://host/x"), Ok(("host".into(), 443)));
        assert_eq!(parse_ws_url("ws://[::1]:9/"), Ok(("[::1]".into(), 9)));
        assert!(parse_ws_url("http://h").is_err_and(|e| e.contains("scheme must be ws or wss, got http")));
        assert!(parse_ws_url("ws://:80").is_err());
        assert!(parse_ws_url("nonsense").is_err());
    }
}
