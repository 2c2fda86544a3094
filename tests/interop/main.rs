//! Interop: rco talking TCP to peers that are not rco (Python's stdlib
//! `socket`/`socketserver`), on loopback only, every wait bounded.
//!
//! * `echo_server_*`: `echo_server.rco` (accept loop, a task per
//!   connection, line echo until EOF) driven by `echo_client.py` (several
//!   concurrent connections, fragmented and pipelined lines, a 256 KiB line,
//!   half-close), over IPv4 and IPv6 loopback.
//! * `rco_client_*`: `client.rco` against `line_server.py`: request/response,
//!   concurrent client tasks, a large read and a large write under
//!   backpressure, EOF when the server closes (also while waiting), writing
//!   to a peer that has gone.
//! * `a_burst_of_connections_*`: `burst_server.rco` accepting 600
//!   connections that `burst_client.py` opens one after another, each
//!   within a second (no SYN retransmit).
//! * `peer_reset_*`: peers that reset (SO_LINGER 0): reads give an error
//!   Result or EOF, writes an error Result; no panic, no hang.
//!
//! Each test is skipped with a note when `python3` is missing.

mod support;

use std::net::TcpListener;
use std::time::Duration;
use support::{python, rco, run, Running};

const SERVER_START: Duration = Duration::from_secs(10);
const RUN_LIMIT: Duration = Duration::from_secs(60);

fn ipv6_loopback_available() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

/// Whether the command `name` runs (`name --version` succeeds).
fn tool_available(name: &str) -> bool {
    std::process::Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Two CPUs this process may run on (`taskset -cp`: "pid N's current
/// affinity list: 0-3,6"), or `None` without `taskset` or a second CPU.
fn two_allowed_cpus() -> Option<[String; 2]> {
    let out = std::process::Command::new("taskset").args(["-cp", &std::process::id().to_string()]).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let list = text.rsplit(':').next()?.trim();
    let mut cpus = list.split(',').flat_map(|part| {
        let (first, last) = part.split_once('-').unwrap_or((part, part));
        let (first, last): (u32, u32) = (first.parse().unwrap_or(1), last.parse().unwrap_or(0));
        first..=last
    });
    Some([cpus.next()?.to_string(), cpus.next()?.to_string()])
}

/// The value of `key` on the line of `text` that starts with `prefix`.
fn line_with<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{text}"))
}

fn echo_server_round(host: &str, workers: usize) {
    let Some(mut py) = python() else { return };
    let connections = (workers + 1).to_string();
    let mut server = Running::start(
        rco().args(["run", "--allow-sockets", "echo_server.rco", &connections, host]),
        "rco echo_server.rco",
    );
    let port = server.port(SERVER_START);
    let client =
        run(py.args(["echo_client.py", &port.to_string(), &workers.to_string(), host]), "echo_client.py", RUN_LIMIT);
    let served = server.finish(RUN_LIMIT);
    client.assert_success(&format!("echo_client.py (rco side: {served:#?})"));
    served.assert_success("rco echo_server.rco");
    assert_eq!(served.stderr, "", "no leak notes, no stack note, no panic");

    // What the client says the server must have seen.
    let expect = line_with(&client.stdout, "expect ");
    let field = |name: &str| {
        expect
            .split(' ')
            .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
            .unwrap_or_else(|| panic!("no {name} in {expect:?}"))
            .to_string()
    };
    let out = &served.stdout;
    assert_eq!(
        line_with(out, "served "),
        format!("{connections} lines {} bytes {}", field("lines"), field("bytes")),
        "server summary\n{out}"
    );
    // The partial last lines could not be echoed (EOF drops the stream):
    // the server reports each of them instead.
    let mut partials: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("partial ")).collect();
    partials.sort_unstable();
    assert_eq!(partials.join(","), field("partials"), "{out}");
    assert_eq!(line_with(out, "partials "), workers.to_string(), "{out}");
    assert_eq!(line_with(out, "peers on host "), "true", "accepted host is the peer IP\n{out}");
    assert_eq!(line_with(out, "odd endings "), "[]", "every connection ended by EOF\n{out}");
    assert_eq!(line_with(out, "connections left "), "0 listeners left 0", "{out}");
}

#[test]
fn echo_server_with_concurrent_python_clients() {
    echo_server_round("127.0.0.1", 8);
}

#[test]
fn echo_server_over_ipv6_loopback() {
    if !ipv6_loopback_available() {
        eprintln!("note: no IPv6 loopback (::1); skipping");
        return;
    }
    echo_server_round("::1", 3);
}

/// Starts `line_server.py` (or skips) and returns it with its port.
fn line_server(mode: &str) -> Option<(Running, String)> {
    let mut py = python()?;
    let mut server = Running::start(py.args(["line_server.py", mode]), "line_server.py");
    let port = server.port(SERVER_START);
    Some((server, port.to_string()))
}

#[test]
fn rco_client_against_python_server() {
    let Some((server, port)) = line_server("lines") else { return };
    let client = run(rco().args(["run", "--allow-sockets", "client.rco", &port]), "rco client.rco", RUN_LIMIT);
    let server = server.stop();
    client.assert_success(&format!("rco client.rco (server: {server:#?})"));
    let want = std::fs::read_to_string(support::dir().join("client.out")).expect("client.out");
    assert_eq!(client.stdout, want, "stdout of client.rco\n--- stderr\n{}", client.stderr);
    assert_eq!(client.stderr, "");
    assert_eq!(server.stderr, "", "line_server.py reported an error");
}

/// Checks `line` of `out` is one of `allowed`.
fn one_of(out: &str, prefix: &str, allowed: &[&str]) {
    let got = line_with(out, prefix);
    assert!(allowed.contains(&got), "{prefix}{got:?} is not one of {allowed:?}\n{out}");
}

#[test]
fn peer_reset_seen_by_rco_client() {
    let Some((server, port)) = line_server("lines") else { return };
    let client =
        run(rco().args(["run", "--allow-sockets", "reset_client.rco", &port]), "rco reset_client.rco", RUN_LIMIT);
    drop(server.stop());
    client.assert_success("rco reset_client.rco");
    assert!(!client.stderr.contains("panicked"), "{}", client.stderr);
    assert_eq!(client.stderr, "");
    let out = &client.stdout;
    let read_outcomes = ["error TcpSocketError", "eof"];
    one_of(out, "immediate reset ", &read_outcomes);
    one_of(out, "immediate status consistent ", &["true"]);
    one_of(out, "immediate read again ", &["TcpSocketClosed"]);
    one_of(out, "immediate write again ", &["TcpSocketClosed"]);
    one_of(out, "immediate closed and released ", &["true"]);
    one_of(out, "waiting reset ", &read_outcomes);
    one_of(out, "waiting reset woke early ", &["true"]);
    one_of(out, "waiting status consistent ", &["true"]);
    one_of(out, "waiting closed and released ", &["true"]);
    one_of(out, "data then reset ", &read_outcomes);
    one_of(out, "data then reset bytes_read ok ", &["true"]);
    one_of(out, "data then reset closed and released ", &["true"]);
    one_of(out, "write after reset ", &["TcpSocketError"]);
    one_of(out, "write after reset status ", &["failed"]);
    one_of(out, "write after reset closed and released ", &["true"]);
    one_of(out, "connections left ", &["0"]);
}

#[test]
fn peer_reset_seen_by_rco_server() {
    let Some(mut py) = python() else { return };
    let mut server = Running::start(rco().args(["run", "--allow-sockets", "reset_server.rco"]), "rco reset_server.rco");
    let port = server.port(SERVER_START);
    let client = run(py.args(["reset_client.py", &port.to_string()]), "reset_client.py", RUN_LIMIT);
    let served = server.finish(RUN_LIMIT);
    client.assert_success("reset_client.py");
    served.assert_success("rco reset_server.rco");
    assert_eq!(served.stderr, "");
    let out = &served.stdout;
    // The line sent before the reset may be read first, or lost with it.
    one_of(
        out,
        "A ",
        &["error TcpSocketError data=hello", "error TcpSocketError data=", "eof data=hello", "eof data="],
    );
    one_of(out, "A closed and released ", &["true"]);
    one_of(out, "B ", &["error TcpSocketError data=", "eof data="]);
    one_of(out, "B woke early ", &["true"]);
    one_of(out, "B closed and released ", &["true"]);
    one_of(out, "C write ", &["TcpSocketError"]);
    one_of(out, "C closed and released ", &["true"]);
    one_of(out, "connections left ", &["0"]);
}

/// Runs `rco run --allow-sockets SCRIPT ARGS...` through `sh -c` after
/// `ulimits` (shell `ulimit` commands), killing it after `limit`.
fn rco_with_limits(ulimits: &str, script_and_args: &[&str], limit: Duration) -> support::Finished {
    let rco = env!("CARGO_BIN_EXE_rco");
    let mut cmd = std::process::Command::new("sh");
    cmd.current_dir(support::dir())
        .arg("-c")
        .arg(format!("{ulimits}; exec \"$0\" run --allow-sockets \"$@\""))
        .arg(rco)
        .args(script_and_args);
    run(&mut cmd, "rco under ulimit", limit)
}

/// Soft and hard open-file limits of this process.
fn nofile_limits() -> Option<(u64, u64)> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut numbers = line.split_whitespace().filter_map(|w| w.parse().ok());
    Some((numbers.next()?, numbers.next()?))
}

/// Running out of descriptors (hard limit 100, which rco cannot raise)
/// gives error Results on connect and accept; freeing some makes both work
/// again.
#[test]
fn descriptor_exhaustion_is_an_error_result() {
    let ran = rco_with_limits("ulimit -n 100", &["fd_exhaustion.rco", "120"], RUN_LIMIT);
    ran.assert_success("fd_exhaustion.rco");
    assert_eq!(ran.stderr, "");
    let want = "some connected true\n\
                some failed true\n\
                first failure TcpSocketError Too many open files (os error 24)\n\
                accept without descriptors SocketAcceptError\n\
                listener still listening listening\n\
                accept after freeing true\n\
                connections left 0\n\
                connect after release true\n";
    assert_eq!(ran.stdout, want);
}

fn scale_expectation(clients: u64, messages: u64) -> String {
    let bytes: usize = (0..clients).flat_map(|n| (0..messages).map(move |i| format!("c{n} m{i}\n").len())).sum();
    format!(
        "clients {clients}\nechoes {}\nchecksum {}\nserver bytes {bytes}\nconnections left 0\n",
        clients * messages,
        clients * (clients - 1) / 2
    )
}

/// DIALECT 7: the runtime raises its soft open-file limit to the hard limit.
/// With the soft limit at 256, 300 clients need more than 600 descriptors.
#[test]
fn runtime_raises_the_soft_descriptor_limit() {
    match nofile_limits() {
        Some((_, hard)) if hard >= 2048 => {}
        other => {
            eprintln!("note: hard open-file limit {other:?} too low to tell; skipping");
            return;
        }
    }
    let ran = rco_with_limits("ulimit -S -n 256", &["scale.rco", "300", "3"], RUN_LIMIT);
    ran.assert_success("scale.rco 300 3 with a soft limit of 256");
    assert_eq!(ran.stdout, scale_expectation(300, 3));
    assert_eq!(ran.stderr, "");
}

/// Scale: 2,000 concurrent connections in one script (4,000 sockets), each
/// client echoing 10 lines through its own server task. About 3-5 s here.
#[test]
fn scale_two_thousand_concurrent_connections() {
    let Some((_, hard)) = nofile_limits() else {
        eprintln!("note: no /proc/self/limits; skipping");
        return;
    };
    if hard < 4200 {
        eprintln!("note: hard open-file limit {hard} is below the 4,200 this needs; skipping");
        return;
    }
    // The runtime raises the soft limit itself (checked above); the test
    // does it too so that this measures scale only.
    let ran =
        rco_with_limits("ulimit -S -n \"$(ulimit -H -n)\"", &["scale.rco", "2000", "10"], Duration::from_secs(120));
    ran.assert_success("scale.rco 2000 10");
    assert_eq!(ran.stdout, scale_expectation(2000, 10));
    assert_eq!(ran.stderr, "");
    eprintln!("scale.rco 2000 10 took {:?}", ran.elapsed);
}

// Regression: 1,000 connections opened one after another took 2 s, two of
// them waiting a second each for a SYN retransmit: the listen backlog was
// std's 128, and the kernel's descriptor table, doubling at the 256th and
// 512th descriptor of a process with threads, stalled `accept` for an RCU
// grace period meanwhile. The backlog is now 4,096 and the table is sized
// at start: no connect waits for a retransmit (which takes a second). As
// in the benchmark, the server runs on one CPU and the client on another
// (`taskset`; skipped without it, without two CPUs or without python3).
#[test]
fn a_burst_of_connections_is_accepted_without_retransmits() {
    const CONNECTIONS: &str = "600";
    let Some(_) = python() else { return };
    let Some([server_cpu, client_cpu]) = two_allowed_cpus() else {
        eprintln!("note: needs two CPUs and taskset; skipping");
        return;
    };
    let mut server = Running::start(
        support::rco_under(&["taskset", "-c", &server_cpu]).args([
            "run",
            "--allow-sockets",
            "burst_server.rco",
            CONNECTIONS,
        ]),
        "rco burst_server.rco",
    );
    let port = server.port(SERVER_START).to_string();
    let mut client = std::process::Command::new("taskset");
    client.current_dir(support::dir()).args(["-c", &client_cpu, "python3", "burst_client.py", &port, CONNECTIONS]);
    let client = run(&mut client, "burst_client.py", RUN_LIMIT);
    let served = server.finish(RUN_LIMIT);
    client.assert_success("burst_client.py");
    served.assert_success("rco burst_server.rco");
    assert_eq!(served.stdout.lines().last(), Some(format!("served {CONNECTIONS}").as_str()), "{}", served.stdout);
    let slowest: u64 = line_with(&client.stdout, "slowest ").parse().expect("milliseconds");
    assert!(slowest < 900, "a connect took {slowest} ms: a SYN was retransmitted");
}

// Regression: tcp_write's 10 s timeout once was a deadline for the whole
// write, so a 12 MB write to a peer reading about 0.8 MB/s failed after 10 s.
// Like the reference's blocking socket with a write timeout (REFERENCE-SOCKETS
// §6 tcp_write), it now fires only after 10 s without progress.
#[test]
fn slow_but_steady_reader_does_not_time_out_a_long_write() {
    let Some((server, port)) = line_server("lines") else { return };
    let ran = run(rco().args(["run", "--allow-sockets", "slow_writer.rco", &port]), "rco slow_writer.rco", RUN_LIMIT);
    drop(server.stop());
    ran.assert_success("slow_writer.rco");
    let out = &ran.stdout;
    one_of(out, "write ok ", &["true"]);
    assert!(line_with(out, "reply ").starts_with("GOT 12000000 OK "), "{out}");
    one_of(out, "status ", &["connected"]);
}

// Regression: tcp_connect used to connect on a helper thread each; when that
// thread could not be created (here RLIMIT_NPROC for an unprivileged user),
// the reply was dropped and the task waited forever. Connects now need no
// thread at all (only host names resolve on one, and a failure to start it
// is an error Result): 300 concurrent connects under a 40-thread limit must
// each get their Result. Needs root, prlimit and setpriv; skipped otherwise.
#[test]
fn connect_without_a_thread_to_spare_answers() {
    let tools = ["prlimit", "setpriv"].into_iter().all(tool_available);
    let root = std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")));
    if !tools || !root {
        eprintln!("note: needs root, prlimit and setpriv; skipping");
        return;
    }
    let mut cmd = support::rco_under(&[
        "prlimit",
        "--nproc=40:40",
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ]);
    let ran = run(
        cmd.args(["run", "--allow-sockets", "slow_connects.rco"]),
        "rco slow_connects.rco as nobody",
        Duration::from_secs(30),
    );
    ran.assert_success("slow_connects.rco with few threads to spare");
    assert!(ran.stdout.contains("failed "), "{}", ran.stdout);
}

// Regression: hosts were trimmed and bracket-stripped before use, so
// " 127.0.0.1" and "[127.0.0.1]" connected and bound. REFERENCE-SOCKETS §5:
// the host is not trimmed for the actual use (only the address policy's
// literal check trims, §2.4), so such hosts fail to resolve.
#[test]
fn hosts_are_resolved_as_given() {
    let ran = run(rco().args(["run", "--allow-sockets", "host_as_given.rco"]), "rco host_as_given.rco", RUN_LIMIT);
    ran.assert_success("host_as_given.rco");
    assert_eq!(
        ran.stdout,
        "connect leading space: TcpSocketError\n\
         connect trailing space: TcpSocketError\n\
         connect brackets: TcpSocketError\n\
         listen leading space: TcpListenerError\n"
    );
}

/// DIALECT 14 against a peer that splits characters on purpose
/// (`utf8_peer.py`): half a character then a pause, an end of stream and a
/// reset; and an echo of "a" + "é" * 50000 through 7-byte chunks, which
/// came back with U+FFFD where chunks split characters.
#[test]
fn chunks_never_split_a_character() {
    let Some(mut py) = python() else { return };
    let mut server = Running::start(py.args(["utf8_peer.py"]), "utf8_peer.py");
    let port = server.port(SERVER_START);
    let client =
        run(rco().args(["run", "--allow-sockets", "utf8_client.rco", &port.to_string()]), "utf8_client.rco", RUN_LIMIT);
    let server = server.stop();
    client.assert_success(&format!("rco utf8_client.rco (server: {server:#?})"));
    assert_eq!(client.stderr, "");
    let out = &client.stdout;
    one_of(out, "pause 1: ", &["\"a\" 1 connected"]);
    one_of(out, "pause 2: ", &["\"\" 0 connected"]);
    one_of(out, "pause 3: ", &["\"é\\n\" 3 connected"]);
    one_of(out, "pause bytes_read: ", &["4"]);
    one_of(out, "close 1: ", &["\"x\" 1 connected"]);
    one_of(out, "close 2: ", &["\"\u{fffd}\" 2 connected"]);
    one_of(out, "close 3: ", &["\"\" 0 closed"]);
    one_of(out, "close bytes_read: ", &["3"]);
    // The byte is kept by a waiting read before the reset comes; a read
    // delayed past the reset may find only the reset.
    one_of(out, "reset 1: ", &["\"\u{fffd}\" 1 connected", "error TcpSocketError"]);
    one_of(out, "reset 2: ", &["error TcpSocketError", "error TcpSocketClosed"]);
    one_of(out, "reset status: ", &["failed"]);
    one_of(out, "echo: ", &["SAME"]);
}

/// Seconds of user plus system time in a line of bash's `times` output
/// (`0m0.052s 0m0.020s`).
fn cpu_seconds(line: &str) -> f64 {
    line.split_whitespace()
        .filter_map(|t| {
            let (m, s) = t.strip_suffix('s')?.split_once('m')?;
            Some(m.parse::<f64>().ok()? * 60.0 + s.parse::<f64>().ok()?)
        })
        .sum()
}

/// DIALECT 8: out of descriptors, a WebSocket listener's OS accept error is
/// the next `ws_accept`'s error Result, the reactor backs off instead of
/// spinning (the second of waiting costs next to no CPU), and the waiting
/// client is accepted once descriptors are free.
#[test]
fn websocket_accept_out_of_descriptors_backs_off() {
    let rco = env!("CARGO_BIN_EXE_rco");
    let mut cmd = std::process::Command::new("bash");
    cmd.current_dir(support::dir())
        .arg("-c")
        .arg("ulimit -n 100; \"$0\" run --allow-sockets ws_fd_exhaustion.rco 120; status=$?; times; exit $status")
        .arg(rco);
    let ran = run(&mut cmd, "rco ws_fd_exhaustion.rco under ulimit", RUN_LIMIT);
    ran.assert_success("ws_fd_exhaustion.rco");
    assert_eq!(ran.stderr, "");
    let lines: Vec<&str> = ran.stdout.lines().collect();
    let (script, times) = lines.split_at(lines.len().saturating_sub(2));
    assert_eq!(
        script.join("\n"),
        "filled true\n\
         accept without descriptors SocketAcceptError\n\
         listener still listening listening\n\
         accepted after freeing true\n\
         errors before it at most one true\n\
         message through\n\
         client connected"
    );
    let cpu = cpu_seconds(times.last().copied().unwrap_or(""));
    assert!(cpu < 0.5, "rco used {cpu} s of CPU, most of it waiting for descriptors");
}
