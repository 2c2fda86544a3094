//! Closed-loop WebSocket load generator for bench/ws (mirrors
//! bench/tcp/src/bin/loadgen.rs): `tungstenite` clients on non-blocking
//! sockets, one thread, one `polling` event loop (level-triggered).
//!
//! pingpong: `wsgen pingpong --addr 127.0.0.1:PORT --conns 100 --size 64
//!            --warmup 3 --duration 10 [--pid SERVER_PID] [--tls-ca CA_FILE]`
//!   Opens CONNS WebSocket connections (blocking handshakes, one after the
//!   other); each one sends a SIZE-byte text message, waits for the echo
//!   (checked), and repeats. After WARMUP s it counts, for DURATION s, the
//!   round trips and their latency, and (with --pid) the server's user and
//!   system CPU from /proc/PID/stat over exactly that window; also its own
//!   CPU (client_*_us_per_rt) to show whether the generator is saturated.
//!   Prints one JSON line.
//!
//! hold: `wsgen hold --addr 127.0.0.1:PORT --conns 2000 [--size 64] [--hold 300]`
//!   Opens CONNS connections, does one round trip on each, prints one JSON
//!   line ("held": N) and keeps them open and idle for HOLD s (or until killed).
//!
//! --tls-ca CA_FILE: `wss` instead of `ws`. Each connection runs a full TLS
//!   handshake (rustls 0.23, `ring` provider, no resumption; blocking, before
//!   the WebSocket handshake) verifying the server's certificate against the
//!   certificates of CA_FILE (PEM) for the server name = the IP of --addr;
//!   afterwards rustls is driven sans-I/O on the same loop
//!   (`rco_bench_ws::tls`). The JSON line's "tls" says what was negotiated.
//!   Handshakes (TCP, TLS, WebSocket) time out after 10 s each read or write.
//!
//! Exit status 0 on success, 1 when a connection failed or an echo was wrong.

use polling::{Event, Events, PollMode, Poller};
use rco_bench_ws::tls::{self, BenchStream};
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use tungstenite::{Error, Message, WebSocket};

struct Opts {
    mode: String,
    addr: SocketAddr,
    conns: usize,
    size: usize,
    warmup: f64,
    duration: f64,
    hold: f64,
    pid: Option<u32>,
    tls_ca: Option<String>,
}

fn parse() -> Result<Opts, String> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().ok_or("usage: wsgen pingpong|hold --addr A --conns N ...")?;
    let mut o = Opts {
        mode,
        addr: "127.0.0.1:7000".parse().map_err(|_| "addr")?,
        conns: 100,
        size: 64,
        warmup: 3.0,
        duration: 10.0,
        hold: 60.0,
        pid: None,
        tls_ca: None,
    };
    while let Some(flag) = args.next() {
        let v = args.next().ok_or(format!("{flag} needs a value"))?;
        let bad = || format!("bad value for {flag}: {v}");
        match flag.as_str() {
            "--addr" => o.addr = v.parse().map_err(|_| bad())?,
            "--conns" => o.conns = v.parse().map_err(|_| bad())?,
            "--size" => o.size = v.parse().map_err(|_| bad())?,
            "--warmup" => o.warmup = v.parse().map_err(|_| bad())?,
            "--duration" => o.duration = v.parse().map_err(|_| bad())?,
            "--hold" => o.hold = v.parse().map_err(|_| bad())?,
            "--pid" => o.pid = Some(v.parse().map_err(|_| bad())?),
            "--tls-ca" => o.tls_ca = Some(v),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if o.size == 0 || o.conns == 0 {
        return Err("--size and --conns must be positive".into());
    }
    Ok(o)
}

fn cpu_ticks(pid: &str) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some((f.get(11)?.parse().ok()?, f.get(12)?.parse().ok()?))
}

fn would_block(e: &Error) -> bool {
    matches!(e, Error::Io(io) if io.kind() == io::ErrorKind::WouldBlock)
}

struct Conn<S> {
    ws: WebSocket<S>,
    sent_at: Instant,
    alive: bool,
    want_write: bool,
}

struct Gen<S: BenchStream> {
    poller: Poller,
    conns: Vec<Conn<S>>,
    tls_info: Option<String>,
    msg: String,
    bad_echo: u64,
    failed: u64,
    repeat: bool,
}

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A handshake read or write that hit HANDSHAKE_TIMEOUT says so.
fn timed_out(e: io::Error) -> io::Error {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => io::Error::other("no answer within 10 s"),
        _ => e,
    }
}

impl<S: BenchStream> Gen<S> {
    /// `dial` turns a connected blocking socket into the stream (plain, or
    /// TLS with its handshake done).
    fn connect(addr: SocketAddr, n: usize, size: usize, scheme: &str, dial: impl Fn(TcpStream) -> io::Result<S>) -> io::Result<Gen<S>> {
        let poller = Poller::new()?;
        let msg: String = (0..size).map(|i| (b'a' + (i % 26) as u8) as char).collect();
        let url = format!("{scheme}://{addr}/echo");
        let mut conns = Vec::with_capacity(n);
        let mut tls_info = None;
        for key in 0..n {
            let stream = TcpStream::connect_timeout(&addr, HANDSHAKE_TIMEOUT)?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
            stream.set_write_timeout(Some(HANDSHAKE_TIMEOUT))?;
            let stream = dial(stream).map_err(|e| io::Error::other(format!("TLS handshake {key}: {}", timed_out(e))))?;
            let config = tungstenite::protocol::WebSocketConfig::default().read_buffer_size(4096);
            let (ws, _) = tungstenite::client::client_with_config(url.as_str(), stream, Some(config)).map_err(|e| {
                let e = match e {
                    // A blocking socket's read timeout (WouldBlock) interrupts the handshake.
                    tungstenite::HandshakeError::Interrupted(_) => "no answer within 10 s".to_string(),
                    tungstenite::HandshakeError::Failure(Error::Io(e)) => timed_out(e).to_string(),
                    e => e.to_string(),
                };
                io::Error::other(format!("handshake {key}: {e}"))
            })?;
            ws.get_ref().tcp().set_read_timeout(None)?;
            ws.get_ref().tcp().set_write_timeout(None)?;
            ws.get_ref().tcp().set_nonblocking(true)?;
            if key == 0 {
                tls_info = ws.get_ref().tls_info();
            }
            // SAFETY: deleted from the poller (Gen::drop / kill) before it is closed.
            unsafe { poller.add_with_mode(ws.get_ref().tcp(), Event::readable(key), PollMode::Level)? };
            conns.push(Conn { ws, sent_at: Instant::now(), alive: true, want_write: false });
        }
        Ok(Gen { poller, conns, tls_info, msg, bad_echo: 0, failed: 0, repeat: true })
    }

    fn tls_json(&self) -> String {
        match &self.tls_info {
            Some(t) => format!("\"{t}\""),
            None => "null".into(),
        }
    }

    fn kill(&mut self, key: usize) {
        let c = &mut self.conns[key];
        if c.alive {
            c.alive = false;
            self.failed += 1;
            let _ = self.poller.delete(c.ws.get_ref().tcp());
        }
    }

    fn set_write(&mut self, key: usize, want: bool) {
        let c = &mut self.conns[key];
        if want != c.want_write {
            c.want_write = want;
            let ev = if want { Event::all(key) } else { Event::readable(key) };
            let _ = self.poller.modify_with_mode(c.ws.get_ref().tcp(), ev, PollMode::Level);
        }
    }

    fn send(&mut self, key: usize) {
        let m = Message::Text(self.msg.clone().into());
        let c = &mut self.conns[key];
        c.sent_at = Instant::now();
        match c.ws.send(m) {
            Ok(()) => self.set_write(key, false),
            Err(e) if would_block(&e) => self.set_write(key, true),
            Err(_) => self.kill(key),
        }
    }

    fn on_event(&mut self, key: usize, readable: bool, writable: bool, done: &mut impl FnMut(u64)) {
        if !self.conns[key].alive {
            return;
        }
        if writable && self.conns[key].want_write {
            match self.conns[key].ws.flush() {
                Ok(()) => self.set_write(key, false),
                Err(e) if would_block(&e) => {}
                Err(_) => return self.kill(key),
            }
        }
        if !readable {
            return;
        }
        loop {
            let c = &mut self.conns[key];
            match c.ws.read() {
                Ok(Message::Text(s)) => {
                    if s != self.msg {
                        self.bad_echo += 1;
                    }
                    done(c.sent_at.elapsed().as_micros() as u64);
                    if self.repeat {
                        self.send(key);
                        if !self.conns[key].alive {
                            return;
                        }
                    }
                }
                Ok(Message::Binary(_)) => self.bad_echo += 1,
                Ok(_) => {}
                Err(e) if would_block(&e) => {
                    // TLS records produced by the read (alerts, key updates).
                    if self.conns[key].ws.get_ref().pending_write() {
                        self.set_write(key, true);
                    }
                    return;
                }
                Err(_) => return self.kill(key),
            }
        }
    }

    fn alive(&self) -> usize {
        self.conns.iter().filter(|c| c.alive).count()
    }
}

impl<S: BenchStream> Drop for Gen<S> {
    fn drop(&mut self) {
        for c in &self.conns {
            if c.alive {
                let _ = self.poller.delete(c.ws.get_ref().tcp());
            }
        }
    }
}

fn percentile(hist: &[u64], total: u64, p: f64) -> usize {
    let want = ((total as f64) * p).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (us, &n) in hist.iter().enumerate() {
        seen += n;
        if seen >= want {
            return us;
        }
    }
    hist.len() - 1
}

fn pingpong<S: BenchStream>(o: &Opts, mut g: impl FnMut() -> io::Result<Gen<S>>) -> io::Result<bool> {
    let t_connect = Instant::now();
    let mut g = g()?;
    let connect_s = t_connect.elapsed().as_secs_f64();
    for key in 0..o.conns {
        g.send(key);
    }
    let pid = o.pid.map(|p| p.to_string());
    let start = Instant::now();
    let warm_end = start + Duration::from_secs_f64(o.warmup);
    let end = warm_end + Duration::from_secs_f64(o.duration);
    let mut measuring = false;
    let mut hist = vec![0u64; 1_000_001];
    let mut count = 0u64;
    let mut before = (0, 0);
    let mut me_before = (0, 0);
    let mut t0 = start;
    let mut events = Events::new();
    loop {
        let now = Instant::now();
        if !measuring && now >= warm_end {
            measuring = true;
            t0 = now;
            before = pid.as_deref().and_then(cpu_ticks).unwrap_or((0, 0));
            me_before = cpu_ticks("self").unwrap_or((0, 0));
        }
        if now >= end {
            break;
        }
        events.clear();
        g.poller.wait(&mut events, Some(Duration::from_millis(20)))?;
        let mut record = |us: u64| {
            if measuring {
                hist[us.min(1_000_000) as usize] += 1;
                count += 1;
            }
        };
        for ev in events.iter() {
            g.on_event(ev.key, ev.readable, ev.writable, &mut record);
        }
        if g.alive() == 0 {
            break;
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let after = pid.as_deref().and_then(cpu_ticks).unwrap_or((0, 0));
    let me_after = cpu_ticks("self").unwrap_or((0, 0));
    let user_us = (after.0 - before.0) as f64 * 10_000.0;
    let sys_us = (after.1 - before.1) as f64 * 10_000.0;
    let per = |x: f64| if count > 0 { x / count as f64 } else { 0.0 };
    let me_user = (me_after.0 - me_before.0) as f64 * 10_000.0;
    let me_sys = (me_after.1 - me_before.1) as f64 * 10_000.0;
    println!(
        "{{\"mode\":\"pingpong\",\"conns\":{},\"size\":{},\"connect_s\":{:.3},\"secs\":{:.3},\"round_trips\":{},\"rt_per_s\":{:.0},\
\"server_user_us\":{:.0},\"server_sys_us\":{:.0},\"user_us_per_rt\":{:.3},\"sys_us_per_rt\":{:.3},\
\"p50_us\":{},\"p99_us\":{},\"max_us\":{},\"client_user_us_per_rt\":{:.3},\"client_sys_us_per_rt\":{:.3},\"client_cpu\":{:.2},\"alive\":{},\"failed\":{},\"bad_echo\":{},\"tls\":{}}}",
        o.conns,
        o.size,
        connect_s,
        secs,
        count,
        count as f64 / secs,
        user_us,
        sys_us,
        per(user_us),
        per(sys_us),
        percentile(&hist, count, 0.50),
        percentile(&hist, count, 0.99),
        hist.iter().rposition(|&n| n > 0).unwrap_or(0),
        per(me_user),
        per(me_sys),
        (me_user + me_sys) / 1e6 / secs,
        g.alive(),
        g.failed,
        g.bad_echo,
        g.tls_json(),
    );
    Ok(g.failed == 0 && g.bad_echo == 0 && count > 0)
}

fn hold<S: BenchStream>(o: &Opts, mut g: impl FnMut() -> io::Result<Gen<S>>) -> io::Result<bool> {
    let t_connect = Instant::now();
    let mut g = g()?;
    let connect_s = t_connect.elapsed().as_secs_f64();
    g.repeat = false;
    for key in 0..o.conns {
        g.send(key);
    }
    let mut n_echoed = 0usize;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut events = Events::new();
    while n_echoed < g.alive() && Instant::now() < deadline {
        events.clear();
        g.poller.wait(&mut events, Some(Duration::from_millis(50)))?;
        for ev in events.iter() {
            g.on_event(ev.key, ev.readable, ev.writable, &mut |_| n_echoed += 1);
        }
    }
    println!(
        "{{\"mode\":\"hold\",\"conns\":{},\"connect_s\":{:.3},\"held\":{},\"echoed\":{},\"failed\":{},\"bad_echo\":{},\"tls\":{}}}",
        o.conns,
        connect_s,
        g.alive(),
        n_echoed,
        g.failed,
        g.bad_echo,
        g.tls_json()
    );
    io::stdout().flush()?;
    std::thread::sleep(Duration::from_secs_f64(o.hold));
    Ok(g.failed == 0 && g.bad_echo == 0 && n_echoed == o.conns)
}

fn main() {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("wsgen: {e}");
            std::process::exit(2);
        }
    };
    let r = match &o.tls_ca {
        None => {
            let g = || Gen::connect(o.addr, o.conns, o.size, "ws", Ok);
            if o.mode == "hold" { hold(&o, g) } else { pingpong(&o, g) }
        }
        Some(ca) => tls::client_config(ca).and_then(|config| {
            let name = rustls::pki_types::ServerName::IpAddress(o.addr.ip().into());
            let g = || Gen::connect(o.addr, o.conns, o.size, "wss", |s| tls::client_handshake(&config, name.clone(), s));
            if o.mode == "hold" { hold(&o, g) } else { pingpong(&o, g) }
        }),
    };
    match r {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("wsgen: {e}");
            std::process::exit(1);
        }
    }
}
