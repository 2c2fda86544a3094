//! `allow_list`: the `--socket-allow-host` parser, the allow-list check and
//! the resolved-address policy of `rco_reactor::policy` (DIALECT 9)
//! against a model written here a second way.
//!
//! Input layout (a byte reader; missing bytes read as 0): the entry count
//! (`% 5`; 0 means no allow-list), then each entry as a length (`% 40`) and
//! that many bytes decoded lossily as UTF-8. Then requests until the input
//! ends: a port (2 bytes), a flag byte (bit 0: a connect; bit 1: take the
//! host from entry `byte % count` instead of the input, bit 2: bracket it,
//! bit 3: upper-case it), the host (length `% 40` and bytes, unless taken
//! from an entry), the number of resolved addresses (`% 4`) and each one
//! (a kind byte: even for IPv4 from 4 bytes, odd for IPv6 from 16; a kind
//! byte of 2 or 3 puts the address in a range the policy cares about, from
//! the next byte).
//!
//! Oracle: no panic; `parse_entry` accepts exactly the entries the model's
//! grammar accepts, with the same host and port; `Policy::check` gives the
//! model's answer and denial text; `Policy::admit` gives the model's answer
//! and message (the model classifies addresses by a table of CIDR ranges,
//! the code by predicates); `lookup_host` strips brackets exactly from IPv6
//! literals.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rco_reactor::policy::{lookup_host, parse_entry, Entry, EntryHost, Policy};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }

    fn text(&mut self) -> String {
        let n = usize::from(self.byte() % 40);
        String::from_utf8_lossy(&self.bytes(n)).into_owned()
    }

    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }
}

// ---------------------------------------------------------------------------
// The model

/// An entry as the model reads it.
#[derive(Debug, PartialEq)]
enum Host {
    V6(Ipv6Addr),
    Text(String),
}

fn model_port(p: &str) -> Option<u16> {
    if !(1..=5).contains(&p.len()) {
        return None;
    }
    let mut value: u32 = 0;
    for c in p.chars() {
        value = value * 10 + c.to_digit(10).filter(|_| c.is_ascii_digit())?;
    }
    u16::try_from(value).ok()
}

/// DIALECT 9 (a)-(c), read a second way.
fn model_parse(entry: &str) -> Option<(Host, Option<u16>)> {
    let l = entry.to_lowercase();
    if let Ok(a) = l.parse::<Ipv6Addr>() {
        return Some((Host::V6(a), None));
    }
    if l.starts_with('[') {
        let close = l.find(']')?;
        let a = l[1..close].parse::<Ipv6Addr>().ok()?;
        let tail = &l[close + 1..];
        if tail.is_empty() {
            return Some((Host::V6(a), None));
        }
        let port = model_port(tail.strip_prefix(':')?)?;
        return Some((Host::V6(a), Some(port)));
    }
    let parts: Vec<&str> = l.split(':').collect();
    let (host, port) = match parts.as_slice() {
        [h] => (*h, None),
        [h, p] => (*h, Some(model_port(p)?)),
        _ => return None,
    };
    let bad = |c: char| c.is_whitespace() || ":/\\*@%[]".contains(c);
    if host.is_empty() || host.chars().any(bad) {
        return None;
    }
    Some((Host::Text(host.to_string()), port))
}

/// `host` without one pair of surrounding brackets.
fn unbracket(host: &str) -> &str {
    if host.len() >= 2 && host.starts_with('[') && host.ends_with(']') {
        &host[1..host.len() - 1]
    } else {
        host
    }
}

fn v6_of(host: &str) -> Option<Ipv6Addr> {
    unbracket(host).parse().ok()
}

fn model_check(entries: &[(Host, Option<u16>)], host: &str, port: u16) -> Result<(), String> {
    let req = host.to_lowercase();
    let v6 = v6_of(&req);
    let same: Vec<Option<u16>> = entries
        .iter()
        .filter(|(h, _)| match (h, v6) {
            (Host::V6(a), Some(b)) => *a == b,
            (Host::Text(t), None) => *t == req,
            _ => false,
        })
        .map(|(_, p)| *p)
        .collect();
    if same.iter().any(|p| p.is_none() || *p == Some(port)) {
        return Ok(());
    }
    if same.is_empty() {
        return Err(req);
    }
    Err(match v6 {
        Some(_) => format!("[{}]:{port}", req.trim_start_matches('[').trim_end_matches(']')),
        None => format!("{req}:{port}"),
    })
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], bits: u32) -> bool {
    let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn in_v6(ip: Ipv6Addr, net: &str, bits: u32) -> bool {
    let net: Ipv6Addr = net.parse().expect("model range");
    let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
    u128::from(ip) & mask == u128::from(net) & mask
}

const V4_RANGES: &[([u8; 4], u32)] = &[
    ([0, 0, 0, 0], 8),
    ([10, 0, 0, 0], 8),
    ([100, 64, 0, 0], 10),
    ([127, 0, 0, 0], 8),
    ([169, 254, 0, 0], 16),
    ([172, 16, 0, 0], 12),
    ([192, 0, 0, 0], 24),
    ([192, 0, 2, 0], 24),
    ([192, 168, 0, 0], 16),
    ([198, 18, 0, 0], 15),
    ([198, 51, 100, 0], 24),
    ([203, 0, 113, 0], 24),
    ([224, 0, 0, 0], 4),
    ([240, 0, 0, 0], 4),
];

const V6_RANGES: &[(&str, u32)] = &[
    ("::", 128),
    ("::1", 128),
    ("ff00::", 8),
    ("fc00::", 7),
    ("fe80::", 10),
    ("fec0::", 10),
    ("2001:db8::", 32),
    ("2001::", 32),
    ("64:ff9b:1::", 48),
];

fn model_embedded(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let n = u128::from(ip);
    let low = Ipv4Addr::from((n & 0xffff_ffff) as u32);
    if in_v6(ip, "::ffff:0:0", 96) || in_v6(ip, "64:ff9b::", 96) {
        Some(low)
    } else if in_v6(ip, "2002::", 16) {
        Some(Ipv4Addr::from(((n >> 80) & 0xffff_ffff) as u32))
    } else if in_v6(ip, "::", 96) && n > 1 {
        Some(low)
    } else {
        None
    }
}

fn model_sensitive(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => V4_RANGES.iter().any(|(net, bits)| in_v4(v4, *net, *bits)),
        IpAddr::V6(v6) => match model_embedded(v6) {
            Some(v4) => model_sensitive(IpAddr::V4(v4)),
            None => V6_RANGES.iter().any(|(net, bits)| in_v6(v6, net, *bits)),
        },
    }
}

fn model_admit(enforced: bool, host: &str, addrs: &[SocketAddr], connect: bool) -> Result<(), String> {
    if !enforced {
        return Ok(());
    }
    let unspecified = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => u32::from(v4) == 0,
        IpAddr::V6(v6) => u128::from(v6) == 0 || u128::from(v6) == 0xffff_0000_0000,
    };
    if connect && addrs.iter().any(|a| unspecified(a.ip())) {
        return Err(format!(
            "socket host {:?} is an unspecified address; connect to an explicit address instead",
            host.to_lowercase()
        ));
    }
    let trimmed = host.trim();
    let literal: Option<IpAddr> = unbracket(trimmed).parse().ok();
    let name = trimmed.trim_end_matches('.').to_ascii_lowercase();
    let localhost = name == "localhost" || name.ends_with(".localhost");
    for a in addrs {
        let ip = a.ip();
        let loopback = match ip {
            IpAddr::V4(v4) => v4.octets()[0] == 127,
            IpAddr::V6(v6) => u128::from(v6) == 1,
        };
        if model_sensitive(ip) && literal != Some(ip) && !(localhost && loopback) {
            return Err(format!(
                "socket host {host:?} resolved to restricted address {ip}; use an explicit IP literal or localhost for local/private addresses"
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The driver

/// An address in a range the policy cares about (embedded forms included).
fn interesting(input: &mut Input) -> IpAddr {
    let pick = input.byte();
    let tail = input.bytes(4);
    let v4 = Ipv4Addr::new(tail[0], tail[1], tail[2], tail[3]);
    const FIRST: [u8; 12] = [0, 10, 100, 127, 169, 172, 192, 198, 203, 224, 240, 255];
    const BASES: [&str; 12] =
        ["::ffff:0:0", "64:ff9b::", "64:ff9b:1::", "::", "2002::", "2001::", "fec0::", "fe80::", "fc00::", "2001:db8::", "ff02::", "::1"];
    let p = usize::from(pick % 13);
    let Some(base) = BASES.get(p) else {
        return IpAddr::V4(Ipv4Addr::new(FIRST[usize::from(tail[0]) % FIRST.len()], tail[1], tail[2], tail[3]));
    };
    let net = u128::from(base.parse::<Ipv6Addr>().expect("base"));
    // 6to4 carries the IPv4 address in bits 80-111, the others in the low 32.
    let shift = if *base == "2002::" { 80 } else { 0 };
    IpAddr::V6(Ipv6Addr::from(net | (u128::from(u32::from(v4)) << shift)))
}

fn address(input: &mut Input) -> IpAddr {
    match input.byte() {
        2 | 3 => interesting(input),
        k if k % 2 == 0 => {
            let b = input.bytes(4);
            IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
        }
        _ => {
            let b: [u8; 16] = input.bytes(16).try_into().expect("16 bytes");
            IpAddr::V6(Ipv6Addr::from(b))
        }
    }
}

fn same_entry(got: &Entry, model: &(Host, Option<u16>)) -> bool {
    let host = match (&got.host, &model.0) {
        (EntryHost::Ipv6(a), Host::V6(b)) => a == b,
        (EntryHost::Name(a), Host::Text(b)) => a == b,
        _ => false,
    };
    host && got.port == model.1
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input { data, pos: 0 };
    let count = usize::from(input.byte() % 5);
    let texts: Vec<String> = (0..count).map(|_| input.text()).collect();
    let mut model = Vec::new();
    for text in &texts {
        let got = parse_entry(text);
        let want = model_parse(text);
        match (&got, &want) {
            (Ok(g), Some(w)) => assert!(same_entry(g, w), "{text:?}: parsed {g:?}, model {w:?}"),
            (Err(e), None) => assert_eq!(e.0, *text, "the error names the entry as given"),
            _ => panic!("{text:?}: parsed {got:?}, model {want:?}"),
        }
        model.extend(want);
    }
    let policy = Policy::new((count > 0).then(|| texts.clone()));
    for _ in 0..16 {
        if input.done() {
            break;
        }
        let port = u16::from_be_bytes([input.byte(), input.byte()]);
        let flags = input.byte();
        let mut host = if flags & 2 != 0 && count > 0 {
            texts[usize::from(input.byte()) % count].clone()
        } else {
            input.text()
        };
        if flags & 4 != 0 {
            host = format!("[{host}]");
        }
        if flags & 8 != 0 {
            host = host.to_uppercase();
        }
        let want = if count > 0 { model_check(&model, &host, port) } else { Ok(()) };
        assert_eq!(policy.check(&host, port), want, "check {host:?}:{port} against {texts:?}");
        let want_lookup = if v6_of(&host).is_some() { unbracket(&host) } else { &host };
        assert_eq!(lookup_host(&host), want_lookup, "lookup host of {host:?}");
        let n = usize::from(input.byte() % 4);
        let addrs: Vec<SocketAddr> = (0..n).map(|_| SocketAddr::new(address(&mut input), port)).collect();
        let connect = flags & 1 != 0;
        assert_eq!(
            policy.admit(&host, &addrs, connect),
            model_admit(count > 0, &host, &addrs, connect),
            "admit {host:?} -> {addrs:?} (connect {connect})"
        );
    }
});
