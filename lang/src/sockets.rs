//! The 26 socket words, language side: the socket gate, argument popping
//! (raised errors) and option validation (`SocketRequestError` Results),
//! in the order of REFERENCE-SOCKETS §2.5 and §5. What survives becomes a
//! `SocketRequest` effect that the host performs (allow-list, registries,
//! I/O); the host resumes the VM with the word's result.
//!
//! Invariants: the gate is checked before the stack is touched; a raised
//! error leaves the stack as it was (single-id words pop first, as the
//! reference does); a request error consumes the arguments and pushes an
//! error Result; a request carries only plain data, so it can cross threads.

use crate::error::VmError;
use crate::host::{Effect, Host};
use crate::value::Value;
use crate::vm::{Flow, Vm};
use crate::word::Word;

/// A validated socket request.
#[derive(Clone, Debug, PartialEq)]
pub enum SocketRequest {
    TcpListen {
        host: String,
        port: u16,
        nodelay: bool,
        tls: Option<TlsFiles>,
    },
    TcpListeners,
    TcpListener(u64),
    TcpAccept {
        id: u64,
        timeout_ms: u64,
    },
    TcpListenerClose(u64),
    TcpListenerRelease(u64),
    TcpConnect {
        host: String,
        port: u16,
        timeout_ms: u64,
        nodelay: bool,
        /// TLS over the connection (DIALECT 15).
        tls: bool,
    },
    TcpConnections,
    TcpConnection(u64),
    TcpWrite {
        id: u64,
        data: String,
    },
    TcpRead {
        id: u64,
        timeout_ms: u64,
        max_bytes: usize,
    },
    TcpClose(u64),
    TcpRelease(u64),
    WsListen {
        host: String,
        port: u16,
        allowed_origins: Vec<String>,
        tls: Option<TlsFiles>,
    },
    WsListeners,
    WsListener(u64),
    WsAccept {
        id: u64,
        timeout_ms: u64,
    },
    WsListenerClose(u64),
    WsListenerRelease(u64),
    /// `url` as given; `host` lower-cased; `port` explicit or the scheme's.
    WsConnect {
        url: String,
        host: String,
        port: u16,
        timeout_ms: u64,
    },
    WsConnections,
    WsConnection(u64),
    WsSend {
        id: u64,
        message: String,
    },
    WsRead {
        id: u64,
        timeout_ms: u64,
        max_bytes: usize,
    },
    WsClose(u64),
    WsRelease(u64),
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

/// An options map being validated: known keys are taken one by one.
struct Options<'m> {
    map: std::cell::Ref<'m, crate::Map>,
    /// The names taken so far (a word knows at most four options); the
    /// options map is read in place, not copied.
    taken: [&'static str; 4],
    count: usize,
}

impl<'m> Options<'m> {
    /// The options argument, or `<Label> options must be a map, got <kind>`.
    fn new(label: &str, v: &'m Value) -> Result<Options<'m>, String> {
        match v {
            Value::Map(m) => Ok(Options { map: m.borrow(), taken: [""; 4], count: 0 }),
            other => Err(format!("{label} options must be a map, got {}", other.kind())),
        }
    }

    /// The option `name` (a nil value is no option); what no word takes is
    /// unknown (`finish`).
    fn take(&mut self, name: &'static str) -> Option<Value> {
        debug_assert!(self.count < self.taken.len(), "a word takes at most four options");
        if self.count < self.taken.len() {
            self.taken[self.count] = name;
            self.count += 1;
        }
        self.map.get(name).filter(|v| !matches!(v, Value::Nil)).cloned()
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

    /// After the known keys: `unknown <what>: <smallest leftover key>`.
    fn finish(self, what: &str) -> Result<(), String> {
        let taken = &self.taken[..self.count];
        let unknown = self.map.iter().find(|(k, v)| !matches!(v, Value::Nil) && !taken.contains(&&***k));
        match unknown {
            Some((k, _)) => Err(format!("unknown {what}: {k}")),
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

impl Vm {
    /// Pops a socket id: negative ids and non-numbers raise.
    fn pop_id(&mut self, name: &str) -> Result<u64, VmError> {
        self.need_args(name, 1)?;
        let v = self.stack.pop().unwrap_or(Value::Nil);
        match v {
            Value::Int(n) if n < 0 => Err(VmError::invalid(name, format!("socket id cannot be negative: {n}"))),
            Value::Int(n) => Ok(n as u64),
            other => Err(VmError::type_error(name, "number", other.kind())),
        }
    }

    fn need_args(&self, name: &str, n: usize) -> Result<(), VmError> {
        if self.stack.len() < n {
            return Err(VmError::underflow(name, n, self.stack.len()));
        }
        Ok(())
    }

    /// The id `i` places below the top, checked without popping.
    fn peek_id(&self, name: &str, i: usize) -> Result<u64, VmError> {
        match &self.stack[self.stack.len() - 1 - i] {
            Value::Int(n) if *n < 0 => Err(VmError::invalid(name, format!("socket id cannot be negative: {n}"))),
            Value::Int(n) => Ok(*n as u64),
            other => Err(VmError::type_error(name, "number", other.kind())),
        }
    }

    fn peek_int(&self, name: &str, i: usize) -> Result<i64, VmError> {
        match &self.stack[self.stack.len() - 1 - i] {
            Value::Int(n) => Ok(*n),
            other => Err(VmError::type_error(name, "number", other.kind())),
        }
    }

    fn peek_string(&self, name: &str, i: usize, expected: &str) -> Result<String, VmError> {
        match &self.stack[self.stack.len() - 1 - i] {
            Value::Str(s) => Ok(s.to_string()),
            other => Err(VmError::type_error(name, expected, other.kind())),
        }
    }

    /// Runs a socket word: the gate, the arguments, the request.
    pub(crate) fn socket_word(&mut self, word: Word, name: &str, host: &mut dyn Host) -> Result<Flow, VmError> {
        use SocketRequest as Q;
        if !host.sockets_enabled() {
            return Err(VmError::host(name, "socket capability is not enabled"));
        }
        let request: Result<SocketRequest, String> = match word {
            Word::TcpListeners => Ok(Q::TcpListeners),
            Word::TcpConnections => Ok(Q::TcpConnections),
            Word::WsListeners => Ok(Q::WsListeners),
            Word::WsConnections => Ok(Q::WsConnections),
            Word::TcpListener => Ok(Q::TcpListener(self.pop_id(name)?)),
            Word::TcpListenerClose => Ok(Q::TcpListenerClose(self.pop_id(name)?)),
            Word::TcpListenerRelease => Ok(Q::TcpListenerRelease(self.pop_id(name)?)),
            Word::TcpConnection => Ok(Q::TcpConnection(self.pop_id(name)?)),
            Word::TcpClose => Ok(Q::TcpClose(self.pop_id(name)?)),
            Word::TcpRelease => Ok(Q::TcpRelease(self.pop_id(name)?)),
            Word::WsListener => Ok(Q::WsListener(self.pop_id(name)?)),
            Word::WsListenerClose => Ok(Q::WsListenerClose(self.pop_id(name)?)),
            Word::WsListenerRelease => Ok(Q::WsListenerRelease(self.pop_id(name)?)),
            Word::WsConnection => Ok(Q::WsConnection(self.pop_id(name)?)),
            Word::WsClose => Ok(Q::WsClose(self.pop_id(name)?)),
            Word::WsRelease => Ok(Q::WsRelease(self.pop_id(name)?)),
            Word::TcpListen | Word::TcpConnect | Word::WsListen => {
                self.need_args(name, 3)?;
                let port = self.peek_int(name, 1)?;
                let host_name = self.peek_string(name, 2, "string")?;
                let options = self.stack[self.stack.len() - 1].clone();
                self.stack.truncate(self.stack.len() - 3);
                match word {
                    Word::TcpListen => (|| {
                        host_in("TCP listener", &host_name)?;
                        let port = port_in("TCP listener", port, 0)?;
                        let mut o = Options::new("TCP listener", &options)?;
                        let nodelay = o.nodelay("TCP listener")?;
                        let tls = o.tls_files("TCP listener")?;
                        o.finish("TCP listener option")?;
                        Ok(Q::TcpListen { host: host_name, port, nodelay, tls })
                    })(),
                    Word::TcpConnect => (|| {
                        host_in("TCP", &host_name)?;
                        let port = port_in("TCP", port, 1)?;
                        let mut o = Options::new("TCP", &options)?;
                        let timeout_ms = o.timeout()?;
                        let nodelay = o.nodelay("TCP")?;
                        let tls = o.tls("TCP")?;
                        o.finish("TCP option")?;
                        Ok(Q::TcpConnect { host: host_name, port, timeout_ms, nodelay, tls })
                    })(),
                    _ => (|| {
                        host_in("WebSocket listener", &host_name)?;
                        let port = port_in("WebSocket listener", port, 0)?;
                        let mut o = Options::new("WebSocket listener", &options)?;
                        let allowed_origins = o.allowed_origins()?;
                        let tls = o.tls_files("WebSocket listener")?;
                        o.finish("WebSocket listener option")?;
                        Ok(Q::WsListen { host: host_name, port, allowed_origins, tls })
                    })(),
                }
            }
            Word::WsConnect => {
                self.need_args(name, 2)?;
                let url = self.peek_string(name, 1, "WebSocket URL string")?;
                let options = self.stack[self.stack.len() - 1].clone();
                self.stack.truncate(self.stack.len() - 2);
                (|| {
                    let (host_name, port) = parse_ws_url(&url)?;
                    let mut o = Options::new("WebSocket", &options)?;
                    let timeout_ms = o.timeout()?;
                    o.finish("WebSocket option")?;
                    Ok(Q::WsConnect { url: url.clone(), host: host_name, port, timeout_ms })
                })()
            }
            Word::TcpAccept | Word::WsAccept | Word::TcpRead | Word::WsRead => {
                self.need_args(name, 2)?;
                let id = self.peek_id(name, 1)?;
                let options = self.stack[self.stack.len() - 1].clone();
                self.stack.truncate(self.stack.len() - 2);
                match word {
                    Word::TcpAccept | Word::WsAccept => (|| {
                        let label = if word == Word::TcpAccept { "TCP accept" } else { "WebSocket accept" };
                        let mut o = Options::new(label, &options)?;
                        let timeout_ms = o.timeout()?;
                        o.finish("socket option")?;
                        Ok(if word == Word::TcpAccept {
                            Q::TcpAccept { id, timeout_ms }
                        } else {
                            Q::WsAccept { id, timeout_ms }
                        })
                    })(),
                    Word::TcpRead => (|| {
                        let mut o = Options::new("TCP read", &options)?;
                        let timeout_ms = o.timeout()?;
                        let max_bytes = o.max_bytes("TCP", 65_536)?;
                        o.finish("TCP read option")?;
                        Ok(Q::TcpRead { id, timeout_ms, max_bytes })
                    })(),
                    _ => (|| {
                        let mut o = Options::new("WebSocket read", &options)?;
                        let timeout_ms = o.timeout()?;
                        let max_bytes = o.max_bytes("WebSocket", 1_048_576)?;
                        o.finish("WebSocket read option")?;
                        Ok(Q::WsRead { id, timeout_ms, max_bytes })
                    })(),
                }
            }
            Word::TcpWrite | Word::WsSend => {
                self.need_args(name, 2)?;
                let expected = if word == Word::TcpWrite { "TCP data string" } else { "WebSocket text message string" };
                let data = self.peek_string(name, 0, expected)?;
                let id = self.peek_id(name, 1)?;
                self.stack.truncate(self.stack.len() - 2);
                Ok(if word == Word::TcpWrite { Q::TcpWrite { id, data } } else { Q::WsSend { id, message: data } })
            }
            _ => return Err(VmError::unknown_word(name)),
        };
        match request {
            Ok(request) => Ok(Flow::Block(Effect::Socket(request))),
            Err(message) => {
                self.stack.push(Value::err("SocketRequestError", &message));
                Ok(Flow::Next)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_ws_url;

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
