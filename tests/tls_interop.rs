//! TLS interop (DIALECT 15): rco's `wss://` and TLS TCP against peers that
//! are not rco (Python's `ssl` module and the `websockets` library over
//! TLS), on loopback only, every wait bounded. Certificates are made at
//! test time with `rcgen` (see `Certs` in tests/tls_interop/support.rs);
//! rco trusts the test CA through `SSL_CERT_FILE`, Python through
//! `ssl.create_default_context(cafile=...)`. Scripts and peers live in
//! tests/tls_interop/.
//!
//! * `rco_wss_client_against_python_server`: `wss_rco_client.rco`
//!   (`ws_connect "wss://..."`) against `wss_py_server.py` (websockets over
//!   TLS), once to `wss://127.0.0.1` (no server name sent), once to
//!   `wss://localhost` (server name `localhost`): the snapshot, text both
//!   ways, a close by the server (read as `close` with its reason) and a
//!   close by `ws_close`.
//! * `python_wss_client_against_rco_server`: `wss_py_client.py` against
//!   `wss_rco_server.rco` (`ws_listen` with `tls_cert_file`/`tls_key_file`,
//!   `ws_accept`): the accepted `url` starts with `wss://` (it is the
//!   listener's address), text both ways, 100 KB in and 200 KB out, a close
//!   by Python; a plaintext `ws://` client is refused (`ws_accept` gives a
//!   `WebSocketListenerError` with `TLS handshake failed: `) and the next
//!   TLS client is served; a close by `ws_close`.
//! * `rco_tls_client_against_python_server`: `tcp_rco_client.rco`
//!   (`tcp_connect` with `tls` true) against `tcp_py_server.py` (a line
//!   server on Python's `ssl`): request/response, byte counters that count
//!   application data, non-ASCII text, a 100,000-byte answer and a
//!   300,000-byte write, the server's close_notify and a hang-up without
//!   one (both an end of stream, status `closed`, no error), a name as host,
//!   four concurrent TLS clients in tasks.
//! * `python_tls_client_against_rco_server`: `tcp_py_client.py` (Python's
//!   `ssl`) against `tcp_rco_server.rco` (`tcp_listen` with
//!   `tls_cert_file`/`tls_key_file`, `tcp_accept`, `tcp_read`/`tcp_write`):
//!   line echo with a 50,000-byte line and lines split across writes, the
//!   client's close_notify read as an end of stream; a client that does not
//!   trust rco's certificate makes `tcp_accept` give `TcpListenerError`
//!   with `TLS handshake failed: `; rco writing first and closing first.
//! * `untrusted_wrong_name_and_expired_certificates_are_refused`:
//!   `refused.rco` (`tcp_connect` with `tls` and `ws_connect "wss://..."`)
//!   against Python TLS servers with a self-signed certificate, one for
//!   `wrong.example` and an expired one: `TcpSocketError` /
//!   `WebSocketError` with `TLS handshake failed: ` and a reason that names
//!   the problem.
//! * `plaintext_server_is_refused`: the same clients against a server that
//!   speaks no TLS (it answers a plain HTTP 400): `TLS handshake failed: `,
//!   never plaintext.
//! * `trust_roots_come_from_ssl_cert_file`: `SSL_CERT_FILE` naming a
//!   missing file, an empty file or a file with no certificate gives
//!   `TLS handshake failed: no usable trust roots in SSL_CERT_FILE`;
//!   without `SSL_CERT_FILE` the test CA is not trusted; `--no-env` does
//!   not stop the runtime from reading it.
//! * `unusable_certificate_or_key_is_a_listen_error`: `bad_listener.rco`:
//!   `tcp_listen`/`ws_listen` with a missing key or certificate file, a key
//!   that does not match the certificate, the two files swapped, an empty
//!   certificate file, a corrupt key: `TcpListenerError` /
//!   `WebSocketListenerError` with `TLS certificate or key not usable: `,
//!   and the message shows nothing of the files' contents; one of the two
//!   options alone is an error too; good files listen.
//! * `the_tls_echo_example_serves_python`: examples/sockets/tls_echo_server.rco
//!   run as its header says, against a Python client that trusts its
//!   certificate (echoed) and one that does not (refused, reported).
//! * `stalled_and_garbage_peers_do_not_hold_up_accept`:
//!   `hostile_client.py` against `hostile_server.rco`: a silent connection
//!   and half a ClientHello stall their handshakes, a plaintext request
//!   fails its own (`tcp_accept` gives `TcpListenerError` with
//!   `TLS handshake failed: `, and the connection is ended); a good client
//!   that comes after them is accepted and served within 1 s; the stalled
//!   ones never reach `tcp_accept`.
//!
//! The tests that need Python are skipped with a note when python3 is
//! missing, and those with a `websockets` peer when that package is.

#[path = "tls_interop/support.rs"]
mod support;

use std::process::Command;
use std::time::Duration;
use support::{expected, python, python_ws, rco, run, Certs, Finished, Running};

const SERVER_START: Duration = Duration::from_secs(10);
const RUN_LIMIT: Duration = Duration::from_secs(30);

/// The prefix of every failure before a client's TLS handshake completes.
const HANDSHAKE_FAILED: &str = "TLS handshake failed: ";
/// The prefix of an unusable certificate or key on a TLS listener.
const NOT_USABLE: &str = "TLS certificate or key not usable: ";

/// Everything two children printed, for assertion messages.
fn both(name_a: &str, a: &Finished, name_b: &str, b: &Finished) -> String {
    format!(
        "--- {name_a} stdout\n{}--- {name_a} stderr\n{}--- {name_b} stdout\n{}--- {name_b} stderr\n{}",
        a.stdout, a.stderr, b.stdout, b.stderr
    )
}

/// Splits the output of `refused.rco`/`bad_listener.rco`: the lines that
/// are compared exactly, and the `message LABEL HOW MESSAGE` lines as
/// (`LABEL HOW`, `MESSAGE`).
fn split_messages(stdout: &str) -> (String, Vec<(String, String)>) {
    let mut kept = String::new();
    let mut messages = Vec::new();
    for line in stdout.lines() {
        match line.strip_prefix("message ") {
            Some(rest) => {
                let mut parts = rest.splitn(3, ' ');
                let (label, how, text) = (parts.next(), parts.next(), parts.next());
                let (Some(label), Some(how), Some(text)) = (label, how, text) else {
                    panic!("malformed message line {line:?}")
                };
                messages.push((format!("{label} {how}"), text.to_string()));
            }
            None => {
                kept.push_str(line);
                kept.push('\n');
            }
        }
    }
    (kept, messages)
}

/// The message of `key` (`LABEL HOW`) among `messages`.
fn message<'a>(messages: &'a [(String, String)], key: &str) -> &'a str {
    messages
        .iter()
        .find_map(|(k, m)| (k == key).then_some(m.as_str()))
        .unwrap_or_else(|| panic!("no message for {key:?} in {messages:#?}"))
}

/// `text` lower-cased without spaces or underscores, so that a rustls
/// reason matches whether it is shown as `UnknownIssuer` or `unknown
/// issuer`.
fn squeezed(text: &str) -> String {
    text.chars().filter(|c| !matches!(c, ' ' | '_')).flat_map(char::to_lowercase).collect()
}

/// Starts `tcp_py_server.py ARGS` (or skips) and returns it with its port.
fn py_tls_server(args: &[&str]) -> Option<(Running, String)> {
    let mut py = python()?;
    let mut server = Running::start(py.arg("tcp_py_server.py").args(args), "tcp_py_server.py");
    let port = server.port(SERVER_START);
    Some((server, port.to_string()))
}

// ---------------------------------------------------------------------------
// Talking

/// Checks a run of rco against a Python peer: both exited cleanly, printed
/// what `NAME.out` holds (NAME is the script's or peer's name without its
/// extension), and wrote nothing on stderr (for rco: no leak note, no
/// stack note).
fn assert_both(rco_script: &str, rco_side: &Finished, py_script: &str, py_side: &Finished) {
    let context = both("rco", rco_side, "python", py_side);
    rco_side.assert_clean_exit(&format!("rco {rco_script}\n{context}"));
    py_side.assert_clean_exit(&format!("{py_script}\n{context}"));
    let out = |script: &str| expected(&format!("{}.out", script.rsplit_once('.').map_or(script, |(stem, _)| stem)));
    assert_eq!(rco_side.stdout, out(rco_script), "rco side\n{context}");
    assert_eq!(py_side.stdout, out(py_script), "python side\n{context}");
    assert_eq!(rco_side.stderr, "", "rco's stderr\n{context}");
    assert_eq!(py_side.stderr, "", "{context}");
}

/// rco runs `server`, a TLS listener given the certificate and key files,
/// and Python runs `client` against it with the port, the CA file and
/// `extra` arguments; then `assert_both`.
fn python_against_rco_server(mut py: Command, certs: &Certs, server: &str, client: &str, extra: &[&str]) {
    let (cert, key, ca) = (certs.path("server.pem"), certs.path("server.key"), certs.path("ca.pem"));
    let mut running =
        Running::start(rco(&ca).args(["run", "--allow-sockets", server, &cert, &key]), &format!("rco {server}"));
    let port = running.port(SERVER_START).to_string();
    let ran = run(py.arg(client).args([port.as_str(), ca.as_str()]).args(extra), client, RUN_LIMIT);
    let served = running.finish(RUN_LIMIT);
    assert_both(server, &served, client, &ran);
}

#[test]
fn rco_wss_client_against_python_server() {
    let Some(mut py) = python_ws() else { return };
    let certs = Certs::new("wss-client");
    let mut server = Running::start(
        py.args(["wss_py_server.py", &certs.path("server.pem"), &certs.path("server.key")]),
        "wss_py_server.py",
    );
    let port = server.port(SERVER_START).to_string();
    let client = run(
        rco(&certs.path("ca.pem")).args(["run", "--allow-sockets", "wss_rco_client.rco", &port]),
        "rco wss_rco_client.rco",
        RUN_LIMIT,
    );
    let served = server.finish(RUN_LIMIT);
    assert_both("wss_rco_client.rco", &client, "wss_py_server.py", &served);
}

#[test]
fn python_wss_client_against_rco_server() {
    let Some(py) = python_ws() else { return };
    let certs = Certs::new("wss-server");
    python_against_rco_server(py, &certs, "wss_rco_server.rco", "wss_py_client.py", &[]);
}

#[test]
fn rco_tls_client_against_python_server() {
    let certs = Certs::new("tcp-client");
    let (server_pem, server_key) = (certs.path("server.pem"), certs.path("server.key"));
    let Some((server, port)) = py_tls_server(&["lines", &server_pem, &server_key]) else { return };
    let client = run(
        rco(&certs.path("ca.pem")).args(["run", "--allow-sockets", "tcp_rco_client.rco", &port]),
        "rco tcp_rco_client.rco",
        RUN_LIMIT,
    );
    let served = server.stop();
    let context = both("rco", &client, "python", &served);
    client.assert_clean_exit(&format!("rco tcp_rco_client.rco\n{context}"));
    assert_eq!(client.stdout, expected("tcp_rco_client.out"), "rco side\n{context}");
    assert_eq!(client.stderr, "", "no leak note, no stack note\n{context}");
    assert_eq!(served.stderr, "", "tcp_py_server.py reported an error\n{context}");
}

#[test]
fn python_tls_client_against_rco_server() {
    let Some(py) = python() else { return };
    let certs = Certs::new("tcp-server");
    // Connection B trusts only the self-signed certificate, not the CA
    // that signed rco's.
    let untrusted = certs.path("untrusted.pem");
    python_against_rco_server(py, &certs, "tcp_rco_server.rco", "tcp_py_client.py", &[untrusted.as_str()]);
}

// ---------------------------------------------------------------------------
// Refusals

#[test]
fn untrusted_wrong_name_and_expired_certificates_are_refused() {
    let certs = Certs::new("refused");
    let mut servers = Vec::new();
    let mut args = vec!["run".to_string(), "--allow-sockets".into(), "refused.rco".into(), "both".into()];
    for name in ["untrusted", "wrong", "expired"] {
        let (pem, key) = (certs.path(&format!("{name}.pem")), certs.path(&format!("{name}.key")));
        let Some((server, port)) = py_tls_server(&["lines", &pem, &key]) else { return };
        servers.push(server);
        args.extend([name.to_string(), port]);
    }
    let client = run(rco(&certs.path("ca.pem")).args(&args), "rco refused.rco", RUN_LIMIT);
    let context = format!("--- rco stdout\n{}--- rco stderr\n{}", client.stdout, client.stderr);
    client.assert_clean_exit(&context);
    assert_eq!(client.stderr, "", "{context}");
    let (lines, messages) = split_messages(&client.stdout);
    assert_eq!(lines, expected("refused.out"), "{context}");
    // rustls shows these as `invalid peer certificate: UnknownIssuer`,
    // `invalid peer certificate: certificate not valid for name ...` (or
    // `NotValidForName`), `invalid peer certificate: certificate expired:
    // ...` (or `Expired`).
    let reasons = [("untrusted", "unknownissuer"), ("wrong", "notvalidforname"), ("expired", "expired")];
    for (label, reason) in reasons {
        for how in ["tcp", "ws"] {
            let text = message(&messages, &format!("{label} {how}"));
            assert!(text.starts_with(HANDSHAKE_FAILED), "{label} {how}: {text:?}");
            assert!(squeezed(text).contains(reason), "{label} {how}: {text:?} does not say {reason:?}");
        }
    }
    for server in servers {
        let stopped = server.stop();
        assert_eq!(stopped.stderr, "", "tcp_py_server.py reported an error");
    }
}

/// Runs rco with `args` after `run --allow-sockets` (a `refused.rco` run),
/// which must exit cleanly with nothing on stderr: its stdout's lines with
/// the messages cut out (`split_messages`), the messages, and what to show
/// if a check fails (`note` first).
fn run_clean(mut rco: Command, note: &str, args: &[&str]) -> (String, Vec<(String, String)>, String) {
    let ran = run(rco.args(["run", "--allow-sockets"]).args(args), "rco", RUN_LIMIT);
    let context = format!("{note}\n--- rco stdout\n{}--- rco stderr\n{}", ran.stdout, ran.stderr);
    ran.assert_clean_exit(&context);
    assert_eq!(ran.stderr, "", "{context}");
    let (lines, messages) = split_messages(&ran.stdout);
    (lines, messages, context)
}

#[test]
fn plaintext_server_is_refused() {
    let certs = Certs::new("plaintext");
    let Some((server, port)) = py_tls_server(&["plain"]) else { return };
    let (lines, messages, context) =
        run_clean(rco(&certs.path("ca.pem")), "a plaintext server", &["refused.rco", "both", "plain", &port]);
    let stopped = server.stop();
    assert_eq!(
        lines,
        "plain tcp error TcpSocketError tls-prefix true\n\
         plain ws error WebSocketError tls-prefix true\n\
         connections left 0\n",
        "{context}"
    );
    for how in ["tcp", "ws"] {
        assert!(message(&messages, &format!("plain {how}")).starts_with(HANDSHAKE_FAILED), "{context}");
    }
    assert_eq!(stopped.stderr, "", "tcp_py_server.py reported an error");
}

#[test]
fn trust_roots_come_from_ssl_cert_file() {
    let certs = Certs::new("trust-roots");
    let (server_pem, server_key) = (certs.path("server.pem"), certs.path("server.key"));
    let Some((server, port)) = py_tls_server(&["lines", &server_pem, &server_key]) else { return };
    const NO_ROOTS: &str = "TLS handshake failed: no usable trust roots in SSL_CERT_FILE";

    // A file that cannot be read, an empty one, one that holds a key but no
    // certificate.
    for bundle in ["missing.pem", "empty.pem", "server.key"] {
        let note = format!("SSL_CERT_FILE={bundle}");
        let (lines, messages, context) =
            run_clean(rco(&certs.path(bundle)), &note, &["refused.rco", "both", "roots", &port]);
        assert_eq!(
            lines,
            "roots tcp error TcpSocketError tls-prefix true\n\
             roots ws error WebSocketError tls-prefix true\n\
             connections left 0\n",
            "{context}"
        );
        assert_eq!(message(&messages, "roots tcp"), NO_ROOTS, "{context}");
        assert_eq!(message(&messages, "roots ws"), NO_ROOTS, "{context}");
    }

    // No SSL_CERT_FILE: the system's roots, which do not hold the test CA.
    let mut system = rco(&certs.path("ca.pem"));
    system.env_remove("SSL_CERT_FILE");
    let (lines, _, context) = run_clean(system, "no SSL_CERT_FILE", &["refused.rco", "tcp", "system", &port]);
    assert_eq!(lines, "system tcp error TcpSocketError tls-prefix true\nconnections left 0\n", "{context}");

    // `--no-env` turns off the script's environment access, not the
    // runtime's reading of SSL_CERT_FILE.
    let (lines, _, context) =
        run_clean(rco(&certs.path("ca.pem")), "--no-env", &["--no-env", "refused.rco", "tcp", "noenv", &port]);
    assert_eq!(lines, "noenv tcp ok\nconnections left 0\n", "{context}");

    let stopped = server.stop();
    assert_eq!(stopped.stderr, "", "tcp_py_server.py reported an error");
}

#[test]
fn unusable_certificate_or_key_is_a_listen_error() {
    let certs = Certs::new("bad-listener");
    certs.write("corrupt.key", "-----BEGIN PRIVATE KEY-----\nSECRETSECRETSECRET\n-----END PRIVATE KEY-----\n");
    let (pem, key, wrong_key) = (certs.path("server.pem"), certs.path("server.key"), certs.path("wrong.key"));
    let cases: [[&str; 3]; 9] = [
        ["good", &pem, &key],
        ["missing_key", &pem, &certs.path("missing.key")],
        ["missing_cert", &certs.path("missing.pem"), &key],
        ["mismatched", &pem, &wrong_key],
        ["swapped", &key, &pem],
        ["empty_cert", &certs.path("empty.pem"), &key],
        ["corrupt_key", &pem, &certs.path("corrupt.key")],
        // Both or neither (DIALECT 15); the kind of this error is not
        // written down, only that it is one.
        ["only_cert", &pem, "-"],
        ["only_key", "-", &key],
    ];
    let mut args = vec!["run", "--allow-sockets", "bad_listener.rco"];
    args.extend(cases.iter().flatten());
    let ran = run(rco(&certs.path("ca.pem")).args(&args), "rco bad_listener.rco", RUN_LIMIT);
    let context = format!("--- rco stdout\n{}--- rco stderr\n{}", ran.stdout, ran.stderr);
    ran.assert_clean_exit(&context);
    assert_eq!(ran.stderr, "", "{context}");

    let (lines, messages) = split_messages(&ran.stdout);
    let (only, exact): (Vec<&str>, Vec<&str>) = lines.lines().partition(|l| l.starts_with("only_"));
    assert_eq!(exact.join("\n") + "\n", expected("bad_listener.out"), "{context}");
    assert_eq!(only.len(), 4, "{context}");
    for line in only {
        assert!(line.contains(" error "), "one TLS file without the other must be an error: {line:?}\n{context}");
    }

    // No message shows what is in the files.
    let secrets: Vec<String> = ["server.pem", "server.key", "wrong.key"]
        .iter()
        .map(|f| certs.read(f).lines().nth(1).expect("a PEM body line")[..24].to_string())
        .chain(["SECRETSECRET".to_string()])
        .collect();
    for (key, text) in &messages {
        if !key.starts_with("only_") {
            assert!(text.starts_with(NOT_USABLE), "{key}: {text:?}");
        }
        assert!(!text.contains("BEGIN") && !text.contains("-----"), "{key} shows a PEM file: {text:?}");
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "{key} shows a file's contents: {text:?}");
        }
    }
}

// ---------------------------------------------------------------------------
// Hostile peers

#[test]
fn stalled_and_garbage_peers_do_not_hold_up_accept() {
    let Some(py) = python() else { return };
    let certs = Certs::new("hostile");
    // No leak note either for the handshakes that never finished.
    python_against_rco_server(py, &certs, "hostile_server.rco", "hostile_client.py", &[]);
}

/// examples/sockets/tls_echo_server.rco, as its header says to run it: a
/// Python client that trusts the certificate gets its bytes back, one that
/// does not is refused and reported, and the server ends after the two.
#[test]
fn the_tls_echo_example_serves_python() {
    let Some(mut py) = python() else { return };
    let certs = Certs::new("example");
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let port = port.to_string();
    let (cert, key) = (certs.path("server.pem"), certs.path("server.key"));
    let args = ["run", "--allow-sockets", "../../examples/sockets/tls_echo_server.rco", &cert, &key, &port, "2"];
    let mut server = Running::start(rco(&certs.path("ca.pem")).args(args), "rco tls_echo_server.rco");
    let client = r#"
import socket, ssl, sys, time
port, ca = int(sys.argv[1]), sys.argv[2]
def connect():
    for _ in range(200):
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the example does not listen")
with ssl.create_default_context(cafile=ca).wrap_socket(connect(), server_hostname="localhost") as s:
    s.sendall(b"hello over tls")
    print(s.recv(100).decode())
try:
    ssl.create_default_context().wrap_socket(connect(), server_hostname="localhost")
except ssl.SSLError as e:
    print("refused:", e.reason)
"#;
    let ran = run(py.args(["-c", client, &port, &certs.path("ca.pem")]), "python client", RUN_LIMIT);
    let served = server.finish(RUN_LIMIT);
    let context = both("rco", &served, "python", &ran);
    served.assert_clean_exit(&format!("rco tls_echo_server.rco\n{context}"));
    ran.assert_clean_exit(&format!("python client\n{context}"));
    assert_eq!(ran.stdout, "hello over tls\nrefused: CERTIFICATE_VERIFY_FAILED\n", "{context}");
    let expected = format!(
        "listening on port {port}\na client failed: TLS handshake failed: received fatal alert: UnknownCA\nserved 1 connections, 14 bytes\n"
    );
    assert_eq!(served.stdout, expected, "{context}");
    assert_eq!(served.stderr, "", "{context}");
}
