"""A Python `ssl` client against tcp_rco_server.rco (rco's TLS TCP
listener).

Usage: python3 tcp_py_client.py PORT CA OTHER_CA
Connection A and C trust only the test CA (PEM file CA); B trusts only
OTHER_CA, which did not sign rco's certificate. Makes the three connections
in order and prints one line per observation; tests/tls_interop.rs compares
them. Every wait is bounded.
"""

import socket
import ssl
import sys

PORT = int(sys.argv[1])
TRUSTED = ssl.create_default_context(cafile=sys.argv[2])
OTHER = ssl.create_default_context(cafile=sys.argv[3])
WAIT = 5


def out(*parts):
    print(*parts, flush=True)


def dial(context, host):
    raw = socket.create_connection((host, PORT), timeout=WAIT)
    return context.wrap_socket(raw, server_hostname=host)


def read_line(s, buf):
    while b"\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            return None, buf
        buf += chunk
    line, rest = buf.split(b"\n", 1)
    return line.decode(), rest


def read_to_end(s):
    """What the server sends until it ends the stream, and how it ended it:
    with TLS's close_notify (a clean end) or without."""
    got = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ssl.SSLEOFError:
            return got, "without close_notify"
        if not chunk:
            return got, "with close_notify"
        got += chunk


def conn_a():
    with dial(TRUSTED, "127.0.0.1") as s:
        out("A tls", s.version())
        buf = b""
        sent = ["hello", "wörld ✓", "x" * 50000]
        for text in sent:
            s.sendall((text + "\n").encode())
            line, buf = read_line(s, buf)
            out("A got", ascii(line[:20]), len(line))
        # Several lines in one write, and a line cut across two writes.
        s.sendall(b"one\ntwo\nthr")
        s.sendall(b"ee\n")
        for _ in range(3):
            line, buf = read_line(s, buf)
            out("A got", ascii(line))
        # Our close_notify, without waiting for rco's (rco reads an end of
        # stream; whether its close sends one is not ours to check).
        s.settimeout(0)
        try:
            s.unwrap()
        except OSError:  # SSLWantReadError: no close_notify back yet
            pass
        out("A sent close_notify")


def conn_b():
    try:
        with dial(OTHER, "127.0.0.1") as s:
            out("B unexpectedly connected", s.version())
    except ssl.SSLCertVerificationError as e:
        out("B refused the certificate:", e.verify_message)


def conn_c():
    with dial(TRUSTED, "localhost") as s:
        buf = b""
        line, buf = read_line(s, buf)
        out("C got", ascii(line))
        s.sendall(b"ping\n")
        line, buf = read_line(s, buf)
        out("C got", ascii(line))
        s.sendall(b"BYE\n")
        rest, how = read_to_end(s)
        out("C server ended the stream", how + ", after", len(buf + rest), "more bytes")


for step in (conn_a, conn_b, conn_c):
    step()
