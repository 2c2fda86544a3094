"""A TLS line server that is not rco (Python's `ssl` over plain sockets),
for tcp_rco_client.rco and refused.rco.

Usage: python3 tcp_py_server.py lines CERT KEY
       python3 tcp_py_server.py plain

Binds 127.0.0.1 port 0, prints `port N` (flushed) and serves each
connection in a thread; stops itself after 60 s in any case.

MODE `lines` serves TLS with the certificate CERT and its key KEY (PEM
files); a failed TLS handshake (the client refused the certificate) only
ends that connection. One request per line:
  PING k   -> `PONG k`
  BLOB n   -> n bytes of "0123456789" repeated, then a newline
  SINK n   -> reads exactly n more bytes, checks they are "0123456789"
              repeated, answers `GOT n OK` or `GOT n BAD`
  QUIT     -> `BYE`, then a TLS close_notify, then closes
  HANGUP   -> closes the TCP connection without a close_notify
MODE `plain` speaks no TLS: whatever arrives, it answers a plain HTTP 400
and closes (a plaintext server that a TLS client reached by mistake).
"""

import os
import socket
import ssl
import sys
import threading

PATTERN = b"0123456789"
WAIT = 10


def pattern(n):
    return (PATTERN * (n // len(PATTERN) + 1))[:n]


def serve_lines(conn):
    buf = b""
    while True:
        while b"\n" not in buf:
            chunk = conn.recv(65536)
            if not chunk:
                return
            buf += chunk
        line, buf = buf.split(b"\n", 1)
        words = line.decode().split(" ", 1)
        cmd, rest = words[0], words[1] if len(words) > 1 else ""
        if cmd == "PING":
            conn.sendall(("PONG " + rest + "\n").encode())
        elif cmd == "BLOB":
            conn.sendall(pattern(int(rest)) + b"\n")
        elif cmd == "SINK":
            n = int(rest)
            while len(buf) < n:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
            body, buf = buf[:n], buf[n:]
            verdict = "OK" if body == pattern(n) else "BAD"
            conn.sendall(f"GOT {n} {verdict}\n".encode())
        elif cmd == "QUIT":
            conn.sendall(b"BYE\n")
            # A close_notify, without waiting for the client's.
            conn.settimeout(0)
            try:
                conn.unwrap()
            except (OSError, ValueError):
                pass
            return
        elif cmd == "HANGUP":
            # SSLSocket.shutdown drops the TLS layer without a close_notify.
            conn.shutdown(socket.SHUT_RDWR)
            return
        else:
            conn.sendall(b"ERR unknown command\n")


def handle_tls(context, sock):
    sock.settimeout(WAIT)
    try:
        with context.wrap_socket(sock, server_side=True) as conn:
            serve_lines(conn)
    except (OSError, ValueError):
        # A refused certificate, a reset, a timeout: this connection only.
        pass
    finally:
        sock.close()


def handle_plain(sock):
    sock.settimeout(2)
    try:
        sock.recv(4096)
        sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    except OSError:
        pass
    finally:
        sock.close()


def main():
    mode = sys.argv[1]
    if mode == "lines":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[2], sys.argv[3])

        def handler(sock):
            handle_tls(context, sock)
    elif mode == "plain":
        handler = handle_plain
    else:
        sys.exit(f"unknown mode {mode}")
    threading.Timer(60, lambda: os._exit(3)).start()
    listener = socket.create_server(("127.0.0.1", 0), backlog=128)
    print(f"port {listener.getsockname()[1]}", flush=True)
    while True:
        sock, _ = listener.accept()
        threading.Thread(target=handler, args=(sock,), daemon=True).start()


main()
