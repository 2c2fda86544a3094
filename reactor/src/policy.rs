//! The host allow-list and the resolved-address policy (REFERENCE-SOCKETS
//! §2.3, §2.4; DIALECT point 9).
//!
//! Invariants:
//! * Without an allow-list every host and address is allowed.
//! * An entry is read as DIALECT 9 (a)-(c) say: a whole IPv6 address, then
//!   `[IPV6]` or `[IPV6]:PORT`, then `HOST` or `HOST:PORT`; anything else is
//!   malformed ([`parse_entry`]). The command line refuses malformed entries
//!   before a program runs; a policy built from one anyway keeps the
//!   allow-list on and the bad entry admits nothing (it fails closed).
//! * IPv6 literals, in entries and requests, bracketed or not, are compared
//!   as addresses; every other host as lower-cased text.
//! * With an allow-list, every address a host resolves to must pass
//!   [`Policy::admit`], or the whole request is refused: a connect to an
//!   unspecified address first, then the sensitive-address rule, whose
//!   literal and `localhost` exemptions look at the address as resolved and
//!   which judges an address that embeds an IPv4 address as that address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The host of an allow-list entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryHost {
    /// An IPv6 literal (bracketed or not in the entry).
    Ipv6(Ipv6Addr),
    /// Any other host, lower-cased: a name or an IPv4 literal, compared as
    /// text.
    Name(String),
}

/// One `--socket-allow-host` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub host: EntryHost,
    /// `None`: any port.
    pub port: Option<u16>,
}

/// A malformed entry, as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidEntry(pub String);

/// Characters a `HOST` entry may not contain (besides whitespace).
const NOT_IN_HOST: &[char] = &[':', '/', '\\', '*', '@', '%', '[', ']'];

/// `PORT`: 1 to 5 ASCII digits with a value from 0 to 65535.
fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Reads one allow-list entry (DIALECT 9), lower-cased.
pub fn parse_entry(entry: &str) -> Result<Entry, InvalidEntry> {
    let invalid = || InvalidEntry(entry.to_string());
    let lower = entry.to_lowercase();
    // (a) A whole IPv6 address is that host on any port (so `2001:db8::1:443`
    // is an address, not a host and a port). `Ipv6Addr` takes no zone id.
    if let Ok(ip) = lower.parse::<Ipv6Addr>() {
        return Ok(Entry { host: EntryHost::Ipv6(ip), port: None });
    }
    // (b) `[IPV6]` or `[IPV6]:PORT`, nothing else after.
    if let Some(rest) = lower.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or_else(invalid)?;
        let ip = inside.parse::<Ipv6Addr>().map_err(|_| invalid())?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').and_then(parse_port).ok_or_else(invalid)?),
        };
        return Ok(Entry { host: EntryHost::Ipv6(ip), port });
    }
    // (c) `HOST` or `HOST:PORT`, split at the only `:` (a second one makes
    // the port malformed).
    let (host, port) = match lower.split_once(':') {
        None => (lower.as_str(), None),
        Some((host, port)) => (host, Some(parse_port(port).ok_or_else(invalid)?)),
    };
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || NOT_IN_HOST.contains(&c)) {
        return Err(invalid());
    }
    Ok(Entry { host: EntryHost::Name(host.to_string()), port })
}

/// `host` without one pair of surrounding brackets.
fn unbracketed(host: &str) -> &str {
    host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host)
}

/// The IPv6 address `host` spells, bracketed or not.
pub fn ipv6_literal(host: &str) -> Option<Ipv6Addr> {
    unbracketed(host).parse().ok()
}

/// The host to resolve for a requested host: an IPv6 literal without its
/// brackets (`[::1]` connects to `::1`); any other host as given (it is not
/// trimmed, REFERENCE-SOCKETS §5).
pub fn lookup_host(host: &str) -> &str {
    if ipv6_literal(host).is_some() {
        unbracketed(host)
    } else {
        host
    }
}

/// The socket host allow-list; `None` allows everything.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    entries: Option<Vec<Entry>>,
}

impl Policy {
    /// A policy from `--socket-allow-host` values (see the module's
    /// invariants for malformed ones).
    pub fn new(entries: Option<Vec<String>>) -> Policy {
        Policy { entries: entries.map(|e| e.iter().filter_map(|h| parse_entry(h).ok()).collect()) }
    }

    /// Whether an allow-list is configured (and so the address policy applies).
    pub fn enforced(&self) -> bool {
        self.entries.is_some()
    }

    /// Checks `host` (and `port`) against the allow-list: the denial message
    /// after `socket host is not allowed: `, or `Ok`. A host allowed only on
    /// other ports is named with the port (an IPv6 host bracketed); any
    /// other denial names the lower-cased host as given.
    pub fn check(&self, host: &str, port: u16) -> Result<(), String> {
        let Some(entries) = &self.entries else { return Ok(()) };
        let lower = host.to_lowercase();
        let v6 = ipv6_literal(&lower);
        let mut other_ports = false;
        for entry in entries {
            let same_host = match (&entry.host, v6) {
                (EntryHost::Ipv6(a), Some(b)) => *a == b,
                (EntryHost::Name(name), None) => *name == lower,
                _ => false,
            };
            if same_host {
                if entry.port.is_none_or(|p| p == port) {
                    return Ok(());
                }
                other_ports = true;
            }
        }
        Err(match (other_ports, v6) {
            (false, _) => lower,
            (true, Some(_)) => format!("[{}]:{port}", unbracketed(&lower)),
            (true, None) => format!("{lower}:{port}"),
        })
    }

    /// Applies the address policy (when enforced) to the addresses `host`
    /// resolved to; `connect` refuses unspecified addresses first. The error
    /// is the message of the operation's `*Error` kind.
    pub fn admit(&self, host: &str, addrs: &[SocketAddr], connect: bool) -> Result<(), String> {
        if !self.enforced() {
            return Ok(());
        }
        if connect && addrs.iter().any(|a| is_unspecified(a.ip())) {
            // The kernel would route it to this machine, whatever the entry.
            return Err(format!(
                "socket host {:?} is an unspecified address; connect to an explicit address instead",
                host.to_lowercase()
            ));
        }
        let literal = parse_literal(host);
        for addr in addrs {
            let ip = addr.ip();
            if is_sensitive(ip) && literal != Some(ip) && !(is_localhost_name(host) && ip.is_loopback()) {
                return Err(format!(
                    "socket host {host:?} resolved to restricted address {ip}; use an explicit IP literal or localhost for local/private addresses"
                ));
            }
        }
        Ok(())
    }
}

/// The IP literal `host` spells, whitespace trimmed and brackets stripped
/// (the address policy's literal exemption).
fn parse_literal(host: &str) -> Option<IpAddr> {
    unbracketed(host.trim()).parse().ok()
}

fn is_localhost_name(host: &str) -> bool {
    let h = host.trim().trim_end_matches('.').to_ascii_lowercase();
    h == "localhost" || h.ends_with(".localhost")
}

/// `0.0.0.0`, `::` and `::ffff:0.0.0.0`.
pub fn is_unspecified(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_unspecified(),
        IpAddr::V6(v6) => v6.is_unspecified() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_unspecified()),
    }
}

/// The IPv4 address an IPv6 address embeds: IPv4-mapped `::ffff:a.b.c.d`,
/// NAT64 `64:ff9b::/96`, 6to4 `2002::/16` and IPv4-compatible `::a.b.c.d`
/// (other than `::` and `::1`).
pub fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let [a, b, c, d] = ip.octets()[12..] else { return None };
    let low = Ipv4Addr::new(a, b, c, d);
    if let Some(v4) = ip.to_ipv4_mapped() {
        Some(v4)
    } else if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        Some(low)
    } else if s[0] == 0x2002 {
        let [a, b] = s[1].to_be_bytes();
        let [c, d] = s[2].to_be_bytes();
        Some(Ipv4Addr::new(a, b, c, d))
    } else if s[..6] == [0; 6] && !ip.is_unspecified() && !ip.is_loopback() {
        Some(low)
    } else {
        None
    }
}

fn sensitive_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || o[0] == 0
        || o[0] >= 240 // 240.0.0.0/4, with the broadcast address
        || (o[0] == 100 && (o[1] & 0xc0) == 64)
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        || (o[0] == 192 && o[1] == 0 && o[2] == 2)
        || (o[0] == 198 && o[1] == 51 && o[2] == 100)
        || (o[0] == 203 && o[1] == 0 && o[2] == 113)
        || (o[0] == 198 && (o[1] & 0xfe) == 18)
}

fn sensitive_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_ipv4(ip) {
        return sensitive_v4(v4);
    }
    let s = ip.segments();
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique-local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local fec0::/10
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation 2001:db8::/32
        || (s[0] == 0x2001 && s[1] == 0) // Teredo 2001::/32
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1) // local-use NAT64 64:ff9b:1::/48
}

/// Whether an address is loopback, private, link-local, documentation, ...
/// (an address embedding an IPv4 address is judged as that address).
pub fn is_sensitive(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => sensitive_v4(v4),
        IpAddr::V6(v6) => sensitive_v6(v6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(host: &str, port: Option<u16>) -> Result<Entry, InvalidEntry> {
        Ok(Entry { host: EntryHost::Name(host.into()), port })
    }

    fn v6(ip: &str, port: Option<u16>) -> Result<Entry, InvalidEntry> {
        Ok(Entry { host: EntryHost::Ipv6(ip.parse().expect("test address")), port })
    }

    /// Every rule of DIALECT 9's entry grammar, one row each.
    #[test]
    fn entries_parse_in_the_order_of_dialect_9() {
        let bad = |e: &str| Err(InvalidEntry(e.into()));
        let table: &[(&str, Result<Entry, InvalidEntry>)] = &[
            // (c) HOST and HOST:PORT, lower-cased.
            ("127.0.0.1", name("127.0.0.1", None)),
            ("LocalHost", name("localhost", None)),
            ("127.0.0.1:8080", name("127.0.0.1", Some(8080))),
            ("example.org:0", name("example.org", Some(0))),
            ("h:65535", name("h", Some(65535))),
            ("h:00080", name("h", Some(80))),
            ("h:65536", bad("h:65536")),
            ("h:123456", bad("h:123456")),
            ("h:", bad("h:")),
            ("h:+80", bad("h:+80")),
            ("h:８０", bad("h:８０")),
            ("h:1:2", bad("h:1:2")),
            (":80", bad(":80")),
            ("", bad("")),
            ("127.0.0.0/8", bad("127.0.0.0/8")),
            ("a b", bad("a b")),
            (" localhost", bad(" localhost")),
            ("host\t", bad("host\t")),
            ("a\\b", bad("a\\b")),
            ("*.example.org", bad("*.example.org")),
            ("user@host", bad("user@host")),
            ("fe80::1%eth0", bad("fe80::1%eth0")),
            ("h%1", bad("h%1")),
            ("h]", bad("h]")),
            // (a) a whole IPv6 address, any port.
            ("::1", v6("::1", None)),
            ("2001:db8::1:443", v6("2001:db8::1:443", None)),
            ("2001:DB8::A", v6("2001:db8::a", None)),
            ("::ffff:1.2.3.4", v6("::ffff:1.2.3.4", None)),
            // (b) [IPV6] and [IPV6]:PORT, nothing else after.
            ("[::1]", v6("::1", None)),
            ("[fd00::5]:8080", v6("fd00::5", Some(8080))),
            ("[::1]:0", v6("::1", Some(0))),
            ("[::1]:", bad("[::1]:")),
            ("[::1]:65536", bad("[::1]:65536")),
            ("[::1]x", bad("[::1]x")),
            ("[::1]:80x", bad("[::1]:80x")),
            ("[::1]]", bad("[::1]]")),
            ("[::1", bad("[::1")),
            ("[127.0.0.1]", bad("[127.0.0.1]")),
            ("[localhost]:80", bad("[localhost]:80")),
            ("[fe80::1%eth0]", bad("[fe80::1%eth0]")),
            ("[]", bad("[]")),
        ];
        for (entry, want) in table {
            assert_eq!(&parse_entry(entry), want, "entry {entry:?}");
        }
    }

    fn policy(entries: &[&str]) -> Policy {
        Policy::new(Some(entries.iter().map(|e| e.to_string()).collect()))
    }

    /// A row of `matching_and_denials`: entries, host, port, the denial or Ok.
    type MatchRow<'a> = (&'a [&'a str], &'a str, u16, Result<(), &'a str>);

    /// Matching and denial texts.
    #[test]
    fn matching_and_denials() {
        let table: &[MatchRow] = &[
            (&["LocalHost"], "LOCALHOST", 1, Ok(())),
            (&["127.0.0.1:8080"], "127.0.0.1", 8080, Ok(())),
            (&["127.0.0.1:8080"], "127.0.0.1", 9999, Err("127.0.0.1:9999")),
            (&["127.0.0.1:8080"], "Example.org", 80, Err("example.org")),
            (&["h:0"], "h", 0, Ok(())),
            (&["h:0"], "h", 1, Err("h:1")),
            (&["h:1", "h:2"], "h", 2, Ok(())),
            // No DNS or IP equivalence for names and IPv4 literals.
            (&["localhost"], "127.0.0.1", 80, Err("127.0.0.1")),
            (&["127.0.0.1"], "127.000.000.001", 80, Err("127.000.000.001")),
            // IPv6 literals compare as addresses, bracketed or not.
            (&["::1"], "::1", 1, Ok(())),
            (&["::1"], "[::1]", 1, Ok(())),
            (&["[::1]"], "0:0::1", 1, Ok(())),
            (&["::1"], "::2", 1, Err("::2")),
            (&["::1"], "[::2]", 1, Err("[::2]")),
            (&["[fd00::5]:8080"], "fd00::5", 8080, Ok(())),
            (&["[fd00::5]:8080"], "fd00::5", 9090, Err("[fd00::5]:9090")),
            (&["[fd00::5]:8080"], "[FD00::5]", 9090, Err("[fd00::5]:9090")),
            (&["2001:db8::1:443"], "2001:db8::1:443", 1, Ok(())),
            (&["2001:db8::1:443"], "2001:db8::1", 443, Err("2001:db8::1")),
            // A zone id is not an address: compared (and denied) as text.
            (&["fe80::1"], "fe80::1%eth0", 1, Err("fe80::1%eth0")),
            // A malformed entry admits nothing, and the list stays on.
            (&["127.0.0.0/8"], "127.0.0.1", 1, Err("127.0.0.1")),
        ];
        for (entries, host, port, want) in table {
            let got = policy(entries).check(host, *port);
            assert_eq!(got, want.map_err(String::from), "{entries:?} against {host}:{port}");
        }
        assert!(Policy::new(None).check("anything", 1).is_ok());
        assert!(policy(&["127.0.0.0/8"]).enforced());
    }

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|ip| SocketAddr::new(ip.parse().expect("test address"), 80)).collect()
    }

    fn restricted(host: &str, ip: &str) -> String {
        format!(
            "socket host {host:?} resolved to restricted address {ip}; use an explicit IP literal or localhost for local/private addresses"
        )
    }

    fn unspecified(host: &str) -> String {
        format!("socket host {host:?} is an unspecified address; connect to an explicit address instead")
    }

    /// A row of `address_policy`: host, resolved addresses, connect?, outcome.
    type AdmitRow<'a> = (&'a str, Vec<&'a str>, bool, Result<(), String>);

    /// The address policy.
    #[test]
    fn address_policy() {
        let on = policy(&["x"]);
        let table: Vec<AdmitRow> = vec![
            // Literal and localhost exemptions.
            ("127.0.0.1", vec!["127.0.0.1"], true, Ok(())),
            (" [::1] ", vec!["::1"], true, Ok(())),
            ("localhost", vec!["127.0.0.1", "::1"], true, Ok(())),
            ("a.localhost.", vec!["127.0.0.2"], true, Ok(())),
            ("localhost", vec!["10.0.0.1"], true, Err(restricted("localhost", "10.0.0.1"))),
            ("db.internal", vec!["10.0.0.5"], true, Err(restricted("db.internal", "10.0.0.5"))),
            ("example.org", vec!["93.184.216.34"], true, Ok(())),
            ("example.org", vec!["93.184.216.34", "192.168.1.1"], true, Err(restricted("example.org", "192.168.1.1"))),
            // Unspecified addresses: refused for connects, first, in every spelling.
            ("0.0.0.0", vec!["0.0.0.0"], true, Err(unspecified("0.0.0.0"))),
            ("::", vec!["::"], true, Err(unspecified("::"))),
            ("[0:0::0]", vec!["::"], true, Err(unspecified("[0:0::0]"))),
            ("::FFFF:0.0.0.0", vec!["::ffff:0.0.0.0"], true, Err(unspecified("::ffff:0.0.0.0"))),
            ("Zero.Example", vec!["93.184.216.34", "0.0.0.0"], true, Err(unspecified("zero.example"))),
            // ... but binding them stays allowed (the literal exemption).
            ("0.0.0.0", vec!["0.0.0.0"], false, Ok(())),
            ("::", vec!["::"], false, Ok(())),
            // Embedded IPv4 addresses are judged as that address.
            ("n", vec!["64:ff9b::a00:1"], true, Err(restricted("n", "64:ff9b::a00:1"))),
            ("n", vec!["64:ff9b::5db8:d822"], true, Ok(())),
            ("n", vec!["2002:c0a8:101::1"], true, Err(restricted("n", "2002:c0a8:101::1"))),
            ("n", vec!["2002:5db8:d822::1"], true, Ok(())),
            ("n", vec!["::7f00:1"], true, Err(restricted("n", "::7f00:1"))),
            ("n", vec!["::5db8:d822"], true, Ok(())),
            ("n", vec!["::ffff:192.168.1.1"], true, Err(restricted("n", "::ffff:192.168.1.1"))),
            // More sensitive ranges.
            ("n", vec!["64:ff9b:1::5db8:d822"], true, Err(restricted("n", "64:ff9b:1::5db8:d822"))),
            ("n", vec!["2001:0:4136:e378::1"], true, Err(restricted("n", "2001:0:4136:e378::1"))),
            ("n", vec!["fec0::1"], true, Err(restricted("n", "fec0::1"))),
            ("n", vec!["240.0.0.1"], true, Err(restricted("n", "240.0.0.1"))),
            ("n", vec!["255.255.255.255"], true, Err(restricted("n", "255.255.255.255"))),
            ("n", vec!["2001:4860::8888"], true, Ok(())),
            // The exemptions look at the address as resolved, before unwrapping.
            ("64:ff9b::7f00:1", vec!["64:ff9b::7f00:1"], true, Ok(())),
            ("localhost", vec!["64:ff9b::7f00:1"], true, Err(restricted("localhost", "64:ff9b::7f00:1"))),
            ("localhost", vec!["::ffff:127.0.0.1"], true, Err(restricted("localhost", "::ffff:127.0.0.1"))),
            ("127.0.0.1", vec!["::ffff:127.0.0.1"], true, Err(restricted("127.0.0.1", "::ffff:127.0.0.1"))),
        ];
        for (host, resolved, connect, want) in table {
            assert_eq!(on.admit(host, &addrs(&resolved), connect), want, "{host} -> {resolved:?} (connect {connect})");
        }
        // Without an allow-list nothing is refused.
        assert!(Policy::default().admit("0.0.0.0", &addrs(&["0.0.0.0"]), true).is_ok());
        assert!(Policy::default().admit("n", &addrs(&["10.0.0.1"]), true).is_ok());
    }

    #[test]
    fn lookup_hosts() {
        assert_eq!(lookup_host("[::1]"), "::1");
        assert_eq!(lookup_host("::1"), "::1");
        assert_eq!(lookup_host("[127.0.0.1]"), "[127.0.0.1]");
        assert_eq!(lookup_host(" localhost"), " localhost");
    }
}
