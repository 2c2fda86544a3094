//! The host allow-list and the resolved-address policy (REFERENCE-SOCKETS
//! §2.3, §2.4; DIALECT point 9).
//!
//! Invariants: without an allow-list every host and address is allowed;
//! with one, the lower-cased host must equal an entry (an entry with a port
//! admits that port only), and every address the host resolves to must pass
//! the address policy, or the whole request is refused.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

/// The socket host allow-list; `None` allows everything.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    entries: Option<Vec<String>>,
}

impl Policy {
    /// A policy from `--socket-allow-host` values (already lower-cased or not).
    pub fn new(entries: Option<Vec<String>>) -> Policy {
        Policy { entries: entries.map(|e| e.into_iter().map(|h| h.to_lowercase()).collect()) }
    }

    /// Whether an allow-list is configured (and so the address policy applies).
    pub fn enforced(&self) -> bool {
        self.entries.is_some()
    }

    /// Checks `host` (and `port`) against the allow-list: the denial message
    /// after `socket host is not allowed: `, or `Ok`.
    pub fn check(&self, host: &str, port: u16) -> Result<(), String> {
        let Some(entries) = &self.entries else { return Ok(()) };
        let host = host.to_lowercase();
        let with_port = format!("{host}:{port}");
        if entries.iter().any(|e| *e == host || *e == with_port) {
            return Ok(());
        }
        // A host allowed only on other ports: name both (DIALECT 9).
        let prefix = format!("{host}:");
        if entries.iter().any(|e| e.strip_prefix(&prefix).is_some_and(|p| p.parse::<u16>().is_ok())) {
            return Err(with_port);
        }
        Err(host)
    }

    /// Resolves `host:port` and applies the address policy when enforced.
    /// The error is the message of the operation's `*Error` kind.
    pub fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
        // The host is used as given (REFERENCE-SOCKETS §5: it is not
        // trimmed); the trimmed, unbracketed literal only decides whether
        // a sensitive address is admitted.
        let literal = parse_literal(host);
        let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => (host, port).to_socket_addrs().map_err(|e| e.to_string())?.collect(),
        };
        if addrs.is_empty() {
            return Err(format!("no socket addresses resolved for {host}:{port}"));
        }
        if self.enforced() {
            for addr in &addrs {
                let ip = addr.ip();
                if is_sensitive(ip) && literal != Some(ip) && !(is_localhost_name(host) && is_loopback(ip)) {
                    return Err(format!(
                        "socket host {host:?} resolved to restricted address {ip}; use an explicit IP literal or localhost for local/private addresses"
                    ));
                }
            }
        }
        Ok(addrs)
    }
}

fn parse_literal(host: &str) -> Option<IpAddr> {
    let h = host.trim();
    let h = h.strip_prefix('[').and_then(|x| x.strip_suffix(']')).unwrap_or(h);
    h.parse().ok()
}

fn is_localhost_name(host: &str) -> bool {
    let h = host.trim().trim_end_matches('.').to_ascii_lowercase();
    h == "localhost" || h.ends_with(".localhost")
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

fn sensitive_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64)
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        || (o[0] == 192 && o[1] == 0 && o[2] == 2)
        || (o[0] == 198 && o[1] == 51 && o[2] == 100)
        || (o[0] == 203 && o[1] == 0 && o[2] == 113)
        || (o[0] == 198 && (o[1] & 0xfe) == 18)
}

fn sensitive_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return sensitive_v4(v4);
    }
    let s = ip.segments();
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] == 0x2001 && s[1] == 0x0db8)
}

/// Whether an address is loopback, private, link-local, documentation, ...
pub fn is_sensitive(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => sensitive_v4(v4),
        IpAddr::V6(v6) => sensitive_v6(v6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_matching() {
        let p = Policy::new(Some(vec!["LocalHost".into(), "127.0.0.1:8080".into()]));
        assert!(p.check("LOCALHOST", 1).is_ok());
        assert!(p.check("127.0.0.1", 8080).is_ok());
        assert_eq!(p.check("127.0.0.1", 9999), Err("127.0.0.1:9999".into()));
        assert_eq!(p.check("Example.org", 80), Err("example.org".into()));
        assert!(Policy::new(None).check("anything", 1).is_ok());
    }

    #[test]
    fn address_policy() {
        let p = Policy::new(Some(vec!["127.0.0.1".into()]));
        assert!(p.resolve("127.0.0.1", 80).is_ok(), "a literal equal to the address is admitted");
        assert!(p.resolve("localhost", 80).is_ok(), "localhost resolving to loopback is admitted");
        assert!(is_sensitive("10.0.0.5".parse().expect("ip")));
        assert!(is_sensitive("100.64.1.1".parse().expect("ip")));
        assert!(is_sensitive("::ffff:192.168.1.1".parse().expect("ip")));
        assert!(!is_sensitive("93.184.216.34".parse().expect("ip")));
        assert!(is_sensitive("fd00::1".parse().expect("ip")));
    }
}
