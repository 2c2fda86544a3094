//! Capability flags and the `runtime_capabilities` map (REFERENCE-SOCKETS
//! §2.1, §2.6; DIALECT "The command line" and point 9).
//!
//! Invariants: every power is computed independently from the profile and
//! its flags; allow-list entries are checked (a malformed one is a usage
//! error, DIALECT 9), lower-cased, deduplicated and sorted;
//! `runtime_capabilities` always has every top-level key of the reference,
//! with `enabled: false` for powers this implementation does not provide.

use arcstr::ArcStr;
use rco_lang::Value;
use std::collections::BTreeSet;

/// `--capability-profile`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Profile {
    #[default]
    Trusted,
    Sandboxed,
}

/// The capability flags of `rco run`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct CapabilityFlags {
    /// The capability profile.
    #[arg(long, value_enum, default_value_t = Profile::Trusted)]
    capability_profile: Profile,
    /// Turn on TCP and WebSocket sockets (any host).
    #[arg(long)]
    allow_sockets: bool,
    /// Allow sockets to HOST or HOST:PORT only (repeatable; turns sockets on).
    #[arg(long, value_name = "HOST[:PORT]")]
    socket_allow_host: Vec<String>,
    /// Turn off `sleep`.
    #[arg(long)]
    no_sleep: bool,
    /// Turn off environment access.
    #[arg(long)]
    no_env: bool,
}

/// The powers a run has.
#[derive(Clone, Debug, Default)]
pub struct Capabilities {
    pub sockets: bool,
    /// `None`: any host. Lower-cased, sorted entries as given.
    pub allowed_hosts: Option<Vec<String>>,
    pub sleep: bool,
    pub environment: bool,
}

impl CapabilityFlags {
    /// The capabilities these flags grant, or the usage error of the first
    /// malformed `--socket-allow-host` entry.
    pub fn resolve(&self) -> Result<Capabilities, String> {
        if let Some(bad) = self.socket_allow_host.iter().find(|h| rco_reactor::policy::parse_entry(h).is_err()) {
            return Err(format!(
                "invalid --socket-allow-host entry \"{bad}\": expected HOST, HOST:PORT or [IPV6]:PORT"
            ));
        }
        let trusted = self.capability_profile == Profile::Trusted;
        let hosts: BTreeSet<String> = self.socket_allow_host.iter().map(|h| h.to_lowercase()).collect();
        Ok(Capabilities {
            sockets: self.allow_sockets || !hosts.is_empty(),
            allowed_hosts: if hosts.is_empty() { None } else { Some(hosts.into_iter().collect()) },
            sleep: trusted && !self.no_sleep,
            environment: trusted && !self.no_env,
        })
    }
}

/// Task counts for the `tasks` entry.
pub struct TaskCounts {
    pub known: usize,
    pub running: usize,
    pub max_running: usize,
}

/// Retained socket counts for the `sockets` entry.
pub struct SocketCounts {
    pub tcp_connections: usize,
    pub tcp_listeners: usize,
    pub websocket_connections: usize,
    pub websocket_listeners: usize,
}

fn entry(pairs: Vec<(&str, Value)>) -> Value {
    Value::map(pairs.into_iter().map(|(k, v)| (ArcStr::from(k), v)).collect::<rco_lang::Map>())
}

fn enabled(on: bool) -> Value {
    entry(vec![("enabled", Value::Bool(on))])
}

impl Capabilities {
    /// The `runtime_capabilities` map.
    pub fn map(&self, tasks: TaskCounts, sockets: SocketCounts) -> Value {
        let n = |x: usize| Value::Int(x as i64);
        let hosts = match &self.allowed_hosts {
            None => Value::Nil,
            Some(h) => Value::array(h.iter().map(|s| Value::str(s)).collect()),
        };
        entry(vec![
            ("approval", entry(vec![("enabled", Value::Bool(true)), ("records", n(0))])),
            ("environment", entry(vec![("enabled", Value::Bool(self.environment)), ("allowlist", Value::Nil)])),
            (
                "filesystem",
                entry(vec![
                    ("enabled", Value::Bool(false)),
                    ("writes_enabled", Value::Bool(false)),
                    ("root", Value::Nil),
                ]),
            ),
            (
                "http",
                entry(vec![
                    ("enabled", Value::Bool(false)),
                    ("allowed_hosts", Value::Nil),
                    ("allowed_destinations", Value::array(Vec::new())),
                    ("streams", n(0)),
                ]),
            ),
            ("process", entry(vec![("enabled", Value::Bool(false)), ("root", Value::Nil), ("jobs", n(0))])),
            ("pty", entry(vec![("enabled", Value::Bool(false)), ("sessions", n(0))])),
            ("sleep", enabled(self.sleep)),
            (
                "sockets",
                entry(vec![
                    ("enabled", Value::Bool(self.sockets)),
                    ("allowed_hosts", hosts),
                    ("tcp_connections", n(sockets.tcp_connections)),
                    ("tcp_listeners", n(sockets.tcp_listeners)),
                    ("websocket_connections", n(sockets.websocket_connections)),
                    ("websocket_listeners", n(sockets.websocket_listeners)),
                ]),
            ),
            (
                "tasks",
                entry(vec![
                    ("known", n(tasks.known)),
                    ("running", n(tasks.running)),
                    ("max_running", n(tasks.max_running)),
                    ("global_running", n(tasks.running)),
                ]),
            ),
            ("terminal", enabled(false)),
            ("uploads", entry(vec![("streams", n(0))])),
            ("webview", enabled(false)),
            (
                "workspace",
                entry(vec![
                    ("enabled", Value::Bool(false)),
                    ("writes_enabled", Value::Bool(false)),
                    ("root", Value::Nil),
                ]),
            ),
        ])
    }
}
